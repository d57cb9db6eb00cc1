"""``numgrad.autograd.functional``: vjp, jvp, jacobian, hessian, vhp, hvp with torch's signatures.

All are built on ``autograd.grad`` (with ``create_graph=True`` where a second derivative or a
differentiable result is needed): ``jvp`` uses the double-vjp identity (the vjp is linear in its
vector, so differentiating it with respect to that vector gives the jvp), as torch's does.
``strict=True`` raises where an output does not depend on an input (torch's check); ``vectorize``
and ``strategy`` are accepted, and everything is computed row by row.
"""

from __future__ import annotations

from ..grad_mode import enable_grad
from ..storage import TensorBase
from .engine import grad as _grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _tuple(x, what):
    single = isinstance(x, TensorBase)
    xs = (x,) if single else tuple(x)
    for k, t in enumerate(xs):
        if not isinstance(t, TensorBase):
            raise TypeError(
                f"The {what} given to the function should be either a Tensor or a tuple of "
                f"Tensors but element {k} is {type(t).__name__}"
            )
    return xs, single


def _prepare(inputs, create_graph):
    # fresh leaves that require grad, cut from the caller's graph unless create_graph
    return tuple(
        t if create_graph and t.requires_grad else t.detach().requires_grad_(True) for t in inputs
    )


def _zeros_like(t):
    from ..creation import zeros_like

    return zeros_like(t)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, what):
    gs = _grad(
        outputs,
        inputs,
        grad_outputs=grad_outputs,
        create_graph=True,
        allow_unused=True,
    )
    res = []
    for k, (g, x) in enumerate(zip(gs, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"The output of the user-provided function is independent of input {k}. "
                    f"This is not allowed in strict mode{what}."
                )
            g = _zeros_like(x)
        res.append(g if create_graph else g.detach())
    return tuple(res)


def _out(xs, single):
    return xs[0] if single else xs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``, as ``torch.autograd.functional.vjp``."""
    inputs, single_in = _tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        outs, single_out = _tuple(func(*xs), "outputs of the user-provided function")
        if v is None:
            if any(o.numel() != 1 for o in outs):
                raise RuntimeError(
                    "The vector v can only be None if the user-provided function returns a "
                    "single Tensor with a single element."
                )
            vs = None
        else:
            vs, _ = _tuple(v, "v")
        res = _grads(outs, xs, vs, create_graph, strict, "")
    outs = tuple(o if create_graph else o.detach() for o in outs)
    return _out(outs, single_out), _out(res, single_in)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``, as ``torch.autograd.functional.jvp`` (double vjp)."""
    inputs, single_in = _tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        outs, single_out = _tuple(func(*xs), "outputs of the user-provided function")
        if v is None:
            if any(x.numel() != 1 for x in xs):
                raise RuntimeError(
                    "The vector v can only be None if the input to the user-provided function "
                    "is a single Tensor with a single element."
                )
            from ..creation import ones_like

            vs = tuple(ones_like(x) for x in xs)
        else:
            vs, _ = _tuple(v, "v")
        from ..creation import zeros_like

        us = tuple(zeros_like(o).requires_grad_(True) for o in outs)
        gs = _grad(outs, xs, grad_outputs=us, create_graph=True, allow_unused=True)
        pairs = [(g, v) for g, v in zip(gs, vs) if g is not None]
        if not pairs:
            res = tuple(zeros_like(o) for o in outs)
        else:
            res = _grads(
                [g for g, _ in pairs], us, [v for _, v in pairs], create_graph, strict, " (jvp)"
            )
    outs = tuple(o if create_graph else o.detach() for o in outs)
    return _out(outs, single_out), _out(res, single_out)


def jacobian(
    func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"
):
    """The Jacobian of ``func`` at ``inputs``, as ``torch.autograd.functional.jacobian``:
    a Tensor of shape ``out.shape + in.shape`` (nested tuples for several of either)."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".'
        )
    from .. import functional as F

    inputs, single_in = _tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        outs, single_out = _tuple(func(*xs), "outputs of the user-provided function")
        rows = []
        for o in outs:
            flat = o.reshape(-1)
            per_in = [[] for _ in xs]
            for k in range(flat.shape[0]):
                gs = _grad(flat[k], xs, retain_graph=True, create_graph=True, allow_unused=True)
                for j, (g, x) in enumerate(zip(gs, xs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(
                                f"Output {len(rows)} of the user-provided function is "
                                f"independent of input {j}. This is not allowed in strict mode."
                            )
                        g = _zeros_like(x)
                    per_in[j].append(g if create_graph else g.detach())
            blocks = []
            for j, x in enumerate(xs):
                if per_in[j]:
                    jac = F.stack(per_in[j], 0).reshape(tuple(o.shape) + tuple(x.shape))
                else:
                    from ..creation import zeros

                    jac = zeros(*(tuple(o.shape) + tuple(x.shape)), dtype=x.dtype)
                blocks.append(jac)
            rows.append(blocks[0] if single_in else tuple(blocks))
    return rows[0] if single_out else tuple(rows)


def hessian(
    func,
    inputs,
    create_graph=False,
    strict=False,
    vectorize=False,
    outer_jacobian_strategy="reverse-mode",
):
    """The Hessian of scalar ``func`` at ``inputs``, as ``torch.autograd.functional.hessian``."""
    inputs, single_in = _tuple(inputs, "inputs")

    def gradient(*xs):
        out = func(*xs)
        if not isinstance(out, TensorBase) or out.numel() != 1:
            raise RuntimeError(
                "The function given to hessian should return a single Tensor with a single element"
            )
        gs = _grads((out.reshape(()),), xs, None, True, strict, " (hessian)")
        return gs[0] if single_in else gs

    return jacobian(gradient, inputs if not single_in else inputs[0], create_graph, strict)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``, as ``torch.autograd.functional.vhp``."""
    return _hv(func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``, as ``torch.autograd.functional.hvp`` (H is symmetric for
    twice continuously differentiable functions, so this equals vhp)."""
    return _hv(func, inputs, v, create_graph, strict)


def _hv(func, inputs, v, create_graph, strict):
    inputs, single_in = _tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        out = func(*xs)
        if not isinstance(out, TensorBase) or out.numel() != 1:
            raise RuntimeError(
                "The Tensor returned by the function given to hvp should contain a single element"
            )
        if v is None:
            if any(x.numel() != 1 for x in xs):
                raise RuntimeError(
                    "The vector v can only be None if the input to the user-provided function "
                    "is a single Tensor with a single element."
                )
            from ..creation import ones_like

            vs = tuple(ones_like(x) for x in xs)
        else:
            vs, _ = _tuple(v, "v")
        gs = _grads((out.reshape(()),), xs, None, True, strict, "")
        pairs = [(g, v) for g, v in zip(gs, vs) if g.requires_grad]
        if pairs:
            res = _grad(
                [g for g, _ in pairs],
                xs,
                grad_outputs=[v for _, v in pairs],
                create_graph=True,
                allow_unused=True,
            )
            res = tuple(
                (_zeros_like(x) if r is None else (r if create_graph else r.detach()))
                for r, x in zip(res, xs)
            )
        else:
            res = tuple(_zeros_like(x) for x in xs)
    out = out if create_graph else out.detach()
    return out, _out(res, single_in)
