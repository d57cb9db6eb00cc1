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
    x = input._data
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
    valid = Tensor((target._data != ignore_index).astype(input._data.dtype), device=input.device)
    smooth = smooth * valid
    if reduction == "mean":
        if weight is None:
            denom = float(valid._data.sum())
        else:
            t = np.where(target._data == ignore_index, 0, target._data)
            denom = float((weight._data[t] * valid._data).sum())
        smooth = F.sum(smooth) / denom
    else:
        smooth = _reduce(smooth, reduction)
    return loss * (1 - label_smoothing) + smooth * label_smoothing


def one_hot(tensor, num_classes=-1):
    t = tensor._data
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
# ---- end section: conv ----
# ---- issue 11 section: layers ----
# ---- end section: layers ----
