"""The math seam on Numba's CUDA target: libdevice, in the precision of the argument.

``numgrad/ops/math.py`` defines each function of the seam in plain Python; this module
overloads them with ``target="cuda"`` so the same scalar rules compile for the GPU: ``exp`` of
a float32 is libdevice's ``expf``, of a float64 ``exp`` (both within 1-2 ulp, as torch's CUDA
kernels, which call the same library).  Integer and bool arguments compute in float64, as the
CPU overloads do.  In the simulator nothing here is used: rules run as Python and call the
seam's plain definitions (the reference device's meaning).
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.cuda import libdevice
from numba.cuda.extending import overload
from numba.np.numpy_support import as_dtype

from ...ops import math as m


def _unary(name, f32, f64):
    def typer(x):
        if x == types.float32:
            return lambda x: f32(x)
        if isinstance(x, types.Float):
            return lambda x: f64(x)
        if isinstance(x, (types.Integer, types.Boolean)):
            return lambda x: f64(np.float64(x))
        return None

    overload(getattr(m, name), target="cuda", inline="always")(typer)


def _binary(name, f32, f64):
    def typer(x, y):
        if x == types.float32 and y == types.float32:
            return lambda x, y: f32(x, y)
        return lambda x, y: f64(np.float64(x), np.float64(y))

    overload(getattr(m, name), target="cuda", inline="always")(typer)


for _name in (
    "exp",
    "log",
    "log1p",
    "tanh",
    "erf",
    "erfc",
    "erfinv",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "log10",
    "log2",
    "expm1",
    "exp2",
    "sqrt",
    "floor",
    "ceil",
    "trunc",
    "rint",
):
    _unary(_name, getattr(libdevice, _name + "f"), getattr(libdevice, _name))

_binary("atan2", libdevice.atan2f, libdevice.atan2)
_binary("hypot", libdevice.hypotf, libdevice.hypot)


@overload(m.exp_double, target="cuda", inline="always")
def _exp_double(x):
    return lambda x: libdevice.exp(np.float64(x))


@overload(m.signbit, target="cuda", inline="always")
def _signbit(x):
    if x == types.float32:
        return lambda x: libdevice.signbitf(x) != 0
    if isinstance(x, types.Float):
        return lambda x: libdevice.signbitd(x) != 0
    return lambda x: x < 0


@overload(m.zero_of, target="cuda", inline="always")
def _zero_of(x):
    zero = as_dtype(x).type(0)
    return lambda x: zero


@overload(m.one_of, target="cuda", inline="always")
def _one_of(x):
    one = as_dtype(x).type(1)
    return lambda x: one


@overload(m.power, target="cuda", inline="always")
def _power(x, y):
    if isinstance(x, (types.Integer, types.Boolean)) and isinstance(
        y, (types.Integer, types.Boolean)
    ):
        # torch's integer power: 1 and -1 to negative powers stay exact, others give 0
        def int_power(x, y):
            base = np.int64(x)
            e = np.int64(y)
            if e < 0:
                if base == 1:
                    return np.int64(1)
                if base == -1:
                    return np.int64(-1) if e & 1 else np.int64(1)
                return np.int64(0)
            r = np.int64(1)
            while e:
                if e & 1:
                    r *= base
                base *= base
                e >>= 1
            return r

        return int_power
    if x == types.float32 and y == types.float32:
        return lambda x, y: libdevice.powf(x, y)
    return lambda x, y: libdevice.pow(np.float64(x), np.float64(y))
