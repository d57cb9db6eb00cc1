"""CUDA kernels for the reductions of ``ops/reduce.py`` (twin of ``devices/cpu/reduce.py``).

Every reduction runs on the plan's contiguous ``(A, R, B)`` view (a copy only when the reduced
axes are not adjacent, as on the CPU).  Two layouts of work per kernel family:

* **rows** (``*_rows_kernel``): one block per output; its threads stride over R and combine in
  shared memory (a tree, no warp shuffles: the simulator has none).  When there are few outputs
  and R is long (a loss's whole-tensor sum), R is split into ``parts`` so enough blocks run, and
  a second pass reduces the partials (float64 / int64);
* **cols** (``*_cols_kernel``): one thread per output, looping over R; used when R is short or
  when there are many outputs with B > 1 (a sum over the batch dim), where neighbouring threads
  read neighbouring memory.

One float kernel pair serves sum, mean, var's centred squares, norm's powers and the tie counts
of amax's gradient (``mode``), accumulating in float64 as the CPU does; integers sum in int64.
max/min keep (value, index) pairs: NaN wins, ties go to the first index, as in torch.  The
element-wise halves of the gradients are scalar rules run by the elementwise loops
(``loops.build_cuda``), which broadcast the reduced arrays back without a copy.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ...ops import math as m
from ...ops.math import scalar
from ...ops.reduce import reduce_plan
from ...ops.registry import FLOAT, impl
from . import kernels, runtime
from .kernels import tree_sum
from .loops import broadcast_view, build_cuda
from .runtime import SIM, THREADS, cuda, device_function, kernel

# R at most this long: one thread per output (a block per output would idle most threads)
SHORT = 32
# this many outputs with B > 1: one thread per output (coalesced reads along B)
WIDE = 32 * THREADS
# a rows launch aims at this many blocks (an H200 holds ~8 blocks of 256 on each of 132 SMs);
# fewer outputs than that split R into parts of at least MIN_CHUNK elements
TARGET_BLOCKS = 4 if SIM else 1024
MIN_CHUNK = 8 * THREADS
# grid of a rows launch (blocks loop over the outputs); the simulator runs blocks in turn
MAX_GRID = 4 if SIM else 16384


def cast_like(ref, v):
    """``v`` in the type of ``ref`` (a float32 row max stays float32, as on the CPU)."""
    return type(ref)(v)


if not SIM:
    from numba.core import types as _nbtypes
    from numba.cuda.extending import overload

    @overload(cast_like, target="cuda", inline="always")
    def _cast_like_cuda(ref, v):
        if ref == _nbtypes.float32:
            return lambda ref, v: np.float32(v)
        if ref == _nbtypes.float64:
            return lambda ref, v: np.float64(v)
        return None


# ---- device functions ---------------------------------------------------------------------


@device_function
def tree_max(part, t):
    # part[0] = max of part[:THREADS], NaN skipped (maxnum; -inf is the empty value)
    width = THREADS // 2
    while width > 0:
        if t < width:
            if part[t + width] > part[t]:
                part[t] = part[t + width]
        cuda.syncthreads()
        width //= 2


@device_function
def better(v, i, w, j, sign):
    """Is candidate (w, j) better than (v, i)?  NaN wins, then the larger (sign=1) or smaller
    (sign=-1) value, then the smaller index; index -1 marks an empty slot."""
    if j < 0:
        return False
    if i < 0:
        return True
    if v != v:
        return w != w and j < i
    if w != w:
        return True
    if w == v:
        return j < i
    if sign > 0:
        return w > v
    return w < v


@device_function
def tree_argmax(vals, idx, t, sign):
    width = THREADS // 2
    while width > 0:
        if t < width:
            if better(vals[t], idx[t], vals[t + width], idx[t + width], sign):
                vals[t] = vals[t + width]
                idx[t] = idx[t + width]
        cuda.syncthreads()
        width //= 2


@device_function
def term(v, mode, c, pt):
    """What a float reduction adds for element ``v`` (float64); ``c``: its output's centre."""
    if mode == 0:  # sum, mean
        return np.float64(v)
    if mode == 1:  # var: centred square, in float64 as the CPU's x - mean
        d = np.float64(v) - c
        return d * d
    if mode == 2:  # norm p=2: the square in x's precision (torch: a float32 norm of 1e20 is inf)
        return np.float64(v * v)
    if mode == 3:  # norm p=1
        return np.float64(abs(v))
    if mode == 4:  # norm p=0
        return 1.0 if v != 0 else 0.0
    if mode == 5:  # norm p: |x|^p in x's precision
        return np.float64(m.power(abs(v), pt))
    if mode == 6:  # ties with the extreme c (amax's gradient): NaN ties with NaN
        return 1.0 if v == c or (v != v and c != c) else 0.0
    a = abs(v)  # mode 7: ties of |x| with the inf-norm c
    return 1.0 if a == c or a != a else 0.0


