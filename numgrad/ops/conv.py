"""Convolution and pooling: declarations and plans (``conv``, ``conv_transpose``, ``max_pool``,
``avg_pool``, ``adaptive_avg_pool``).

Every op here runs in one fixed layout: a 4-D ``(N, C, H, W)`` input.  A 1-d op (conv1d,
max_pool1d...) is the 2-d op with ``H = 1`` (the functional passes a height of 1 in its
kernel, stride and padding), and an unbatched input (``(C, H, W)``, ``(C, L)``) gets ``N = 1``;
the plans do that reshaping arithmetic and name the result's real shape (``out_shape``), so a
device sees only 4-D contiguous arrays and compiles one kernel per dtype.

Attrs are normalised by ``numgrad.nn.functional`` before they reach the table: ``stride``,
``dilation``, ``kernel`` are ``(h, w)`` tuples, ``padding`` is ``(top, bottom, left, right)``
(conv's ``padding='same'`` pads an even kernel more on the bottom/right, as torch does).

The plans raise torch's errors (channel and group mismatches, a kernel larger than the padded
input, an output size below 1), so every device raises the same.

* ``conv``: ``out = conv(x, weight) + bias``; backward: ``x`` (the transposed convolution of
  ``grad``), ``weight`` (``grad`` correlated with ``x``), ``bias`` (``grad`` summed over
  ``N, H, W``).
* ``conv_transpose``: the gradient of a convolution with respect to its input, as a function
  of ``x``; its plan is that convolution's plan, so devices compose their conv kernels.
* ``max_pool``: outputs ``out`` and ``indices`` (int64, the flat ``h * W + w`` position of
  each maximum in its input plane, as torch's ``return_indices``); the first maximum of a
  window wins, a NaN wins over any number (torch's rule).  Backward adds ``grad`` at ``indices``.
* ``adaptive_max_pool``: max_pool over adaptive_avg_pool's windows, with its indices.
* ``avg_pool`` and ``adaptive_avg_pool``: the mean over windows given per axis by a start, an
  end (exclusive, inside the input) and a count (the divisor's factor along that axis: the
  window's size with or without padding); the divisor of an output is ``count_h * count_w``, or
  ``divisor_override``.  Both ops share these window tables (``WindowPlan``) and their
  kernels; only the plans differ.
"""

from __future__ import annotations

from typing import NamedTuple

from .registry import Kernel, Op, register


def _dims(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _batched(x_shape, nd, name):
    """``(n, c, h, w)`` for an input of ``nd`` spatial dims (1 or 2), batched or not."""
    shape = tuple(x_shape)
    if len(shape) == nd + 2:
        n, c = shape[0], shape[1]
    elif len(shape) == nd + 1:
        n, c = 1, shape[0]
    else:
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
            f"input of size: {_dims(shape)}"
        )
    h, w = (1, shape[-1]) if nd == 1 else shape[-2:]
    return n, c, h, w


def _out_shape(x_shape, nd, c, oh, ow):
    """The result's shape in the input's own rank (unbatched stays unbatched)."""
    lead = tuple(x_shape[: -nd - 1])
    return lead + (c,) + ((ow,) if nd == 1 else (oh, ow))


# ---- convolution ----------------------------------------------------------------------------


class ConvPlan(NamedTuple):
    """``x`` seen as ``x4 = (N, C, H, W)``, ``weight`` as ``w4 = (Co, C / groups, kh, kw)``;
    the result is ``out4 = (N, Co, oh, ow)``, returned as ``out_shape``.  ``geom`` is
    ``(stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w, groups)`` for the
    kernels (the bottom/right padding only shows in ``oh``/``ow``); ``unit_stride``: both
    strides are 1 (devices may then unroll the input faster)."""

    x4: tuple
    w4: tuple
    out4: tuple
    out_shape: tuple
    x_shape: tuple
    w_shape: tuple
    geom: tuple
    unit_stride: bool


