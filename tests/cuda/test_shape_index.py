"""Shape and index ops on ``cuda`` against the CPU backend: non-contiguous inputs, advanced
indexing with host and device indices, writes through views, the index errors (raised before
any kernel follows a bad index), shapes larger than one block, and the dtypes data movement
sees (float16, ints, bool)."""

from __future__ import annotations

import numpy as np
import pytest
from util import assert_close, compare, host

import numgrad
from numgrad.dispatch import apply
from numgrad.ops.registry import OPS

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


def both(a, dtype=None):
    a = np.asarray(a) if dtype is None else np.asarray(a, dtype)
    return numgrad.tensor(a), numgrad.tensor(a, device="cuda")


# ---- views and non-contiguous inputs -----------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        pytest.param(lambda x: x.T.reshape(-1), id="reshape_of_transpose"),
        pytest.param(lambda x: x[:, 1:].reshape(3, 1, 3), id="reshape_of_slice"),
        pytest.param(lambda x: x.T[1:, ::2] * 2, id="slice_of_transpose"),
        pytest.param(lambda x: x.T[[0, 2, 2]], id="rows_of_transpose"),
        pytest.param(lambda x: x.T[:, [1, 0]], id="cols_of_transpose"),
        pytest.param(lambda x: numgrad.cat([x.T, x[:, :3]], 0), id="cat"),
        pytest.param(lambda x: numgrad.stack([x.T[1:], x[:, 1:]], 1), id="stack"),
        pytest.param(lambda x: numgrad.cumsum(x.T, 0), id="cumsum"),
        pytest.param(lambda x: numgrad.cumprod(x.T, 1), id="cumprod"),
        pytest.param(lambda x: numgrad.cummax(x.T, 0).values, id="cummax"),
        pytest.param(lambda x: numgrad.sort(x.T, 0, descending=True).values, id="sort"),
        pytest.param(lambda x: numgrad.flip(x.T, 0, 1), id="flip"),
        pytest.param(lambda x: numgrad.roll(x.T, (1, -1), (0, 1)), id="roll"),
        pytest.param(lambda x: numgrad.tril(x.T, -1), id="tril"),
        pytest.param(lambda x: x.T.repeat(2, 1, 3), id="repeat"),
        pytest.param(lambda x: numgrad.diagonal(x.T, 1), id="diagonal"),
        pytest.param(lambda x: numgrad.prod(x.T, 1), id="prod"),
        pytest.param(lambda x: x.T.expand(2, 4, 3) * 1.0, id="expand"),
    ],
)
def test_non_contiguous_inputs(fn):
    compare(fn, randn(3, 4))


def test_views_share_memory():
    x = numgrad.tensor(np.arange(24.0).reshape(2, 3, 4), device="cuda")
    # every op the CPU answers with a view answers with one here (dispatch marks it a view)
    for v in (x[1], x[:, 1:, ::2], x.permute(2, 0, 1), x.reshape(6, 4), x[None, ..., 0]):
        assert v._base is x
    # a reshape numpy can do without a copy on a strided array is a view too
    assert x.permute(1, 0, 2).reshape(3, 2, 2, 2)._base is x
    assert x.permute(2, 0, 1).reshape(-1)._base is None  # needs a copy, as numpy's does


def test_inplace_method_through_view_changes_base():
    ref, x = both(np.arange(6.0).reshape(2, 3))
    for t in (ref, x):
        t[1:].add_(1)
        t.T[0].mul_(2)
    assert_close(x, ref)


def test_inplace_through_view_with_grad():
    def fn(x, v):
        y = x * 1.0
        row = y[1:, ::2]
        row *= v
        y.T[0] += 1  # a second write through another view
        return y

    compare(fn, randn(3, 4), randn(2))


def test_augmented_assign_through_slice():
    ref, x = both(np.arange(6.0).reshape(2, 3))
    for t in (ref, x):
        t[1:] += 1
    assert_close(x, ref)


# ---- advanced indexing -------------------------------------------------------------------------


