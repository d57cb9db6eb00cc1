"""CPU kernels for convolution and pooling (``ops/conv.py``).

Convolution is im2col + BLAS, one sample at a time: the sample's input patches are unrolled
into a ``(C * kh * kw, oh * ow)`` buffer (zeros where a tap falls in the padding), and each
group's output rows are one GEMM, written straight into the result (``np.dot(a, b, out)``
through scipy's BLAS).  The weight gradient is the same unrolling times ``grad``; the input
gradient is ``weight.T @ grad`` folded back onto the input (col2im).  With stride 1 the
unrolling copies whole runs of a zero-padded copy of the sample ("wide" columns, below); other
strides unroll row by row.  ``conv_transpose`` composes these kernels (its plan is the plan of
the convolution it is the input gradient of).  docs/conv.md has the measurements against
direct loops and torch.

Pooling is direct loops over ``(N * C)`` planes.  Every kernel takes fixed-rank C-contiguous
float32/float64 arrays (one compiled signature per dtype).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...ops.registry import impl

_JIT = {"cache": True, "error_model": "numpy"}


# ---- im2col / col2im ------------------------------------------------------------------------


@njit(inline="always")
def _cols_range(off, stride, size, count):
    """The outputs ``q`` in ``[lo, hi)`` whose tap ``q * stride + off`` is inside ``[0, size)``."""
    lo = max(0, (stride - 1 - off) // stride)
    hi = min(count, (size - off + stride - 1) // stride)
    return lo, max(lo, hi)


@njit(**_JIT)
def _im2col(xs, cols, kh, kw, geom, oh, ow):
    """``cols[(ci * kh + i) * kw + j, o * ow + q] = xs[ci, o*sh - pt + i*dh, q*sw - pl + j*dw]``
    (zero in the padding)."""
    sh, sw, pt, pl, dh, dw = geom[0], geom[1], geom[2], geom[3], geom[4], geom[5]
    c, h, w = xs.shape
    zero = xs.dtype.type(0.0)
    # explicit index loops: slice objects per output row cost more than the copy (measured)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                k = (ci * kh + i) * kw + j
                off = j * dw - pl
                lo, hi = _cols_range(off, sw, w, ow)
                for o in range(oh):
                    base = o * ow
                    ih = o * sh - pt + i * dh
                    if ih < 0 or ih >= h:
                        for q in range(ow):
                            cols[k, base + q] = zero
                        continue
                    for q in range(lo):
                        cols[k, base + q] = zero
                    if sw == 1:  # a contiguous copy, which LLVM vectorises
                        for q in range(lo, hi):
                            cols[k, base + q] = xs[ci, ih, q + off]
                    else:
                        for q in range(lo, hi):
                            cols[k, base + q] = xs[ci, ih, q * sw + off]
                    for q in range(hi, ow):
                        cols[k, base + q] = zero


@njit(**_JIT)
def _col2im(cols, dxs, kh, kw, geom, oh, ow):
    """The adjoint of :func:`_im2col`: adds each column entry back onto its input position."""
    sh, sw, pt, pl, dh, dw = geom[0], geom[1], geom[2], geom[3], geom[4], geom[5]
    c, h, w = dxs.shape
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                k = (ci * kh + i) * kw + j
                off = j * dw - pl
                lo, hi = _cols_range(off, sw, w, ow)
                for o in range(oh):
                    ih = o * sh - pt + i * dh
                    if ih < 0 or ih >= h:
                        continue
                    base = o * ow
                    if sw == 1:
                        for q in range(lo, hi):
                            dxs[ci, ih, q + off] += cols[k, base + q]
                    else:
                        for q in range(lo, hi):
                            dxs[ci, ih, q * sw + off] += cols[k, base + q]


@njit(**_JIT)
def conv_forward_kernel(x, w, b, geom, oh, ow):
    """x (N, C, H, W), w (Co, C/g, kh, kw), b (Co,) or empty -> (N, Co, oh * ow)."""
    n, c = x.shape[0], x.shape[1]
    co, cig, kh, kw = w.shape
    g = geom[6]
    cog, kg, ll = co // g, cig * kh * kw, oh * ow
    w2 = w.reshape(co, kg)
    out = np.empty((n, co, ll), dtype=x.dtype)
    cols = np.empty((c * kh * kw, ll), dtype=x.dtype)
    for s in range(n):
        _im2col(x[s], cols, kh, kw, geom, oh, ow)
        os = out[s]
        for gi in range(g):
            np.dot(
                w2[gi * cog : (gi + 1) * cog],
                cols[gi * kg : (gi + 1) * kg],
                os[gi * cog : (gi + 1) * cog],
            )
        if b.size:
            for k in range(co):
                os[k] += b[k]
    return out


@njit(**_JIT)
def conv_dx_kernel(grad, w, geom, h, wd, oh, ow):
    """grad (N, Co, oh * ow), w (Co, C/g, kh, kw) -> dx (N, C, H, W)."""
    n, co, ll = grad.shape
    _, cig, kh, kw = w.shape
    g = geom[6]
    c = cig * g
    cog, kg = co // g, cig * kh * kw
    w2 = w.reshape(co, kg)
    dx = np.zeros((n, c, h, wd), dtype=grad.dtype)
    cols = np.empty((c * kh * kw, ll), dtype=grad.dtype)
    for s in range(n):
        gs = grad[s]
        for gi in range(g):
            np.dot(
                w2[gi * cog : (gi + 1) * cog].T,
                gs[gi * cog : (gi + 1) * cog],
                cols[gi * kg : (gi + 1) * kg],
            )
        _col2im(cols, dx[s], kh, kw, geom, oh, ow)
    return dx


@njit(**_JIT)
def conv_dw_kernel(grad, x, geom, kh, kw, oh, ow):
    """grad (N, Co, oh * ow), x (N, C, H, W) -> dweight (Co, C/g * kh * kw)."""
    n, co, ll = grad.shape
    c = x.shape[1]
    g = geom[6]
    cig = c // g
    cog, kg = co // g, cig * kh * kw
    dw2 = np.zeros((co, kg), dtype=grad.dtype)
    part = np.empty((cog, kg), dtype=grad.dtype)
    cols = np.empty((c * kh * kw, ll), dtype=grad.dtype)
    for s in range(n):
        _im2col(x[s], cols, kh, kw, geom, oh, ow)
        gs = grad[s]
        for gi in range(g):
            np.dot(gs[gi * cog : (gi + 1) * cog], cols[gi * kg : (gi + 1) * kg].T, part)
            dw2[gi * cog : (gi + 1) * cog] += part
    return dw2


@njit(**_JIT)
def conv_db_kernel(grad):
    """grad (N, Co, L) -> its sums over N and L (float64 accumulation)."""
    n, co, ll = grad.shape
    out = np.empty(co, dtype=grad.dtype)
    for k in range(co):
        t = 0.0
        for s in range(n):
            row = grad[s, k]
            for q in range(ll):
                t += row[q]
        out[k] = t
    return out


# ---- stride 1: "wide" columns ------------------------------------------------------------------
# With stride 1 the im2col row of tap (ci, i, j) is, in a zero-padded copy of the sample seen
# as one flat row per channel, the contiguous run starting at (i * dh) * Wp + j * dw: one copy
# of oh * Wp elements instead of oh short rows (the output is computed Wp wide, its last
# (kw - 1) * dw columns discarded; their gradients are zero).  The padded copy has one spare
# row so the last run stays inside it.  Measured here on small CNN layers (docs/conv.md): the
# unrolling was most of the time, and this makes it a fraction.


@njit(**_JIT)
def _pad_into(xs, xp, pt, pl):
    c, h, w = xs.shape
    for ci in range(c):
        for a in range(h):
            for b in range(w):
                xp[ci, pt + a, pl + b] = xs[ci, a, b]


@njit(**_JIT)
def _wide_cols(xpf, cols, kh, kw, dh, dw, wp):
    c = xpf.shape[0]
    ll = cols.shape[1]
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                k = (ci * kh + i) * kw + j
                start = i * dh * wp + j * dw
                for q in range(ll):
                    cols[k, q] = xpf[ci, start + q]


@njit(**_JIT)
def conv_forward_wide_kernel(x, w, b, geom, oh, ow):
    """Stride-1 forward (see above): x (N, C, H, W) -> (N, Co, oh * ow)."""
    n, c, h, wd = x.shape
    co, cig, kh, kw = w.shape
    pt, pl, dh, dw, g = geom[2], geom[3], geom[4], geom[5], geom[6]
    hp, wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    cog, kg, ll = co // g, cig * kh * kw, oh * wp
    w2 = w.reshape(co, kg)
    xp = np.zeros((c, hp + 1, wp), dtype=x.dtype)
    xpf = xp.reshape(c, (hp + 1) * wp)
    cols = np.empty((c * kh * kw, ll), dtype=x.dtype)
    wide = np.empty((co, ll), dtype=x.dtype)
    out = np.empty((n, co, oh * ow), dtype=x.dtype)
    zero = x.dtype.type(0.0)
    for s in range(n):
        _pad_into(x[s], xp, pt, pl)
        _wide_cols(xpf, cols, kh, kw, dh, dw, wp)
        for gi in range(g):
            np.dot(
                w2[gi * cog : (gi + 1) * cog],
                cols[gi * kg : (gi + 1) * kg],
                wide[gi * cog : (gi + 1) * cog],
            )
        for k in range(co):
            bk = b[k] if b.size else zero
            for o in range(oh):
                for q in range(ow):
                    out[s, k, o * ow + q] = wide[k, o * wp + q] + bk
    return out


@njit(**_JIT)
def _widen(gs, gw, oh, ow, wp):
    """grad (Co, oh * ow) into the wide layout (Co, oh * Wp), whose extra columns stay 0."""
    for k in range(gs.shape[0]):
        for o in range(oh):
            for q in range(ow):
                gw[k, o * wp + q] = gs[k, o * ow + q]


@njit(**_JIT)
def conv_dx_wide_kernel(grad, w, geom, h, wd, oh, ow):
    n, co, _ = grad.shape
    _, cig, kh, kw = w.shape
    pt, pl, dh, dw, g = geom[2], geom[3], geom[4], geom[5], geom[6]
    c = cig * g
    hp, wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    cog, kg, ll = co // g, cig * kh * kw, oh * wp
    w2 = w.reshape(co, kg)
    gw = np.zeros((co, ll), dtype=grad.dtype)
    cols = np.empty((c * kh * kw, ll), dtype=grad.dtype)
    dxp = np.empty((c, hp + 1, wp), dtype=grad.dtype)
    dxpf = dxp.reshape(c, (hp + 1) * wp)
    dx = np.empty((n, c, h, wd), dtype=grad.dtype)
    for s in range(n):
        _widen(grad[s], gw, oh, ow, wp)
        for gi in range(g):
            np.dot(
                w2[gi * cog : (gi + 1) * cog].T,
                gw[gi * cog : (gi + 1) * cog],
                cols[gi * kg : (gi + 1) * kg],
            )
        dxpf[:] = 0.0
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    k = (ci * kh + i) * kw + j
                    start = i * dh * wp + j * dw
                    for q in range(ll):
                        dxpf[ci, start + q] += cols[k, q]
        for ci in range(c):
            for a in range(h):
                for b in range(wd):
                    dx[s, ci, a, b] = dxp[ci, pt + a, pl + b]
    return dx


@njit(**_JIT)
def conv_dw_wide_kernel(grad, x, geom, kh, kw, oh, ow):
    n, co, _ = grad.shape
    c = x.shape[1]
    pt, pl, dh, dw, g = geom[2], geom[3], geom[4], geom[5], geom[6]
    cig = c // g
    hp, wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    cog, kg, ll = co // g, cig * kh * kw, oh * wp
    xp = np.zeros((c, hp + 1, wp), dtype=x.dtype)
    xpf = xp.reshape(c, (hp + 1) * wp)
    cols = np.empty((c * kh * kw, ll), dtype=x.dtype)
    gw = np.zeros((co, ll), dtype=grad.dtype)
    dw2 = np.zeros((co, kg), dtype=grad.dtype)
    part = np.empty((cog, kg), dtype=grad.dtype)
    for s in range(n):
        _pad_into(x[s], xp, pt, pl)
        _wide_cols(xpf, cols, kh, kw, dh, dw, wp)
        _widen(grad[s], gw, oh, ow, wp)
        for gi in range(g):
            np.dot(gw[gi * cog : (gi + 1) * cog], cols[gi * kg : (gi + 1) * kg].T, part)
            dw2[gi * cog : (gi + 1) * cog] += part
    return dw2


def _c(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


_NO_BIAS: dict = {}  # dtype -> an empty bias (the kernels add none when b.size == 0)


def conv_forward(x, weight, bias, plan):
    n, co, oh, ow = plan.out4
    if bias is None:
        bias = _NO_BIAS.get(x.dtype)
        if bias is None:
            bias = _NO_BIAS[x.dtype] = np.empty(0, dtype=x.dtype)
    kernel = conv_forward_wide_kernel if plan.unit_stride else conv_forward_kernel
    out = kernel(_c(x).reshape(plan.x4), _c(weight).reshape(plan.w4), _c(bias), plan.geom, oh, ow)
    return out.reshape(plan.out_shape)


def conv_dx(grad, weight, plan):
    n, co, oh, ow = plan.out4
    h, w = plan.x4[2], plan.x4[3]
    g = _c(grad).reshape(n, co, oh * ow)
    kernel = conv_dx_wide_kernel if plan.unit_stride else conv_dx_kernel
    return kernel(g, _c(weight).reshape(plan.w4), plan.geom, h, w, oh, ow).reshape(plan.x_shape)


def conv_dw(grad, x, plan):
    n, co, oh, ow = plan.out4
    kh, kw = plan.w4[2], plan.w4[3]
    g = _c(grad).reshape(n, co, oh * ow)
    kernel = conv_dw_wide_kernel if plan.unit_stride else conv_dw_kernel
    dw = kernel(g, _c(x).reshape(plan.x4), plan.geom, kh, kw, oh, ow)
    return dw.reshape(plan.w_shape)


def conv_db(grad, plan):
    n, co, oh, ow = plan.out4
    return conv_db_kernel(_c(grad).reshape(n, co, oh * ow))


impl(
    "conv",
    "cpu",
    forward=conv_forward,
    backward={"x": conv_dx, "weight": conv_dw, "bias": conv_db},
)


# ---- transposed convolution: the conv kernels with the roles swapped (ops/conv.py) -----------


def conv_transpose_forward(x, weight, bias, plan):
    out = conv_dx(x, weight, plan)
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * (len(plan.w_shape) - 2))  # over the spatial dims
    return out


def conv_transpose_dx(grad, weight, plan):
    return conv_forward(grad, weight, None, plan)


def conv_transpose_dw(grad, x, plan):
    return conv_dw(x, grad, plan)


def conv_transpose_db(grad, plan):
    n, co, ho, wo = plan.x4
    return conv_db_kernel(_c(grad).reshape(n, co, ho * wo))


impl(
    "conv_transpose",
    "cpu",
    forward=conv_transpose_forward,
    backward={"x": conv_transpose_dx, "weight": conv_transpose_dw, "bias": conv_transpose_db},
)


# ---- max pooling ----------------------------------------------------------------------------


@njit(**_JIT)
def max_pool_kernel(x, geom, oh, ow):
    """x (P, H, W) planes -> the window maxima (P, oh, ow) and their flat positions
    ``h * W + w``.  The first maximum wins; a NaN wins over any number (torch's rule)."""
    p, h, w = x.shape
    kh, kw, sh, sw, pt, pl, dh, dw = geom
    out = np.empty((p, oh, ow), dtype=x.dtype)
    idx = np.empty((p, oh, ow), dtype=np.int64)
    for i in range(oh):
        h0 = i * sh - pt
        h1 = min(h0 + (kh - 1) * dh + 1, h)
        while h0 < 0:
            h0 += dh
        for j in range(ow):
            w0 = j * sw - pl
            w1 = min(w0 + (kw - 1) * dw + 1, w)
            while w0 < 0:
                w0 += dw
            for c in range(p):
                xc = x[c]
                best = -np.inf
                at = h0 * w + w0
                for a in range(h0, h1, dh):
                    for b in range(w0, w1, dw):
                        v = xc[a, b]
                        if v > best or v != v:
                            best = v
                            at = a * w + b
                out[c, i, j] = best
                idx[c, i, j] = at
    return out, idx


@njit(**_JIT)
def max_pool_backward_kernel(grad, idx, hw):
    """grad, idx (P, L) -> (P, hw): each gradient added at its maximum's position."""
    p, ll = grad.shape
    dx = np.zeros((p, hw), dtype=grad.dtype)
    for c in range(p):
        for q in range(ll):
            dx[c, idx[c, q]] += grad[c, q]
    return dx


def max_pool_forward(x, plan):
    n, c, h, w = plan.x4
    oh, ow = plan.out4[2], plan.out4[3]
    out, idx = max_pool_kernel(_c(x).reshape(n * c, h, w), plan.geom, oh, ow)
    return out.reshape(plan.out_shape), idx.reshape(plan.out_shape)


def max_pool_backward(grad, indices, plan):
    n, c, h, w = plan.x4
    g = _c(grad).reshape(n * c, plan.out4[2] * plan.out4[3])
    i = _c(indices).reshape(g.shape)
    return max_pool_backward_kernel(g, i, h * w).reshape(plan.x_shape)


impl("max_pool", "cpu", forward=max_pool_forward, backward={"x": max_pool_backward})


# ---- average pooling over window tables (avg_pool, adaptive_avg_pool) --------------------------


@njit(**_JIT)
def avg_pool_kernel(x, hs, he, hc, ws, we, wc, divisor):
    """x (P, H, W) -> (P, oh, ow): the sum of ``x[hs[i]:he[i], ws[j]:we[j]]`` divided by
    ``hc[i] * wc[j]`` (or ``divisor`` when > 0)."""
    p = x.shape[0]
    oh, ow = hs.size, ws.size
    out = np.empty((p, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            d = divisor if divisor > 0 else hc[i] * wc[j]
            for c in range(p):
                t = x.dtype.type(0.0)
                for a in range(hs[i], he[i]):
                    for b in range(ws[j], we[j]):
                        t += x[c, a, b]
                out[c, i, j] = t / d
    return out


@njit(**_JIT)
def avg_pool_backward_kernel(grad, hs, he, hc, ws, we, wc, divisor, h, w):
    p, oh, ow = grad.shape
    dx = np.zeros((p, h, w), dtype=grad.dtype)
    for i in range(oh):
        for j in range(ow):
            d = divisor if divisor > 0 else hc[i] * wc[j]
            for c in range(p):
                g = grad[c, i, j] / d
                for a in range(hs[i], he[i]):
                    for b in range(ws[j], we[j]):
                        dx[c, a, b] += g
    return dx


_TABLES: dict = {}  # plan -> its window tables as int64 arrays (built once per plan)


def _tables(plan):
    t = _TABLES.get(plan)
    if t is None:
        if len(_TABLES) > 1024:
            _TABLES.clear()
        t = _TABLES[plan] = tuple(
            np.array(v, dtype=np.int64)
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


def avg_pool_forward(x, plan):
    n, c, h, w = plan.x4
    out = avg_pool_kernel(_c(x).reshape(n * c, h, w), *_tables(plan), plan.divisor)
    return out.reshape(plan.out_shape)


def avg_pool_backward(grad, plan):
    n, c, h, w = plan.x4
    oh, ow = plan.out4[2], plan.out4[3]
    g = _c(grad).reshape(n * c, oh, ow)
    return avg_pool_backward_kernel(g, *_tables(plan), plan.divisor, h, w).reshape(plan.x_shape)


for _name in ("avg_pool", "adaptive_avg_pool"):
    impl(_name, "cpu", forward=avg_pool_forward, backward={"x": avg_pool_backward})


@njit(**_JIT)
def adaptive_max_pool_kernel(x, hs, he, ws, we):
    """x (P, H, W) -> the maxima of ``x[hs[i]:he[i], ws[j]:we[j]]`` and their flat positions
    (the first maximum wins, a NaN wins over any number: max_pool_kernel's rule)."""
    p, h, w = x.shape
    oh, ow = hs.size, ws.size
    out = np.empty((p, oh, ow), dtype=x.dtype)
    idx = np.empty((p, oh, ow), dtype=np.int64)
    for c in range(p):
        for i in range(oh):
            for j in range(ow):
                best = -np.inf
                at = hs[i] * w + ws[j]
                for a in range(hs[i], he[i]):
                    for b in range(ws[j], we[j]):
                        v = x[c, a, b]
                        if v > best or v != v:
                            best = v
                            at = a * w + b
                out[c, i, j] = best
                idx[c, i, j] = at
    return out, idx


def adaptive_max_pool_forward(x, plan):
    n, c, h, w = plan.x4
    hs, he, _, ws, we, _ = _tables(plan)
    out, idx = adaptive_max_pool_kernel(_c(x).reshape(n * c, h, w), hs, he, ws, we)
    return out.reshape(plan.out_shape), idx.reshape(plan.out_shape)


impl(
    "adaptive_max_pool",
    "cpu",
    forward=adaptive_max_pool_forward,
    backward={"x": max_pool_backward},
)
