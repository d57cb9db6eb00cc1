"""Custom differentiable operations whose kernels are the user's own.

Subclass :class:`Function` and write ``forward(ctx, *args)`` and ``backward(ctx, grad)`` as
static methods.  Both receive and return **numpy arrays** (tensor arguments arrive as their
arrays), so they can call ``@njit`` kernels directly::

    @njit(cache=True)
    def cube_kernel(x):
        return x * x * x

    class Cube(numgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return cube_kernel(x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x * x * grad

    y = Cube.apply(t)

The first ``apply`` registers the Function in the op table (``numgrad.ops.OPS``) under
``custom.<module>.<qualname>`` as a variadic op, exactly like the built-ins; its tape entries are
walked, freed and version-checked by the same engine.  ``backward`` returns one gradient per
forward argument (``None`` for non-tensors or inputs without a gradient).
"""

from __future__ import annotations

import numpy as np

from ..capture import CAPTURE, capture_op
from ..dispatch import _device_error
from ..grad_mode import GRAD_MODE
from ..ops.registry import OPS, Kernel, Op, impl, register
from ..storage import CPU, TensorBase, _wrap
from ..tape import keep, record


class FunctionCtx:
    """Per-call context: ``save_for_backward``, ``saved_tensors``, ``needs_input_grad``."""

    def __init__(self, needs):
        self.needs_input_grad = needs
        self._saved = ()

    def save_for_backward(self, *arrays):
        self._saved = tuple(a._data if isinstance(a, TensorBase) else a for a in arrays)

    @property
    def saved_tensors(self):
        if self._saved is None:
            raise RuntimeError(
                "saved tensors of this custom Function were already freed by "
                "backward; pass retain_graph=True to keep them"
            )
        return self._saved


def _custom_backward(cls):
    def run(grad, ctx, xs_shapes):
        grads = cls.backward(ctx, grad)
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

    return run


def _op_for(cls):
    op = getattr(cls, "_ng_op", None)
    if op is not None and cls.__dict__.get("_ng_op") is op:
        return op
    name = f"custom.{cls.__module__}.{cls.__qualname__}"
    if name in OPS:
        op = OPS[name]
    else:
        op = register(
            Op(
                name,
                inputs=("xs",),
                forward=Kernel(args=("ctx", "xs"), name=f"{cls.__qualname__}.forward"),
                backward={
                    "xs": Kernel(
                        args=("grad", "ctx", "xs_shapes"),
                        name=f"{cls.__qualname__}.backward",
                        fresh=False,
                    )
                },
                attrs=("ctx", "xs_shapes"),
                variadic=True,
                promote=None,
            )
        )
        # the user's forward/backward take and return numpy arrays: CPU callables
        impl(name, "cpu", forward=cls.forward, backward={"xs": _custom_backward(cls)})
    cls._ng_op = op
    return op


class Function:
    """Base class for custom ops with user-written (typically ``@njit``) kernels."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a custom Function must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("a custom Function must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        op = _op_for(cls)
        device = None
        for a in args:
            if isinstance(a, TensorBase):
                if device is None:
                    device = a._device
                elif a._device is not device:
                    raise _device_error(op, args)
        if device is None:
            device = CPU
        needs = tuple(isinstance(a, TensorBase) and a._rg and GRAD_MODE.enabled for a in args)
        ctx = FunctionCtx(needs)
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
