"""CUDA kernels for convolution and pooling (``ops/conv.py``; the CPU's: ``devices/cpu/conv.py``).

Direct kernels, one thread per result element (grid-stride), over the plans' fixed 4-D
``(N, C, H, W)`` layout:

* ``conv`` forward: one thread per output, looping over its group's input channels and the
  kernel window (float64 sums).  The input gradient is a *gather*: one thread per input
  element loops over the outputs whose window reads it (no atomics, so the sums are in a fixed
  order); the weight gradient is one thread per weight element summing over N and the output
  plane; the bias gradient one block per channel (a shared-memory tree, as ``kernels.sum_arb``).
  ``conv_transpose`` composes these, as the CPU does (its plan is the plan of the convolution
  it is the input gradient of).
* pooling: one thread per output; max pooling keeps the CPU's rules (the first maximum of a
  window wins, a NaN wins over any number, a later NaN over an earlier one) and its backward
  adds each gradient at its index with ``cuda.atomic.add``; average pooling's window tables
  (``WindowPlan``) go to the device once per plan, and its backward is a gather over the
  windows that hold an input element.

The GPU speed of convolutions is not a target here: shapes in this project are small, and the
im2col + GEMM form the CPU uses would need a CUDA GEMM first.
"""

from __future__ import annotations

import math

import numpy as np

from ...ops.registry import impl
from . import kernels, runtime
from .kernels import block_grid, tree_sum
from .runtime import THREADS, cuda, kernel

# ---- convolution ------------------------------------------------------------------------------


