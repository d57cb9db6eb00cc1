"""Shape and indexing ops.  Their CPU kernels are numpy views (no arithmetic to compile);
the backward rules move the gradient back into the input's layout."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .elementwise import identity
from .registry import Kernel, Op, register


def reshape_back(grad, x_shape):
    return grad.reshape(x_shape)


_back = Kernel(cpu=reshape_back, args=("grad", "x_shape"), fresh=False)

register(
    Op(
        "reshape",
        ("x",),
        Kernel(cpu=lambda x, shape: x.reshape(shape), args=("x", "shape"), name="reshape"),
        {"x": _back},
        attrs=("shape",),
        promote=None,
    )
)
register(
    Op(
        "expand",
        ("x",),
        Kernel(
            cpu=lambda x, shape: np.broadcast_to(x, shape), args=("x", "shape"), name="broadcast_to"
        ),
        {"x": identity},
        attrs=("shape",),
        promote=None,
    )
)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


register(
    Op(
        "permute",
        ("x",),
        Kernel(cpu=lambda x, perm: x.transpose(perm), args=("x", "perm"), name="transpose"),
        {
            "x": Kernel(
                cpu=lambda grad, perm: grad.transpose(_inverse(perm)),
                args=("grad", "perm"),
                name="transpose_back",
                fresh=False,
            )
        },
        attrs=("perm",),
        promote=None,
    )
)


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in items)


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


def getitem_backward(grad, x_shape, index):
    if grad.dtype == np.float16:
        # Numba has no float16: accumulate repeated rows in float32 (the tape casts back)
        grad = grad.astype(np.float32)
    out = np.zeros(x_shape, dtype=grad.dtype)
    if _is_basic(index):
        out[index] = grad
    elif (
        isinstance(index, np.ndarray)
        and index.ndim == 1
        and index.dtype.kind == "i"
        and len(x_shape) >= 1
    ):
        # explicit row length: reshape(0, -1) is ambiguous, and empty indices are valid
        row = math.prod(x_shape[1:])
        g = np.ascontiguousarray(grad).reshape(index.shape[0], row)
        bad = index_add_rows_kernel(out.reshape(x_shape[0], row), index, g)
        if bad >= 0:
            raise IndexError(
                f"index {int(index[bad])} is out of bounds for dimension 0 with size "
                f"{x_shape[0]} (the index was changed after forward)"
            )
    else:
        # numpy bounds-checks here
        np.add.at(out, index, grad)
    return out


register(
    Op(
        "getitem",
        ("x",),
        Kernel(cpu=lambda x, index: x[index], args=("x", "index"), name="index"),
        {"x": Kernel(cpu=getitem_backward, args=("grad", "x_shape", "index"))},
        attrs=("index",),
        promote=None,
    )
)


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


register(
    Op(
        "setitem",
        ("x", "v"),
        Kernel(cpu=setitem_forward, args=("x", "v", "index")),
        {
            "x": Kernel(cpu=setitem_dx, args=("grad", "index")),
            "v": Kernel(cpu=setitem_dv, args=("grad", "index"), fresh=False),
        },
        attrs=("index",),
        promote=None,
    )
)


def cat_forward(xs, dim):
    return np.concatenate(xs, axis=dim)


def cat_backward(grad, xs_shapes, dim):
    bounds = np.cumsum([s[dim] for s in xs_shapes])[:-1]
    return np.split(grad, bounds, axis=dim)


def stack_forward(xs, dim):
    return np.stack(xs, axis=dim)


def stack_backward(grad, xs_shapes, dim):
    return [np.take(grad, i, axis=dim) for i in range(len(xs_shapes))]


register(
    Op(
        "cat",
        ("xs",),
        Kernel(cpu=cat_forward, args=("xs", "dim")),
        {"xs": Kernel(cpu=cat_backward, args=("grad", "xs_shapes", "dim"), fresh=False)},
        attrs=("dim",),
        variadic=True,
        promote=None,
    )
)
register(
    Op(
        "stack",
        ("xs",),
        Kernel(cpu=stack_forward, args=("xs", "dim")),
        {"xs": Kernel(cpu=stack_backward, args=("grad", "xs_shapes", "dim"), fresh=False)},
        attrs=("dim",),
        variadic=True,
        promote=None,
    )
)


# In-place ops on views rewrite the base's history through this op (see functional._rebase):
# ``region`` holds, shaped like the view, the flat indices of the base that the view covers.


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


register(
    Op(
        "view_scatter",
        ("base", "v"),
        Kernel(cpu=view_scatter_forward, args=("base", "v", "region")),
        {
            "base": Kernel(cpu=view_scatter_dbase, args=("grad", "region")),
            "v": Kernel(cpu=view_scatter_dv, args=("grad", "region")),
        },
        attrs=("region",),
        promote=None,
    )
)
