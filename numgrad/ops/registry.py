"""The op table: every differentiable operation is one declaration in this registry.

Declaration format
------------------
An op is declared once with :func:`register`::

    register(Op(
        name="mul",
        inputs=("x", "y"),
        forward=elementwise(mul_f),
        backward={"x": elementwise(mul_dx), "y": elementwise(mul_dy)},
        promote="arith",
    ))

Fields
    name        unique op name; ``tensor.grad_fn.name`` reports it.
    inputs      names of the tensor inputs, in call order.  Python scalars may stand in for
                any input; they are constants and never receive a gradient.
    attrs       names of non-tensor keyword attributes (``dim``, ``keepdim``, ``lo``...).
    saves       names kept on the tape for backward: input names, ``"out"`` (the forward
                result) or names of extra forward outputs (see ``outputs``).  Only the names
                read by the rules of inputs that actually need a gradient are kept, and they
                are dropped once backward has used them.
    outputs     names of the forward results; the first is the differentiable tensor returned
                to the user, the rest are non-differentiable extras (e.g. ``indices`` of max);
                an extra that backward reads is version-checked like a saved input.
    forward     a :class:`Kernel`: one callable per device.
    backward    ``{input_name: Kernel or None}``.  ``None`` declares the input
                non-differentiable (calling backward through it is a no-op for that input);
                an input missing from the dict raises ``NotImplementedError`` naming the op.
    promote     dtype policy: ``"arith"`` (torch type promotion between tensors and scalars),
                ``"float"`` (integer inputs become float32, as torch does for ``exp``),
                ``"floating"`` (integer inputs raise, as torch's do for softmax and gelu),
                ``"same"`` (inputs must share one dtype, e.g. matmul), or ``None``
                (the forward kernel handles dtypes itself).
    half        how float16 inputs run (Numba has no float16): ``"float32"`` upcasts them,
                runs the float32 kernels and stores float16 results, forward and backward, as
                torch does on the CPU; ``"native"`` passes them unchanged (data movement:
                reshape, getitem, cat...).  Default: ``"float32"`` for elementwise rules,
                ``"native"`` otherwise; compute kernels (reductions, matmul) say ``"float32"``.

Names in scope for kernels
    A kernel reads its arguments by the parameter names of its CPU function, from this scope:
    ``grad`` (upstream gradient, shaped like ``out``), ``out``, the input names, the extra output
    names, the attr names, and ``<input>_shape`` for every input.  Backward kernels return the
    gradient for their input, shaped like ``out`` or like the input; the tape unbroadcasts.

Devices
    A :class:`Kernel` has a slot per device (``cpu``, ``cuda``).  CPU kernels are Numba
    ``@njit`` functions or ``@vectorize`` ufuncs built from one ``@njit(inline="always")``
    scalar function by :func:`elementwise`.  A device with no kernel raises
    ``NotImplementedError`` naming the op and device.
"""

from __future__ import annotations

import importlib
import inspect
import threading

OPS: dict[str, Op] = {}

# element type families for elementwise rules (names, so no device types leak in here)
FLOAT = ("float32", "float64")
ARITH = ("uint8", "int32", "int64", "float32", "float64")  # no bool: torch refuses bool - bool
ALL = ("bool",) + ARITH

# device name -> its elementwise builder, builder(kernel) -> callable; filled by the device
# package when it is imported (register_device).  Devices not yet imported are imported on first
# use from numgrad.devices.<name>.
_DEVICES: dict = {}
_BUILD = threading.RLock()  # one lazy build at a time (a half-built slot is never visible)


class DtypeError(NotImplementedError):
    """A kernel has no loop for this dtype (torch: ``"abs_cpu" not implemented for 'Bool'``).

    ``message`` is the kernel's own explanation when it declared one (bool subtraction);
    dispatch re-raises it naming the op and the operands.
    """

    def __init__(self, kernel, dtype, message=None):
        self.kernel = kernel
        self.dtype = dtype
        self.message = message
        super().__init__(message or f'"{kernel}" not implemented for dtype {self.dtype.name}')


class Kernel:
    """One computation, declared once; each device registers how it runs (``impls``).

    ``args`` are the scope names it reads.  An elementwise kernel carries its scalar rule
    (``scalar``) and the ``spec`` its loops are generated with (types, fixed output type...);
    a device with an elementwise builder turns it into a callable on first use.  Any other
    kernel gets its per-device callables from :func:`impl`.
    """

    __slots__ = ("name", "args", "impls", "scalar", "spec", "fresh")

    def __init__(self, cpu=None, args=None, name=None, fresh=True, scalar=None, spec=None):
        # fresh: the result is a new array nobody else holds, so the tape may hand it to a
        # leaf's .grad without copying; rules returning grad itself or a view of it say False
        self.fresh = fresh
        self.scalar = scalar
        self.spec = spec
        self.impls = {}
        if cpu is not None:
            self.impls["cpu"] = cpu
        if args is None:
            if cpu is None:
                raise ValueError("Kernel needs args when no function is given")
            args = tuple(inspect.signature(cpu).parameters)
        self.args = tuple(args)
        self.name = name or getattr(cpu, "__name__", "kernel")

    def on(self, device, opname="?"):
        """The callable for ``device``; builds elementwise kernels lazily, raises if none."""
        fn = self.impls.get(device)
        if fn is not None:
            return fn
        with _BUILD:
            fn = self.impls.get(device)
            if fn is None:
                builder = _device_builder(device)
                if self.scalar is not None and builder is not None:
                    fn = builder(self)
                if fn is None:
                    raise NotImplementedError(
                        f"op '{opname}' has no implementation of '{self.name}' for device "
                        f"'{device}'"
                    )
                self.impls[device] = fn
        return fn

    def __repr__(self):
        return f"Kernel({self.name}, args={self.args})"


