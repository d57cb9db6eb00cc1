"""CUDA compute for the index and ordering ops of ``ops/index.py``.

The kernels work on the ``(A, R, B)`` views the plans give (C-contiguous copies where the input
is not): one thread per element for gather/take, one per ``(a, b)`` column where the work along
the axis is sequential (scans, sort, products, scatter where the last write must win).

Every kernel that follows an index checks it first and never reads or writes out of range: the
first bad position goes to a one-element flag array, read once on the host after the launch
(the only host read of these ops) to raise the CPU's error.  Forward errors are the public
functions' (``gather(): index 5 is out of bounds for dimension 0 with size 3``); backward ones
say the index was changed after the forward, as the CPU's do.

Float scatter-adds use atomic adds (repeated indices meet on one element, in any order); other
dtypes add column by column in index order, as the CPU does.
"""

from __future__ import annotations

import math

import numpy as np

from ...ops.registry import impl
from . import kernels, runtime
from .loops import broadcast_view
from .runtime import cuda, device_function, kernel
from .shape import basic_view, transpose_array, view

_I64 = np.dtype(np.int64)
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_ATOMIC = (np.dtype(np.float32), np.dtype(np.float64))


# ---- kernels: indexed reads and writes along the middle axis -----------------------------------


@kernel
def gather_kernel(out, x, idx, bad, n):
    # out[a, i, b] = x[a, idx[a, i, b], b]
    ni = idx.shape[1]
    nb = idx.shape[2]
    nr = x.shape[1]
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < n:
        b = k % nb
        r = k // nb
        i = r % ni
        a = r // ni
        j = idx[a, i, b]
        if j < 0 or j >= nr:
            cuda.atomic.min(bad, 0, k)
        else:
            out[a, i, b] = x[a, j, b]
        k += step


@kernel
def scatter_put_kernel(out, idx, src, bad, ncols):
    # out[a, idx[a, i, b], b] = src[a, i, b], one thread per (a, b) column walking i in order:
    # a repeated index keeps the last write, as numpy's put_along_axis on the CPU
    ni = idx.shape[1]
    nb = idx.shape[2]
    nr = out.shape[1]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        for i in range(ni):
            j = idx[a, i, b]
            if j < 0 or j >= nr:
                cuda.atomic.min(bad, 0, (a * ni + i) * nb + b)
                break
            out[a, j, b] = src[a, i, b]
        c += step


@kernel
def scatter_fill_kernel(out, idx, value, bad, n):
    # out[a, idx[a, i, b], b] = value
    ni = idx.shape[1]
    nb = idx.shape[2]
    nr = out.shape[1]
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < n:
        b = k % nb
        r = k // nb
        i = r % ni
        a = r // ni
        j = idx[a, i, b]
        if j < 0 or j >= nr:
            cuda.atomic.min(bad, 0, k)
        else:
            out[a, j, b] = value
        k += step


@kernel
def scatter_add_atomic_kernel(out, idx, src, bad, n):
    # out[a, idx[a, i, b], b] += src[a, i, b] (float32/float64)
    ni = idx.shape[1]
    nb = idx.shape[2]
    nr = out.shape[1]
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < n:
        b = k % nb
        r = k // nb
        i = r % ni
        a = r // ni
        j = idx[a, i, b]
        if j < 0 or j >= nr:
            cuda.atomic.min(bad, 0, k)
        else:
            cuda.atomic.add(out, (a, j, b), src[a, i, b])
        k += step


@kernel
def scatter_add_serial_kernel(out, idx, src, bad, ncols):
    # the same for dtypes without atomic adds (integers, bool): one thread per column
    ni = idx.shape[1]
    nb = idx.shape[2]
    nr = out.shape[1]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        for i in range(ni):
            j = idx[a, i, b]
            if j < 0 or j >= nr:
                cuda.atomic.min(bad, 0, (a * ni + i) * nb + b)
                break
            out[a, j, b] += src[a, i, b]
        c += step


