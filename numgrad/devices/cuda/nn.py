"""CUDA kernels for softmax, log_softmax and the negative log-likelihood (``ops/nn.py``).

softmax and log_softmax are fused row kernels: the row max, the sum of ``exp(x - max)`` and the
normalised row in one launch.  A row is the plan's dim seen through the ``(A, C, B)`` view of the
contiguous input (``x[a, :, b]``), so a ``dim`` that is not last needs no moved copy.  As in
``reduce.py``, long rows get a block each (shared-memory trees) and short rows, or many rows
with B > 1, a thread each.  exp runs in the input's precision and sums accumulate in float64,
as on the CPU.

``nll`` reads ``logp[a, target, b]``: every target is checked on the device before it is used
to index (a bad one is skipped and the first bad position recorded); that position is the one
value read back on the host, to raise the CPU's ``IndexError``.
"""

from __future__ import annotations

import math

import numpy as np

from ...ops import math as m
from ...ops.registry import impl
from . import kernels, runtime
from .kernels import tree_sum
from .reduce import MAX_GRID, SHORT, WIDE, cast_like, reduce_float, tree_max
from .runtime import THREADS, cuda, kernel

# ---- softmax, log_softmax ----------------------------------------------------------------------


@kernel
def softmax_rows_kernel(out, x, c_n, b_n, n_rows, log):
    part = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    o = cuda.blockIdx.x
    while o < n_rows:
        a = o // b_n
        b = o - a * b_n
        # the row max, NaN skipped (a NaN still reaches the sum, so its row is NaN, as in torch)
        mx = np.float64(-math.inf)
        j = t
        while j < c_n:
            v = x[a, j, b]
            if v > mx:
                mx = v
            j += THREADS
        part[t] = mx
        cuda.syncthreads()
        tree_max(part, t)
        shift = cast_like(x[a, 0, b], part[0])
        if shift == -math.inf:  # an all -inf row: shift by 0, exp gives 0, the row is NaN
            shift = cast_like(shift, 0.0)
        cuda.syncthreads()  # every thread has read part[0] before it is reused
        s = np.float64(0.0)
        j = t
        while j < c_n:
            s += m.exp(x[a, j, b] - shift)
            j += THREADS
        part[t] = s
        cuda.syncthreads()
        tree_sum(part, t)
        total = part[0]
        if log:
            # (x - max) - log(sum), as torch: exact for the logits near the max
            ls = cast_like(shift, m.log(total))
            j = t
            while j < c_n:
                out[a, j, b] = (x[a, j, b] - shift) - ls
                j += THREADS
        else:
            inv = cast_like(shift, 1.0 / total)
            j = t
            while j < c_n:
                out[a, j, b] = m.exp(x[a, j, b] - shift) * inv
                j += THREADS
        cuda.syncthreads()
        o += cuda.gridDim.x


@kernel
def softmax_cols_kernel(out, x, n_rows, c_n, b_n, log):
    o = cuda.grid(1)
    step = cuda.gridsize(1)
    while o < n_rows:
        a = o // b_n
        b = o - a * b_n
        shift = cast_like(x[a, 0, b], -math.inf)
        for j in range(c_n):
            v = x[a, j, b]
            if v > shift:
                shift = v
        if shift == -math.inf:
            shift = cast_like(shift, 0.0)
        s = np.float64(0.0)
        for j in range(c_n):
            s += m.exp(x[a, j, b] - shift)
        if log:
            ls = cast_like(shift, m.log(s))
            for j in range(c_n):
                out[a, j, b] = (x[a, j, b] - shift) - ls
        else:
            inv = cast_like(shift, 1.0 / s)
            for j in range(c_n):
                out[a, j, b] = m.exp(x[a, j, b] - shift) * inv
        o += step


@kernel
def softmax_backward_rows_kernel(res, g, out, c_n, b_n, n_rows, log):
    # log_softmax: g - exp(out) * sum(g);  softmax: out * (g - sum(g * out))
    part = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    o = cuda.blockIdx.x
    while o < n_rows:
        a = o // b_n
        b = o - a * b_n
        s = np.float64(0.0)
        j = t
        while j < c_n:
            if log:
                s += g[a, j, b]
            else:
                s += g[a, j, b] * out[a, j, b]
            j += THREADS
        part[t] = s
        cuda.syncthreads()
        tree_sum(part, t)
        total = cast_like(g[a, 0, b], part[0])
        j = t
        while j < c_n:
            if log:
                res[a, j, b] = g[a, j, b] - m.exp(out[a, j, b]) * total
            else:
                res[a, j, b] = out[a, j, b] * (g[a, j, b] - total)
            j += THREADS
        cuda.syncthreads()
        o += cuda.gridDim.x


