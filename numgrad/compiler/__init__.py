"""``numgrad.compile`` (this package: ``numgrad.compiler``): a step traced once and replayed
without eager mode's Python around the kernels (torch.compile's call shape, TinyJit's
mechanism).  See docs/compile.md.

``step = numgrad.compile(step)`` (or ``@numgrad.compile``, or ``numgrad.compile(model)``)
returns a callable with the step's signature.  Per guard key (the shapes, dtypes, devices,
``requires_grad`` and layout of the tensor arguments, the other arguments' values, grad mode and
the ``training`` flags of the modules the function reaches):

1. the first call runs eagerly (optimizers create their state, lazy kernels load);
2. the second runs eagerly under the capture hook (``numgrad.autograd.trace``), and the trace
   becomes a :class:`~numgrad.compile.program.Program`;
3. later calls run the program: the same kernels with the same arguments, in the traced order,
   with parameters, buffers and optimizer state bound by reference and updated in place, the
   parameters' ``.grad`` set as eager ``backward()`` would, and ``lr`` (and every other
   hyper-parameter) read from the optimizer's param groups at each call.

Python control flow is frozen at trace time.  A host read inside the traced call (``.item()``,
``.numpy()``, ``.tolist()``, ``bool()``/``float()``/``int()`` of a tensor, printing one) raises
:class:`HostSyncError` naming the line.  A trace holding something the program cannot replay
faithfully (random numbers drawn inside the step, in-place writes inside it, the optimizer's
first step) makes that key run eagerly from then on, with one warning that says why.
"""

from __future__ import annotations

import builtins
import functools
import types
import warnings

import numpy as np

from .. import capture as _capture
from ..capture import HostSyncError
from ..grad_mode import GRAD_MODE, is_grad_enabled
from ..storage import TensorBase, _wrap
from .errors import Unsupported
from .program import build

__all__ = ["compile", "CompiledFunction", "HostSyncError"]


_EAGER, _TRACE, _REPLAY, _FALLBACK = range(4)


_MISS = object()  # a fast caller's "not mine": the call takes the full path


class _Entry:
    __slots__ = ("state", "program", "caller")

    def __init__(self):
        self.state = _EAGER
        self.program = None
        self.caller = None  # the fused program's generated caller (_fast_caller)


