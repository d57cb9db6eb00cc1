"""Custom differentiable operations: torch's ``autograd.Function``, and numgrad's faster form
whose kernels are the user's own.

Two base classes, told apart by what ``forward`` and ``backward`` receive:

:class:`Function` - torch's, unchanged: tensors in, tensors out.  ``forward`` runs with grad
mode off (its tensor ops record nothing); the outputs get one tape entry whose ``grad_fn`` is
``<FBackward>``; ``backward`` runs with grad mode off and returns one gradient per forward
argument::

    class MyReLU(numgrad.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    y = MyReLU.apply(x)

:class:`KernelFunction` - numgrad's: ``forward`` and ``backward`` receive and return **numpy
arrays** (tensor arguments arrive as their arrays), so they can call ``@njit`` kernels directly,
and one call is one kernel with no per-op dispatch inside: the faster form when the body is
many small ops.  Same ``ctx`` vocabulary (``save_for_backward``, ``saved_tensors``,
``needs_input_grad``); one array output.

Either kind registers itself in the op table (``numgrad.ops.OPS``) on its first ``apply``,
under ``custom.<module>.<qualname>``, as a variadic op, and records through ``tape.record``
like the built-ins: its tape entries are walked, freed and version-checked by the same engine
(a saved tensor changed in place before backward raises torch's error).  The capture hook
(``numgrad.autograd.trace``) sees a ``KernelFunction`` as one opaque op (its entries carry
``ctx``); a ``Function`` is Python over tensors and raises a clear error there.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref

import numpy as np

from ..capture import CAPTURE, capture_op, current_trace
from ..dispatch import _device_error
from ..grad_mode import GRAD_MODE, no_grad
from ..ops.registry import OPS, Kernel, Op, register
from ..storage import CPU, TensorBase, _wrap
from ..tape import _freed_error, keep, record

# ---- the op rows: one per class, shared kernels that call the class through ctx ----------------


# first applies of one class from two threads register its row once
_REGISTER_LOCK = threading.Lock()


def _forward_kernel(ctx, *xs):
    return ctx._cls.forward(ctx, *xs)


def _backward_kernel(grad, ctx, xs_shapes):
    return ctx._backward(grad, xs_shapes)


def _op_for(cls):
    """``cls``'s row of the op table, registered on its first ``apply``.  Its kernels reach
    the class through ``ctx`` (not a closure), so a class redefined under the same name - a
    notebook cell run twice - runs its own code."""
    op = cls.__dict__.get("_ng_op")
    if op is not None:
        return op
    name = f"custom.{cls.__module__}.{cls.__qualname__}"
    with _REGISTER_LOCK:
        op = OPS.get(name) or register(
            Op(
                name,
                inputs=("xs",),
                forward=Kernel(
                    args=("ctx", "xs"), name=f"{cls.__qualname__}.forward", generic=_forward_kernel
                ),
                backward={
                    "xs": Kernel(
                        args=("grad", "ctx", "xs_shapes"),
                        name=f"{cls.__qualname__}.backward",
                        fresh=False,  # the user may return grad itself
                        generic=_backward_kernel,
                    )
                },
                attrs=("ctx", "xs_shapes"),
                variadic=True,
                promote=None,
            )
        )
    cls._ng_op = op
    return op


def _output_op_for(cls):
    """The row of one output of ``cls`` when it has several differentiable outputs (see
    :func:`_connect`); named ``custom.output.<module>.<qualname>``, so the outputs print
    ``grad_fn=<FBackward>`` as the Function's own row does."""
    op = cls.__dict__.get("_ng_output_op")
    if op is not None:
        return op
    name = f"custom.output.{cls.__module__}.{cls.__qualname__}"
    with _REGISTER_LOCK:
        op = OPS.get(name) or register(
            Op(
                name,
                inputs=("x",),
                forward=Kernel(args=("x",), name="function_output", generic=_identity),
                backward={"x": Kernel(args=("grad", "layout"), generic=_output_backward)},
                attrs=("layout",),
                promote=None,
            )
        )
    cls._ng_output_op = op
    return op


def _identity(x):
    return x


def _output_backward(grad, layout):
    """An output's gradient written into its part of the Function's flat gradient, with its
    "received a gradient" flag set."""
    start, stop, flag, total, dtype, device = layout
    api = device.arrays
    flat = api.zeros((total,), dtype)
    api.assign(flat[start:stop], grad.reshape(-1))
    api.fill(flat[flag : flag + 1], 1)
    return flat


