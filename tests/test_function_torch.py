"""``numgrad.autograd.Function`` as torch writes it: each Function class is written once against
``m`` (``torch`` or ``numgrad``) and run by both; values, gradients (float64, through
``backward()`` and ``gradcheck``), flags and error types and messages must agree.

numgrad's own array form (``KernelFunction``, ``@njit`` kernels) is tested in test_autograd.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numgrad
from numgrad.autograd.gradcheck import gradcheck as ng_gradcheck

LIBS = {"torch": torch, "numgrad": numgrad}
X = np.array([[-1.5, 0.25, 2.0], [0.75, -0.5, 1.25]])
W = np.array([0.5, -2.0, 1.5])


def _np(t):
    if t is None:
        return None
    if isinstance(t, (torch.Tensor, numgrad.Tensor)):
        return t.detach().numpy()
    return np.asarray(t)


def leaf(m, a=X, requires_grad=True):
    return m.tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


def both(fn):
    """``fn(m)`` for torch and numgrad; returns (torch result, numgrad result)."""
    return fn(torch), fn(numgrad)


def assert_same(fn, **tol):
    """``fn(m)`` returns a tuple of arrays/tensors/None/python values: equal for both."""
    t, n = both(fn)
    assert len(t) == len(n)
    for k, (a, b) in enumerate(zip(t, n)):
        if a is None or b is None:
            assert a is None and b is None, f"item {k}: {a!r} vs {b!r}"
        elif isinstance(a, (bool, int, str, tuple)):
            assert a == b, f"item {k}: {a!r} vs {b!r}"
        else:
            np.testing.assert_allclose(_np(b), _np(a), rtol=1e-12, atol=1e-12, **tol)


def raises_same(fn, exc, match):
    """``fn(m)`` raises ``exc`` matching ``match`` for both."""
    for m in LIBS.values():
        with pytest.raises(exc, match=match):
            fn(m)


# ---- the tutorial's ReLU ----------------------------------------------------------------------


def relu_fn(m):
    class MyReLU(m.autograd.Function):
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

    return MyReLU


def test_relu_values_and_gradients():
    def run(m):
        x = leaf(m)
        y = relu_fn(m).apply(x)
        (y * y * 3).sum().backward()
        return y, x.grad, y.requires_grad, y.is_leaf, y.grad_fn is not None

    assert_same(run)


def test_relu_gradcheck():
    x = np.array([[-1.5, 0.25, 2.0], [0.75, -0.5, 1.25]])
    assert torch.autograd.gradcheck(relu_fn(torch).apply, (leaf(torch, x),))
    assert ng_gradcheck(relu_fn(numgrad).apply, (leaf(numgrad, x),))


def test_relu_in_a_training_loop():
    """A module whose forward calls Function.apply, trained a few SGD steps: same weights."""

    def run(m):
        relu = relu_fn(m)
        m.manual_seed(0)
        lin = m.nn.Linear(3, 4).double()
        with m.no_grad():
            lin.weight.copy_(m.tensor(np.linspace(-1, 1, 12).reshape(4, 3)))
            lin.bias.copy_(m.tensor(np.array([0.1, -0.2, 0.3, 0.0])))
        opt = m.optim.SGD(lin.parameters(), lr=0.1)
        x = leaf(m, requires_grad=False)
        for _ in range(3):
            opt.zero_grad()
            loss = relu.apply(lin(x)).pow(2).mean()
            loss.backward()
            opt.step()
        return lin.weight, lin.bias, loss

    assert_same(run)


# ---- a polynomial with its hand-written derivative ---------------------------------------------


def cubic_fn(m):
    class Cubic(m.autograd.Function):
        """p(x) = (5 x^3 - 3 x) / 2, p'(x) = (15 x^2 - 3) / 2"""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 1.5 * (5 * x**2 - 1)

    return Cubic


def test_cubic_through_backward_grad_and_gradcheck():
    def run(m):
        x = leaf(m)
        y = cubic_fn(m).apply(x * 0.5)
        (g,) = m.autograd.grad(y.sum(), [x], retain_graph=True)
        y.sum().backward()
        return y, x.grad, g

    assert_same(run)
    assert ng_gradcheck(cubic_fn(numgrad).apply, (leaf(numgrad),))


