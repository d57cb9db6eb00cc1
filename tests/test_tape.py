"""The tape: ordering, accumulation, freeing, retain_graph, version counters, memory."""

import gc
import tracemalloc

import numpy as np
import pytest
import torch

import numgrad as ng


def test_deep_chain_10000_ops():
    x = ng.tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(10000):
        y = y * 1.0001
    y.sum().backward()
    assert np.allclose(x.grad.numpy(), 1.0001**10000, rtol=1e-9)


def test_deep_chain_freed_without_recursion_error():
    x = ng.tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(100000):
        y = y + 1.0
    del y  # dropping a 100k-deep graph must not hit the recursion limit
    gc.collect()


def test_second_backward_raises_and_retain_graph_allows_it():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_freed_graph_releases_saved_arrays():
    x = ng.tensor(np.ones(10), requires_grad=True)
    y = x.exp()
    z = y.sum()
    z.backward()
    assert y.grad_fn.saved is None and y.grad_fn.freed


def test_reused_input_accumulates_like_torch():
    a = np.array([0.5, -1.5, 2.0])
    x = ng.tensor(a, requires_grad=True)
    y = x * x + x * 3 - x / 2
    y.sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    (tx * tx + tx * 3 - tx / 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_diamond_graph_and_intermediate_retain_grad():
    a = np.array([[0.3, -0.2], [1.1, 0.4]])
    x = ng.tensor(a, requires_grad=True)
    h = x.tanh()
    h.retain_grad()
    out = (h * h.sigmoid() + h.exp()).mean()
    out.backward()
    tx = torch.tensor(a, requires_grad=True)
    th = tx.tanh()
    th.retain_grad()
    (th * th.sigmoid() + th.exp()).mean().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy(), rtol=1e-12)


def test_leaf_grads_do_not_alias_each_other():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    y = ng.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad._data[0] = 100.0
    assert y.grad.numpy()[0] == 1.0


def test_user_gradient_is_not_aliased_into_grad():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    g = ng.tensor([5.0, 6.0])
    (x + 0).backward(g)
    x.grad._data[0] = -1
    assert g.numpy()[0] == 5.0


def test_backward_on_nonscalar_needs_gradient():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2,\)"):
        y.backward()
    y.backward(ng.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(ng.tensor([1.0, 2.0, 3.0]))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ng.tensor([1.0]).sum().backward()


def test_inplace_modification_of_saved_tensor_raises():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h.exp()  # saves its output
    y += 1  # in-place on the saved output (y is not a leaf, so allowed)
    z = h * h  # saves h
    with ng.no_grad():
        h *= 2
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_on_saved_output_detected():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    s = y.sum()
    with ng.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="version"):
        s.backward()


def test_inplace_on_nonleaf_tracks_gradient_like_torch():
    a = np.array([0.5, -1.0, 2.0])
    x = ng.tensor(a, requires_grad=True)
    h = x * 2
    h += 1
    h *= 3
    h -= x
    h /= 2
    h.sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    th = tx * 2
    th += 1
    th *= 3
    th -= tx
    th /= 2
    th.sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_inplace_on_leaf_requiring_grad_refused_outside_no_grad():
    w = ng.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1
    with ng.no_grad():
        w += 1
    np.testing.assert_allclose(w.detach().numpy(), [2.0, 3.0])
    assert w.requires_grad and w.is_leaf


def test_no_grad_and_set_grad_enabled():
    x = ng.tensor([1.0], requires_grad=True)
    with ng.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    with ng.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with ng.enable_grad():
            assert (x * 2).requires_grad
    assert ng.is_grad_enabled()

    @ng.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad


def test_grad_fn_names_the_op():
    x = ng.tensor([1.0], requires_grad=True)
    assert x.grad_fn is None and x.is_leaf
    y = (x * 2).exp()
    assert y.grad_fn.name == "exp" and not y.is_leaf
    assert "grad_fn=<ExpBackward0>" in repr(y)  # torch's node name


def test_graph_not_backwarded_is_freed():
    x = ng.tensor(np.ones(1000), requires_grad=True)
    gc.collect()
    tracemalloc.start()
    for _ in range(50):
        (x.exp() * x).sum()  # never backwarded: must not accumulate anywhere
    gc.collect()
    cur1, _ = tracemalloc.get_traced_memory()
    for _ in range(500):
        (x.exp() * x).sum()
    gc.collect()
    cur2, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert cur2 - cur1 < 200_000


def test_memory_flat_over_thousands_of_training_steps():
    ng.manual_seed(0)
    net = ng.nn.Sequential(ng.nn.Linear(8, 16), ng.nn.ReLU(), ng.nn.Linear(16, 1))
    x = ng.randn(32, 8)
    y = ng.randn(32, 1)
    params = list(net.parameters())

    def step():
        for p in params:
            p.grad = None
        loss = ng.nn.functional.mse_loss(net(x), y)
        loss.backward()
        with ng.no_grad():
            for p in params:
                p -= 0.01 * p.grad

    for _ in range(200):
        step()
    gc.collect()
    tracemalloc.start()
    for _ in range(500):
        step()
    gc.collect()
    a, _ = tracemalloc.get_traced_memory()
    for _ in range(2500):
        step()
    gc.collect()
    b, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert b - a < 100_000, f"memory grew by {b - a} bytes over 2500 steps"


def test_library_keeps_working_after_errors():
    x = ng.tensor([[1.0, 2.0]], requires_grad=True)
    for bad in (lambda: x @ ng.ones(3, 3), lambda: x + ng.ones(3), lambda: x.backward()):
        with pytest.raises((RuntimeError, ValueError, TypeError)):
            bad()
    y = (x @ ng.ones(2, 2)).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 2.0]])


def test_advanced_index_result_is_a_copy_not_a_view():
    a = np.array([1.0, 2.0, 3.0])
    for mod in (ng, torch):
        x = mod.tensor(a, requires_grad=True)
        b = x * 1
        y = b[[0, 2]]
        y += 10
        b.sum().backward()
        if mod is ng:
            ng_b, ng_g = b.detach().numpy().copy(), x.grad.numpy().copy()
        else:
            np.testing.assert_allclose(ng_b, b.detach().numpy())
            np.testing.assert_allclose(ng_g, x.grad.numpy())


def test_inplace_on_view_of_leaf_refused():
    w = ng.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[0:1] += 1


def test_copy_into_graph_tensor_with_inf_values():
    x = ng.tensor([float("inf"), 1.0])
    h = x * 1
    src = ng.tensor([2.0, 3.0], requires_grad=True)
    h.copy_(src)
    assert h.tolist() == [2.0, 3.0]
    (h * ng.tensor([5.0, 7.0])).sum().backward()
    assert src.grad.tolist() == [5.0, 7.0]
