"""The index-taking tensor ops of issue 11 (gather, scatter, scatter_add, index_select, sort,
topk, cummax) under the misuses of ``test_indices.py``: an index (or returned ``indices``)
changed in place between forward and backward raises torch's version error; one changed through
``.data`` is re-checked by the backward kernels, never followed out of bounds.  Each case runs
in child processes with ``L = numgrad`` and ``L = torch`` (the harness of ``test_indices.py``),
and the outcomes must agree: the same exception class, or the same values."""

import pytest

from . import test_indices as harness

_X = harness._X  # x: 5 x 3, float64, requires grad
_I2 = "i = L.tensor([[0, 2], [1, 1], [2, 0], [0, 0], [1, 2]])\n"
_SRC = "s = L.ones(5, 2, dtype=L.float64, requires_grad=True)\n"

CASES = {
    "gather_index_add_": _X + _I2 + "y = x.gather(1, i); i.add_(1)",
    "gather_index_data_huge": _X + _I2 + "y = x.gather(1, i); i.data.fill_(10**8)",
    "gather_index_data_negative": _X + _I2 + "y = x.gather(1, i); i.data[0, 0] = -1",
    "gather_index_data_in_bounds": _X + _I2 + "y = x.gather(1, i); i.data.fill_(2)",
    "scatter_index_add_": _X + _SRC + _I2 + "y = (x * 1).scatter(1, i[:, :1], s[:, :1]); i.add_(1)",
    "scatter_index_data_huge": (
        _X + _SRC + _I2 + "y = (x * 1).scatter(1, i[:, :1], s[:, :1]); i.data.fill_(10**8)"
    ),
    "scatter_add_index_data_huge": (
        _X + _SRC + _I2 + "y = (x * 1).scatter_add(1, i, s); i.data.fill_(10**8)"
    ),
    "scatter_add_index_data_in_bounds": (
        _X + _SRC + _I2 + "y = x.scatter_add(1, i, s); i.data.fill_(1)\n"
        "y.sum().backward(); return y, x.grad, s.grad"
    ),
    "index_select_index_add_": _X + "i = L.tensor([2, 0, 2]); y = x.index_select(1, i); i.add_(1)",
    "index_select_index_data_huge": (
        _X + "i = L.tensor([2, 0, 2]); y = x.index_select(1, i); i.data.fill_(10**8)"
    ),
    "index_select_index_data_in_bounds": (
        _X + "i = L.tensor([2, 0, 2]); y = x.index_select(0, i); i.data.fill_(4)"
    ),
    "sort_indices_add_": _X + "y, k = x.sort(1); k.add_(1)",
    "sort_indices_data_huge": _X + "y, k = x.sort(1); k.data.fill_(10**8)",
    "topk_indices_fill_": _X + "y, k = x.topk(2, 1); k.fill_(0)",
    "cummax_indices_add_": _X + "y, k = x.cummax(0); k.add_(1)",
    "cummax_indices_data_huge": _X + "y, k = x.cummax(0); k.data.fill_(10**8)",
    "cummin_indices_data_in_bounds": _X + "y, k = x.cummin(0); k.data.fill_(0)",
    # out-of-range indices in the forward: torch's error, before any kernel
    "gather_forward_out_of_range": _X + "y = x.gather(1, L.tensor([[3]]))",
    "scatter_add_forward_negative": _X + _SRC + "y = x.scatter_add(0, L.tensor([[-1]]), s)",
    "index_select_forward_out_of_range": _X + "y = x.index_select(0, L.tensor([5]))",
}


@pytest.fixture(scope="module")
def outcomes():
    sources = {n: harness._source(b) for n, b in CASES.items()}
    return harness._outcomes("numgrad", sources), harness._outcomes("torch", sources)


@pytest.mark.parametrize("name", list(CASES))
def test_tensor_op_index_misuse_matches_torch(name, outcomes):
    ng_res, torch_res = outcomes
    harness._check(ng_res[name], torch_res[name])