@kernel
def index_select_kernel(out, x, idx, bad, n):
    # out[a, i, b] = x[a, idx[i], b]
    ni = out.shape[1]
    nb = out.shape[2]
    nr = x.shape[1]
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < n:
        b = k % nb
        r = k // nb
        i = r % ni
        a = r // ni
        j = idx[i]
        if j < 0 or j >= nr:
            cuda.atomic.min(bad, 0, i)
        else:
            out[a, i, b] = x[a, j, b]
        k += step


@kernel
def index_add_kernel(out, g, idx, bad, n):
    # out[a, idx[i], b] += g[a, i, b] (float32/float64)
    ni = g.shape[1]
    nb = g.shape[2]
    nr = out.shape[1]
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < n:
        b = k % nb
        r = k // nb
        i = r % ni
        a = r // ni
        j = idx[i]
        if j < 0 or j >= nr:
            cuda.atomic.min(bad, 0, i)
        else:
            cuda.atomic.add(out, (a, j, b), g[a, i, b])
        k += step


# ---- kernels: scans, products, sort (one thread per (a, b) column) -----------------------------


@kernel
def scan_float_kernel(out, x, product, reverse, ncols):
    # running sum (product=0) or product (1) along the middle axis, accumulated in float64 as
    # the CPU does; reverse=1 runs from the end (cumsum's backward)
    nr = x.shape[1]
    nb = x.shape[2]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        s = np.float64(1.0) if product else np.float64(0.0)
        for t in range(nr):
            r = nr - 1 - t if reverse else t
            if product:
                s *= x[a, r, b]
            else:
                s += x[a, r, b]
            out[a, r, b] = s
        c += step


@kernel
def scan_int_kernel(out, x, product, reverse, ncols):
    # the same for integers and bool, accumulated in int64 (wrapping as numpy's int scans do)
    nr = x.shape[1]
    nb = x.shape[2]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        s = np.int64(1) if product else np.int64(0)
        for t in range(nr):
            r = nr - 1 - t if reverse else t
            if product:
                s *= np.int64(x[a, r, b])
            else:
                s += np.int64(x[a, r, b])
            out[a, r, b] = s
        c += step


@kernel
def cumprod_backward_kernel(res, g, x, out, ncols):
    # torch's cumprod_backward (as the CPU kernel): before the first zero k of a column,
    # d out_j / d x_i = out_j / x_i; at k, out_{k-1} times the products of the later elements;
    # after k, 0 (res holds zeros on entry)
    nr = x.shape[1]
    nb = x.shape[2]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        k = nr
        for r in range(nr):
            if x[a, r, b] == 0:
                k = r
                break
        acc = np.float64(0.0)
        for t in range(k):
            r = k - 1 - t
            acc += g[a, r, b] * out[a, r, b]
            res[a, r, b] = acc / x[a, r, b]
        if k < nr:
            run = np.float64(out[a, k - 1, b]) if k > 0 else np.float64(1.0)
            acc = g[a, k, b] * run
            for r in range(k + 1, nr):
                run *= x[a, r, b]
                acc += g[a, r, b] * run
            res[a, k, b] = acc
        c += step


@kernel
def cummax_kernel(vals, idx, x, sign, ncols):
    # sign +1: cummax, -1: cummin.  As torch: a tie moves the index to the later element, and
    # a NaN, once met, stays (with its index)
    nr = x.shape[1]
    nb = x.shape[2]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        best = x[a, 0, b]
        bi = 0
        for r in range(nr):
            v = x[a, r, b]
            if r > 0 and best == best and (v != v or sign * v >= sign * best):
                best = v
                bi = r
            vals[a, r, b] = best
            idx[a, r, b] = bi
        c += step


@device_function(inline=True)
def _before(u, v, descending):
    # u sorts strictly before v: NaN is the largest value (last ascending, first descending);
    # equal values are not "before", which keeps the merge stable
    if descending:
        return (u != u and v == v) or u > v
    return (v != v and u == u) or u < v


