"""The capture hook: ``with numgrad.autograd.trace() as t`` appends everything a step executes
to ``t``, as a list ``numgrad.compile`` can turn into code.

Every op executed (recorded for gradients or not), every backward rule call with the engine's
array work around it (sum-to-shape, cast, accumulation), every in-place write and creation,
and every optimizer update is appended, in execution order, as an :class:`Entry` ``(op,
inputs, outputs, attrs)`` whose arrays are :class:`Slot` s: one per distinct buffer of the
step, numbered in order of first appearance, with shape, dtype, device and origin (a
parameter, another input, or made inside the trace).  See ``docs/tape.md``.

With no trace open anywhere in the process the cost is one check of ``CAPTURE.active`` per
op.  This module sits on the ground floor (it imports nothing from numgrad), so the tensor,
the tape, dispatch and the optimizers can all report to it.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

# ---- capture -----------------------------------------------------------------------------------


class _Capture(threading.local):
    """``active``: how many traces are open in the whole process (read on every op, so a
    plain attribute of a module-level object, not a thread-local); ``trace``: this thread's
    innermost open trace."""

    trace = None


class _Active:
    __slots__ = ("active",)

    def __init__(self):
        self.active = 0


CAPTURE = _Active()
_THREAD = _Capture()
_LOCK = threading.Lock()


class Slot:
    """One buffer of a trace.

    ``index`` numbers the distinct arrays of one trace in order of first appearance (the same
    array object is the same slot, also when an entry writes it in place);  ``shape``,
    ``dtype`` and ``device`` describe it;  ``origin`` says where it came from:

    * ``"param"``: the data of a leaf tensor that requires grad (a parameter), existing
      before the trace;
    * ``"input"``: any other array existing before the trace (input data, buffers, optimizer
      state, a ``.grad`` from before);
    * ``"new"``: made by an entry of this trace.

    ``view_of``: for the result of a view op (``reshape``, basic indexing, ``permute``...)
    that shares memory with its input, the slot of the buffer it views (the base of a chain of
    views), else None: an in-place write to either changes both.  ``array`` is the buffer
    itself (the trace holds it, so no two slots share an ``id``).
    """

    __slots__ = ("index", "shape", "dtype", "device", "origin", "view_of", "array")

    def __init__(self, index, array, origin, device):
        self.index = index
        self.array = array
        self.shape = tuple(getattr(array, "shape", ()))
        self.dtype = getattr(array, "dtype", None)
        self.origin = origin
        self.device = device
        self.view_of = None

    def __repr__(self):
        dims = "x".join(map(str, self.shape)) or "scalar"
        return f"%{self.index}<{self.origin} {dims} {self.dtype}>"


class Entry(NamedTuple):
    """One captured event: ``(op, inputs, outputs, attrs)`` plus ``kind``, ``kernel``, ``wrt``.

    ``kind``:
      ``"forward"``  an op of the table ran (``op`` its name, ``kernel`` its forward Kernel);
      ``"backward"`` a backward rule ran (``kernel`` the rule, ``wrt`` the input it is for);
      ``"array"``    the engine's or dispatch's own array work: ``cast``, ``asarray``,
                     ``sum_to_shape``, ``add``, ``accumulate`` (into an existing ``.grad``, in
                     place), ``copy``, ``full``, ``set_grad`` (input 0 becomes the ``.grad`` of
                     the tensor whose data is ``attrs["of"]``);
      ``"inplace"``  a tensor's storage written in place (``copy_``, ``zero_``, ``fill_``,
                     ``setitem_``, ``uniform_``, ``normal_``): outputs repeat the slot written;
      ``"create"``   a creation function (``zeros``, ``randn``, ...);
      ``"update"``   an optimizer update (its outputs are the slots it wrote in place).
    For ``forward`` and ``backward``, ``inputs[i]`` is the kernel's argument ``kernel.args[i]``
    (arrays as :class:`Slot` s, anything else - python numbers, attrs, shapes, plans - as is)
    and ``outputs`` its results.
    """

    op: str
    inputs: tuple
    outputs: tuple
    attrs: dict
    kind: str
    kernel: object = None
    wrt: str | None = None


def _operands(xs):
    if isinstance(xs, dict):
        return ", ".join(f"{k}={v!r}" for k, v in xs.items())
    return ", ".join(map(repr, xs))


def _is_array(x):
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, type)


class Trace:
    """The list of :class:`Entry` s captured by ``with numgrad.autograd.trace() as t``."""

    def __init__(self):
        self.entries = []
        self.slots = []
        self._slot_of = {}  # id(array) -> Slot
        self.tensors = {}  # id(array) -> the tensor whose data it is, where one was seen
        # numgrad.compile: a host read (.item(), printing...) would freeze a value into code
        self.forbid_host_reads = False

    def __iter__(self):
        return iter(self.entries)

    def __len__(self):
        return len(self.entries)

    def __getitem__(self, k):
        return self.entries[k]

    def ops(self, kind=None):
        """The op names in order (of one ``kind`` only, when given)."""
        return [e.op for e in self.entries if kind is None or e.kind == kind]

    def slot(self, arr, tensor=None, device=None):
        """The slot of ``arr``; an array not seen before is an input of the trace ("param"
        when ``tensor``, whose data it is, is a leaf that requires grad)."""
        s = self._slot_of.get(id(arr))
        if tensor is not None:
            self.tensors.setdefault(id(arr), tensor)
        if s is None:
            param = tensor is not None and tensor._rg and tensor._node is None
            if device is None and tensor is not None:
                device = tensor._device
            s = self._add(arr, "param" if param else "input", device)
        return s

    def _add(self, arr, origin, device):
        s = Slot(len(self.slots), arr, origin, device)
        self.slots.append(s)
        self._slot_of[id(arr)] = s
        return s

    def _out(self, x, device):
        if x is None:
            return None
        base = None
        if hasattr(x, "_data") and hasattr(x, "_device"):  # a tensor
            base = x._base
            x, device = x._data, x._device
        s = self._slot_of.get(id(x))
        if s is None:
            s = self._add(x, "new", device)
            if base is not None:
                s.view_of = self.slot(base._data, base)
        return s

    def _in(self, x, device):
        if hasattr(x, "_data") and hasattr(x, "_device"):  # a tensor
            return self.slot(x._data, x)
        if isinstance(x, (tuple, list)):
            vals = [self._in(v, device) for v in x]
            if all(v is o for v, o in zip(vals, x)):
                return x  # shapes, plans (named tuples), index tuples: constants as they are
            return type(x)._make(vals) if hasattr(x, "_fields") else tuple(vals)
        s = self._slot_of.get(id(x))
        if s is not None:
            return s
        if _is_array(x) and not isinstance(x, np.generic):  # numpy scalars are constants
            return self.slot(x, device=device)
        return x

    def call(self, kind, op, kernel, args, outs, attrs, device, wrt=None):
        """A kernel call: ``args`` aligned with ``kernel.args``."""
        ins = tuple(self._in(a, device) for a in args)
        outs = tuple(self._out(o, device) for o in outs)
        name = op if isinstance(op, str) else op.name
        self.entries.append(Entry(name, ins, outs, dict(attrs or {}), kind, kernel, wrt))

    def array(self, name, ins, outs, attrs, device):
        ins = tuple(self._in(a, device) for a in ins)
        outs = tuple(self._out(o, device) for o in outs)
        self.entries.append(Entry(name, ins, outs, dict(attrs or {}), "array"))

    def __repr__(self):
        lines = [f"Trace({len(self.entries)} entries, {len(self.slots)} slots)"]
        for e in self.entries:
            wrt = f"[{e.wrt}]" if e.wrt else ""
            of = f" of {e.attrs['of']!r}" if e.op == "set_grad" else ""
            lines.append(
                f"  {e.kind:8s} {e.op}{wrt}({_operands(e.inputs)}) -> {_operands(e.outputs)}{of}"
            )
        return "\n".join(lines)


class trace:  # noqa: N801  (a context manager used like a function, as torch's no_grad)
    """Capture everything executed in this thread: ``with numgrad.autograd.trace() as t:``.

    Appends to ``t`` (a :class:`Trace`) every op executed - recorded for gradients or not -,
    every backward rule call with the engine's array work around it, every in-place write and
    creation, and every optimizer update, in execution order.  Nested traces: the innermost
    one captures.  Other threads are not captured.
    """

    def __init__(self):
        self.trace = Trace()
        self._outer = None

    def __enter__(self):
        self._outer = _THREAD.trace
        _THREAD.trace = self.trace
        with _LOCK:
            CAPTURE.active += 1
        return self.trace

    def __exit__(self, *exc):
        _THREAD.trace = self._outer
        with _LOCK:
            CAPTURE.active -= 1
        return False


class HostSyncError(RuntimeError):
    """A tensor's value was read on the host (``.item()``, ``.numpy()``, ``bool()``, printing)
    inside a step ``numgrad.compile`` is tracing: the value would be frozen into the code."""


def host_read(what):
    """Called by the Tensor methods that read values on the host, when ``CAPTURE.active``:
    raises :class:`HostSyncError` naming the user's line if the open trace forbids it."""
    tr = _THREAD.trace
    if tr is None or not tr.forbid_host_reads:
        return
    import traceback

    where = "?"
    for fr in reversed(traceback.extract_stack()[:-1]):
        if "/numgrad/" not in fr.filename.replace("\\", "/"):
            where = f"{fr.filename}:{fr.lineno} ({fr.line})"
            break
    raise HostSyncError(
        f"numgrad.compile: {what} reads a tensor's value on the host inside the compiled "
        f"function, at {where}; the value would be frozen into the compiled step. Move it "
        "outside the function (e.g. return the loss and call .item() on the result)."
    )


