"""Elementwise ops: scalar rules written once, each declaration one table row.

Naming: ``<op>_f`` is the forward scalar rule, ``<op>_d<input>`` the backward rule for that
input.  Parameters are read by name from the tape's scope (``grad``, ``out``, inputs, attrs).
Gradient formulas follow torch's ``derivatives.yaml`` so float64 results agree to rounding.
"""

from __future__ import annotations

import numpy as np

from . import math as m
from .math import one_of, power, scalar, zero_of
from .registry import ALL, ARITH, FLOAT, Kernel, Op, elementwise, register

# torch's own words for the bool ops it refuses (a mask is inverted with ~, not -)
_SUB_BOOL = (
    "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
    "`logical_xor()` operator instead."
)
_NEG_BOOL = (
    "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert "
    "a mask, use the `~` or `logical_not()` operator instead."
)


def _identity(grad):
    return grad


identity = Kernel(generic=_identity, args=("grad",), name="identity", fresh=False)

# ---- arithmetic ---------------------------------------------------------------------------


@scalar
def add_f(x, y):
    return x + y


@scalar
def sub_f(x, y):
    return x - y


@scalar
def neg_f(x):
    return -x


@scalar
def neg_grad(grad):
    return -grad


@scalar
def mul_f(x, y):
    return x * y


@scalar
def mul_dx(grad, y):
    return grad * y


@scalar
def mul_dy(grad, x):
    return grad * x


@scalar
def div_f(x, y):
    return x / y


@scalar
def div_dx(grad, y):
    return grad / y


@scalar
def div_dy(grad, x, y):
    return -grad * x / (y * y)


@scalar
def pow_f(x, y):
    return power(x, y)  # x ** y; integer bases to negative powers as torch (0, 1 or -1)


@scalar
def pow_dx(grad, x, y):
    # torch: grad * y * x^(y-1), and exactly 0 where the exponent is 0 (even for an inf grad)
    if y == 0:
        return zero_of(grad)
    return grad * y * x ** (y - 1)


@scalar
def pow_dy(grad, x, y, out):
    # torch masks x == 0 with a non-negative exponent (0 * log(0)) to a zero gradient
    if x == 0 and y >= 0:
        return 0.0 * grad
    return grad * out * m.log(x)


@scalar
def maximum_f(x, y):
    if x != x:
        return x
    if y != y:
        return y
    return x if x >= y else y


# torch's rules: ties split the gradient evenly; the smaller side gets an exact 0 (a select, so
# an inf grad gives 0, not NaN); a NaN on either side passes the whole gradient to both


@scalar
def maximum_dx(grad, x, y):
    g = grad * 0.5 if x == y else grad
    return zero_of(grad) if x < y else g


@scalar
def maximum_dy(grad, x, y):
    g = grad * 0.5 if x == y else grad
    return zero_of(grad) if y < x else g


@scalar
def minimum_f(x, y):
    if x != x:
        return x
    if y != y:
        return y
    return x if x <= y else y


@scalar
def minimum_dx(grad, x, y):
    g = grad * 0.5 if x == y else grad
    return zero_of(grad) if x > y else g


@scalar
def minimum_dy(grad, x, y):
    g = grad * 0.5 if x == y else grad
    return zero_of(grad) if y > x else g


