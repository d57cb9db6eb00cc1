"""The op table: every differentiable operation is one declaration in this registry.

Declaration format
------------------
An op is declared once with :func:`register`::

    register(Op(
        name="mul",
        inputs=("x", "y"),
        saves=("x", "y"),
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

import inspect

OPS: dict[str, Op] = {}

DEVICES = ("cpu", "cuda")


class Kernel:
    """One computation with a slot per device; ``args`` are the scope names it reads."""

    __slots__ = ("name", "args", "cpu", "cuda", "_builder", "scalar", "fresh")

    def __init__(self, cpu=None, cuda=None, args=None, name=None, builder=None, fresh=True):
        self.cpu = cpu
        # fresh: the result is a new array nobody else holds, so the tape may hand it to a
        # leaf's .grad without copying; rules returning grad itself or a view of it say False
        self.fresh = fresh
        self.cuda = cuda
        self.scalar = None
        self._builder = builder  # lazily builds a missing device slot: builder(device) -> fn
        fn = cpu if cpu is not None else cuda
        if args is None:
            if fn is None:
                raise ValueError("Kernel needs args when no function is given")
            args = tuple(inspect.signature(fn).parameters)
        self.args = tuple(args)
        self.name = name or getattr(fn, "__name__", "kernel")

    def on(self, device, opname="?"):
        fn = getattr(self, device, None)
        if fn is None and self._builder is not None:
            fn = self._builder(device)
            setattr(self, device, fn)
        if fn is None:
            raise NotImplementedError(
                f"op '{opname}' has no kernel '{self.name}' for device '{device}'"
            )
        return fn

    def __repr__(self):
        return f"Kernel({self.name}, args={self.args})"


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
        saves=(),
        attrs=(),
        outputs=("out",),
        promote="arith",
        differentiable=True,
        variadic=False,
        half=None,
    ):
        self.name = name
        self.inputs = tuple(inputs)
        self.attrs = tuple(attrs)
        self.saves = tuple(saves)
        self.outputs = tuple(outputs)
        self.forward = forward
        self.backward = dict(backward)
        self.promote = promote
        self.differentiable = differentiable
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

    def _check(self):
        scope = set(self.inputs) | set(self.attrs) | set(self.outputs) | {"grad"}
        scope |= {f"{n}_shape" for n in self.inputs}
        if self.variadic:
            scope.add("xs_shapes")
        for n in self.backward:
            if n not in self.inputs:
                raise ValueError(f"op '{self.name}': backward rule for unknown input '{n}'")
        for n in self.saves:
            if n not in self.inputs and n not in self.outputs:
                raise ValueError(f"op '{self.name}': saves unknown name '{n}'")
        for k in (self.forward, *self.backward.values()):
            if k is None:
                continue
            for a in k.args:
                if a not in scope:
                    raise ValueError(f"op '{self.name}': kernel {k.name} reads unknown name '{a}'")
        saved_or_free = set(self.saves) | set(self.attrs) | {"grad"}
        saved_or_free |= {f"{n}_shape" for n in self.inputs}
        if self.variadic:
            saved_or_free.add("xs_shapes")
        for n, k in self.backward.items():
            if k is None:
                continue
            for a in k.args:
                if a not in saved_or_free:
                    raise ValueError(
                        f"op '{self.name}': backward for '{n}' reads '{a}' which is not in saves"
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
    return op


def missing_rule_error(op, input_name):
    return NotImplementedError(f"op '{op.name}' has no backward rule for input '{input_name}'")