# ---- arguments: several tensors, non-tensors, keywords ------------------------------------------


def scaled_fn(m, record):
    class Scaled(m.autograd.Function):
        """out = x * w * scale: a python scale and a defaulted flag (backward: square=False)"""

        @staticmethod
        def forward(ctx, x, w, scale, square=False):
            record.append(ctx.needs_input_grad)
            ctx.save_for_backward(x, w)
            ctx.scale = scale
            out = x * w * scale
            return out * out if square else out

        @staticmethod
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            gx = gw = None
            if ctx.needs_input_grad[0]:
                gx = grad * w * ctx.scale
            if ctx.needs_input_grad[1]:
                gw = grad * x * ctx.scale
            return gx, gw, None, None

    return Scaled


def test_tensor_and_python_arguments_needs_input_grad():
    def run(m):
        record = []
        F = scaled_fn(m, record)
        x, w = leaf(m), leaf(m, W)
        F.apply(x, w, 2.0, False).sum().backward()
        x2, w2 = leaf(m), leaf(m, W, requires_grad=False)
        F.apply(x2, w2, 3.0, False).sum().backward()
        return x.grad, w.grad, x2.grad, w2.grad, tuple(record)

    assert_same(run)
    for m, check in ((torch, torch.autograd.gradcheck), (numgrad, ng_gradcheck)):
        F = scaled_fn(m, [])
        assert check(lambda x, w: F.apply(x, w, 0.5, False), (leaf(m), leaf(m, W)))


def test_keyword_arguments_are_bound_with_defaults():
    def run(m):
        record = []
        F = scaled_fn(m, record)
        x, w = leaf(m), leaf(m, W)
        y = F.apply(x, w, scale=0.5)
        y.sum().backward()
        return y, x.grad, w.grad, tuple(record)

    assert_same(run)


def test_backward_may_return_extra_nones_but_no_extra_gradient():
    def make(m, extra):
        class F(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, grad):
                return (grad * 2, None) + extra(grad)

        return F

    def ok(m):
        x = leaf(m)
        make(m, lambda g: (None,)).apply(x, 2).sum().backward()
        return (x.grad,)

    assert_same(ok)
    raises_same(
        lambda m: make(m, lambda g: (g,)).apply(leaf(m), 2).sum().backward(),
        RuntimeError,
        r"function FBackward returned an incorrect number of gradients \(expected 2, got 3\)",
    )


def test_wrong_number_of_gradients():
    def run(m):
        class Pair(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, grad):
                return grad

        Pair.apply(leaf(m), leaf(m)).sum().backward()

    raises_same(
        run,
        RuntimeError,
        r"function PairBackward returned an incorrect number of gradients \(expected 2, got 1\)",
    )


def test_gradient_for_a_non_tensor_argument_raises():
    def run(m):
        class F(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, grad):
                return grad, grad

        F.apply(leaf(m), 3).sum().backward()

    raises_same(
        run,
        RuntimeError,
        "returned a gradient different than None at position 2, but the corresponding forward "
        "input was not a Variable",
    )


