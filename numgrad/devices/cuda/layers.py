"""CUDA kernels for the layer ops of ``ops/layers.py`` (the CPU's are ``devices/cpu/layers.py``):
layer_norm, batch_norm, embedding, pad.

* layer_norm and batch_norm: one block per row (layer_norm) or channel (batch_norm); its
  threads stride over the row and combine float64 partial sums in shared memory (a tree, no
  warp shuffles: the simulator has none), so statistics, normalisation and the affine map are
  one kernel each way, as on the CPU.  An absent ``weight``/``bias`` is a flag and a
  one-element stand-in, so one compiled kernel serves every case.
* embedding: the indices are checked on the device first (a kernel keeps the first bad
  position with ``cuda.atomic.min``; the host reads that one number and raises the CPU's
  error), so no kernel ever reads or writes with a bad index; the backward scatter-adds with
  ``cuda.atomic.add`` and skips ``padding_idx``.
* pad: constant mode is a fill and one strided copy between slices (``kernels.copy_into``);
  the other modes gather along each padded axis with the plan's source-index table, and their
  backward gathers too (one thread per input element sums the outputs that read it: no
  atomics, so float16 works and the order of the sums is fixed).
"""

from __future__ import annotations

import math

import numpy as np

from ...ops.registry import impl
from . import kernels, runtime
from .conv import channel_sums
from .kernels import block_grid, tree_sum
from .runtime import THREADS, cuda, device_function, kernel


@device_function
def block_sum(part, t, v):
    """The sum of ``v`` over the block's threads (``part``: the block's shared float64 array of
    THREADS, ``t`` the thread's index); every thread gets it."""
    part[t] = v
    cuda.syncthreads()
    tree_sum(part, t)
    total = part[0]
    cuda.syncthreads()
    return total


@device_function
def block_sum2(part, part2, t, v, v2):
    """Two block sums in one tree (half the barriers of two ``block_sum`` calls)."""
    part[t] = v
    part2[t] = v2
    cuda.syncthreads()
    width = THREADS // 2
    while width > 0:
        if t < width:
            part[t] += part[t + width]
            part2[t] += part2[t + width]
        cuda.syncthreads()
        width //= 2
    total = part[0]
    total2 = part2[0]
    cuda.syncthreads()
    return total, total2


_ONE: dict = {}  # dtype -> a one-element device array standing in for an absent weight/bias


def _param(p, dtype):
    if p is not None:
        return kernels.contiguous(p).reshape(math.prod(p.shape)), True
    a = _ONE.get(dtype)
    if a is None:
        a = _ONE[dtype] = kernels.fill(runtime.empty((1,), dtype), 0)
    return a, False


# ---- layer_norm: rows (m, n) ------------------------------------------------------------------


@kernel
def layer_norm_kernel(out, mean, rstd, x, w, b, has_w, has_b, eps, m, n):
    part = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    row = cuda.blockIdx.x
    while row < m:
        s = 0.0
        j = t
        while j < n:
            s += x[row, j]
            j += THREADS
        mu = block_sum(part, t, s) / n
        v = 0.0
        j = t
        while j < n:
            d = x[row, j] - mu
            v += d * d
            j += THREADS
        r = 1.0 / math.sqrt(block_sum(part, t, v) / n + eps)
        if t == 0:
            mean[row] = mu
            rstd[row] = r
        j = t
        while j < n:
            y = (x[row, j] - mu) * r
            if has_w:
                y = y * w[j]
            if has_b:
                y = y + b[j]
            out[row, j] = y
            j += THREADS
        row += cuda.gridDim.x


@kernel
def layer_norm_dx_kernel(out, grad, x, w, has_w, mean, rstd, m, n):
    # torch's: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = grad * weight
    part = cuda.shared.array(THREADS, np.float64)
    part2 = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    row = cuda.blockIdx.x
    while row < m:
        mu = mean[row]
        r = rstd[row]
        sg = 0.0
        sgx = 0.0
        j = t
        while j < n:
            g = grad[row, j] * w[j] if has_w else grad[row, j]
            sg += g
            sgx += g * ((x[row, j] - mu) * r)
            j += THREADS
        sg, sgx = block_sum2(part, part2, t, sg, sgx)
        a = sg / n
        c = sgx / n
        j = t
        while j < n:
            g = grad[row, j] * w[j] if has_w else grad[row, j]
            out[row, j] = r * (g - a - (x[row, j] - mu) * r * c)
            j += THREADS
        row += cuda.gridDim.x


@kernel
def layer_norm_dweight_kernel(out, grad, x, mean, rstd, m, n):
    """out[j] = sum over rows of grad * xhat: one thread per column (coalesced over j)."""
    j = cuda.grid(1)
    step = cuda.gridsize(1)
    while j < n:
        acc = 0.0
        for i in range(m):
            acc += grad[i, j] * ((x[i, j] - mean[i]) * rstd[i])
        out[j] = acc
        j += step


