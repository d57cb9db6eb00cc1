"""A captured step as a program: the trace of one call (``numgrad.autograd.trace``) turned into
generated Python source that calls each op's device kernels directly, in the traced order, with
the traced plans, constants and parameters bound in.

What the replay skips is everything eager numgrad does in Python around the kernels: argument
checks, dtype promotion, broadcasting decisions, plan lookups, the tape (no Node is made), the
backward walk (its rule calls are already in the trace, in order) and the optimizer's per-step
bookkeeping.  The kernels called are the same objects eager mode calls, with the same
arguments, so the results are the same numbers, bit for bit.

Slots (see ``numgrad/capture.py``):

* ``input`` slots that are arrays of tensors passed as arguments become the program's
  arguments (``a0, a1...``), in the order the wrapper flattens the call's tensors;
* ``param`` and other ``input`` slots (parameters, buffers, optimizer state, constants made
  before the trace) are bound by reference: updated in place, they carry the state across
  calls, and the guards check each still belongs to its tensor;
* ``new`` slots are locals of the generated function (fresh arrays each call; the fused form,
  ``fused.py``, has a memory plan).
"""

from __future__ import annotations

import itertools

from ..ops.registry import OPS
from ..storage import TensorBase
from .errors import Unsupported
from .fused import build_fused, python_scalar

# entry kinds and array-work names the program knows; anything else refuses the trace
_ARRAY_WORK = {"cast", "asarray", "sum_to_shape", "add", "copy", "full", "set_grad", "accumulate"}
# creation functions whose result is the same every call: a constant of the program
_CONSTANT_CREATE = {
    "zeros", "ones", "full", "empty", "tensor", "as_tensor", "from_numpy", "arange", "eye",
    "linspace", "zeros_like", "ones_like", "full_like", "empty_like",
}  # fmt: skip


class Program:
    """The generated function for one trace plus what the wrapper needs around it.

    ``run(*arrays, *update_scalars)`` returns the tuple of arrays named by ``results``.
    ``grads``: (param tensor, index into the results) pairs whose ``.grad`` the call sets.
    ``outputs``: indices into the results of the arrays the user's function returned.
    ``updates``: per update entry, how to compute its scalars from the live param group.
    ``source``: the generated Python (docs and debugging).
    """

    def __init__(self, source, fn, arg_slots, grads, outputs, updates, bound_tensors, state):
        self.state_arrays = state  # every array bound by reference (check=True snapshots them)
        self.result_arrays = ()  # the traced arrays of the function's returned tensors
        self.fused = None  # a fused.Fused when the whole step fused
        self.fused_source = None
        self.fused_reason = None  # why not, when it did not
        self.template = None  # the structure of the function's result (set by the wrapper)
        self.source = source
        self.run = fn
        self.arg_slots = arg_slots
        self.grads = grads
        self.outputs = outputs
        self.updates = updates
        self.bound_tensors = bound_tensors  # (tensor, array): the guards check t._data is array


class _Update:
    """One optimizer update of the trace: re-planned from its live group every call, so
    learning-rate changes (schedulers) take effect; a change of its static flags (e.g. weight
    decay switched on) makes the wrapper trace again."""

    __slots__ = (
        "spec", "group", "dtype", "static", "names", "bound", "first_scalar", "last", "python",
    )  # fmt: skip

    def __init__(self, spec, group, dtype, static):
        self.last = (None, None)  # (the group's values, the scalars planned from them)
        self.python = None  # the last scalars as python numbers (what the fused step takes)
        self.bound = None  # the device's update bound to the rows (set by the builder)
        self.first_scalar = 0  # index of its first scalar among the program's h arguments
        self.spec = spec
        self.group = group
        self.dtype = dtype
        self.static = static
        self.names = spec["scalars"] + spec["per_tensor_scalars"]

    def scalars(self):
        """This call's scalars from the live group, or None if its static flags changed.

        Planned again only when a value of the group changed since the last call (a
        scheduler writes a new ``lr``), as planning costs microseconds.  The comparison is one
        list ``==`` (identity first, then ``==`` per value: a list of betas compares by value);
        a group holding a tensor (which could change in place) is planned every call.
        """
        values = list(self.group.values())
        last = self.last
        try:
            if values == last[0]:
                return last[1]
        except Exception:  # a value whose == is not a bool
            values = None
        got = self._plan()
        if values is not None:
            if any(isinstance(v, TensorBase) for v in values):
                values = None
            else:  # lists are copied: one changed in place must compare unequal next call
                values = [list(v) if type(v) is list else v for v in values]
        self.last = (values, got)
        self.python = None if got is None else [python_scalar(v) for v in got]
        return got

    def python_scalars(self):
        """:meth:`scalars` as python numbers, for the fused step (None: the flags changed)."""
        got = self.scalars()
        return None if got is None else self.python

    def _plan(self):
        values = self.spec["plan"](self.group, self.dtype.type)
        first = self.spec["first"]
        static = tuple(bool(values.get(s, False)) for s in self.spec["static"] if s != first)
        if static != self.static:
            return None
        return [values[k] for k in self.names]


