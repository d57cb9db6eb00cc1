"""The reference device's implementations for the issue 11 area 'conv' (numpy, plain).

Written from the ops' meaning over the plans of ``numgrad/ops/conv.py`` (nothing shared with
``numgrad/devices/cpu/conv.py``): a convolution is a sum over kernel taps of strided slices of
the zero-padded input, its gradients the same sums transposed; pooling walks every window.
"""

from __future__ import annotations

import numpy as np


def _padded(x4, plan):
    """``x4`` zero-padded on top/left by the plan's padding and on bottom/right as far as
    the last tap reaches, and the padding (top, left)."""
    n, c, h, w = x4.shape
    _, _, kh, kw = plan.w4
    _, _, oh, ow = plan.out4
    sh, sw, pt, pl, dh, dw, _ = plan.geom
    ph = max(h + pt, (oh - 1) * sh + (kh - 1) * dh + 1)
    pw = max(w + pl, (ow - 1) * sw + (kw - 1) * dw + 1)
    xp = np.zeros((n, c, ph, pw), dtype=x4.dtype)
    xp[:, :, pt : pt + h, pl : pl + w] = x4
    return xp


def _tap(plan, i, j):
    """The slices of the padded input that kernel tap ``(i, j)`` reads for every output."""
    _, _, oh, ow = plan.out4
    sh, sw, _, _, dh, dw, _ = plan.geom
    return (
        slice(None),
        slice(None),
        slice(i * dh, i * dh + (oh - 1) * sh + 1, sh),
        slice(j * dw, j * dw + (ow - 1) * sw + 1, sw),
    )


def _groups(plan):
    co, cig = plan.w4[0], plan.w4[1]
    g = plan.geom[6]
    cog = co // g
    return [(slice(k * cig, (k + 1) * cig), slice(k * cog, (k + 1) * cog)) for k in range(g)]


def conv_forward(x, weight, bias, plan):
    xp = _padded(x.reshape(plan.x4), plan)
    w = weight.reshape(plan.w4)
    out = np.zeros(plan.out4, dtype=x.dtype)
    for cin, cout in _groups(plan):
        for i in range(plan.w4[2]):
            for j in range(plan.w4[3]):
                patch = xp[_tap(plan, i, j)][:, cin]
                out[:, cout] += np.einsum("nchw,oc->nohw", patch, w[cout, :, i, j])
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out.reshape(plan.out_shape)


def conv_dx(grad, weight, plan):
    g = grad.reshape(plan.out4)
    w = weight.reshape(plan.w4)
    n, c, h, wd = plan.x4
    _, _, pt, pl, _, _, _ = plan.geom
    dxp = np.zeros_like(_padded(np.zeros(plan.x4, dtype=grad.dtype), plan))
    for cin, cout in _groups(plan):
        for i in range(plan.w4[2]):
            for j in range(plan.w4[3]):
                sl = _tap(plan, i, j)
                dxp[sl[0], cin, sl[2], sl[3]] += np.einsum(
                    "nohw,oc->nchw", g[:, cout], w[cout, :, i, j]
                )
    return dxp[:, :, pt : pt + h, pl : pl + wd].reshape(plan.x_shape)


def conv_dw(grad, x, plan):
    g = grad.reshape(plan.out4)
    xp = _padded(x.reshape(plan.x4), plan)
    dw = np.zeros(plan.w4, dtype=grad.dtype)
    for cin, cout in _groups(plan):
        for i in range(plan.w4[2]):
            for j in range(plan.w4[3]):
                patch = xp[_tap(plan, i, j)][:, cin]
                dw[cout, :, i, j] = np.einsum("nohw,nchw->oc", g[:, cout], patch)
    return dw.reshape(plan.w_shape)


def conv_db(grad, plan):
    return grad.reshape(plan.out4).sum(axis=(0, 2, 3))


# ---- transposed convolution: the conv above with the roles swapped (its plan is the virtual
# convolution's, see numgrad/ops/conv.py) ----


def conv_transpose_forward(x, weight, bias, plan):
    out = conv_dx(x, weight, plan)
    if bias is not None:
        out = out + bias.reshape((-1,) + (1,) * (len(plan.w_shape) - 2))
    return out


def conv_transpose_dx(grad, weight, plan):
    return conv_forward(grad, weight, None, plan)


def conv_transpose_dw(grad, x, plan):
    return conv_dw(x, grad, plan)


def conv_transpose_db(grad, plan):
    return grad.reshape(plan.x4).sum(axis=(0, 2, 3))