def _rows(a, plan):
    return kernels.contiguous(a).reshape(plan.m, plan.n)


def layer_norm_forward(x, weight, bias, eps, plan):
    m, n = plan.m, plan.n
    out = runtime.empty((m, n), x.dtype)
    mean = runtime.empty((m,), x.dtype)
    rstd = runtime.empty((m,), x.dtype)
    if m and not n:  # empty rows: 0 / 0 statistics, as the CPU's
        kernels.fill(mean, np.nan)
        kernels.fill(rstd, np.nan)
    elif m:
        w, has_w = _param(weight, x.dtype)
        b, has_b = _param(bias, x.dtype)
        runtime.launch_grid(layer_norm_kernel, block_grid(m))(
            out, mean, rstd, _rows(x, plan), w, b, has_w, has_b, eps, m, n
        )
    return out.reshape(plan.shape), mean.reshape(plan.stat_shape), rstd.reshape(plan.stat_shape)


def layer_norm_dx(grad, x, weight, mean, rstd, plan):
    m, n = plan.m, plan.n
    out = runtime.empty((m, n), grad.dtype)
    if m * n:
        w, has_w = _param(weight, grad.dtype)
        runtime.launch_grid(layer_norm_dx_kernel, block_grid(m))(
            out,
            _rows(grad, plan),
            _rows(x, plan),
            w,
            has_w,
            kernels.contiguous(mean).reshape(m),
            kernels.contiguous(rstd).reshape(m),
            m,
            n,
        )
    return out.reshape(plan.shape)


def layer_norm_dweight(grad, x, mean, rstd, plan):
    m, n = plan.m, plan.n
    out = runtime.empty((n,), grad.dtype)
    if n:
        runtime.launch(layer_norm_dweight_kernel, n)(
            out,
            _rows(grad, plan),
            _rows(x, plan),
            kernels.contiguous(mean).reshape(m),
            kernels.contiguous(rstd).reshape(m),
            m,
            n,
        )
    return out.reshape(plan.shape[len(plan.stat_shape) :])


def layer_norm_dbias(grad, plan):
    return channel_sums(grad, plan.m, plan.n, 1).reshape(plan.shape[len(plan.stat_shape) :])


impl(
    "layer_norm",
    "cuda",
    forward=layer_norm_forward,
    backward={"x": layer_norm_dx, "weight": layer_norm_dweight, "bias": layer_norm_dbias},
)

# ---- batch_norm: (n, c, s), statistics per channel --------------------------------------------


@kernel
def batch_norm_kernel(out, mean, var, x, w, b, has_w, has_b, eps, n, c, s):
    part = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    ch = cuda.blockIdx.x
    count = n * s
    while ch < c:
        tot = 0.0
        j = t
        while j < count:
            i = j // s
            tot += x[i, ch, j - i * s]
            j += THREADS
        mu = block_sum(part, t, tot) / count
        v = 0.0
        j = t
        while j < count:
            i = j // s
            d = x[i, ch, j - i * s] - mu
            v += d * d
            j += THREADS
        vb = block_sum(part, t, v) / count
        if t == 0:
            mean[ch] = mu
            var[ch] = vb
        scale = 1.0 / math.sqrt(vb + eps)
        if has_w:
            scale = scale * w[ch]
        shift = b[ch] if has_b else 0.0
        j = t
        while j < count:
            i = j // s
            k = j - i * s
            out[i, ch, k] = (x[i, ch, k] - mu) * scale + shift
            j += THREADS
        ch += cuda.gridDim.x


@kernel
def batch_norm_dx_kernel(out, grad, x, w, has_w, mean, var, eps, n, c, s):
    part = cuda.shared.array(THREADS, np.float64)
    part2 = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    ch = cuda.blockIdx.x
    count = n * s
    while ch < c:
        mu = mean[ch]
        r = 1.0 / math.sqrt(var[ch] + eps)
        sg = 0.0
        sgx = 0.0
        j = t
        while j < count:
            i = j // s
            k = j - i * s
            g = grad[i, ch, k]
            sg += g
            sgx += g * ((x[i, ch, k] - mu) * r)
            j += THREADS
        sg, sgx = block_sum2(part, part2, t, sg, sgx)
        a = sg / count
        cc = sgx / count
        scale = r * w[ch] if has_w else r
        j = t
        while j < count:
            i = j // s
            k = j - i * s
            out[i, ch, k] = scale * (grad[i, ch, k] - a - (x[i, ch, k] - mu) * r * cc)
            j += THREADS
        ch += cuda.gridDim.x


