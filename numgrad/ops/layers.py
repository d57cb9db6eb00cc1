"""Layer ops (issue 11 "layers"): activations as scalar rules; layer_norm, batch_norm, embedding
and pad as plan + compute.

Activations follow torch's formulas and its CPU backward kernels, edges included (hardtanh's
gradient is 0 *at* its bounds, hardswish's 0 at -3 and 1 at 3, hardsigmoid's slope is 1/6
rounded to float32, softsign's is its composite's, NaN at +-inf).  The
normalisations return their per-row (layer_norm) or per-channel (batch_norm) statistics as extra,
non-differentiable outputs that their backward reads; batch_norm's statistics are the batch's
(training mode: the eval form is an affine map that ``nn.functional`` writes with public ops).
``embedding`` is a row gather whose backward scatter-adds, skipping ``padding_idx`` as torch
does; its indices are checked in ``nn.functional`` before any kernel runs.  ``pad`` is one op for
every mode: the plan gives, per padded dim, the source index of each output position (-1 for
the constant), so a negative pad (a crop), reflect, replicate and circular are all gathers, and
the backward scatter-adds.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from . import math as m
from .elementwise import sigmoid_f, softplus0
from .math import one_of, scalar, zero_of
from .registry import FLOAT, Kernel, Op, elementwise, register

# ---- activations --------------------------------------------------------------------------


@scalar
def expm1_k(x):
    """exp(x) - 1 accurate near 0 (Kahan's trick, in the precision of x): the seam has no expm1
    yet, and exp(x) - 1 loses every digit of a tiny x."""
    u = m.exp(x)
    if u == 1:
        return x
    um1 = u - 1
    if um1 == -1 or u == m.inf:
        return um1
    return um1 * x / m.log(u)


@scalar
def elu_f(x, alpha, scale, input_scale):
    # torch: scale * x above 0, scale * alpha * (exp(x * input_scale) - 1) below
    return x * scale if x > 0 else expm1_k(x * input_scale) * (alpha * scale)


@scalar
def elu_dx(grad, x, alpha, scale, input_scale):
    # torch's elu_backward (is_result=false)
    if x > 0:
        return grad * scale
    return grad * (input_scale * alpha * scale) * m.exp(x * input_scale)


@scalar
def logsigmoid_f(x):
    # min(x, 0) - log1p(exp(-|x|)): finite for any x, as torch's
    ax = x if x > 0 else -x
    return (zero_of(x) if x > 0 else x) - m.log1p(m.exp(-ax))


@scalar
def logsigmoid_dx(grad, x):
    # grad * sigmoid(-x) without overflow
    ax = x if x > 0 else -x
    z = m.exp(-ax)
    return grad * (z / (1 + z) if x > 0 else 1 / (1 + z))


@scalar
def hardtanh_f(x, min_val, max_val):
    if x != x:
        return x
    if x < min_val:
        return zero_of(x) + min_val
    if x > max_val:
        return zero_of(x) + max_val
    return x


@scalar
def hardtanh_dx(grad, x, min_val, max_val):
    # torch's hardtanh_backward: the gradient passes strictly inside (min, max) only
    return grad if (x > min_val) & (x < max_val) else zero_of(grad)


@scalar
def threshold_f(x, threshold, value):
    return zero_of(x) + value if x <= threshold else x


@scalar
def threshold_dx(grad, x, threshold):
    return zero_of(grad) if x <= threshold else grad


@scalar
def _relu6_shifted(x):
    # min(max(x + 3, 0), 6) with NaN passing through, as torch's vectorised kernels
    c = x + 3
    if c < 0:
        return zero_of(x)
    if c > 6:
        return zero_of(x) + 6
    return c


@scalar
def hardsigmoid_f(x):
    return _relu6_shifted(x) / 6


@scalar
def hardsigmoid_dx(grad, x):
    # torch multiplies by 1/6 rounded to float32 in every precision: this literal is that
    # float32 exactly, and a float32 grad times it rounds as float32 arithmetic would (the
    # product of two float32s is exact in float64)
    return grad * 0.16666667163372040 if (x > -3) & (x < 3) else zero_of(grad)


@scalar
def hardswish_f(x):
    # torch's x * relu6(x + 3) / 6: -0.0 below -3, and NaN at -inf (-inf * 0)
    return x * _relu6_shifted(x) / 6


@scalar
def hardswish_dx(grad, x):
    # torch's (vectorised) hardswish_backward: 0 at and below -3, grad at and above 3, NaN
    # passes through the middle branch
    if x <= -3:
        return zero_of(grad)
    if x >= 3:
        return grad
    return grad * (x / 3 + 0.5)


@scalar
def softsign_f(x):
    return x / (one_of(x) + (x if x >= 0 else -x))


@scalar
def softsign_dx(grad, x):
    # torch's softsign is the composite x / (1 + |x|): its gradient is the sum of div's two
    # terms (so NaN at +-inf, where they are inf / inf), kept for equal numbers
    d = one_of(x) + (x if x >= 0 else -x)  # in x's precision, as torch's (1 would widen it)
    sgn = zero_of(x) if x == 0 else (one_of(x) if x > 0 else -one_of(x))
    return grad / d + (-grad * ((x / d) / d)) * sgn


@scalar
def tanhshrink_f(x):
    return x - m.tanh(x)


@scalar
def tanhshrink_dx(grad, x):
    t = m.tanh(x)
    return grad * t * t


@scalar
def mish_f(x):
    return x * m.tanh(softplus0(x))


@scalar
def mish_dx(grad, x):
    # torch's mish_backward
    t = m.tanh(softplus0(x))
    return grad * (t + x * sigmoid_f(x) * (1 - t * t))


@scalar
def prelu_f(x, weight):
    return x if x > 0 else weight * x


@scalar
def prelu_dx(grad, x, weight):
    return grad if x > 0 else weight * grad


@scalar
def prelu_dweight(grad, x):
    return zero_of(grad) if x > 0 else x * grad


# kl_div's pointwise term (torch: xlogy(y, y) - y * x, or exp(y) * (y - x) for a log target);
# x is the log-probability input, y the target


@scalar
def kl_div_f(x, y, log_target):
    if log_target:
        return m.exp(y) * (y - x)
    return (y * m.log(y) if y != 0 else zero_of(y)) - y * x


@scalar
def kl_div_dx(grad, y, log_target):
    return -grad * (m.exp(y) if log_target else y)


@scalar
def kl_div_dy(grad, x, y, log_target):
    if log_target:
        return grad * m.exp(y) * (y - x + 1)
    return grad * (m.log(y) + 1 - x)


_FP = {"promote": "floating"}  # activations: torch refuses integer inputs

register(
    Op(
        "elu",
        ("x",),
        elementwise(elu_f),
        {"x": elementwise(elu_dx)},
        attrs=("alpha", "scale", "input_scale"),
        **_FP,
    )
)
register(
    Op("logsigmoid", ("x",), elementwise(logsigmoid_f), {"x": elementwise(logsigmoid_dx)}, **_FP)
)
register(
    Op(
        "hardtanh",
        ("x",),
        elementwise(hardtanh_f),
        {"x": elementwise(hardtanh_dx)},
        attrs=("min_val", "max_val"),
        **_FP,
    )
)
register(
    Op(
        "threshold",
        ("x",),
        elementwise(threshold_f),
        {"x": elementwise(threshold_dx)},
        attrs=("threshold", "value"),
        **_FP,
    )
)
for _name, _f, _dx in (
    ("hardsigmoid", hardsigmoid_f, hardsigmoid_dx),
    ("hardswish", hardswish_f, hardswish_dx),
    ("softsign", softsign_f, softsign_dx),
    ("tanhshrink", tanhshrink_f, tanhshrink_dx),
    ("mish", mish_f, mish_dx),
):
    register(Op(_name, ("x",), elementwise(_f), {"x": elementwise(_dx)}, **_FP))
register(
    Op(
        "prelu",
        ("x", "weight"),
        elementwise(prelu_f),
        {"x": elementwise(prelu_dx), "weight": elementwise(prelu_dweight)},
        **_FP,
    )
)
register(
    Op(
        "kl_div",
        ("x", "y"),
        elementwise(kl_div_f, FLOAT, arg_types=(None, None, "bool")),
        {
            "x": elementwise(kl_div_dx, FLOAT, arg_types=(None, None, "bool")),
            "y": elementwise(kl_div_dy, FLOAT, arg_types=(None, None, None, "bool")),
        },
        attrs=("log_target",),
        promote="float",
    )
)

# ---- layer_norm ---------------------------------------------------------------------------


class RowsNormPlan(NamedTuple):
    """``x`` as ``m`` rows of ``n`` elements (the normalized trailing dims); ``stat_shape`` is
    the statistics' shape (the leading dims), ``shape`` the input's."""

    m: int
    n: int
    shape: tuple
    stat_shape: tuple


def layer_norm_plan(x_shape, normalized_shape):
    shape, norm = tuple(x_shape), tuple(normalized_shape)
    k = len(norm)
    if k == 0 or len(shape) < k or shape[len(shape) - k :] != norm:
        raise RuntimeError(
            f"Given normalized_shape={list(norm)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in norm)}], but got input of size{list(shape)}"
        )
    lead = shape[: len(shape) - k]
    return RowsNormPlan(math.prod(lead), math.prod(norm), shape, lead)


register(
    Op(
        "layer_norm",
        ("x", "weight", "bias"),
        Kernel(
            args=("x", "weight", "bias", "eps", "plan"),
            name="layer_norm_forward",
            plan=layer_norm_plan,
        ),
        {
            "x": Kernel(
                args=("grad", "x", "weight", "mean", "rstd", "plan"),
                name="layer_norm_dx",
                plan=layer_norm_plan,
            ),
            "weight": Kernel(
                args=("grad", "x", "mean", "rstd", "plan"),
                name="layer_norm_dweight",
                plan=layer_norm_plan,
            ),
            "bias": Kernel(args=("grad", "plan"), name="layer_norm_dbias", plan=layer_norm_plan),
        },
        attrs=("normalized_shape", "eps"),
        outputs=("out", "mean", "rstd"),
        promote="same",
        half="float32",
    )
)

# ---- batch_norm (training: the batch's statistics) ----------------------------------------


class ChannelsPlan(NamedTuple):
    """``x`` of ``shape`` (N, C, *) seen as (n, c, s): batch, channels, the rest flattened."""

    n: int
    c: int
    s: int
    shape: tuple


def batch_norm_plan(x_shape):
    shape = tuple(x_shape)
    if len(shape) < 2:
        raise ValueError(
            f"batch_norm: expected an input of at least 2 dimensions (N, C, ...), got shape {shape}"
        )
    return ChannelsPlan(shape[0], shape[1], math.prod(shape[2:]), shape)


register(
    Op(
        "batch_norm",
        ("x", "weight", "bias"),
        Kernel(
            args=("x", "weight", "bias", "eps", "plan"),
            name="batch_norm_forward",
            plan=batch_norm_plan,
        ),
        {
            "x": Kernel(
                args=("grad", "x", "weight", "mean", "var", "eps", "plan"),
                name="batch_norm_dx",
                plan=batch_norm_plan,
            ),
            "weight": Kernel(
                args=("grad", "x", "mean", "var", "eps", "plan"),
                name="batch_norm_dweight",
                plan=batch_norm_plan,
            ),
            "bias": Kernel(args=("grad", "plan"), name="batch_norm_dbias", plan=batch_norm_plan),
        },
        attrs=("eps",),
        # var: the biased batch variance per channel (the running variance is updated with the
        # unbiased one, n / (n - 1) times it, as torch's)
        outputs=("out", "mean", "var"),
        promote="same",
        half="float32",
    )
)

# ---- embedding ----------------------------------------------------------------------------

register(
    Op(
        "embedding",
        ("weight", "indices"),
        Kernel(args=("weight", "indices"), name="embedding_forward"),
        {
            "weight": Kernel(
                args=("grad", "indices", "weight_shape", "padding_idx"), name="embedding_backward"
            ),
            "indices": None,
        },
        attrs=("padding_idx",),
        promote=None,
        half="float32",  # the backward's scatter-add compiles no float16 loop
    )
)

# ---- pad ----------------------------------------------------------------------------------


class PadPlan(NamedTuple):
    """``out_shape``; ``maps``: per padded dim ``(axis, source index per output position)``,
    -1 where the constant goes; ``crop``/``place``: for the constant mode, the slices
    ``out[place] = x[crop]`` (as (start, stop) pairs per dim); ``pad`` and ``mode`` as given."""

    out_shape: tuple
    maps: tuple
    crop: tuple
    place: tuple
    constant: bool
    pad: tuple
    mode: str


def _pad_map(n, lo, hi, mode, axis):
    out = n + lo + hi
    idx = []
    for j in range(out):
        i = j - lo
        if mode == "constant":
            idx.append(i if 0 <= i < n else -1)
        elif mode == "replicate":
            idx.append(min(max(i, 0), n - 1))
        elif mode == "circular":
            idx.append(i % n)
        else:  # reflect: mirror without repeating the edge
            period = 2 * (n - 1)
            r = i % period if period else 0
            idx.append(r if r < n else period - r)
    return (axis, tuple(idx))


def pad_plan(x_shape, pad, mode):
    shape = tuple(x_shape)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    if k > len(shape):
        raise RuntimeError(
            f"Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {len(shape)}"
        )
    out_shape = list(shape)
    maps, crop, place = [], [(0, s) for s in shape], [(0, s) for s in shape]
    for d in range(k):
        axis = len(shape) - 1 - d
        lo, hi = pad[2 * d], pad[2 * d + 1]
        n = shape[axis]
        size = n + lo + hi
        if mode == "constant":
            if size < 0:
                raise RuntimeError(
                    f"The input size {n}, plus negative padding {lo} and {hi} resulted in a "
                    f"negative output size, which is invalid. Check dimension {axis} of your input."
                )
        elif mode == "reflect":
            if lo >= n or hi >= n:
                raise RuntimeError(
                    f"Argument #4: Padding size should be less than the corresponding input "
                    f"dimension, but got: padding ({lo}, {hi}) at dimension {axis} of input "
                    f"{list(shape)}"
                )
        elif mode in ("replicate", "circular"):
            if n == 0 or (mode == "circular" and (lo > n or hi > n)):
                raise RuntimeError(
                    f"{mode} padding: padding ({lo}, {hi}) is too large for dimension {axis} of "
                    f"input {list(shape)}"
                )
        else:
            raise NotImplementedError(f"Unrecognised padding mode {mode}")
        if mode != "constant" and (lo < 0 or hi < 0):
            raise RuntimeError(f"{mode} padding: negative padding ({lo}, {hi}) is not supported")
        out_shape[axis] = max(size, 0)
        maps.append(_pad_map(n, lo, hi, mode, axis))
        crop[axis] = (max(-lo, 0), n - max(-hi, 0))
        place[axis] = (max(lo, 0), max(lo, 0) + max(n - max(-lo, 0) - max(-hi, 0), 0))
    return PadPlan(
        tuple(out_shape),
        tuple(maps),
        tuple(crop),
        tuple(place),
        mode == "constant",
        tuple(pad),
        mode,
    )


register(
    Op(
        "pad",
        ("x",),
        Kernel(args=("x", "value", "plan"), name="pad_forward", plan=pad_plan),
        {"x": Kernel(args=("grad", "x_shape", "plan"), name="pad_backward", plan=pad_plan)},
        attrs=("pad", "mode", "value"),
        promote=None,
        half="native",
    )
)
