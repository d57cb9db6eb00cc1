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
    saves       not declared: derived from the backward rules' parameters (the input,
                ``out`` and extra-output names they read).  At run time only the names read
                by the rules of inputs that actually need a gradient are kept, and they are
                dropped once backward has used them.
    outputs     names of the forward results; the first is the differentiable tensor returned
                to the user, the rest are non-differentiable extras (e.g. ``indices`` of max);
                an extra that backward reads is version-checked like a saved input.
    forward     a :class:`Kernel`: one callable per device.
    backward    ``{input_name: Kernel or None}``.  ``None`` is the one way to say "no
                gradient": the input is non-differentiable, and an op whose inputs are all
                ``None`` (comparisons) is not recorded at all.  A zero gradient (``sign``,
                ``round``) is a rule like any other (``zero_grad``).  An input missing from
                the dict raises ``NotImplementedError`` naming the op.
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
    A kernel reads its arguments (``Kernel.args``, in order) from this scope: ``grad``
    (upstream gradient, shaped like ``out``), ``out``, the input names, the extra output
    names, the attr names, ``<input>_shape`` for every input, and ``plan`` (below).  Backward
    kernels return the gradient for their input, shaped like ``out`` or like the input; the
    tape unbroadcasts.

Plan and compute (every op that is not elementwise)
    ``Kernel(args=(..., "plan"), name=..., plan=fn)`` declares a *plan*: ``fn`` is plain Python
    over shapes and attrs only (its parameter names, e.g. ``reduce_plan(x_shape, axes,
    keepdim)``; checked at registration), computing once what the compute needs - the
    ``(A, R, B)`` view of a reduction, matmul's batch shape and 1-D promotions, softmax's
    rows - and raising the shape errors.  Dispatch (forward) and the tape (backward) call
    ``kernel.plan_for(scope)`` and put the result in the scope as ``plan`` just before the
    device callable runs; it is cached per plan function by its arguments (a dict lookup on
    the hot path; ``cache_plan=False`` for the getitem index, which may hold arrays).  Plans
    live in ``numgrad/ops`` and import no array library, so every device and the code that
    ``numgrad.compile`` generates reuse them; a device implements only the *compute*: kernels
    over contiguous fixed-rank arrays and scalars, registered with :func:`impl`.  An op whose
    only shape arithmetic is one reshape (``linear``'s leading dims) declares no plan.

Devices
    Declarations say what an op *is*; each device package (``numgrad/devices/<name>/``) says
    how it runs there, importing from ``numgrad/ops`` only this registry API (and the math
    seam, ``ops/math.py``, whose functions it overloads).  ``register_device(name,
    elementwise=builder, array=api)`` gives the device's elementwise builder (scalar rule ->
    loops, called lazily on a kernel's first use on that device) and its array API (what the
    tape and the engine use: zeros, accumulate, sum-to-shape, cast...).  ``impl(op, device,
    forward=..., backward={input: ...})`` registers the compute of every other kernel.  A
    kernel may instead carry one ``generic`` callable that runs on every device (it only passes
    arrays through).  A missing (op, device) pair raises ``NotImplementedError`` naming both.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import operator

from ..locks import BUILD_LOCK

OPS: dict[str, Op] = {}

# element type families for elementwise rules (names, so no device types leak in here)
FLOAT = ("float32", "float64")
ARITH = ("uint8", "int32", "int64", "float32", "float64")  # no bool: torch refuses bool - bool
ALL = ("bool",) + ARITH

# device name -> its elementwise builder, builder(kernel) -> callable; filled by the device
# package when it is imported (register_device).  Devices not yet imported are imported on first
# use from numgrad.devices.<name>.
_DEVICES: dict = {}
_ARRAYS: dict = {}  # device name -> its array API (register_device(..., array=))
_PENDING: dict = {}  # op name -> [(device, forward, backward)] registered before the op
_LAZY_IMPLS: dict = {}  # (device, op name) -> module whose import registers its impls
# plan function -> {arguments: plan}; bounded, as a float attr (norm's p=nan) can defeat it
_PLANS: dict = {}
_PLANS_MAX = 4096


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

    __slots__ = (
        "name",
        "args",
        "impls",
        "scalar",
        "spec",
        "fresh",
        "generic",
        "plan",
        "plan_args",
        "plan_key",
        "plans",
    )

    def __init__(
        self,
        args=None,
        name=None,
        fresh=True,
        scalar=None,
        spec=None,
        generic=None,
        plan=None,
        cache_plan=True,
    ):
        # fresh: the result is a new array nobody else holds, so the tape may hand it to a
        # leaf's .grad without copying; rules returning grad itself or a view of it say False
        self.fresh = fresh
        self.scalar = scalar
        self.spec = spec
        self.impls = {}
        # generic: a callable that runs on every device (it only passes arrays through, like
        # the identity backward of reshape), so no device has to register it
        self.generic = generic
        if args is None:
            if generic is None:
                raise ValueError("Kernel needs args when no generic function is given")
            args = tuple(inspect.signature(generic).parameters)
        self.args = tuple(args)
        self.name = name or getattr(generic, "__name__", "kernel")
        # plan: plain Python over shapes and attrs (the names of its parameters, read from the
        # scope); its result enters the scope as ``plan`` before the device callable runs.
        # Plans are cached by their arguments (one dict per plan function, shared by every
        # kernel using it) unless cache_plan=False (an index that may hold arrays, or whose
        # bools would hash equal to ints: x[False] is not x[0]).
        self.plan = plan
        self.plan_args = ()
        self.plan_key = None
        self.plans = None
        if plan is not None:
            self.plan_args = names = tuple(inspect.signature(plan).parameters)
            # itemgetter builds the key tuple in C (one name gives a bare value, so wrap it)
            get = operator.itemgetter(*names)
            self.plan_key = get if len(names) > 1 else (lambda scope: (get(scope),))
            if cache_plan:
                self.plans = _PLANS.setdefault(plan, {})

    def plan_for(self, scope):
        """This kernel's plan for the shapes and attrs in ``scope`` (computed once per key)."""
        key = self.plan_key(scope)
        plans = self.plans
        if plans is None:
            return self.plan(*key)
        try:
            plan = plans.get(key)
        except TypeError:  # an unhashable attr (an array inside an index): planned per call
            return self.plan(*key)
        if plan is None:
            # outside any except block, so a shape error the plan raises carries no KeyError
            plan = self.plan(*key)
            if len(plans) < _PLANS_MAX:
                plans[key] = plan
        return plan

    def on(self, device, opname="?"):
        """The callable for ``device``; builds elementwise kernels lazily, raises if none."""
        fn = self.impls.get(device)
        if fn is not None:
            return fn
        # one lazy build at a time (a half-built slot is never visible); fork() waits for it
        with BUILD_LOCK:
            fn = self.impls.get(device)
            if fn is None:
                builder = _device_builder(device)
                lazy = _LAZY_IMPLS.pop((device, opname), None)
                if lazy is not None:  # a device module loaded on first use (impl_lazily)
                    importlib.import_module(lazy)
                # importing the device package may have registered this kernel (impl)
                fn = self.impls.get(device)
                if fn is None and self.generic is not None:
                    fn = self.generic
                elif fn is None and self.scalar is not None and builder is not None:
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


