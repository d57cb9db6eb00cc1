"""CPU compute for the index and ordering ops of ``ops/index.py``.

Data movement (gather's forward, sort, roll, flip, tril/triu, repeat, diagonal) is numpy: its
calls are already loops in C.  The accumulating kernels (scatter-add, the backward of gather,
index_select and cummax, cumprod's backward) are ``@njit`` loops over the ``(A, R, B)`` views
the plans give.  Numba does not bounds-check, so each kernel that follows an index checks it and
returns the position of the first one out of range (or -1): the public functions checked the
index before the forward, but the user can still change it through ``.data`` before backward.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...ops.registry import impl

_JIT = {"cache": True, "error_model": "numpy"}
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)


def _acc_dtype(dtype):
    # Numba has no float16: accumulate it in float32 (the tape casts gradients back)
    return _F32 if dtype == _F16 else dtype


def _bad_index(idx, bad, axis, size):
    return RuntimeError(
        f"index {int(idx.reshape(-1)[bad])} is out of bounds for dimension {axis} with size "
        f"{size} (the index tensor was changed after the forward)"
    )


def _check_range(index, size, axis):
    """Backward re-check of an index that numpy follows (numpy would raise IndexError, or
    wrap a negative index silently): torch's RuntimeError instead."""
    if index.size:
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= size:
            raise RuntimeError(
                f"index {lo if lo < 0 else hi} is out of bounds for dimension {axis} with size "
                f"{size} (the index tensor was changed after the forward)"
            )


@njit(**_JIT)
def scatter_add_arb_kernel(out, idx, src):
    # out[a, idx[a, i, b], b] += src[a, i, b]; idx and src share a shape
    a_n, r_n, b_n = out.shape
    i_n = idx.shape[1]
    for a in range(a_n):
        for i in range(i_n):
            for b in range(b_n):
                j = idx[a, i, b]
                if j < 0 or j >= r_n:
                    return (a * i_n + i) * b_n + b
                out[a, j, b] += src[a, i, b]
    return -1


@njit(**_JIT)
def index_add_arb_kernel(out, idx, src):
    # out[a, idx[i], b] += src[a, i, b]
    a_n, r_n, b_n = out.shape
    for i in range(idx.shape[0]):
        j = idx[i]
        if j < 0 or j >= r_n:
            return i
        for a in range(a_n):
            for b in range(b_n):
                out[a, j, b] += src[a, i, b]
    return -1


@njit(**_JIT)
def cumprod_backward_kernel(g, x, out):
    # torch's cumprod_backward: before the first zero k of a row, d out_j / d x_i = out_j / x_i;
    # at k, out_{k-1} times the products of the later elements; after k, 0
    a_n, r_n, b_n = x.shape
    res = np.zeros_like(x)
    for a in range(a_n):
        for b in range(b_n):
            k = r_n
            for r in range(r_n):
                if x[a, r, b] == 0:
                    k = r
                    break
            acc = 0.0
            for r in range(k - 1, -1, -1):
                acc += g[a, r, b] * out[a, r, b]
                res[a, r, b] = acc / x[a, r, b]
            if k < r_n:
                run = out[a, k - 1, b] if k > 0 else 1.0
                acc = g[a, k, b] * run
                for r in range(k + 1, r_n):
                    run *= x[a, r, b]
                    acc += g[a, r, b] * run
                res[a, k, b] = acc
    return res


@njit(**_JIT)
def cummax_kernel(x, sign):
    # sign +1: cummax, -1: cummin.  As torch: a tie moves the index to the later element, and
    # a NaN, once met, stays (with its index)
    a_n, r_n, b_n = x.shape
    vals = np.empty_like(x)
    idx = np.empty((a_n, r_n, b_n), dtype=np.int64)
    for a in range(a_n):
        for b in range(b_n):
            best = x[a, 0, b]
            bi = 0
            for r in range(r_n):
                v = x[a, r, b]
                if r > 0 and best == best and (v != v or sign * v >= sign * best):
                    best = v
                    bi = r
                vals[a, r, b] = best
                idx[a, r, b] = bi
    return vals, idx


# ---- gather, scatter, scatter_add ------------------------------------------------------------


def _region(a, region):
    return a if region is None else a[region]


def gather_forward(x, index, plan):
    return np.take_along_axis(_region(x, plan.region), index, plan.axis)


def _scatter_add_into(out, index, src, axis):
    """out (contiguous) += src scattered through index along axis (same shapes off axis)."""
    shape = index.shape
    a_n = int(np.prod(shape[:axis], dtype=np.int64))
    b_n = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    o3 = out.reshape(a_n, out.shape[axis], b_n)
    i3 = np.ascontiguousarray(index).reshape(a_n, -1, b_n)
    s3 = np.ascontiguousarray(src).reshape(a_n, -1, b_n)
    bad = scatter_add_arb_kernel(o3, i3, s3)
    if bad >= 0:
        raise _bad_index(index, bad, axis, o3.shape[1])


