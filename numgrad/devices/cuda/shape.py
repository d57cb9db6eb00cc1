"""CUDA compute for the shape and indexing ops (``ops/shape.py``).

Views where the CPU returns numpy views: ``reshape`` of a compatible layout, ``permute``,
``expand`` and basic indexing (ints, slices, None, Ellipsis) are new shape/strides over the same
memory (``runtime.as_strided``).  Advanced indexing (integer arrays, bool masks, host or device)
follows numpy's rules, as the CPU does, in three steps:

1. the basic entries (slices, None) give a view ``v`` of ``x``; every advanced entry keeps the
   dims it indexes whole;
2. ``v`` is permuted (a view) to ``(pre, adv, post)``: the advanced dims in the middle, where
   numpy puts the broadcast index shape ``B`` (in place when the advanced entries are adjacent
   in the index, first otherwise), and viewed as ``(P, M, Q)`` (a copy only when that view is
   not contiguous);
3. one int64 array ``lin`` of ``B``'s size holds, for every index position, the flat offset into
   ``M``; ``out[p, b, q] = v3[p, lin[b], q]``.  ``lin`` is built on the device and each index
   checked there (a flag array read once on the host: the index error must be raised before
   anything is read or written out of range).  Index arrays that live on the host (a Python list
   became one) are checked and turned into offsets on the host and copied over.

The backward of advanced indexing scatter-adds through the same ``lin`` with atomic adds
(repeated indices accumulate); ``setitem`` writes through it with "the last write wins", as
numpy does on the CPU.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ...ops.registry import impl
from . import kernels, runtime
from .loops import broadcast_view
from .runtime import SIM, cuda, kernel

_I64 = np.dtype(np.int64)
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
# positions of a device bool mask are found chunk by chunk: one thread per chunk counts, one
# thread scans the counts, one thread per chunk writes (any mask size, no warp primitives)
_MASK_CHUNK = 256


# ---- kernels -----------------------------------------------------------------------------------


@kernel
def take_kernel(out, src, lin, n):
    # out[p, b, q] = src[p, lin[b], q]
    nb = out.shape[1]
    nq = out.shape[2]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        q = i % nq
        r = i // nq
        b = r % nb
        p = r // nb
        out[p, b, q] = src[p, lin[b], q]
        i += step


@kernel
def index_add_kernel(out, g, lin, n):
    # out[p, lin[b], q] += g[p, b, q]; repeated indices meet on one element: atomic adds
    nb = g.shape[1]
    nq = g.shape[2]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        q = i % nq
        r = i // nq
        b = r % nb
        p = r // nb
        cuda.atomic.add(out, (p, lin[b], q), g[p, b, q])
        i += step


@kernel
def last_writer_kernel(winner, lin, n):
    # winner[m] = the last index position b that writes offset m (numpy's "last write wins")
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        cuda.atomic.max(winner, lin[i], i)
        i += step


@kernel
def put_kernel(out, src, lin, winner, n):
    # out[p, lin[b], q] = src[p, b, q], only from the last position writing each offset
    nb = src.shape[1]
    nq = src.shape[2]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        q = i % nq
        r = i // nq
        b = r % nb
        p = r // nb
        m = lin[b]
        if winner[m] == b:
            out[p, m, q] = src[p, b, q]
        i += step


@kernel
def put_value_kernel(out, value, lin, n):
    # out[p, lin[b], q] = value (out is (P, M, Q), lin has B positions)
    nb = lin.shape[0]
    nq = out.shape[2]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        q = i % nq
        r = i // nq
        b = r % nb
        p = r // nb
        out[p, lin[b], q] = value
        i += step


@kernel
def accumulate_index_kernel(lin, idx, size, stride, bad, slot, n):
    # lin[i] += idx[i] * stride, negative indices counted from the end (numpy); an index out
    # of range is not followed: bad[slot] keeps the first position holding one
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        j = idx[i]
        if j < 0:
            j += size
        if j < 0 or j >= size:
            cuda.atomic.min(bad, slot, i)
        else:
            lin[i] += j * stride
        i += step


@kernel
def mask_count_kernel(counts, mask, n, chunk, nchunks):
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < nchunks:
        s = 0
        i = c * chunk
        end = min(i + chunk, n)
        while i < end:
            if mask[i]:
                s += 1
            i += 1
        counts[c] = s
        c += step


@kernel
def exclusive_scan_kernel(offsets, counts, nchunks):
    # one thread: the chunk counts are few (n / _MASK_CHUNK)
    if cuda.grid(1) == 0:
        s = 0
        for c in range(nchunks):
            offsets[c] = s
            s += counts[c]
        offsets[nchunks] = s


@kernel
def mask_positions_kernel(pos, mask, offsets, n, chunk, nchunks):
    # the flat positions of the True elements, in order (numpy's nonzero, row-major)
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < nchunks:
        o = offsets[c]
        i = c * chunk
        end = min(i + chunk, n)
        while i < end:
            if mask[i]:
                pos[o] = i
                o += 1
            i += 1
        c += step


@kernel
def mask_offsets_kernel(out, pos, dims, strides, k, n):
    # the offset of flat mask position pos[i]: its coordinates (row-major over dims) times
    # the strides of the dims the mask covers
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        r = pos[i]
        s = 0
        d = k - 1
        while d >= 0:
            s += (r % dims[d]) * strides[d]
            r //= dims[d]
            d -= 1
        out[i] = s
        i += step


# ---- basic indexing: views ---------------------------------------------------------------------


def _is_bool_scalar(i):
    return type(i) is bool or isinstance(i, np.bool_)


def _is_int(i):
    return not _is_bool_scalar(i) and isinstance(i, numbers.Integral)


def _is_array(i):
    return isinstance(i, (np.ndarray, *runtime.ARRAY_TYPES))


def as_view(a, shape, strides):
    """``runtime.as_strided``, except that in the simulator the view's numpy base is the
    allocation itself: numpy's ``as_strided`` hides it behind a ``DummyArray``, so
    ``runtime.base_key`` (which follows ndarray bases only) would not see the view share
    memory with its base, and dispatch would not mark it a view (in-place writes through it
    would then not rewrite the base's history)."""
    if not SIM:
        return runtime.as_strided(a, shape, strides)
    arr = a._ary
    root = arr
    while True:
        b = root.base
        if isinstance(b, np.ndarray):
            root = b
        elif b is not None and isinstance(getattr(b, "base", None), np.ndarray):
            root = b.base
        else:
            break
    if not root.flags.c_contiguous:  # not an allocation of ours: numpy's own view
        return runtime.as_strided(a, shape, strides)
    offset = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if not math.prod(shape):
        offset = 0  # nothing is read: any start inside the allocation
    return runtime.StrictArray(
        np.ndarray(shape, arr.dtype, buffer=root, offset=offset, strides=strides)
    )


def view(a, shape, strides, start=None):
    """A view of ``a`` with ``shape`` and byte ``strides``, starting at element ``start`` (a
    coordinate tuple of ``a``).  The start is reached by slicing ``a[s0:, s1:, ...]``, whose
    memory extent holds every element a forward-strided view from there can reach."""
    if start is not None and any(start) and math.prod(shape):
        a = a[tuple(slice(s, None) for s in start)]
    return as_view(a, tuple(shape), tuple(strides))


def _expand_ellipsis(items, ndim):
    """The index with its Ellipsis replaced by full slices (numpy's count of consumed dims)."""
    consumed = 0
    ell = 0
    for i in items:
        if i is Ellipsis:
            ell += 1
        elif i is None or _is_bool_scalar(i):
            pass
        elif _is_array(i) and i.dtype == np.bool_:
            consumed += i.ndim
        else:
            consumed += 1
    if ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional, but {consumed} were indexed"
        )
    if not ell:
        return items
    k = items.index(Ellipsis)
    return items[:k] + (slice(None),) * (ndim - consumed) + items[k + 1 :]