def conv_plan(x_shape, weight_shape, stride, padding, dilation, groups):
    w_shape = tuple(weight_shape)
    nd = len(w_shape) - 2
    name = f"conv{nd}d"
    n, c, h, w = _batched(x_shape, nd, name)
    co, cig = w_shape[0], w_shape[1]
    kh, kw = (1, w_shape[2]) if nd == 1 else w_shape[2:]
    if co % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {_dims(w_shape)} instead"
        )
    if cig * groups != c:
        x4 = (n, c) + tuple(x_shape)[-nd:]
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_dims(w_shape)}, expected input"
            f"{_dims(x4 if len(x_shape) == nd + 2 else x_shape)} to have {cig * groups} "
            f"channels, but got {c} channels instead"
        )
    sh, sw = stride
    pt, pb, pl, pr = padding
    dh, dw = dilation
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # the dilated kernel's extent
    ph, pw = h + pt + pb, w + pl + pr
    if eh > ph or ew > pw:
        if nd == 1:
            sizes = f"({pw}). Kernel size: ({ew})"
        else:
            sizes = f"({ph} x {pw}). Kernel size: ({eh} x {ew})"
        raise RuntimeError(
            f"Calculated padded input size per channel: {sizes}. Kernel size can't be greater "
            f"than actual input size"
        )
    oh, ow = (ph - eh) // sh + 1, (pw - ew) // sw + 1
    return ConvPlan(
        (n, c, h, w),
        (co, cig, kh, kw),
        (n, co, oh, ow),
        _out_shape(x_shape, nd, co, oh, ow),
        tuple(x_shape),
        w_shape,
        (sh, sw, pt, pl, dh, dw, groups),
        sh == 1 and sw == 1,
    )


register(
    Op(
        "conv",
        ("x", "weight", "bias"),
        Kernel(args=("x", "weight", "bias", "plan"), name="conv_forward", plan=conv_plan),
        {
            "x": Kernel(args=("grad", "weight", "plan"), name="conv_dx", plan=conv_plan),
            "weight": Kernel(args=("grad", "x", "plan"), name="conv_dw", plan=conv_plan),
            "bias": Kernel(args=("grad", "plan"), name="conv_db", plan=conv_plan),
        },
        attrs=("stride", "padding", "dilation", "groups"),
        promote="same",
        half="float32",
    )
)

# ---- transposed convolution ------------------------------------------------------------------
# conv_transpose(x, weight) is the gradient of a convolution with respect to its input: the
# "virtual" convolution whose input has the transposed convolution's output shape and whose
# output has x's shape, with the same weight, stride, padding, dilation and groups.  Its plan
# is that convolution's ConvPlan, so devices compose their conv kernels: forward = conv_dx,
# d/dx = conv forward, d/dweight = conv_dw with the roles of grad and input swapped.


def conv_transpose_plan(x_shape, weight_shape, stride, padding, output_padding, dilation, groups):
    w_shape = tuple(weight_shape)
    nd = len(w_shape) - 2
    name = f"conv_transpose{nd}d"
    n, c, h, w = _batched(x_shape, nd, name)
    cin, cog = w_shape[0], w_shape[1]
    kh, kw = (1, w_shape[2]) if nd == 1 else w_shape[2:]
    if cin % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {_dims(w_shape)} instead"
        )
    if cin != c:
        raise RuntimeError(
            f"Given transposed=1, weight of size {_dims(w_shape)}, expected input"
            f"{_dims(x_shape)} to have {cin} channels, but got {c} channels instead"
        )
    (sh, sw), (pt, _, pl, _), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    if not (oph < sh or oph < dh) or not (opw < sw or opw < dw):
        raise RuntimeError(
            f"output padding must be smaller than either stride or dilation, but got "
            f"output_padding_height: {oph} output_padding_width: {opw} stride_height: {sh} "
            f"stride_width: {sw} dilation_height: {dh} dilation_width: {dw}"
        )
    ho = (h - 1) * sh - 2 * pt + dh * (kh - 1) + oph + 1
    wo = (w - 1) * sw - 2 * pl + dw * (kw - 1) + opw + 1
    if ho <= 0 or wo <= 0:
        got = f"({wo})" if nd == 1 else f"({ho} x {wo})"
        raise RuntimeError(f"{name}: the output size {got} is too small (input {_dims(x_shape)})")
    co = cog * groups
    return ConvPlan(
        (n, co, ho, wo),
        (cin, cog, kh, kw),
        (n, c, h, w),
        tuple(x_shape),
        _out_shape(x_shape, nd, co, ho, wo),
        w_shape,
        (sh, sw, pt, pl, dh, dw, groups),
        # the stride-1 kernels need the bottom/right padding (padding - output_padding) >= 0
        sh == 1 and sw == 1 and oph <= pt and opw <= pl,
    )


register(
    Op(
        "conv_transpose",
        ("x", "weight", "bias"),
        Kernel(
            args=("x", "weight", "bias", "plan"),
            name="conv_transpose_forward",
            plan=conv_transpose_plan,
        ),
        {
            "x": Kernel(
                args=("grad", "weight", "plan"), name="conv_transpose_dx", plan=conv_transpose_plan
            ),
            "weight": Kernel(
                args=("grad", "x", "plan"), name="conv_transpose_dw", plan=conv_transpose_plan
            ),
            "bias": Kernel(
                args=("grad", "plan"), name="conv_transpose_db", plan=conv_transpose_plan
            ),
        },
        attrs=("stride", "padding", "output_padding", "dilation", "groups"),
        promote="same",
        half="float32",
    )
)

