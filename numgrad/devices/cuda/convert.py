"""CUDA implementations of dtype conversion and copies (the CPU's numpy ``astype`` and ``copy``).

Most casts are the shared strided copy (``kernels.copy_into``: Numba's conversions, which are
numpy's for every in-range value).  Float to integer is not: a GPU's conversion saturates
out-of-range values and turns NaN into 0, where numpy on the CPU (x86's ``cvttsd2si``) gives
the "integer indefinite" (the most negative integer) and casts to ``uint8`` through int32.  Those
casts run rules that say so, so a cast gives the same bits on both devices.
"""

from __future__ import annotations

import numpy as np

from ...ops.math import scalar
from ...ops.registry import impl
from . import kernels, runtime
from .loops import build_cuda

_F16 = np.dtype(np.float16)
_BOOL = np.dtype(np.bool_)
_INT64 = np.dtype(np.int64)


@scalar
def float_to_bool(x):
    # NaN != 0: True, as numpy's astype(bool)
    return x != 0


@scalar
def float_to_int64(x):
    # float(2**63) is exact; anything at or beyond it, and NaN, is numpy's indefinite value
    if x != x or x >= 9223372036854775808.0 or x < -9223372036854775808.0:
        return np.int64(-9223372036854775807 - 1)
    return np.int64(x)


@scalar
def float_to_int32(x):
    # the int32 conversion numpy's int32, uint8 (and int16...) casts go through on x86: out of
    # range or NaN is -2**31, then the store to a narrower type keeps the low bits
    if x != x or x >= 2147483648.0 or x < -2147483648.0:
        return np.int64(-2147483648)
    return np.int64(x)


_FLOATS = ("float32", "float64")
_RULES = {}  # target dtype -> built elementwise callable


def _float_cast(x, dtype):
    fn = _RULES.get(dtype)
    if fn is None:
        if dtype == _BOOL:
            rule = float_to_bool
        elif dtype == _INT64:
            rule = float_to_int64
        else:
            rule = float_to_int32
        fn = _RULES[dtype] = build_cuda(rule, f"cast_to_{dtype.name}", _FLOATS, dtype, None, None)
    if x.dtype == _F16:  # the rules compute in float32 or float64; float16 -> float32 is exact
        x = _copy_to(np.dtype(np.float32), x)
    return fn(x)


def _copy_to(dtype, x):
    # the new array itself: copy_into returns a (1,) view of a 0-d destination
    out = runtime.empty(x.shape, dtype)
    kernels.copy_into(out, x)
    return out


def astype(x, dtype):
    dtype = np.dtype(dtype)
    if x.dtype.kind == "f" and dtype.kind in "biu":
        return _float_cast(x, dtype)
    # float -> float16 beyond its range is inf, as numpy's (and torch's) cast
    return _copy_to(dtype, x)


def copy(x):
    return _copy_to(x.dtype, x)


impl("cast", "cuda", forward=astype)
impl("clone", "cuda", forward=copy)
