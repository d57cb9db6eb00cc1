"""``numgrad.nn.functional``: activations, linear, dropout and losses (torch's signatures).

Losses validate shapes, dtypes and class indices before any kernel runs, then use one
elementwise op from the table (``mse``, ``bce``, ``bce_logits`` ...) and a ``sum``/``mean``.
Unlike torch, a loss whose input and target shapes differ raises instead of broadcasting
with a warning: that silent broadcast (``(N, 1)`` against ``(N,)``) is a classic bug.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..dispatch import apply
from ..ops.registry import OPS
from ..random import generator
from ..storage import host_data
from ..tensor import Tensor, _norm_dim

relu = F.relu
sigmoid = F.sigmoid
tanh = F.tanh
softmax = F.softmax
log_softmax = F.log_softmax

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{reduction!r} is not a valid value for reduction; expected one of {_REDUCTIONS}"
        )


def _reduce(loss, reduction):
    _check_reduction(reduction)
    if reduction == "mean":
        return F.mean(loss)
    if reduction == "sum":
        return F.sum(loss)
    return loss


def _tensor(x, fname, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{what}' must be a Tensor, not {type(x).__name__}")
    return x


def _same_shape(inp, target, fname):
    if inp._data.shape != target._data.shape:
        raise ValueError(
            f"{fname}: target shape {target._data.shape} differs from input shape "
            f"{inp._data.shape}; reshape one of them (numgrad does not broadcast losses)"
        )


def _float_target(inp, target, fname):
    _tensor(inp, fname)
    _tensor(target, fname, "target")
    _same_shape(inp, target, fname)
    xd, td = inp._data.dtype, target._data.dtype
    if xd.kind != "f":
        raise TypeError(f"{fname}: input must be floating point, got {inp.dtype.name}")
    if td != xd:
        if td.kind != "f":
            target = target.to(inp.dtype)
        else:
            raise TypeError(
                f"{fname}: input dtype {inp.dtype.name} and target dtype "
                f"{target.dtype.name} differ; convert one with .to()"
            )
    return target


# ---- layers as functions ------------------------------------------------------------------------


def linear(input, weight, bias=None):  # noqa: A002
    """``input @ weight.T + bias`` in one op (weight is ``(out_features, in_features)``)."""
    _tensor(input, "linear")
    # checks read the arrays directly: this runs once per layer per step
    x, w = input._data, weight._data
    b = None if bias is None else bias._data
    if w.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-D (out, in), got shape {w.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise RuntimeError(
            f"linear: input shape {x.shape} cannot be multiplied with weight of shape "
            f"{w.shape} (input's last dim must be in_features={w.shape[1]})"
        )
    if b is not None and b.shape != (w.shape[0],):
        raise RuntimeError(f"linear: bias shape {b.shape} does not match out_features={w.shape[0]}")
    if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
        raise RuntimeError(
            f"linear: expected input and parameters to have the same dtype, got input "
            f"{x.dtype}, weight {w.dtype}" + (f", bias {b.dtype}" if b is not None else "")
        )
    return apply(OPS["linear"], (input, weight, bias))


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    return apply(OPS["leaky_relu"], (input,), {"negative_slope": float(negative_slope)})


def gelu(input, approximate="none"):  # noqa: A002
    if approximate == "none":
        return apply(OPS["gelu"], (input,))
    if approximate == "tanh":
        return apply(OPS["gelu_tanh"], (input,))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    return apply(OPS["softplus"], (input,), {"beta": float(beta), "threshold": float(threshold)})


def silu(input):  # noqa: A002
    return apply(OPS["silu"], (input,))


def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero elements with probability ``p`` and scale the rest by ``1/(1-p)`` when training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = generator().random(input._data.shape) >= p
    mask = keep.astype(input._data.dtype) / input._data.dtype.type(1.0 - p)
    return input * Tensor(mask)


# ---- losses ----------------------------------------------------------------------------------


def mse_loss(input, target, reduction="mean"):  # noqa: A002
    target = _float_target(input, target, "mse_loss")
    _check_reduction(reduction)
    return _reduce(apply(OPS["mse"], (input, target)), reduction)


def l1_loss(input, target, reduction="mean"):  # noqa: A002
    target = _float_target(input, target, "l1_loss")
    _check_reduction(reduction)
    return _reduce(apply(OPS["l1"], (input, target)), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):  # noqa: A002
    target = _float_target(input, target, "huber_loss")
    _check_reduction(reduction)
    return _reduce(apply(OPS["huber"], (input, target), {"delta": float(delta)}), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):  # noqa: A002
    if beta == 0:
        return l1_loss(input, target, reduction)
    return huber_loss(input, target, reduction, delta=beta) / beta


def binary_cross_entropy(input, target, weight=None, reduction="mean"):  # noqa: A002
    """BCE on probabilities; each log is clamped at -100 like torch."""
    target = _float_target(input, target, "binary_cross_entropy")
    _check_reduction(reduction)
    # a GPU's probabilities are checked on the host: one copy (torch asserts on the device)
    x = host_data(input, check_only=True)
    if x.size and not (np.all(x >= 0) and np.all(x <= 1)):
        bad = x[~((x >= 0) & (x <= 1))].reshape(-1)[0]
        raise RuntimeError(
            f"binary_cross_entropy: all elements of input should be between 0 and "
            f"1, found {bad} (shape {tuple(x.shape)})"
        )
    loss = apply(OPS["bce"], (input, target))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    reduction="mean",  # noqa: A002
    pos_weight=None,
):
    """Sigmoid + BCE fused and stable: finite for logits of +-100 and beyond."""
    target = _float_target(input, target, "binary_cross_entropy_with_logits")
    _check_reduction(reduction)
    pw = input._data.dtype.type(1.0) if pos_weight is None else pos_weight
    loss = apply(OPS["bce_logits"], (input, target, pw))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_target(input, target, fname):  # noqa: A002
    _tensor(input, fname)
    _tensor(target, fname, "target")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{fname}: input must be floating point, got {input.dtype.name}")
    if target.dtype.name not in ("int64", "int32", "uint8"):
        raise TypeError(
            f"{fname}: expected class-index targets of dtype int64 (shape "
            f"{tuple(input.shape[:1]) + tuple(input.shape[2:])}), got dtype {target.dtype.name}"
        )
    if input.ndim == 0:
        raise ValueError(f"{fname}: input must have at least 1 dimension (classes), got a scalar")
    expected = () if input.ndim == 1 else tuple(input.shape[:1]) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{fname}: expected target shape {expected} for input shape {tuple(input.shape)}, "
            f"got target shape {tuple(target.shape)}"
        )
    return target if target.dtype.name == "int64" else target.long()


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):  # noqa: A002
    """Negative log-likelihood of class indices; targets are bounds-checked before use."""
    target = _class_target(input, target, "nll_loss")
    _check_reduction(reduction)
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight is not None:
        if tuple(weight.shape) != (c,):
            raise ValueError(f"nll_loss: weight shape {tuple(weight.shape)} must be ({c},)")
        weight = weight.to(input.dtype)
    return apply(
        OPS["nll"],
        (input, target, weight),
        {"ignore_index": int(ignore_index), "reduction": reduction},
    )


def cross_entropy(
    input,
    target,
    weight=None,
    ignore_index=-100,
    reduction="mean",  # noqa: A002
    label_smoothing=0.0,
):
    """log_softmax (log-sum-exp, stable) + nll over dim 1; class indices or probabilities."""
    _tensor(input, "cross_entropy")
    _tensor(target, "cross_entropy", "target")
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    dim = 0 if input.ndim == 1 else 1
    if target.dtype.is_floating_point:  # class probabilities
        if tuple(input.shape) != tuple(target.shape):
            idx = () if input.ndim == 1 else tuple(input.shape[:1]) + tuple(input.shape[2:])
            raise ValueError(
                f"cross_entropy: expected class indices (int64) of shape {idx} or class "
                f"probabilities of shape {tuple(input.shape)}; got target of dtype "
                f"{target.dtype.name} and shape {tuple(target.shape)}"
            )
        logp = log_softmax(input, dim)
        c = input.shape[dim]
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / c
        per = logp * target
        if weight is not None:
            shape = [1] * input.ndim
            shape[dim] = c
            per = per * weight.reshape(shape)
        loss = -F.sum(per, dim=dim)
        if reduction == "mean":
            n = 1 if input.ndim == 1 else input.shape[0] * int(np.prod(input.shape[2:]))
            return F.sum(loss) / n
        return _reduce(loss, reduction)
    target = _class_target(input, target, "cross_entropy")
    logp = log_softmax(input, dim)
    loss = nll_loss(logp, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return loss
    c = input.shape[dim]
    w = 1.0 if weight is None else weight.reshape([c] + [1] * (input.ndim - 2))
    smooth = -F.sum(logp * w, dim=dim) / c
    # the mask and the mean's denominator as tensors, in the input's dtype, as torch does them:
    # no read on the host (a GPU does not sync; a compiled step does not freeze them)
    keep = target != ignore_index
    valid = keep.to(input.dtype)
    smooth = smooth * valid
    if reduction == "mean":
        if weight is None:
            denom = F.sum(valid)
        else:
            denom = F.sum(weight[target * keep.long()] * valid)  # ignored rows: class 0, x 0
        smooth = F.sum(smooth) / denom
    else:
        smooth = _reduce(smooth, reduction)
    return loss * (1 - label_smoothing) + smooth * label_smoothing


def one_hot(tensor, num_classes=-1):
    t = host_data(tensor)  # validated and built on the host (one copy from a GPU)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors, got {tensor.dtype.name}")
    n = int(t.max()) + 1 if num_classes == -1 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise RuntimeError(
            f"one_hot: class values must be in [0, {n}), got range [{t.min()}, {t.max()}]"
        )
    return Tensor(np.eye(n, dtype=np.int64)[t], device=tensor.device)


def normalize(input, p=2.0, dim=1, eps=1e-12):  # noqa: A002
    d = _norm_dim(dim, input.ndim)
    n = F.norm(input, p, dim=d, keepdim=True)
    return input / F.clamp(n, min=eps)


# ---- issue 11 section: conv ----
from ..dtypes import torch_name as _torch_name  # noqa: E402

# Convolution and pooling (ops/conv.py): each function turns torch's arguments (ints, tuples,
# 'same'/'valid') into the table's normalised attrs once per distinct argument set (_ATTRS),
# checks dtypes, and runs one op; 1-d forms are the 2-d ops with a height of 1.

_ATTRS: dict = {}  # (function, raw arguments) -> attrs dict (shared, never mutated)


def _cached_attrs(key, make):
    try:
        attrs = _ATTRS.get(key)
    except TypeError:  # a list argument: normalised per call
        return make()
    if attrs is None:
        attrs = make()
        if len(_ATTRS) < 4096:
            _ATTRS[key] = attrs
    return attrs


def _ntuple(v, n, what, name=None):
    """``v`` as a tuple of ``n`` ints (an int repeats), with torch's error otherwise."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    t = tuple(v) if isinstance(v, (tuple, list)) else None
    if t is not None and len(t) == 1:
        t = t * n
    if t is None or len(t) != n or not all(isinstance(e, (int, np.integer)) for e in t):
        if name is not None:  # pooling's wording
            ints = "a single int, or a tuple of two ints" if n == 2 else "a single int"
            raise RuntimeError(f"{name}: {what} must either be {ints}, got {v!r}")
        raise RuntimeError(
            f"expected {what} to be a single integer value or a list of {n} values to match the "
            f"convolution dimensions, but got {what}={list(t) if t is not None else v!r}"
        )
    return tuple(int(e) for e in t)


