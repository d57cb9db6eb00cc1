"""Tensor API surface: creation, dtypes, metadata, conversion."""

import numpy as np
import pytest

import numgrad as ng


def test_dtype_inference_like_torch():
    assert ng.tensor([1.0, 2.0]).dtype is ng.float32
    assert ng.tensor(1.5).dtype is ng.float32
    assert ng.tensor([1, 2]).dtype is ng.int64
    assert ng.tensor([True, False]).dtype is ng.bool
    assert ng.tensor(np.array([1.0])).dtype is ng.float64
    assert ng.tensor(np.array([1.0], dtype=np.float32)).dtype is ng.float32
    assert ng.tensor([1, 2], dtype="float64").dtype is ng.float64
    assert ng.tensor([1, 2], dtype=np.float32).dtype is ng.float32
    assert ng.zeros(2).dtype is ng.float32 and ng.arange(3).dtype is ng.int64
    assert ng.arange(0, 1, 0.25).dtype is ng.float32


def test_creation_functions():
    ng.manual_seed(3)
    a = ng.randn(2, 3)
    ng.manual_seed(3)
    assert np.array_equal(a.numpy(), ng.randn(2, 3).numpy())
    assert ng.rand(4).numpy().min() >= 0
    assert ng.full((2, 2), 7.0).numpy().tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert ng.ones_like(a).shape == (2, 3) and ng.zeros_like(a).sum().item() == 0
    assert ng.empty(3, 4).shape == (3, 4)
    arr = np.arange(3.0)
    t = ng.from_numpy(arr)
    arr[0] = 9
    assert t.numpy()[0] == 9  # shares memory
    assert ng.tensor(arr).numpy() is not arr


def test_metadata():
    t = ng.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.dim() == 3 and t.ndim == 3 and t.numel() == 24 and len(t) == 2
    assert t.device == "cpu" and str(t.device) == "cpu"
    assert t.T.shape == (4, 3, 2)
    assert t.is_leaf and t.grad_fn is None and not t.requires_grad


def test_item_tolist_numpy_detach_clone():
    x = ng.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().tolist() == [[1.0, 2.0]] and x.tolist() == [[1.0, 2.0]]
    assert x.sum().item() == 3.0 and isinstance(x.sum().item(), float)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and c.grad_fn.name == "clone"
    c.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0]]
    d = x.detach()
    assert not d.requires_grad and d.is_leaf


def test_grad_settable_and_requires_grad_():
    x = ng.zeros(2).requires_grad_()
    assert x.requires_grad
    (x * 2).sum().backward()
    x.grad = None
    assert x.grad is None
    x.requires_grad = False
    assert not x.requires_grad


def test_to_float_double_and_grad_dtype():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype is ng.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype is ng.float32 and x.grad.tolist() == [2.0, 4.0]
    assert x.to(ng.float32) is x and x.cpu() is x and x.to("cpu") is x
    assert ng.tensor([1, 2]).float().dtype is ng.float32
    assert ng.tensor([1.5]).long().dtype is ng.int64


def test_zero_copy_fill_inplace():
    t = ng.ones(3)
    t.zero_()
    assert t.sum().item() == 0
    t.copy_(ng.tensor([1.0, 2.0, 3.0]))
    assert t.tolist() == [1.0, 2.0, 3.0]
    t.fill_(5)
    assert t.tolist() == [5.0, 5.0, 5.0]
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        t.copy_(ng.ones(4))


def test_indexing_views_and_setitem():
    x = ng.arange(12).reshape(3, 4)
    assert x[1].tolist() == [4, 5, 6, 7]
    assert x[:, 0].tolist() == [0, 4, 8]
    assert x[x > 9].tolist() == [10, 11]
    assert x[ng.tensor([2, 0])][:, 1].tolist() == [9, 1]
    x[0, 0] = 100
    assert x[0, 0].item() == 100
    m = ng.zeros(3)
    m[ng.tensor([True, False, True])] = 1.0
    assert m.tolist() == [1.0, 0.0, 1.0]


def test_setitem_gradient_on_nonleaf():
    w = ng.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = ng.tensor(10.0, requires_grad=True)
    h = w * 1
    h[1] = v * 2
    assert h.tolist() == [1.0, 20.0, 3.0]
    (h * ng.tensor([1.0, 5.0, 7.0])).sum().backward()
    assert w.grad.tolist() == [1.0, 0.0, 7.0]
    assert v.grad.item() == 10.0


def test_repr_and_iteration():
    t = ng.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(t) and repr(t).startswith("tensor(")
    assert [float(v) for v in t.detach()] == [1.0, 2.0]
    assert "float64" in repr(ng.tensor(np.zeros(1)))


def test_max_returns_values_indices():
    x = ng.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    v, i = x.max(dim=1)
    assert v.tolist() == [5.0, 7.0] and i.tolist() == [1, 0]
    r = x.max(1, keepdim=True)
    assert r.values.shape == (2, 1) and r.indices.dtype is ng.int64
    assert x.argmax().item() == 3 and x.argmax(dim=0).tolist() == [1, 0, 1]
    assert x.max().item() == 7.0 and x.min().item() == 0.0
    assert ng.max(x, ng.full((2, 3), 4.0)).tolist() == [[4.0, 5.0, 4.0], [7.0, 4.0, 4.0]]


def test_comparisons_are_bool_and_no_grad():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    c = x > 1.5
    assert c.dtype is ng.bool and not c.requires_grad and c.tolist() == [False, True]
    assert (x == x).tolist() == [True, True]
    assert ng.where(c, x, ng.zeros(2)).tolist() == [0.0, 2.0]


@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rounding_matches_torch(name, dtype):
    import torch

    v = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.7, 2.2, np.nan, np.inf, -0.2], dtype=dtype)
    got = getattr(ng.tensor(v), name)().numpy()
    want = getattr(torch.tensor(v), name)().numpy()
    assert got.dtype == want.dtype
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_all_any():
    x = ng.tensor([[1.0, 0.0], [2.0, 3.0]])
    assert not (x > 0).all().item() and (x > 0).any().item()
    assert (x > 0).all(dim=1).tolist() == [False, True]
    assert ng.any(x > 2, dim=0, keepdim=True).tolist() == [[False, True]]


@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc", "sign"])
def test_piecewise_constant_ops_have_zero_gradient_like_torch(name):
    import torch

    v = np.array([0.3, -1.7, 2.5])
    x = ng.tensor(v, requires_grad=True)
    tx = torch.tensor(v, requires_grad=True)
    y = getattr(x, name)()
    ty = getattr(tx, name)()
    assert y.requires_grad == ty.requires_grad
    (y * x).sum().backward()
    (ty * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