@kernel
def sort_kernel(vals, idx, tv, ti, descending, ncols):
    # bottom-up merge sort of each column, stable (ties keep their order), ping-ponging
    # between (vals, idx) and the scratch (tv, ti); vals holds the column on entry
    nr = vals.shape[1]
    nb = vals.shape[2]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        for r in range(nr):
            idx[a, r, b] = r
        width = 1
        flip = False  # False: the data is in (vals, idx); True: in (tv, ti)
        while width < nr:
            lo = 0
            while lo < nr:
                mid = min(lo + width, nr)
                hi = min(lo + 2 * width, nr)
                i = lo
                j = mid
                o = lo
                while o < hi:
                    if flip:
                        take_right = j < hi and (
                            i >= mid or _before(tv[a, j, b], tv[a, i, b], descending)
                        )
                        if take_right:
                            vals[a, o, b] = tv[a, j, b]
                            idx[a, o, b] = ti[a, j, b]
                            j += 1
                        else:
                            vals[a, o, b] = tv[a, i, b]
                            idx[a, o, b] = ti[a, i, b]
                            i += 1
                    else:
                        take_right = j < hi and (
                            i >= mid or _before(vals[a, j, b], vals[a, i, b], descending)
                        )
                        if take_right:
                            tv[a, o, b] = vals[a, j, b]
                            ti[a, o, b] = idx[a, j, b]
                            j += 1
                        else:
                            tv[a, o, b] = vals[a, i, b]
                            ti[a, o, b] = idx[a, i, b]
                            i += 1
                    o += 1
                lo = hi
            flip = not flip
            width *= 2
        if flip:
            for r in range(nr):
                vals[a, r, b] = tv[a, r, b]
                idx[a, r, b] = ti[a, r, b]
        c += step


@kernel
def prod_float_kernel(out, x, ncols):
    nr = x.shape[1]
    nb = x.shape[2]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        s = np.float64(1.0)
        for r in range(nr):
            s *= x[a, r, b]
        out[c] = s
        c += step


@kernel
def prod_int_kernel(out, x, ncols):
    nr = x.shape[1]
    nb = x.shape[2]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        s = np.int64(1)
        for r in range(nr):
            s *= np.int64(x[a, r, b])
        out[c] = s
        c += step


@kernel
def prod_backward_kernel(res, g, x, out, ncols):
    # torch's prod_backward: grad * out / x where no element of a product is 0; where one is,
    # that element gets grad times the product of the others and the rest 0; two or more: 0
    nr = x.shape[1]
    nb = x.shape[2]
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < ncols:
        b = c % nb
        a = c // nb
        zeros = 0
        others = np.float64(1.0)
        for r in range(nr):
            v = x[a, r, b]
            if v == 0:
                zeros += 1
            else:
                others *= v
        gc = g[c]
        for r in range(nr):
            v = x[a, r, b]
            if zeros == 0:
                res[a, r, b] = gc * (out[c] / v)
            elif zeros == 1 and v == 0:
                res[a, r, b] = gc * others
            else:
                res[a, r, b] = 0
        c += step


# ---- kernels: flip, tril/triu ------------------------------------------------------------------


@kernel
def flip_kernel(out, x, n):
    # out[a, r, b] = x[a, R - 1 - r, b]
    nr = x.shape[1]
    nb = x.shape[2]
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < n:
        b = k % nb
        t = k // nb
        r = t % nr
        a = t // nr
        out[a, r, b] = x[a, nr - 1 - r, b]
        k += step


@kernel
def tri_kernel(out, x, diagonal, upper, n):
    # tril keeps column - row <= diagonal, triu keeps column - row >= diagonal
    nr = x.shape[1]
    nc = x.shape[2]
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < n:
        col = k % nc
        t = k // nc
        row = t % nr
        a = t // nr
        d = col - row
        keep = d >= diagonal if upper else d <= diagonal
        if keep:
            out[a, row, col] = x[a, row, col]
        else:
            out[a, row, col] = 0
        k += step


# ---- helpers -----------------------------------------------------------------------------------


def _arb(shape, axis):
    shape = tuple(shape)
    if not shape:
        return (1, 1, 1)
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