@kernel
def softmax_backward_cols_kernel(res, g, out, n_rows, c_n, b_n, log):
    o = cuda.grid(1)
    step = cuda.gridsize(1)
    while o < n_rows:
        a = o // b_n
        b = o - a * b_n
        s = np.float64(0.0)
        for j in range(c_n):
            if log:
                s += g[a, j, b]
            else:
                s += g[a, j, b] * out[a, j, b]
        total = cast_like(g[a, 0, b], s)
        for j in range(c_n):
            if log:
                res[a, j, b] = g[a, j, b] - m.exp(out[a, j, b]) * total
            else:
                res[a, j, b] = out[a, j, b] * (g[a, j, b] - total)
        o += step


def _acb(shape, plan):
    """(A, C, B): the sizes before, along and after the softmax dim."""
    if not shape:
        return 1, 1, 1
    d = plan.dim
    return math.prod(shape[:d]), shape[d], math.prod(shape[d + 1 :])


def _rows_kernel(c_n, b_n, n_rows):
    return c_n <= SHORT or (b_n > 1 and n_rows >= WIDE)


def _softmax(log):
    def forward(x, plan):
        a_n, c_n, b_n = _acb(x.shape, plan)
        res = runtime.empty(x.shape, x.dtype)
        n_rows = a_n * b_n
        if n_rows == 0 or c_n == 0:
            return res
        x3 = kernels.contiguous(x).reshape(a_n, c_n, b_n)
        r3 = res.reshape(a_n, c_n, b_n)
        if _rows_kernel(c_n, b_n, n_rows):
            runtime.launch(softmax_cols_kernel, n_rows)(r3, x3, n_rows, c_n, b_n, log)
        else:
            runtime.launch_grid(softmax_rows_kernel, max(1, min(n_rows, MAX_GRID)))(
                r3, x3, c_n, b_n, n_rows, log
            )
        return res

    return forward


def _softmax_backward(log):
    def backward(grad, out, plan):
        a_n, c_n, b_n = _acb(out.shape, plan)
        res = runtime.empty(out.shape, grad.dtype)
        n_rows = a_n * b_n
        if n_rows == 0 or c_n == 0:
            return res
        g3 = kernels.contiguous(grad).reshape(a_n, c_n, b_n)
        o3 = kernels.contiguous(out).reshape(a_n, c_n, b_n)
        r3 = res.reshape(a_n, c_n, b_n)
        if _rows_kernel(c_n, b_n, n_rows):
            runtime.launch(softmax_backward_cols_kernel, n_rows)(r3, g3, o3, n_rows, c_n, b_n, log)
        else:
            runtime.launch_grid(softmax_backward_rows_kernel, max(1, min(n_rows, MAX_GRID)))(
                r3, g3, o3, c_n, b_n, n_rows, log
            )
        return res

    return backward


impl("log_softmax", "cuda", forward=_softmax(1), backward={"x": _softmax_backward(1)})
impl("softmax", "cuda", forward=_softmax(0), backward={"x": _softmax_backward(0)})

# ---- negative log-likelihood ---------------------------------------------------------------
# logp seen as (A, C, B) (one sample: (1, C, 1); (N, C): (N, C, 1); (N, C, d..): (N, C, d)),
# the targets as M = A * B rows.  weight: (C,), or a 1-element stand-in with has_weight=0.
# mode: 0 none, 1 sum, 2 mean (divided by the total weight of the non-ignored targets).


@kernel
def nll_kernel(losses, sums, bad, logp, target, weight, has_weight, ignore_index, n_rows, c_n, b_n):
    # losses: per row, in logp's type; sums (2, M) float64: the rounded loss and its weight
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n_rows:
        a = i // b_n
        b = i - a * b_n
        t = target[i]
        loss = np.float64(0.0)
        w = np.float64(0.0)
        if t != ignore_index:
            if t < 0 or t >= c_n:
                cuda.atomic.min(bad, 0, i)  # read nothing with it
            else:
                w = np.float64(weight[t]) if has_weight else np.float64(1.0)
                loss = np.float64(cast_like(logp[a, t, b], -w * logp[a, t, b]))
        losses[i] = loss
        sums[0, i] = loss
        sums[1, i] = w
        i += step