def _is_slot(x):
    return hasattr(x, "index") and hasattr(x, "origin")


def _holds_slot(x):
    return any(_is_slot(v) or (isinstance(v, tuple) and _holds_slot(v)) for v in x)


def build(trace, arg_arrays, result_arrays, tensors_of, fuse=True, fuse_loops=True):
    """The :class:`Program` of ``trace``.

    ``arg_arrays``: the arrays of the call's tensor arguments, in order; ``result_arrays``: the
    arrays of the tensors the function returned; ``tensors_of``: id(array) -> tensor for every
    tensor the wrapper saw (parameters, buffers, arguments), to bind ``.grad`` and check guards.
    """
    lines = []
    env = {}  # name -> object the generated code reads as a global
    names = {}  # slot index -> local or global name
    counter = itertools.count()

    def const(value, prefix="c"):
        name = f"{prefix}{next(counter)}"
        env[name] = value
        return name

    arg_slots = []
    arg_ids = {id(a): k for k, a in enumerate(arg_arrays)}
    bound_tensors = []
    state = []
    for s in trace.slots:
        if s.origin == "new":
            continue
        k = arg_ids.get(id(s.array))
        if k is not None:
            names[s.index] = f"a{k}"
            arg_slots.append(s.index)
        else:
            names[s.index] = const(s.array, "s")
            state.append(s.array)
            t = tensors_of.get(id(s.array))
            if t is not None:
                bound_tensors.append((t, s.array))

    def ref(x):
        if _is_slot(x):
            if x.index not in names:
                raise Unsupported(f"slot {x!r} is read before any entry makes it")
            return names[x.index]
        if isinstance(x, tuple) and _holds_slot(x):  # index tuples, plans (named tuples)
            items = "(" + "".join(f"{ref(v)}, " for v in x) + ")"
            return f"{const(type(x), 'N')}._make({items})" if hasattr(x, "_fields") else items
        return const(x)

    def define(slots):
        out = []
        for s in slots:
            if s is None:
                out.append("_")
                continue
            if s.origin != "new":
                raise Unsupported(f"an entry writes the existing array {s!r} as a new result")
            names[s.index] = f"v{s.index}"
            out.append(names[s.index])
        return out

    grads = []  # (tensor, slot index)
    updates = []
    pending_number = None  # a backward rule's result that was a number, not an array
    n_scalars = 0
    for e in trace.entries:
        if e.kind in ("forward", "backward"):
            device = _device_of(e)
            fn = e.kernel.on(device, e.op)
            call = f"{const(fn, 'k')}({', '.join(ref(a) for a in e.inputs)})"
            api_obj = _api(e)
            if e.kind == "backward" and len(e.outputs) == 1:
                (o,) = e.outputs
                if not isinstance(o.array, api_obj.array_type):
                    # a number: the engine's asarray entry, next, makes the gradient array
                    pending_number = f"n{o.index}"
                    lines.append(f"{pending_number} = {call}")
                    continue
            outs = define(e.outputs)
            if len(outs) == 1:
                lines.append(f"{outs[0]} = {call}")
            else:
                lines.append(f"{', '.join(outs)}, = {call}")
            if e.kind == "forward":
                # a kernel may return a number for a 0-d result: dispatch makes it an array
                api = const(api_obj, "api")
                nd = const(api_obj.array_type, "T")
                for name, o in zip(outs, e.outputs):
                    if o is not None and o.shape == ():
                        lines.append(f"if type({name}) is not {nd}: {name} = {api}.asarray({name})")
        elif e.kind == "array":
            if e.op not in _ARRAY_WORK:
                raise Unsupported(f"array work {e.op!r}")
            api = const(_api(e), "api")
            if e.op == "set_grad":
                of = e.attrs["of"]
                t = tensors_of.get(id(of.array))
                if t is None:
                    raise Unsupported(f"a gradient for {of!r}, whose tensor is unknown")
                grads.append((t, e.inputs[0]))
                continue
            if e.op == "accumulate":
                gd, g = e.inputs
                lines.append(f"{api}.accumulate({ref(gd)}, {ref(g)})")
                continue
            (out,) = define(e.outputs)
            ins = [ref(a) for a in e.inputs]
            if e.op == "full":
                a = e.attrs
                lines.append(
                    f"{out} = {api}.full({ref(a['shape'])}, {ref(a['value'])}, {ref(a['dtype'])})"
                )
            elif e.op == "asarray":  # a backward rule's number as the gradient array
                if pending_number is None:
                    raise Unsupported("asarray with no number before it")
                lines.append(f"{out} = {api}.asarray({pending_number}, {ref(e.attrs['dtype'])})")
                pending_number = None
            elif e.op == "cast":
                lines.append(f"{out} = {api}.cast({ins[0]}, {ref(e.attrs['dtype'])})")
            elif e.op == "sum_to_shape":
                lines.append(f"{out} = {api}.sum_to_shape({ins[0]}, {ref(e.attrs['shape'])})")
            elif e.op == "add":
                lines.append(f"{out} = {api}.add({ins[0]}, {ins[1]})")
            elif e.op == "copy":
                lines.append(f"{out} = {api}.copy({ins[0]})")
        elif e.kind == "update":
            upd, call = _update(e, ref, const, n_scalars)
            n_scalars += len(upd.names)
            updates.append(upd)
            lines.append(call)
        elif e.kind == "create":
            if e.op not in _CONSTANT_CREATE:
                raise Unsupported(f"{e.op}() inside the step (random, or not known constant)")
            # a constant made inside the step: the traced array, read-only in the trace
            (s,) = e.outputs
            if _written(trace, s):
                raise Unsupported(f"{e.op}() inside the step makes an array written later")
            names[s.index] = const(s.array, "s")
        elif e.kind == "inplace":
            raise Unsupported(f"in-place {e.op} inside the step")
        else:
            raise Unsupported(f"entry kind {e.kind!r}")

    # results: the returned arrays, then the gradients bound to .grad
    results = []
    outputs = []
    for arr in result_arrays:
        s = trace._slot_of.get(id(arr))
        if s is None:
            raise Unsupported("the function returns a tensor the trace never made")
        outputs.append(len(results))
        results.append(ref(s))
    grad_pairs = []
    for t, s in grads:
        grad_pairs.append((t, len(results)))
        results.append(ref(s))
    args = [f"a{k}" for k in range(len(arg_arrays))] + [f"h{j}" for j in range(n_scalars)]
    body = "\n".join("    " + ln for ln in lines) or "    pass"
    ret = "(" + "".join(f"{r}, " for r in results) + ")"
    source = f"def step({', '.join(args)}):\n{body}\n    return {ret}\n"
    code = compile(source, "<numgrad.compile step>", "exec")
    exec(code, env)
    prog = Program(
        source, env["step"], arg_slots, grad_pairs, outputs, updates, bound_tensors, state
    )
    prog.result_arrays = tuple(result_arrays)
    cpu = all(getattr(s.device, "type", None) == "cpu" for s in trace.slots if s.device is not None)
    if not fuse:
        prog.fused_reason = "fusion turned off (options={'fuse': False})"
    elif cpu:
        try:
            prog.fused = build_fused(trace, arg_arrays, prog, fuse_loops)
            prog.fused_source = prog.fused.source
        except Unsupported as e:
            prog.fused_reason = str(e)
    return prog


