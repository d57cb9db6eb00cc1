"""The math seam: the only functions scalar rules call besides operators and comparisons.

A scalar rule (``@scalar``) is compiled inline into each device's generated loops, so it may
use arithmetic, comparisons, conditional expressions and the functions below - never a
device's own math (``np.floor`` and friends do not exist on Numba's CUDA target, and the CPU's
vectorisable ``exp`` is a CPU tuning).  Each function here is a plain-Python definition (the
meaning, runnable on Python and numpy scalars) that a device package overrides for its compiled
code with ``numba.extending.overload`` (``devices/cpu/math.py`` registers the CPU versions; a
CUDA package registers ``target="cuda"`` ones, e.g. libdevice).  Every overload must compute in
the precision of its arguments unless its name says otherwise (``exp_double``).
"""

from __future__ import annotations

import math
import numbers

from numba import njit

__all__ = [
    "scalar",
    "exp",
    "exp_double",
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
    "atan2",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "log10",
    "log2",
    "expm1",
    "exp2",
    "hypot",
    "signbit",
    "sqrt",
    "floor",
    "ceil",
    "trunc",
    "rint",
    "power",
    "zero_of",
    "one_of",
    "inf",
    "nan",
]

inf = math.inf
nan = math.nan


def scalar(fn):
    """Decorator for scalar rules: compiled inline into every kernel that calls them."""
    return njit(inline="always", cache=True)(fn)


def _typed(x, r):
    """``r`` (a python float) as the type of a numpy float argument ``x``, like the compiled
    versions' results: a python float is "weak" in numpy's promotion, so ``np.float32(1) +
    exp(x)`` with a float64 ``x`` would be float32 (sigmoid's rule relies on the promotion)."""
    if type(x) is float or isinstance(x, numbers.Integral):
        return r
    return type(x)(r)


# Python's math raises where IEEE arithmetic (and so every compiled version) returns inf or NaN:
# the definitions below return those values instead, so they mean the same on every input


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def exp(x):
    """e**x in the precision of ``x`` (float32 in, float32 computed and out)."""
    return _typed(x, _exp(x))


def exp_double(x):
    """e**x computed in float64 whatever the type of ``x``."""
    return _exp(float(x))


def log(x):
    """Natural log: -inf at 0, NaN below (rules that need torch's values there say so)."""
    if x <= 0:
        return _typed(x, -math.inf if x == 0 else math.nan)
    return _typed(x, math.log(x))


def log1p(x):
    """log(1 + x), accurate for small x: -inf at -1, NaN below."""
    if x <= -1:
        return _typed(x, -math.inf if x == -1 else math.nan)
    return _typed(x, math.log1p(x))


def tanh(x):
    return _typed(x, math.tanh(x))


def erf(x):
    return _typed(x, math.erf(x))


def erfc(x):
    """1 - erf(x), accurate where erf(x) is close to 1."""
    return _typed(x, math.erfc(x))


# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2010), single-precision
# version: relative error about 3e-7 up to w = -log((1 - y)(1 + y)) = 16 and about 0.1 beyond
# (float64 inputs reach w = 37).  _erfinv_float refines it with Halley steps (cubic
# convergence): two on erf(x) - y below |y| = 0.5, three on log(erfc(x)) - log(1 - y) above,
# where 1 - y is exact, erfc keeps the digits of the tail that erf(x) ~ 1 rounds away, and the
# log is nearly quadratic in x, so even the far tail's rough start converges.
_ERFINV_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_ERFINV_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)
_TWO_OVER_SQRT_PI = 1.1283791670955126


def _erfinv_float(y):
    a = abs(y)
    if not a < 1.0:  # NaN, +-1 and beyond
        return math.copysign(math.inf, y) if a == 1.0 else math.nan
    w = -math.log((1.0 - a) * (1.0 + a))
    if w < 5.0:
        w -= 2.5
        coeffs = _ERFINV_CENTRAL
    else:
        w = math.sqrt(w) - 3.0
        coeffs = _ERFINV_TAIL
    p = 0.0
    for c in coeffs:
        p = p * w + c
    x = p * a
    if a < 0.5:
        for _ in range(2):
            # f = erf(x) - a, f' = d, f'' = -2x d: Halley's step is f / (d + x f)
            r = math.erf(x) - a
            x -= r / (_TWO_OVER_SQRT_PI * math.exp(-x * x) + x * r)
    else:
        log_tail = math.log(1.0 - a)
        for _ in range(3):
            # g = log(erfc(x)) - log(1 - a), g' = -h, g'' = 2xh - h*h
            e = math.erfc(x)
            g = math.log(e) - log_tail
            h = _TWO_OVER_SQRT_PI * math.exp(-x * x) / e
            x += 2.0 * g * h / (2.0 * h * h - g * (2.0 * x * h - h * h))
    return math.copysign(x, y)


