"""The CPU fast path of ``numgrad.compile``: a whole traced step as ONE ``@njit`` function.

Where every entry of a trace is one this module knows (the ops of MLP training steps:
elementwise rules, linear, whole-tensor mean/sum, log_softmax, nll, the seed gradient, the
optimizer updates), the step becomes Python source for a single Numba function that calls the
same compute kernels eager mode calls (``devices/cpu``: ``linear_kernel``, ``mm_kernel``,
``log_softmax_kernel``, ``nll_kernel``..., the generated update loop) and runs every
elementwise rule in a loop of its own inside it, calling the same scalar rule.  No Python runs
between kernels, and the results are eager's bit for bit (``tests/test_compile.py``).

The source is written to the kernel cache folder under a hash of itself and imported by name
(``kernel_cache.load_generated``), so Numba caches the compiled function: a new process running
the same step loads it instead of compiling it.

Anything else raises :class:`~numgrad.compiler.program.Unsupported` and the step runs as the
replay program (``program.py``) instead: broadcasting elementwise calls, strided inputs,
reductions over some dims, accumulation into existing gradients, other ops.  Every emitter below
mirrors the Python glue of its op's CPU implementation for the case it accepts; the glue is
where a difference from eager would come from, so the accepted cases are narrow on purpose.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np

from ..devices.kernel_cache import file_hash, load_generated
from .errors import Unsupported


def _is_slot(x):
    return hasattr(x, "index") and hasattr(x, "origin")


def _contig(s):
    a = s.array
    return isinstance(a, np.ndarray) and a.flags.c_contiguous


def _float(s):
    return isinstance(s.array, np.ndarray) and s.array.dtype.kind == "f"


class _Gen:
    def __init__(self, trace, arg_arrays):
        self.trace = trace
        self.lines = []
        self.imports = {}  # (module, name) -> alias
        self.names = {}  # slot index -> name in the function
        self.params = []  # the function's parameters, in order
        self.fixed = []  # values of the parameters after the call's own (bound per program)
        arg_ids = {id(a): k for k, a in enumerate(arg_arrays)}
        self.n_args = len(arg_arrays)
        for k in range(self.n_args):
            self.params.append(f"a{k}")
        for s in trace.slots:
            if s.origin == "new":
                continue
            k = arg_ids.get(id(s.array))
            if k is not None:
                self.names[s.index] = f"a{k}"
            elif isinstance(s.array, np.ndarray):
                self.names[s.index] = self.fixed_param(s.array, "s")

    def fixed_param(self, value, prefix):
        name = f"{prefix}{len(self.fixed)}"
        self.fixed.append(value)
        self.params.append(name)
        return name

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

    def new(self, s):
        if s.origin != "new":
            raise Unsupported(f"{s!r} written as a new result")
        name = self.names[s.index] = f"v{s.index}"
        return name

    def emit(self, line):
        self.lines.append("    " + line)


def _dt(s):
    return f"np.{np.dtype(s.dtype).name}"


def _shape(shape):
    return "(" + "".join(f"{int(d)}, " for d in shape) + ")"


# ---- emitters: one per (kind, op[, wrt]) ------------------------------------------------------


def _elementwise(g, e):
    (out,) = e.outputs
    if not _contig(out):
        raise Unsupported(f"{e.op}: strided result")
    rule = g.imp(e.kernel.scalar)
    size = int(np.prod(out.shape, dtype=np.int64))
    flat = []
    call = []
    for x in e.inputs:
        if _is_slot(x):
            if tuple(x.shape) != tuple(out.shape) or not _contig(x):
                raise Unsupported(f"{e.op}: broadcasting or strided operand")
            name = g.ref(x)
            flat.append(f"{name}.reshape({size})")
            call.append(f"_x{len(flat) - 1}[i]")
        elif isinstance(x, (bool, int, float, np.number)):
            call.append(g.fixed_param(x, "c"))
        else:
            raise Unsupported(f"{e.op}: operand of type {type(x).__name__}")
    o = g.new(out)
    g.emit(f"{o} = np.empty({_shape(out.shape)}, {_dt(out)})")
    g.emit(f"_o = {o}.reshape({size})")
    for k, f in enumerate(flat):
        g.emit(f"_x{k} = {f}")
    g.emit(f"for i in range({size}):")
    g.emit(f"    _o[i] = {rule}({', '.join(call)})")


def _linear(g, e):
    from ..devices.cpu import linalg

    x, w, b = e.inputs
    (out,) = e.outputs
    if len(x.shape) != 2 or not _float(x):
        raise Unsupported("linear: input not 2-D float")
    o = g.new(out)
    if b is None:
        g.emit(f"{o} = {g.imp(linalg.linear_nobias_kernel)}({g.ref(x)}, {g.ref(w)})")
    else:
        g.emit(f"{o} = {g.imp(linalg.linear_kernel)}({g.ref(x)}, {g.ref(w)}, {g.ref(b)})")


def _linear_back(g, e):
    from ..devices.cpu import linalg

    (out,) = e.outputs
    grad = e.inputs[0]
    if len(grad.shape) != 2 or not _float(grad) or not _contig(grad):
        raise Unsupported("linear backward: gradient not 2-D contiguous float")
    mm = g.imp(linalg.mm_kernel)
    o = g.new(out)
    if e.wrt == "x":
        _, w, x_shape = e.inputs
        if len(x_shape) != 2:
            raise Unsupported("linear backward: input not 2-D")
        g.emit(f"{o} = {mm}({g.ref(grad)}, {g.ref(w)})")
    elif e.wrt == "weight":
        _, x = e.inputs
        if len(x.shape) != 2:
            raise Unsupported("linear backward: input not 2-D")
        g.emit(f"{o} = {mm}({g.ref(grad)}.T, {g.ref(x)})")
    else:
        g.emit(f"{o} = {g.imp(linalg.colsum_kernel)}({g.ref(grad)})")


def _reduce(g, e):
    from ..devices.cpu.math import vec_sum

    x, plan = e.inputs
    (out,) = e.outputs
    if not (plan.whole and _float(x) and _contig(x)):
        raise Unsupported(f"{e.op}: not a whole-tensor sum of a contiguous float tensor")
    n = int(plan.arb[1])
    if e.op == "mean" and n == 0:
        raise Unsupported("mean of an empty tensor")
    size = int(np.prod(x.shape, dtype=np.int64))
    o = g.new(out)
    g.emit(f"{o} = np.empty((), {_dt(out)})")
    g.emit(f"{o}[()] = {g.imp(vec_sum)}({g.ref(x)}.reshape({size}))")
    if e.op == "mean":
        # numpy divides two float32 0-d arrays in float32; a float64 quotient rounded to
        # float32 on the store is that same number (a quotient is correctly rounded either way)
        g.emit(f"{o}[()] = {o}[()] / {_dt(out)}({n})")


def _reduce_back(g, e):
    grad, plan = e.inputs
    (out,) = e.outputs
    if grad.shape != () or not _float(grad):
        raise Unsupported(f"{e.op} backward: not from a 0-d gradient")
    o = g.new(out)
    g.emit(f"{o} = np.empty({_shape(plan.shape)}, {_dt(out)})")
    value = f"{g.ref(grad)}[()]"
    if e.op == "mean":
        value = f"({value} / {_dt(out)}({int(plan.arb[1])}))"
    g.emit(f"{o}[...] = {value}" if plan.shape else f"{o}[()] = {value}")


def _rows_op(g, e):
    from ..devices.cpu import nn

    x, plan = e.inputs
    (out,) = e.outputs
    if plan.moved or len(x.shape) != 2 or not _contig(x) or not _float(x):
        raise Unsupported(f"{e.op}: not rows of a contiguous 2-D float tensor")
    kernel = {"log_softmax": nn.log_softmax_kernel, "softmax": nn.softmax_kernel}[e.op]
    g.emit(f"{g.new(out)} = {g.imp(kernel)}({g.ref(x)})")


def _rows_back(g, e):
    from ..devices.cpu import nn

    grad, out_s, plan = e.inputs
    (out,) = e.outputs
    if plan.moved or len(grad.shape) != 2 or not (_contig(grad) and _contig(out_s)):
        raise Unsupported(f"{e.op} backward: not rows of contiguous 2-D tensors")
    kernel = {"log_softmax": nn.log_softmax_backward_kernel, "softmax": nn.softmax_backward_kernel}[
        e.op
    ]
    g.emit(f"{g.new(out)} = {g.imp(kernel)}({g.ref(grad)}, {g.ref(out_s)})")


def _nll(g, e):
    from ..devices.cpu import nn

    logp, target, weight, ignore_index, plan = e.inputs
    (out,) = e.outputs
    if plan.layout != 2 or not (_contig(logp) and _contig(target)) or not _float(logp):
        raise Unsupported("nll: not (N, C) rows with (N,) targets")
    w = g.ref(weight) if weight is not None else g.fixed_param(np.empty(0, logp.dtype), "s")
    o = g.new(out)
    g.emit(
        f"_l, _t, _tw, _bad = {g.imp(nn.nll_kernel)}({g.ref(logp)}, {g.ref(target)}, {w}, "
        f"{int(ignore_index)}, {int(plan.mode)})"
    )
    # eager raises an IndexError naming the target; the wrapper reruns eagerly to raise it
    g.emit("if _bad >= 0:")
    g.emit("    raise IndexError('nll_loss: target out of bounds')")
    if plan.mode == 0:
        g.emit(f"{o} = _l")
        return
    g.emit(f"{o} = np.empty((), {_dt(out)})")
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
        w = g.fixed_param(np.empty(0, grad.dtype), "s")
    size = int(np.prod(grad.shape, dtype=np.int64))
    g.emit(
        f"{g.new(out)}, _bad = {g.imp(nn.nll_backward_kernel)}({g.ref(grad)}.reshape({size}), "
        f"{g.ref(target)}, {w}, {int(ignore_index)}, {int(plan.c)}, {int(plan.mode)})"
    )
    g.emit("if _bad >= 0:")
    g.emit("    raise IndexError('nll_loss: target out of bounds')")


def _array(g, e, grads):
    if e.op == "set_grad":
        grads.append((e.attrs["of"], e.inputs[0]))
        return
    if e.op == "full":
        (out,) = e.outputs
        value = e.attrs["value"]
        if not isinstance(value, (int, float, np.number)):
            raise Unsupported("full with a non-number")
        o = g.new(out)
        g.emit(f"{o} = np.empty({_shape(out.shape)}, {_dt(out)})")
        g.emit(f"{o}[{'()' if out.shape == () else '...'}] = {float(value)!r}")
        return
    if e.op == "add":
        a, b = e.inputs
        (out,) = e.outputs
        if a.shape != b.shape or a.dtype != b.dtype:
            raise Unsupported("add of different shapes or dtypes")
        g.emit(f"{g.new(out)} = {g.ref(a)} + {g.ref(b)}")
        return
    if e.op == "copy":
        (x,) = e.inputs
        (out,) = e.outputs
        g.emit(f"{g.new(out)} = {g.ref(x)}.copy()")
        return
    raise Unsupported(f"array work {e.op!r}")


def _update(g, upd, grad_slots):
    bound = upd.bound
    fn = g.imp(bound.fn)
    table = g.fixed_param(bound.table, "t")
    like = g.fixed_param(bound.like, "l")
    col = bound.grad_col
    for r, s in enumerate(grad_slots):
        if not _contig(s):
            raise Unsupported("a gradient is not contiguous")
        g.emit(f"{table}[{r}, {col}] = {g.ref(s)}.ctypes.data")
    hs = [f"h{upd.first_scalar + j}" for j in range(len(upd.names))]
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


def build_fused(trace, arg_arrays, program):
    """The fused function of ``trace`` for ``program`` (its results in the same order), with
    the fixed arguments it takes after the call's arrays; raises Unsupported."""
    g = _Gen(trace, arg_arrays)
    grads = []
    updates = iter(program.updates)
    for e in trace.entries:
        if e.kind in ("forward", "backward"):
            if any(o is not None and not isinstance(o.array, np.ndarray) for o in e.outputs):
                raise Unsupported(f"{e.op}: a result that is not an array")
            emit = _EMIT.get((e.kind, e.op))
            if emit is not None:
                emit(g, e)
            elif getattr(e.kernel, "scalar", None) is not None:
                _elementwise(g, e)
            else:
                raise Unsupported(f"no fused form for {e.kind} {e.op}")
        elif e.kind == "array":
            _array(g, e, grads)
        elif e.kind == "update":
            upd = next(updates)
            _update(g, upd, e.inputs["grad"])
        elif e.kind == "create":
            (s,) = e.outputs
            g.names[s.index] = g.fixed_param(s.array, "s")
        else:
            raise Unsupported(f"entry kind {e.kind}")
    results = [g.ref(trace._slot_of[id(a)]) for a in program.result_arrays]
    results += [g.ref(s) for _, s in grads]
    n_h = sum(len(u.names) for u in program.updates)
    params = g.params + [f"h{j}" for j in range(n_h)]
    head = "".join(f"from {m} import {n} as {a}\n" for (m, n), a in g.imports.items())
    # Numba's cache of this function holds the kernels it calls, compiled in: name the
    # versions of their files, so an edited kernel makes a new module (never a stale one)
    versions = " ".join(
        sorted({f"{m}:{file_hash(getattr(sys.modules[m], '__file__', m))}" for m, _ in g.imports})
    )
    body = "\n".join(g.lines)
    source = (
        "# generated by numgrad.compile: one traced training step (docs/compile.md)\n"
        f"# kernels from: {versions}\n"
        "import numpy as np\nfrom numba import njit\n"
        f"{head}\n\n@njit(cache=True, error_model='numpy', fastmath={{'contract'}})\n"
        f"def step({', '.join(params)}):\n{body}\n"
        f"    return ({''.join(r + ', ' for r in results)})\n"
    )
    digest = hashlib.sha1(source.encode()).hexdigest()[:8]
    mod = load_generated(f"step_{digest}", source)
    return mod.step, tuple(g.fixed), source