def _conv_attrs(nd, kernel, stride, padding, dilation, groups):
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    if min(stride) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(dilation) <= 0:
        raise RuntimeError("non-positive dilation is not supported")
    if not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise RuntimeError(f"non-positive groups is not supported (got groups={groups!r})")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # torch pads an even extent one more on the bottom/right
            pads = tuple(
                (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)
            )
        else:
            raise RuntimeError(f"Invalid padding string: {padding!r}")
    else:
        p = _ntuple(padding, nd, "padding")
        if min(p) < 0:
            raise RuntimeError("negative padding is not supported")
        pads = tuple((e, e) for e in p)
    if nd == 1:  # the 2-d op with a height of 1
        return {
            "stride": (1,) + stride,
            "padding": (0, 0) + pads[0],
            "dilation": (1,) + dilation,
            "groups": int(groups),
        }
    return {
        "stride": stride,
        "padding": pads[0] + pads[1],
        "dilation": dilation,
        "groups": int(groups),
    }


def _check_conv_args(name, input, weight, bias, nd, out_channels):  # noqa: A002
    _tensor(input, name)
    _tensor(weight, name, "weight")
    x, w = input._data, weight._data
    if w.ndim != nd + 2:
        raise RuntimeError(
            f"{name}: weight must be {nd + 2}-D (channels, channels / groups, "
            f"{'kW' if nd == 1 else 'kH, kW'}), got shape {w.shape}"
        )
    if x.dtype != w.dtype:
        raise RuntimeError(
            f"expected scalar type {_torch_name(x.dtype)} but found {_torch_name(w.dtype)} "
            f"({name}: input {x.dtype}, weight {w.dtype})"
        )
    if x.dtype.kind != "f":
        raise RuntimeError(f"\"{name}\" not implemented for '{_torch_name(x.dtype)}'")
    if bias is not None:
        _tensor(bias, name, "bias")
        b = bias._data
        co = out_channels(w.shape)
        if b.shape != (co,):
            raise RuntimeError(
                f"Given weight of size {list(w.shape)}, expected bias to be 1-dimensional with "
                f"{co} elements, but got bias of size {list(b.shape)} instead"
            )
        if b.dtype != x.dtype:
            raise RuntimeError(
                f"Input type ({x.dtype}) and bias type ({b.dtype}) should be the same"
            )
    return w.shape[2:]