class CompiledFunction:
    """What :func:`compile` returns: call it as the function it wraps.

    ``check=True``: the first ``check_calls`` replays also run eagerly from the same state and
    raise if any returned tensor, parameter, gradient or optimizer state differs by more than
    float32 1e-5 / float64 1e-12 (relative to the largest magnitude of each array).
    """

    def __init__(self, fn, check=False, check_calls=3, fuse=True, fuse_loops=True):
        self.fn = fn
        self.fuse = fuse
        self.fuse_loops = fuse_loops
        self.check = check
        self.check_calls = check_calls
        self._entries = {}
        self._modules = None
        self._warned = set()
        self._fast = None  # the last fused entry's generated caller (see _fast_caller)
        functools.update_wrapper(self, fn, updated=())

    # ---- guards ------------------------------------------------------------------------------
    def _key(self, args, kwargs):
        if not kwargs and all(isinstance(a, TensorBase) for a in args):
            tensors, consts = args, len(args)  # the usual step(x, y): no walk needed
        else:
            tensors = []
            consts = _flatten((args, kwargs), tensors)
        if self._modules is None:
            self._modules = _modules_reached(self.fn, args, kwargs)
        # strides stand for the layout (a strided input may take another kernel path)
        meta = tuple(
            (t._data.shape, t._data.dtype, t._device, t._rg, t._data.strides) for t in tensors
        )
        flags = tuple(m.training for m in self._modules)
        return (meta, consts, is_grad_enabled(), flags), tensors

    def __call__(self, *args, **kwargs):
        fast = self._fast
        if fast is not None:
            out = fast(args, kwargs)
            if out is not _MISS:
                return out
        key, tensors = self._key(args, kwargs)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        if entry.state == _REPLAY:
            if self.check and self.check_calls > 0:
                out = self._checked(entry, tensors, args, kwargs)
            else:
                out = self._replay(entry, tensors)
                if out is not None and entry.program.fused is not None and tensors is args:
                    # tensors only, no keywords: later calls like this one skip the key
                    if entry.caller is None:
                        entry.caller = _fast_caller(self, entry, key)
                    self._fast = entry.caller
            if out is not None:
                return out
            entry.state = _TRACE  # a guard failed: trace this call again
        if entry.state == _EAGER:
            entry.state = _TRACE
            return self.fn(*args, **kwargs)
        if entry.state == _TRACE:
            return self._trace(entry, tensors, args, kwargs)
        return self.fn(*args, **kwargs)  # _FALLBACK

    # ---- trace -------------------------------------------------------------------------------
    def _trace(self, entry, tensors, args, kwargs):
        arrays = [t._data for t in tensors]
        entry.caller = None
        rng = _rng_state()
        with _capture.trace() as tr:
            tr.forbid_host_reads = True
            out = self.fn(*args, **kwargs)
        results = []
        template = _template(out, results)
        tensors_of = _tensors_of(tensors, self._modules, tr)
        try:
            if _rng_state() != rng:
                # dropout masks and random draws would be frozen into the replay
                raise Unsupported("random numbers are drawn inside the step (dropout, randn...)")
            entry.program = build(
                tr,
                arrays,
                [r._data for r in results],
                tensors_of,
                fuse=self.fuse,
                fuse_loops=self.fuse_loops,
            )
            entry.program.template = template
        except Unsupported as e:
            entry.state = _FALLBACK
            name = getattr(self.fn, "__qualname__", repr(self.fn))
            if str(e) not in self._warned:
                self._warned.add(str(e))
                warnings.warn(
                    f"numgrad.compile({name}): runs eagerly for these inputs: {e} "
                    "(docs/compile.md, limits)",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return out
        entry.state = _REPLAY
        return out

    # ---- replay ------------------------------------------------------------------------------
    def _replay(self, entry, tensors):
        prog = entry.program
        for t, arr in prog.bound_tensors:
            if t._data is not arr:  # p.data replaced, a state tensor rebuilt: trace again
                return None
        scalars = []
        fused = prog.fused
        for u in prog.updates:
            s = u.scalars() if fused is None else u.python_scalars()
            if s is None:
                return None
            scalars += s
        arrays = [t._data for t in tensors]
        if fused is None:
            res = prog.run(*arrays, *scalars)
            for t, k in prog.grads:
                t.grad = _wrap(res[k], t._device)
            return _fill(prog.template, res, prog.outputs)
        try:
            if fused.calls:
                res = fused.fn(*arrays, *fused.fixed, *scalars)
            else:  # the first call compiles (or loads) it: quiet Numba's pedantic notes
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", _numba_ir_warning())
                    res = fused.fn(*arrays, *fused.fixed, *scalars)
                fused.calls = 1
        except IndexError:
            return None  # a bad target: eager raises torch's error naming it (retrace)
        for t, g in fused.grads:
            if t.grad is not g:
                t.grad = g
        return _fill(prog.template, res, range(len(res)))

    # ---- check=True ----------------------------------------------------------------------------
    def _checked(self, entry, tensors, args, kwargs):
        """Replay, keep what it made, put the state back, run eagerly, compare; the eager
        results stand.  (Host copies: the check is a debugging aid, not a fast path.)"""
        prog = entry.program
        before = [(a, np.array(a, copy=True)) for a in prog.state_arrays]
        out = self._replay(entry, tensors)
        if out is None:
            return None
        self.check_calls -= 1
        state_c = [np.array(a, copy=True) for a, _ in before]
        grads_c = [(t, np.array(t.grad._data, copy=True)) for t, _ in prog.grads]
        outs_c = [np.array(r._data, copy=True) for r in _leaves(out)]
        for a, saved in before:
            a[...] = saved
        eager = self.fn(*args, **kwargs)
        problems = []
        for k, (got, ref) in enumerate(zip(outs_c, [r._data for r in _leaves(eager)])):
            _compare(f"returned tensor {k}", got, ref, problems)
        for k, ((a, _), got) in enumerate(zip(before, state_c)):
            _compare(f"state array {k} (shape {a.shape})", got, a, problems)
        for t, got in grads_c:
            ref = t.grad._data if t.grad is not None else None
            _compare(f".grad of a parameter of shape {tuple(t.shape)}", got, ref, problems)
        if problems:
            name = getattr(self.fn, "__qualname__", repr(self.fn))
            raise RuntimeError(
                f"numgrad.compile({name}, check=True): the compiled call differs from eager: "
                + "; ".join(problems)
            )
        return eager


def _fast_caller(cf, entry, key):
    """A Python function for the calls that land in ``entry`` with tensors as the only
    arguments: it checks what the key holds (each tensor's shape, strides, dtype, device and
    ``requires_grad``, grad mode, the modules' ``training`` flags) attribute by attribute
    against constants, checks the bound arrays, reads the optimizer's scalars, calls the fused
    step and binds ``.grad`` only where it changed.  Anything unexpected returns ``_MISS`` and
    the call takes the full path (which traces again where it must).  Generated, because a
    loop over lists of guards costs more than the step's arithmetic on small models."""
    meta, _, grad_mode, flags = key
    prog = entry.program
    fused = prog.fused
    env = {"_MISS": _MISS, "GRAD_MODE": GRAD_MODE, "FN": fused.fn}
    n = len(meta)
    lines = [
        "def call(args, kwargs):",
        f"    if kwargs or len(args) != {n} or GRAD_MODE.enabled is not {bool(grad_mode)}:",
        "        return _MISS",
    ]
    if n:
        lines.append(f"    {''.join(f't{k}, ' for k in range(n))}= args")
        lines.append("    try:")
        for k, (shape, dtype, device, rg, strides) in enumerate(meta):
            env.update({f"S{k}": shape, f"D{k}": dtype, f"V{k}": device, f"R{k}": strides})
            env[f"G{k}"] = rg
            lines += [
                f"        d{k} = t{k}._data",
                f"        if (d{k}.shape != S{k} or d{k}.strides != R{k} or d{k}.dtype is not "
                f"D{k} or t{k}._device is not V{k} or t{k}._rg is not G{k}):",
                "            return _MISS",
            ]
        lines += ["    except AttributeError:", "        return _MISS"]
    checks = []
    for j, (m, flag) in enumerate(zip(cf._modules, flags)):
        env[f"M{j}"] = m
        checks.append(f"M{j}.training is not {bool(flag)}")
    for j, (t, arr) in enumerate(prog.bound_tensors):
        env[f"B{j}"], env[f"A{j}"] = t, arr
        checks.append(f"B{j}._data is not A{j}")
    for c in checks:
        lines += [f"    if {c}:", "        return _MISS"]
    call = [f"d{k}" for k in range(n)]
    for j, x in enumerate(fused.fixed):
        env[f"X{j}"] = x
        call.append(f"X{j}")
    for j, u in enumerate(prog.updates):
        env[f"U{j}"] = u
        lines += [
            f"    h{j} = U{j}.python_scalars()",
            f"    if h{j} is None:",
            "        return _MISS",
        ]
        call.append(f"*h{j}")
    lines += [
        "    try:",
        f"        r = FN({', '.join(call)})",
        "    except IndexError:",
        "        return _MISS",
    ]
    for j, (t, g) in enumerate(fused.grads):
        env[f"T{j}"], env[f"GT{j}"] = t, g
        lines += [f"    if T{j}.grad is not GT{j}:", f"        T{j}.grad = GT{j}"]
    template = prog.template
    if isinstance(template, tuple) and template[0] == "T":
        env.update(WRAP=_wrap, DEV=template[1])
        lines.append("    return WRAP(r[0], DEV)")
    else:
        env.update(FILL=_fill, TEMPLATE=template, OUTS=range(len(prog.result_arrays)))
        lines.append("    return FILL(TEMPLATE, r, OUTS)")
    exec(builtins.compile("\n".join(lines) + "\n", "<numgrad.compile caller>", "exec"), env)
    return env["call"]


def _leaves(out):
    res = []
    _template(out, res)
    return res


def _compare(what, got, ref, problems):
    if ref is None:
        problems.append(f"{what}: eager made none")
        return
    ref = np.asarray(ref)
    if got.shape != ref.shape or got.dtype != ref.dtype:
        problems.append(f"{what}: {got.shape} {got.dtype} vs eager {ref.shape} {ref.dtype}")
        return
    if got.size == 0:
        return
    tol = 1e-12 if got.dtype == np.float64 else 1e-5
    a, b = got.astype(np.float64), ref.astype(np.float64)
    same_nonfinite = np.array_equal(np.isfinite(a), np.isfinite(b))
    fin = np.isfinite(b)
    scale = float(np.max(np.abs(b[fin]))) if fin.any() else 1.0
    err = float(np.max(np.abs(a[fin] - b[fin]))) / (scale or 1.0) if fin.any() else 0.0
    if not same_nonfinite or err > tol:
        problems.append(f"{what}: max relative difference {err:.1e} (tolerance {tol:.0e})")


def _numba_ir_warning():
    from numba.core.errors import NumbaIRAssumptionWarning

    return NumbaIRAssumptionWarning


def _rng_state():
    from .. import random

    return repr(random.generator().bit_generator.state)


def _flatten(x, tensors):
    """Collect the tensors of ``x`` (nested tuples, lists, dicts) in order; return the hashable
    key of everything else."""
    if isinstance(x, TensorBase):
        tensors.append(x)
        return "T"
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(_flatten(v, tensors) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple((k, _flatten(v, tensors)) for k, v in x.items()))
    if isinstance(x, np.ndarray):
        raise TypeError(
            "numgrad.compile: pass tensors, not numpy arrays, as arguments (a numpy array would "
            "be frozen into the trace)"
        )
    try:
        hash(x)
    except TypeError:
        raise TypeError(
            f"numgrad.compile: argument of type {type(x).__name__} is not hashable; compiled "
            "functions take tensors and hashable constants"
        ) from None
    return x


def _template(out, results):
    if isinstance(out, TensorBase):
        results.append(out)
        return ("T", out._device)
    if out is None:
        return None
    if isinstance(out, (tuple, list)):
        return (type(out), [_template(v, results) for v in out])
    if isinstance(out, dict):
        return (dict, {k: _template(v, results) for k, v in out.items()})
    raise TypeError(
        f"numgrad.compile: the function returned a {type(out).__name__}; return tensors (or "
        "tuples, lists, dicts of them) - a Python number would be frozen at trace time"
    )


def _fill(template, res, outputs):
    it = iter(outputs)

    def go(t):
        if t is None:
            return None
        if t[0] == "T":
            return _wrap(res[next(it)], t[1])
        kind, v = t
        if kind is dict:
            return {k: go(x) for k, x in v.items()}
        return kind(go(x) for x in v) if kind is not list else [go(x) for x in v]

    return go(template)


def _tensors_of(tensors, modules, tr):
    """id(array) -> tensor for every tensor the replay may bind: the arguments, the modules'
    parameters and buffers, and every tensor the trace saw."""
    out = {id(t._data): t for t in tensors}
    for m in modules:
        for t in m.parameters():
            out.setdefault(id(t._data), t)
        for t in m.buffers():
            out.setdefault(id(t._data), t)
    for arr_id, t in getattr(tr, "tensors", {}).items():
        out.setdefault(arr_id, t)
    return out


def _modules_reached(fn, args, kwargs, depth=3):
    """The modules ``fn`` can reach: in its arguments, its bound ``self``, its closure and the
    globals its code names (and, ``depth`` deep, the functions those name)."""
    from ..nn.module import Module

    found, seen = [], set()

    def add(obj, inner=2):
        if isinstance(obj, Module):
            if id(obj) not in seen:
                for m in obj.modules():
                    if id(m) not in seen:
                        seen.add(id(m))
                        found.append(m)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                add(v, inner)
        elif isinstance(obj, dict):
            for v in obj.values():
                add(v, inner)
        elif inner > 0 and not isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            # a plain object holding the model (a trainer, a dataclass): its attributes
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict):
                for v in attrs.values():
                    add(v, inner - 1)

    def scan(f, d):
        if d < 0:
            return
        if isinstance(f, Module):
            add(f)
            return
        if isinstance(f, types.MethodType):
            add(f.__self__)
            f = f.__func__
        code = getattr(f, "__code__", None)
        if code is None:
            return
        for cell in f.__closure__ or ():
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            add(v)
            if isinstance(v, types.FunctionType):
                scan(v, d - 1)
        g = getattr(f, "__globals__", {})
        for name in code.co_names:
            v = g.get(name)
            if v is None:
                continue
            add(v)
            if isinstance(v, types.FunctionType) and v is not f:
                scan(v, d - 1)

    add(args)
    add(kwargs)
    scan(fn, depth)
    return found


