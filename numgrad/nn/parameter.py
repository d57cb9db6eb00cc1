"""``Parameter``: a leaf tensor that a Module registers and optimizers update."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, _to_array


class Parameter(Tensor):
    """A tensor that requires grad by default and is registered when set on a Module."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        if isinstance(data, Tensor):  # shares data's storage, on data's device
            self._init(data._data, requires_grad, data._device)
        else:
            self._init(_to_array(data, copy=False), requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