@kernel
def conv_forward_kernel(out, x, w, b, has_bias, sh, sw, pt, pl, dh, dw, groups, total):
    """out (N, Co, oh, ow) = x (N, C, H, W) correlated with w (Co, C / groups, kh, kw), + b."""
    _, c, h, wd = x.shape
    _, co, oh, ow = out.shape
    cig, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    cog = co // groups
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        q = i % ow
        r = i // ow
        o = r % oh
        r //= oh
        k = r % co
        s = r // co
        c0 = (k // cog) * cig
        acc = 0.0
        for ci in range(cig):
            for a in range(kh):
                ih = o * sh - pt + a * dh
                if ih < 0 or ih >= h:
                    continue
                for e in range(kw):
                    iw = q * sw - pl + e * dw
                    if iw >= 0 and iw < wd:
                        acc += np.float64(x[s, c0 + ci, ih, iw]) * w[k, ci, a, e]
        if has_bias:
            acc += b[k]
        out[s, k, o, q] = acc
        i += step


@kernel
def conv_dx_kernel(dx, grad, w, b, has_bias, sh, sw, pt, pl, dh, dw, groups, total):
    """dx (N, C, H, W) from grad (N, Co, oh, ow): each input element gathers the outputs whose
    window reads it (output o reads row o * sh - pt + a * dh).  ``b`` (per channel of ``dx``)
    is conv_transpose's bias."""
    _, c, h, wd = dx.shape
    _, co, oh, ow = grad.shape
    cig, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    cog = co // groups
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        iw = i % wd
        r = i // wd
        ih = r % h
        r //= h
        ch = r % c
        s = r // c
        g = ch // cig
        ci = ch - g * cig
        acc = 0.0
        for a in range(kh):
            on = ih + pt - a * dh
            if on < 0 or on % sh != 0:
                continue
            o = on // sh
            if o >= oh:
                continue
            for e in range(kw):
                qn = iw + pl - e * dw
                if qn < 0 or qn % sw != 0:
                    continue
                q = qn // sw
                if q >= ow:
                    continue
                for kk in range(cog):
                    k = g * cog + kk
                    acc += np.float64(grad[s, k, o, q]) * w[k, ci, a, e]
        if has_bias:
            acc += b[ch]
        dx[s, ch, ih, iw] = acc
        i += step


@kernel
def conv_dw_kernel(dw_out, grad, x, sh, sw, pt, pl, dh, dw, groups, total):
    """dweight (Co, C / groups, kh, kw): one thread per weight sums grad times the input it
    multiplied, over N and the output plane."""
    n, c, h, wd = x.shape
    _, co, oh, ow = grad.shape
    cig, kh, kw = dw_out.shape[1], dw_out.shape[2], dw_out.shape[3]
    cog = co // groups
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        e = i % kw
        r = i // kw
        a = r % kh
        r //= kh
        ci = r % cig
        k = r // cig
        ch = (k // cog) * cig + ci
        acc = 0.0
        for s in range(n):
            for o in range(oh):
                ih = o * sh - pt + a * dh
                if ih < 0 or ih >= h:
                    continue
                for q in range(ow):
                    iw = q * sw - pl + e * dw
                    if iw >= 0 and iw < wd:
                        acc += np.float64(grad[s, k, o, q]) * x[s, ch, ih, iw]
        dw_out[k, ci, a, e] = acc
        i += step


@kernel
def channel_sum_kernel(out, x, n, c, s):
    """out[ch] = the sum of x (n, c, s) over n and s: one block per channel, a shared-memory
    tree (as ``kernels.sum_float_kernel``), float64 partial sums."""
    part = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    ch = cuda.blockIdx.x
    m = n * s
    while ch < c:
        acc = 0.0
        j = t
        while j < m:
            a = j // s
            acc += x[a, ch, j - a * s]
            j += THREADS
        part[t] = acc
        cuda.syncthreads()
        tree_sum(part, t)
        if t == 0:
            out[ch] = part[0]
        cuda.syncthreads()
        ch += cuda.gridDim.x


def channel_sums(x, n, c, s):
    """The sums of device array ``x`` seen as ``(n, c, s)`` over its first and last axes: a new
    ``(c,)`` array of ``x``'s dtype."""
    out = runtime.empty((c,), x.dtype)
    if c == 0:
        return out
    if n * s == 0:
        return kernels.fill(out, 0)
    x3 = kernels.contiguous(x).reshape(n, c, s)
    runtime.launch_grid(channel_sum_kernel, block_grid(c))(out, x3, n, c, s)
    return out


_NO_BIAS: dict = {}  # dtype -> a one-element device array standing in for an absent bias


def _bias(bias, dtype):
    if bias is not None:
        return kernels.contiguous(bias).reshape(math.prod(bias.shape)), True
    b = _NO_BIAS.get(dtype)
    if b is None:
        b = _NO_BIAS[dtype] = kernels.fill(runtime.empty((1,), dtype), 0)
    return b, False


def _geom(plan):
    return plan.geom  # (sh, sw, pt, pl, dh, dw, groups): the kernels' trailing scalars


def conv_forward(x, weight, bias, plan):
    out = runtime.empty(plan.out4, x.dtype)
    total = math.prod(plan.out4)
    if total:
        b, has_bias = _bias(bias, x.dtype)
        x4 = kernels.contiguous(x).reshape(plan.x4)
        w4 = kernels.contiguous(weight).reshape(plan.w4)
        runtime.launch(conv_forward_kernel, total)(out, x4, w4, b, has_bias, *_geom(plan), total)
    return out.reshape(plan.out_shape)


def _conv_dx(grad, weight, bias, plan):
    dx = runtime.empty(plan.x4, grad.dtype)
    total = math.prod(plan.x4)
    if total:
        b, has_bias = _bias(bias, grad.dtype)
        g4 = kernels.contiguous(grad).reshape(plan.out4)
        w4 = kernels.contiguous(weight).reshape(plan.w4)
        runtime.launch(conv_dx_kernel, total)(dx, g4, w4, b, has_bias, *_geom(plan), total)
    return dx.reshape(plan.x_shape)


def conv_dx(grad, weight, plan):
    return _conv_dx(grad, weight, None, plan)


def conv_dw(grad, x, plan):
    dw = runtime.empty(plan.w4, grad.dtype)
    total = math.prod(plan.w4)
    if total:
        if math.prod(plan.out4) == 0:
            kernels.fill(dw, 0)
        else:
            g4 = kernels.contiguous(grad).reshape(plan.out4)
            x4 = kernels.contiguous(x).reshape(plan.x4)
            runtime.launch(conv_dw_kernel, total)(dw, g4, x4, *_geom(plan), total)
    return dw.reshape(plan.w_shape)


def conv_db(grad, plan):
    n, co, oh, ow = plan.out4
    return channel_sums(grad, n, co, oh * ow)


impl(
    "conv",
    "cuda",
    forward=conv_forward,
    backward={"x": conv_dx, "weight": conv_dw, "bias": conv_db},
)


# ---- transposed convolution: the conv kernels with the roles swapped (ops/conv.py) -----------


def conv_transpose_forward(x, weight, bias, plan):
    return _conv_dx(x, weight, bias, plan)


def conv_transpose_dx(grad, weight, plan):
    return conv_forward(grad, weight, None, plan)


def conv_transpose_dw(grad, x, plan):
    return conv_dw(x, grad, plan)


def conv_transpose_db(grad, plan):
    n, co, ho, wo = plan.x4
    return channel_sums(grad, n, co, ho * wo)


impl(
    "conv_transpose",
    "cuda",
    forward=conv_transpose_forward,
    backward={"x": conv_transpose_dx, "weight": conv_transpose_dw, "bias": conv_transpose_db},
)


# ---- max pooling ------------------------------------------------------------------------------


@kernel
def max_pool_kernel(out, idx, x, kh, kw, sh, sw, pt, pl, dh, dw, total):
    """x (P, H, W) planes -> out, idx (P, oh, ow): each window's maximum and its flat position
    ``h * W + w``, with the CPU kernel's rules (first maximum wins; NaN wins, the last NaN)."""
    _, h, w = x.shape
    _, oh, ow = out.shape
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        j = i % ow
        r = i // ow
        oi = r % oh
        p = r // oh
        h0 = oi * sh - pt
        h1 = min(h0 + (kh - 1) * dh + 1, h)
        while h0 < 0:
            h0 += dh
        w0 = j * sw - pl
        w1 = min(w0 + (kw - 1) * dw + 1, w)
        while w0 < 0:
            w0 += dw
        best = -math.inf
        at = h0 * w + w0
        for a in range(h0, h1, dh):
            for b in range(w0, w1, dw):
                v = x[p, a, b]
                if v > best or v != v:
                    best = v
                    at = a * w + b
        out[p, oi, j] = best
        idx[p, oi, j] = at
        i += step


@kernel
def max_pool_backward_kernel(dx, grad, idx, total):
    """dx (P, HW) += grad (P, L) at idx (P, L); indices outside the plane are skipped (they
    come from forward and are version-checked, so none is; the check keeps writes inside)."""
    hw = dx.shape[1]
    ll = grad.shape[1]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        p = i // ll
        q = i - p * ll
        t = idx[p, q]
        if t >= 0 and t < hw:
            cuda.atomic.add(dx, (p, t), grad[p, q])
        i += step


def max_pool_forward(x, plan):
    n, c, h, w = plan.x4
    oh, ow = plan.out4[2], plan.out4[3]
    out = runtime.empty((n * c, oh, ow), x.dtype)
    idx = runtime.empty((n * c, oh, ow), np.dtype(np.int64))
    total = n * c * oh * ow
    if total:
        x3 = kernels.contiguous(x).reshape(n * c, h, w)
        runtime.launch(max_pool_kernel, total)(out, idx, x3, *plan.geom, total)
    return out.reshape(plan.out_shape), idx.reshape(plan.out_shape)


def max_pool_backward(grad, indices, plan):
    n, c, h, w = plan.x4
    ll = plan.out4[2] * plan.out4[3]
    dx = kernels.fill(runtime.empty((n * c, h * w), grad.dtype), 0)
    total = n * c * ll
    if total:
        g = kernels.contiguous(grad).reshape(n * c, ll)
        i = kernels.contiguous(indices).reshape(n * c, ll)
        runtime.launch(max_pool_backward_kernel, total)(dx, g, i, total)
    return dx.reshape(plan.x_shape)


impl("max_pool", "cuda", forward=max_pool_forward, backward={"x": max_pool_backward})


# ---- average pooling over window tables (avg_pool, adaptive_avg_pool) --------------------------

_TABLES: dict = {}  # plan -> its window tables as int64 device arrays (one copy per plan)


def _tables(plan):
    t = _TABLES.get(plan)
    if t is None:
        if len(_TABLES) > 1024:
            _TABLES.clear()
        t = _TABLES[plan] = tuple(
            runtime.from_host(np.array(v, dtype=np.int64))
            for v in (
                plan.h_start,
                plan.h_end,
                plan.h_count,
                plan.w_start,
                plan.w_end,
                plan.w_count,
            )
        )
    return t


@kernel
def avg_pool_kernel(out, x, hs, he, hc, ws, we, wc, divisor, total):
    """out (P, oh, ow): the sum of ``x[p, hs[i]:he[i], ws[j]:we[j]]`` divided by
    ``hc[i] * wc[j]`` (or ``divisor`` when > 0)."""
    _, oh, ow = out.shape
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        j = i % ow
        r = i // ow
        oi = r % oh
        p = r // oh
        d = divisor if divisor > 0 else hc[oi] * wc[j]
        acc = 0.0
        for a in range(hs[oi], he[oi]):
            for b in range(ws[j], we[j]):
                acc += x[p, a, b]
        out[p, oi, j] = acc / d
        i += step


@kernel
def avg_pool_backward_kernel(dx, grad, hs, he, hc, ws, we, wc, divisor, total):
    """dx (P, H, W): each input element gathers ``grad / divisor`` of every window holding it."""
    _, h, w = dx.shape
    _, oh, ow = grad.shape
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        b = i % w
        r = i // w
        a = r % h
        p = r // h
        acc = 0.0
        for oi in range(oh):
            if a < hs[oi] or a >= he[oi]:
                continue
            for j in range(ow):
                if b >= ws[j] and b < we[j]:
                    d = divisor if divisor > 0 else hc[oi] * wc[j]
                    acc += grad[p, oi, j] / d
        dx[p, a, b] = acc
        i += step


def avg_pool_forward(x, plan):
    n, c, h, w = plan.x4
    oh, ow = plan.out4[2], plan.out4[3]
    out = runtime.empty((n * c, oh, ow), x.dtype)
    total = n * c * oh * ow
    if total:
        x3 = kernels.contiguous(x).reshape(n * c, h, w)
        runtime.launch(avg_pool_kernel, total)(out, x3, *_tables(plan), plan.divisor, total)
    return out.reshape(plan.out_shape)


def avg_pool_backward(grad, plan):
    n, c, h, w = plan.x4
    oh, ow = plan.out4[2], plan.out4[3]
    dx = runtime.empty((n * c, h, w), grad.dtype)
    total = n * c * h * w
    if total:
        if oh * ow == 0:
            kernels.fill(dx, 0)
        else:
            g = kernels.contiguous(grad).reshape(n * c, oh, ow)
            runtime.launch(avg_pool_backward_kernel, total)(
                dx, g, *_tables(plan), plan.divisor, total
            )
    return dx.reshape(plan.x_shape)


for _name in ("avg_pool", "adaptive_avg_pool"):
    impl(_name, "cuda", forward=avg_pool_forward, backward={"x": avg_pool_backward})


@kernel
def adaptive_max_pool_kernel(out, idx, x, hs, he, ws, we, total):
    """The maxima of ``x[p, hs[i]:he[i], ws[j]:we[j]]`` and their flat positions, with
    max_pool_kernel's rules."""
    _, h, w = x.shape
    _, oh, ow = out.shape
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        j = i % ow
        r = i // ow
        oi = r % oh
        p = r // oh
        best = -math.inf
        at = hs[oi] * w + ws[j]
        for a in range(hs[oi], he[oi]):
            for b in range(ws[j], we[j]):
                v = x[p, a, b]
                if v > best or v != v:
                    best = v
                    at = a * w + b
        out[p, oi, j] = best
        idx[p, oi, j] = at
        i += step


def adaptive_max_pool_forward(x, plan):
    n, c, h, w = plan.x4
    oh, ow = plan.out4[2], plan.out4[3]
    out = runtime.empty((n * c, oh, ow), x.dtype)
    idx = runtime.empty((n * c, oh, ow), np.dtype(np.int64))
    total = n * c * oh * ow
    if total:
        hs, he, _, ws, we, _ = _tables(plan)
        x3 = kernels.contiguous(x).reshape(n * c, h, w)
        runtime.launch(adaptive_max_pool_kernel, total)(out, idx, x3, hs, he, ws, we, total)
    return out.reshape(plan.out_shape), idx.reshape(plan.out_shape)


impl(
    "adaptive_max_pool",
    "cuda",
    forward=adaptive_max_pool_forward,
    backward={"x": max_pool_backward},
)