def _shapes(args):
    return tuple(a._data.shape if isinstance(a, TensorBase) else None for a in args)


def _device_of(op, args):
    device = None
    for a in args:
        if isinstance(a, TensorBase):
            if device is None:
                device = a._device
            elif a._device is not device:
                raise _device_error(op, args)
    return CPU if device is None else device


def _capture_error(cls):
    return RuntimeError(
        f"numgrad.autograd.trace cannot capture the autograd.Function {cls.__qualname__}: its "
        f"forward and backward are Python over tensors, not one op.  Write it as a "
        f"numgrad.autograd.KernelFunction (numpy arrays in and out) to have it captured as "
        f"an opaque op."
    )


# ---- torch's form ------------------------------------------------------------------------------


class FunctionCtx:
    """The ``ctx`` of a :class:`Function` call (torch's ``FunctionCtx``): ``save_for_backward``,
    ``saved_tensors``, ``needs_input_grad``, ``mark_non_differentiable``, ``mark_dirty``,
    ``set_materialize_grads``; any other attribute may be set freely in forward and read in
    backward."""

    def __init__(self, needs=()):
        self.needs_input_grad = needs
        self.materialize_grads = True
        self._to_save = None  # what forward passed to save_for_backward
        self._non_differentiable = ()
        self._dirty = ()
        self._saved = None  # after recording: per saved tensor (name, tensor or None, version)
        self._node = None  # weakref to the tape entry holding the saved arrays
        self._cls = None
        self._device = CPU
        self._outputs = ()  # per forward output: how backward rebuilds its gradient
        self._packed = None  # (total, n) when several outputs share one flat gradient

    def save_for_backward(self, *tensors):
        """Keep ``tensors`` (or None) for backward, version-checked: an in-place change before
        backward raises."""
        for k, t in enumerate(tensors):
            if t is not None and not isinstance(t, TensorBase):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {k} is of type "
                    f"{type(t).__name__}"
                )
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        """These outputs get no gradient (``requires_grad=False``); backward still receives a
        gradient argument for each, zeros (or None without materialized grads)."""
        self._non_differentiable = self._non_differentiable + tuple(map(id, tensors))

    def mark_dirty(self, *tensors):
        """These inputs were modified in place by forward and are returned as outputs: they
        take the Function's node as their history."""
        self._dirty = self._dirty + tuple(map(id, tensors))

    def set_materialize_grads(self, value):
        """False: backward receives None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:  # inside forward/setup_context, or nothing recorded
            return tuple(self._to_save or ())
        node = self._node()
        if node is None or node.saved is None:
            raise _freed_error()
        out = []
        for entry in saved:
            if entry is None:
                out.append(None)
                continue
            name, tensor, version = entry
            arr = node.saved[name]
            if tensor is not None and tensor._data is arr:
                out.append(tensor)  # an input: the user's own tensor, as torch returns it
            else:  # an output or an intermediate: an alias of the saved array
                t = _wrap(arr, self._device)
                t._version = version
                out.append(t)
        return tuple(out)

    saved_variables = saved_tensors

    def _backward(self, grad, xs_shapes):
        cls = self._cls
        if CAPTURE.active and current_trace() is not None:
            raise _capture_error(cls)
        grads = self._output_grads(grad)
        result = call_backward(cls, self, grads)
        return _check_grads(cls, self, result, xs_shapes)

    def _output_grads(self, grad):
        """The gradient of each forward output, as tensors, from the node's gradient array."""
        device = self._device
        api = device.arrays
        materialize = self.materialize_grads
        packed = self._packed
        present = None
        if packed is not None:
            total, n = packed
            present = api.to_host(grad[total - n :])
        grads = []
        for entry in self._outputs:
            if entry is None:  # a non-tensor output
                grads.append(None)
                continue
            kind, shape, dtype, start, stop, j = entry
            if kind == "single":
                grads.append(_wrap(grad, device))
            elif kind == "packed":
                if not materialize and not present[j]:
                    grads.append(None)
                    continue
                g = grad[start:stop].reshape(shape)
                if g.dtype != dtype:
                    g = api.cast(g, dtype)
                grads.append(_wrap(g, device))
            elif materialize:  # non-differentiable: zeros, as torch passes
                grads.append(_wrap(api.zeros(shape, dtype), device))
            else:
                grads.append(None)
        return grads