def _conv(nd, input, weight, bias, stride, padding, dilation, groups):  # noqa: A002
    kernel = _check_conv_args(f"conv{nd}d", input, weight, bias, nd, lambda s: s[0])
    attrs = _cached_attrs(
        (nd, kernel, stride, padding, dilation, groups),
        lambda: _conv_attrs(nd, kernel, stride, padding, dilation, groups),
    )
    return apply(OPS["conv"], (input, weight, bias), attrs)


def _conv_transpose_attrs(nd, stride, padding, output_padding, dilation, groups):
    if isinstance(padding, str):
        raise RuntimeError(
            f"conv_transpose{nd}d: padding must be a number or a tuple, not a string"
        )
    attrs = _conv_attrs(nd, (1,) * nd, stride, padding, dilation, groups)
    op = _ntuple(output_padding, nd, "output_padding")
    if min(op) < 0:
        raise RuntimeError("negative output_padding is not supported")
    attrs["output_padding"] = (0,) + op if nd == 1 else op
    return attrs


def _conv_transpose(nd, input, weight, bias, stride, padding, out_pad, groups, dil):  # noqa: A002
    name = f"conv_transpose{nd}d"
    _check_conv_args(name, input, weight, bias, nd, lambda s: s[1] * groups)
    attrs = _cached_attrs(
        ("t", nd, stride, padding, out_pad, dil, groups),
        lambda: _conv_transpose_attrs(nd, stride, padding, out_pad, dil, groups),
    )
    return apply(OPS["conv_transpose"], (input, weight, bias), attrs)