def _idx(a, dev):
    return numgrad.tensor(np.asarray(a), device=dev)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda d: (_idx([2, 0, 2, -1], d),), id="int_tensor_repeats"),
        pytest.param(lambda d: (slice(None), _idx([[1, 1], [3, 0]], d)), id="2d_index_dim1"),
        pytest.param(lambda d: (_idx([0, 2], d), slice(None), _idx([1, 0], d)), id="apart"),
        pytest.param(lambda d: (_idx([0, 2], d), None, slice(1, 3)), id="none"),
        pytest.param(lambda d: (Ellipsis, _idx([1, 0, 1], d)), id="ellipsis"),
        pytest.param(lambda d: (True, _idx([1, 2], d)), id="bool_scalar"),
        pytest.param(lambda d: (_idx(np.arange(12).reshape(3, 4) % 3 == 0, d),), id="mask2d"),
        pytest.param(lambda d: (_idx([True, False, True], d), slice(1, None)), id="mask_rows"),
        pytest.param(lambda d: ([0, 2, 0], [1, 1, 3]), id="host_lists"),
        pytest.param(lambda d: (np.array([1, 0]), _idx([2, 3], d)), id="host_and_device"),
        pytest.param(lambda d: (_idx([], d).long(),), id="empty"),
    ],
)
def test_getitem_advanced(make):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4, 2))
    outs = {}
    for dev in ("cpu", "cuda"):
        x = numgrad.tensor(a, device=dev, requires_grad=True)
        out = x[make(dev)]
        g = np.random.default_rng(2).standard_normal(tuple(out.shape))
        out.backward(numgrad.tensor(g, device=dev))
        outs[dev] = (out, x.grad)
    assert_close(outs["cuda"][0], outs["cpu"][0])
    assert_close(outs["cuda"][1], outs["cpu"][1], "grad")


def test_setitem_advanced_last_write_wins():
    def fn(x, v):
        y = x * 1.0
        y[[0, 1, 0], [2, 2, 2]] = v  # (0, 2) written twice: the later value stays
        return y

    compare(fn, randn(2, 3), randn(3))


def test_setitem_mask_and_broadcast():
    def fn(x, v):
        y = x * 1.0
        y[x > 0] = 0.0
        y[:, 1:] = v
        return y

    compare(fn, randn(3, 4), randn(3))


# ---- larger than one block ---------------------------------------------------------------------


def test_large_shapes():
    a = randn(1000)
    compare(lambda x: numgrad.cumsum(x, 0), a)
    compare(lambda x: numgrad.sort(x, 0).values, a)
    compare(lambda x: x[x > 0.5] * 2, a)
    compare(lambda x: x[np.arange(999, -1, -3)], a)
    idx = np.random.default_rng(3).integers(0, 10, 1000)
    # the op itself: the public function's host-side index check is the core's (see report)
    compare(
        lambda x, s: apply(
            OPS["scatter_add"], (x, numgrad.tensor(idx, device=x.device), s), {"axis": 0}
        ),
        randn(10),
        a,
    )


# ---- ordering: ties and NaN as the CPU ---------------------------------------------------------


@pytest.mark.parametrize("descending", [False, True])
def test_sort_ties_and_nan(descending):
    a = np.array([[2.0, np.nan, 1.0, 2.0, -0.0, 0.0, np.nan, 1.0]] * 2)
    ref, x = both(a)
    r = numgrad.sort(ref, 1, descending=descending)
    c = numgrad.sort(x, 1, descending=descending)
    assert_close(c.values, r.values)
    assert_close(c.indices, r.indices)


def test_topk_and_argsort():
    compare(lambda x: numgrad.topk(x, 3, 1).values, randn(4, 6))
    ref, x = both(randn(5, 3))
    assert_close(numgrad.argsort(x, 0, descending=True), numgrad.argsort(ref, 0, True))


