"""Hand-written kernels for softmax, log_softmax and the negative log-likelihood.

softmax/log_softmax move ``dim`` last and run over contiguous rows; ``log_softmax`` subtracts
the row max before ``exp`` (log-sum-exp), so logits of 1e4 are fine.  ``cross_entropy`` is
``log_softmax`` followed by ``nll``.  ``nll`` checks every target inside the kernel before it
indexes with it (Numba does not bounds-check) and reports the first bad one.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..backends.cpu_math import FAST, fast_exp
from .registry import Kernel, Op, register

_JIT = FAST  # the softmax loops call fast_exp (see backends/cpu_math.py)


def _rows(x, dim):
    """``x`` with ``dim`` moved last, as a contiguous 2-D array of rows."""
    if dim != x.ndim - 1:
        x = np.moveaxis(x, dim, -1)
    shape = x.shape
    x = np.ascontiguousarray(x)
    return x.reshape(-1, shape[-1] if shape else 1), shape


def _unrows(r, shape, dim, ndim):
    out = r.reshape(shape)
    if dim != ndim - 1:
        out = np.moveaxis(out, -1, dim)
    return out


@njit(**_JIT)
def log_softmax_kernel(x):
    n, c = x.shape
    out = np.empty_like(x)
    for i in range(n):
        m = -np.inf
        for j in range(c):
            if x[i, j] > m:
                m = x[i, j]
        if m == -np.inf or m != m:
            m = 0.0 if m == -np.inf else m
        s = 0.0
        for j in range(c):
            s += fast_exp(x[i, j] - m)
        lse = m + math.log(s)
        for j in range(c):
            out[i, j] = x[i, j] - lse
    return out


@njit(**_JIT)
def log_softmax_backward_kernel(g, out):
    n, c = g.shape
    res = np.empty_like(g)
    for i in range(n):
        s = 0.0
        for j in range(c):
            s += g[i, j]
        for j in range(c):
            res[i, j] = g[i, j] - fast_exp(out[i, j]) * s
    return res


@njit(**_JIT)
def softmax_kernel(x):
    n, c = x.shape
    out = np.empty_like(x)
    for i in range(n):
        m = -np.inf
        for j in range(c):
            if x[i, j] > m:
                m = x[i, j]
        if m == -np.inf:
            m = 0.0
        s = 0.0
        for j in range(c):
            e = fast_exp(x[i, j] - m)
            out[i, j] = e
            s += e
        inv = 1.0 / s
        for j in range(c):
            out[i, j] *= inv
    return out


@njit(**_JIT)
def softmax_backward_kernel(g, out):
    n, c = g.shape
    res = np.empty_like(g)
    for i in range(n):
        s = 0.0
        for j in range(c):
            s += g[i, j] * out[i, j]
        for j in range(c):
            res[i, j] = out[i, j] * (g[i, j] - s)
    return res


def _rowwise(kernel):
    def forward(x, dim):
        r, shape = _rows(x, dim)
        return _unrows(kernel(r), shape, dim, x.ndim)

    return forward


def _rowwise_backward(kernel):
    def backward(grad, out, dim):
        g, shape = _rows(grad, dim)
        o, _ = _rows(out, dim)
        return _unrows(kernel(g, o), shape, dim, grad.ndim)

    return backward


for _name, _fwd, _bwd in (
    ("log_softmax", log_softmax_kernel, log_softmax_backward_kernel),
    ("softmax", softmax_kernel, softmax_backward_kernel),
):
    register(
        Op(
            _name,
            ("x",),
            Kernel(cpu=_rowwise(_fwd), args=("x", "dim"), name=f"{_name}_kernel"),
            {
                "x": Kernel(
                    cpu=_rowwise_backward(_bwd),
                    args=("grad", "out", "dim"),
                    name=f"{_name}_backward_kernel",
                )
            },
            attrs=("dim",),
            saves=("out",),
            promote="float",
        )
    )

# ---- negative log-likelihood ----------------------------------------------------------------
# logp is (N, C) rows; target (N,) int64; weight (C,) (ones when the user gives none).
# mode: 0 none, 1 sum, 2 mean (divided by the total weight of the non-ignored targets).


@njit(**_JIT)
def nll_kernel(logp, target, weight, ignore_index, mode):
    n, c = logp.shape
    losses = np.zeros(n, dtype=logp.dtype)
    total_w = 0.0
    total = 0.0
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            continue
        if t < 0 or t >= c:
            return losses, 0.0, 0.0, i  # bad target: report its position, read nothing
        w = weight[t]
        losses[i] = -w * logp[i, t]
        total_w += w
        total += losses[i]
    return losses, total, total_w, -1


@njit(**_JIT)
def nll_backward_kernel(grad, target, weight, ignore_index, c):
    n = target.shape[0]
    out = np.zeros((n, c), dtype=grad.dtype)
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            continue
        out[i, t] = -weight[t] * grad[i]
    return out


_MODES = {"none": 0, "sum": 1, "mean": 2}


def _nll_rows(logp, target):
    """(N, C, d1..) logits and (N, d1..) targets -> (M, C) rows and (M,) targets."""
    if logp.ndim == 1:
        return logp.reshape(1, -1), target.reshape(1)
    if logp.ndim == 2:
        return logp, target
    c = logp.shape[1]
    rows = np.ascontiguousarray(np.moveaxis(logp, 1, -1)).reshape(-1, c)
    return rows, target.reshape(-1)


def nll_forward(logp, target, weight, ignore_index, reduction):
    rows, t = _nll_rows(logp, target)
    c = rows.shape[1]
    w = np.ones(c, dtype=logp.dtype) if weight is None else weight
    losses, total, total_w, bad = nll_kernel(
        rows, np.ascontiguousarray(t), w, ignore_index, _MODES[reduction]
    )
    if bad >= 0:
        raise IndexError(
            f"nll_loss: target {int(t[bad])} at position {bad} is out of bounds for {c} classes "
            f"(valid targets are 0..{c - 1}, or ignore_index={ignore_index})"
        )
    if reduction == "none":
        if logp.ndim == 1:
            return losses.reshape(())
        return losses.reshape(target.shape)
    if reduction == "sum":
        return np.asarray(total, dtype=logp.dtype)
    return np.asarray(total / total_w if total_w else np.nan, dtype=logp.dtype)


def nll_backward(grad, logp_shape, target, weight, ignore_index, reduction):
    c = logp_shape[1] if len(logp_shape) > 1 else logp_shape[0]
    t = np.ascontiguousarray(target.reshape(-1))
    w = np.ones(c, dtype=grad.dtype) if weight is None else weight.astype(grad.dtype)
    if reduction == "none":
        g = np.ascontiguousarray(grad, dtype=grad.dtype).reshape(-1)
    else:
        scale = grad
        if reduction == "mean":
            valid = t != ignore_index
            total_w = float(w[t[valid]].sum()) if valid.any() else 0.0
            scale = grad / total_w if total_w else grad * np.nan
        g = np.full(t.shape[0], scale, dtype=grad.dtype)
    rows = nll_backward_kernel(g, t, w, ignore_index, c)
    if len(logp_shape) == 1:
        return rows.reshape(logp_shape)
    if len(logp_shape) == 2:
        return rows
    moved = (logp_shape[0],) + tuple(logp_shape[2:]) + (c,)
    return np.moveaxis(rows.reshape(moved), -1, 1)


register(
    Op(
        "nll",
        ("logp", "target", "weight"),
        Kernel(cpu=nll_forward, args=("logp", "target", "weight", "ignore_index", "reduction")),
        {
            "logp": Kernel(
                cpu=nll_backward,
                args=("grad", "logp_shape", "target", "weight", "ignore_index", "reduction"),
            ),
            "target": None,
            "weight": None,
        },
        attrs=("ignore_index", "reduction"),
        saves=("target", "weight"),
        promote=None,
    )
)
