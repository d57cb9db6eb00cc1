"""The reference device's implementations for the issue 11 area 'tensor_ops' (numpy, plain).

Written from each op's meaning with numpy (``np.add.at`` for accumulation, explicit loops where
that is clearest), reading the plans of ``numgrad/ops/index.py``; nothing is shared with
``numgrad/devices/cpu/index.py``.
"""

from __future__ import annotations

import numpy as np


def _region(a, region):
    return a if region is None else a[region]


def _grid(index, axis):
    """numpy advanced-index tuple addressing ``a[..., index[...], ...]`` along ``axis``."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[axis] = index
    return tuple(grids)


def _float(dtype):
    return np.float32 if dtype == np.float16 else dtype


def gather_forward(x, index, plan):
    return _region(x, plan.region)[_grid(index, plan.axis)]


def gather_backward(grad, index, plan):
    out = np.zeros(plan.x_shape, _float(grad.dtype))
    np.add.at(_region(out, plan.region), _grid(index, plan.axis), grad)
    return out


def scatter_forward(x, index, src, plan):
    out = x.copy()
    _region(out, plan.region)[_grid(index, plan.axis)] = _region(src, plan.src_region)
    return out


def scatter_dx(grad, index, plan):
    g = grad.copy()
    _region(g, plan.region)[_grid(index, plan.axis)] = 0
    return g


def scatter_dsrc(grad, index, plan):
    out = np.zeros(plan.src_shape, grad.dtype)
    tgt = index.shape
    out[tuple(slice(0, s) for s in tgt)] = _region(grad, plan.region)[_grid(index, plan.axis)]
    return out


def scatter_add_forward(x, index, src, plan):
    out = x.astype(_float(x.dtype))
    np.add.at(_region(out, plan.region), _grid(index, plan.axis), _region(src, plan.src_region))
    return out.astype(x.dtype)


def scatter_add_dx(grad):
    return grad


def index_select_forward(x, index, plan):
    return np.take(x, index, axis=plan.axis)


def index_select_backward(grad, index, plan):
    out = np.zeros(plan.shape, _float(grad.dtype))
    moved = np.moveaxis(out, plan.axis, 0)
    np.add.at(moved, index, np.moveaxis(grad, plan.axis, 0))
    return out


def cumsum_forward(x, plan):
    if x.ndim == 0:
        return x.copy()
    acc = np.float64 if x.dtype.kind == "f" else x.dtype
    return np.cumsum(x.astype(acc), axis=plan.axis).astype(x.dtype)


def cumsum_backward(grad, plan):
    if grad.ndim == 0:
        return grad.copy()
    rev = np.flip(grad, plan.axis).astype(np.float64)
    return np.flip(np.cumsum(rev, axis=plan.axis), plan.axis).astype(grad.dtype)


def cumprod_forward(x, plan):
    if x.ndim == 0:
        return x.copy()
    acc = np.float64 if x.dtype.kind == "f" else x.dtype
    return np.cumprod(x.astype(acc), axis=plan.axis).astype(x.dtype)


def cumprod_backward(grad, x, out, plan):
    # d out_j / d x_i = prod_{l <= j, l != i} x_l for j >= i: written out, O(n^2) per row
    if x.size == 0:
        return np.zeros(plan.shape, x.dtype)
    g = np.moveaxis(np.reshape(grad, plan.shape), plan.axis, -1).reshape(-1, plan.arb[1])
    xs = np.moveaxis(np.reshape(x, plan.shape), plan.axis, -1).reshape(-1, plan.arb[1])
    res = np.zeros_like(xs)
    n = xs.shape[1]
    for r in range(xs.shape[0]):
        for i in range(n):
            total = 0.0
            for j in range(i, n):
                others = np.delete(xs[r, : j + 1], i)
                total += g[r, j] * np.prod(others)
            res[r, i] = total
    moved = res.reshape(np.moveaxis(np.empty(plan.shape), plan.axis, -1).shape)
    return np.moveaxis(moved, -1, plan.axis).reshape(plan.shape)


def cummax_forward(x, sign, plan):
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    xs = np.moveaxis(x, plan.axis, -1)
    vals = np.empty_like(xs)
    idx = np.empty(xs.shape, np.int64)
    for pos in np.ndindex(*xs.shape[:-1]):
        row = xs[pos]
        best, bi = None, 0
        for r, v in enumerate(row):
            if best is None or (not np.isnan(best) and (np.isnan(v) or sign * v >= sign * best)):
                best, bi = v, r
            vals[pos + (r,)] = best
            idx[pos + (r,)] = bi
    return np.moveaxis(vals, -1, plan.axis), np.moveaxis(idx, -1, plan.axis)


def cummax_backward(grad, indices, plan):
    out = np.zeros(plan.shape, grad.dtype)
    if grad.ndim == 0:
        return grad.copy()
    np.add.at(out, _grid(indices, plan.axis), grad)
    return out


def sort_forward(x, descending, plan):
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    xs = np.moveaxis(x, plan.axis, -1)
    idx = np.empty(xs.shape, np.int64)
    for pos in np.ndindex(*xs.shape[:-1]):
        row = [v.item() for v in xs[pos]]

        def key(i, row=row):
            v = row[i]
            nan = v != v
            # NaN is the largest value; descending order flips the keys, ties keep positions
            if descending:
                return (0 if nan else 1, 0 if nan else -v, i)
            return (1 if nan else 0, 0 if nan else v, i)

        idx[pos] = sorted(range(len(row)), key=key)
    idx = np.moveaxis(idx, -1, plan.axis)
    return np.take_along_axis(x, idx, plan.axis), np.ascontiguousarray(idx)


def sort_backward(grad, indices, plan):
    if grad.ndim == 0:
        return grad.copy()
    out = np.zeros(plan.shape, grad.dtype)
    out[_grid(indices, plan.axis)] = grad
    return out


def prod_forward(x, plan):
    return np.asarray(np.prod(x, axis=plan.axes)).reshape(plan.out_shape)


def prod_backward(grad, x, out, plan):
    # the product of the other elements of each product, element by element
    if x.ndim == 0:
        return np.asarray(grad, x.dtype).copy()
    g = np.broadcast_to(np.reshape(grad, plan.keep_shape), x.shape)
    res = np.zeros_like(x)
    axes = plan.axes
    for pos in np.ndindex(*x.shape):
        sel = tuple(slice(None) if d in axes else p for d, p in enumerate(pos))
        group = x[sel]
        mine = tuple(p for d, p in enumerate(pos) if d in axes)
        mask = np.ones(group.shape, bool)
        mask[mine] = False
        res[pos] = g[pos] * np.prod(group[mask])
    return res


def roll_forward(x, shifts, dims):
    return np.roll(x, shifts, dims)


def roll_backward(grad, shifts, dims):
    return np.roll(grad, [-s for s in shifts], dims)


def flip_forward(x, dims):
    return np.flip(x, dims).copy()


def tri_forward(x, diagonal, upper):
    rows, cols = x.shape[-2:]
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    keep = (j - i >= diagonal) if upper else (j - i <= diagonal)
    return np.where(keep, x, np.zeros((), x.dtype))


def repeat_forward(x, plan):
    out = x.reshape(plan.padded)
    for axis, r in enumerate(plan.repeats):
        out = np.concatenate([out] * r, axis=axis) if r else np.take(out, [], axis=axis)
    return out


def repeat_backward(grad, plan):
    g = grad
    for axis, (r, s) in enumerate(zip(plan.repeats, plan.padded)):
        pieces = [np.take(g, range(k * s, (k + 1) * s), axis=axis) for k in range(r)]
        g = np.sum(pieces, axis=0) if pieces else np.take(g, [], axis=axis)
        if not pieces:
            g = np.zeros(g.shape[:axis] + (s,) + g.shape[axis + 1 :], grad.dtype)
    return g.reshape(plan.x_shape)


def diagonal_forward(x, offset, dim1, dim2):
    return np.diagonal(x, offset, dim1, dim2).copy()


def diagonal_backward(grad, x_shape, offset, dim1, dim2):
    out = np.zeros(x_shape, grad.dtype)
    moved = np.moveaxis(out, (dim1, dim2), (-2, -1))
    for k in range(grad.shape[-1]):
        i, j = (k, k + offset) if offset >= 0 else (k - offset, k)
        moved[..., i, j] = grad[..., k]
    return out


IMPLS = {
    "gather": (gather_forward, {"x": gather_backward}),
    "scatter": (scatter_forward, {"x": scatter_dx, "src": scatter_dsrc}),
    "scatter_add": (scatter_add_forward, {"x": scatter_add_dx, "src": scatter_dsrc}),
    "index_select": (index_select_forward, {"x": index_select_backward}),
    "cumsum": (cumsum_forward, {"x": cumsum_backward}),
    "cumprod": (cumprod_forward, {"x": cumprod_backward}),
    "cummax": (cummax_forward, {"x": cummax_backward}),
    "cummin": (cummax_forward, {"x": cummax_backward}),
    "sort": (sort_forward, {"x": sort_backward}),
    "prod": (prod_forward, {"x": prod_backward}),
    "roll": (roll_forward, {"x": roll_backward}),
    "flip": (flip_forward, {"x": flip_forward}),
    "tril": (tri_forward, {"x": tri_forward}),
    "triu": (tri_forward, {"x": tri_forward}),
    "repeat": (repeat_forward, {"x": repeat_backward}),
    "diagonal": (diagonal_forward, {"x": diagonal_backward}),
}
