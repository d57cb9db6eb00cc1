"""Reductions: sum, mean, max/min (whole tensor or along a dim), argmax/argmin.

Every reduction runs on a ``(A, R, B)`` view of its input: the reduced axes (made adjacent and
contiguous) form ``R``, the axes before and after form ``A`` and ``B``.  One kernel per reduction
then covers every ``dim``/``keepdim`` combination.  float32 sums accumulate in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..backends.cpu_math import vec_sum
from .registry import Kernel, Op, register

_JIT = {"cache": True, "error_model": "numpy"}


def normalize_dims(dim, ndim):
    """``dim`` (None, int or sequence) -> sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    n = max(ndim, 1)
    out = []
    for d in dims:
        d = int(d)
        if not -n <= d < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
            )
        d = d % n
        if ndim == 0:
            continue
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(sorted(out))


def _prod(xs):
    n = 1
    for v in xs:
        n *= v
    return n


def to_arb(x, axes):
    """View (or copy) ``x`` as ``(A, R, B)`` with ``axes`` flattened into ``R``."""
    shape = x.shape
    if not axes:
        return x.reshape(-1, 1, 1) if x.ndim else x.reshape(1, 1, 1)
    lo, hi = axes[0], axes[-1]
    if hi - lo + 1 != len(axes):
        keep = [i for i in range(x.ndim) if i not in axes]
        x = np.ascontiguousarray(x.transpose(keep + list(axes)))
        r = _prod([shape[i] for i in axes])
        return x.reshape(-1, r, 1)
    a = _prod(shape[:lo])
    r = _prod(shape[lo : hi + 1])
    b = _prod(shape[hi + 1 :])
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x.reshape(a, r, b)


def reduced_shape(shape, axes, keepdim):
    if keepdim:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


@njit(**_JIT)
def sum_arb_kernel(x):
    a_n, r_n, b_n = x.shape
    out = np.zeros((a_n, b_n), dtype=np.float64)
    if b_n == 1:
        # rows are contiguous runs of the flat array (to_arb made x C-contiguous)
        flat = x.reshape(a_n * r_n)
        for a in range(a_n):
            out[a, 0] = vec_sum(flat[a * r_n : (a + 1) * r_n])
        return out
    for a in range(a_n):
        for r in range(r_n):
            for b in range(b_n):
                out[a, b] += x[a, r, b]
    return out


@njit(**_JIT)
def sum_arb_int_kernel(x):
    a_n, r_n, b_n = x.shape
    out = np.zeros((a_n, b_n), dtype=np.int64)
    for a in range(a_n):
        for r in range(r_n):
            for b in range(b_n):
                out[a, b] += x[a, r, b]
    return out


@njit(**_JIT)
def max_arb_kernel(x, sign):
    # sign=+1 for max, -1 for min; NaN wins (torch propagates it), first index on ties
    a_n, r_n, b_n = x.shape
    vals = np.empty((a_n, b_n), dtype=x.dtype)
    idx = np.zeros((a_n, b_n), dtype=np.int64)
    for a in range(a_n):
        for b in range(b_n):
            best = x[a, 0, b]
            bi = 0
            if best == best:
                for r in range(1, r_n):
                    v = x[a, r, b]
                    if v != v:
                        best = v
                        bi = r
                        break
                    if sign * v > sign * best:
                        best = v
                        bi = r
            vals[a, b] = best
            idx[a, b] = bi
    return vals, idx


@njit(**_JIT)
def scatter_arb_kernel(g, idx, r_n):
    # inverse of max along R: the gradient goes to the selected index only
    a_n, b_n = g.shape
    out = np.zeros((a_n, r_n, b_n), dtype=g.dtype)
    for a in range(a_n):
        for b in range(b_n):
            out[a, idx[a, b], b] = g[a, b]
    return out


def _sum(x, axes, keepdim, dtype=None):
    if len(axes) == x.ndim and not keepdim and x.dtype.kind == "f" and x.flags.c_contiguous:
        # whole-tensor sum of a contiguous float tensor: one flat loop (a loss's reduction)
        return np.asarray(vec_sum(x.reshape(-1)), dtype=x.dtype)
    x3 = to_arb(x, axes)
    if x.dtype.kind == "f":
        res = sum_arb_kernel(x3).astype(x.dtype if dtype is None else dtype, copy=False)
    else:
        res = sum_arb_int_kernel(x3.astype(np.int64, copy=False))
    return res.reshape(reduced_shape(x.shape, axes, keepdim))


def sum_forward(x, axes, keepdim):
    return _sum(x, axes, keepdim)


def mean_forward(x, axes, keepdim):
    n = 1
    for a in axes:
        n *= x.shape[a]
    s = _sum(x, axes, keepdim)
    return s / np.asarray(n, dtype=s.dtype) if n else s * np.nan


def expand_back(grad, x_shape, axes):
    """Broadcast a reduced gradient back to the input shape."""
    g = grad.reshape(reduced_shape(x_shape, axes, True))
    out = np.empty(x_shape, dtype=grad.dtype)
    out[...] = g
    return out


def sum_backward(grad, x_shape, axes):
    return expand_back(grad, x_shape, axes)


