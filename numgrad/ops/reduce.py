"""Reductions: sum, mean, max/min (whole tensor or along a dim), argmax/argmin, var/std, norm.

Every reduction runs on a ``(A, R, B)`` view of its input: the reduced axes (made adjacent and
contiguous) form ``R``, the axes before and after form ``A`` and ``B``.  One kernel per reduction
then covers every ``dim``/``keepdim`` combination.  float32 sums accumulate in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..devices.cpu.math import vec_sum
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
    # inverse of max along R: the gradient goes to the selected index only.  The indices were
    # made by the forward, but the user holds them and can change them through .data (torch
    # re-checks too); Numba does not bounds-check: returns the first bad (a, b) flattened, or -1
    a_n, b_n = g.shape
    out = np.zeros((a_n, r_n, b_n), dtype=g.dtype)
    for a in range(a_n):
        for b in range(b_n):
            r = idx[a, b]
            if r < 0 or r >= r_n:
                return out, a * b_n + b
            out[a, r, b] = g[a, b]
    return out, -1


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
        raise IndexError(
            f"{'max' if sign > 0 else 'min'}(): Expected reduction dim {axis} to have non-zero "
            f"size (shape {x.shape})"
        )
    vals, idx = max_arb_kernel(to_arb(x, (axis,)), sign)
    shape = reduced_shape(x.shape, (axis,), keepdim)
    return vals.reshape(shape), idx.reshape(shape)


def max_dim_backward(grad, x_shape, axis, indices):
    a_n, r_n, b_n = _prod(x_shape[:axis]), x_shape[axis], _prod(x_shape[axis + 1 :])
    g = np.ascontiguousarray(grad).reshape(a_n, b_n)
    idx = np.ascontiguousarray(indices).reshape(a_n, b_n)
    out, bad = scatter_arb_kernel(g, idx, r_n)
    if bad >= 0:
        raise RuntimeError(
            f"index {int(idx.reshape(-1)[bad])} is out of bounds for dimension {axis} with size "
            f"{r_n} (the indices returned by max/min were changed after forward)"
        )
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
    for a in axes:
        # an empty batch (0 rows, reduced over a non-empty dim) gives an empty result, as in
        # torch; only an empty reduced dim has no extreme to return
        if x.shape[a] == 0:
            raise IndexError(
                f"{'amax' if sign > 0 else 'amin'}(): Expected reduction dim {a} to have "
                f"non-zero size (shape {x.shape})"
            )
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
        promote=None,
        half="float32",
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
        half="float32",
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
        half="float32",
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
        promote=None,
        half="float32",
    )
)
register(
    Op(
        "max_all",
        ("x",),
        Kernel(cpu=max_all_forward, args=("x", "sign")),
        {"x": Kernel(cpu=max_all_backward, args=("grad", "x", "out"))},
        attrs=("sign",),
        promote=None,
        half="float32",
    )
)

# ---- var, std, norm: torch's backward formulas ---------------------------------------------
# Built as composites (sqrt(sum(x * x)), sqrt(var)) their gradients were NaN where torch's are
# 0: sqrt's rule divides by the result, so a zero vector or a constant tensor gave 0 / 0.  torch
# masks those points (derivatives.yaml: norm_backward, std_backward, var_backward); so do these.
# Sums accumulate in float64, like the other reductions here.


def _keep_shape(shape, axes):
    return reduced_shape(shape, axes, True)


def _sgn(x):
    # torch's sgn: (0 < x) - (x < 0), so 0 at NaN (np.sign gives NaN)
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def var_forward(x, axes, keepdim, correction):
    n = _prod([x.shape[a] for a in axes])
    with np.errstate(all="ignore"):  # an empty reduction is 0/0 = NaN, as in torch
        mean = np.sum(x, axis=axes, keepdims=True, dtype=np.float64) / n
        d = x - mean
        s = np.sum(d * d, axis=axes, keepdims=keepdim, dtype=np.float64)
        return np.asarray(s / max(n - correction, 0), dtype=x.dtype)


def var_backward(grad, x, axes, correction, full):
    n = _prod([x.shape[a] for a in axes])
    dof = n - correction
    g = np.reshape(grad, _keep_shape(x.shape, axes))
    with np.errstate(all="ignore"):
        mean = (np.sum(x, axis=axes, keepdims=True, dtype=np.float64) / n).astype(x.dtype)
        if full and dof <= 0:
            # torch: no dim given and no degrees of freedom -> NaN where x is its mean, else inf
            return g * np.where(x == mean, x.dtype.type(np.nan), x.dtype.type(np.inf))
        coef = x.dtype.type(np.inf if dof == 0 else 2.0 / dof)
        return (coef * g) * (x - mean)


def std_forward(x, axes, keepdim, correction):
    with np.errstate(invalid="ignore"):
        return np.sqrt(var_forward(x, axes, keepdim, correction))


def std_backward(grad, x, out, axes, correction, full):
    # torch: grad / (2 std), exactly 0 where std == 0 (even for an inf grad), then var's rule
    with np.errstate(all="ignore"):
        g = np.where(out == 0, out.dtype.type(0), grad / (2 * out))
    return var_backward(g, x, axes, correction, full)


def norm_forward(x, axes, keepdim, p):
    with np.errstate(all="ignore"):
        if p == 2:
            # squares in x's precision, as torch's (a float32 norm of [1e20, 1] is inf)
            res = np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdim, dtype=np.float64))
        elif p == 0:
            res = np.sum(x != 0, axis=axes, keepdims=keepdim, dtype=np.float64)
        elif np.isinf(p):
            for a in axes:
                if x.shape[a] == 0:
                    raise RuntimeError(
                        f"linalg.vector_norm cannot compute the {p} norm on dimension {a} of "
                        f"shape {x.shape}: it is empty and the operation has no identity"
                    )
            reduce = np.max if p > 0 else np.min
            res = reduce(np.abs(x), axis=axes, keepdims=keepdim)
        else:
            # |x|^p in x's precision too, summed in float64
            s = np.sum(np.abs(x) ** x.dtype.type(p), axis=axes, keepdims=keepdim, dtype=np.float64)
            res = s if p == 1 else s ** (1.0 / p)
    return np.asarray(res, dtype=x.dtype)


def norm_backward(grad, x, out, axes, p):
    shape = _keep_shape(x.shape, axes)
    g = np.reshape(grad, shape)
    n = np.reshape(out, shape)
    zero = x.dtype.type(0)
    with np.errstate(all="ignore"):
        if p == 0:
            return np.zeros_like(x)
        if p == 1:
            return _sgn(x) * g
        if p == 2:
            return g * np.where(n == 0, zero, x / n)
        a = np.abs(x)
        if np.isinf(p):
            # amax's rule on |x|: ties (and NaNs) share the gradient
            mask = (a == n) | np.isnan(a)
            count = np.sum(mask, axis=axes, keepdims=True).astype(x.dtype)
            return _sgn(x) * ((g / count) * mask)
        pt = x.dtype.type(p)
        if p < 1:
            scaled = _sgn(x) * np.where(x == 0, zero, a ** (pt - 1))
            return scaled * g * n ** (1 - pt)
        scale = np.where(n == 0, zero, g / n ** (pt - 1))
        if p < 2:
            return _sgn(x) * a ** (pt - 1) * scale
        return x * a ** (pt - 2) * scale


for _name, _fwd, _bwd, _reads in (
    ("var", var_forward, var_backward, ("x",)),
    ("std", std_forward, std_backward, ("x", "out")),
):
    register(
        Op(
            _name,
            ("x",),
            Kernel(cpu=_fwd, args=("x", "axes", "keepdim", "correction")),
            {"x": Kernel(cpu=_bwd, args=("grad", *_reads, "axes", "correction", "full"))},
            # full: no dim given, where torch's rule differs when there is no degree of freedom
            attrs=("axes", "keepdim", "correction", "full"),
            promote=None,
        )
    )
register(
    Op(
        "norm",
        ("x",),
        Kernel(cpu=norm_forward, args=("x", "axes", "keepdim", "p")),
        {"x": Kernel(cpu=norm_backward, args=("grad", "x", "out", "axes", "p"))},
        attrs=("axes", "keepdim", "p"),
        promote=None,
    )
)