# ---- pooling --------------------------------------------------------------------------------


def _pooled_size(size, k, pad_lo, pad_hi, stride, dilation, ceil_mode):
    """torch's ``pooling_output_shape``: with ceil_mode the last window may hang over the
    end, but must start inside the input or its left padding."""
    span = size + pad_lo + pad_hi - dilation * (k - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad_lo:
        out -= 1
    return out


def _check_pool(kernel, stride, padding, dilation, name):
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    if kh <= 0 or kw <= 0:
        raise RuntimeError(
            f"{name}: kernel size should be greater than zero, but got kH: {kh} kW: {kw}"
        )
    if sh <= 0 or sw <= 0:
        raise RuntimeError(f"{name}: stride should be greater than zero, but got dH: {sh} dW: {sw}")
    if dh <= 0 or dw <= 0:
        raise RuntimeError(
            f"{name}: dilation should be greater than zero, but got dilationH: {dh} dilationW: {dw}"
        )
    for p in padding:
        if p < 0:
            raise RuntimeError(f"{name}: pad must be non-negative, but got pad: {p}")
    for k, p, d in ((kh, padding[0], dh), (kw, padding[2], dw)):
        if p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(
                f"{name}: pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )
    if kw // 2 < padding[2] or kh // 2 < padding[0]:
        raise RuntimeError(
            f"{name}: pad should be smaller than or equal to half of kernel size, but got "
            f"padW = {padding[2]}, padH = {padding[0]}, kW = {kw}, kH = {kh}"
        )


def _pool_sizes(x_shape, nd, kernel, stride, padding, dilation, ceil_mode, name):
    n, c, h, w = _batched(x_shape, nd, name)
    _check_pool(kernel, stride, padding, dilation, name)
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel, stride, padding, dilation
    oh = _pooled_size(h, kh, pt, pb, sh, dh, ceil_mode)
    ow = _pooled_size(w, kw, pl, pr, sw, dw, ceil_mode)
    if oh < 1 or ow < 1:
        lead = f"{c}x{w}" if nd == 1 else f"{c}x{h}x{w}"
        got = f"{c}x{ow}" if nd == 1 else f"{c}x{oh}x{ow}"
        raise RuntimeError(
            f"Given input size: ({lead}). Calculated output size: ({got}). Output size is too small"
        )
    return n, c, h, w, oh, ow


class MaxPoolPlan(NamedTuple):
    """``x`` as ``x4 = (N, C, H, W)``; the window of output ``(i, j)`` starts at
    ``(i * sh - pt, j * sw - pl)`` with taps every ``(dh, dw)``; ``geom`` is
    ``(kh, kw, sh, sw, pt, pl, dh, dw)``; the result is ``(N, C, oh, ow)``, as ``out_shape``."""

    x4: tuple
    out4: tuple
    out_shape: tuple
    x_shape: tuple
    geom: tuple


def max_pool_plan(x_shape, nd, kernel, stride, padding, dilation, ceil_mode):
    name = f"max_pool{nd}d"
    n, c, h, w, oh, ow = _pool_sizes(
        x_shape, nd, kernel, stride, padding, dilation, ceil_mode, name
    )
    geom = tuple(kernel) + tuple(stride) + (padding[0], padding[2]) + tuple(dilation)
    return MaxPoolPlan(
        (n, c, h, w), (n, c, oh, ow), _out_shape(x_shape, nd, c, oh, ow), tuple(x_shape), geom
    )


register(
    Op(
        "max_pool",
        ("x",),
        Kernel(args=("x", "plan"), name="max_pool_forward", plan=max_pool_plan),
        {
            "x": Kernel(
                args=("grad", "indices", "plan"), name="max_pool_backward", plan=max_pool_plan
            )
        },
        attrs=("nd", "kernel", "stride", "padding", "dilation", "ceil_mode"),
        outputs=("out", "indices"),
        promote="floating",
        half="float32",
    )
)


class WindowPlan(NamedTuple):
    """Average pooling over explicit windows: along each axis, output ``i`` averages input
    ``start[i]:end[i]`` (inside the input) and contributes ``count[i]`` to the divisor
    ``count_h[i] * count_w[j]`` (``divisor`` > 0 replaces it).  ``x`` is seen as ``x4``, the
    result ``(N, C, oh, ow)`` is ``out4``, returned as ``out_shape``."""

    x4: tuple
    out4: tuple
    out_shape: tuple
    x_shape: tuple
    h_start: tuple
    h_end: tuple
    h_count: tuple
    w_start: tuple
    w_end: tuple
    w_count: tuple
    divisor: int


def _avg_axis(size, out, k, stride, pad, count_include_pad):
    start, end, count = [], [], []
    for i in range(out):
        lo = i * stride - pad
        hi = min(lo + k, size + pad)  # a window may cover the padding, never beyond it
        n = hi - lo
        lo, hi = max(lo, 0), min(hi, size)
        start.append(lo)
        end.append(hi)
        count.append(n if count_include_pad else hi - lo)
    return tuple(start), tuple(end), tuple(count)


def avg_pool_plan(x_shape, nd, kernel, stride, padding, ceil_mode, count_include_pad, divisor):
    name = f"avg_pool{nd}d"
    if divisor == 0:
        raise RuntimeError(f"{name}: divisor must be not zero")
    n, c, h, w, oh, ow = _pool_sizes(x_shape, nd, kernel, stride, padding, (1, 1), ceil_mode, name)
    hs = _avg_axis(h, oh, kernel[0], stride[0], padding[0], count_include_pad)
    ws = _avg_axis(w, ow, kernel[1], stride[1], padding[2], count_include_pad)
    return WindowPlan(
        (n, c, h, w),
        (n, c, oh, ow),
        _out_shape(x_shape, nd, c, oh, ow),
        tuple(x_shape),
        *hs,
        *ws,
        divisor or 0,
    )


def _adaptive_axis(size, out):
    # torch's start_index / end_index: floor(i * size / out), ceil((i + 1) * size / out)
    start = tuple(i * size // out for i in range(out))
    end = tuple(-(-(i + 1) * size // out) for i in range(out))
    return start, end, tuple(e - s for s, e in zip(start, end))


def _adaptive_plan(x_shape, nd, output_size, name):
    shape = tuple(x_shape)
    if len(shape) not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {_dims(shape)}"
        )
    for d in range(len(shape) - nd, len(shape)):
        if shape[d] == 0:
            raise RuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, but "
                f"input has sizes {_dims(shape)} with dimension {d} being empty"
            )
    n, c, h, w = _batched(shape, nd, name)
    oh, ow = output_size
    if oh < 0 or ow < 0:
        raise RuntimeError(
            f"{name}: elements of output_size must be greater than or equal to 0 but received "
            f"{output_size}"
        )
    hs, ws = _adaptive_axis(h, oh), _adaptive_axis(w, ow)
    return WindowPlan(
        (n, c, h, w), (n, c, oh, ow), _out_shape(shape, nd, c, oh, ow), shape, *hs, *ws, 0
    )


def adaptive_avg_pool_plan(x_shape, nd, output_size):
    return _adaptive_plan(x_shape, nd, output_size, f"adaptive_avg_pool{nd}d")


def adaptive_max_pool_plan(x_shape, nd, output_size):
    return _adaptive_plan(x_shape, nd, output_size, f"adaptive_max_pool{nd}d")


register(
    Op(
        "avg_pool",
        ("x",),
        Kernel(args=("x", "plan"), name="avg_pool_forward", plan=avg_pool_plan),
        {"x": Kernel(args=("grad", "plan"), name="avg_pool_backward", plan=avg_pool_plan)},
        attrs=("nd", "kernel", "stride", "padding", "ceil_mode", "count_include_pad", "divisor"),
        promote="floating",
        half="float32",
    )
)
register(
    Op(
        "adaptive_avg_pool",
        ("x",),
        Kernel(args=("x", "plan"), name="adaptive_avg_pool_forward", plan=adaptive_avg_pool_plan),
        {
            "x": Kernel(
                args=("grad", "plan"),
                name="adaptive_avg_pool_backward",
                plan=adaptive_avg_pool_plan,
            )
        },
        attrs=("nd", "output_size"),
        promote="floating",
        half="float32",
    )
)

# adaptive max pooling: the maxima over the adaptive windows (WindowPlan; counts unused), with
# max_pool's indices, tie and NaN rules, and max_pool's backward
register(
    Op(
        "adaptive_max_pool",
        ("x",),
        Kernel(args=("x", "plan"), name="adaptive_max_pool_forward", plan=adaptive_max_pool_plan),
        {
            "x": Kernel(
                args=("grad", "indices", "plan"),
                name="adaptive_max_pool_backward",
                plan=adaptive_max_pool_plan,
            )
        },
        attrs=("nd", "output_size"),
        outputs=("out", "indices"),
        promote="floating",
        half="float32",
    )
)