def test_gradient_that_is_not_a_tensor_raises():
    def run(m):
        class F(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return 3

        F.apply(leaf(m)).sum().backward()

    raises_same(run, RuntimeError, r"expected Variable or None \(got int\)")


def test_wrong_gradient_shape_names_the_shapes():
    def run(m):
        class Short(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return grad[:, :2]

        Short.apply(leaf(m)).sum().backward()

    raises_same(
        run,
        RuntimeError,
        r"Function ShortBackward returned an invalid gradient at index 0 - got \[2, 2\] but "
        r"expected shape compatible with \[2, 3\]",
    )


def test_broadcast_gradient_is_summed_and_integer_gradient_cast():
    def run(m):
        class Wide(m.autograd.Function):
            @staticmethod
            def forward(ctx, w):
                return w * 2

            @staticmethod
            def backward(ctx, grad):
                return grad.unsqueeze(0).expand(4, 3) * 2  # summed to w's shape

        class IntGrad(m.autograd.Function):
            @staticmethod
            def forward(ctx, w):
                return w * 2

            @staticmethod
            def backward(ctx, grad):
                return m.ones(3, dtype=m.int64)

        w, v = leaf(m, W), leaf(m, W)
        Wide.apply(w).sum().backward()
        IntGrad.apply(v).sum().backward()
        return w.grad, v.grad, str(v.grad.dtype).split(".")[-1]

    assert_same(run)


def test_none_for_an_input_that_needs_grad_gives_no_gradient():
    def run(m):
        class Half(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x + y

            @staticmethod
            def backward(ctx, grad):
                return grad, None

        x, y = leaf(m), leaf(m)
        (Half.apply(x, y) + y).sum().backward()
        return x.grad, y.grad

    assert_same(run)


# ---- outputs: several, non-differentiable, materialized gradients --------------------------------


def two_out_fn(m, seen, materialize=True):
    class TwoOut(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            a = x * 2
            b = x.exp()
            ctx.save_for_backward(b)
            return a, b

        @staticmethod
        def backward(ctx, ga, gb):
            (b,) = ctx.saved_tensors
            seen.append((ga is None, gb is None))
            g = 0
            if ga is not None:
                g = g + ga * 2
            if gb is not None:
                g = g + gb * b
            return g

    return TwoOut


@pytest.mark.parametrize("materialize", [True, False])
def test_several_differentiable_outputs(materialize):
    def run(m):
        seen = []
        F = two_out_fn(m, seen, materialize)
        x, x1, x2 = leaf(m), leaf(m), leaf(m)
        a, b = F.apply(x)
        (a * b).sum().backward()
        a1, _ = F.apply(x1)
        (a1 * 3).sum().backward()  # only the first output is used
        _, b2 = F.apply(x2)
        b2.sum().backward()
        return a, b, x.grad, x1.grad, x2.grad, tuple(seen), a.grad_fn is not None

    assert_same(run)


def test_several_outputs_gradcheck():
    F = two_out_fn(numgrad, [])
    assert ng_gradcheck(lambda t: F.apply(t), (leaf(numgrad),))
    assert torch.autograd.gradcheck(lambda t: two_out_fn(torch, []).apply(t), (leaf(torch),))


def test_mark_non_differentiable_and_integer_outputs():
    def run(m):
        got = []

        class Sorted(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                values, where = x.max(dim=1)
                ctx.mark_non_differentiable(where)
                ctx.save_for_backward(where)
                return values, where, x.sum() > 0

            @staticmethod
            def backward(ctx, gv, gi, gb):
                (where,) = ctx.saved_tensors
                got.append((tuple(gi.shape), float(gi.abs().sum()), str(gi.dtype).split(".")[-1]))
                out = m.zeros((gv.shape[0], 3), dtype=gv.dtype)
                for r in range(gv.shape[0]):
                    out[r, where[r]] = gv[r]
                return out

        x = leaf(m)
        v, i, b = Sorted.apply(x)
        (v * m.tensor(np.array([2.0, -1.0]))).sum().backward()
        return v, i, x.grad, v.requires_grad, i.requires_grad, b.requires_grad, tuple(got)

    assert_same(run)


def test_non_tensor_outputs_pass_through():
    def run(m):
        class WithCount(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 3, 7

            @staticmethod
            def backward(ctx, g, g_count):
                assert g_count is None
                return g * 3

        x = leaf(m)
        y, n = WithCount.apply(x)
        y.sum().backward()
        return y, n, x.grad

    assert_same(run)


def test_input_returned_as_is_gets_its_own_history():
    def run(m):
        class Identity(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, grad):
                return grad * 5

        x = leaf(m)
        y = Identity.apply(x)
        y.sum().backward()
        return y, x.grad, y is x, x.grad_fn is None, y.grad_fn is not None

    assert_same(run)


def test_mark_dirty():
    def make(m):
        class Double_(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, grad):
                return grad * 2

        return Double_

    def run(m):
        x = leaf(m)
        h = x * 1
        y = make(m).apply(h)
        (y * y).sum().backward()
        return y, x.grad, y is h

    assert_same(run)
    raises_same(
        lambda m: make(m).apply(leaf(m)),
        RuntimeError,
        "a leaf Variable that requires grad has been used in an in-place operation",
    )


# ---- grad mode, saved tensors, versions ---------------------------------------------------------


def test_forward_and_backward_run_with_grad_off():
    def run(m):
        modes = []

        class Probe(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * 2
                modes.append(("forward", m.is_grad_enabled(), y.requires_grad))
                return y

            @staticmethod
            def backward(ctx, grad):
                g = grad * 2
                modes.append(("backward", m.is_grad_enabled(), g.requires_grad))
                return g

        x = leaf(m)
        Probe.apply(x).sum().backward()
        with m.no_grad():
            a = Probe.apply(x)
        b = Probe.apply(leaf(m, requires_grad=False))
        return tuple(modes), a.requires_grad, a.grad_fn is None, b.requires_grad

    assert_same(run)


def test_saved_input_modified_in_place_raises():
    def run(m):
        x = leaf(m)
        h = x * 1
        y = relu_fn(m).apply(h)
        h.add_(1)
        y.sum().backward()

    raises_same(run, RuntimeError, "modified by an inplace operation")


def test_saved_output_modified_in_place_raises():
    def make(m):
        class Exp(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                out = x.exp()
                ctx.save_for_backward(out)
                return out

            @staticmethod
            def backward(ctx, grad):
                (out,) = ctx.saved_tensors
                return grad * out

        return Exp

    def ok(m):
        x = leaf(m)
        y = make(m).apply(x)
        (y * 2).sum().backward()
        return y, x.grad

    assert_same(ok)
    assert ng_gradcheck(make(numgrad).apply, (leaf(numgrad),))

    def bad(m):
        y = make(m).apply(leaf(m))
        z = y * 1
        y.mul_(2)
        z.sum().backward()

    raises_same(bad, RuntimeError, "modified by an inplace operation")


def test_second_backward_and_saved_tensors_after_backward():
    def make(m, ctxs):
        class Keep(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                ctxs.append(ctx)
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * 2

        return Keep

    def twice(m):
        x = leaf(m)
        y = make(m, []).apply(x).sum()
        y.backward(retain_graph=True)
        y.backward()
        return (x.grad,)

    assert_same(twice)

    def again(m):
        y = make(m, []).apply(leaf(m)).sum()
        y.backward()
        y.backward()

    raises_same(again, RuntimeError, "backward through the graph a second time")

    def saved_after(m):
        ctxs = []
        make(m, ctxs).apply(leaf(m)).sum().backward()
        return ctxs[0].saved_tensors

    raises_same(saved_after, RuntimeError, "after they have already been freed")


def test_save_for_backward_refuses_non_tensors():
    def run(m):
        class Bad(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x, 3)
                return x

        Bad.apply(leaf(m))

    raises_same(run, TypeError, "save_for_backward can only save variables, but argument 1")


def test_saved_none_and_intermediates():
    def run(m):
        class Mixed(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                s = x.tanh()
                ctx.save_for_backward(None, s, x)
                return s * x

            @staticmethod
            def backward(ctx, grad):
                none, s, x = ctx.saved_tensors
                assert none is None
                return grad * (s + x * (1 - s * s))

        x = leaf(m)
        Mixed.apply(x).sum().backward()
        return (x.grad,)

    assert_same(run)


# ---- decorators, new-style setup_context, misuse ------------------------------------------------


def test_once_differentiable():
    def run(m):
        from_mod = __import__(f"{m.__name__}.autograd.function", fromlist=["once_differentiable"])

        class Square(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @from_mod.once_differentiable
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return 2 * x * grad

        x = leaf(m)
        Square.apply(x).sum().backward()
        return (x.grad,)

    assert_same(run)


def test_setup_context_form():
    def run(m):
        calls = []

        class Scale(m.autograd.Function):
            @staticmethod
            def forward(x, k=2.0):
                return x * k

            @staticmethod
            def setup_context(ctx, inputs, output):
                x, k = inputs
                calls.append((len(inputs), m.is_grad_enabled(), output.requires_grad))
                ctx.k = k

            @staticmethod
            def backward(ctx, grad):
                return grad * ctx.k, None

        x, x2 = leaf(m), leaf(m)
        Scale.apply(x).sum().backward()
        Scale.apply(x2, k=3.0).sum().backward()
        return x.grad, x2.grad, tuple(calls)

    assert_same(run)


def test_missing_forward_or_backward_and_legacy_call():
    def no_forward(m):
        class Empty(m.autograd.Function):
            pass

        Empty.apply(leaf(m))

    raises_same(no_forward, NotImplementedError, "You must implement the forward function")

    def no_backward(m):
        class OnlyForward(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

        OnlyForward.apply(leaf(m)).sum().backward()

    raises_same(no_backward, NotImplementedError, "You must implement either the backward")

    def legacy(m):
        with pytest.warns(DeprecationWarning):
            f = relu_fn(m)()
        f(leaf(m))

    raises_same(legacy, RuntimeError, "Legacy autograd function with non-static forward")


def test_redefined_class_runs_its_own_code():
    """A class defined again under the same name (a notebook cell run twice) uses its own
    forward and backward, not the first definition's."""
    out = []
    for k in (2.0, 3.0):

        class Mul(numgrad.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * k

            @staticmethod
            def backward(ctx, grad):
                return grad * k

        x = leaf(numgrad)
        y = Mul.apply(x)
        y.sum().backward()
        out.append((float(y.sum()), float(x.grad.sum())))
    assert out[0] != out[1]
    assert out[1] == (float(X.sum()) * 3.0, 3.0 * X.size)


# ---- the tape: one node, named like torch's; capture -------------------------------------------


def test_one_tape_entry_in_the_op_table_printed_as_torch_names_it():
    y = relu_fn(numgrad).apply(leaf(numgrad))
    node = y.grad_fn
    assert node.name.startswith("custom.") and node.name.endswith("MyReLU")
    assert node.name in numgrad.ops.OPS
    t = relu_fn(torch).apply(leaf(torch))
    assert f"grad_fn=<{type(t.grad_fn).__name__}>" in repr(y)  # <MyReLUBackward>
    a, b = two_out_fn(numgrad, []).apply(leaf(numgrad))
    ta, tb = two_out_fn(torch, []).apply(leaf(torch))
    for n, t in ((a, ta), (b, tb)):
        assert f"grad_fn=<{type(t.grad_fn).__name__}>" in repr(n)  # <TwoOutBackward>


def test_runs_on_another_device():
    """Function's kernels are device-neutral: on the test-only "ref" device the results match
    the CPU's, gradients included (several outputs too)."""
    ref_backend = pytest.importorskip("ref_backend")
    results = {}
    for device in ("cpu", ref_backend.NAME):
        x = leaf(numgrad).to(device).detach().requires_grad_()
        y = relu_fn(numgrad).apply(x)
        a, b = two_out_fn(numgrad, []).apply(y)
        (a * b).sum().backward()
        assert x.grad.device == x.device
        results[device] = (a.detach().cpu().numpy(), x.grad.cpu().numpy())
    for u, v in zip(results["cpu"], results[ref_backend.NAME]):
        np.testing.assert_allclose(v, u, rtol=1e-12)


def test_capture_refuses_a_torch_form_function_and_keeps_kernel_functions_opaque():
    from numgrad.autograd import KernelFunction

    class Twice(KernelFunction):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    x = leaf(numgrad)
    with numgrad.autograd.trace() as t:
        Twice.apply(x).sum().backward()
    assert any(e.kind == "forward" and e.op.endswith("Twice") for e in t)
    assert any(e.kind == "backward" and e.op.endswith("Twice") for e in t)
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.ones_like(X))
    with pytest.raises(RuntimeError, match="cannot capture the autograd.Function .*MyReLU"):
        with numgrad.autograd.trace():
            relu_fn(numgrad).apply(leaf(numgrad))


def test_graph_is_freed_by_reference_counting():
    """ctx holds no reference back to its outputs (saved outputs come back as aliases), so a
    graph never differentiated is freed without the cyclic collector, as built-in ops' are."""
    import gc
    import weakref

    was = gc.isenabled()
    gc.disable()
    try:
        x = leaf(numgrad)
        y = relu_fn(numgrad).apply(x * 1)
        a, b = two_out_fn(numgrad, []).apply(x)  # saves an output
        nodes = [weakref.ref(y.grad_fn), weakref.ref(a.grad_fn)]
        del y, a, b
        assert all(r() is None for r in nodes)
    finally:
        if was:
            gc.enable()