def mean_backward(grad, x_shape, axes):
    n = 1
    for a in axes:
        n *= x_shape[a]
    return expand_back(grad / np.asarray(n, dtype=grad.dtype), x_shape, axes)


def max_dim_forward(x, axis, keepdim, sign):
    if x.shape[axis] == 0:
        raise IndexError(f"cannot reduce over dimension {axis} of size 0 (shape {x.shape})")
    vals, idx = max_arb_kernel(to_arb(x, (axis,)), sign)
    shape = reduced_shape(x.shape, (axis,), keepdim)
    return vals.reshape(shape), idx.reshape(shape)


def max_dim_backward(grad, x_shape, axis, indices):
    a3 = to_arb(np.empty(x_shape, dtype=np.bool_), (axis,)).shape
    g = np.ascontiguousarray(grad).reshape(a3[0], a3[2])
    out = scatter_arb_kernel(g, np.ascontiguousarray(indices).reshape(a3[0], a3[2]), a3[1])
    return out.reshape(x_shape)


def max_all_forward(x, sign):
    if x.size == 0:
        raise RuntimeError("max(): expected a non-empty tensor; use max(dim=...) on an empty one")
    vals, _ = max_arb_kernel(x.reshape(1, -1, 1), sign)
    return vals.reshape(())


@njit(**_JIT)
def max_all_backward_kernel(grad, x, out):
    # torch's amax rule: ties share the gradient evenly
    count = 0
    for v in x:
        if v == out or (v != v and out != out):
            count += 1
    res = np.zeros_like(x)
    if count == 0:
        return res
    share = grad / count
    for i in range(x.size):
        v = x[i]
        if v == out or (v != v and out != out):
            res[i] = share
    return res


def max_all_backward(grad, x, out):
    flat = np.ascontiguousarray(x).reshape(-1)
    res = max_all_backward_kernel(x.dtype.type(grad), flat, x.dtype.type(out))
    return res.reshape(x.shape)


@njit(**_JIT)
def amax_backward_kernel(g, x, vals):
    # torch's amax/amin rule: the gradient is shared evenly by the tied extreme elements
    a_n, r_n, b_n = x.shape
    out = np.zeros_like(x)
    for a in range(a_n):
        for b in range(b_n):
            v = vals[a, b]
            count = 0
            for r in range(r_n):
                if x[a, r, b] == v or (v != v and x[a, r, b] != x[a, r, b]):
                    count += 1
            if count:
                share = g[a, b] / count
                for r in range(r_n):
                    if x[a, r, b] == v or (v != v and x[a, r, b] != x[a, r, b]):
                        out[a, r, b] = share
    return out


def amax_forward(x, axes, keepdim, sign):
    if x.size == 0:
        raise RuntimeError(f"amax/amin: cannot reduce an empty tensor (shape {x.shape})")
    vals, _ = max_arb_kernel(to_arb(x, axes), sign)
    return vals.reshape(reduced_shape(x.shape, axes, keepdim))


def amax_backward(grad, x, out, axes):
    x3 = to_arb(x, axes)
    g2 = np.ascontiguousarray(grad).reshape(x3.shape[0], x3.shape[2])
    v2 = np.ascontiguousarray(out).reshape(x3.shape[0], x3.shape[2])
    res = amax_backward_kernel(g2, x3, v2)
    if len(axes) and axes[-1] - axes[0] + 1 != len(axes):
        # to_arb moved the reduced axes last; move them back
        keep = [i for i in range(x.ndim) if i not in axes]
        perm = keep + list(axes)
        moved = res.reshape([x.shape[i] for i in perm])
        return np.transpose(moved, np.argsort(perm))
    return res.reshape(x.shape)


register(
    Op(
        "amax",
        ("x",),
        Kernel(cpu=amax_forward, args=("x", "axes", "keepdim", "sign")),
        {"x": Kernel(cpu=amax_backward, args=("grad", "x", "out", "axes"))},
        attrs=("axes", "keepdim", "sign"),
        saves=("x", "out"),
        promote=None,
    )
)
register(
    Op(
        "sum",
        ("x",),
        Kernel(cpu=sum_forward, args=("x", "axes", "keepdim")),
        {"x": Kernel(cpu=sum_backward, args=("grad", "x_shape", "axes"))},
        attrs=("axes", "keepdim"),
        promote=None,
    )
)
register(
    Op(
        "mean",
        ("x",),
        Kernel(cpu=mean_forward, args=("x", "axes", "keepdim")),
        {"x": Kernel(cpu=mean_backward, args=("grad", "x_shape", "axes"))},
        attrs=("axes", "keepdim"),
        promote=None,
    )
)
register(
    Op(
        "max_dim",
        ("x",),
        Kernel(cpu=max_dim_forward, args=("x", "axis", "keepdim", "sign")),
        {"x": Kernel(cpu=max_dim_backward, args=("grad", "x_shape", "axis", "indices"))},
        attrs=("axis", "keepdim", "sign"),
        outputs=("out", "indices"),
        saves=("indices",),
        promote=None,
    )
)
register(
    Op(
        "max_all",
        ("x",),
        Kernel(cpu=max_all_forward, args=("x", "sign")),
        {"x": Kernel(cpu=max_all_backward, args=("grad", "x", "out"))},
        attrs=("sign",),
        saves=("x", "out"),
        promote=None,
    )
)