def _scatter_add_region(out, index, src, plan):
    """``out[region] += src`` scattered through ``index`` (out is contiguous)."""
    if plan.region is None:
        _scatter_add_into(out, index, src, plan.axis)
        return
    # the kernel needs a contiguous target: scatter into the region's own buffer
    tmp = np.ascontiguousarray(out[plan.region])
    _scatter_add_into(tmp, index, src, plan.axis)
    out[plan.region] = tmp


def gather_backward(grad, index, plan):
    out = np.zeros(plan.x_shape, _acc_dtype(grad.dtype))
    _scatter_add_region(out, index, grad.astype(out.dtype, copy=False), plan)
    return out


def scatter_forward(x, index, src, plan):
    out = np.array(x, copy=True)
    np.put_along_axis(_region(out, plan.region), index, _region(src, plan.src_region), plan.axis)
    return out


def scatter_dx(grad, index, plan):
    _check_range(index, plan.x_shape[plan.axis], plan.axis)
    g = np.array(grad, copy=True)
    np.put_along_axis(_region(g, plan.region), index, 0, plan.axis)
    return g


def scatter_dsrc(grad, index, plan):
    _check_range(index, plan.x_shape[plan.axis], plan.axis)
    r = np.take_along_axis(_region(grad, plan.region), index, plan.axis)
    if plan.src_region is None:
        return r
    out = np.zeros(plan.src_shape, grad.dtype)
    out[plan.src_region] = r
    return out


def scatter_add_forward(x, index, src, plan):
    dt = x.dtype
    out = np.array(x, dtype=_acc_dtype(dt), copy=True)
    src = _region(src, plan.src_region).astype(out.dtype, copy=False)
    _scatter_add_region(out, index, src, plan)
    return out if out.dtype == dt else out.astype(dt)


def scatter_add_dx(grad):
    return grad


impl("gather", "cpu", forward=gather_forward, backward={"x": gather_backward})
impl("scatter", "cpu", forward=scatter_forward, backward={"x": scatter_dx, "src": scatter_dsrc})
impl(
    "scatter_add",
    "cpu",
    forward=scatter_add_forward,
    backward={"x": scatter_add_dx, "src": scatter_dsrc},
)

# ---- index_select ----------------------------------------------------------------------------


def index_select_forward(x, index, plan):
    return np.take(x, index, axis=plan.axis)


def index_select_backward(grad, index, plan):
    a_n, r_n, b_n = plan.arb
    out = np.zeros(plan.shape, _acc_dtype(grad.dtype))
    g3 = np.ascontiguousarray(grad, dtype=out.dtype).reshape(a_n, index.shape[0], b_n)
    bad = index_add_arb_kernel(out.reshape(plan.arb), np.ascontiguousarray(index), g3)
    if bad >= 0:
        raise _bad_index(index, bad, plan.axis, r_n)
    return out


impl("index_select", "cpu", forward=index_select_forward, backward={"x": index_select_backward})

# ---- scans -----------------------------------------------------------------------------------


def _scan_dtype(dtype):
    return np.float64 if dtype.kind == "f" else dtype


def cumsum_forward(x, plan):
    if x.ndim == 0:
        return np.array(x, copy=True)
    return np.cumsum(x, axis=plan.axis, dtype=_scan_dtype(x.dtype)).astype(x.dtype, copy=False)


def cumsum_backward(grad, plan):
    if grad.ndim == 0:
        return grad
    ax = plan.axis
    rev = np.cumsum(np.flip(grad, ax), axis=ax, dtype=_scan_dtype(grad.dtype))
    return np.ascontiguousarray(np.flip(rev, ax)).astype(grad.dtype, copy=False)


def cumprod_forward(x, plan):
    if x.ndim == 0:
        return np.array(x, copy=True)
    return np.cumprod(x, axis=plan.axis, dtype=_scan_dtype(x.dtype)).astype(x.dtype, copy=False)


def cumprod_backward(grad, x, out, plan):
    arb = plan.arb
    res = cumprod_backward_kernel(
        np.ascontiguousarray(grad).reshape(arb),
        np.ascontiguousarray(x).reshape(arb),
        np.ascontiguousarray(out).reshape(arb),
    )
    return res.reshape(plan.shape)