def current_trace():
    """This thread's open trace, or None."""
    return _THREAD.trace


def capture_op(op, kernel, args, call_args, attrs, outs, arrays=None):
    """A forward op ran: ``args`` its inputs as passed (tensors, numbers), ``call_args`` what
    its kernel received (aligned with ``kernel.args``), ``outs`` its result tensors.
    ``arrays`` (per input, after dtype promotion) adds a ``cast`` entry for each promoted
    tensor, so no array appears in the trace from nowhere."""
    tr = _THREAD.trace
    if tr is None:
        return
    device = outs[0]._device
    for a in args:  # first sight of a parameter's data: the slot says so
        if hasattr(a, "_data"):
            tr.slot(a._data, a)
    if arrays is not None:
        for a, x in zip(args, arrays):
            if hasattr(a, "_data") and x is not a._data and _is_array(x):
                tr.array("cast", (a,), (x,), {"dtype": x.dtype}, device)
    tr.call("forward", op, kernel, call_args, outs, attrs, device)


def _first_device(values):
    for x in values:
        if isinstance(x, (list, tuple)):
            d = _first_device(x)
        else:
            d = getattr(x, "_device", None)
        if d is not None:
            return d
    return None


def capture(kind, name, inputs, outputs, attrs=None, device=None):
    """Append one entry of ``kind`` (see :class:`Entry`) to this thread's trace, if any.

    ``inputs``/``outputs``: sequences of tensors, arrays or constants (lists of them become
    tuples of slots), or mappings from an operand name to such values (the entry then holds a
    dict ``{name: slot or tuple of slots}``, in the mapping's order).  ``device``: of the
    arrays, when no tensor among them says."""
    tr = _THREAD.trace
    if tr is None:
        return
    named_in = isinstance(inputs, dict)
    named_out = isinstance(outputs, dict)
    ins = list(inputs.values()) if named_in else list(inputs)
    outs = list(outputs.values()) if named_out else list(outputs)
    device = _first_device(outs + ins) or device
    ins = [tr._in(a, device) for a in ins]
    outs = [_out_many(tr, o, device) for o in outs]
    ins = dict(zip(inputs, ins)) if named_in else tuple(ins)
    outs = dict(zip(outputs, outs)) if named_out else tuple(outs)
    tr.entries.append(Entry(name, ins, outs, dict(attrs or {}), kind))


def _out_many(tr, o, device):
    if isinstance(o, (list, tuple)):
        return tuple(_out_many(tr, v, device) for v in o)
    return tr._out(o, device)


def capture_update(name, inputs, outputs, attrs=None):
    """An optimizer update ran: ``name`` its op (``"sgd"``, ``"adam"``...), ``inputs`` what it
    read and ``outputs`` what it wrote in place, each a sequence or a mapping from an operand
    name (``"param"``, ``"grad"``, ``"exp_avg"``...) to a tensor or a list of tensors (one per
    parameter), ``attrs`` its hyperparameters.  The entry's outputs repeat the slots of the
    inputs written in place.  One check when no trace is open; callers may test
    ``CAPTURE.active`` first to skip building the arguments."""
    if CAPTURE.active:
        capture("update", name, inputs, outputs, attrs)