@kernel
def batch_norm_dweight_kernel(out, grad, x, mean, var, eps, n, c, s):
    part = cuda.shared.array(THREADS, np.float64)
    t = cuda.threadIdx.x
    ch = cuda.blockIdx.x
    count = n * s
    while ch < c:
        mu = mean[ch]
        r = 1.0 / math.sqrt(var[ch] + eps)
        acc = 0.0
        j = t
        while j < count:
            i = j // s
            k = j - i * s
            acc += grad[i, ch, k] * ((x[i, ch, k] - mu) * r)
            j += THREADS
        tot = block_sum(part, t, acc)
        if t == 0:
            out[ch] = tot
        ch += cuda.gridDim.x


def _ncs(a, plan):
    return kernels.contiguous(a).reshape(plan.n, plan.c, plan.s)


def batch_norm_forward(x, weight, bias, eps, plan):
    n, c, s = plan.n, plan.c, plan.s
    out = runtime.empty((n, c, s), x.dtype)
    mean = runtime.empty((c,), x.dtype)
    var = runtime.empty((c,), x.dtype)
    if c:
        w, has_w = _param(weight, x.dtype)
        b, has_b = _param(bias, x.dtype)
        runtime.launch_grid(batch_norm_kernel, block_grid(c))(
            out, mean, var, _ncs(x, plan), w, b, has_w, has_b, eps, n, c, s
        )
    return out.reshape(plan.shape), mean, var


def batch_norm_dx(grad, x, weight, mean, var, eps, plan):
    n, c, s = plan.n, plan.c, plan.s
    out = runtime.empty((n, c, s), grad.dtype)
    if c and n * s:
        w, has_w = _param(weight, grad.dtype)
        runtime.launch_grid(batch_norm_dx_kernel, block_grid(c))(
            out,
            _ncs(grad, plan),
            _ncs(x, plan),
            w,
            has_w,
            kernels.contiguous(mean),
            kernels.contiguous(var),
            eps,
            n,
            c,
            s,
        )
    return out.reshape(plan.shape)


def batch_norm_dweight(grad, x, mean, var, eps, plan):
    n, c, s = plan.n, plan.c, plan.s
    out = runtime.empty((c,), grad.dtype)
    if c:
        runtime.launch_grid(batch_norm_dweight_kernel, block_grid(c))(
            out,
            _ncs(grad, plan),
            _ncs(x, plan),
            kernels.contiguous(mean),
            kernels.contiguous(var),
            eps,
            n,
            c,
            s,
        )
    return out


def batch_norm_dbias(grad, plan):
    return channel_sums(grad, plan.n, plan.c, plan.s)


impl(
    "batch_norm",
    "cuda",
    forward=batch_norm_forward,
    backward={"x": batch_norm_dx, "weight": batch_norm_dweight, "bias": batch_norm_dbias},
)

# ---- embedding --------------------------------------------------------------------------------


