"""numgrad.autograd: grad, custom KernelFunctions with njit kernels, gradcheck (torch-form
Functions: tests/test_function_torch.py)."""

import numpy as np
import pytest
import torch
from numba import njit

import numgrad as ng
from numgrad.autograd import KernelFunction, grad, gradcheck
from numgrad.ops import OPS


def test_grad_returns_without_touching_dot_grad():
    a = np.array([0.3, -1.2, 2.0])
    x = ng.tensor(a, requires_grad=True)
    w = ng.tensor(a[::-1].copy(), requires_grad=True)
    y = (x.sigmoid() * w).sum()
    gx, gw = grad(y, [x, w])
    assert x.grad is None and w.grad is None
    tx = torch.tensor(a, requires_grad=True)
    tw = torch.tensor(a[::-1].copy(), requires_grad=True)
    tgx, tgw = torch.autograd.grad((tx.sigmoid() * tw).sum(), [tx, tw])
    np.testing.assert_allclose(gx.numpy(), tgx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), tgw.numpy(), rtol=1e-12)


def test_grad_of_intermediate_and_grad_outputs():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = h.exp()
    (gh,) = grad(y, h, grad_outputs=ng.tensor([1.0, 0.5]), retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), np.exp([3.0, 6.0]) * [1.0, 0.5])
    (gx,) = grad(y, x, grad_outputs=ng.tensor([1.0, 0.5]))
    np.testing.assert_allclose(gx.numpy(), 3 * np.exp([3.0, 6.0]) * [1.0, 0.5])


def test_grad_allow_unused():
    x = ng.tensor([1.0], requires_grad=True)
    z = ng.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not have been used"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.numpy()[0] == 2.0


def test_backward_inputs_restricts_accumulation():
    x = ng.tensor([1.0], requires_grad=True)
    z = ng.tensor([2.0], requires_grad=True)
    (x * z).sum().backward(inputs=[x])
    assert z.grad is None and x.grad.numpy()[0] == 2.0


@njit(cache=True)
def cube_kernel(x):
    return x * x * x


@njit(cache=True)
def cube_backward_kernel(grad, x):
    return 3.0 * x * x * grad


class Cube(KernelFunction):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return cube_kernel(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return cube_backward_kernel(grad, x)


class ScaleAdd(KernelFunction):
    """Two tensor inputs and a python scalar: out = a * s + b."""

    @staticmethod
    def forward(ctx, a, b, s):
        ctx.s = s
        return a * s + b

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.s, grad, None


def test_custom_function_registered_and_differentiable():
    a = np.array([0.5, -2.0, 1.5])
    x = ng.tensor(a, requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name.endswith("Cube") and y.grad_fn.name in OPS
    (y * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * a * a)
    assert gradcheck(lambda t: Cube.apply(t), (ng.tensor(a, requires_grad=True),))


def test_custom_function_multiple_inputs_and_broadcast():
    a = ng.tensor(np.ones((2, 3)), requires_grad=True)
    b = ng.tensor(np.ones(3), requires_grad=True)
    ScaleAdd.apply(a, b, 4.0).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 4 * np.ones((2, 3)))
    np.testing.assert_allclose(b.grad.numpy(), 2 * np.ones(3))  # unbroadcast by the tape


def test_custom_function_second_backward_raises():
    x = ng.tensor([1.0], requires_grad=True)
    y = Cube.apply(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_gradcheck_catches_a_wrong_rule():
    class Wrong(KernelFunction):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x  # should be 2 * x

    x = ng.tensor(np.array([0.7, -0.3]), requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        gradcheck(lambda t: Wrong.apply(t), (x,))
    assert gradcheck(lambda t: Wrong.apply(t), (x,), raise_exception=False) is False


def test_missing_rule_error_names_op():
    from numgrad.dispatch import apply
    from numgrad.ops.registry import Kernel, Op, impl, register

    op = OPS.get("custom.test_no_rule")
    if op is None:
        op = register(
            Op("custom.test_no_rule", ("x",), Kernel(args=("x",), name="twice"), {}, promote=None)
        )
        impl("custom.test_no_rule", "cpu", forward=lambda x: x * 2)
    with pytest.raises(NotImplementedError, match="'custom.test_no_rule'.*input 'x'"):
        apply(op, (ng.tensor([1.0], requires_grad=True),))
    assert apply(op, (ng.tensor([1.0]),)).numpy()[0] == 2.0