@device_function
def finish(s, post, scale, q):
    s = s * scale
    if post == 1:
        return m.sqrt(s)
    if post == 2:
        return m.power(s, q)
    return s


# ---- float reductions (sum, mean, var, norm, tie counts) -------------------------------------


@kernel
def reduce_rows_kernel(out, x, center, r_n, b_n, n_out, parts, chunk, mode, pt, post, scale, q):
    part = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    k = cuda.blockIdx.x
    while k < n_out * parts:
        o = k // parts
        p = k - o * parts
        a = o // b_n
        b = o - a * b_n
        c = center[o] if center.shape[0] > 1 else center[0]
        hi = min(p * chunk + chunk, r_n)
        s = np.float64(0.0)
        r = p * chunk + t
        while r < hi:
            s += term(x[a, r, b], mode, c, pt)
            r += THREADS
        part[t] = s
        cuda.syncthreads()
        tree_sum(part, t)
        if t == 0:
            out[k] = finish(part[0], post, scale, q)
        cuda.syncthreads()
        k += cuda.gridDim.x


@kernel
def reduce_cols_kernel(out, x, center, n_out, r_n, b_n, mode, pt, post, scale, q):
    o = cuda.grid(1)
    step = cuda.gridsize(1)
    while o < n_out:
        a = o // b_n
        b = o - a * b_n
        c = center[o] if center.shape[0] > 1 else center[0]
        s = np.float64(0.0)
        for r in range(r_n):
            s += term(x[a, r, b], mode, c, pt)
        out[o] = finish(s, post, scale, q)
        o += step


@kernel
def sum_rows_int_kernel(out, x, r_n, b_n, n_out, parts, chunk):
    part = cuda.shared.array(THREADS, np.int64)
    t = cuda.threadIdx.x
    k = cuda.blockIdx.x
    while k < n_out * parts:
        o = k // parts
        p = k - o * parts
        a = o // b_n
        b = o - a * b_n
        hi = min(p * chunk + chunk, r_n)
        s = np.int64(0)
        r = p * chunk + t
        while r < hi:
            s += x[a, r, b]
            r += THREADS
        part[t] = s
        cuda.syncthreads()
        tree_sum(part, t)
        if t == 0:
            out[k] = part[0]
        cuda.syncthreads()
        k += cuda.gridDim.x


@kernel
def sum_cols_int_kernel(out, x, n_out, r_n, b_n):
    o = cuda.grid(1)
    step = cuda.gridsize(1)
    while o < n_out:
        a = o // b_n
        b = o - a * b_n
        s = np.int64(0)
        for r in range(r_n):
            s += x[a, r, b]
        out[o] = s
        o += step


# ---- max / min with the index ------------------------------------------------------------------


@kernel
def max_rows_kernel(vals, idx, x, r_n, b_n, n_out, sign, absolute):
    # float inputs: candidates kept in float64 (exact for float32)
    best = cuda.shared.array(THREADS, np.float64)
    where = cuda.shared.array(THREADS, np.int64)
    t = cuda.threadIdx.x
    o = cuda.blockIdx.x
    while o < n_out:
        a = o // b_n
        b = o - a * b_n
        v = np.float64(0.0)
        i = np.int64(-1)
        r = t
        while r < r_n:
            w = np.float64(x[a, r, b])
            if absolute:
                w = abs(w)
            if better(v, i, w, r, sign):
                v = w
                i = r
            r += THREADS
        best[t] = v
        where[t] = i
        cuda.syncthreads()
        tree_argmax(best, where, t, sign)
        if t == 0:
            vals[o] = best[0]
            idx[o] = where[0]
        cuda.syncthreads()
        o += cuda.gridDim.x