def _c3(a, arb, dtype=None):
    """``a`` as a C-contiguous ``arb``-shaped array (of ``dtype``: a cast copy)."""
    if dtype is not None and np.dtype(dtype) != a.dtype:
        a = kernels.copy_into(runtime.empty(a.shape, np.dtype(dtype)), a)
    return kernels.contiguous(a).reshape(arb)


def _zeros(shape, dtype):
    return kernels.fill(runtime.empty(tuple(shape), np.dtype(dtype)), 0)


def _acc_dtype(dtype):
    # float16 has no atomic add here: accumulate in float32 (the tape casts gradients back)
    return _F32 if dtype == _F16 else dtype


def _new_flag():
    return kernels.fill(runtime.empty((1,), _I64), np.iinfo(np.int64).max)


def _raise_if_bad(flag, idx_flat, error):
    """The one host read of an index kernel: the first bad position (or none)."""
    p = int(runtime.to_host(flag)[0])
    if p != np.iinfo(np.int64).max:
        value = int(runtime.to_host(idx_flat[p : p + 1])[0])
        raise error(value)


def _changed(axis, size):
    def error(value):
        return RuntimeError(
            f"index {value} is out of bounds for dimension {axis} with size {size} (the index "
            "tensor was changed after the forward)"
        )

    return error


def _forward_bounds(fname, axis, size):
    def error(value):
        return RuntimeError(
            f"{fname}(): index {value} is out of bounds for dimension {axis} with size {size}"
        )

    return error


def _index3(index, plan_axis):
    arb = _arb(index.shape, plan_axis)
    return _c3(index, arb, _I64), arb


def _scatter_add_into(out3, idx3, src3, error):
    """``out3[a, idx3[a, i, b], b] += src3[a, i, b]``; out3 contiguous (A, R, B)."""
    a_n, i_n, b_n = idx3.shape
    n = a_n * i_n * b_n
    if not n:
        return
    flag = _new_flag()
    if out3.dtype in _ATOMIC:
        runtime.launch(scatter_add_atomic_kernel, n)(out3, idx3, src3, flag, n)
    else:
        runtime.launch(scatter_add_serial_kernel, a_n * b_n)(out3, idx3, src3, flag, a_n * b_n)
    _raise_if_bad(flag, idx3.reshape(n), error)


def _gather3(x3, idx3, error):
    a_n, i_n, b_n = idx3.shape
    out = runtime.empty((a_n, i_n, b_n), x3.dtype)
    n = a_n * i_n * b_n
    if n:
        flag = _new_flag()
        runtime.launch(gather_kernel, n)(out, x3, idx3, flag, n)
        _raise_if_bad(flag, idx3.reshape(n), error)
    return out


def _region(a, region):
    return a if region is None else basic_view(a, region)


# ---- gather, scatter, scatter_add --------------------------------------------------------------


def gather_forward(x, index, plan):
    idx3, (a_n, _, b_n) = _index3(index, plan.axis)
    xr = _region(x, plan.region)
    x3 = _c3(xr, (a_n, plan.x_shape[plan.axis] if plan.x_shape else 1, b_n))
    size = plan.x_shape[plan.axis] if plan.x_shape else 1
    out = _gather3(x3, idx3, _forward_bounds("gather", plan.axis, size))
    return out.reshape(index.shape)


def _scatter_add_region(out, index, src, plan, error):
    """``out[region] += src`` scattered through ``index`` (out contiguous)."""
    idx3, (a_n, _, b_n) = _index3(index, plan.axis)
    size = plan.x_shape[plan.axis] if plan.x_shape else 1
    src3 = _c3(src, idx3.shape, out.dtype)
    if plan.region is None:
        _scatter_add_into(out.reshape(a_n, size, b_n), idx3, src3, error)
        return
    view = basic_view(out, plan.region)
    tmp = _c3(view, (a_n, size, b_n))
    _scatter_add_into(tmp, idx3, src3, error)
    kernels.copy_into(view, tmp.reshape(view.shape))