def _device_builder(device):
    if device not in _DEVICES:
        try:
            importlib.import_module(f"numgrad.devices.{device}")
        except ImportError:
            return None
    return _DEVICES.get(device)


def register_device(name, elementwise=None):
    """Called by a device package on import: ``elementwise(kernel) -> callable`` builds the
    device's loops from a scalar rule (``kernel.scalar``, ``kernel.spec``)."""
    _DEVICES[name] = elementwise


def impl(op_name, device, forward=None, backward=None):
    """Register ``device``'s callables for op ``op_name``: its forward and, per input name, its
    backward rules.  The callables read the same scope names as the declared kernels."""
    op = OPS.get(op_name)
    if op is None:
        raise KeyError(f"impl for unknown op '{op_name}' on device '{device}'")
    if forward is not None:
        op.forward.impls[device] = forward
    for name, fn in (backward or {}).items():
        rule = op.backward.get(name)
        if rule is None:
            raise KeyError(f"op '{op_name}' has no backward rule for '{name}' to implement")
        rule.impls[device] = fn


def elementwise(fn, types=FLOAT, out=None, arg_types=None, refuse=None):
    """A Kernel from scalar rule ``fn``; each device generates its loops from it on first use.

    ``types`` lists the element types supported; ``out`` fixes the result type (``"bool"``);
    ``arg_types`` fixes some argument types (``None`` entries follow ``types``); ``refuse``
    maps an unsupported type name to the error message to raise (torch's own wording).
    """
    py = fn.py_func
    spec = {"types": tuple(types), "out": out, "arg_types": arg_types, "refuse": refuse}
    return Kernel(
        args=tuple(inspect.signature(py).parameters), name=py.__name__, scalar=fn, spec=spec
    )


def kernel(fn=None, *, args=None):
    """Wrap a CPU function (usually Python glue around @njit kernels) as a Kernel."""
    if fn is None:
        return lambda f: Kernel(cpu=f, args=args)
    return Kernel(cpu=fn, args=args)


class Op:
    """One row of the op table.  See the module docstring for the field meanings."""

    def __init__(
        self,
        name,
        inputs,
        forward,
        backward,
        attrs=(),
        outputs=("out",),
        promote="arith",
        variadic=False,
        half=None,
    ):
        self.name = name
        self.inputs = tuple(inputs)
        self.attrs = tuple(attrs)
        self.outputs = tuple(outputs)
        self.forward = forward
        self.backward = dict(backward)
        # what to save is derived from the rules' parameters, never declared twice
        readable = set(self.inputs) | set(self.outputs)
        derived = []
        for k in self.backward.values():
            for a in getattr(k, "args", ()):
                if a in readable and a not in derived:
                    derived.append(a)
        self.saves = tuple(derived)
        self.promote = promote
        self.variadic = variadic
        if half is None:
            half = "float32" if getattr(forward, "scalar", None) is not None else "native"
        if half not in ("float32", "native"):
            raise ValueError(f"op '{name}': half must be 'float32' or 'native', got {half!r}")
        self.half = half
        self.plain_forward = forward.args == self.inputs
        self.multi_output = len(self.outputs) > 1
        self.index_of = {n: i for i, n in enumerate(self.inputs)}
        self.shape_keys = tuple(f"{n}_shape" for n in self.inputs)
        self._save_plan = {}
        self._check()
        # per input: the backward kernel (or None = non-differentiable)
        self.rules = tuple(self.backward.get(n, _MISSING) for n in self.inputs)
        # one way to say "no gradient": None for every input (comparisons, logical ops)
        self.differentiable = any(r is not None for r in self.rules)

    def _check(self):
        scope = set(self.inputs) | set(self.attrs) | set(self.outputs) | {"grad"}
        scope |= {f"{n}_shape" for n in self.inputs}
        if self.variadic:
            scope.add("xs_shapes")
        for n in self.backward:
            if n not in self.inputs:
                raise ValueError(f"op '{self.name}': backward rule for unknown input '{n}'")
        for k in (self.forward, *self.backward.values()):
            if k is None:
                continue
            for a in k.args:
                if a not in scope:
                    raise ValueError(f"op '{self.name}': kernel {k.name} reads unknown name '{a}'")

    def save_plan(self, needs):
        """Names to keep on the tape when only the inputs flagged in ``needs`` want grads."""
        plan = self._save_plan.get(needs)
        if plan is None:
            wanted = set()
            for need, rule in zip(needs, self.rules):
                if need and rule is not None and rule is not _MISSING:
                    wanted.update(rule.args)
            plan = tuple(n for n in self.saves if n in wanted)
            self._save_plan[needs] = plan
        return plan

    def __repr__(self):
        return f"Op({self.name})"


class _Missing:
    args = ()

    def __repr__(self):
        return "<missing rule>"


_MISSING = _Missing()


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op '{op.name}' is already registered")
    OPS[op.name] = op
    return op


def missing_rule_error(op, input_name):
    return NotImplementedError(f"op '{op.name}' has no backward rule for input '{input_name}'")
