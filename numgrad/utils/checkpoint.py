"""``numgrad.utils.checkpoint``: activation checkpointing, as ``torch.utils.checkpoint``.

``checkpoint(fn, *args)`` runs ``fn`` without recording its inside (no intermediate saved), then
in backward runs it again with recording on and backpropagates through that recomputation: memory
of the intermediates for one more forward.  ``checkpoint_sequential(functions, segments, input)``
does it segment by segment.  The random state is saved before the forward and restored for the
recomputation (``preserve_rng_state=True``), so dropout draws the same masks.  Both
``use_reentrant`` modes are accepted and behave the same here (one recomputation per backward).
"""

from __future__ import annotations

from .. import random as _random
from ..autograd.engine import backward as _backward
from ..autograd.function import Function
from ..grad_mode import enable_grad, is_grad_enabled, no_grad
from ..storage import TensorBase

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, fn, preserve, kwargs, *args):
        ctx.fn, ctx.kwargs = fn, kwargs
        ctx.rng = _random.get_rng_state() if preserve else None
        ctx.save_for_backward(*[a for a in args if isinstance(a, TensorBase)])
        ctx.args = [None if isinstance(a, TensorBase) else a for a in args]
        with no_grad():
            out = fn(*args, **kwargs)
        ctx.single = isinstance(out, TensorBase)
        return out

    @staticmethod
    def backward(ctx, *grads):
        tensors = iter(ctx.saved_tensors)
        args = []
        for a in ctx.args:
            if a is None:
                t = next(tensors)
                x = t.detach()
                x.requires_grad_(t.requires_grad)
                args.append(x)
            else:
                args.append(a)
        if ctx.rng is not None:
            now = _random.get_rng_state()
            _random.set_rng_state(ctx.rng)
        try:
            with enable_grad():
                out = ctx.fn(*args, **ctx.kwargs)
        finally:
            if ctx.rng is not None:
                _random.set_rng_state(now)
        outs = (out,) if ctx.single else tuple(out)
        pairs = [
            (o, g) for o, g in zip(outs, grads) if isinstance(o, TensorBase) and o.requires_grad
        ]
        if pairs:
            # parameters used inside fn are leaves of the recomputation: their .grad fills here
            _backward([o for o, _ in pairs], [g for _, g in pairs])
        res = [None, None, None]
        for a in args:
            res.append(a.grad if isinstance(a, TensorBase) and a.requires_grad else None)
        return tuple(res)


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` with its intermediates recomputed in backward instead of
    saved (``torch.utils.checkpoint.checkpoint``)."""
    if not is_grad_enabled():
        return function(*args, **kwargs)
    return _Checkpoint.apply(function, preserve_rng_state, kwargs, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):  # noqa: A002
    """Run ``functions`` (a Sequential or a list of modules) in ``segments`` checkpointed
    chunks; the last chunk runs normally, as torch's."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not 0 < segments <= max(len(fns), 1):
        raise ValueError(f"segments must be between 1 and {len(fns)}, got {segments}")
    size = len(fns) // segments

    def run(start, end):
        def chunk(x):
            for f in fns[start:end]:
                x = f(x)
            return x

        return chunk

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end + 1), input, **kwargs)
    return run(end + 1, len(fns))(input)