# bool + bool is logical or and bool * bool logical and: a nonzero int stores as True
register(Op("add", ("x", "y"), elementwise(add_f, ALL), {"x": identity, "y": identity}))
register(
    Op(
        "sub",
        ("x", "y"),
        elementwise(sub_f, ARITH, refuse={"bool": _SUB_BOOL}),
        {"x": identity, "y": elementwise(neg_grad)},
    )
)
register(
    Op(
        "neg",
        ("x",),
        elementwise(neg_f, ARITH, refuse={"bool": _NEG_BOOL}),
        {"x": elementwise(neg_grad)},
    )
)
register(
    Op(
        "mul",
        ("x", "y"),
        elementwise(mul_f, ALL),
        {"x": elementwise(mul_dx), "y": elementwise(mul_dy)},
    )
)
register(
    Op(
        "div",
        ("x", "y"),
        elementwise(div_f),
        {"x": elementwise(div_dx), "y": elementwise(div_dy)},
        promote="float",
    )
)
register(
    Op(
        "pow",
        ("x", "y"),
        elementwise(pow_f, ARITH),
        {"x": elementwise(pow_dx), "y": elementwise(pow_dy)},
    )
)
register(
    Op(
        "maximum",
        ("x", "y"),
        elementwise(maximum_f, ALL),
        {"x": elementwise(maximum_dx), "y": elementwise(maximum_dy)},
    )
)
register(
    Op(
        "minimum",
        ("x", "y"),
        elementwise(minimum_f, ALL),
        {"x": elementwise(minimum_dx), "y": elementwise(minimum_dy)},
    )
)


@scalar
def floor_divide_f(x, y):
    # Python's floor division, which torch's follows (for floats CPython's algorithm; a zero
    # divisor gives inf or NaN there, while integer division by zero is refused before this)
    return x // y


@scalar
def remainder_f(x, y):
    return x % y  # the sign of the divisor, as torch.remainder and Python's %