def gather_backward(grad, index, plan):
    out = _zeros(plan.x_shape, _acc_dtype(grad.dtype))
    size = plan.x_shape[plan.axis] if plan.x_shape else 1
    _scatter_add_region(out, index, grad, plan, _changed(plan.axis, size))
    return out


def _src_region(src, plan):
    return _region(src, plan.src_region)


def scatter_forward(x, index, src, plan):
    out = kernels.copy_into(runtime.empty(x.shape, x.dtype), x)
    idx3, (a_n, i_n, b_n) = _index3(index, plan.axis)
    size = plan.x_shape[plan.axis] if plan.x_shape else 1
    src3 = _c3(_src_region(src, plan), idx3.shape, x.dtype)
    view = _region(out, plan.region)
    tmp = _c3(view, (a_n, size, b_n))
    ncols = a_n * b_n
    if ncols and i_n:
        flag = _new_flag()
        runtime.launch(scatter_put_kernel, ncols)(tmp, idx3, src3, flag, ncols)
        _raise_if_bad(
            flag, idx3.reshape(a_n * i_n * b_n), _forward_bounds("scatter", plan.axis, size)
        )
    if plan.region is not None:
        kernels.copy_into(view, tmp.reshape(view.shape))
    return out


def scatter_dx(grad, index, plan):
    g = kernels.copy_into(runtime.empty(grad.shape, grad.dtype), grad)
    idx3, (a_n, i_n, b_n) = _index3(index, plan.axis)
    size = plan.x_shape[plan.axis] if plan.x_shape else 1
    view = _region(g, plan.region)
    tmp = _c3(view, (a_n, size, b_n))
    n = a_n * i_n * b_n
    if n:
        flag = _new_flag()
        runtime.launch(scatter_fill_kernel, n)(tmp, idx3, tmp.dtype.type(0), flag, n)
        _raise_if_bad(flag, idx3.reshape(n), _changed(plan.axis, size))
    if plan.region is not None:
        kernels.copy_into(view, tmp.reshape(view.shape))
    return g


def scatter_dsrc(grad, index, plan):
    idx3, (a_n, _, b_n) = _index3(index, plan.axis)
    size = plan.x_shape[plan.axis] if plan.x_shape else 1
    g3 = _c3(_region(grad, plan.region), (a_n, size, b_n))
    r = _gather3(g3, idx3, _changed(plan.axis, size)).reshape(index.shape)
    if plan.src_region is None:
        return r
    out = _zeros(plan.src_shape, grad.dtype)
    kernels.copy_into(basic_view(out, plan.src_region), r)
    return out


def scatter_add_forward(x, index, src, plan):
    dt = x.dtype
    out = kernels.copy_into(runtime.empty(x.shape, _acc_dtype(dt)), x)
    size = plan.x_shape[plan.axis] if plan.x_shape else 1
    _scatter_add_region(
        out, index, _src_region(src, plan), plan, _forward_bounds("scatter_add", plan.axis, size)
    )
    if out.dtype == dt:
        return out
    return kernels.copy_into(runtime.empty(x.shape, dt), out)


def scatter_add_dx(grad):
    return grad


impl("gather", "cuda", forward=gather_forward, backward={"x": gather_backward})
impl("scatter", "cuda", forward=scatter_forward, backward={"x": scatter_dx, "src": scatter_dsrc})
impl(
    "scatter_add",
    "cuda",
    forward=scatter_add_forward,
    backward={"x": scatter_add_dx, "src": scatter_dsrc},
)

# ---- index_select ------------------------------------------------------------------------------


def _select_bounds(axis, size):
    def error(value):
        # torch's two checks: an IndexError along dim 0, a RuntimeError along the others
        if axis == 0:
            return IndexError(
                f"index out of range in self (index_select(): index {value}, dimension 0 with "
                f"size {size})"
            )
        return RuntimeError(
            f"index_select(): index {value} is out of range for dimension {axis} with size "
            f"{size} (INDICES element is out of DATA bounds, id={value} axis_dim={size})"
        )

    return error


