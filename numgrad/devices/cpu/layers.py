"""CPU kernels for the layer ops of ``ops/layers.py``: layer_norm, batch_norm, embedding, pad.

layer_norm and batch_norm are one fused kernel each way (statistics, normalisation and the
affine map in one pass over the rows or channels, sums in float64), not the eight ops of the
composite.  ``weight``/``bias`` absent (``None``) reach the kernels as empty arrays, so one
compiled kernel serves both cases.  embedding's backward checks each index before it writes
with it (Numba does not bounds-check; the indices can change through ``.data`` after forward).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...ops.registry import impl

_JIT = {"cache": True, "error_model": "numpy"}


def _param(p, dtype):
    return np.empty(0, dtype=dtype) if p is None else np.ascontiguousarray(p).reshape(-1)


# ---- layer_norm: rows (m, n) ----------------------------------------------------------------


@njit(**_JIT)
def layer_norm_kernel(x, w, b, eps):
    m, n = x.shape
    out = np.empty_like(x)
    mean = np.empty(m, dtype=x.dtype)
    rstd = np.empty(m, dtype=x.dtype)
    for i in range(m):
        row = x[i]
        s = 0.0
        for j in range(n):
            s += row[j]
        mu = s / n
        v = 0.0
        for j in range(n):
            d = row[j] - mu
            v += d * d
        r = 1.0 / np.sqrt(v / n + eps)
        mean[i] = mu
        rstd[i] = r
        o = out[i]
        for j in range(n):
            y = (row[j] - mu) * r
            if w.size:
                y = y * w[j]
            if b.size:
                y = y + b[j]
            o[j] = y
    return out, mean, rstd


@njit(**_JIT)
def layer_norm_dx_kernel(grad, x, w, mean, rstd):
    # torch's: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = grad * weight
    m, n = x.shape
    out = np.empty_like(grad)
    for i in range(m):
        mu = mean[i]
        r = rstd[i]
        sg = 0.0
        sgx = 0.0
        for j in range(n):
            g = grad[i, j] * w[j] if w.size else grad[i, j]
            sg += g
            sgx += g * ((x[i, j] - mu) * r)
        a = sg / n
        c = sgx / n
        for j in range(n):
            g = grad[i, j] * w[j] if w.size else grad[i, j]
            out[i, j] = r * (g - a - (x[i, j] - mu) * r * c)
    return out


@njit(**_JIT)
def layer_norm_dweight_kernel(grad, x, mean, rstd):
    m, n = x.shape
    acc = np.zeros(n, dtype=np.float64)
    for i in range(m):
        mu = mean[i]
        r = rstd[i]
        for j in range(n):
            acc[j] += grad[i, j] * ((x[i, j] - mu) * r)
    return acc.astype(grad.dtype)


def _rows(a, plan):
    return np.ascontiguousarray(a).reshape(plan.m, plan.n)


def layer_norm_forward(x, weight, bias, eps, plan):
    out, mean, rstd = layer_norm_kernel(
        _rows(x, plan), _param(weight, x.dtype), _param(bias, x.dtype), eps
    )
    return out.reshape(plan.shape), mean.reshape(plan.stat_shape), rstd.reshape(plan.stat_shape)


def layer_norm_dx(grad, x, weight, mean, rstd, plan):
    g = layer_norm_dx_kernel(
        _rows(grad, plan),
        _rows(x, plan),
        _param(weight, grad.dtype),
        mean.reshape(-1),
        rstd.reshape(-1),
    )
    return g.reshape(plan.shape)


def layer_norm_dweight(grad, x, mean, rstd, plan):
    g = layer_norm_dweight_kernel(
        _rows(grad, plan), _rows(x, plan), mean.reshape(-1), rstd.reshape(-1)
    )
    return g.reshape(plan.shape[len(plan.stat_shape) :])


def layer_norm_dbias(grad, plan):
    return (
        _rows(grad, plan)
        .sum(axis=0, dtype=np.float64)
        .astype(grad.dtype)
        .reshape(plan.shape[len(plan.stat_shape) :])
    )


impl(
    "layer_norm",
    "cpu",
    forward=layer_norm_forward,
    backward={"x": layer_norm_dx, "weight": layer_norm_dweight, "bias": layer_norm_dbias},
)

# ---- batch_norm: (n, c, s), statistics per channel ------------------------------------------


@njit(**_JIT)
def batch_norm_kernel(x, w, b, eps):
    n, c, s = x.shape
    out = np.empty_like(x)
    mean = np.empty(c, dtype=x.dtype)
    var = np.empty(c, dtype=x.dtype)
    count = n * s
    for ch in range(c):
        tot = 0.0
        for i in range(n):
            for k in range(s):
                tot += x[i, ch, k]
        mu = tot / count
        v = 0.0
        for i in range(n):
            for k in range(s):
                d = x[i, ch, k] - mu
                v += d * d
        vb = v / count
        mean[ch] = mu
        var[ch] = vb
        scale = 1.0 / np.sqrt(vb + eps)
        if w.size:
            scale = scale * w[ch]
        shift = b[ch] if b.size else 0.0
        for i in range(n):
            for k in range(s):
                out[i, ch, k] = (x[i, ch, k] - mu) * scale + shift
    return out, mean, var


@njit(**_JIT)
def batch_norm_dx_kernel(grad, x, w, mean, var, eps):
    n, c, s = x.shape
    out = np.empty_like(grad)
    count = n * s
    for ch in range(c):
        mu = mean[ch]
        r = 1.0 / np.sqrt(var[ch] + eps)
        sg = 0.0
        sgx = 0.0
        for i in range(n):
            for k in range(s):
                g = grad[i, ch, k]
                sg += g
                sgx += g * ((x[i, ch, k] - mu) * r)
        a = sg / count
        cc = sgx / count
        scale = r * w[ch] if w.size else r
        for i in range(n):
            for k in range(s):
                out[i, ch, k] = scale * (grad[i, ch, k] - a - (x[i, ch, k] - mu) * r * cc)
    return out


@njit(**_JIT)
def batch_norm_dweight_kernel(grad, x, mean, var, eps):
    n, c, s = x.shape
    out = np.empty(c, dtype=grad.dtype)
    for ch in range(c):
        mu = mean[ch]
        r = 1.0 / np.sqrt(var[ch] + eps)
        acc = 0.0
        for i in range(n):
            for k in range(s):
                acc += grad[i, ch, k] * ((x[i, ch, k] - mu) * r)
        out[ch] = acc
    return out


def _ncs(a, plan):
    return np.ascontiguousarray(a).reshape(plan.n, plan.c, plan.s)


def batch_norm_forward(x, weight, bias, eps, plan):
    out, mean, var = batch_norm_kernel(
        _ncs(x, plan), _param(weight, x.dtype), _param(bias, x.dtype), eps
    )
    return out.reshape(plan.shape), mean, var


def batch_norm_dx(grad, x, weight, mean, var, eps, plan):
    g = batch_norm_dx_kernel(
        _ncs(grad, plan), _ncs(x, plan), _param(weight, grad.dtype), mean, var, eps
    )
    return g.reshape(plan.shape)


def batch_norm_dweight(grad, x, mean, var, eps, plan):
    return batch_norm_dweight_kernel(_ncs(grad, plan), _ncs(x, plan), mean, var, eps)


def batch_norm_dbias(grad, plan):
    return _ncs(grad, plan).sum(axis=(0, 2), dtype=np.float64).astype(grad.dtype)


impl(
    "batch_norm",
    "cpu",
    forward=batch_norm_forward,
    backward={"x": batch_norm_dx, "weight": batch_norm_dweight, "bias": batch_norm_dbias},
)

# ---- embedding ------------------------------------------------------------------------------


@njit(**_JIT)
def embedding_backward_kernel(grad, idx, v, padding_idx):
    m, d = grad.shape
    out = np.zeros((v, d), dtype=grad.dtype)
    for i in range(m):
        t = idx[i]
        if t < 0 or t >= v:
            return out, i
        if t == padding_idx:
            continue
        row = out[t]
        g = grad[i]
        for j in range(d):
            row[j] += g[j]
    return out, -1


def embedding_forward(weight, indices):
    return np.take(weight, indices, axis=0)


def embedding_backward(grad, indices, weight_shape, padding_idx):
    v, d = weight_shape
    idx = np.ascontiguousarray(indices).reshape(-1)
    out, bad = embedding_backward_kernel(
        np.ascontiguousarray(grad).reshape(idx.size, d), idx, v, padding_idx
    )
    if bad >= 0:
        raise IndexError(
            f"embedding: index {int(idx[bad])} at position {bad} is out of range for {v} rows "
            f"(the indices were changed after forward)"
        )
    return out


impl("embedding", "cpu", forward=embedding_forward, backward={"weight": embedding_backward})

# ---- pad ------------------------------------------------------------------------------------


def _slices(pairs):
    return tuple(slice(a, b) for a, b in pairs)


def pad_forward(x, value, plan):
    if plan.constant:
        out = np.full(plan.out_shape, value, dtype=x.dtype)
        out[_slices(plan.place)] = x[_slices(plan.crop)]
        return out
    out = x
    for axis, idx in plan.maps:
        out = np.take(out, np.asarray(idx, dtype=np.intp), axis=axis)
    return out


def pad_backward(grad, x_shape, plan):
    if plan.constant:
        gx = np.zeros(x_shape, dtype=grad.dtype)
        gx[_slices(plan.crop)] = grad[_slices(plan.place)]
        return gx
    g = grad
    for axis, idx in reversed(plan.maps):
        shape = list(g.shape)
        shape[axis] = x_shape[axis]
        acc = np.zeros(shape, dtype=grad.dtype)
        # several output positions read one source position (reflect, replicate): add them all
        np.add.at(
            np.moveaxis(acc, axis, 0), np.asarray(idx, dtype=np.intp), np.moveaxis(g, axis, 0)
        )
        g = acc
    return g


impl("pad", "cpu", forward=pad_forward, backward={"x": pad_backward})
