"""The reference device's implementations for the issue 11 area 'layers' (numpy, plain).

Written from the ops' meaning (numpy's mean/var, ``np.pad``, ``np.add.at``), sharing nothing
with ``numgrad/devices/cpu/layers.py``.
"""

from __future__ import annotations

import numpy as np

# ---- layer_norm ---------------------------------------------------------------------------


def _norm_axes(x, plan):
    return tuple(range(len(plan.stat_shape), x.ndim))


def layer_norm_forward(x, weight, bias, eps, plan):
    axes = _norm_axes(x, plan)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    out = (x64 - mean) * rstd
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return (
        out.astype(x.dtype),
        mean.reshape(plan.stat_shape).astype(x.dtype),
        rstd.reshape(plan.stat_shape).astype(x.dtype),
    )


def _expand_stats(s, x, plan):
    return np.reshape(s, plan.stat_shape + (1,) * (x.ndim - len(plan.stat_shape)))


def layer_norm_dx(grad, x, weight, mean, rstd, plan):
    axes = _norm_axes(x, plan)
    mu, r = _expand_stats(mean, x, plan), _expand_stats(rstd, x, plan)
    xhat = (x - mu) * r
    g = grad if weight is None else grad * weight
    return r * (
        g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True)
    )


def layer_norm_dweight(grad, x, mean, rstd, plan):
    xhat = (x - _expand_stats(mean, x, plan)) * _expand_stats(rstd, x, plan)
    return (grad * xhat).sum(axis=tuple(range(len(plan.stat_shape))))


def layer_norm_dbias(grad, plan):
    return grad.sum(axis=tuple(range(len(plan.stat_shape))))


# ---- batch_norm -----------------------------------------------------------------------------


def _channel(v, x):
    return np.reshape(v, (1, -1) + (1,) * (x.ndim - 2))


def _other_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def batch_norm_forward(x, weight, bias, eps, plan):
    axes = _other_axes(x)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes)
    var = x64.var(axis=axes)
    out = (x64 - _channel(mean, x)) / np.sqrt(_channel(var, x) + eps)
    if weight is not None:
        out = out * _channel(weight, x)
    if bias is not None:
        out = out + _channel(bias, x)
    return out.astype(x.dtype), mean.astype(x.dtype), var.astype(x.dtype)


def batch_norm_dx(grad, x, weight, mean, var, eps, plan):
    axes = _other_axes(x)
    r = 1.0 / np.sqrt(_channel(var, x) + eps)
    xhat = (x - _channel(mean, x)) * r
    scale = r if weight is None else r * _channel(weight, x)
    gm = grad.mean(axis=axes, keepdims=True)
    gxm = (grad * xhat).mean(axis=axes, keepdims=True)
    return (scale * (grad - gm - xhat * gxm)).astype(grad.dtype)


def batch_norm_dweight(grad, x, mean, var, eps, plan):
    xhat = (x - _channel(mean, x)) / np.sqrt(_channel(var, x) + eps)
    return (grad * xhat).sum(axis=_other_axes(x)).astype(grad.dtype)


def batch_norm_dbias(grad, plan):
    return grad.sum(axis=_other_axes(grad))


# ---- embedding ------------------------------------------------------------------------------


def embedding_forward(weight, indices):
    return weight[indices]


def embedding_backward(grad, indices, weight_shape, padding_idx):
    out = np.zeros(weight_shape, dtype=grad.dtype)
    flat = indices.reshape(-1)
    if ((flat < 0) | (flat >= weight_shape[0])).any():
        raise IndexError("embedding: index out of range (indices changed after forward)")
    np.add.at(out, flat, grad.reshape(flat.size, weight_shape[1]))
    if padding_idx >= 0:
        out[padding_idx] = 0
    return out


# ---- pad --------------------------------------------------------------------------------------

_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pairs(pad, ndim):
    """numpy's per-axis (before, after) from torch's last-dim-first pad list."""
    pairs = [(0, 0)] * ndim
    for d in range(len(pad) // 2):
        pairs[ndim - 1 - d] = (pad[2 * d], pad[2 * d + 1])
    return pairs


def pad_forward(x, value, plan):
    pairs = _pairs(plan.pad, x.ndim)
    mode = plan.mode
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pairs, x.shape))
        return np.pad(
            x[crop], [(max(lo, 0), max(hi, 0)) for lo, hi in pairs], constant_values=value
        )
    return np.pad(x, pairs, mode=_NP_MODES[mode])


def pad_backward(grad, x_shape, plan):
    pairs = _pairs(plan.pad, len(x_shape))
    mode = plan.mode
    # where each output element comes from: np.pad applied to the flat positions of x
    src = np.arange(int(np.prod(x_shape)), dtype=np.int64).reshape(x_shape)
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pairs, x_shape))
        where = np.pad(
            src[crop], [(max(lo, 0), max(hi, 0)) for lo, hi in pairs], constant_values=-1
        )
    else:
        where = np.pad(src, pairs, mode=_NP_MODES[mode])
    out = np.zeros(int(np.prod(x_shape)), dtype=grad.dtype)
    keep = where >= 0
    np.add.at(out, where[keep], grad[keep])
    return out.reshape(x_shape)


IMPLS = {
    "layer_norm": (
        layer_norm_forward,
        {"x": layer_norm_dx, "weight": layer_norm_dweight, "bias": layer_norm_dbias},
    ),
    "batch_norm": (
        batch_norm_forward,
        {"x": batch_norm_dx, "weight": batch_norm_dweight, "bias": batch_norm_dbias},
    ),
    "embedding": (embedding_forward, {"weight": embedding_backward}),
    "pad": (pad_forward, {"x": pad_backward}),
}
