"""CPU implementations of the shape and indexing ops (``ops/shape.py``): numpy views and
copies, and a bounds-checking ``@njit`` scatter-add for the backward of row indexing."""

from __future__ import annotations

import numpy as np
from numba import njit

from ...ops.registry import impl


def reshape(x, shape):
    return x.reshape(shape)


def reshape_back(grad, x_shape):
    return grad.reshape(x_shape)


def broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


def transpose(x, perm):
    return x.transpose(perm)


def transpose_back(grad, plan):
    return grad.transpose(plan)


impl("reshape", "cpu", forward=reshape, backward={"x": reshape_back})
impl("expand", "cpu", forward=broadcast_to)
impl("permute", "cpu", forward=transpose, backward={"x": transpose_back})


@njit(cache=True, error_model="numpy")
def index_add_rows_kernel(out, idx, g):
    # out[idx[i]] += g[i] on the first axis.  The forward checked the index, but a tensor index
    # can still change through .data before backward (torch re-checks too) and Numba does not
    # bounds-check: returns the position of the first index out of range, or -1
    n = out.shape[0]
    for i in range(idx.shape[0]):
        j = idx[i]
        if j < 0:
            j += n
        if j < 0 or j >= n:
            return i
        out[j] += g[i]
    return -1


def getitem(x, index):
    return x[index]


def getitem_backward(grad, plan):
    if grad.dtype == np.float16:
        # Numba has no float16: accumulate repeated rows in float32 (the tape casts back)
        grad = grad.astype(np.float32)
    shape, index = plan.shape, plan.index
    out = np.zeros(shape, dtype=grad.dtype)
    if plan.kind == "basic":
        out[index] = grad
    elif plan.kind == "rows":
        # explicit row length: reshape(0, -1) is ambiguous, and empty indices are valid
        g = np.ascontiguousarray(grad).reshape(index.shape[0], plan.row)
        bad = index_add_rows_kernel(out.reshape(shape[0], plan.row), index, g)
        if bad >= 0:
            raise IndexError(
                f"index {int(index[bad])} is out of bounds for dimension 0 with size "
                f"{shape[0]} (the index was changed after forward)"
            )
    else:
        # numpy bounds-checks here
        np.add.at(out, index, grad)
    return out


impl("getitem", "cpu", forward=getitem, backward={"x": getitem_backward})


def setitem_forward(x, v, index):
    out = x.copy()
    out[index] = v
    return out


def setitem_dx(grad, index):
    g = grad.copy()
    g[index] = 0
    return g


def setitem_dv(grad, index):
    return grad[index]


impl("setitem", "cpu", forward=setitem_forward, backward={"x": setitem_dx, "v": setitem_dv})


def cat_forward(xs, dim):
    return np.concatenate(xs, axis=dim)


def cat_backward(grad, plan):
    return np.split(grad, plan.bounds, axis=plan.dim)


def stack_forward(xs, dim):
    return np.stack(xs, axis=dim)


def stack_backward(grad, xs_shapes, dim):
    return [np.take(grad, i, axis=dim) for i in range(len(xs_shapes))]


impl("cat", "cpu", forward=cat_forward, backward={"xs": cat_backward})
impl("stack", "cpu", forward=stack_forward, backward={"xs": stack_backward})


def view_scatter_forward(base, v, region):
    out = base.copy()
    out.reshape(-1)[region.reshape(-1)] = np.broadcast_to(v, region.shape).reshape(-1)
    return out


def view_scatter_dbase(grad, region):
    g = grad.copy()
    g.reshape(-1)[region.reshape(-1)] = 0
    return g


def view_scatter_dv(grad, region):
    return np.ascontiguousarray(grad).reshape(-1)[region]


impl(
    "view_scatter",
    "cpu",
    forward=view_scatter_forward,
    backward={"base": view_scatter_dbase, "v": view_scatter_dv},
)
