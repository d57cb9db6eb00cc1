"""CPU kernels for the reductions of ``ops/reduce.py``.

The plans (``ReducePlan``, ``MomentsPlan``, ``NormPlan``) give each kernel its ``(A, R, B)``
view and result shapes; the ``@njit`` kernels below work on those fixed-rank contiguous arrays.
var, std and norm are numpy expressions over the planned axes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...ops.registry import impl
from .math import vec_sum

_JIT = {"cache": True, "error_model": "numpy"}


def _arb(x, plan):
    """``x`` as the contiguous ``(A, R, B)`` array of ``plan`` (a view when it can be)."""
    if plan.perm is not None:
        x = np.ascontiguousarray(x.transpose(plan.perm))
    elif not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x.reshape(plan.arb)


@njit(**_JIT)
def sum_arb_kernel(x):
    a_n, r_n, b_n = x.shape
    out = np.zeros((a_n, b_n), dtype=np.float64)
    if b_n == 1:
        # rows are contiguous runs of the flat array (_arb made x C-contiguous)
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


# ---- sum, mean ------------------------------------------------------------------------------


def _sum(x, plan):
    if plan.whole and x.dtype.kind == "f" and x.flags.c_contiguous:
        # whole-tensor sum of a contiguous float tensor: one flat loop (a loss's reduction)
        return np.asarray(vec_sum(x.reshape(-1)), dtype=x.dtype)
    x3 = _arb(x, plan)
    if x.dtype.kind == "f":
        res = sum_arb_kernel(x3).astype(x.dtype, copy=False)
    else:
        res = sum_arb_int_kernel(x3.astype(np.int64, copy=False))
    return res.reshape(plan.out_shape)


def sum_forward(x, plan):
    return _sum(x, plan)


def mean_forward(x, plan):
    n = plan.arb[1]
    s = _sum(x, plan)
    return s / np.asarray(n, dtype=s.dtype) if n else s * np.nan


def _expand_back(grad, plan):
    """Broadcast a reduced gradient back to the input shape."""
    out = np.empty(plan.shape, dtype=grad.dtype)
    out[...] = grad.reshape(plan.keep_shape)
    return out


def sum_backward(grad, plan):
    return _expand_back(grad, plan)


def mean_backward(grad, plan):
    return _expand_back(grad / np.asarray(plan.arb[1], dtype=grad.dtype), plan)


# ---- max, min, amax, amin -------------------------------------------------------------------


def max_dim_forward(x, sign, plan):
    vals, idx = max_arb_kernel(_arb(x, plan), sign)
    return vals.reshape(plan.out_shape), idx.reshape(plan.out_shape)


def max_dim_backward(grad, indices, plan):
    a_n, r_n, b_n = plan.arb
    g = np.ascontiguousarray(grad).reshape(a_n, b_n)
    idx = np.ascontiguousarray(indices).reshape(a_n, b_n)
    out, bad = scatter_arb_kernel(g, idx, r_n)
    if bad >= 0:
        raise RuntimeError(
            f"index {int(idx.reshape(-1)[bad])} is out of bounds for dimension {plan.axes[0]} "
            f"with size {r_n} (the indices returned by max/min were changed after forward)"
        )
    return out.reshape(plan.shape)


def max_all_forward(x, sign, plan):
    vals, _ = max_arb_kernel(_arb(x, plan), sign)
    return vals.reshape(())


def max_all_backward(grad, x, out):
    flat = np.ascontiguousarray(x).reshape(-1)
    res = max_all_backward_kernel(x.dtype.type(grad), flat, x.dtype.type(out))
    return res.reshape(x.shape)


def amax_forward(x, sign, plan):
    vals, _ = max_arb_kernel(_arb(x, plan), sign)
    return vals.reshape(plan.out_shape)


def amax_backward(grad, x, out, plan):
    a_n, _, b_n = plan.arb
    g2 = np.ascontiguousarray(grad).reshape(a_n, b_n)
    v2 = np.ascontiguousarray(out).reshape(a_n, b_n)
    res = amax_backward_kernel(g2, _arb(x, plan), v2)
    if plan.perm is not None:
        # _arb moved the reduced axes last; move them back
        moved = res.reshape([plan.shape[i] for i in plan.perm])
        return np.transpose(moved, plan.inv_perm)
    return res.reshape(plan.shape)


impl("sum", "cpu", forward=sum_forward, backward={"x": sum_backward})
impl("mean", "cpu", forward=mean_forward, backward={"x": mean_backward})
impl("max_dim", "cpu", forward=max_dim_forward, backward={"x": max_dim_backward})
impl("max_all", "cpu", forward=max_all_forward, backward={"x": max_all_backward})
impl("amax", "cpu", forward=amax_forward, backward={"x": amax_backward})

# ---- var, std, norm ---------------------------------------------------------------------------


def _sgn(x):
    # torch's sgn: (0 < x) - (x < 0), so 0 at NaN (np.sign gives NaN)
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def var_forward(x, plan):
    axes, n = plan.axes, plan.n
    with np.errstate(all="ignore"):  # an empty reduction is 0/0 = NaN, as in torch
        mean = np.sum(x, axis=axes, keepdims=True, dtype=np.float64) / n
        d = x - mean
        s = np.sum(d * d, axis=axes, keepdims=plan.keepdim, dtype=np.float64)
        return np.asarray(s / plan.denom, dtype=x.dtype)


def var_backward(grad, x, plan):
    axes, n, dof = plan.axes, plan.n, plan.dof
    g = np.reshape(grad, plan.keep_shape)
    with np.errstate(all="ignore"):
        mean = (np.sum(x, axis=axes, keepdims=True, dtype=np.float64) / n).astype(x.dtype)
        if plan.full and dof <= 0:
            # torch: no dim given and no degrees of freedom -> NaN where x is its mean, else inf
            return g * np.where(x == mean, x.dtype.type(np.nan), x.dtype.type(np.inf))
        coef = x.dtype.type(np.inf if dof == 0 else 2.0 / dof)
        return (coef * g) * (x - mean)


def std_forward(x, plan):
    with np.errstate(invalid="ignore"):
        return np.sqrt(var_forward(x, plan))


def std_backward(grad, x, out, plan):
    # torch: grad / (2 std), exactly 0 where std == 0 (even for an inf grad), then var's rule
    with np.errstate(all="ignore"):
        g = np.where(out == 0, out.dtype.type(0), grad / (2 * out))
    return var_backward(g, x, plan)


def norm_forward(x, plan):
    axes, keepdim, p = plan.axes, plan.keepdim, plan.p
    with np.errstate(all="ignore"):
        if p == 2:
            # squares in x's precision, as torch's (a float32 norm of [1e20, 1] is inf)
            res = np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdim, dtype=np.float64))
        elif p == 0:
            res = np.sum(x != 0, axis=axes, keepdims=keepdim, dtype=np.float64)
        elif np.isinf(p):
            reduce = np.max if p > 0 else np.min
            res = reduce(np.abs(x), axis=axes, keepdims=keepdim)
        else:
            # |x|^p in x's precision too, summed in float64
            s = np.sum(np.abs(x) ** x.dtype.type(p), axis=axes, keepdims=keepdim, dtype=np.float64)
            res = s if p == 1 else s ** (1.0 / p)
    return np.asarray(res, dtype=x.dtype)


def norm_backward(grad, x, out, plan):
    axes, p = plan.axes, plan.p
    g = np.reshape(grad, plan.keep_shape)
    n = np.reshape(out, plan.keep_shape)
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


impl("var", "cpu", forward=var_forward, backward={"x": var_backward})
impl("std", "cpu", forward=std_forward, backward={"x": std_backward})
impl("norm", "cpu", forward=norm_forward, backward={"x": norm_backward})
