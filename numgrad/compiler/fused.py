"""The CPU fast path of ``numgrad.compile``: a whole traced step as ONE ``@njit`` function.

Where every entry of a trace is one this module knows (the ops of MLP training steps:
elementwise rules, linear, whole-tensor mean/sum, log_softmax, nll, the seed gradient, the
optimizer updates), the step becomes Python source for a single Numba function that does what
the same compute kernels eager mode calls do (``devices/cpu``: ``linear_kernel``,
``mm_kernel``, ``colsum_kernel``, ``log_softmax_into``, ``nll_into``..., the generated update
loop).  No Python runs between kernels, and the results are eager's bit for bit
(``tests/test_compile.py``).

**Loop fusion.**  A run of consecutive elementwise entries of one shape (led, where it
follows one, by a linear layer's bias add) is ONE loop (``_groups``, ``_group``): each rule is
inlined, its result kept in a register for the rules after it and stored only where something
outside the loop reads it (a ReLU's input, for instance, is never written back).  Each result
passes through ``cpu.math.rounded``, which stops LLVM contracting one rule's multiply and the
next rule's add into an FMA: eager rounds between the two, and so does the loop.
``options={"fuse_loops": False}`` keeps one loop per rule.

**Memory plan.**  The function allocates nothing per call but the arrays it returns
(``test_steady_state_calls_allocate_only_the_returned_loss`` counts Numba's allocations):

* every intermediate lives in one workspace, at an offset chosen by a linear scan over the
  trace (a buffer is reused once the last entry reading it has run); kernels' scratch rows
  (softmax's exp row, nll's per-row losses) have workspace blocks of their own;
* each gradient bound to a parameter's ``.grad`` has a buffer of its own, written every call;
  the wrapper binds ``.grad`` to a tensor over it once, and the optimizer's pointer table
  holds its address from the start (no address written per call);
* parameters, buffers, optimizer state and the workspace are reached through one int64 array
  of addresses (``P``), so a call passes the step's tensor arguments, ``P`` and the
  optimizer's scalars: unboxing an array argument costs about as much as a small kernel.
  The arrays stay alive with the program, and the wrapper's guards check that every bound
  array still belongs to its tensor before each call.

Where a kernel writes into a given buffer the fused code calls the same routine eager's kernel
calls: ``np.dot(a, b, out)`` is what Numba's ``a @ b`` runs after allocating ``out``, and the
row kernels' ``*_into`` forms are the code their allocating forms run.

The source is written to the kernel cache folder under a hash of itself and imported by name
(``kernel_cache.load_generated``), so Numba caches the compiled function: a new process running
the same step loads it instead of compiling it.

Anything else raises :class:`~numgrad.compiler.errors.Unsupported` and the step runs as the
replay program (``program.py``) instead: broadcasting elementwise calls, strided inputs,
reductions over some dims, other ops.  Every emitter below mirrors the Python glue of its op's
CPU implementation for the case it accepts; the glue is where a difference from eager would
come from, so the accepted cases are narrow on purpose.
"""

from __future__ import annotations

import hashlib
import math
import sys

import numpy as np

from ..devices.kernel_cache import file_hash, load_generated
from ..storage import _wrap
from .errors import Unsupported

_ALIGN = 64  # workspace buffers start on cache lines (and SIMD loads stay aligned)
_POINTER_KINDS = "fiu"  # dtypes reached through P; others are passed as arguments


def _is_slot(x):
    return hasattr(x, "index") and hasattr(x, "origin")


def _contig(s):
    a = s.array
    return isinstance(a, np.ndarray) and a.flags.c_contiguous


def _float(s):
    return isinstance(s.array, np.ndarray) and s.array.dtype.kind == "f"