def index_select_forward(x, index, plan):
    a_n, r_n, b_n = plan.arb
    idx = _c3(index, (index.shape[0] if index.ndim else 1,), _I64)
    ni = idx.shape[0]
    out = runtime.empty((a_n, ni, b_n), x.dtype)
    n = a_n * ni * b_n
    if n:
        flag = _new_flag()
        runtime.launch(index_select_kernel, n)(out, _c3(x, plan.arb), idx, flag, n)
        _raise_if_bad(flag, idx, _select_bounds(plan.axis, r_n))
    shape = plan.shape[: plan.axis] + (ni,) + plan.shape[plan.axis + 1 :]
    return out.reshape(shape)


def index_select_backward(grad, index, plan):
    a_n, r_n, b_n = plan.arb
    dt = _acc_dtype(grad.dtype)
    out = _zeros(plan.arb, dt)
    idx = _c3(index, (index.shape[0] if index.ndim else 1,), _I64)
    ni = idx.shape[0]
    n = a_n * ni * b_n
    if n:
        flag = _new_flag()
        g3 = _c3(grad, (a_n, ni, b_n), dt)
        runtime.launch(index_add_kernel, n)(out, g3, idx, flag, n)
        _raise_if_bad(flag, idx, _changed(plan.axis, r_n))
    return out.reshape(plan.shape)


impl("index_select", "cuda", forward=index_select_forward, backward={"x": index_select_backward})

# ---- scans -------------------------------------------------------------------------------------


def _scan(x, plan, product, reverse):
    out = runtime.empty(x.shape, x.dtype)
    if x.ndim == 0:
        return kernels.copy_into(out, x)
    a_n, r_n, b_n = plan.arb
    ncols = a_n * b_n
    if ncols and r_n:
        k = scan_float_kernel if x.dtype.kind == "f" else scan_int_kernel
        runtime.launch(k, ncols)(out.reshape(plan.arb), _c3(x, plan.arb), product, reverse, ncols)
    return out


def cumsum_forward(x, plan):
    return _scan(x, plan, 0, 0)


def cumsum_backward(grad, plan):
    if grad.ndim == 0:
        return grad
    return _scan(grad, plan, 0, 1)


def cumprod_forward(x, plan):
    return _scan(x, plan, 1, 0)


def cumprod_backward(grad, x, out, plan):
    arb = plan.arb
    res = _zeros(arb, grad.dtype)
    ncols = arb[0] * arb[2]
    if ncols and arb[1]:
        runtime.launch(cumprod_backward_kernel, ncols)(
            res, _c3(grad, arb), _c3(x, arb), _c3(out, arb), ncols
        )
    return res.reshape(plan.shape)


def cummax_forward(x, sign, plan):
    vals = runtime.empty(x.shape, x.dtype)
    idx = runtime.empty(x.shape, _I64)
    ncols = plan.arb[0] * plan.arb[2]
    if math.prod(x.shape) and ncols:
        runtime.launch(cummax_kernel, ncols)(
            vals.reshape(plan.arb), idx.reshape(plan.arb), _c3(x, plan.arb), sign, ncols
        )
    return vals, idx


def cummax_backward(grad, indices, plan):
    out = _zeros(plan.arb, grad.dtype)
    _scatter_add_into(
        out, _c3(indices, plan.arb, _I64), _c3(grad, plan.arb), _changed(plan.axis, plan.arb[1])
    )
    return out.reshape(plan.shape)


impl("cumsum", "cuda", forward=cumsum_forward, backward={"x": cumsum_backward})
impl("cumprod", "cuda", forward=cumprod_forward, backward={"x": cumprod_backward})
impl("cummax", "cuda", forward=cummax_forward, backward={"x": cummax_backward})
impl("cummin", "cuda", forward=cummax_forward, backward={"x": cummax_backward})

# ---- sort --------------------------------------------------------------------------------------