def call_backward(cls, ctx, grads):
    """Run the user's ``backward``: the one place it is called.  Grad mode is off, as in
    torch's backward without ``create_graph``; higher-order gradients (issue 12) turn it on
    here, so that backward's tensor ops record and its result can be differentiated again."""
    prev = GRAD_MODE.enabled
    GRAD_MODE.enabled = False
    try:
        return cls.backward(ctx, *grads)
    finally:
        GRAD_MODE.enabled = prev


def _check_grads(cls, ctx, result, xs_shapes):
    """The gradients backward returned, as arrays per forward argument, checked as torch
    checks them (count, type, shape, device)."""
    name = f"{cls.__name__}Backward"
    if not isinstance(result, tuple):
        result = (result,)
    n = len(xs_shapes)
    if len(result) != n:
        # torch accepts extra trailing Nones (for defaulted arguments)
        if len(result) < n or any(g is not None for g in result[n:]):
            raise RuntimeError(
                f"function {name} returned an incorrect number of gradients (expected {n}, "
                f"got {len(result)})"
            )
        result = result[:n]
    out = []
    needs = ctx.needs_input_grad
    for k, (g, shape) in enumerate(zip(result, xs_shapes)):
        if g is None:
            out.append(None)
            continue
        if not isinstance(g, TensorBase):
            raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
        if shape is None:
            raise RuntimeError(
                f"function {name} returned a gradient different than None at position {k + 1}, "
                f"but the corresponding forward input was not a Variable"
            )
        if not needs[k]:  # torch drops gradients for inputs that need none
            out.append(None)
            continue
        arr = g._data
        if arr.shape != shape:
            try:
                ok = np.broadcast_shapes(arr.shape, shape) == arr.shape
            except ValueError:
                ok = False
            if not ok:  # the tape sums a broadcast gradient down; anything else is wrong
                raise RuntimeError(
                    f"Function {name} returned an invalid gradient at index {k} - got "
                    f"{list(arr.shape)} but expected shape compatible with {list(shape)}"
                )
        if g._device is not ctx._device:
            raise RuntimeError(
                f"Function {name} returned an invalid gradient at index {k} - expected device "
                f"{ctx._device} but got {g._device}"
            )
        out.append(arr)
    return out


class _Info:
    """Per-class facts computed once: its op row and how ``apply`` calls it."""

    __slots__ = ("op", "setup_context", "forward", "signature")

    def __init__(self, cls):
        self.op = _op_for(cls)
        self.setup_context = cls.setup_context is not _base_setup_context
        self.forward = cls.forward
        self.signature = None

    def bind(self, args, kwargs):
        """Keywords and defaults bound to positions, as torch's ``apply`` does for the
        new-style form (each bound argument is an input: backward returns a gradient, or None,
        for it)."""
        sig = self.signature
        if sig is None:
            sig = self.signature = inspect.signature(self.forward)
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.args


def _info(cls):
    info = cls.__dict__.get("_ng_info")
    if info is None:
        info = _Info(cls)
        cls._ng_info = info
    return info


def _alias(t):
    """A new tensor over ``t``'s storage (same version counter): an input returned as an
    output gets its own history without rewriting the input's."""
    a = _wrap(t._data, t._device)
    a._version = t._version
    return a


class Function:
    """Base class for custom autograd operations, as torch writes them.

    Subclass it and define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as
    static methods taking and returning tensors (or the new-style pair ``forward(*args)`` and
    ``setup_context(ctx, inputs, output)``); call ``F.apply(*args)``.  ``forward`` runs with
    grad mode off; the outputs share one tape entry, ``grad_fn`` ``<FBackward>``; ``backward``
    returns one gradient per forward argument (None for non-tensors and inputs needing no
    grad), each of its input's shape or broadcastable to it.  For ``@njit`` kernels on numpy
    arrays see :class:`KernelFunction`, the faster form.
    """

    def __init__(self, *args, **kwargs):
        import warnings

        warnings.warn(
            f"{type(self)} should not be instantiated. Methods on autograd functions are all "
            f"static, so you should invoke them on the class itself.",
            DeprecationWarning,
            stacklevel=2,
        )

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "F.apply(x) with @staticmethod forward(ctx, x) and backward(ctx, grad))"
        )

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        info = cls.__dict__.get("_ng_info") or _info(cls)
        # the inputs backward returns gradients for: as torch counts them, the new-style form
        # binds keywords and defaults to positions; forward(ctx, ...) adds keyword values
        if info.setup_context:
            args = inputs = info.bind(args, kwargs)
            kwargs = {}
        elif kwargs:
            inputs = args + tuple(kwargs.values())
        else:
            inputs = args
        if CAPTURE.active and current_trace() is not None:
            raise _capture_error(cls)
        grad_on = GRAD_MODE.enabled
        needs = tuple(grad_on and isinstance(a, TensorBase) and a._rg for a in inputs)
        ctx = FunctionCtx(needs)
        GRAD_MODE.enabled = False
        try:
            if info.setup_context:
                out = cls.forward(*args)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        finally:
            GRAD_MODE.enabled = grad_on
        if not any(needs):
            return out
        return _connect(cls, info.op, ctx, inputs, out)


