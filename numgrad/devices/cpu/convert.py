"""CPU implementations of dtype conversion and copies (numpy's ``astype`` and ``copy``)."""

from __future__ import annotations

import numpy as np

from ...ops.registry import impl

_F16 = np.dtype(np.float16)


def _astype(x, dtype):
    if dtype == _F16:
        with np.errstate(over="ignore"):  # beyond float16's range is inf, silently as in torch
            return x.astype(dtype)
    return x.astype(dtype)


def _copy(x):
    return x.copy()


impl("cast", "cpu", forward=_astype)
impl("clone", "cpu", forward=_copy)