def sort_forward(x, descending, plan):
    if x.ndim == 0:
        return kernels.copy_into(runtime.empty((), x.dtype), x), _zeros((), _I64)
    # float16 sorts as float32 (no half comparisons here); the values convert back exactly
    key_dt = _F32 if x.dtype == _F16 else x.dtype
    vals = kernels.copy_into(runtime.empty(x.shape, key_dt), x)
    idx = runtime.empty(x.shape, _I64)
    ncols = plan.arb[0] * plan.arb[2]
    if math.prod(x.shape):
        tv = runtime.empty(plan.arb, key_dt)
        ti = runtime.empty(plan.arb, _I64)
        runtime.launch(sort_kernel, ncols)(
            vals.reshape(plan.arb), idx.reshape(plan.arb), tv, ti, bool(descending), ncols
        )
    if key_dt != x.dtype:
        vals = kernels.copy_into(runtime.empty(x.shape, x.dtype), vals)
    return vals, idx


def sort_backward(grad, indices, plan):
    if grad.ndim == 0:
        return grad
    dt = _acc_dtype(grad.dtype)
    out = _zeros(plan.arb, dt)
    _scatter_add_into(
        out,
        _c3(indices, plan.arb, _I64),
        _c3(grad, plan.arb, dt),
        _changed(plan.axis, plan.arb[1]),
    )
    return out.reshape(plan.shape)


impl("sort", "cuda", forward=sort_forward, backward={"x": sort_backward})

# ---- prod --------------------------------------------------------------------------------------


def _reduced_layout(x, plan):
    """``x`` as the contiguous ``(A, R, B)`` array of the reduce plan (permuted if needed)."""
    if plan.perm is not None:
        x = transpose_array(x, plan.perm)
    return _c3(x, plan.arb)


def prod_forward(x, plan):
    a_n, _, b_n = plan.arb
    ncols = a_n * b_n
    out = runtime.empty((ncols,), x.dtype)
    if ncols:
        k = prod_float_kernel if x.dtype.kind == "f" else prod_int_kernel
        runtime.launch(k, ncols)(out, _reduced_layout(x, plan), ncols)
    return out.reshape(plan.out_shape)


def prod_backward(grad, x, out, plan):
    a_n, _, b_n = plan.arb
    ncols = a_n * b_n
    res = runtime.empty(plan.arb, x.dtype)
    if ncols and plan.arb[1]:
        g = _c3(grad, (ncols,), x.dtype)
        o = _c3(out, (ncols,))
        runtime.launch(prod_backward_kernel, ncols)(res, g, _reduced_layout(x, plan), o, ncols)
    if plan.perm is None:
        return res.reshape(plan.shape)
    permuted = res.reshape(tuple(plan.shape[p] for p in plan.perm))
    return kernels.contiguous(transpose_array(permuted, plan.inv_perm))


impl("prod", "cuda", forward=prod_forward, backward={"x": prod_backward})

# ---- roll, flip, tril/triu, repeat, diagonal ---------------------------------------------------


def _along(a, dim, lo, hi):
    return basic_view(a, (slice(None),) * dim + (slice(lo, hi),))


def _roll(x, shifts, dims):
    cur = x
    for s, d in zip(shifts, dims):
        n = x.shape[d]
        out = runtime.empty(x.shape, x.dtype)
        if not math.prod(x.shape):
            return out
        s %= n
        if s:
            kernels.copy_into(_along(out, d, s, n), _along(cur, d, 0, n - s))
            kernels.copy_into(_along(out, d, 0, s), _along(cur, d, n - s, n))
        else:
            kernels.copy_into(out, cur)
        cur = out
    if cur is x:
        cur = kernels.copy_into(runtime.empty(x.shape, x.dtype), x)
    return cur


def roll_forward(x, shifts, dims):
    return _roll(x, shifts, dims)


def roll_backward(grad, shifts, dims):
    return _roll(grad, tuple(-s for s in shifts), dims)