_base_setup_context = Function.setup_context


def _connect(cls, op, ctx, args, out):
    """Give ``forward``'s outputs their tape entry (through ``tape.record``) and keep what
    ``ctx`` saved on it."""
    single = isinstance(out, TensorBase)
    if not single and not isinstance(out, tuple):
        return out  # a non-tensor result: nothing to differentiate
    outs = [out] if single else list(out)
    device = _device_of(op, args)
    ctx._cls = cls
    ctx._device = device
    inputs = {id(a) for a in args if isinstance(a, TensorBase)}
    dirty = set(ctx._dirty)
    for a in args:
        if id(a) in dirty:
            if a._rg and a._node is None:
                raise RuntimeError(
                    "a leaf Variable that requires grad has been used in an in-place operation."
                )
            if a._base is not None:
                raise NotImplementedError(
                    f"{cls.__qualname__}: mark_dirty on a view is not supported by numgrad"
                )
    non_diff = set(ctx._non_differentiable)
    seen = set()
    diff = []  # (position, tensor) of the differentiable outputs
    entries = []
    for k, o in enumerate(outs):
        if not isinstance(o, TensorBase):
            entries.append(None)
            continue
        original = id(o)
        if (original in inputs and original not in dirty) or original in seen:
            o = outs[k] = _alias(o)  # an input (or an output) returned again
        seen.add(original)
        arr = o._data
        if original in non_diff or arr.dtype.kind != "f":
            o._node = None
            o._rg = False
            entries.append(("const", arr.shape, arr.dtype, 0, 0, 0))
        else:
            diff.append((k, o))
            entries.append(None)  # filled below
    arrays = [a._data if isinstance(a, TensorBase) else a for a in args]
    attrs = {"ctx": ctx, "xs_shapes": _shapes(args)}
    rules = op.rules * len(args)
    node = None
    if len(diff) == 1:
        k, o = diff[0]
        entries[k] = ("single", o._data.shape, o._data.dtype, 0, 0, 0)
        node = record(op, rules, args, arrays, attrs, o, o._data, (), device)
    elif diff:
        # one node, several differentiable outputs: the node's gradient is one flat array
        # holding every output's gradient (plus a flag per output: did it get one), and each
        # output is an entry of its own (`custom.output.*`) whose backward writes its part
        n = len(diff)
        dtype = np.result_type(*[o._data.dtype for _, o in diff])
        start = 0
        spans = []
        for j, (k, o) in enumerate(diff):
            stop = start + o._data.size
            entries[k] = ("packed", o._data.shape, o._data.dtype, start, stop, j)
            spans.append((start, stop))
            start = stop
        total = start + n
        ctx._packed = (total, n)
        packed = _wrap(device.arrays.empty((total,), dtype), device)
        node = record(op, rules, args, arrays, attrs, packed, packed._data, (), device)
        out_op = _output_op_for(cls)
        for j, ((_, o), (a, b)) in enumerate(zip(diff, spans)):
            layout = {"layout": (a, b, total - n + j, total, dtype, device)}
            record(out_op, out_op.rules, (packed,), (packed._data,), layout, o, o._data, (), device)
    ctx._outputs = tuple(entries)
    to_save = ctx._to_save
    ctx._to_save = None
    if node is not None and to_save:
        outputs = {id(o) for o in outs if isinstance(o, TensorBase)}
        saved = []
        for k, t in enumerate(to_save):
            if t is None:
                saved.append(None)
                continue
            name = f"saved tensor {k}"
            keep(node, name, t._data, t)
            # an input is handed back as itself; anything else (an output would make a
            # reference cycle through its node) as an alias of the saved array
            own = t if id(t) in inputs and id(t) not in outputs else None
            saved.append((name, own, t._version))
        ctx._saved = tuple(saved)
        ctx._node = weakref.ref(node)
    return outs[0] if single else tuple(outs)