def _device_of(e):
    for x in itertools.chain(e.outputs, e.inputs):
        d = getattr(x, "device", None)
        if d is not None and hasattr(x, "origin"):
            return d.type if hasattr(d, "type") else str(d)
    raise Unsupported(f"{e.op}: no array to tell its device")


def _api(e):
    for x in itertools.chain(e.outputs, e.inputs):
        d = getattr(x, "device", None)
        if d is not None and hasattr(x, "origin"):
            return d.arrays
    of = e.attrs.get("of")
    if of is not None:
        return of.device.arrays
    raise Unsupported(f"{e.op}: no array to tell its device")


def _written(trace, slot):
    for e in trace.entries:
        if e.kind in ("inplace", "update") or e.op == "accumulate":
            outs = e.outputs.values() if isinstance(e.outputs, dict) else e.outputs
            for o in outs:
                group = o if isinstance(o, tuple) else (o,)
                if any(g is slot for g in group):
                    return True
    return False


def _update(e, ref, const, first_scalar):
    """An optimizer update: bind its rows once (the device's update kernel, as the optimizer
    does) and call it with the gradients of this call and scalars passed per call."""
    op = OPS[e.op]
    spec = op.forward.spec
    attrs = e.attrs
    first = spec["first"]
    if first is not None and attrs.get(first):
        raise Unsupported("the optimizer's first step (it creates state)")
    params = e.inputs["param"]
    grads = e.inputs["grad"]
    keys = [k for k in e.inputs if k not in ("param", "grad")]
    rows = []
    for j, p in enumerate(params):
        row = [p.array, None] + [e.inputs[k][j].array for k in keys]
        rows.append(tuple(row))
    dtype = params[0].dtype
    device = params[0].device
    static = tuple(bool(attrs[s]) for s in spec["static"])
    bound = op.forward.on(device.type if hasattr(device, "type") else str(device), e.op)(
        rows, static, dtype
    )
    kept = tuple(v for s, v in zip(spec["static"], static) if s != first)
    upd = _Update(spec, attrs["group"], dtype, kept)
    upd.bound = bound
    upd.first_scalar = first_scalar
    hs = ", ".join(f"h{first_scalar + j}" for j in range(len(upd.names)))
    gl = "[" + ", ".join(ref(g) for g in grads) + "]"
    return upd, f"{const(bound, 'u')}({gl}{', ' if hs else ''}{hs})"