@kernel
def nll_weights_kernel(wts, bad, target, weight, has_weight, ignore_index, n_rows, c_n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n_rows:
        t = target[i]
        w = np.float64(0.0)
        if t != ignore_index:
            if t < 0 or t >= c_n:
                cuda.atomic.min(bad, 0, i)
            else:
                w = np.float64(weight[t]) if has_weight else np.float64(1.0)
        wts[i] = w
        i += step


@kernel
def nll_divide_kernel(out, num, den, use_den):
    # the loss of 'sum' (num) or 'mean' (num / total weight; NaN when nothing counted)
    if cuda.grid(1) == 0:
        if use_den:
            d = den[0]
            out[0] = num[0] / d if d != 0 else math.nan
        else:
            out[0] = num[0]


@kernel
def nll_backward_kernel(
    res, grad, scale, bad, target, weight, has_weight, ignore_index, mode, n_rows, c_n, b_n
):
    # every element of res (A, C, B) written once: -w * grad at the target, 0 elsewhere.  The
    # forward checked the targets, but they can change through .data before backward
    n = n_rows * c_n
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        b = i % b_n
        aj = i // b_n
        j = aj % c_n
        a = aj // c_n
        row = a * b_n + b
        t = target[row]
        hit = False
        if t != ignore_index:
            if t < 0 or t >= c_n:
                if j == 0:
                    cuda.atomic.min(bad, 0, row)
            else:
                hit = t == j
        if hit:
            w = weight[t] if has_weight else 1.0
            g = grad[row] if mode == 0 else scale[0]
            res[a, j, b] = -w * g
        else:
            res[a, j, b] = 0
        i += step


_DUMMY: dict = {}


def _weight(weight, dtype):
    """(weight array, has_weight) for the kernels: a 1-element stand-in when there is none."""
    if weight is None:
        w = _DUMMY.get(dtype)
        if w is None:
            w = _DUMMY[dtype] = kernels.fill(runtime.empty((1,), dtype), 1)
        return w, 0
    if weight.dtype != dtype:
        weight = kernels.copy_into(runtime.empty(weight.shape, dtype), weight)
    return kernels.contiguous(weight), 1


def _layout(plan):
    """(A, B) of the (A, C, B) view of logp."""
    if plan.layout == 1:
        return 1, 1
    return plan.shape[0], plan.n // plan.shape[0] if plan.shape[0] else 0


def _first_bad(bad, n_rows):
    first = int(runtime.to_host(bad)[0])  # the one host read: target validation
    return first if first < n_rows else -1


def _target_at(target, i):
    return int(runtime.to_host(target[i : i + 1])[0])


def nll_forward(logp, target, weight, ignore_index, plan):
    a_n, b_n = _layout(plan)
    n_rows, c_n = plan.n, plan.c
    dtype = logp.dtype
    losses = runtime.empty((n_rows,), dtype)
    sums = runtime.empty((2, n_rows), np.float64)
    t = kernels.contiguous(target).reshape(n_rows)
    if n_rows:
        w, has_w = _weight(weight, dtype)
        bad = kernels.fill(runtime.empty((1,), np.int64), n_rows)
        lp = kernels.contiguous(logp).reshape(a_n, c_n, b_n)
        runtime.launch(nll_kernel, n_rows)(
            losses, sums, bad, lp, t, w, has_w, ignore_index, n_rows, c_n, b_n
        )
        first = _first_bad(bad, n_rows)
        if first >= 0:
            raise IndexError(
                f"nll_loss: target {_target_at(t, first)} at position {first} is out of bounds "
                f"for {c_n} classes (valid targets are 0..{c_n - 1}, or "
                f"ignore_index={ignore_index})"
            )
    if plan.mode == 0:
        return losses.reshape(plan.out_shape)
    totals = reduce_float(sums.reshape(2, n_rows, 1), runtime.empty((2,), np.float64))
    out = runtime.empty((1,), dtype)
    runtime.launch_grid(nll_divide_kernel, 1, 1)(out, totals[0:1], totals[1:2], plan.mode == 2)
    return out.reshape(())


def nll_backward(grad, target, weight, ignore_index, plan):
    a_n, b_n = _layout(plan)
    n_rows, c_n = plan.n, plan.c
    dtype = grad.dtype
    res = runtime.empty(plan.shape, dtype)
    if n_rows * c_n == 0:
        return res
    t = kernels.contiguous(target).reshape(n_rows)
    w, has_w = _weight(weight, dtype)
    g = kernels.contiguous(grad).reshape(grad.size)
    bad = kernels.fill(runtime.empty((1,), np.int64), n_rows)
    scale = g
    if plan.mode == 2:
        wts = runtime.empty((1, n_rows, 1), np.float64)
        runtime.launch(nll_weights_kernel, n_rows)(
            wts.reshape(n_rows), bad, t, w, has_w, ignore_index, n_rows, c_n
        )
        total = reduce_float(wts, runtime.empty((1,), np.float64))
        scale = runtime.empty((1,), dtype)
        runtime.launch_grid(nll_divide_kernel, 1, 1)(scale, g, total, True)
    runtime.launch(nll_backward_kernel, n_rows * c_n)(
        res.reshape(a_n, c_n, b_n),
        g,
        scale,
        bad,
        t,
        w,
        has_w,
        ignore_index,
        plan.mode,
        n_rows,
        c_n,
        b_n,
    )
    first = _first_bad(bad, n_rows)
    if first >= 0:
        raise IndexError(
            f"Target {_target_at(t, first)} is out of bounds (position {first}, {c_n} classes): "
            "the target was changed after forward"
        )
    return res


impl("nll", "cuda", forward=nll_forward, backward={"logp": nll_backward})
