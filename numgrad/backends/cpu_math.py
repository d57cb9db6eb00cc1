"""Scalar math that LLVM can vectorise (this machine's Numba has no SVML): exp and tanh.

``math.exp`` inside a Numba loop is a libm call per element: 4x slower than numpy's SIMD exp
on 3,200 float64 values (28 us against 7 us, measured here).  :func:`fast_exp` is branch-free
(Cody-Waite range reduction, a degree-13 Taylor polynomial, 2**k built from exponent bits
without a float-to-int conversion), so loops that call it vectorise; with FMA contraction it
matches numpy's speed (6.5 us) at <= 1 ulp over the whole float64 range, subnormals included.
:func:`fast_tanh` builds on it: 5.8 us against libm's 29.7 us, <= 2 ulp (measured here).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# loop kernels that inline fast_exp compile with these flags (contraction = FMA, no reordering)
FAST = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}


@intrinsic
def _f64_from_bits(typingctx, bits):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _bits_from_f64(typingctx, x):
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@njit(inline="always", **FAST)
def _pow2(k):
    # 2**k for an integer-valued float k in [-1022, 1023]; k + 1023 + 2**52 holds k + 1023 in
    # its low mantissa bits, so no float->int conversion (AVX2 cannot vectorise one)
    return _f64_from_bits(_bits_from_f64(k + 4503599627371519.0) << 52)


@njit(inline="always", **FAST)
def fast_exp(x):
    """exp(x) in float64, <= 1 ulp, NaN/inf/underflow like libm."""
    xf = np.float64(x)
    xc = min(max(xf, -746.0), 710.0)  # beyond these exp is 0 or inf; keeps k in range
    k = math.floor(xc * 1.4426950408889634 + 0.5)
    # r = x - k*ln2 in two parts (Cody-Waite), |r| <= ln2/2
    r = xc - k * 0.6931471803691238 - k * 1.9082149292705877e-10
    # Taylor coefficients 1/n!, n = 13..0, by Horner
    p = 1.6059043836821613e-10
    p = p * r + 2.0876756987868100e-09
    p = p * r + 2.5052108385441720e-08
    p = p * r + 2.7557319223985888e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.4801587301587302e-05
    p = p * r + 1.9841269841269841e-04
    p = p * r + 1.3888888888888889e-03
    p = p * r + 8.3333333333333332e-03
    p = p * r + 4.1666666666666664e-02
    p = p * r + 1.6666666666666666e-01
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # two scalings so results down to the subnormal range keep their precision
    h = math.floor(k * 0.5)
    res = p * _pow2(h) * _pow2(k - h)
    if xf > 709.782712893384:
        res = np.inf
    if xf != xf:
        res = xf
    return res


@njit(inline="always", **FAST)
def fast_tanh(x):
    """tanh(x) in float64, branch-free: an odd Taylor polynomial (14 terms, truncation < 2e-17
    relative) below |x| = 0.4, where 1 - 2/(exp(2|x|) + 1) would cancel, that formula above."""
    xf = np.float64(x)
    a = abs(xf)
    e = fast_exp(2.0 * min(a, 40.0))  # tanh(20) is exactly 1.0 in float64
    big = math.copysign(1.0 - 2.0 / (e + 1.0), xf)
    z = xf * xf
    p = -6.4516892156554308e-6
    p = p * z + 1.5918905069328965e-5
    p = p * z - 3.9278323883316834e-5
    p = p * z + 9.6915379569294503e-5
    p = p * z - 2.3912911424355248e-4
    p = p * z + 5.9002744094558598e-4
    p = p * z - 1.4558343870513183e-3
    p = p * z + 3.5921280365724810e-3
    p = p * z - 8.8632355299021966e-3
    p = p * z + 2.1869488536155203e-2
    p = p * z - 5.3968253968253968e-2
    p = p * z + 1.3333333333333333e-1
    p = p * z - 3.3333333333333333e-1
    p = p * z + 1.0
    res = xf * p if a < 0.4 else big
    if xf != xf:
        res = xf
    return res