@kernel
def first_bad_index_kernel(first, idx, v, total):
    """first[0] = the least position of an index outside ``[0, v)`` (left alone if none)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        t = idx[i]
        if t < 0 or t >= v:
            cuda.atomic.min(first, 0, i)
        i += step


@kernel
def embedding_kernel(out, weight, idx, total):
    d = out.shape[1]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        r = i // d
        j = i - r * d
        out[r, j] = weight[idx[r], j]
        i += step


@kernel
def embedding_backward_kernel(out, grad, idx, padding_idx, total):
    d = grad.shape[1]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        r = i // d
        j = i - r * d
        t = idx[r]
        if t != padding_idx:
            cuda.atomic.add(out, (t, j), grad[r, j])
        i += step


def _first_bad(idx, v):
    """The first position of ``idx`` (flat, contiguous, on the device) outside ``[0, v)`` and
    the index there, or None: one kernel, then one number (two if bad) read on the host."""
    m = idx.shape[0]
    first = kernels.fill(runtime.empty((1,), np.dtype(np.int64)), m)
    runtime.launch(first_bad_index_kernel, m)(first, idx, v, m)
    pos = int(runtime.to_host(first)[0])
    if pos >= m:
        return None
    return pos, int(runtime.to_host(idx[pos : pos + 1])[0])


def _flat_indices(indices):
    return kernels.contiguous(indices).reshape(math.prod(indices.shape))


def embedding_forward(weight, indices):
    v, d = weight.shape
    idx = _flat_indices(indices)
    m = idx.shape[0]
    out = runtime.empty((m, d), weight.dtype)
    if m:
        bad = _first_bad(idx, v)
        if bad is not None:
            raise IndexError(f"index out of range in self (index {bad[1]}, num_embeddings {v})")
        if d:
            runtime.launch(embedding_kernel, m * d)(out, kernels.contiguous(weight), idx, m * d)
    return out.reshape(tuple(indices.shape) + (d,))


def embedding_backward(grad, indices, weight_shape, padding_idx):
    v, d = weight_shape
    idx = _flat_indices(indices)
    m = idx.shape[0]
    out = kernels.fill(runtime.empty((v, d), grad.dtype), 0)
    if m:
        bad = _first_bad(idx, v)
        if bad is not None:
            raise IndexError(
                f"embedding: index {bad[1]} at position {bad[0]} is out of range for {v} rows "
                f"(the indices were changed after forward)"
            )
        if d:
            g = kernels.contiguous(grad).reshape(m, d)
            runtime.launch(embedding_backward_kernel, m * d)(out, g, idx, padding_idx, m * d)
    return out


impl("embedding", "cuda", forward=embedding_forward, backward={"weight": embedding_backward})

# ---- pad --------------------------------------------------------------------------------------


@kernel
def gather_axis_kernel(out, src, idx, total):
    """out (A, J, B)[a, j, b] = src (A, I, B)[a, idx[j], b] (every idx[j] inside [0, I): the
    plan's tables for reflect, replicate and circular)."""
    _, nj, nb = out.shape
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        b = i % nb
        r = i // nb
        j = r % nj
        a = r // nj
        out[a, j, b] = src[a, idx[j], b]
        i += step


@kernel
def gather_axis_backward_kernel(out, grad, idx, total):
    """out (A, I, B)[a, i, b] = the sum of grad (A, J, B)[a, j, b] over the j with idx[j] == i
    (the adjoint of gather_axis_kernel; float64 sums)."""
    _, ni, nb = out.shape
    nj = grad.shape[1]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        b = i % nb
        r = i // nb
        k = r % ni
        a = r // ni
        acc = 0.0
        for j in range(nj):
            if idx[j] == k:
                acc += grad[a, j, b]
        out[a, k, b] = acc
        i += step


_MAPS: dict = {}  # a pad map (tuple of source indices) -> the same as an int64 device array


def _map(idx):
    a = _MAPS.get(idx)
    if a is None:
        if len(_MAPS) > 1024:
            _MAPS.clear()
        a = _MAPS[idx] = runtime.from_host(np.array(idx, dtype=np.int64))
    return a


def _slices(pairs):
    return tuple(slice(a, b) for a, b in pairs)


def _axis_view(shape, axis):
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])


def pad_forward(x, value, plan):
    out = runtime.empty(plan.out_shape, x.dtype)
    if not plan.maps:  # pad=(): a copy
        return kernels.copy_into(out, x)
    if plan.constant:
        kernels.fill(out, value)
        kernels.copy_into(out[_slices(plan.place)], x[_slices(plan.crop)])
        return out
    cur = x
    for axis, idx in plan.maps:
        shape = list(cur.shape)
        shape[axis] = len(idx)
        nxt = runtime.empty(tuple(shape), x.dtype)
        total = math.prod(shape)
        if total:
            a, n, b = _axis_view(cur.shape, axis)
            src = kernels.contiguous(cur).reshape(a, n, b)
            runtime.launch(gather_axis_kernel, total)(
                nxt.reshape(a, len(idx), b), src, _map(idx), total
            )
        cur = nxt
    return cur


def pad_backward(grad, x_shape, plan):
    x_shape = tuple(x_shape)
    if not plan.maps:
        return kernels.copy_into(runtime.empty(x_shape, grad.dtype), grad)
    if plan.constant:
        gx = kernels.fill(runtime.empty(x_shape, grad.dtype), 0)
        kernels.copy_into(gx[_slices(plan.crop)], grad[_slices(plan.place)])
        return gx
    # float16 sums run in float32 (the kernel's sums are float64 either way; CUDA float16
    # arithmetic needs sm_53+ and the simulator has none to check)
    work = np.dtype(np.float32) if grad.dtype == np.float16 else grad.dtype
    g = grad if work == grad.dtype else kernels.copy_into(runtime.empty(grad.shape, work), grad)
    for axis, idx in reversed(plan.maps):
        shape = list(g.shape)
        shape[axis] = x_shape[axis]
        acc = runtime.empty(tuple(shape), work)
        total = math.prod(shape)
        if total:
            a, n, b = _axis_view(g.shape, axis)
            src = kernels.contiguous(g).reshape(a, n, b)
            runtime.launch(gather_axis_backward_kernel, total)(
                acc.reshape(a, x_shape[axis], b), src, _map(idx), total
            )
        g = acc
    if work != grad.dtype:
        g = kernels.copy_into(runtime.empty(g.shape, grad.dtype), g)
    return g


impl("pad", "cuda", forward=pad_forward, backward={"x": pad_backward})