def basic_view(a, index):
    """``a[index]`` for a basic index (ints, slices, None, Ellipsis, bool scalars): a view."""
    items = _expand_ellipsis(index if isinstance(index, tuple) else (index,), a.ndim)
    shape, strides, start = [], [], [0] * a.ndim
    d = 0
    for i in items:
        if i is None or _is_bool_scalar(i):
            # numpy: x[True] adds a dim of 1, x[False] one of 0
            shape.append(0 if (i is not None and not i) else 1)
            strides.append(0)
            continue
        n = a.shape[d]
        if isinstance(i, slice):
            lo, hi, st = i.indices(n)
            if st <= 0:
                raise ValueError("step must be greater than zero")
            length = len(range(lo, hi, st))
            start[d] = lo if length else 0
            shape.append(length)
            strides.append(a.strides[d] * st)
        else:
            j = int(i)
            if not -n <= j < n:
                raise IndexError(f"index {j} is out of bounds for axis {d} with size {n}")
            start[d] = j % n
        d += 1
    shape.extend(a.shape[d:])
    strides.extend(a.strides[d:])
    return view(a, shape, strides, start)


# ---- advanced indexing -------------------------------------------------------------------------


class _Advanced:
    """numpy's advanced indexing of ``a`` by ``index`` laid out as ``(P, M, Q)`` views (module
    docstring): ``vp`` (the permuted basic view of ``a``), ``pmq``, ``bshape`` (the index
    shape B), ``lin`` (device int64, B's size) and ``out_shape``."""

    def __init__(self, a, index, backward=False):
        items = _expand_ellipsis(index if isinstance(index, tuple) else (index,), a.ndim)
        view_items, entries = [], []  # entries: (kind, value, v dims, x dim, position)
        vdim = xdim = 0
        for pos, i in enumerate(items):
            if i is None:
                view_items.append(None)
                vdim += 1
            elif isinstance(i, slice):
                view_items.append(i)
                vdim += 1
                xdim += 1
            elif _is_bool_scalar(i):
                # with arrays present numpy reads True/False as a 0-d mask: a dim of 1 or 0
                entries.append(("mask", np.asarray(bool(i)), (), xdim, pos))
            elif _is_array(i) and i.dtype == np.bool_:
                k = i.ndim
                for m in range(k):
                    if i.shape[m] != a.shape[xdim + m]:
                        raise IndexError(
                            f"boolean index did not match indexed array along axis {xdim + m}; "
                            f"size of axis is {a.shape[xdim + m]} but size of corresponding "
                            f"boolean axis is {i.shape[m]}"
                        )
                entries.append(("mask", i, tuple(range(vdim, vdim + k)), xdim, pos))
                view_items.extend([slice(None)] * k)
                vdim += k
                xdim += k
            elif _is_array(i):
                if i.dtype.kind not in "iu":
                    raise IndexError(
                        "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) "
                        f"and integer or boolean arrays are valid indices (got {i.dtype} array)"
                    )
                entries.append(("int", i, (vdim,), xdim, pos))
                view_items.append(slice(None))
                vdim += 1
                xdim += 1
            else:  # an int among arrays is a 0-d integer array for numpy
                entries.append(("int", np.asarray(int(i), dtype=_I64), (vdim,), xdim, pos))
                view_items.append(slice(None))
                vdim += 1
                xdim += 1
        v = basic_view(a, tuple(view_items))
        adv_dims = [d for e in entries for d in e[2]]
        rest = [d for d in range(v.ndim) if d not in adv_dims]
        positions = [e[4] for e in entries]
        adjacent = positions == list(range(positions[0], positions[0] + len(positions)))
        ins = sum(1 for d in rest if d < min(adv_dims)) if adjacent and adv_dims else 0
        if adjacent and not adv_dims:
            ins = sum(1 for it in items[: positions[0]] if it is None or isinstance(it, slice))
        perm = rest[:ins] + adv_dims + rest[ins:]
        self.vp = as_view(v, tuple(v.shape[d] for d in perm), tuple(v.strides[d] for d in perm))
        pre = tuple(v.shape[d] for d in rest[:ins])
        post = tuple(v.shape[d] for d in rest[ins:])
        adv_sizes = [v.shape[d] for d in adv_dims]
        # row-major strides of the advanced dims inside M
        cstride = {}
        s = 1
        for d, n in zip(reversed(adv_dims), reversed(adv_sizes)):
            cstride[d] = s
            s *= n
        self.pmq = (math.prod(pre), math.prod(adv_sizes), math.prod(post))

        # each entry's contribution: ("host", offsets) or ("device", index, size, stride)
        parts, shapes = [], []
        for kind, i, dims, xd, _ in entries:
            if kind == "mask":
                strides = [cstride[d] for d in dims]
                if isinstance(i, np.ndarray):
                    coords = np.nonzero(i) if i.ndim else (np.zeros(int(i), _I64),)
                    off = np.zeros(coords[0].shape, _I64)
                    for c, st in zip(coords, strides):
                        off += c.astype(_I64) * st
                    parts.append(("host", off))
                else:
                    parts.append(("device", _mask_offsets(i, strides), None, 1, xd))
                shapes.append(parts[-1][1].shape)
            else:
                size = v.shape[dims[0]]
                if isinstance(i, np.ndarray):
                    j = i.astype(_I64)
                    badm = (j < -size) | (j >= size)
                    if badm.any():
                        raise _index_error(int(j[badm].reshape(-1)[0]), xd, size, backward)
                    parts.append(("host", np.where(j < 0, j + size, j) * cstride[dims[0]]))
                else:
                    parts.append(("device", i, size, cstride[dims[0]], xd))
                shapes.append(i.shape)
        try:
            bshape = np.broadcast_shapes(*shapes)
        except ValueError:
            raise IndexError(
                "shape mismatch: indexing arrays could not be broadcast together with shapes "
                + "".join(f"{tuple(s)} " for s in shapes)
            ) from None
        self.bshape = bshape
        self.out_shape = pre + tuple(bshape) + post
        nb = math.prod(bshape)
        host = [p[1] for p in parts if p[0] == "host"]
        lin_host = np.zeros(bshape, _I64)
        for off in host:
            lin_host = lin_host + off
        self.lin = runtime.from_host(np.ascontiguousarray(lin_host).reshape(nb))
        device = [p for p in parts if p[0] == "device"]
        if device and nb:
            bad = kernels.fill(runtime.empty((len(device),), _I64), nb)
            flats = []
            for slot, (_, i, size, stride, _xd) in enumerate(device):
                c = kernels.copy_into(runtime.empty(bshape, _I64), broadcast_view(i, bshape))
                c = c.reshape(nb)
                flats.append(c)
                # a mask's offsets are in range by construction: size is never exceeded
                lim = self.pmq[1] + 1 if size is None else size
                runtime.launch(accumulate_index_kernel, nb)(self.lin, c, lim, stride, bad, slot, nb)
            # the one host read of an index op: the index error must be raised here, on the
            # host, before any kernel follows an index out of range
            first = runtime.to_host(bad)
            for slot, p in enumerate(first):
                if p < nb:
                    value = int(runtime.to_host(flats[slot][int(p) : int(p) + 1])[0])
                    raise _index_error(value, device[slot][4], device[slot][2], backward)

    def contiguous_vp(self):
        """``vp`` as a C-contiguous ``(P, M, Q)`` array (itself when it already is)."""
        return kernels.contiguous(self.vp).reshape(self.pmq)


