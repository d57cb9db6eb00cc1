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