def once_differentiable(fn):
    """Decorator for ``backward`` (torch's ``once_differentiable``): it runs with grad mode off,
    so its result cannot be differentiated again.  (Backward runs with grad mode off anyway
    until higher-order gradients exist; the mark is kept for them.)"""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    wrapper._once_differentiable = True
    return wrapper


# ---- numgrad's kernel form ---------------------------------------------------------------------


class KernelCtx:
    """The ``ctx`` of a :class:`KernelFunction` call: ``save_for_backward`` (arrays or
    tensors; kept as arrays), ``saved_tensors`` (arrays), ``needs_input_grad``."""

    def __init__(self, needs, cls):
        self.needs_input_grad = needs
        self._saved = ()
        self._cls = cls

    def save_for_backward(self, *arrays):
        self._saved = tuple(a._data if isinstance(a, TensorBase) else a for a in arrays)

    @property
    def saved_tensors(self):
        return self._saved

    def _backward(self, grad, xs_shapes):
        cls = self._cls
        grads = cls.backward(self, grad)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(xs_shapes):
            raise RuntimeError(
                f"custom Function {cls.__qualname__}.backward returned {len(grads)} gradients "
                f"but forward took {len(xs_shapes)} arguments"
            )
        out = []
        for k, (g, shape) in enumerate(zip(grads, xs_shapes)):
            if isinstance(g, TensorBase):
                g = g._data
            if g is not None:
                if not hasattr(g, "shape"):  # a number; arrays stay on their device
                    g = np.asarray(g)
                if shape is not None and g.shape != shape:
                    try:
                        np.broadcast_shapes(g.shape, shape)
                    except ValueError:
                        raise RuntimeError(
                            f"custom Function {cls.__qualname__}.backward returned a gradient "
                            f"of shape {g.shape} for input {k} of shape {shape}"
                        ) from None
            out.append(g)
        return out


class KernelFunction:
    """numgrad's faster custom op: ``forward(ctx, *args)`` and ``backward(ctx, grad)`` are
    static methods receiving and returning **numpy arrays** (tensor arguments arrive as their
    arrays), so they can call ``@njit`` kernels directly::

        @njit(cache=True)
        def cube_kernel(x):
            return x * x * x

        class Cube(numgrad.autograd.KernelFunction):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return cube_kernel(x)

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return 3 * x * x * grad

        y = Cube.apply(t)

    One array output; ``backward`` returns one gradient per forward argument (``None`` for
    non-tensors or inputs without a gradient), of the input's shape or broadcastable to it.
    The saved arrays are version-checked.  Seen by ``numgrad.autograd.trace`` as one opaque
    op.  For tensors in and out as torch writes it, see :class:`Function`.
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a KernelFunction must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("a KernelFunction must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        op = _op_for(cls)
        device = _device_of(op, args)
        needs = tuple(isinstance(a, TensorBase) and a._rg and GRAD_MODE.enabled for a in args)
        ctx = KernelCtx(needs, cls)
        arrays = [a._data if isinstance(a, TensorBase) else a for a in args]
        out = op.forward.on(device.type, op.name)(ctx, *arrays)
        if isinstance(out, TensorBase):
            out = out._data
        out = device.arrays.asarray(out)
        res = _wrap(out, device)
        if any(needs):
            shapes = tuple(
                x.shape if isinstance(a, TensorBase) or isinstance(x, np.ndarray) else None
                for a, x in zip(args, arrays)
            )
            attrs = {"ctx": ctx, "xs_shapes": shapes}
            node = record(op, op.rules * len(args), args, arrays, attrs, res, out, (), device)
            # saved inputs and the output are version-checked as a built-in op's are, so an
            # in-place change before backward raises (as torch's ctx.saved_tensors does) instead
            # of handing the user's kernel stale values or out-of-range indices
            owners = {id(a._data): a for a in args if isinstance(a, TensorBase)}
            owners[id(out)] = res
            for k, s in enumerate(ctx._saved):
                t = owners.get(id(s))
                if t is not None:
                    keep(node, f"saved tensor {k}", s, t)
        if CAPTURE.active:
            capture_op(op, op.forward, args, (ctx, tuple(arrays)), {}, (res,))
        return res
