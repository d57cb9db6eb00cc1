"""Helpers shared by the distributions (torch.distributions.utils): broadcasting parameters,
probabilities <-> logits, a cached property."""

from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes as D
from .. import functional as F
from ..storage import TensorBase

_NUMBER = (numbers.Number, np.number)


def broadcast_all(*values):
    """Tensors of the broadcast shape; numbers become tensors of the first tensor's dtype and
    device (the default float dtype if there is none), as torch's ``broadcast_all``."""
    from ..creation import tensor

    if not all(isinstance(v, (TensorBase, *_NUMBER)) for v in values):
        raise ValueError(
            "Input arguments must all be instances of Number, torch.Tensor or objects "
            "implementing __torch_function__."
        )
    like = next((v for v in values if isinstance(v, TensorBase)), None)
    if like is None:
        values = [tensor(float(v), dtype=D.DEFAULT_FLOAT) for v in values]
    else:
        values = [
            v if isinstance(v, TensorBase) else tensor(v, dtype=like.dtype, device=like.device)
            for v in values
        ]
    return broadcast_tensors(*values)


def broadcast_tensors(*tensors):
    shapes = [tuple(t.shape) for t in tensors]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"shapes {shapes} cannot be broadcast together") from None
    return tuple(t if tuple(t.shape) == shape else F.expand(t, *shape) for t in tensors)


def _eps(dtype):
    return float(np.finfo(dtype.np).eps)


def clamp_probs(probs):
    """``probs`` clamped to ``[eps, 1 - eps]`` of its dtype."""
    eps = _eps(probs.dtype)
    return F.clamp(probs, min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    ps = clamp_probs(probs)
    if is_binary:
        return F.log(ps) - F.log(1 - ps)
    return F.log(ps)


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return F.sigmoid(logits)
    return F.softmax(logits, dim=-1)


class lazy_property:  # noqa: N801  (torch's name)
    """Computed on first access and then stored in the instance's ``__dict__``."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value