@scalar
def remainder_dy(grad, x, y):
    return -grad * (x // y)


def _floor_divide_backward(grad):
    raise NotImplementedError("the derivative for 'floor_divide' is not implemented.")


# torch records floor_divide (the output requires grad) but its derivative raises in backward
register(
    Op(
        "floor_divide",
        ("x", "y"),
        elementwise(floor_divide_f, ARITH),
        {
            # raises the same on every device: generic, no device registers it
            "x": Kernel(generic=_floor_divide_backward, args=("grad",)),
            "y": Kernel(generic=_floor_divide_backward, args=("grad",)),
        },
    )
)
register(
    Op(
        "remainder",
        ("x", "y"),
        elementwise(remainder_f, ARITH),
        {"x": identity, "y": elementwise(remainder_dy)},
    )
)

# ---- comparisons (no gradient) --------------------------------------------------------------


@scalar
def lt_f(x, y):
    return x < y


@scalar
def le_f(x, y):
    return x <= y


@scalar
def gt_f(x, y):
    return x > y


@scalar
def ge_f(x, y):
    return x >= y


@scalar
def eq_f(x, y):
    return x == y


@scalar
def ne_f(x, y):
    return x != y


for _name, _fn in (
    ("lt", lt_f),
    ("le", le_f),
    ("gt", gt_f),
    ("ge", ge_f),
    ("eq", eq_f),
    ("ne", ne_f),
):
    register(
        Op(
            _name,
            ("x", "y"),
            elementwise(_fn, ALL, out="bool"),
            {"x": None, "y": None},
        )
    )


@scalar
def logical_not_f(x):
    return not x


register(
    Op(
        "logical_not",
        ("x",),
        elementwise(logical_not_f, ("bool",)),
        {"x": None},
        promote=None,
    )
)

# ---- selection ----------------------------------------------------------------------------


@scalar
def where_f(cond, x, y):
    return x if cond else y


# the unselected side gets an exact 0, as in torch (grad * 0 would make an inf grad NaN)
@scalar
def where_dx(grad, cond):
    return grad if cond else zero_of(grad)


@scalar
def where_dy(grad, cond):
    return zero_of(grad) if cond else grad


register(
    Op(
        "where",
        ("cond", "x", "y"),
        elementwise(where_f, ALL, arg_types=("bool", None, None)),
        {
            "cond": None,
            "x": elementwise(where_dx, FLOAT, arg_types=(None, "bool")),
            "y": elementwise(where_dy, FLOAT, arg_types=(None, "bool")),
        },
        promote=None,
    )
)

# ---- unary math ---------------------------------------------------------------------------


@scalar
def exp_f(x):
    # float32 in float32 (twice the SIMD lanes, no conversions: 3.6x faster), as torch does
    return m.exp(x)


@scalar
def exp_dx(grad, out):
    return grad * out


@scalar
def log_f(x):
    return m.log(x) if x > 0 else (-m.inf if x == 0 else m.nan)


@scalar
def log_dx(grad, x):
    return grad / x


@scalar
def sqrt_f(x):
    return m.sqrt(x) if x >= 0 else m.nan


@scalar
def sqrt_dx(grad, out):
    return grad / (2 * out)


@scalar
def abs_f(x):
    return abs(x)  # abs(-0.0) is +0.0, as in torch (1 / abs(x) is +inf)


@scalar
def sign_f(x):
    # torch: (0 < x) - (x < 0), so 0 for NaN (and for -0.0); in x's type, branch-free
    one = one_of(x)
    return one if x > 0 else (-one if x < 0 else zero_of(x))


@scalar
def abs_dx(grad, x):
    return grad * sign_f(x)


@scalar
def tanh_f(x):
    return m.tanh(x)


@scalar
def tanh_dx(grad, out):
    return grad * (1 - out * out)


@scalar
def sigmoid_f(x):
    # exp(-x) = inf (x < -709, float32 x < -88.7) gives exactly 0, as in torch; branch-free so
    # loops vectorise.  np.float32(1) is 1 in x's precision (float64 promotes it exactly), so
    # float32 is computed in float32 like torch's: <= 2.4 ulp (torch's too), 3.1x faster than
    # float64 math (measured here); float64 is unchanged
    one = np.float32(1.0)
    return one / (one + m.exp(-x))


@scalar
def sigmoid_dx(grad, out):
    return grad * (1 - out) * out


@scalar
def relu_f(x):
    # torch: 0 below 0 (relu(-inf) is 0: x * 0 would be NaN); -0.0 and NaN pass through
    return zero_of(x) if x < 0 else x


@scalar
def relu_dx(grad, out):
    # torch's threshold_backward: an exact 0 where out <= 0, even for an inf grad; NaN passes
    return zero_of(grad) if out <= 0 else grad


@scalar
def silu_f(x):
    return x * sigmoid_f(x)


@scalar
def silu_dx(grad, x):
    # torch's silu_backward, one product: the composite x * sigmoid(x) summed two terms, which
    # turned an inf grad into inf - inf = NaN where torch gives inf
    s = sigmoid_f(x)
    return grad * (s * (1 + x * (1 - s)))


@scalar
def leaky_relu_f(x, negative_slope):
    return x if x > 0 else x * negative_slope


@scalar
def leaky_relu_dx(grad, x, negative_slope):
    return grad if x > 0 else grad * negative_slope


@scalar
def gelu_f(x):
    return 0.5 * x * (1 + m.erf(x * 0.7071067811865476))


@scalar
def gelu_dx(grad, x):
    cdf = 0.5 * (1 + m.erf(x * 0.7071067811865476))
    pdf = m.exp_double(-0.5 * x * x) * 0.3989422804014327
    return grad * (cdf + x * pdf)


@scalar
def gelu_tanh_f(x):
    inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    return 0.5 * x * (1 + m.tanh(inner))


@scalar
def gelu_tanh_dx(grad, x):
    k = 0.7978845608028654
    inner = k * (x + 0.044715 * x * x * x)
    t = m.tanh(inner)
    left = 0.5 * x
    right = 1 + t
    left_d = 0.5 * right
    d_inner = k * (1 + 3 * 0.044715 * x * x)
    right_d = left * (1 - t * t) * d_inner
    return grad * (left_d + right_d)


@scalar
def softplus_f(x, beta, threshold):
    if x * beta > threshold:
        return x
    return m.log1p(m.exp_double(x * beta)) / beta


@scalar
def softplus_dx(grad, x, beta, threshold):
    z = x * beta
    if z > threshold:
        return grad
    e = m.exp_double(z)
    return grad * e / (e + 1)


@scalar
def clamp_f(x, lo, hi):
    if x != x:
        return x
    if x < lo:
        x = lo
    if x > hi:
        x = hi
    return x


@scalar
def clamp_dx(grad, x, lo, hi):
    # torch: an exact 0 outside [lo, hi] and at NaN, even for an inf grad
    return grad if (x >= lo) & (x <= hi) else zero_of(grad)


# clamp with tensor bounds: torch's rules, not maximum/minimum's (which split ties): x keeps the
# gradient inside [lo, hi], ties included; a bound gets it where it clips x.  With both bounds
# an empty range (lo > hi) clamps to hi, so lo gets nothing there (``two_sided``: with lo alone,
# an absent hi is +inf and lo = +inf still clips).


@scalar
def clamp_tensor_f(x, lo, hi):
    return minimum_f(maximum_f(x, lo), hi)


@scalar
def clamp_tensor_dlo(grad, x, lo, hi, two_sided):
    return grad if (lo > x) & ((lo < hi) | (not two_sided)) else zero_of(grad)


@scalar
def clamp_tensor_dhi(grad, x, lo, hi):
    return grad if (hi < x) | (hi < lo) else zero_of(grad)


_FL = {"promote": "float"}
_FP = {"promote": "floating"}  # activations: torch refuses integer inputs
register(Op("exp", ("x",), elementwise(exp_f), {"x": elementwise(exp_dx)}, **_FL))
register(Op("log", ("x",), elementwise(log_f), {"x": elementwise(log_dx)}, **_FL))
register(Op("sqrt", ("x",), elementwise(sqrt_f), {"x": elementwise(sqrt_dx)}, **_FL))
register(Op("abs", ("x",), elementwise(abs_f, ARITH), {"x": elementwise(abs_dx)}))


# piecewise-constant ops: recorded (the output requires grad, as in torch) with a zero gradient
@scalar
def zero_grad_f(grad):
    return zero_of(grad)


zero_grad = elementwise(zero_grad_f, ALL)
register(Op("sign", ("x",), elementwise(sign_f, ALL), {"x": zero_grad}))
register(Op("tanh", ("x",), elementwise(tanh_f), {"x": elementwise(tanh_dx)}, **_FL))
register(
    Op(
        "sigmoid",
        ("x",),
        elementwise(sigmoid_f),
        {"x": elementwise(sigmoid_dx)},
        **_FL,
    )
)
register(
    Op(
        "relu",
        ("x",),
        elementwise(relu_f, ARITH, refuse={"bool": "Boolean inputs not supported for relu"}),
        {"x": elementwise(relu_dx)},
    )
)
register(Op("silu", ("x",), elementwise(silu_f), {"x": elementwise(silu_dx)}, **_FP))
register(
    Op(
        "leaky_relu",
        ("x",),
        elementwise(leaky_relu_f),
        {"x": elementwise(leaky_relu_dx)},
        attrs=("negative_slope",),
        **_FP,
    )
)
register(Op("gelu", ("x",), elementwise(gelu_f), {"x": elementwise(gelu_dx)}, **_FP))
register(
    Op(
        "gelu_tanh",
        ("x",),
        elementwise(gelu_tanh_f),
        {"x": elementwise(gelu_tanh_dx)},
        **_FP,
    )
)
register(
    Op(
        "softplus",
        ("x",),
        elementwise(softplus_f),
        {"x": elementwise(softplus_dx)},
        attrs=("beta", "threshold"),
        **_FP,
    )
)
register(
    Op(
        "clamp",
        ("x",),
        elementwise(clamp_f, ARITH),
        {"x": elementwise(clamp_dx)},
        attrs=("lo", "hi"),
    )
)
register(
    Op(
        "clamp_tensor",
        ("x", "lo", "hi"),
        elementwise(clamp_tensor_f, ARITH),
        {
            "x": elementwise(clamp_dx),
            "lo": elementwise(clamp_tensor_dlo, FLOAT, arg_types=(None, None, None, None, "bool")),
            "hi": elementwise(clamp_tensor_dhi),
        },
        attrs=("two_sided",),
    )
)


@scalar
def round_f(x):
    return m.rint(x)  # half to even, like torch.round; keeps NaN, inf and -0.0


@scalar
def floor_f(x):
    return m.floor(x)


@scalar
def ceil_f(x):
    return m.ceil(x)


@scalar
def trunc_f(x):
    return m.trunc(x)


for _name, _fn in (("round", round_f), ("floor", floor_f), ("ceil", ceil_f), ("trunc", trunc_f)):
    register(Op(_name, ("x",), elementwise(_fn), {"x": zero_grad}, **_FL))


# dtype conversion and copies: the devices implement them (numpy's astype / copy on the CPU);
# the gradient casts back (the tape converts every input gradient to its input's dtype)
register(
    Op(
        "cast",
        ("x",),
        Kernel(args=("x", "dtype"), name="astype"),
        {"x": identity},
        attrs=("dtype",),
        promote=None,
    )
)
register(
    Op(
        "clone",
        ("x",),
        Kernel(args=("x",), name="copy"),
        {"x": identity},
        promote=None,
    )
)

# ---- per-element losses (reduced by the loss functions with sum/mean) -----------------------


@scalar
def mse_f(x, y):
    d = x - y
    return d * d


@scalar
def mse_dx(grad, x, y):
    return 2 * (x - y) * grad


@scalar
def mse_dy(grad, x, y):
    return -2 * (x - y) * grad


@scalar
def l1_f(x, y):
    return abs_f(x - y)


@scalar
def l1_dx(grad, x, y):
    return grad * sign_f(x - y)


@scalar
def l1_dy(grad, x, y):
    return -grad * sign_f(x - y)


@scalar
def bce_f(x, y):
    # torch clamps each log at -100 so a probability of exactly 0 or 1 gives a finite loss
    return (y - 1) * max(m.log1p(-x), -100.0) - y * max(m.log(x) if x > 0 else -m.inf, -100.0)


@scalar
def bce_dx(grad, x, y):
    return grad * (x - y) / max((1 - x) * x, 1e-12)


@scalar
def bce_dy(grad, x):
    return grad * (max(m.log1p(-x), -100.0) - max(m.log(x) if x > 0 else -m.inf, -100.0))


@scalar
def softplus0(x):
    # log(1 + exp(x)) without overflow
    if x > 0:
        return x + m.log1p(m.exp_double(-x))
    return m.log1p(m.exp_double(x))


@scalar
def bce_logits_f(x, y, pos_weight):
    # (1 - y) x + lw * softplus(-x), with lw = 1 + (pos_weight - 1) y; finite for |x| = 100+
    lw = 1 + (pos_weight - 1) * y
    return (1 - y) * x + lw * softplus0(-x)


@scalar
def bce_logits_dx(grad, x, y, pos_weight):
    lw = 1 + (pos_weight - 1) * y
    return grad * ((1 - y) - lw * sigmoid_f(-x))


@scalar
def bce_logits_dy(grad, x, pos_weight):
    return grad * (-x + (pos_weight - 1) * softplus0(-x))


@scalar
def bce_logits_dpw(grad, x, y):
    return grad * y * softplus0(-x)


@scalar
def huber_f(x, y, delta):
    d = abs_f(x - y)
    return 0.5 * d * d if d < delta else delta * (d - 0.5 * delta)


@scalar
def huber_dx(grad, x, y, delta):
    d = x - y
    if d < -delta:
        return -delta * grad
    if d > delta:
        return delta * grad
    return d * grad


@scalar
def huber_dy(grad, x, y, delta):
    return -huber_dx(grad, x, y, delta)


register(
    Op(
        "mse",
        ("x", "y"),
        elementwise(mse_f),
        {"x": elementwise(mse_dx), "y": elementwise(mse_dy)},
        promote="float",
    )
)
register(
    Op(
        "l1",
        ("x", "y"),
        elementwise(l1_f),
        {"x": elementwise(l1_dx), "y": elementwise(l1_dy)},
        promote="float",
    )
)
register(
    Op(
        "bce",
        ("x", "y"),
        elementwise(bce_f),
        {"x": elementwise(bce_dx), "y": elementwise(bce_dy)},
        promote="float",
    )
)
register(
    Op(
        "bce_logits",
        ("x", "y", "pos_weight"),
        elementwise(bce_logits_f),
        {
            "x": elementwise(bce_logits_dx),
            "y": elementwise(bce_logits_dy),
            "pos_weight": elementwise(bce_logits_dpw),
        },
        promote="float",
    )
)
register(
    Op(
        "huber",
        ("x", "y"),
        elementwise(huber_f),
        {"x": elementwise(huber_dx), "y": elementwise(huber_dy)},
        attrs=("delta",),
        promote="float",
    )
)

# ---- trigonometric, hyperbolic and special functions (issue 11) ------------------------------
# Each gradient is torch's formula from derivatives.yaml, written in the same order of
# operations, so the values at domain edges (inf, NaN, 0) are torch's: asin at +-1 and acosh
# at 1 give inf (an rsqrt of 0), atanh at +-1 gives inf (1 / 0), acosh at inf gives 0.

_LN2 = 0.6931471805599453
_LN10 = 2.302585092994046
_TWO_OVER_SQRT_PI = 1.1283791670955126
_HALF_SQRT_PI = 0.886226925452758
_PI = 3.141592653589793


@scalar
def rsqrt_of(x):
    return 1.0 / m.sqrt(x)  # torch's rsqrt: inf at 0, NaN below


@scalar
def sin_f(x):
    return m.sin(x)


@scalar
def sin_dx(grad, x):
    return grad * m.cos(x)


@scalar
def cos_f(x):
    return m.cos(x)


@scalar
def cos_dx(grad, x):
    return grad * -m.sin(x)


@scalar
def tan_f(x):
    return m.tan(x)


@scalar
def tan_dx(grad, out):
    return grad * (1 + out * out)


@scalar
def asin_f(x):
    return m.asin(x)


@scalar
def asin_dx(grad, x):
    return grad * rsqrt_of(-x * x + 1)


@scalar
def acos_f(x):
    return m.acos(x)


@scalar
def acos_dx(grad, x):
    return grad * -rsqrt_of(-x * x + 1)


@scalar
def atan_f(x):
    return m.atan(x)


@scalar
def atan_dx(grad, x):
    return grad / (x * x + 1)


@scalar
def sinh_f(x):
    return m.sinh(x)


@scalar
def sinh_dx(grad, x):
    return grad * m.cosh(x)


@scalar
def cosh_f(x):
    return m.cosh(x)


@scalar
def cosh_dx(grad, x):
    return grad * m.sinh(x)


@scalar
def asinh_f(x):
    return m.asinh(x)


@scalar
def asinh_dx(grad, x):
    return grad * rsqrt_of(x * x + 1)


@scalar
def acosh_f(x):
    return m.acosh(x)


@scalar
def acosh_dx(grad, x):
    return grad * rsqrt_of(x * x - 1)


@scalar
def atanh_f(x):
    return m.atanh(x)


@scalar
def atanh_dx(grad, x):
    return grad * 1 / (1 - x * x)


@scalar
def erf_f(x):
    return m.erf(x)


@scalar
def erf_dx(grad, x):
    return _TWO_OVER_SQRT_PI * m.exp(-(x * x)) * grad


@scalar
def erfc_f(x):
    return m.erfc(x)


@scalar
def erfc_dx(grad, x):
    return -_TWO_OVER_SQRT_PI * m.exp(-(x * x)) * grad


@scalar
def erfinv_f(x):
    return m.erfinv(x)


@scalar
def erfinv_dx(grad, out):
    return _HALF_SQRT_PI * m.exp(out * out) * grad


@scalar
def log10_f(x):
    return m.log10(x)


@scalar
def log10_dx(grad, x):
    return grad / (x * _LN10)


@scalar
def log2_f(x):
    return m.log2(x)


@scalar
def log2_dx(grad, x):
    return grad / (x * _LN2)


@scalar
def log1p_f(x):
    return m.log1p(x)


@scalar
def log1p_dx(grad, x):
    return grad / (x + 1)


@scalar
def expm1_f(x):
    return m.expm1(x)


@scalar
def expm1_dx(grad, out):
    return grad * (out + 1)


@scalar
def exp2_f(x):
    return m.exp2(x)


@scalar
def exp2_dx(grad, out):
    return grad * out * _LN2


@scalar
def sinc_f(x):
    # torch: 1 at 0, else sin(pi x) / (pi x)
    if x == 0:
        return one_of(x)
    px = x * _PI
    return m.sin(px) / px


@scalar
def sinc_dx(grad, x):
    # torch's sinc_backward: an exact 0 where x * x * pi is 0 (x = 0, or so small it underflows)
    px = x * _PI
    d = x * x * _PI
    if d == 0:
        return zero_of(grad)
    return grad * (px * m.cos(px) - m.sin(px)) / d


@scalar
def reciprocal_f(x):
    return one_of(x) / x


@scalar
def reciprocal_dx(grad, out):
    return -grad * (out * out)


for _name, _f, _dx in (
    ("sin", sin_f, sin_dx),
    ("cos", cos_f, cos_dx),
    ("tan", tan_f, tan_dx),
    ("asin", asin_f, asin_dx),
    ("acos", acos_f, acos_dx),
    ("atan", atan_f, atan_dx),
    ("sinh", sinh_f, sinh_dx),
    ("cosh", cosh_f, cosh_dx),
    ("asinh", asinh_f, asinh_dx),
    ("acosh", acosh_f, acosh_dx),
    ("atanh", atanh_f, atanh_dx),
    ("erf", erf_f, erf_dx),
    ("erfc", erfc_f, erfc_dx),
    ("erfinv", erfinv_f, erfinv_dx),
    ("log10", log10_f, log10_dx),
    ("log2", log2_f, log2_dx),
    ("log1p", log1p_f, log1p_dx),
    ("expm1", expm1_f, expm1_dx),
    ("exp2", exp2_f, exp2_dx),
    ("sinc", sinc_f, sinc_dx),
    ("reciprocal", reciprocal_f, reciprocal_dx),
):
    # integer and bool inputs compute in float32, as torch's do
    register(Op(_name, ("x",), elementwise(_f), {"x": elementwise(_dx)}, **_FL))


@scalar
def atan2_f(x, y):
    return m.atan2(x, y)  # torch.atan2(input, other): the angle of the point (other, input)


@scalar
def atan2_recip(x, y):
    # torch's atan2_backward: 1 / (x*x + y*y), set to 0 where that sum is 0
    d = x * x + y * y
    return zero_of(d) if d == 0 else one_of(d) / d


@scalar
def atan2_dx(grad, x, y):
    return grad * y * atan2_recip(x, y)


@scalar
def atan2_dy(grad, x, y):
    return grad * -x * atan2_recip(x, y)


@scalar
def hypot_f(x, y):
    return m.hypot(x, y)


@scalar
def hypot_dx(grad, x, out):
    return grad * x / out  # torch's: NaN at (0, 0)


@scalar
def hypot_dy(grad, y, out):
    return grad * y / out


register(
    Op(
        "atan2",
        ("x", "y"),
        elementwise(atan2_f),
        {"x": elementwise(atan2_dx), "y": elementwise(atan2_dy)},
        **_FL,
    )
)
register(
    Op(
        "hypot",
        ("x", "y"),
        elementwise(hypot_f),
        {"x": elementwise(hypot_dx), "y": elementwise(hypot_dy)},
        **_FP,  # torch: "hypot_cpu" not implemented for 'Long'
    )
)


@scalar
def lerp_f(x, end, weight):
    # torch's formula: from the nearer end, so weight 1 gives exactly ``end``
    if abs(weight) < 0.5:
        return x + weight * (end - x)
    return end - (end - x) * (1 - weight)


@scalar
def lerp_dx(grad, weight):
    return grad * (1 - weight)


@scalar
def lerp_dend(grad, weight):
    return grad * weight


@scalar
def lerp_dweight(grad, x, end):
    return grad * (end - x)


register(
    Op(
        "lerp",
        ("x", "end", "weight"),
        elementwise(lerp_f),
        {
            "x": elementwise(lerp_dx),
            "end": elementwise(lerp_dend),
            "weight": elementwise(lerp_dweight),
        },
        **_FP,
    )
)


@scalar
def is_finite(x):
    return (x == x) & (x != m.inf) & (x != -m.inf)


@scalar
def nan_to_num_f(x, nan, posinf, neginf):
    if x != x:
        return nan
    if x == m.inf:
        return posinf
    if x == -m.inf:
        return neginf
    return x


@scalar
def nan_to_num_dx(grad, x):
    # torch: grad * isfinite(x), a product (an inf grad at a non-finite x gives NaN)
    return grad if is_finite(x) else grad * zero_of(grad)


register(
    Op(
        "nan_to_num",
        ("x",),
        elementwise(nan_to_num_f),
        {"x": elementwise(nan_to_num_dx)},
        attrs=("nan", "posinf", "neginf"),
    )
)

# ---- elementwise predicates and logical ops (no gradient, bool results) ---------------------
# the predicates run on float tensors only: numgrad.isnan and friends answer for integer and
# bool tensors without a kernel (nothing there is NaN or infinite)


@scalar
def isnan_f(x):
    return x != x


@scalar
def isinf_f(x):
    return (x == m.inf) | (x == -m.inf)


@scalar
def isposinf_f(x):
    return x == m.inf


@scalar
def isneginf_f(x):
    return x == -m.inf


@scalar
def signbit_f(x):
    return m.signbit(x)  # -0.0 and negative NaNs too


for _name, _fn in (
    ("isnan", isnan_f),
    ("isinf", isinf_f),
    ("isfinite", is_finite),
    ("isposinf", isposinf_f),
    ("isneginf", isneginf_f),
    ("signbit", signbit_f),
):
    register(Op(_name, ("x",), elementwise(_fn, out="bool"), {"x": None}, promote=None))


@scalar
def logical_and_f(x, y):
    return (x != 0) & (y != 0)


@scalar
def logical_or_f(x, y):
    return (x != 0) | (y != 0)


@scalar
def logical_xor_f(x, y):
    return (x != 0) != (y != 0)


for _name, _fn in (
    ("logical_and", logical_and_f),
    ("logical_or", logical_or_f),
    ("logical_xor", logical_xor_f),
):
    register(Op(_name, ("x", "y"), elementwise(_fn, ALL, out="bool"), {"x": None, "y": None}))


@scalar
def isclose_f(x, y, rtol, atol, equal_nan):
    # torch's isclose: equal (infinities included), both NaN with equal_nan, or a finite
    # |x - y| within atol + |rtol * y|
    if x == y:
        return True
    if equal_nan and (x != x) and (y != y):
        return True
    diff = abs(x - y)
    return (diff < m.inf) & (diff <= atol + abs(rtol * y))


register(
    Op(
        "isclose",
        ("x", "y"),
        elementwise(
            isclose_f, ALL, out="bool", arg_types=(None, None, "float64", "float64", "bool")
        ),
        {"x": None, "y": None},
        attrs=("rtol", "atol", "equal_nan"),
    )
)