def _index_error(value, axis, size, backward):
    msg = f"index {value} is out of bounds for axis {axis} with size {size}"
    if backward:
        msg += " (the index was changed after forward)"
    return IndexError(msg)


def _mask_offsets(mask, strides):
    """Offsets of the True elements of device bool array ``mask`` (row-major order) for the
    dims it covers, as a device int64 array.  Sizing it needs the count of True elements on the
    host: this read is unavoidable (torch synchronises for a bool-mask index too)."""
    n = math.prod(mask.shape)
    flat = kernels.contiguous(mask).reshape(max(n, 1)) if n else None
    nchunks = max(1, -(-n // _MASK_CHUNK))
    counts = runtime.empty((nchunks,), _I64)
    offsets = runtime.empty((nchunks + 1,), _I64)
    if n:
        runtime.launch(mask_count_kernel, nchunks)(counts, flat, n, _MASK_CHUNK, nchunks)
        runtime.launch_grid(exclusive_scan_kernel, 1, 1)(offsets, counts, nchunks)
        total = int(runtime.to_host(offsets[nchunks : nchunks + 1])[0])
    else:
        total = 0
    pos = runtime.empty((total,), _I64)
    if total:
        runtime.launch(mask_positions_kernel, nchunks)(pos, flat, offsets, n, _MASK_CHUNK, nchunks)
    out = runtime.empty((total,), _I64)
    if total:
        k = mask.ndim
        dims = runtime.from_host(np.asarray(mask.shape or (1,), _I64))
        st = runtime.from_host(np.asarray(strides or [0], _I64))
        runtime.launch(mask_offsets_kernel, total)(out, pos, dims, st, k, total)
    return out


def _take(adv, src3):
    p, _, q = adv.pmq
    nb = math.prod(adv.bshape)
    out = runtime.empty((p, nb, q), src3.dtype)
    n = p * nb * q
    if n:
        runtime.launch(take_kernel, n)(out, src3, adv.lin, n)
    return out.reshape(adv.out_shape)


def _put(adv, values):
    """Write ``values`` (device array, broadcastable to the indexed shape) through ``adv``."""
    p, m, q = adv.pmq
    nb = math.prod(adv.bshape)
    n = p * nb * q
    if not n:
        return
    _check_broadcast(values.shape, adv.out_shape)
    buf = adv.contiguous_vp()
    src = runtime.empty(adv.out_shape, buf.dtype)
    kernels.copy_into(src, broadcast_view(values, adv.out_shape))
    winner = kernels.fill(runtime.empty((max(m, 1),), _I64), -1)
    runtime.launch(last_writer_kernel, nb)(winner, adv.lin, nb)
    runtime.launch(put_kernel, n)(buf, src.reshape(p, nb, q), adv.lin, winner, n)
    _write_back(adv, buf)


def _fill_at(adv, value):
    p, _, q = adv.pmq
    nb = math.prod(adv.bshape)
    n = p * nb * q
    if not n:
        return
    buf = adv.contiguous_vp()
    runtime.launch(put_value_kernel, n)(buf, buf.dtype.type(value), adv.lin, n)
    _write_back(adv, buf)


def _write_back(adv, buf):
    # buf is vp's own memory when vp was contiguous; otherwise a copy to write back
    if not adv.vp.is_c_contiguous():
        kernels.copy_into(adv.vp, buf.reshape(adv.vp.shape))


def _check_broadcast(src_shape, shape):
    try:
        ok = np.broadcast_shapes(tuple(src_shape), tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"could not broadcast input array from shape {tuple(src_shape)} into shape "
            f"{tuple(shape)}"
        )


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return not any(_is_array(i) for i in items)


# ---- reshape, expand, permute ------------------------------------------------------------------


def _resolve_shape(shape, size):
    shape = tuple(int(s) for s in shape)
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        shape = tuple(size // known if s == -1 and known else (0 if s == -1 else s) for s in shape)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


def _nocopy_strides(old_shape, old_strides, new_shape):
    """numpy's ``_attempt_nocopy_reshape``: byte strides viewing a strided array with
    ``new_shape`` without a copy, or None when the layout does not allow it."""
    olds = [(n, s) for n, s in zip(old_shape, old_strides) if n != 1]
    new = list(new_shape)
    strides = [0] * len(new)
    oi = ni = 0
    while ni < len(new) and oi < len(olds):
        np_, op_ = new[ni], olds[oi][0]
        nj, oj = ni + 1, oi + 1
        while np_ != op_:
            if np_ < op_:
                np_ *= new[nj]
                nj += 1
            else:
                op_ *= olds[oj][0]
                oj += 1
        for k in range(oi, oj - 1):
            if olds[k][1] != olds[k + 1][0] * olds[k + 1][1]:
                return None
        strides[nj - 1] = olds[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            strides[k - 1] = strides[k] * new[k]
        ni, oi = nj, oj
    # trailing size-1 dims
    last = strides[ni - 1] if ni > 0 else 1
    for k in range(ni, len(new)):
        strides[k] = last
    return strides


def reshape_array(x, shape):
    shape = _resolve_shape(shape, math.prod(x.shape))
    if not shape:  # one element: any layout views it
        return as_view(x, (), ())
    if x.is_c_contiguous():
        return x.reshape(shape)
    if math.prod(shape):
        # numpy returns a view whenever the strides allow one (the CPU's reshape): so do we,
        # so that in-place writes through it reach the base as they do there
        strides = _nocopy_strides(x.shape, x.strides, shape)
        if strides is not None:
            return as_view(x, shape, tuple(strides))
    return kernels.contiguous(x).reshape(shape)


def reshape(x, shape):
    return reshape_array(x, shape)


def reshape_back(grad, x_shape):
    return reshape_array(grad, x_shape)


def broadcast_to(x, shape):
    shape = tuple(shape)
    _check_broadcast(x.shape, shape)
    lead = len(shape) - x.ndim
    strides = [0] * lead + [
        0 if n == 1 and shape[lead + k] != 1 else st
        for k, (n, st) in enumerate(zip(x.shape, x.strides))
    ]
    return as_view(x, shape, tuple(strides))


def transpose_array(x, perm):
    return as_view(x, tuple(x.shape[p] for p in perm), tuple(x.strides[p] for p in perm))


def transpose(x, perm):
    return transpose_array(x, perm)


def transpose_back(grad, plan):
    return transpose_array(grad, plan)


impl("reshape", "cuda", forward=reshape, backward={"x": reshape_back})
impl("expand", "cuda", forward=broadcast_to)
impl("permute", "cuda", forward=transpose, backward={"x": transpose_back})


# ---- getitem, setitem --------------------------------------------------------------------------


def getitem(x, index):
    if _is_basic_index(index):
        return basic_view(x, index)
    adv = _Advanced(x, index)
    return _take(adv, adv.contiguous_vp())


def getitem_backward(grad, plan):
    # float16 accumulates in float32 (the tape casts back), as on the CPU
    dt = _F32 if grad.dtype == _F16 else grad.dtype
    out = kernels.fill(runtime.empty(plan.shape, dt), 0)
    if plan.kind == "basic":
        dst = basic_view(out, plan.index)
        kernels.copy_into(dst, broadcast_view(grad, dst.shape))
        return out
    adv = _Advanced(out, plan.index, backward=True)
    p, m, q = adv.pmq
    nb = math.prod(adv.bshape)
    n = p * nb * q
    if n:
        buf = kernels.fill(runtime.empty((p, m, q), dt), 0)
        g = runtime.empty((p, nb, q), dt)
        kernels.copy_into(g.reshape(adv.out_shape), grad)
        runtime.launch(index_add_kernel, n)(buf, g, adv.lin, n)
        kernels.copy_into(adv.vp, buf.reshape(adv.vp.shape))
    return out


impl("getitem", "cuda", forward=getitem, backward={"x": getitem_backward})


def _set(out, index, v):
    if _is_basic_index(index):
        dst = basic_view(out, index)
        _check_broadcast(v.shape, dst.shape)
        kernels.copy_into(dst, broadcast_view(v, dst.shape))
    else:
        _put(_Advanced(out, index), v)
    return out


def assign_index(dst, index, value):
    """``dst[index] = value`` in place (``value``: a device array, a host array or a number):
    what ``Tensor.__setitem__`` does to a CUDA tensor outside any graph.  A device array's own
    ``__setitem__`` cannot do it (no advanced indices, and the simulator's copies through
    numpy)."""
    if not isinstance(value, runtime.ARRAY_TYPES):
        value = np.asarray(value)
        if value.ndim == 0 and _is_basic_index(index):
            dst_view = basic_view(dst, index)
            kernels.fill(dst_view, value.item())
            return dst
        value = runtime.from_host(value)
    return _set(dst, index, value)


def setitem_forward(x, v, index):
    out = kernels.copy_into(runtime.empty(x.shape, x.dtype), x)
    return _set(out, index, v)


def setitem_dx(grad, index):
    g = kernels.copy_into(runtime.empty(grad.shape, grad.dtype), grad)
    if _is_basic_index(index):
        kernels.fill(basic_view(g, index), 0)
    else:
        _fill_at(_Advanced(g, index, backward=True), 0)
    return g


def setitem_dv(grad, index):
    return getitem(grad, index)


impl("setitem", "cuda", forward=setitem_forward, backward={"x": setitem_dx, "v": setitem_dv})


# ---- cat, stack --------------------------------------------------------------------------------


def _along(a, dim, lo, hi):
    return basic_view(a, (slice(None),) * dim + (slice(lo, hi),))


def cat_forward(xs, dim):
    first = xs[0].shape
    for x in xs[1:]:
        if x.ndim != len(first) or any(
            s != t for k, (s, t) in enumerate(zip(x.shape, first)) if k != dim
        ):
            raise ValueError(
                f"all the input array dimensions except for the concatenation axis must match "
                f"exactly (shapes {first} and {x.shape})"
            )
    total = sum(x.shape[dim] for x in xs)
    shape = first[:dim] + (total,) + first[dim + 1 :]
    out = runtime.empty(shape, np.result_type(*[x.dtype for x in xs]))
    o = 0
    for x in xs:
        n = x.shape[dim]
        if n and math.prod(x.shape):
            kernels.copy_into(_along(out, dim, o, o + n), x)
        o += n
    return out


def cat_backward(grad, plan):
    bounds = (0, *plan.bounds, grad.shape[plan.dim])
    return [_along(grad, plan.dim, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def stack_forward(xs, dim):
    first = xs[0].shape
    for x in xs[1:]:
        if x.shape != first:
            raise ValueError("all input arrays must have the same shape")
    shape = first[:dim] + (len(xs),) + first[dim:]
    out = runtime.empty(shape, np.result_type(*[x.dtype for x in xs]))
    if math.prod(shape):
        for k, x in enumerate(xs):
            kernels.copy_into(basic_view(out, (slice(None),) * dim + (k,)), x)
    return out


def stack_backward(grad, xs_shapes, dim):
    return [basic_view(grad, (slice(None),) * dim + (k,)) for k in range(len(xs_shapes))]


impl("cat", "cuda", forward=cat_forward, backward={"xs": cat_backward})
impl("stack", "cuda", forward=stack_forward, backward={"xs": stack_backward})


# ---- view_scatter: in-place writes through views -----------------------------------------------
# ``region`` is a host array (the flat base indices the view covers, from inplace.view_region):
# copied to the device as the offsets of a (1, M, 1) take/put


class _Region:
    def __init__(self, region, size):
        self.bshape = tuple(region.shape)
        self.pmq = (1, size, 1)
        self.out_shape = self.bshape
        self.lin = runtime.from_host(np.ascontiguousarray(region, dtype=_I64).reshape(-1))


def _flat(a):
    return kernels.contiguous(a).reshape(1, math.prod(a.shape), 1)


def view_scatter_forward(base, v, region):
    out = kernels.copy_into(runtime.empty(base.shape, base.dtype), base)
    r = _Region(region, math.prod(base.shape))
    r.vp = out.reshape(r.pmq)
    r.contiguous_vp = lambda: r.vp
    _put(r, v)
    return out


def view_scatter_dbase(grad, region):
    g = kernels.copy_into(runtime.empty(grad.shape, grad.dtype), grad)
    r = _Region(region, math.prod(grad.shape))
    r.vp = g.reshape(r.pmq)
    r.contiguous_vp = lambda: r.vp
    _fill_at(r, 0)
    return g


def view_scatter_dv(grad, region):
    return _take(_Region(region, math.prod(grad.shape)), _flat(grad))


impl(
    "view_scatter",
    "cuda",
    forward=view_scatter_forward,
    backward={"base": view_scatter_dbase, "v": view_scatter_dv},
)
