"""CPU kernels for softmax, log_softmax and the negative log-likelihood (``ops/nn.py``).

The row plans give each kernel contiguous 2-D rows; ``nll`` checks every target inside its
kernels, forward and backward, before it indexes with it (Numba does not bounds-check).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...ops.registry import impl
from .math import FAST, fast_exp_typed, maxnum, vec_dot, vec_sum

_JIT = FAST  # the softmax loops inline fast_exp (see math.py)


def _rows(x, plan):
    """``x`` with ``plan.dim`` moved last, as a contiguous 2-D array of rows."""
    if plan.moved:
        x = np.moveaxis(x, plan.dim, -1)
    return np.ascontiguousarray(x).reshape(plan.n, plan.c)


def _unrows(r, plan):
    out = r.reshape(plan.moved_shape)
    if plan.moved:
        out = np.moveaxis(out, -1, plan.dim)
    return out


# ---- row kernels ----------------------------------------------------------------------------
# LLVM vectorises a loop whose iterations are independent, but not one that carries a value from
# one element to the next unless it may reorder it: so a row is not done in one loop (max, then
# exp added into a running sum) but in simple loops that each vectorise, with the row in L1
# between them: a maxnum reduction, x - max into a buffer, exp in place, a reassociated sum.
# 1024x1000 float32 log_softmax: 8.5 ms in one loop, 0.7 ms split (measured here).  exp runs
# in the input's precision (fast_exp_typed, as torch's does); sums accumulate in float64.

# The exp loop runs over whole blocks of the row buffer, so it has no scalar remainder: up to
# 31 scalar exps cost more than the vectorised part for 100-wide rows.  The lanes past the row
# are computed on leftovers and never read; setting them each row cost more still (scalar
# stores then vector loads of the same block stall store forwarding; all measured here).
_B = 32
# maxnum reductions are vectorised 64 elements at a time; the rest ran scalar at ~1 ns each
_W = 64


@njit(**_JIT)
def exp_buffer_size(c):
    """The length of the scratch row the softmax kernels need for rows of ``c``."""
    return (c + _B - 1) // _B * _B


@njit(**_JIT)
def _exp_buffer(x):
    return np.zeros(exp_buffer_size(x.shape[1]), dtype=x.dtype)


@njit(inline="always", **_JIT)
def _exp_blocks(e):
    for b in range(0, e.size, _B):
        blk = e[b : b + _B]  # a view: with e[b + k] LLVM did not vectorise the loop
        for k in range(_B):
            blk[k] = fast_exp_typed(blk[k])


@njit(inline="always", **_JIT)
def _max(v):
    m = v.dtype.type(-np.inf)
    for j in range(v.size):  # from 0, so a multiple of _W leaves no remainder
        m = maxnum(m, v[j])
    return m


@njit(inline="always", **_JIT)
def _shift(xi):
    # The row max, or 0 for an all -inf row (exp(-inf - 0) = 0, log(0) = -inf: the row is
    # NaN, as in torch).  maxnum skips NaN, but a NaN still reaches the row's sum, and +inf
    # gives exp(inf - inf) = NaN there: both rows come out NaN, as in torch.
    c = xi.size
    if c <= _W:
        m = _max(xi)
    else:
        # whole multiples of _W, then the last _W again: max does not mind overlap, and no
        # element is left for the scalar remainder
        m = maxnum(_max(xi[: c - c % _W]), _max(xi[c - _W :]))
    if m == -np.inf:
        m = xi.dtype.type(0.0)
    return m


@njit(inline="always", **_JIT)
def _exp_sum(xi, m, e):
    """e[:c] = exp(xi - m); returns its sum (float64)."""
    c = xi.size
    for j in range(c):
        e[j] = xi[j] - m
    _exp_blocks(e)
    return vec_sum(e[:c])


# Each row kernel writes into arrays it is given (``*_into``, for ``numgrad.compile``'s memory
# plan: ``e`` is an ``_exp_buffer``-sized scratch row); the ``*_kernel`` forms eager mode
# calls allocate them and run the same code.


@njit(**_JIT)
def log_softmax_into(x, out, e):
    n, c = x.shape
    if c == 0:
        return
    for i in range(n):
        xi = x[i]
        oi = out[i]
        m = _shift(xi)
        # (x - m) - log(sum), as torch: x - m is exact for the logits near the max, so logits
        # of 1e4 keep their small outputs (x - (m + log(sum)) with a float32 m + log(sum) lost
        # 5e-4 there); in the input's precision, 15% faster than float64 (measured here)
        ls = x.dtype.type(math.log(_exp_sum(xi, m, e)))
        for j in range(c):
            oi[j] = (xi[j] - m) - ls


@njit(**_JIT)
def log_softmax_kernel(x):
    out = np.empty_like(x)
    log_softmax_into(x, out, _exp_buffer(x))
    return out


@njit(**_JIT)
def log_softmax_backward_into(grad, out, res, e):
    n, c = grad.shape
    if c == 0:
        return
    zero = out.dtype.type(0.0)
    for i in range(n):
        gi = grad[i]
        ri = res[i]
        s = grad.dtype.type(vec_sum(gi))
        _exp_sum(out[i], zero, e)
        for j in range(c):
            ri[j] = gi[j] - e[j] * s


@njit(**_JIT)
def log_softmax_backward_kernel(grad, out):
    res = np.empty_like(grad)
    log_softmax_backward_into(grad, out, res, _exp_buffer(out))
    return res


@njit(**_JIT)
def softmax_into(x, out, e):
    n, c = x.shape
    if c == 0:
        return
    for i in range(n):
        xi = x[i]
        oi = out[i]
        m = _shift(xi)
        inv = x.dtype.type(1.0 / _exp_sum(xi, m, e))
        for j in range(c):
            oi[j] = e[j] * inv


@njit(**_JIT)
def softmax_kernel(x):
    out = np.empty_like(x)
    softmax_into(x, out, _exp_buffer(x))
    return out


@njit(**_JIT)
def softmax_backward_into(grad, out, res):
    n, c = grad.shape
    for i in range(n):
        gi = grad[i]
        oi = out[i]
        ri = res[i]
        s = grad.dtype.type(vec_dot(gi, oi))
        for j in range(c):
            ri[j] = oi[j] * (gi[j] - s)


@njit(**_JIT)
def softmax_backward_kernel(grad, out):
    res = np.empty_like(grad)
    softmax_backward_into(grad, out, res)
    return res


def _rowwise(kernel):
    def forward(x, plan):
        return _unrows(kernel(_rows(x, plan)), plan)

    return forward


def _rowwise_backward(kernel):
    def backward(grad, out, plan):
        return _unrows(kernel(_rows(grad, plan), _rows(out, plan)), plan)

    return backward


for _name, _fwd, _bwd in (
    ("log_softmax", log_softmax_kernel, log_softmax_backward_kernel),
    ("softmax", softmax_kernel, softmax_backward_kernel),
):
    impl(_name, "cpu", forward=_rowwise(_fwd), backward={"x": _rowwise_backward(_bwd)})

# ---- negative log-likelihood ----------------------------------------------------------------
# rows (M, C); target (M,) int64; weight (C,), or empty when the user gives none (an np.ones
# per call cost more than the kernel for small batches, measured here).
# mode: 0 none, 1 sum, 2 mean (divided by the total weight of the non-ignored targets).


@njit(**_JIT)
def nll_into(logp, target, weight, ignore_index, mode, losses):
    """Per-row losses into ``losses`` (n,); returns (total, total weight, position of the
    first bad target or -1)."""
    n, c = logp.shape
    losses[:] = 0
    total_w = 0.0
    total = 0.0
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            continue
        if t < 0 or t >= c:
            return 0.0, 0.0, i  # bad target: report its position, read nothing
        w = weight[t] if weight.size else 1.0
        losses[i] = -w * logp[i, t]
        total_w += w
        total += losses[i]
    return total, total_w, -1


@njit(**_JIT)
def nll_kernel(logp, target, weight, ignore_index, mode):
    losses = np.empty(logp.shape[0], dtype=logp.dtype)
    total, total_w, bad = nll_into(logp, target, weight, ignore_index, mode, losses)
    return losses, total, total_w, bad


@njit(**_JIT)
def nll_backward_into(grad, target, weight, ignore_index, c, mode, out):
    """The gradient into ``out`` (n, c); returns the position of the first bad target or -1.

    grad: one per row (mode 0), or the loss's gradient alone (modes 1, 2).  The forward
    checked the targets, but they can change through .data before backward (torch re-checks
    too): the targets are checked before any is used as an index."""
    n = target.shape[0]
    out[:] = 0
    for i in range(n):
        t = target[i]
        if t != ignore_index and (t < 0 or t >= c):
            return i
    g = grad[0] if mode else grad.dtype.type(0.0)
    if mode == 2:
        total_w = 0.0
        for i in range(n):
            t = target[i]
            if t != ignore_index:
                total_w += weight[t] if weight.size else 1.0
        g = grad.dtype.type(g / total_w if total_w else np.nan)
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            continue
        w = weight[t] if weight.size else 1.0
        out[i, t] = -w * (grad[i] if mode == 0 else g)
    return -1


@njit(**_JIT)
def nll_backward_kernel(grad, target, weight, ignore_index, c, mode):
    out = np.empty((target.shape[0], c), dtype=grad.dtype)
    return out, nll_backward_into(grad, target, weight, ignore_index, c, mode, out)


def nll_forward(logp, target, weight, ignore_index, plan):
    if plan.layout == 1:
        rows, t = logp.reshape(1, plan.c), target.reshape(1)
    elif plan.layout == 2:
        rows, t = logp, target
    else:
        rows = np.ascontiguousarray(np.moveaxis(logp, 1, -1)).reshape(plan.n, plan.c)
        t = target.reshape(-1)
    c = plan.c
    w = np.empty(0, dtype=logp.dtype) if weight is None else weight
    losses, total, total_w, bad = nll_kernel(
        rows, np.ascontiguousarray(t), w, ignore_index, plan.mode
    )
    if bad >= 0:
        raise IndexError(
            f"nll_loss: target {int(t[bad])} at position {bad} is out of bounds for {c} classes "
            f"(valid targets are 0..{c - 1}, or ignore_index={ignore_index})"
        )
    if plan.mode == 0:
        return losses.reshape(plan.out_shape)
    if plan.mode == 1:
        return np.asarray(total, dtype=logp.dtype)
    return np.asarray(total / total_w if total_w else np.nan, dtype=logp.dtype)


def nll_backward(grad, target, weight, ignore_index, plan):
    c = plan.c
    t = np.ascontiguousarray(target.reshape(-1))
    w = np.empty(0, dtype=grad.dtype) if weight is None else weight.astype(grad.dtype, copy=False)
    g = np.ascontiguousarray(grad).reshape(-1)
    rows, bad = nll_backward_kernel(g, t, w, ignore_index, c, plan.mode)
    if bad >= 0:
        raise IndexError(
            f"Target {int(t[bad])} is out of bounds (position {bad}, {c} classes): the target "
            f"was changed after forward"
        )
    if plan.layout == 1:
        return rows.reshape(plan.shape)
    if plan.layout == 2:
        return rows
    return np.moveaxis(rows.reshape(plan.moved_shape), -1, 1)


impl("nll", "cpu", forward=nll_forward, backward={"logp": nll_backward})