def conv_transpose1d(
    input,  # noqa: A002
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
):
    """torch's ``conv_transpose1d`` (weight ``(in_channels, out_channels / groups, kW)``): the
    gradient of ``conv1d`` with respect to its input."""
    return _conv_transpose(
        1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input,  # noqa: A002
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
):
    """torch's ``conv_transpose2d`` (weight ``(in_channels, out_channels / groups, kH, kW)``):
    the gradient of ``conv2d`` with respect to its input; ``output_padding`` adds rows and
    columns on the bottom/right."""
    return _conv_transpose(
        2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """torch's ``conv1d`` over ``(N, C, L)`` or ``(C, L)``; ``padding`` may be an int, a
    1-tuple, ``'valid'`` or ``'same'`` (``padding_mode`` is the module's business)."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """torch's ``conv2d`` (a cross-correlation) over ``(N, C, H, W)`` or ``(C, H, W)``;
    ``padding`` may be an int, a pair, ``'valid'`` or ``'same'``."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def _pool_attrs(nd, name, kernel_size, stride, padding, dilation=1):
    kernel = _ntuple(kernel_size, nd, "kernel_size", name)
    stride = kernel if stride is None or stride == [] or stride == () else stride
    stride = _ntuple(stride, nd, "stride", name)
    pad = _ntuple(padding, nd, "padding", name)
    dil = _ntuple(dilation, nd, "dilation", name)
    if nd == 1:
        return (1,) + kernel, (1,) + stride, (0, 0, pad[0], pad[0]), (1,) + dil
    return kernel, stride, (pad[0], pad[0], pad[1], pad[1]), dil


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, indices):  # noqa: A002
    def make():
        name = f"max_pool{nd}d"
        k, s, p, d = _pool_attrs(nd, name, kernel_size, stride, padding, dilation)
        return {
            "nd": nd,
            "kernel": k,
            "stride": s,
            "padding": p,
            "dilation": d,
            "ceil_mode": bool(ceil_mode),
        }

    attrs = _cached_attrs(("max", nd, kernel_size, stride, padding, dilation, ceil_mode), make)
    out, idx = apply(OPS["max_pool"], (_tensor(input, f"max_pool{nd}d"),), attrs)
    return (out, idx) if indices else out


