"""Tensor ops (issue 11, item 7) beyond what the op specs check: errors, result types
(namedtuples), integer dtypes, the counting and histogram functions, ``new_*``, in-place forms
and the protection of index tensors between forward and backward - all against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numgrad


def _run(m, fn, arrays):
    return fn(m, *[m.tensor(a) for a in arrays])


def _plain(r):
    """A result as comparable python data: (values, dtype name, shape) for tensors."""
    if isinstance(r, (tuple, list)):
        return [_plain(v) for v in r]
    if isinstance(r, (torch.Tensor, numgrad.Tensor)):
        a = r.detach().numpy()
        return (a.tolist(), a.dtype.name, a.shape)
    return r


def _same(fn, *arrays):
    ng = _plain(_run(numgrad, fn, arrays))
    th = _plain(_run(torch, fn, arrays))

    def close(a, b):
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
        if isinstance(a, tuple) and len(a) == 3 and isinstance(a[1], str):
            return (
                a[1] == b[1]
                and a[2] == b[2]
                and np.allclose(np.asarray(a[0], float), np.asarray(b[0], float), equal_nan=True)
            )
        return a == b

    assert close(ng, th), f"numgrad {ng} != torch {th}"


IDX = np.array([1, 3, 1, 0])
F32 = np.array([1.0, 2, 1, 3, -1, 5], np.float32)
M = np.array([[1, 0], [2, 3]])

RESULTS = {
    "bincount": (lambda m, i: m.bincount(i), IDX),
    "bincount_minlength": (lambda m, i: m.bincount(i, minlength=7), IDX),
    "bincount_f32_weights": (
        lambda m, i, w: m.bincount(i, weights=w),
        IDX,
        np.array([0.5, 1, 2, 3], np.float32),
    ),
    "bincount_int_weights": (lambda m, i, w: m.bincount(i, weights=w), IDX, np.array([1, 1, 2, 3])),
    "bincount_empty": (lambda m, i: m.bincount(i), np.zeros(0, np.int64)),
    "histc": (lambda m, x: m.histc(x, bins=4, min=0, max=3), F32),
    "histc_data_range": (lambda m, x: m.histc(x, bins=5), F32),
    "histc_one_value": (lambda m, x: m.histc(x, bins=4), np.array([1.0, 1.0])),
    "histc_method": (lambda m, x: x.histc(3), F32.astype(np.float64)),
    "histogram_bins": (lambda m, x: tuple(m.histogram(x, bins=4)), F32),
    "histogram_range": (lambda m, x: tuple(m.histogram(x, bins=3, range=(0.0, 3.0))), F32),
    "histogram_edges": (
        lambda m, x, b: tuple(m.histogram(x, b)),
        F32,
        np.array([0.0, 1, 2.5, 4], np.float32),
    ),
    "histogram_weight_density": (
        lambda m, x, w: tuple(m.histogram(x, bins=3, weight=w, density=True)),
        F32.astype(np.float64),
        np.array([1.0, 2, 1, 1, 1, 3]),
    ),
    "unique": (lambda m, x: m.unique(x), np.array([3, 1, 3, 2])),
    "unique_inverse_counts": (
        lambda m, x: m.unique(x, return_inverse=True, return_counts=True),
        np.array([[3, 1], [3, 2]]),
    ),
    "unique_dim": (
        lambda m, x: m.unique(x, dim=0, return_inverse=True, return_counts=True),
        np.array([[3, 1], [3, 1], [0, 2]]),
    ),
    "unique_method_float": (lambda m, x: x.unique(return_counts=True), np.array([3.0, 1, 3, 2])),
    "count_nonzero": (lambda m, x: m.count_nonzero(x), M),
    "count_nonzero_dim": (lambda m, x: x.count_nonzero(dim=0), M),
    "nonzero": (lambda m, x: m.nonzero(x), M),
    "nonzero_as_tuple": (lambda m, x: m.nonzero(x, as_tuple=True), M),
    "nonzero_0d": (lambda m, x: x.nonzero(), np.array(5.0)),
    "argwhere": (lambda m, x: m.argwhere(x), M),
    "searchsorted": (
        lambda m, s, v: m.searchsorted(s, v),
        np.array([1, 3, 5]),
        np.array([[3, 6], [0, 1]]),
    ),
    "searchsorted_right_int32": (
        lambda m, s, v: m.searchsorted(s, v, right=True, out_int32=True),
        np.array([1, 3, 5]),
        np.array([3, 6]),
    ),
    "searchsorted_side_nd": (
        lambda m, s, v: m.searchsorted(s, v, side="right"),
        np.array([[1, 3, 5], [2, 4, 6]]),
        np.array([[3, 6], [0, 4]]),
    ),
    "searchsorted_number": (lambda m, s: m.searchsorted(s, 3), np.array([1, 3, 5])),
    "bucketize": (
        lambda m, v, b: m.bucketize(v, b),
        np.array([[3, 6], [0, 1]]),
        np.array([1, 3, 5]),
    ),
    "bucketize_right": (
        lambda m, v, b: m.bucketize(v, b, right=True),
        np.array([3, 6, 0, 1]),
        np.array([1, 3, 5]),
    ),
    # integer and bool inputs: the result dtypes of torch
    "cumsum_int32": (lambda m, x: m.cumsum(x, 0), np.array([1, 2, 3], np.int32)),
    "cumsum_bool": (lambda m, x: x.cumsum(0), np.array([True, True, False])),
    "cumsum_dtype_uint8": (lambda m, x: x.cumsum(0, dtype=m.uint8), np.array([200, 100], np.uint8)),
    "cumprod_uint8": (lambda m, x: m.cumprod(x, 0), np.array([1, 2, 3], np.uint8)),
    "prod_uint8": (lambda m, x: m.prod(x), np.array([1, 2, 3], np.uint8)),
    "prod_bool_dim": (lambda m, x: m.prod(x, 0), np.array([True, True])),
    "prod_dtype": (lambda m, x: m.prod(x, dtype=m.float64), np.array([1, 2, 3], np.float32)),
    "sort_int_desc": (lambda m, x: tuple(m.sort(x, descending=True)), np.array([3, 1, 2, 3])),
    "sort_uint8_desc": (
        lambda m, x: tuple(x.sort(descending=True)),
        np.array([3, 0, 255], np.uint8),
    ),
    "sort_bool": (lambda m, x: tuple(m.sort(x)), np.array([True, False, True])),
    "sort_float16": (lambda m, x: tuple(m.sort(x)), np.array([3, 1, 2], np.float16)),
    "argsort_desc": (lambda m, x: m.argsort(x, descending=True), np.array([3, 1, 2, 3.0])),
    "argsort_method": (lambda m, x: x.argsort(dim=0), np.array([[3, 1], [2, 3.0]])),
    "topk_int": (lambda m, x: tuple(m.topk(x, 2)), np.array([3, 1, 2, 4])),
    "cummax_int": (lambda m, x: tuple(m.cummax(x, 0)), np.array([3, 1, 5, 4])),
    "median_int": (lambda m, x: tuple(m.median(x, 0)), np.array([3, 1, 2, 4])),
    "median_all_nan": (lambda m, x: m.median(x), np.array([3, np.nan, 2, 4.0])),
    "mode_int": (lambda m, x: tuple(m.mode(x)), np.array([3, 1, 3, 1, 2])),
    "gather_int": (lambda m, x, i: m.gather(x, 1, i), np.array([[1, 2], [3, 4]]), M // 2),
    "gather_int32_index": (
        lambda m, x, i: m.gather(x, 1, i),
        F32.reshape(2, 3),
        np.array([[0, 2]], np.int32),
    ),
    "gather_float16": (lambda m, x, i: x.gather(0, i), F32.reshape(2, 3).astype(np.float16), M[:1]),
    "index_select_bool": (lambda m, x, i: m.index_select(x, 1, i), np.eye(2, dtype=bool), IDX % 2),
    "scatter_int": (
        lambda m, x, i, s: m.scatter(x, 1, i, s),
        np.array([[1, 2], [3, 4]]),
        np.array([[1, 0]]),
        np.array([[7, 8]]),
    ),
    "scatter_add_int_repeats": (
        lambda m, x, i, s: m.scatter_add(x, 0, i, s),
        np.array([[1, 2], [3, 4]]),
        np.array([[1, 1], [1, 1]]),
        np.array([[7, 8], [1, 1]]),
    ),
    "scatter_add_float16": (
        lambda m, x, i, s: m.scatter_add(x, 0, i, s),
        F32.reshape(2, 3).astype(np.float16),
        np.array([[1, 1, 0]]),
        np.ones((1, 3), np.float16),
    ),
    "scatter_reduce_add": (
        lambda m, x, i, s: m.scatter(x, 0, i, s, reduce="add"),
        F32.reshape(2, 3),
        np.array([[1, 1, 0]]),
        np.ones((1, 3), np.float32),
    ),
    "roll_flat_int": (lambda m, x: m.roll(x, 1), M),
    "flip_bool": (lambda m, x: x.flip(0), np.eye(2, dtype=bool)),
    "triu_bool": (lambda m, x: m.triu(x), np.ones((3, 3), bool)),
    "diag_int": (lambda m, x: m.diag(x, 1), np.array([1, 2])),
    "tile_int": (lambda m, x: m.tile(x, (2,)), np.array([1, 2])),
    "repeat_tuple": (lambda m, x: x.repeat((2, 1)), M),
    "einsum_broadcast_batch": (
        lambda m, a, b: m.einsum("bij,bjk->bik", a, b),
        np.ones((1, 2, 3)),
        np.arange(60.0).reshape(4, 3, 5),
    ),
    "einsum_ellipsis_diag": (
        lambda m, a: m.einsum("...ii->...i", a),
        np.arange(18.0).reshape(2, 3, 3),
    ),
    "einsum_implicit_ellipsis": (
        lambda m, a, b: m.einsum("...ij,...jk", a, b),
        np.ones((2, 2, 3)),
        np.ones((3, 4)),
    ),
    "einsum_upper_case": (lambda m, a: m.einsum("Ab->bA", a), np.arange(6.0).reshape(2, 3)),
    # new_*: this tensor's dtype unless told
    "new_zeros": (lambda m, x: x.new_zeros(2, 3), np.ones(2)),
    "new_zeros_dtype": (lambda m, x: x.new_zeros((2, 3), dtype=m.int64), np.ones(2)),
    "new_ones_int32": (lambda m, x: x.new_ones((2,)), np.ones(2, np.int32)),
    "new_full": (lambda m, x: x.new_full((2, 3), 7), np.ones(2)),
    "new_full_int": (lambda m, x: x.new_full((2,), 1.5), np.ones(2, np.int64)),
    "new_empty_shape": (lambda m, x: tuple(x.new_empty(2, 3).shape), np.ones(2)),
    "new_tensor": (lambda m, x: x.new_tensor([1, 2]), np.ones(2)),
    "new_tensor_int": (lambda m, x: x.new_tensor([1.5, 2]), np.ones(2, np.int64)),
    "new_requires_grad": (
        lambda m, x: x.new_zeros(2, requires_grad=True).requires_grad,
        np.ones(2),
    ),
}


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("name", list(RESULTS))
def test_result_matches_torch(name):
    fn, *arrays = RESULTS[name]
    _same(fn, *arrays)


X = np.arange(12.0).reshape(3, 4)
ERRORS = {
    "gather_out_of_range": (lambda m, x, i: m.gather(x, 1, i), X, np.array([[0, 5]]), "5"),
    "gather_negative": (lambda m, x, i: m.gather(x, 1, i), X, np.array([[0, -1]]), "-1"),
    "gather_ndim": (lambda m, x, i: m.gather(x, 1, i), X, np.array([0, 1]), "dimensions"),
    "gather_size": (lambda m, x, i: m.gather(x, 1, i), X, np.zeros((4, 2), np.int64), "[4, 2]"),
    "gather_float_index": (lambda m, x, i: m.gather(x, 1, i), X, np.array([[0.0]]), "index"),
    "index_select_out_of_range": (
        lambda m, x, i: m.index_select(x, 1, i),
        X,
        np.array([0, 4]),
        "4",
    ),
    "index_select_out_of_range_dim0": (
        lambda m, x, i: m.index_select(x, 0, i),
        X,
        np.array([3]),
        "index out of range",
    ),
    "index_select_matrix": (lambda m, x, i: m.index_select(x, 1, i), X, np.array([[0]]), "vector"),
    "scatter_out_of_range": (
        lambda m, x, i, s: m.scatter(x, 1, i, s),
        X,
        np.array([[0, 5]]),
        np.ones((1, 2)),
        "5",
    ),
    "scatter_index_too_big": (
        lambda m, x, i, s: m.scatter(x, 1, i, s),
        X,
        np.array([[0, 1, 2]]),
        np.ones((1, 2)),
        "src",
    ),
    "scatter_dtype": (
        lambda m, x, i, s: m.scatter(x, 1, i, s),
        X,
        np.array([[0, 1]]),
        np.ones((1, 2), np.float32),
        "dtype",
    ),
    "scatter_add_out_of_range": (
        lambda m, x, i, s: m.scatter_add(x, 0, i, s),
        X,
        np.array([[3]]),
        np.ones((1, 1)),
        "3",
    ),
    "take_out_of_range": (lambda m, x, i: m.take(x, i), X, np.array([12]), "12"),
    "narrow_too_long": (lambda m, x: m.narrow(x, 1, 3, 2), X, "exceeds"),
    "select_out_of_range": (lambda m, x: m.select(x, 1, 5), X, "5"),
    "masked_select_int_mask": (
        lambda m, x, k: m.masked_select(x, k),
        X,
        np.ones(4, np.int64),
        "Bool",
    ),
    "movedim_lengths": (lambda m, x: m.movedim(x, (0, 1), (1,)), X, "movedim"),
    "topk_k_too_big": (lambda m, x: m.topk(x, 5), X, "k"),
    "kthvalue_k_too_big": (lambda m, x: m.kthvalue(x, 5), X, "k"),
    "roll_dims_misaligned": (lambda m, x: m.roll(x, 1, (0, 1)), X, "align"),
    "flip_repeated_dim": (lambda m, x: m.flip(x, (0, 0)), X, "multiple"),
    "tril_1d": (lambda m, x: m.tril(x), X[0], "2 dimensions"),
    "diag_3d": (lambda m, x: m.diag(x), np.ones((2, 2, 2)), "3D"),
    "diagonal_same_dims": (lambda m, x: m.diagonal(x, 0, 1, 1), X, "identical"),
    "repeat_too_few": (lambda m, x: x.repeat(2), X, "repeat dims"),
    "repeat_negative": (lambda m, x: x.repeat(2, -1), X, "negative"),
    "bincount_negative": (lambda m, i: m.bincount(i), np.array([-1, 2]), "non-negative"),
    "bincount_2d": (lambda m, i: m.bincount(i), np.array([[1]]), "1-d"),
    "bincount_float": (lambda m, i: m.bincount(i), np.array([1.0]), "bincount"),
    "histc_int": (lambda m, x: m.histc(x), np.array([1, 2]), "histogram"),
    "einsum_size_mismatch": (
        lambda m, a, b: m.einsum("ij,jk->ik", a, b),
        np.ones((2, 3)),
        np.ones((4, 5)),
        "subscript j",
    ),
    "einsum_repeated_sizes": (lambda m, a: m.einsum("ii->i", a), np.ones((2, 3)), "repeated"),
    "einsum_unknown_output": (lambda m, a: m.einsum("ij->k", a), np.ones((2, 3)), "k"),
    "einsum_operand_count": (lambda m, a: m.einsum("ij,jk->ik", a), np.ones((2, 3)), "operands"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    fn, *arrays, text = ERRORS[name]
    with pytest.raises(Exception) as th:
        _run(torch, fn, arrays)
    with pytest.raises(type(th.value)) as ng:
        _run(numgrad, fn, arrays)
    assert text in str(ng.value)


def test_namedtuple_results():
    x = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, 1.5]])
    calls = {
        "sort": lambda m, t: m.sort(t),
        "topk": lambda m, t: m.topk(t, 2),
        "kthvalue": lambda m, t: m.kthvalue(t, 2),
        "median": lambda m, t: m.median(t, 1),
        "mode": lambda m, t: m.mode(t),
        "cummax": lambda m, t: m.cummax(t, 1),
        "cummin": lambda m, t: m.cummin(t, 1),
    }
    for name, call in calls.items():
        ng, th = call(numgrad, numgrad.tensor(x)), call(torch, torch.tensor(x))
        assert type(ng).__name__ == type(th).__name__ == name
        assert ng._fields == ("values", "indices")
        np.testing.assert_allclose(ng.values.numpy(), th.values.numpy())
        np.testing.assert_array_equal(ng.indices.numpy(), th.indices.numpy())
        values, indices = ng  # unpacks like a tuple
        assert indices.dtype == numgrad.int64
    h = numgrad.histogram(numgrad.tensor(x), bins=3)
    assert h._fields == ("hist", "bin_edges")


def test_argsort_and_indices_need_no_grad():
    for m in (numgrad, torch):
        x = m.tensor([3.0, 1.0, 2.0], requires_grad=True)
        assert not m.argsort(x).requires_grad
        assert not m.sort(x).indices.requires_grad
        assert m.sort(x).values.requires_grad
        assert not m.nonzero(x).requires_grad


def _gather_graph(m, x, i):
    return m.gather(x, 1, i)


def _scatter_graph(m, x, i):
    return m.scatter(x * 1, 1, i, m.ones(i.shape, dtype=x.dtype))


def _index_select_graph(m, x, i):
    return m.index_select(x, 1, i[0])


@pytest.mark.parametrize("graph", [_gather_graph, _scatter_graph, _index_select_graph])
def test_changed_index_tensor_raises_on_backward(graph):
    """An index modified in place between forward and backward raises, as torch."""
    for m in (numgrad, torch):
        x = m.tensor(X, requires_grad=True)
        i = m.tensor([[0, 2]])
        y = graph(m, x, i)
        i.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_sort_indices_changed_in_place_raise():
    for m in (numgrad, torch):
        x = m.tensor(X, requires_grad=True)
        values, indices = m.sort(x, descending=True)
        indices.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            values.sum().backward()


@pytest.mark.parametrize("fn", ["gather", "index_select"])
def test_index_changed_through_data_is_checked_not_a_crash(fn):
    """.data changes are not tracked (as in torch); the backward kernels check bounds."""
    x = numgrad.tensor(X, requires_grad=True)
    i = numgrad.tensor([[0, 2]] if fn == "gather" else [0, 2])
    y = x.gather(1, i) if fn == "gather" else x.index_select(1, i)
    i.data[..., 0] = 40
    with pytest.raises(RuntimeError, match="40 is out of bounds"):
        y.sum().backward()


def test_inplace_scatter_matches_torch():
    idx = [[1, 0], [3, 3]]
    out = {}
    for m in (numgrad, torch):
        x = m.tensor(X, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            x.scatter_(1, m.tensor(idx), 1.0)
        y = x * 2
        src = m.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=m.float64, requires_grad=True)
        assert y.scatter_add_(1, m.tensor(idx), src) is y
        (y * y).sum().backward()
        z = m.zeros(2, 4)
        with m.no_grad():
            z.scatter_(1, m.tensor(idx), 5.0)
        out[m] = (y.detach().numpy(), x.grad.numpy(), src.grad.numpy(), z.numpy())
    for a, b in zip(out[numgrad], out[torch]):
        np.testing.assert_allclose(a, b)


def test_prod_and_cumprod_gradients_with_zeros():
    x = np.array([[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    grads = {}
    for m in (numgrad, torch):
        t = m.tensor(x, requires_grad=True)
        (m.prod(t, 1).sum() + m.cumprod(t, 1).sum() + m.prod(t)).backward()
        grads[m] = t.grad.numpy()
    np.testing.assert_allclose(grads[numgrad], grads[torch], rtol=1e-12)


def test_equal_as_torch():
    import torch

    cases = [([1.0, 2.0], [1.0, 2.0]), ([1.0, 2.0], [1.0, 3.0]), ([1.0, 2.0], [[1.0, 2.0]])]
    for a, b in cases:
        want = torch.equal(torch.tensor(a), torch.tensor(b))
        assert numgrad.equal(numgrad.tensor(a), numgrad.tensor(b)) is want
        assert numgrad.tensor(a).equal(numgrad.tensor(b)) is want