def compile(  # noqa: A001  (torch's name)
    model=None,
    *,
    check=False,
    fullgraph=False,
    dynamic=None,
    backend=None,
    mode=None,
    options=None,
    disable=False,
):
    """Compile a training step (or a module's forward) as ``torch.compile`` does in shape.

    ``numgrad.compile(fn)`` and ``@numgrad.compile`` return a :class:`CompiledFunction`;
    ``numgrad.compile(module)`` compiles its forward.  ``check=True`` compares the first
    replays with eager runs.  ``options={"fuse": False}`` keeps the replay program even where
    the step would fuse into one Numba function, and ``options={"fuse_loops": False}`` keeps
    one loop per elementwise rule inside it (all three give the same numbers).  torch's
    ``fullgraph``, ``dynamic``, ``backend`` and ``mode`` are accepted and have no effect (there
    is one backend); ``disable=True`` returns ``model`` unchanged.  See docs/compile.md for
    what is traced, the guards and the limits.
    """
    if model is None:
        return functools.partial(
            compile,
            check=check,
            fullgraph=fullgraph,
            dynamic=dynamic,
            backend=backend,
            mode=mode,
            options=options,
            disable=disable,
        )
    if disable:
        return model
    if not callable(model):
        raise TypeError(f"numgrad.compile: expected a function or a Module, got {type(model)}")
    options = dict(options or {})
    fuse = bool(options.pop("fuse", True))
    fuse_loops = bool(options.pop("fuse_loops", True))
    if options:
        raise ValueError(
            f"numgrad.compile: unknown options {sorted(options)}; known: ['fuse', 'fuse_loops']"
        )
    return CompiledFunction(model, check=check, fuse=fuse, fuse_loops=fuse_loops)