def cummax_forward(x, sign, plan):
    if x.size == 0:
        return np.array(x, copy=True), np.zeros(x.shape, np.int64)
    vals, idx = cummax_kernel(np.ascontiguousarray(x).reshape(plan.arb), sign)
    return vals.reshape(plan.shape), idx.reshape(plan.shape)


def cummax_backward(grad, indices, plan):
    out = np.zeros(plan.arb, grad.dtype)
    i3 = np.ascontiguousarray(indices).reshape(plan.arb)
    bad = scatter_add_arb_kernel(out, i3, np.ascontiguousarray(grad).reshape(plan.arb))
    if bad >= 0:
        raise _bad_index(indices, bad, plan.axis, plan.arb[1])
    return out.reshape(plan.shape)


impl("cumsum", "cpu", forward=cumsum_forward, backward={"x": cumsum_backward})
impl("cumprod", "cpu", forward=cumprod_forward, backward={"x": cumprod_backward})
impl("cummax", "cpu", forward=cummax_forward, backward={"x": cummax_backward})
impl("cummin", "cpu", forward=cummax_forward, backward={"x": cummax_backward})

# ---- sort --------------------------------------------------------------------------------------


def sort_forward(x, descending, plan):
    if x.ndim == 0:
        return np.array(x, copy=True), np.zeros((), np.int64)
    ax = plan.axis
    if descending:
        # stable and descending, as torch: ties keep their order, NaN first.  The stable
        # ascending order of the reversed axis, reversed again and mapped back to positions
        n = x.shape[ax]
        idx = (n - 1) - np.flip(np.argsort(np.flip(x, ax), axis=ax, kind="stable"), ax)
    else:
        idx = np.argsort(x, axis=ax, kind="stable")  # NaN last, as torch
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    return np.take_along_axis(x, idx, ax), idx


def sort_backward(grad, indices, plan):
    if grad.ndim == 0:
        return grad
    _check_range(indices, plan.shape[plan.axis], plan.axis)
    out = np.zeros(plan.shape, grad.dtype)
    np.put_along_axis(out, indices, grad, plan.axis)
    return out


impl("sort", "cpu", forward=sort_forward, backward={"x": sort_backward})

# ---- prod ---------------------------------------------------------------------------------------


def prod_forward(x, plan):
    return np.asarray(np.prod(x, axis=plan.axes)).reshape(plan.out_shape)


def prod_backward(grad, x, out, plan):
    g = np.reshape(grad, plan.keep_shape)
    o = np.reshape(out, plan.keep_shape)
    zero = x == 0
    with np.errstate(all="ignore"):
        res = g * (o / x)
        if zero.any():
            count = np.sum(zero, axis=plan.axes, keepdims=True)
            others = np.prod(np.where(zero, x.dtype.type(1), x), axis=plan.axes, keepdims=True)
            res = np.where(count == 0, res, np.where(zero & (count == 1), g * others, 0))
    return np.asarray(res, dtype=x.dtype)


impl("prod", "cpu", forward=prod_forward, backward={"x": prod_backward})

# ---- roll, flip, tril/triu, repeat, diagonal --------------------------------------------------


def roll_forward(x, shifts, dims):
    return np.roll(x, shifts, dims)


def roll_backward(grad, shifts, dims):
    return np.roll(grad, tuple(-s for s in shifts), dims)


def flip_forward(x, dims):
    return np.ascontiguousarray(np.flip(x, dims))


def tri_forward(x, diagonal, upper):
    return np.triu(x, diagonal) if upper else np.tril(x, diagonal)


def repeat_forward(x, plan):
    return np.tile(x.reshape(plan.padded), plan.repeats)


def repeat_backward(grad, plan):
    return grad.reshape(plan.split).sum(axis=plan.sum_axes).reshape(plan.x_shape)


def diagonal_forward(x, offset, dim1, dim2):
    return np.diagonal(x, offset, dim1, dim2).copy()


def diagonal_backward(grad, x_shape, offset, dim1, dim2):
    out = np.zeros(x_shape, grad.dtype)
    view = np.moveaxis(out, (dim1, dim2), (-2, -1))
    n = grad.shape[-1]
    rows = np.arange(n) + max(-offset, 0)
    view[..., rows, rows + offset] = grad
    return out


impl("roll", "cpu", forward=roll_forward, backward={"x": roll_backward})
impl("flip", "cpu", forward=flip_forward, backward={"x": flip_forward})
impl("tril", "cpu", forward=tri_forward, backward={"x": tri_forward})
impl("triu", "cpu", forward=tri_forward, backward={"x": tri_forward})
impl("repeat", "cpu", forward=repeat_forward, backward={"x": repeat_backward})
impl("diagonal", "cpu", forward=diagonal_forward, backward={"x": diagonal_backward})