def register_device(name, elementwise=None, array=None):
    """Called by a device package on import: ``elementwise(kernel) -> callable`` builds the
    device's loops from a scalar rule (``kernel.scalar``, ``kernel.spec``); ``array`` is its
    array API (allocate, accumulate, sum-to-shape, cast, error state: see
    ``numgrad/devices/cpu/array.py``), through which the tape and the engine reach its arrays.
    A package may call this more than once (one module per part); later calls add parts."""
    if elementwise is not None or name not in _DEVICES:
        _DEVICES[name] = elementwise
    if array is not None:
        _ARRAYS[name] = array


def device_arrays(name):
    """The array API registered for device ``name`` (importing ``numgrad.devices.<name>`` on
    first use), or None when no such device is available."""
    api = _ARRAYS.get(name)
    if api is None and name.isidentifier():
        _device_builder(name)
        api = _ARRAYS.get(name)
    return api


def impl(op_name, device, forward=None, backward=None):
    """Register ``device``'s callables for op ``op_name``: its forward and, per input name, its
    backward rules.  The callables read the same scope names as the declared kernels."""
    op = OPS.get(op_name)
    if op is None:
        # the device package was imported before the op's module: applied when it registers
        _PENDING.setdefault(op_name, []).append((device, forward, backward))
        return
    if forward is not None:
        op.forward.impls[device] = forward
    for name, fn in (backward or {}).items():
        rule = op.backward.get(name)
        if rule is None:
            raise KeyError(f"op '{op_name}' has no backward rule for '{name}' to implement")
        rule.impls[device] = fn


def impl_lazily(device, module):
    """Register ``module`` (a dotted name) as the place ``device``'s impls of some ops live,
    imported the first time one of them runs: a device's rarely used kernels (convolutions,
    index ops) then cost nothing at start-up.  The ops are the ``impl(<name>, "<device>", ...)``
    calls in the module's source."""
    import re
    from pathlib import Path

    spec = importlib.util.find_spec(module)
    text = Path(spec.origin).read_text(encoding="utf-8")
    dev = re.escape(device)
    names = re.findall(rf'impl\(\s*"([\w.]+)",\s*"{dev}"', text)
    # for _name in ("a", "b"):  impl(_name, "<device>", ...)
    for group in re.findall(rf'for \w+ in \(([^)]*)\):\s*impl\(\w+,\s*"{dev}"', text):
        names += re.findall(r'"([\w.]+)"', group)
    for name in names:
        _LAZY_IMPLS[(device, name)] = module


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
        # plans see shapes and attrs only (never arrays), so they can be computed and cached
        # before any data exists (a device, numgrad.compile) and keyed by value
        plan_scope = set(self.attrs) | {f"{n}_shape" for n in self.inputs}
        if self.variadic:
            plan_scope.add("xs_shapes")
        for k in (self.forward, *self.backward.values()):
            if k is None:
                continue
            plan = getattr(k, "plan", None)
            for a in k.args:
                if a not in scope and not (a == "plan" and plan is not None):
                    raise ValueError(f"op '{self.name}': kernel {k.name} reads unknown name '{a}'")
            for a in getattr(k, "plan_args", ()):
                if a not in plan_scope:
                    raise ValueError(
                        f"op '{self.name}': the plan of kernel {k.name} reads '{a}', which is "
                        f"not a shape or an attr"
                    )

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
    for device, forward, backward in _PENDING.pop(op.name, ()):
        impl(op.name, device, forward, backward)
    return op


def missing_rule_error(op, input_name):
    return NotImplementedError(f"op '{op.name}' has no backward rule for input '{input_name}'")