# ---- pooling ----------------------------------------------------------------------------------


def _max_windows(plan):
    """For each output (i, j): the flat positions ``h * W + w`` of its taps inside the input,
    in row-major order."""
    _, _, h, w = plan.x4
    _, _, oh, ow = plan.out4
    kh, kw, sh, sw, pt, pl, dh, dw = plan.geom
    windows = {}
    for i in range(oh):
        for j in range(ow):
            rows = [i * sh - pt + a * dh for a in range(kh)]
            cols = [j * sw - pl + b * dw for b in range(kw)]
            windows[i, j] = [r * w + q for r in rows for q in cols if 0 <= r < h and 0 <= q < w]
    return windows


def max_pool_forward(x, plan):
    n, c, h, w = plan.x4
    _, _, oh, ow = plan.out4
    flat = x.reshape(n * c, h * w)
    out = np.empty((n * c, oh, ow), dtype=x.dtype)
    idx = np.empty((n * c, oh, ow), dtype=np.int64)
    for (i, j), taps in _max_windows(plan).items():
        vals = flat[:, taps]
        # torch: the first maximum of the window, or its first NaN
        nan = np.isnan(vals)
        pick = np.where(nan.any(axis=1), nan.argmax(axis=1), vals.argmax(axis=1))
        idx[:, i, j] = np.asarray(taps)[pick]
        out[:, i, j] = vals[np.arange(n * c), pick]
    return out.reshape(plan.out_shape), idx.reshape(plan.out_shape)


def max_pool_backward(grad, indices, plan):
    n, c, h, w = plan.x4
    g = grad.reshape(n * c, -1)
    ind = indices.reshape(n * c, -1)
    dx = np.zeros((n * c, h * w), dtype=grad.dtype)
    for p in range(n * c):
        np.add.at(dx[p], ind[p], g[p])
    return dx.reshape(plan.x_shape)


def adaptive_max_pool_forward(x, plan):
    n, c, h, w = plan.x4
    _, _, oh, ow = plan.out4
    flat = x.reshape(n * c, h * w)
    out = np.empty((n * c, oh, ow), dtype=x.dtype)
    idx = np.empty((n * c, oh, ow), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            taps = [
                r * w + q
                for r in range(plan.h_start[i], plan.h_end[i])
                for q in range(plan.w_start[j], plan.w_end[j])
            ]
            vals = flat[:, taps]
            nan = np.isnan(vals)
            pick = np.where(nan.any(axis=1), nan.argmax(axis=1), vals.argmax(axis=1))
            idx[:, i, j] = np.asarray(taps)[pick]
            out[:, i, j] = vals[np.arange(n * c), pick]
    return out.reshape(plan.out_shape), idx.reshape(plan.out_shape)


def _divisor(plan, i, j):
    return plan.divisor if plan.divisor else plan.h_count[i] * plan.w_count[j]


def avg_pool_forward(x, plan):
    x4 = x.reshape(plan.x4)
    out = np.empty(plan.out4, dtype=x.dtype)
    for i in range(plan.out4[2]):
        for j in range(plan.out4[3]):
            win = x4[:, :, plan.h_start[i] : plan.h_end[i], plan.w_start[j] : plan.w_end[j]]
            out[:, :, i, j] = win.sum(axis=(2, 3)) / _divisor(plan, i, j)
    return out.reshape(plan.out_shape)


def avg_pool_backward(grad, plan):
    g = grad.reshape(plan.out4)
    dx = np.zeros(plan.x4, dtype=grad.dtype)
    for i in range(plan.out4[2]):
        for j in range(plan.out4[3]):
            share = g[:, :, i, j] / _divisor(plan, i, j)
            dx[:, :, plan.h_start[i] : plan.h_end[i], plan.w_start[j] : plan.w_end[j]] += share[
                :, :, None, None
            ]
    return dx.reshape(plan.x_shape)


IMPLS = {
    "conv": (conv_forward, {"x": conv_dx, "weight": conv_dw, "bias": conv_db}),
    "conv_transpose": (
        conv_transpose_forward,
        {"x": conv_transpose_dx, "weight": conv_transpose_dw, "bias": conv_transpose_db},
    ),
    "max_pool": (max_pool_forward, {"x": max_pool_backward}),
    "avg_pool": (avg_pool_forward, {"x": avg_pool_backward}),
    "adaptive_avg_pool": (avg_pool_forward, {"x": avg_pool_backward}),
    "adaptive_max_pool": (adaptive_max_pool_forward, {"x": max_pool_backward}),
}