def _slots_in(x):
    if _is_slot(x):
        yield x
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _slots_in(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _slots_in(v)


def _dt(s):
    return f"np.{np.dtype(s.dtype).name}"


def _shape(shape):
    return "(" + "".join(f"{int(d)}, " for d in shape) + ")"


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _aligned(nbytes):
    """Bytes a workspace buffer of ``nbytes`` takes: whole cache lines, at least one."""
    return -(-max(nbytes, 1) // _ALIGN) * _ALIGN


class Fused:
    """A fused step and what its caller needs: ``fn(*arrays, *fixed, *scalars)`` returns the
    tuple of the arrays the user's function returned; ``grads``: (parameter, gradient tensor)
    pairs to bind as ``.grad`` (the gradient tensors are rewritten in place every call);
    ``keep``: every array an address in ``P`` points into."""

    __slots__ = ("fn", "fixed", "grads", "keep", "source", "calls")

    def __init__(self, fn, fixed, grads, keep, source):
        self.fn = fn
        self.fixed = fixed
        self.grads = grads
        self.keep = keep
        self.source = source
        self.calls = 0


class _Gen:
    def __init__(self, trace, arg_arrays, result_slots, grad_slots):
        self.trace = trace
        self.lines = []
        self.prologue = []
        self.imports = {}  # (module, name) -> alias
        self.names = {}  # slot index -> name in the function
        self.params = [f"a{k}" for k in range(len(arg_arrays))] + ["P"]
        self.extra = []  # arrays and numbers passed as arguments after P
        self.pointers = []  # what P holds: ("array", arr) or ("ws", offset)
        self.grad_buffers = {}  # slot index -> the array bound to a parameter's .grad
        self.home = {}  # slot index -> "grad" | "fresh" (new array per call)
        self.readers = {}  # slot index -> indices of the entries reading it
        self.live = {}  # slot index -> (offset, size) of its workspace buffer
        self.free = []  # (size, offset) of workspace buffers no live slot holds
        self.ws_size = 0
        self.zero = None  # name of the runtime 0 for `rounded`, once a loop needs it
        self.consts = {}  # dtype name -> the numbers read from its table (const)
        self.entry = 0  # index of the entry being emitted
        for s in result_slots:
            self.home[s.index] = "fresh"
        for s in grad_slots:
            self.home[s.index] = "grad"  # a result that is also a gradient is copied
        for s in trace.slots:
            if s.view_of is not None:  # views alias their base: no buffer reuse near them
                self.home.setdefault(s.index, "fresh")
                self.home.setdefault(s.view_of.index, "fresh")
        for i, e in enumerate(trace.entries):
            for s in _slots_in(e.inputs):
                self.readers.setdefault(s.index, set()).add(i)
        self.last_use = {k: max(v) for k, v in self.readers.items()}  # slot -> last reader
        arg_ids = {id(a): k for k, a in enumerate(arg_arrays)}
        for s in trace.slots:
            if s.origin == "new":
                continue
            k = arg_ids.get(id(s.array))
            if k is not None:
                self.names[s.index] = f"a{k}"
            elif isinstance(s.array, np.ndarray):
                self.names[s.index] = self.bound(s.array, f"s{s.index}")

    # ---- arrays and constants from outside ---------------------------------------------------
    def bound(self, arr, name):
        """``name`` in the function is ``arr`` (updated in place, alive with the program)."""
        if arr.flags.c_contiguous and arr.dtype.kind in _POINTER_KINDS:
            k = len(self.pointers)
            self.pointers.append(("array", arr))
            self.prologue.append(
                f"{name} = carray(_ptr(P[{k}], np.{arr.dtype.name}), {_shape(arr.shape)})"
            )
            return name
        return self.argument(arr)

    def argument(self, value):
        name = f"x{len(self.extra)}"
        self.extra.append(value)
        self.params.append(name)
        return name

    def const(self, x):
        """A number of the trace, typed as eager's kernel argument was: read at run time from
        a table (a literal would let LLVM fold what eager computes, ``pow(2.0, x)`` into
        ``exp2(x)`` for one: a different last bit)."""
        if isinstance(x, (bool, np.bool_)):
            return repr(bool(x))
        if isinstance(x, np.number):
            dt = x.dtype
        elif isinstance(x, int):
            dt = np.dtype(np.int64)
        elif isinstance(x, float):
            dt = np.dtype(np.float64)
        else:
            raise Unsupported(f"operand of type {type(x).__name__}")
        if dt.kind not in "fiu":
            raise Unsupported(f"operand of dtype {dt}")
        values = self.consts.setdefault(dt.name, [])
        values.append(x)
        return f"_k{dt.name}_{len(values) - 1}"

    def const_tables(self):
        """Bind the tables :meth:`const` reads (called once every entry is emitted)."""
        for name, values in self.consts.items():
            try:
                table = np.array(values, dtype=name)
            except OverflowError as e:
                raise Unsupported(f"a number out of {name}'s range") from e
            t = self.bound(table, f"_K{name}")
            self.prologue += [f"_k{name}_{i} = {t}[{i}]" for i in range(len(values))]

    def imp(self, fn):
        mod = getattr(fn, "py_func", fn).__module__
        name = getattr(fn, "py_func", fn).__name__
        if getattr(sys.modules.get(mod), name, None) is not fn:
            raise Unsupported(f"{name} is not importable from {mod}")
        alias = self.imports.get((mod, name))
        if alias is None:
            alias = self.imports[(mod, name)] = f"_f{len(self.imports)}"
        return alias

    def ref(self, s):
        if not _is_slot(s):
            raise Unsupported(f"expected an array, got {type(s).__name__}")
        name = self.names.get(s.index)
        if name is None:
            raise Unsupported(f"slot {s!r} read before it is made")
        return name

    # ---- results of the step's entries: the memory plan ------------------------------------
    def out(self, s):
        """The name of a buffer the current entry writes slot ``s`` into (defined here)."""
        if s.origin != "new" or s.index in self.names:
            raise Unsupported(f"{s!r} written as a new result")
        if not isinstance(s.array, np.ndarray):
            raise Unsupported(f"{s!r} is not a numpy array")
        name = self.names[s.index] = f"v{s.index}"
        home = self.home.get(s.index)
        dtype = np.dtype(s.dtype)
        if home == "grad":
            buf = np.zeros(s.shape, dtype)
            self.grad_buffers[s.index] = buf
            k = len(self.pointers)
            self.pointers.append(("array", buf))
            self.emit(f"{name} = carray(_ptr(P[{k}], {_dt(s)}), {_shape(s.shape)})")
        elif home == "fresh" or dtype.kind not in _POINTER_KINDS:
            self.emit(f"{name} = np.empty({_shape(s.shape)}, {_dt(s)})")
        else:
            size = _aligned(s.array.nbytes)
            fits = [b for b in self.free if b[0] >= size]
            if fits:
                block = min(fits)
                self.free.remove(block)
            else:
                block = (size, self.ws_size)
                self.ws_size += size
            self.live[s.index] = block
            k = len(self.pointers)
            self.pointers.append(("ws", block[1]))
            self.emit(f"{name} = carray(_ptr(P[{k}], {_dt(s)}), {_shape(s.shape)})")
        return name

    def scratch(self, shape, dtype):
        """A workspace buffer of the step's own (a kernel's scratch row), zeroed every call."""
        size = _aligned(_size(shape) * dtype.itemsize)
        k = len(self.pointers)
        self.pointers.append(("ws", self.ws_size))
        self.ws_size += size
        name = f"_w{k}"
        self.prologue.append(f"{name} = carray(_ptr(P[{k}], np.{dtype.name}), {_shape(shape)})")
        self.prologue.append(f"{name}[:] = 0")
        return name

    def release(self, entry):
        """Before entry ``entry``: the buffers of slots no later entry reads are free."""
        self.entry = entry
        for idx in [i for i in self.live if self.last_use.get(i, -1) < entry]:
            self.free.append(self.live.pop(idx))

    def emit(self, line):
        self.lines.append("    " + line)


# ---- emitters: one per (kind, op[, wrt]) ------------------------------------------------------


# result dtypes a fused loop stores (Numba has no float16: those steps replay)
_LOOP_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64"}


def _cast(dtype, expr):
    """``expr`` converted as a store into an array of ``dtype`` converts it."""
    name = np.dtype(dtype).name
    return f"np.{'bool_' if name == 'bool' else name}({expr})"


def _member(e):
    """Whether entry ``e`` is an elementwise rule a fused loop can run: one result, and array
    operands of its shape, contiguous (broadcasting goes to the replay program)."""
    if e.kind not in ("forward", "backward") or (e.kind, e.op) in _EMIT:
        return False
    if getattr(e.kernel, "scalar", None) is None or len(e.outputs) != 1:
        return False
    (out,) = e.outputs
    if not (_contig(out) and np.dtype(out.dtype).name in _LOOP_DTYPES):
        return False
    shape = tuple(out.shape)
    return all(
        tuple(x.shape) == shape and _contig(x) and isinstance(x.array, np.ndarray)
        for x in e.inputs
        if _is_slot(x)
    )


def _bias_head(e):
    """Whether ``e`` is a linear layer whose bias add can open a fused loop."""
    if (e.kind, e.op) != ("forward", "linear"):
        return False
    x, _, b = e.inputs
    (out,) = e.outputs
    return (
        b is not None
        and len(x.shape) == 2
        and _float(out)
        and _contig(out)
        and _contig(b)
        and b.dtype == out.dtype
    )


def _groups(entries, fuse=True):
    """Runs of consecutive entries that become one loop: ``{first index: [indices]}``.

    A run is an optional linear layer (its bias add joins the loop) followed by elementwise
    rules whose results all have the run's shape.  ``fuse=False``: every elementwise rule is
    a run of its own (linear layers keep their own bias loop)."""
    if not fuse:
        return {i: [i] for i, e in enumerate(entries) if _member(e)}
    groups, i = {}, 0
    while i < len(entries):
        e = entries[i]
        if _bias_head(e) or _member(e):
            shape = tuple(e.outputs[0].shape)
            run = [i]
            while (
                i + 1 < len(entries)
                and _member(entries[i + 1])
                and tuple(entries[i + 1].outputs[0].shape) == shape
            ):
                i += 1
                run.append(i)
            if len(run) > 1 or _member(e):
                groups[run[0]] = run
        i += 1
    return groups


def _group(g, entries, run):
    """One loop for a run of entries (``_groups``): each rule's result is a local value,
    passed through ``rounded`` so no FMA reaches across two rules (eager stores and reloads
    it: the same rounding), and stored only where something outside the loop reads it."""
    first, last = run[0], run[-1]
    inside = set(run)
    temps = {}  # slot index -> name of its value in the loop
    body, flats = [], {}
    head = entries[first] if entries[first].op == "linear" else None
    shape = tuple(entries[first].outputs[0].shape)
    size = _size(shape)

    def kept(s):
        """Whether slot ``s`` (made in the loop) needs its array after the loop."""
        return g.home.get(s.index) is not None or bool(g.readers.get(s.index, set()) - inside)

    def flat(s, name):
        f = flats.get(s.index)
        if f is None:
            f = flats[s.index] = f"_y{len(flats)}"
            g.emit(f"{f} = {name}.reshape({size})")
        return f

    rnd = g.imp(_rounded())
    if g.zero is None:  # the 0 that `rounded` xors with, read from P (opaque to LLVM)
        g.zero = "_z"
        g.prologue.append(f"_z = P[{len(g.pointers)}]")
        g.pointers.append(("zero", 0))
    if head is not None:
        x, w, b = head.inputs
        (out,) = head.outputs
        o = g.out(out)
        g.emit(f"np.dot({g.ref(x)}, {g.ref(w)}.T, {o})")  # linear_kernel: x @ w.T, then + b
        t = temps[out.index] = f"_t{out.index}"
        body.append(f"{t} = {rnd}({flat(out, o)}[k] + {g.ref(b)}[j], _z)")
        if kept(out):
            body.append(f"{flat(out, o)}[k] = {t}")
        run = run[1:]
    for idx in run:
        e = entries[idx]
        (out,) = e.outputs
        call = []
        for x in e.inputs:
            if not _is_slot(x):
                call.append(g.const(x))
            elif x.index in temps:
                call.append(temps[x.index])
            else:
                call.append(f"{flat(x, g.ref(x))}[k]")
        t = temps[out.index] = f"_t{out.index}"
        value = _cast(out.dtype, f"{g.imp(e.kernel.scalar)}({', '.join(call)})")
        body.append(f"{t} = {rnd}({value}, _z)")
        if kept(out):
            body.append(f"{flat(out, g.out(out))}[k] = {t}")
        else:
            g.names[out.index] = None  # a value inside the loop only
    if head is not None:
        m, n = shape
        g.emit(f"for i in range({m}):")
        g.emit(f"    for j in range({n}):")
        g.emit(f"        k = i * {n} + j")
        for ln in body:
            g.emit("        " + ln)
    else:
        g.emit(f"for k in range({size}):")
        for ln in body:
            g.emit("    " + ln)
    g.entry = last


def _rounded():
    from ..devices.cpu.math import rounded

    return rounded


def _linear(g, e):
    x, w, b = e.inputs
    (out,) = e.outputs
    if len(x.shape) != 2 or not _float(x) or not isinstance(out.array, np.ndarray):
        raise Unsupported("linear: input not 2-D float")
    o = g.out(out)
    # linear_kernel: out = x @ w.T (Numba's @ is np.empty, then this np.dot), then the bias
    g.emit(f"np.dot({g.ref(x)}, {g.ref(w)}.T, {o})")
    if b is not None:
        m, n = out.shape
        g.emit(f"for i in range({m}):")
        g.emit(f"    for j in range({n}):")
        g.emit(f"        {o}[i, j] += {g.ref(b)}[j]")


def _linear_back(g, e):
    (out,) = e.outputs
    grad = e.inputs[0]
    if len(grad.shape) != 2 or not _float(grad) or not _contig(grad):
        raise Unsupported("linear backward: gradient not 2-D contiguous float")
    if e.wrt == "x":
        _, w, x_shape = e.inputs
        if len(x_shape) != 2:
            raise Unsupported("linear backward: input not 2-D")
        o = g.out(out)
        g.emit(f"np.dot({g.ref(grad)}, {g.ref(w)}, {o})")  # mm_kernel: grad @ w
    elif e.wrt == "weight":
        _, x = e.inputs
        if len(x.shape) != 2:
            raise Unsupported("linear backward: input not 2-D")
        o = g.out(out)
        g.emit(f"np.dot({g.ref(grad)}.T, {g.ref(x)}, {o})")  # mm_kernel: grad.T @ x
    else:
        # colsum_kernel: zeros, then row by row in order (the same sums, the same rounding)
        o = g.out(out)
        gr = g.ref(grad)
        m, n = grad.shape
        g.emit(f"{o}[:] = 0")
        g.emit(f"for i in range({m}):")
        g.emit(f"    for j in range({n}):")
        g.emit(f"        {o}[j] += {gr}[i, j]")


def _reduce(g, e):
    from ..devices.cpu.math import vec_sum

    x, plan = e.inputs
    (out,) = e.outputs
    if not (plan.whole and _float(x) and _contig(x)):
        raise Unsupported(f"{e.op}: not a whole-tensor sum of a contiguous float tensor")
    n = int(plan.arb[1])
    if e.op == "mean" and n == 0:
        raise Unsupported("mean of an empty tensor")
    o = g.out(out)
    g.emit(f"{o}[()] = {g.imp(vec_sum)}({g.ref(x)}.reshape({_size(x.shape)}))")
    if e.op == "mean":
        # numpy divides two float32 0-d arrays in float32; a float64 quotient rounded to
        # float32 on the store is that same number (a quotient is correctly rounded either way)
        g.emit(f"{o}[()] = {o}[()] / {_dt(out)}({n})")


def _reduce_back(g, e):
    grad, plan = e.inputs
    (out,) = e.outputs
    if grad.shape != () or not _float(grad) or tuple(plan.shape) != tuple(out.shape):
        raise Unsupported(f"{e.op} backward: not from a 0-d gradient")
    value = f"{g.ref(grad)}[()]"
    if e.op == "mean":
        value = f"({value} / {_dt(out)}({int(plan.arb[1])}))"
    o = g.out(out)
    g.emit(f"{o}[...] = {value}" if plan.shape else f"{o}[()] = {value}")


def _rows_op(g, e):
    from ..devices.cpu import nn

    x, plan = e.inputs
    (out,) = e.outputs
    if plan.moved or len(x.shape) != 2 or not _contig(x) or not _float(x):
        raise Unsupported(f"{e.op}: not rows of a contiguous 2-D float tensor")
    kernel = {"log_softmax": nn.log_softmax_into, "softmax": nn.softmax_into}[e.op]
    scratch = g.scratch((nn.exp_buffer_size(x.shape[1]),), np.dtype(x.dtype))
    g.emit(f"{g.imp(kernel)}({g.ref(x)}, {g.out(out)}, {scratch})")


def _rows_back(g, e):
    from ..devices.cpu import nn

    grad, out_s, plan = e.inputs
    (out,) = e.outputs
    if plan.moved or len(grad.shape) != 2 or not (_contig(grad) and _contig(out_s)):
        raise Unsupported(f"{e.op} backward: not rows of contiguous 2-D tensors")
    args = f"{g.ref(grad)}, {g.ref(out_s)}, {g.out(out)}"
    if e.op == "log_softmax":
        scratch = g.scratch((nn.exp_buffer_size(out_s.shape[1]),), np.dtype(out_s.dtype))
        g.emit(f"{g.imp(nn.log_softmax_backward_into)}({args}, {scratch})")
    else:
        g.emit(f"{g.imp(nn.softmax_backward_into)}({args})")


def _no_weight(g, dtype):
    return g.bound(np.empty(0, dtype), f"_nw{len(g.pointers)}")


def _nll(g, e):
    from ..devices.cpu import nn

    logp, target, weight, ignore_index, plan = e.inputs
    (out,) = e.outputs
    if plan.layout != 2 or not (_contig(logp) and _contig(target)) or not _float(logp):
        raise Unsupported("nll: not (N, C) rows with (N,) targets")
    w = g.ref(weight) if weight is not None else _no_weight(g, np.dtype(logp.dtype))
    if plan.mode == 0:
        losses = g.out(out)
    else:
        losses = g.scratch((int(logp.shape[0]),), np.dtype(logp.dtype))
    g.emit(
        f"_t, _tw, _bad = {g.imp(nn.nll_into)}({g.ref(logp)}, {g.ref(target)}, {w}, "
        f"{int(ignore_index)}, {int(plan.mode)}, {losses})"
    )
    # eager raises an IndexError naming the target; the wrapper reruns eagerly to raise it
    g.emit("if _bad >= 0:")
    g.emit("    raise IndexError('nll_loss: target out of bounds')")
    if plan.mode == 0:
        return
    o = g.out(out)
    if plan.mode == 1:
        g.emit(f"{o}[()] = _t")
    else:
        g.emit(f"{o}[()] = _t / _tw if _tw else np.nan")


def _nll_back(g, e):
    from ..devices.cpu import nn

    grad, target, weight, ignore_index, plan = e.inputs
    (out,) = e.outputs
    if plan.layout != 2 or not _contig(target) or not _float(grad):
        raise Unsupported("nll backward: not (N, C) rows")
    if weight is not None:
        if weight.dtype != grad.dtype:
            raise Unsupported("nll backward: weight of another dtype")
        w = g.ref(weight)
    else:
        w = _no_weight(g, np.dtype(grad.dtype))
    size = _size(grad.shape)
    g.emit(
        f"_bad = {g.imp(nn.nll_backward_into)}({g.ref(grad)}.reshape({size}), "
        f"{g.ref(target)}, {w}, {int(ignore_index)}, {int(plan.c)}, {int(plan.mode)}, "
        f"{g.out(out)})"
    )
    g.emit("if _bad >= 0:")
    g.emit("    raise IndexError('nll_loss: target out of bounds')")


def _flat_loop(g, n, dst, srcs, body):
    """``for i in range(n): body`` over flat views ``_dst`` of ``dst`` and ``_s0``... of
    ``srcs`` (names of contiguous arrays of ``n`` elements)."""
    for k, src in enumerate(srcs):
        g.emit(f"_s{k} = {src}.reshape({n})")
    g.emit(f"_dst = {dst}.reshape({n})")
    g.emit(f"for i in range({n}):")
    g.emit(f"    {body}")


def _array(g, e):
    if e.op == "set_grad":
        return
    if e.op == "full":
        (out,) = e.outputs
        value = e.attrs["value"]
        if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
            raise Unsupported("full with a non-number")
        o = g.out(out)
        g.emit(f"{o}[{'()' if out.shape == () else '...'}] = {float(value)!r}")
        return
    if e.op in ("add", "accumulate", "copy"):
        ins = e.inputs
        if len({(tuple(x.shape), x.dtype) for x in ins}) > 1 or not all(map(_contig, ins)):
            raise Unsupported(f"{e.op} of different shapes, dtypes or layouts")
        n = _size(ins[0].shape)
        srcs = [g.ref(x) for x in ins]
        if e.op == "accumulate":  # into a .grad set earlier in this backward: np.add(.., out=)
            _flat_loop(g, n, srcs[0], srcs[1:], "_dst[i] += _s0[i]")
        elif e.op == "add":  # two gradients of one tensor: numpy's a + b, into the plan
            _flat_loop(g, n, g.out(e.outputs[0]), srcs, "_dst[i] = _s0[i] + _s1[i]")
        else:
            _flat_loop(g, n, g.out(e.outputs[0]), srcs, "_dst[i] = _s0[i]")
        return
    raise Unsupported(f"array work {e.op!r}")


def _update(g, upd, grad_slots, scalars):
    bound = upd.bound
    fn = g.imp(bound.fn)
    k = len(g.extra) + len(g.pointers)
    table = g.bound(bound.table, f"_table{k}")
    like = g.bound(bound.like, f"_like{k}")
    col = bound.grad_col
    for r, s in enumerate(grad_slots):
        if not _contig(s):
            raise Unsupported("a gradient is not contiguous")
        buf = g.grad_buffers.get(s.index)
        if buf is not None:
            bound.table[r, col] = buf.ctypes.data  # the same buffer every call
        else:
            g.emit(f"{table}[{r}, {col}] = {g.ref(s)}.ctypes.data")
    hs = []
    for j, v in enumerate(scalars):
        h = f"h{upd.first_scalar + j}"
        # the caller passes python numbers (cheaper to unbox); the rule sees eager's types
        if isinstance(v, np.number):
            h = f"np.{v.dtype.name}({h})"
        hs.append(h)
    g.emit(f"{fn}({table}, {like}{''.join(', ' + h for h in hs)})")


_EMIT = {
    ("forward", "linear"): _linear,
    ("backward", "linear"): _linear_back,
    ("forward", "sum"): _reduce,
    ("forward", "mean"): _reduce,
    ("backward", "sum"): _reduce_back,
    ("backward", "mean"): _reduce_back,
    ("forward", "log_softmax"): _rows_op,
    ("forward", "softmax"): _rows_op,
    ("backward", "log_softmax"): _rows_back,
    ("backward", "softmax"): _rows_back,
    ("forward", "nll"): _nll,
    ("backward", "nll"): _nll_back,
}


def python_scalar(v):
    """An update scalar as the fused function takes it (it casts back to the traced type)."""
    return v.item() if isinstance(v, np.generic) else v


def build_fused(trace, arg_arrays, program, fuse_loops=True):
    """The :class:`Fused` step of ``trace`` for ``program`` (its returned arrays in the same
    order); raises Unsupported."""
    result_slots = []
    for a in program.result_arrays:
        s = trace._slot_of.get(id(a))
        if s is None:
            raise Unsupported("the function returns a tensor the trace never made")
        result_slots.append(s)
    grad_pairs = [(e.attrs["of"], e.inputs[0]) for e in trace.entries if e.op == "set_grad"]
    for _, s in grad_pairs:
        if not _is_slot(s) or s.origin != "new":
            raise Unsupported("a gradient that the step does not make")
    g = _Gen(trace, arg_arrays, result_slots, [s for _, s in grad_pairs])
    updates = iter(program.updates)
    entries = trace.entries
    groups = _groups(entries, fuse_loops)
    in_group = {i for run in groups.values() for i in run[1:]}
    for i, e in enumerate(entries):
        if i in in_group:
            continue
        g.release(i)
        if e.kind in ("forward", "backward"):
            if any(o is not None and not isinstance(o.array, np.ndarray) for o in e.outputs):
                raise Unsupported(f"{e.op}: a result that is not an array")
            emit = _EMIT.get((e.kind, e.op))
            if getattr(e.kernel, "name", None) == "identity" and all(
                o.index == e.inputs[0].index for o in e.outputs
            ):
                continue  # the gradient passes through: its slot is the input's
            if i in groups:
                _group(g, entries, groups[i])
            elif emit is not None:
                emit(g, e)
            elif getattr(e.kernel, "scalar", None) is not None:
                raise Unsupported(f"{e.op}: broadcasting or strided operands, or a float16 result")
            else:
                raise Unsupported(f"no fused form for {e.kind} {e.op}")
        elif e.kind == "array":
            _array(g, e)
        elif e.kind == "update":
            upd = next(updates)
            scalars = upd.scalars()
            if scalars is None:
                raise Unsupported("the optimizer's flags changed while building")
            _update(g, upd, e.inputs["grad"], scalars)
        elif e.kind == "create":
            (s,) = e.outputs
            g.names[s.index] = g.bound(s.array, f"s{s.index}")
        else:
            raise Unsupported(f"entry kind {e.kind}")
    g.const_tables()
    results = []
    for s in result_slots:
        name = g.ref(s)
        # a gradient buffer is rewritten next call: the caller gets its own copy
        results.append(f"{name}.copy()" if s.index in g.grad_buffers else name)
    n_h = sum(len(u.names) for u in program.updates)
    params = g.params + [f"h{j}" for j in range(n_h)]
    head = "".join(f"from {m} import {n} as {a}\n" for (m, n), a in g.imports.items())
    # Numba's cache of this function holds the kernels it calls, compiled in: name the
    # versions of their files, so an edited kernel makes a new module (never a stale one)
    mods = {m for m, _ in g.imports} | {"numgrad.devices.cpu.optim"}
    versions = " ".join(
        sorted(f"{m}:{file_hash(getattr(sys.modules[m], '__file__', m))}" for m in mods)
    )
    body = "\n".join(["    " + ln for ln in g.prologue] + g.lines)
    source = (
        "# generated by numgrad.compile: one traced training step (docs/compile.md)\n"
        f"# kernels from: {versions}\n"
        "import numpy as np\nfrom numba import carray, njit\n"
        "from numgrad.devices.cpu.optim import address_as_pointer as _ptr\n"
        f"{head}\n\n@njit(cache=True, error_model='numpy', fastmath={{'contract'}})\n"
        f"def step({', '.join(params)}):\n{body}\n"
        f"    return ({''.join(r + ', ' for r in results)})\n"
    )
    digest = hashlib.sha1(source.encode()).hexdigest()[:8]
    mod = load_generated(f"step_{digest}", source)

    workspace = np.empty(g.ws_size + _ALIGN, np.uint8)
    base = workspace.ctypes.data
    base += -base % _ALIGN
    P = np.empty(len(g.pointers), np.int64)
    for k, (kind, v) in enumerate(g.pointers):
        P[k] = base + v if kind == "ws" else 0 if kind == "zero" else v.ctypes.data
    keep = [workspace, P] + [v for kind, v in g.pointers if kind == "array"]
    grads = []
    tensors = {id(t._data): t for t, _ in program.grads}
    for of, s in grad_pairs:
        t = tensors.get(id(of.array))
        if t is None:
            raise Unsupported(f"a gradient for {of!r}, whose tensor is unknown")
        grads.append((t, _wrap(g.grad_buffers[s.index], t._device)))
    return Fused(mod.step, (P, *g.extra), grads, keep, source)