# ---- dtypes data movement sees -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.int64, np.uint8, np.bool_])
def test_data_movement_dtypes(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    ref, x = both(a)
    for fn in (
        lambda t: t[1, ::2],
        lambda t: t[[1, 0, 1]],
        lambda t: t.permute(2, 0, 1).reshape(4, 6),
        lambda t: numgrad.cat([t, t[:, :1]], 1),
        lambda t: numgrad.stack([t[0], t[1]], 2),
        lambda t: numgrad.flip(t, 2),
        lambda t: numgrad.roll(t, 1, 0),
        lambda t: numgrad.triu(t),
        lambda t: t.repeat(1, 2, 1),
        lambda t: numgrad.diagonal(t, 0, 1, 2),
    ):
        assert_close(fn(x), fn(ref))
    if dtype != np.bool_:
        assert_close(numgrad.sort(x, 2).values, numgrad.sort(ref, 2).values)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_scans_and_scatter(dtype):
    a = (np.arange(12).reshape(3, 4) - 4).astype(dtype)
    ref, x = both(a)
    assert_close(numgrad.cumsum(x, 1), numgrad.cumsum(ref, 1))
    assert_close(numgrad.cumprod(x, 0), numgrad.cumprod(ref, 0))
    assert_close(numgrad.prod(x, 1), numgrad.prod(ref, 1))
    idx = np.array([[0, 0, 2, 0]])
    out = {}
    for dev, t in (("cpu", ref), ("cuda", x)):
        i = numgrad.tensor(idx, device=dev)
        out[dev] = apply(OPS["scatter_add"], (t, i, t[:1]), {"axis": 0})
    assert_close(out["cuda"], out["cpu"])


def test_prod_with_zeros_grad():
    a = randn(3, 4, 2)
    a[0, 1, 0] = 0.0
    a[1, 1, 0] = a[1, 2, 0] = 0.0
    compare(lambda x: numgrad.prod(x, 1), a)
    compare(lambda x: numgrad.prod(x), a)
    compare(lambda x: numgrad.cumprod(x, 1), a)


# ---- index errors ------------------------------------------------------------------------------


def _errors(fn, *args):
    """The exception type and message ``fn`` raises on each device."""
    got = {}
    for dev in ("cpu", "cuda"):
        with pytest.raises((IndexError, RuntimeError, ValueError)) as e:
            fn(dev, *args)
        got[dev] = (type(e.value), str(e.value))
    assert got["cuda"][0] is got["cpu"][0], got
    return got


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(lambda d: 5, id="int"),
        pytest.param(lambda d: (slice(None), -5), id="neg_int"),
        pytest.param(lambda d: _idx([0, 3], d), id="device_tensor"),
        pytest.param(lambda d: _idx([0, -4], d), id="device_tensor_negative"),
        pytest.param(lambda d: [0, 7], id="host_list"),
        pytest.param(lambda d: (slice(None), _idx([[4]], d)), id="device_dim1"),
        pytest.param(lambda d: _idx([True, False], d), id="mask_shape"),
        pytest.param(lambda d: (_idx([0, 1], d), _idx([0, 1, 2], d)), id="broadcast"),
        pytest.param(lambda d: (0, 0, 0), id="too_many"),
    ],
)
def test_getitem_index_errors(index):
    a = np.arange(12.0).reshape(3, 4)
    got = _errors(lambda dev: numgrad.tensor(a, device=dev)[index(dev)])
    assert got["cuda"] == got["cpu"]


def test_setitem_index_errors():
    a = np.zeros((3, 4))

    def fn(dev):
        x = numgrad.tensor(a, device=dev, requires_grad=True) * 1.0
        x[_idx([1, 9], dev)] = 1.0

    got = _errors(fn)
    assert got["cuda"] == got["cpu"]


@pytest.mark.parametrize(
    "op,args",
    [
        ("gather", lambda x, i: ((x, i), {"axis": 1})),
        ("scatter", lambda x, i: ((x, i, x[:, :2]), {"axis": 1})),
        ("scatter_add", lambda x, i: ((x, i, x[:, :2]), {"axis": 1})),
    ],
)
def test_gather_scatter_out_of_range(op, args):
    # the kernels check the index on the device (the public functions' host check is the
    # CPU's; here the op runs directly, as it will once that check leaves device indices to us)
    a = np.arange(12.0).reshape(3, 4)
    bad = np.array([[0, 4], [1, 1], [-1, 0]])
    with pytest.raises(RuntimeError, match=r"index (4|-1) is out of bounds for dimension 1 "):
        x = numgrad.tensor(a, device="cuda")
        call, attrs = args(x, numgrad.tensor(bad, device="cuda"))
        apply(OPS[op], call, attrs)


def test_index_select_out_of_range():
    x = numgrad.tensor(np.arange(12.0).reshape(3, 4), device="cuda")
    with pytest.raises(IndexError, match="index out of range in self"):
        apply(
            OPS["index_select"], (x, numgrad.tensor(np.array([0, 3]), device="cuda")), {"axis": 0}
        )
    with pytest.raises(RuntimeError, match="index 4 is out of range for dimension 1"):
        apply(OPS["index_select"], (x, numgrad.tensor(np.array([4]), device="cuda")), {"axis": 1})


def test_backward_rechecks_changed_index():
    # an index changed through .data after the forward: the backward kernel refuses it
    for dev in ("cpu", "cuda"):
        x = numgrad.tensor(np.arange(12.0).reshape(3, 4), device=dev, requires_grad=True)
        i = numgrad.tensor(np.array([[0, 1], [2, 3], [1, 1]]), device=dev)
        out = apply(OPS["gather"], (x, i), {"axis": 1})
        new = np.array([[0, 9], [2, 3], [1, 1]])
        # written under the version counter, as a change through .data is
        i._device.arrays.assign(i._data, numgrad.tensor(new, device=dev)._data)
        with pytest.raises(RuntimeError, match="index 9 is out of bounds"):
            out.sum().backward()


def test_host_values_round_trip():
    # guards the helper above: host() reads cuda tensors
    x = numgrad.tensor(np.arange(3.0), device="cuda")
    np.testing.assert_array_equal(host(x[[2, 0]]), [2.0, 0.0])