def flip_forward(x, dims):
    cur = kernels.contiguous(x)
    n = math.prod(x.shape)
    for d in dims:
        out = runtime.empty(x.shape, x.dtype)
        if n:
            arb = _arb(x.shape, d)
            runtime.launch(flip_kernel, n)(out.reshape(arb), cur.reshape(arb), n)
        cur = out
    if cur is x:  # no dims: still a copy, as np.ascontiguousarray(np.flip(...)) of a view
        cur = kernels.copy_into(runtime.empty(x.shape, x.dtype), x)
    return cur


def tri_forward(x, diagonal, upper):
    shape = tuple(x.shape)  # the simulator's shapes refuse negative indices
    rows, cols = shape[-2], shape[-1]
    batch = math.prod(shape[:-2])
    out = runtime.empty(x.shape, x.dtype)
    n = batch * rows * cols
    if n:
        runtime.launch(tri_kernel, n)(
            out.reshape(batch, rows, cols),
            _c3(x, (batch, rows, cols)),
            int(diagonal),
            bool(upper),
            n,
        )
    return out


def repeat_forward(x, plan):
    # tile one dim at a time: x viewed (A, 1, R, B) broadcast to (A, r, R, B), copied
    cur = _c3(x, plan.padded)
    shape = list(plan.padded)
    for d, r in enumerate(plan.repeats):
        if r == 1:
            continue
        a_n, r_n, b_n = math.prod(shape[:d]), shape[d], math.prod(shape[d + 1 :])
        src = broadcast_view(cur.reshape(a_n, 1, r_n, b_n), (a_n, r, r_n, b_n))
        shape[d] = r * r_n
        out = runtime.empty(tuple(shape), x.dtype)
        if math.prod(shape):
            kernels.copy_into(out.reshape(a_n, r, r_n, b_n), src)
        cur = out
    if cur is x or runtime.base_key(cur) == runtime.base_key(x):
        cur = kernels.copy_into(runtime.empty(tuple(shape), x.dtype), cur)
    return cur.reshape(tuple(shape))


def repeat_backward(grad, plan):
    # grad viewed as (r0, s0, r1, s1, ...): sum over every r axis, one axis at a time
    g = kernels.contiguous(grad).reshape(plan.split)
    shape = list(plan.split)
    for d in reversed(plan.sum_axes):
        a_n, r_n, b_n = math.prod(shape[:d]), shape[d], math.prod(shape[d + 1 :])
        if r_n != 1:
            g = kernels.sum_arb(g, a_n, r_n, b_n)
        shape.pop(d)
        g = g.reshape(tuple(shape))
    return g.reshape(plan.x_shape)


def _diagonal_view(x, offset, dim1, dim2):
    n1, n2 = x.shape[dim1], x.shape[dim2]
    r0, c0 = max(-offset, 0), max(offset, 0)
    n = max(0, min(n1 - r0, n2 - c0))
    keep = [d for d in range(x.ndim) if d not in (dim1, dim2)]
    shape = tuple(x.shape[d] for d in keep) + (n,)
    strides = tuple(x.strides[d] for d in keep) + (x.strides[dim1] + x.strides[dim2],)
    start = [0] * x.ndim
    start[dim1], start[dim2] = r0, c0
    return view(x, shape, strides, start)


def diagonal_forward(x, offset, dim1, dim2):
    v = _diagonal_view(x, offset, dim1, dim2)
    return kernels.copy_into(runtime.empty(v.shape, x.dtype), v)


def diagonal_backward(grad, x_shape, offset, dim1, dim2):
    out = _zeros(x_shape, grad.dtype)
    kernels.copy_into(_diagonal_view(out, offset, dim1, dim2), grad)
    return out


impl("roll", "cuda", forward=roll_forward, backward={"x": roll_backward})
impl("flip", "cuda", forward=flip_forward, backward={"x": flip_forward})
impl("tril", "cuda", forward=tri_forward, backward={"x": tri_forward})
impl("triu", "cuda", forward=tri_forward, backward={"x": tri_forward})
impl("repeat", "cuda", forward=repeat_forward, backward={"x": repeat_backward})
impl("diagonal", "cuda", forward=diagonal_forward, backward={"x": diagonal_backward})