@kernel
def max_rows_int_kernel(vals, idx, x, r_n, b_n, n_out, sign):
    # integer and bool inputs: candidates kept in int64 (float64 would round large int64s)
    best = cuda.shared.array(THREADS, np.int64)
    where = cuda.shared.array(THREADS, np.int64)
    t = cuda.threadIdx.x
    o = cuda.blockIdx.x
    while o < n_out:
        a = o // b_n
        b = o - a * b_n
        v = np.int64(0)
        i = np.int64(-1)
        r = t
        while r < r_n:
            w = np.int64(x[a, r, b])
            if better(v, i, w, r, sign):
                v = w
                i = r
            r += THREADS
        best[t] = v
        where[t] = i
        cuda.syncthreads()
        tree_argmax(best, where, t, sign)
        if t == 0:
            vals[o] = best[0]
            idx[o] = where[0]
        cuda.syncthreads()
        o += cuda.gridDim.x


@kernel
def max_cols_kernel(vals, idx, x, n_out, r_n, b_n, sign, absolute):
    o = cuda.grid(1)
    step = cuda.gridsize(1)
    while o < n_out:
        a = o // b_n
        b = o - a * b_n
        v = x[a, 0, b]
        if absolute:
            v = abs(v)
        i = 0
        for r in range(1, r_n):
            w = x[a, r, b]
            if absolute:
                w = abs(w)
            if better(v, i, w, r, sign):
                v = w
                i = r
        vals[o] = v
        idx[o] = i
        o += step


@kernel
def max_scatter_kernel(out, g, idx, bad, r_n, b_n, n):
    # max_dim's gradient: every element of (A, R, B) written once (no zero fill first).  The
    # indices are the forward's, but the user can change them through .data: a bad one is
    # reported (the first output holding one) and never used to index
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        b = i % b_n
        ar = i // b_n
        r = ar % r_n
        a = ar // r_n
        o = a * b_n + b
        k = idx[o]
        if r == 0 and (k < 0 or k >= r_n):
            cuda.atomic.min(bad, 0, o)
        if k == r:
            out[a, r, b] = g[o]
        else:
            out[a, r, b] = 0
        i += step


# ---- host side ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _plan(shape, axes, keepdim):
    return reduce_plan(shape, axes, keepdim)


def _arb(x, plan):
    """``x`` as the contiguous ``(A, R, B)`` array of ``plan`` (a copy only when it must)."""
    if plan.perm is not None:
        shape = tuple(x.shape[i] for i in plan.perm)
        strides = tuple(x.strides[i] for i in plan.perm)
        x = runtime.as_strided(x, shape, strides)
    return kernels.contiguous(x).reshape(plan.arb)


def _grid(n):
    return max(1, min(n, MAX_GRID))


def _cols(r_n, b_n, n_out):
    return r_n <= SHORT or (b_n > 1 and n_out >= WIDE)