def max_pool1d(
    input,  # noqa: A002
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    """torch's ``max_pool1d`` over ``(N, C, L)`` or ``(C, L)``; ``return_indices`` gives the
    int64 positions of the maxima along ``L``."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    input,  # noqa: A002
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    """torch's ``max_pool2d`` (``stride`` defaults to ``kernel_size``); ``return_indices``
    gives the int64 flat positions ``h * W + w`` of the maxima in each plane.  The first
    maximum of a window gets the gradient, as in torch."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, with_pad, divisor):  # noqa: A002
    def make():
        k, s, p, _ = _pool_attrs(nd, f"avg_pool{nd}d", kernel_size, stride, padding)
        return {
            "nd": nd,
            "kernel": k,
            "stride": s,
            "padding": p,
            "ceil_mode": bool(ceil_mode),
            "count_include_pad": bool(with_pad),
            "divisor": None if divisor is None else int(divisor),
        }

    key = ("avg", nd, kernel_size, stride, padding, ceil_mode, with_pad, divisor)
    attrs = _cached_attrs(key, make)
    return apply(OPS["avg_pool"], (_tensor(input, f"avg_pool{nd}d"),), attrs)


def avg_pool1d(
    input,  # noqa: A002
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
):
    """torch's ``avg_pool1d`` over ``(N, C, L)`` or ``(C, L)``."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input,  # noqa: A002
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """torch's ``avg_pool2d``: ``count_include_pad`` counts the zero padding in the divisor
    (never the part of a ceil_mode window past the padding); ``divisor_override`` replaces it."""
    return _avg_pool(
        2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def _adaptive_attrs(name, nd, input, output_size):  # noqa: A002
    _tensor(input, name)
    shape = input._data.shape
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        size = (output_size,) * nd
    else:
        size = tuple(output_size)
        if len(size) != nd:
            raise RuntimeError(f"{name}: output_size must be {nd}")
    # None keeps the input's size along that axis
    size = tuple(shape[len(shape) - nd + i] if s is None else int(s) for i, s in enumerate(size))
    return {"nd": nd, "output_size": (1,) + size if nd == 1 else size}


def _adaptive_avg_pool(nd, input, output_size):  # noqa: A002
    attrs = _adaptive_attrs(f"adaptive_avg_pool{nd}d", nd, input, output_size)
    return apply(OPS["adaptive_avg_pool"], (input,), attrs)


def _adaptive_max_pool(nd, input, output_size, return_indices):  # noqa: A002
    attrs = _adaptive_attrs(f"adaptive_max_pool{nd}d", nd, input, output_size)
    out, idx = apply(OPS["adaptive_max_pool"], (input,), attrs)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    """torch's ``adaptive_max_pool1d`` (adaptive_avg_pool1d's windows, max_pool1d's indices)."""
    return _adaptive_max_pool(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    """torch's ``adaptive_max_pool2d``: the maximum over adaptive_avg_pool2d's windows; the
    first maximum of a window gets the gradient."""
    return _adaptive_max_pool(2, input, output_size, return_indices)


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """torch's ``adaptive_avg_pool1d``: output ``i`` averages input
    ``floor(i * L / out) : ceil((i + 1) * L / out)``."""
    return _adaptive_avg_pool(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """torch's ``adaptive_avg_pool2d`` (``output_size`` an int or a pair; ``None`` keeps that
    axis's input size), with torch's start/end index formula per axis."""
    return _adaptive_avg_pool(2, input, output_size)


# ---- end section: conv ----
# ---- issue 11 section: layers ----
# Layer functions (issue 11 "layers"): activations are one scalar-rule op each
# (numgrad/ops/layers.py); layer_norm, batch_norm (training), embedding and pad are plan +
# compute ops with fused kernels; the rest compose public ops, as torch's Python does.
import math  # noqa: E402
import warnings  # noqa: E402

from ..grad_mode import no_grad  # noqa: E402


def _floating(input, fname):  # noqa: A002
    _tensor(input, fname)
    return input


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """ELU: ``x`` above 0, ``alpha * (exp(x) - 1)`` below (torch.nn.functional.elu)."""
    attrs = {"alpha": float(alpha), "scale": 1.0, "input_scale": 1.0}
    return apply(OPS["elu"], (_floating(input, "elu"),), attrs)


def celu(input, alpha=1.0, inplace=False):  # noqa: A002
    """CELU: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    attrs = {"alpha": float(alpha), "scale": 1.0, "input_scale": 1.0 / float(alpha)}
    return apply(OPS["elu"], (_floating(input, "celu"),), attrs)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):  # noqa: A002
    """SELU: ``scale * elu(x, alpha)`` with torch's self-normalising constants."""
    attrs = {"alpha": _SELU_ALPHA, "scale": _SELU_SCALE, "input_scale": 1.0}
    return apply(OPS["elu"], (_floating(input, "selu"),), attrs)


def logsigmoid(input):  # noqa: A002
    """``log(sigmoid(x))``, finite for any x (torch.nn.functional.logsigmoid)."""
    return apply(OPS["logsigmoid"], (_floating(input, "logsigmoid"),))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """Clamp to ``[min_val, max_val]``; the gradient is 0 at the bounds, as torch's."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    attrs = {"min_val": float(min_val), "max_val": float(max_val)}
    return apply(OPS["hardtanh"], (_floating(input, "hardtanh"),), attrs)


def relu6(input, inplace=False):  # noqa: A002
    """``min(max(x, 0), 6)`` (torch: hardtanh(x, 0, 6))."""
    return hardtanh(input, 0.0, 6.0)


def threshold(input, threshold, value, inplace=False):  # noqa: A002
    """``x`` where ``x > threshold``, else ``value``."""
    attrs = {"threshold": float(threshold), "value": float(value)}
    return apply(OPS["threshold"], (_floating(input, "threshold"),), attrs)


def hardsigmoid(input, inplace=False):  # noqa: A002
    """``relu6(x + 3) / 6``."""
    return apply(OPS["hardsigmoid"], (_floating(input, "hardsigmoid"),))


def hardswish(input, inplace=False):  # noqa: A002
    """``x * relu6(x + 3) / 6``."""
    return apply(OPS["hardswish"], (_floating(input, "hardswish"),))


def softsign(input):  # noqa: A002
    """``x / (1 + |x|)``."""
    return apply(OPS["softsign"], (_floating(input, "softsign"),))


def tanhshrink(input):  # noqa: A002
    """``x - tanh(x)``."""
    return apply(OPS["tanhshrink"], (_floating(input, "tanhshrink"),))


def mish(input, inplace=False):  # noqa: A002
    """``x * tanh(softplus(x))``."""
    return apply(OPS["mish"], (_floating(input, "mish"),))


def prelu(input, weight):  # noqa: A002
    """``x`` above 0, ``weight * x`` below; ``weight`` has 1 or C (= ``input.shape[1]``)
    elements."""
    _tensor(input, "prelu")
    _tensor(weight, "prelu", "weight")
    n = weight.numel()
    if n != 1:
        c = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim else 1)
        if n != c:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers "
                f"= {n} and channel size = {c}."
            )
        if input.ndim >= 2:
            weight = weight.reshape((c,) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    return apply(OPS["prelu"], (input, weight))


def glu(input, dim=-1):  # noqa: A002
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves ``a, b`` of ``input`` along
    ``dim``."""
    _tensor(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _norm_dim(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}"
        )
    a, b = F.chunk(input, 2, d)
    return a * F.sigmoid(b)


def _channel_dropout(input, p, training, fname, ndims, batched_ndim):  # noqa: A002
    _tensor(input, fname)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in ndims:
        raise RuntimeError(
            f"{fname}: Expected {ndims[0]}D or {ndims[1]}D input, but received a {input.ndim}D "
            f"input. Note that {fname} exists to provide channel-wise dropout on inputs with "
            f"{ndims[0] - 1} spatial dimension(s), a channel dimension, and an optional batch "
            f"dimension (i.e. {ndims[0]}D or {ndims[1]}D inputs)."
        )
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    # one draw per channel (per sample when batched): whole feature maps are zeroed
    lead = 2 if input.ndim >= batched_ndim else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    dt = input._data.dtype
    keep = generator().random(shape) >= p
    mask = keep.astype(dt) / dt.type(1.0 - p)
    return input * Tensor(mask, device=input.device)


def dropout1d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of a (N, C, L) or (C, L) input with probability ``p``."""
    return _channel_dropout(input, p, training, "dropout1d", (2, 3), 3)


def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of a (N, C, H, W) input with probability ``p``; a 3-D input is
    taken as (N, C, L), as torch does (with a warning there)."""
    return _channel_dropout(input, p, training, "dropout2d", (3, 4), 3)


def dropout3d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    return _channel_dropout(input, p, training, "dropout3d", (4, 5), 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):  # noqa: A002
    """Dropout that keeps SELU's zero mean and unit variance (torch's formula); identity unless
    ``training``."""
    _tensor(input, "alpha_dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    alpha = 1.7580993408473766
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    dt = input._data.dtype
    keep = (generator().random(tuple(input.shape)) >= p).astype(dt)
    b = (keep - 1) * (alpha * a) + alpha * a * p
    return input * Tensor((keep * a).astype(dt), device=input.device) + Tensor(
        b.astype(dt), device=input.device
    )


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise over the trailing ``normalized_shape`` dims (biased variance), then
    ``* weight + bias``; one fused kernel each way."""
    _tensor(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    shape = tuple(int(s) for s in shape)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(p.shape)} and normalized_shape = {list(shape)}"
            )
    out, _, _ = apply(
        OPS["layer_norm"], (input, weight, bias), {"normalized_shape": shape, "eps": float(eps)}
    )
    return out


def _channel_shape(input):  # noqa: A002
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def batch_norm(
    input,  # noqa: A002
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    """Batch normalisation over every dim but 1 (torch.nn.functional.batch_norm).

    Training: the batch's statistics (biased variance) normalise, and the running statistics,
    when given, move by ``momentum`` towards the batch mean and the *unbiased* variance, in
    place, as torch's.  Otherwise the running statistics normalise.
    """
    _tensor(input, "batch_norm")
    if input.ndim < 2:
        raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")
    c = input.shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        shape = _channel_shape(input)
        scale = F.rsqrt(running_var + eps)
        if weight is not None:
            scale = scale * weight
        out = (input - running_mean.reshape(shape)) * scale.reshape(shape)
        return out if bias is None else out + bias.reshape(shape)
    count = input.numel() // c if c else 0
    if count <= 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{tuple(input.shape)}"
        )
    out, mean, var = apply(OPS["batch_norm"], (input, weight, bias), {"eps": float(eps)})
    if running_mean is not None or running_var is not None:
        mom = float(momentum)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1.0 - mom).add_(mean.to(running_mean.dtype) * mom)
            if running_var is not None:
                unbiased = var.to(running_var.dtype) * (mom * count / (count - 1))
                running_var.mul_(1.0 - mom).add_(unbiased)
    return out


def embedding(
    input,  # noqa: A002
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    """Rows of ``weight`` picked by the integer ``input``; the gradient scatter-adds into
    ``weight`` and skips ``padding_idx``.  ``max_norm`` renormalises the picked rows in place
    first, as torch's.  ``scale_grad_by_freq`` and ``sparse`` are not supported."""
    _tensor(input, "embedding")
    _tensor(weight, "embedding", "weight")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported")
    if input.dtype.name not in ("int64", "int32"):
        raise RuntimeError(
            f"Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.dtype.name} instead (while checking arguments for "
            f"embedding)"
        )
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    n = weight.shape[0]
    pad = _padding_idx(padding_idx, n)
    idx = input._data
    # other devices check the indices in their kernel (cuda: devices/cuda/layers.py raises this
    # same IndexError), so a GPU's indices are not copied to the host here
    if isinstance(idx, np.ndarray) and idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].reshape(-1)[0]
        raise IndexError(f"index out of range in self (index {bad}, num_embeddings {n})")
    if max_norm is not None:
        _renorm_rows(weight, host_data(input), float(max_norm), float(norm_type))
    return apply(OPS["embedding"], (weight, input), {"padding_idx": pad})


def _padding_idx(padding_idx, n):
    if padding_idx is None:
        return -1
    p = int(padding_idx)
    if not -n <= p < n:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return p + n if p < 0 else p


def _renorm_rows(weight, idx, max_norm, norm_type):
    # torch's embedding_renorm_: rows whose norm exceeds max_norm are scaled to it, in place
    rows = np.unique(idx)
    if not rows.size:
        return
    with no_grad():
        if weight._device.type == "cpu":
            if _renorm_host(weight._data, rows, max_norm, norm_type):
                weight._bump()
            return
        # another device: the rows are few and max_norm is rare, so they are renormalised on
        # the host and the weight written back
        host = host_data(weight).copy()
        if _renorm_host(host, rows, max_norm, norm_type):
            weight._device.arrays.assign(weight._data, host)
            weight._bump()


def _renorm_host(w, rows, max_norm, norm_type):
    """Scale the rows of numpy array ``w`` listed in ``rows`` down to ``max_norm``; whether any
    changed."""
    sub = w[rows]
    norms = np.linalg.norm(sub.astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        w[rows[big]] = sub[big] * scale[:, None]
    return bool(big.any())


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=None):  # noqa: A002
    """Pad (or, with negative sizes in constant mode, crop) the last ``len(pad) // 2`` dims;
    ``pad`` lists (before, after) from the last dim backwards.  Modes: constant, reflect,
    replicate, circular."""
    _tensor(input, "pad")
    if mode not in _PAD_MODES:
        raise NotImplementedError(
            f"Unrecognised padding mode {mode}; expected one of {list(_PAD_MODES)}"
        )
    pads = tuple(int(p) for p in pad)
    if mode != "constant" and value not in (None, 0, 0.0):
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument.')
    v = 0 if value is None else value
    return apply(OPS["pad"], (input,), {"pad": pads, "mode": mode, "value": v})


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``x1 . x2 / (max(|x1|, eps) * max(|x2|, eps))`` along ``dim`` (each vector is divided by
    its norm first, as torch's, which keeps the result in [-1, 1])."""
    _tensor(x1, "cosine_similarity", "x1")
    _tensor(x2, "cosine_similarity", "x2")
    ndim = max(x1.ndim, x2.ndim)
    d = _norm_dim(dim, ndim)
    shape = tuple(np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    if tuple(x1.shape) != shape:
        x1 = x1.expand(*shape)
    if tuple(x2.shape) != shape:
        x2 = x2.expand(*shape)
    n1 = F.clamp(F.norm(x1, 2, dim=d, keepdim=True), min=eps)
    n2 = F.clamp(F.norm(x2, 2, dim=d, keepdim=True), min=eps)
    return F.sum((x1 / n1) * (x2 / n2), dim=d)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dim."""
    diff = x1 - x2 + eps
    return F.norm(diff, p, dim=-1, keepdim=keepdim)


def kl_div(
    input,  # noqa: A002
    target,
    size_average=None,
    reduce=None,
    reduction="mean",
    log_target=False,
):
    """KL divergence of ``target`` from the log-probabilities ``input``: pointwise
    ``target * (log(target) - input)`` (0 where target is 0), or ``exp(target) * (target -
    input)`` with ``log_target``; ``reduction='batchmean'`` divides the sum by the batch size
    (what the maths means; 'mean' divides by every element, as torch's)."""
    _tensor(input, "kl_div")
    _tensor(target, "kl_div", "target")
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    loss = apply(OPS["kl_div"], (input, target), {"log_target": bool(log_target)})
    if reduction == "batchmean":
        total = F.sum(loss)
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = input1 @ weight[o] @ input2 + bias[o]`` (weight ``(out, in1, in2)``)."""
    _tensor(input1, "bilinear", "input1")
    _tensor(input2, "bilinear", "input2")
    o, i1, i2 = weight.shape
    if input1.shape[-1] != i1 or input2.shape[-1] != i2:
        raise RuntimeError(
            f"bilinear: input1 {tuple(input1.shape)} and input2 {tuple(input2.shape)} do not "
            f"match weight {tuple(weight.shape)} (last dims must be {i1} and {i2})"
        )
    w = weight.permute(1, 0, 2).reshape(i1, o * i2)
    t = F.matmul(input1, w).reshape(*input1.shape[:-1], o, i2)
    out = F.sum(t * F.unsqueeze(input2, -2), dim=-1)
    return out if bias is None else out + bias


# ---- end section: layers ----