def erfinv(x):
    """Inverse of erf on [-1, 1] (+-inf at +-1, NaN beyond): Giles' approximation refined by
    Halley steps, computed in float64 and rounded to the type of ``x``.  Within 1.3 ulp of
    the exact value on 5,500 points over (-1, 1) (tails to 1 - 2**-53 and subnormals included),
    measured against mpmath; torch's is within 0.51 ulp (tests/test_math_functions.py checks
    both agree to 4 ulp)."""
    return _typed(x, _erfinv_float(float(x)))


# Python's math raises ValueError for a domain error (asin(2), sin(inf)) and OverflowError on
# overflow; IEEE arithmetic, and so every compiled version, returns NaN and inf instead


def _ieee(fn, x, overflow=math.inf):
    try:
        return fn(x)
    except ValueError:
        return math.nan
    except OverflowError:
        return overflow


def sin(x):
    return _typed(x, _ieee(math.sin, x))


def cos(x):
    return _typed(x, _ieee(math.cos, x))


def tan(x):
    return _typed(x, _ieee(math.tan, x))


def asin(x):
    return _typed(x, _ieee(math.asin, x))


def acos(x):
    return _typed(x, _ieee(math.acos, x))


def atan(x):
    return _typed(x, math.atan(x))


def atan2(y, x):
    """The angle of the point (x, y), in (-pi, pi] (torch.atan2(input, other) is atan2(y=input,
    x=other))."""
    return _typed(y, math.atan2(y, x))


def sinh(x):
    return _typed(x, _ieee(math.sinh, x, math.copysign(math.inf, x)))


def cosh(x):
    return _typed(x, _ieee(math.cosh, x))


def asinh(x):
    return _typed(x, math.asinh(x))


def acosh(x):
    """NaN below 1."""
    return _typed(x, _ieee(math.acosh, x))


def atanh(x):
    """+-inf at +-1, NaN beyond."""
    if abs(x) == 1:
        return _typed(x, math.copysign(math.inf, x))
    return _typed(x, _ieee(math.atanh, x))


def log10(x):
    """-inf at 0, NaN below."""
    if x <= 0:
        return _typed(x, -math.inf if x == 0 else math.nan)
    return _typed(x, math.log10(x))


def log2(x):
    """-inf at 0, NaN below."""
    if x <= 0:
        return _typed(x, -math.inf if x == 0 else math.nan)
    return _typed(x, math.log2(x))


def expm1(x):
    """e**x - 1, accurate for small x."""
    return _typed(x, _ieee(math.expm1, x))


def exp2(x):
    """2**x."""
    return _typed(x, _ieee(lambda v: 2.0**v, float(x)))


def hypot(x, y):
    """sqrt(x*x + y*y) without overflow or underflow in the squares (inf if either is inf)."""
    return _typed(x, _ieee(lambda v: math.hypot(v, y), x))


def signbit(x):
    """True where the sign bit of ``x`` is set: negative numbers, -0.0 and negative NaNs."""
    return math.copysign(1.0, x) < 0


def sqrt(x):
    """Square root: NaN below 0."""
    return _typed(x, math.sqrt(x) if x >= 0 else math.nan)


def _integral(x, n):
    """The integer ``n`` as a float of ``x``'s type with ``x``'s sign, so a zero result keeps
    the sign of ``x`` as torch's does (ceil(-0.5) is -0.0)."""
    return type(x)(math.copysign(n, x))


def floor(x):
    """Largest integral value <= x, as a float of x's type (keeps NaN, inf and -0.0)."""
    return _integral(x, math.floor(x)) if math.isfinite(x) else x


def ceil(x):
    return _integral(x, math.ceil(x)) if math.isfinite(x) else x


def trunc(x):
    # floor/ceil, not math.trunc: numpy's float32 has no __trunc__
    if not math.isfinite(x):
        return x
    return _integral(x, math.floor(x) if x >= 0 else math.ceil(x))


def rint(x):
    """Round half to even, as torch.round (keeps NaN, inf and -0.0)."""
    return _integral(x, round(x)) if math.isfinite(x) else x


def power(x, y):
    """``x ** y`` with torch's integer rule: an integer base to a negative integer power is
    1 for 1, +-1 for -1 and 0 otherwise.  Integer powers wrap in int64, as torch's do."""
    # numbers.Integral, not `not float`: numpy's float32 is no python float, and 2.0 ** -1
    # in float32 is 0.5, not the integer rule's 0
    if y < 0 and isinstance(x, numbers.Integral) and isinstance(y, numbers.Integral):
        return 1 if x == 1 else ((-1 if y % 2 else 1) if x == -1 else 0)
    return x**y


def zero_of(x):
    """0 in the type of ``x``: ``grad if keep else zero_of(grad)`` gives an exact 0 where
    ``grad * 0`` would turn an inf or NaN into NaN, and a literal ``0.0`` would widen float32
    (and int64) to float64."""
    return type(x)(0)  # not x * 0: that is NaN for an infinite x, and -0.0 for a negative one


def one_of(x):
    """1 in the type of ``x`` (see :func:`zero_of`)."""
    return type(x)(1)