def _parts(n_out, r_n):
    if n_out >= TARGET_BLOCKS or r_n < 2 * MIN_CHUNK:
        return 1
    return max(1, min(-(-TARGET_BLOCKS // n_out), r_n // MIN_CHUNK))


_NO_CENTER = []


def _no_center():
    if not _NO_CENTER:
        _NO_CENTER.append(kernels.fill(runtime.empty((1,), np.float64), 0.0))
    return _NO_CENTER[0]


def reduce_float(x3, out, mode=0, center=None, pt=None, post=0, scale=1.0, q=1.0):
    """``out[o] = finish(sum over r of term(x3[a, r, b]))`` for float ``x3`` of shape (A, R, B),
    into the flat float array ``out`` (A * B,)."""
    a_n, r_n, b_n = x3.shape
    n_out = a_n * b_n
    if n_out == 0:
        return out
    if center is None:
        center = _no_center()
    if pt is None:
        pt = x3.dtype.type(0)
    scale = float(scale)
    q = float(q)
    if _cols(r_n, b_n, n_out):
        runtime.launch(reduce_cols_kernel, n_out)(
            out, x3, center, n_out, r_n, b_n, mode, pt, post, scale, q
        )
        return out
    parts = _parts(n_out, r_n)
    if parts > 1:
        chunk = -(-r_n // parts)
        parts = -(-r_n // chunk)
        partial = runtime.empty((n_out * parts,), np.float64)
        runtime.launch_grid(reduce_rows_kernel, _grid(n_out * parts))(
            partial, x3, center, r_n, b_n, n_out, parts, chunk, mode, pt, 0, 1.0, 1.0
        )
        return reduce_float(partial.reshape(n_out, parts, 1), out, post=post, scale=scale, q=q)
    runtime.launch_grid(reduce_rows_kernel, _grid(n_out))(
        out, x3, center, r_n, b_n, n_out, 1, r_n, mode, pt, post, scale, q
    )
    return out


def sum_int(x3, out):
    """int64 sums of integer or bool ``x3`` (A, R, B) into ``out`` (A * B,)."""
    a_n, r_n, b_n = x3.shape
    n_out = a_n * b_n
    if n_out == 0:
        return out
    if _cols(r_n, b_n, n_out):
        runtime.launch(sum_cols_int_kernel, n_out)(out, x3, n_out, r_n, b_n)
        return out
    parts = _parts(n_out, r_n)
    if parts > 1:
        chunk = -(-r_n // parts)
        parts = -(-r_n // chunk)
        partial = runtime.empty((n_out * parts,), np.int64)
        runtime.launch_grid(sum_rows_int_kernel, _grid(n_out * parts))(
            partial, x3, r_n, b_n, n_out, parts, chunk
        )
        return sum_int(partial.reshape(n_out, parts, 1), out)
    runtime.launch_grid(sum_rows_int_kernel, _grid(n_out))(out, x3, r_n, b_n, n_out, 1, r_n)
    return out


def max_arb(x3, sign, absolute=False):
    """(values, int64 indices) of the max (sign 1) or min (-1) of ``x3`` (A, R, B) over R,
    flat (A * B,); R >= 1 (the plans refuse an empty reduced dim)."""
    a_n, r_n, b_n = x3.shape
    n_out = a_n * b_n
    vals = runtime.empty((n_out,), x3.dtype)
    idx = runtime.empty((n_out,), np.int64)
    if n_out == 0:
        return vals, idx
    if _cols(r_n, b_n, n_out):
        runtime.launch(max_cols_kernel, n_out)(vals, idx, x3, n_out, r_n, b_n, sign, absolute)
    elif x3.dtype.kind == "f":
        runtime.launch_grid(max_rows_kernel, _grid(n_out))(
            vals, idx, x3, r_n, b_n, n_out, sign, absolute
        )
    else:
        runtime.launch_grid(max_rows_int_kernel, _grid(n_out))(vals, idx, x3, r_n, b_n, n_out, sign)
    return vals, idx


def _keep(a, shape):
    """Device array ``a`` (any layout) reshaped to ``shape``."""
    return kernels.contiguous(a).reshape(shape)


# ---- element-wise halves of the gradients: scalar rules ---------------------------------------


@scalar
def divide_rule(g, d):
    return g / d


@scalar
def tie_share_rule(x, v, g, count):
    # torch's amax rule: the tied extremes (NaN with NaN) share the gradient evenly
    if x == v or (x != x and v != v):
        return g / count
    return m.zero_of(g)


@scalar
def sgn_rule(x):
    # torch's sgn: 0 at 0 and at NaN
    if x > 0:
        return m.one_of(x)
    if x < 0:
        return -m.one_of(x)
    return m.zero_of(x)


@scalar
def norm_inf_backward_rule(x, n, g, count):
    a = abs(x)
    s = sgn_rule(x)
    if a == n or a != a:
        return s * (g / count)
    return s * m.zero_of(g)


@scalar
def norm_backward_rule(x, g, n, pt):
    # torch's norm_backward for a finite p > 0 (p = 0 has a zero gradient)
    zero = m.zero_of(x)
    one = m.one_of(x)
    s = sgn_rule(x)
    if pt == one:
        return s * g
    if pt == 2:
        return g * (zero if n == 0 else x / n)
    a = abs(x)
    if pt < one:
        scaled = s * (zero if x == 0 else m.power(a, pt - one))
        return scaled * g * m.power(n, one - pt)
    scale = zero if n == 0 else g / m.power(n, pt - one)
    if pt < 2:
        return s * m.power(a, pt - one) * scale
    return x * m.power(a, pt - 2) * scale


@scalar
def var_backward_rule(x, g, mean, coef):
    return (coef * g) * (x - mean)


@scalar
def var_no_dof_rule(x, g, mean):
    # torch, no dim and no degree of freedom: NaN where x is its mean, inf elsewhere
    return g * (m.nan if x == mean else m.inf)


@scalar
def std_scale_rule(g, out):
    # torch's std_backward: grad / (2 std), exactly 0 where std is 0 (even for an inf grad)
    return m.zero_of(g) if out == 0 else g / (2 * out)


_RULES: dict = {}


def _rule(rule, types=FLOAT):
    k = _RULES.get(rule)
    if k is None:
        name = rule.py_func.__name__ if hasattr(rule, "py_func") else rule.__name__
        k = _RULES[rule] = build_cuda(rule, f"reduce_{name}", types, None, None, None)
    return k


def _expand(g, plan):
    """A reduced gradient broadcast back to the input's shape (a new contiguous array)."""
    g = _keep(g, plan.keep_shape)
    return kernels.copy_into(runtime.empty(plan.shape, g.dtype), broadcast_view(g, plan.shape))


# ---- sum, mean ------------------------------------------------------------------------------


def sum_forward(x, plan):
    x3 = _arb(x, plan)
    n_out = plan.arb[0] * plan.arb[2]
    if x.dtype.kind == "f":
        out = reduce_float(x3, runtime.empty((n_out,), x.dtype))
    else:
        out = sum_int(x3, runtime.empty((n_out,), np.int64))
    return out.reshape(plan.out_shape)


def mean_forward(x, plan):
    n = plan.arb[1]
    out = runtime.empty((plan.arb[0] * plan.arb[2],), x.dtype)
    reduce_float(_arb(x, plan), out, scale=1.0 / n if n else math.nan)
    return out.reshape(plan.out_shape)


def sum_backward(grad, plan):
    return _expand(grad, plan)


def mean_backward(grad, plan):
    g = _rule(divide_rule)(_keep(grad, plan.keep_shape), grad.dtype.type(plan.arb[1]))
    return _expand(g, plan)


# ---- max, min, amax, amin -------------------------------------------------------------------


def max_dim_forward(x, sign, plan):
    vals, idx = max_arb(_arb(x, plan), sign)
    return vals.reshape(plan.out_shape), idx.reshape(plan.out_shape)


def max_dim_backward(grad, indices, plan):
    a_n, r_n, b_n = plan.arb
    g = _keep(grad, (a_n * b_n,))
    idx = _keep(indices, (a_n * b_n,))
    out = runtime.empty(plan.arb, grad.dtype)
    n = a_n * r_n * b_n
    if n:
        bad = kernels.fill(runtime.empty((1,), np.int64), a_n * b_n)
        runtime.launch(max_scatter_kernel, n)(out, g, idx, bad, r_n, b_n, n)
        first = int(runtime.to_host(bad)[0])  # the one host read: index validation
        if first < a_n * b_n:
            value = int(runtime.to_host(idx[first : first + 1])[0])
            raise RuntimeError(
                f"index {value} is out of bounds for dimension {plan.axes[0]} with size {r_n} "
                "(the indices returned by max/min were changed after forward)"
            )
    return out.reshape(plan.shape)


def max_all_forward(x, sign, plan):
    vals, _ = max_arb(_arb(x, plan), sign)
    return vals.reshape(())


def _tie_counts(x3, vals):
    center = kernels.copy_into(runtime.empty(vals.shape, np.float64), vals)
    n_out = x3.shape[0] * x3.shape[2]
    return reduce_float(x3, runtime.empty((n_out,), np.float64), mode=6, center=center)


def max_all_backward(grad, x, out):
    n = x.size
    counts = _tie_counts(kernels.contiguous(x).reshape(1, n, 1), out.reshape(1))
    return _rule(tie_share_rule)(x, out, grad, counts.reshape(()))


def amax_forward(x, sign, plan):
    vals, _ = max_arb(_arb(x, plan), sign)
    return vals.reshape(plan.out_shape)


def amax_backward(grad, x, out, plan):
    keep = plan.keep_shape
    v = _keep(out, (plan.arb[0] * plan.arb[2],))
    counts = _tie_counts(_arb(x, plan), v)
    return _rule(tie_share_rule)(x, v.reshape(keep), _keep(grad, keep), counts.reshape(keep))


impl("sum", "cuda", forward=sum_forward, backward={"x": sum_backward})
impl("mean", "cuda", forward=mean_forward, backward={"x": mean_backward})
impl("max_dim", "cuda", forward=max_dim_forward, backward={"x": max_dim_backward})
impl("max_all", "cuda", forward=max_all_forward, backward={"x": max_all_backward})
impl("amax", "cuda", forward=amax_forward, backward={"x": amax_backward})

# ---- var, std, norm ---------------------------------------------------------------------------


def _moments(x, plan, post):
    rp = _plan(tuple(x.shape), plan.axes, plan.keepdim)
    x3 = _arb(x, rp)
    n_out = rp.arb[0] * rp.arb[2]
    n = plan.n
    mean = reduce_float(x3, runtime.empty((n_out,), np.float64), scale=1.0 / n if n else math.nan)
    out = runtime.empty((n_out,), x.dtype)
    # an empty reduction or no degree of freedom divides by 0: NaN or inf, as in torch
    inv = 1.0 / plan.denom if plan.denom else math.inf
    reduce_float(x3, out, mode=1, center=mean, post=post, scale=inv)
    return out.reshape(rp.out_shape)


def var_forward(x, plan):
    return _moments(x, plan, 0)


def std_forward(x, plan):
    return _moments(x, plan, 1)


def var_backward(grad, x, plan):
    rp = _plan(tuple(x.shape), plan.axes, plan.keepdim)
    n = plan.n
    mean = runtime.empty((rp.arb[0] * rp.arb[2],), x.dtype)  # the CPU's mean, cast to x's type
    reduce_float(_arb(x, rp), mean, scale=1.0 / n if n else math.nan)
    mean = mean.reshape(plan.keep_shape)
    g = _keep(grad, plan.keep_shape)
    if plan.full and plan.dof <= 0:
        return _rule(var_no_dof_rule)(x, g, mean)
    coef = x.dtype.type(math.inf if plan.dof == 0 else 2.0 / plan.dof)
    return _rule(var_backward_rule)(x, g, mean, coef)


def std_backward(grad, x, out, plan):
    g = _rule(std_scale_rule)(_keep(grad, plan.keep_shape), _keep(out, plan.keep_shape))
    return var_backward(g, x, plan)


def norm_forward(x, plan):
    p = plan.p
    rp = _plan(tuple(x.shape), plan.axes, plan.keepdim)
    x3 = _arb(x, rp)
    if math.isinf(p):
        vals, _ = max_arb(x3, 1 if p > 0 else -1, absolute=True)
        return vals.reshape(rp.out_shape)
    out = runtime.empty((rp.arb[0] * rp.arb[2],), x.dtype)
    if p == 2:
        reduce_float(x3, out, mode=2, post=1)
    elif p == 0:
        reduce_float(x3, out, mode=4)
    elif p == 1:
        reduce_float(x3, out, mode=3)
    else:
        reduce_float(x3, out, mode=5, pt=x.dtype.type(p), post=2, q=1.0 / p)
    return out.reshape(rp.out_shape)


def norm_backward(grad, x, out, plan):
    p = plan.p
    g = _keep(grad, plan.keep_shape)
    n = _keep(out, plan.keep_shape)
    if p == 0:
        return kernels.fill(runtime.empty(x.shape, x.dtype), 0)
    if math.isinf(p):
        rp = _plan(tuple(x.shape), plan.axes, True)
        center = kernels.copy_into(runtime.empty(n.shape, np.float64), n)
        n_out = rp.arb[0] * rp.arb[2]
        counts = runtime.empty((n_out,), np.float64)
        reduce_float(_arb(x, rp), counts, mode=7, center=center.reshape(n_out))
        return _rule(norm_inf_backward_rule)(x, n, g, counts.reshape(plan.keep_shape))
    return _rule(norm_backward_rule)(x, g, n, x.dtype.type(p))


impl("var", "cuda", forward=var_forward, backward={"x": var_backward})
impl("std", "cuda", forward=std_forward, backward={"x": std_backward})
impl("norm", "cuda", forward=norm_forward, backward={"x": norm_backward})
