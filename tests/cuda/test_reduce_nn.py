"""CUDA reductions and row ops beyond the op specs' small shapes: every kernel layout (a block
per output with and without a split reduced axis, a thread per output), non-contiguous inputs,
integer sums, NaN and ties, and the index checks of nll and max's backward, against the CPU."""

from __future__ import annotations

import numpy as np
import pytest
from util import compare, host

import numgrad
import numgrad.nn.functional as F
from numgrad.devices.cpu import nn as cpu_nn
from numgrad.devices.cpu import reduce as cpu_reduce
from numgrad.devices.cuda import nn as cuda_nn
from numgrad.devices.cuda import reduce as cuda_reduce
from numgrad.devices.cuda import runtime
from numgrad.ops.nn import nll_plan
from numgrad.ops.reduce import max_dim_back_plan

RNG = np.random.default_rng(7)
F32, F64 = np.float32, np.float64

# shapes and dims picked to reach each layout (see reduce.py: SHORT, WIDE, TARGET_BLOCKS)
LAYOUTS = [
    pytest.param((3, 100), 1, id="rows"),  # R = 100 > SHORT, few outputs: a block each
    pytest.param((1000,), None, id="split"),  # one output, long R: R split over blocks
    pytest.param((2, 50, 3), 1, id="rows_b3"),  # B > 1, few outputs
    pytest.param((40, 300), 0, id="cols_wide"),  # many outputs, B > 1: a thread each
    pytest.param((6, 5), 1, id="cols_short"),  # R <= SHORT
    pytest.param((8, 3, 9), (0, 2), id="perm"),  # reduced axes not adjacent: a moved copy
]


def randn(*shape, dtype=F64):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("shape,dim", LAYOUTS)
def test_sum_mean_layouts(shape, dim, dtype):
    x = randn(*shape, dtype=dtype)
    compare(lambda t: numgrad.sum(t, dim=dim), x)
    compare(lambda t: numgrad.mean(t, dim=dim, keepdim=True), x)


@pytest.mark.parametrize("shape,dim", LAYOUTS)
def test_max_min_amax_layouts(shape, dim):
    # few distinct values: many ties, which max_dim breaks by the first index and amax's
    # gradient shares
    x = RNG.integers(-3, 4, shape).astype(F64)
    compare(lambda t: numgrad.amax(t, dim=dim), x)
    compare(lambda t: numgrad.amin(t, dim=dim, keepdim=True), x)
    if isinstance(dim, int):
        compare(lambda t: tuple(numgrad.max(t, dim=dim)), x)
        compare(lambda t: tuple(numgrad.min(t, dim=dim)), x)
    compare(lambda t: numgrad.max(t), x)


def test_max_nan_wins_first_index():
    x = RNG.standard_normal((4, 70))
    x[0, 5] = x[0, 40] = np.nan  # the first NaN is the answer
    x[1, 60] = np.nan
    x[2, :] = 1.0  # all tied: index 0
    x[3, 10] = x[3, 50] = 9.0
    for xx, dim in ((x, 1), (x.T.copy(), 0), (x[:, :20].copy(), 1)):
        compare(lambda t: tuple(numgrad.max(t, dim=dim)), xx, grad=False)
        compare(lambda t: tuple(numgrad.min(t, dim=dim)), xx, grad=False)
        compare(lambda t: numgrad.amax(t, dim=dim), xx)
    compare(lambda t: numgrad.max(t), x)


@pytest.mark.parametrize(
    "view",
    [
        pytest.param(lambda t: t.T, id="T"),
        pytest.param(lambda t: t[:, ::2], id="step"),
        pytest.param(lambda t: t[1:, 3:], id="slice"),
    ],
)
def test_non_contiguous_inputs(view):
    # every reduced length > SHORT after any of the views: block-per-output kernels read them
    x = randn(36, 70)
    compare(lambda t: numgrad.sum(view(t), dim=1), x)
    compare(lambda t: numgrad.amax(view(t), dim=0), x)
    compare(lambda t: numgrad.var(view(t), dim=1), x, grad=False)
    compare(lambda t: numgrad.log_softmax(view(t), dim=1), x)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("shape,dim", LAYOUTS)
def test_integer_sums_and_max(shape, dim, dtype):
    # uint8 values up to 250: the sums must not wrap (they accumulate in int64, as torch's)
    x = RNG.integers(0, 2 if dtype == np.bool_ else 250, shape).astype(dtype)
    compare(lambda t: numgrad.sum(t, dim=dim), x, grad=False)
    compare(lambda t: numgrad.amax(t, dim=dim), x, grad=False)
    if isinstance(dim, int):
        compare(lambda t: tuple(numgrad.min(t, dim=dim)), x, grad=False)


@pytest.mark.parametrize("shape,dim", LAYOUTS)
def test_var_std(shape, dim):
    x = randn(*shape) + 3.0
    compare(lambda t: numgrad.var(t, dim=dim), x)
    compare(lambda t: numgrad.std(t, dim=dim, keepdim=True), x)
    compare(lambda t: numgrad.var(t, dim=dim, correction=0), x.astype(F32))
    # one element per output and no degree of freedom: NaN/inf, as on the CPU
    compare(lambda t: numgrad.std(t), randn(1), grad=False)


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, 0, float("inf"), float("-inf")])
@pytest.mark.parametrize("shape,dim", LAYOUTS[:3] + LAYOUTS[5:])
def test_norm(shape, dim, p):
    x = randn(*shape)
    x[..., 0] = 0.0  # sgn(0) = 0 in the gradient
    compare(lambda t: numgrad.norm(t, p=p, dim=dim), x)
    compare(lambda t: numgrad.norm(t, p=p, dim=dim, keepdim=True), x.astype(F32))


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize(
    "shape,dim",
    [
        pytest.param((3, 100), -1, id="rows"),
        pytest.param((100, 3), 0, id="rows_moved"),
        pytest.param((2, 40, 5), 1, id="rows_b5"),
        pytest.param((4, 7), 1, id="cols"),
        pytest.param((), 0, id="0d"),
    ],
)
def test_softmax_layouts(shape, dim, dtype):
    x = randn(*shape, dtype=dtype)
    compare(lambda t: numgrad.softmax(t, dim=dim), x)
    compare(lambda t: numgrad.log_softmax(t, dim=dim), x)


@pytest.mark.parametrize("c", [5, 60])
def test_softmax_extremes(c):
    x = RNG.standard_normal((5, c))
    x[0] *= 1e4  # large logits: the row max is subtracted first
    x[1, :] = -np.inf  # fully masked row: NaN, as in torch
    x[2, 1] = np.inf
    x[3, 2] = np.nan
    x[4, 3] = -np.inf
    compare(lambda t: numgrad.softmax(t, dim=1), x, grad=False)
    compare(lambda t: numgrad.log_softmax(t, dim=1), x, grad=False)
    ok = x[[0, 4]]
    compare(lambda t: numgrad.log_softmax(t, dim=1), ok)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("c", [4, 50])
def test_cross_entropy_and_nll(c, reduction):
    x = randn(6, c)
    t = RNG.integers(0, c, 6)
    t[1] = -100  # ignored
    w = RNG.random(c) + 0.5
    compare(lambda a, b: F.cross_entropy(a, b, reduction=reduction), x, t)
    compare(lambda a, b, ww: F.cross_entropy(a, b, weight=ww, reduction=reduction), x, t, w)
    compare(lambda a, b: F.nll_loss(F.log_softmax(a, dim=1), b, reduction=reduction), x, t)
    # (N, C, d) inputs: the class axis is not last
    x3 = randn(3, c, 4, dtype=F32)
    t3 = RNG.integers(0, c, (3, 4))
    compare(lambda a, b: F.cross_entropy(a, b, reduction=reduction), x3, t3)
    # one sample
    compare(lambda a, b: F.nll_loss(a, b, reduction=reduction), randn(c), np.array(2))


def test_nll_all_ignored_is_nan():
    x = randn(3, 4)
    compare(lambda a, b: F.nll_loss(a, b, ignore_index=1), x, np.array([1, 1, 1]))


@pytest.mark.parametrize("bad", [3, 7, -1, -5])
def test_nll_bad_target_raises_cpu_error(bad):
    x = randn(4, 3)
    target = np.array([0, 1, bad, 2])
    msgs = []
    for dev in ("cpu", "cuda"):
        with pytest.raises(IndexError) as e:
            F.nll_loss(numgrad.tensor(x, device=dev), numgrad.tensor(target, device=dev))
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]
    assert f"target {bad} at position 2 is out of bounds for 3" in msgs[1]
    # the device keeps working afterwards
    compare(lambda a, b: F.cross_entropy(a, b), x, np.array([0, 1, 2, 2]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_backward_checks_changed_targets(reduction):
    # the targets changed after forward (through .data): backward checks them on the device
    plan = nll_plan((4, 3), reduction)
    target = np.array([0, 9, 1, -2])
    grad = np.ones(4 if reduction == "none" else ()).astype(F64)
    with pytest.raises(IndexError) as cpu_err:
        cpu_nn.nll_backward(grad, target, None, -100, plan)
    with pytest.raises(IndexError) as cuda_err:
        cuda_nn.nll_backward(runtime.from_host(grad), runtime.from_host(target), None, -100, plan)
    assert str(cuda_err.value) == str(cpu_err.value)
    assert "Target 9 is out of bounds (position 1, 3 classes)" in str(cuda_err.value)


def test_max_backward_checks_changed_indices():
    plan = max_dim_back_plan((3, 5), 1)
    grad = np.ones(3)
    idx = np.array([0, 5, -1])
    with pytest.raises(RuntimeError) as cpu_err:
        cpu_reduce.max_dim_backward(grad, idx, plan)
    with pytest.raises(RuntimeError) as cuda_err:
        cuda_reduce.max_dim_backward(runtime.from_host(grad), runtime.from_host(idx), plan)
    assert str(cuda_err.value) == str(cpu_err.value)
    assert "index 5 is out of bounds for dimension 1 with size 5" in str(cuda_err.value)


def test_empty_reductions():
    x = np.zeros((0, 3))
    compare(lambda t: numgrad.sum(t, dim=0), x)
    compare(lambda t: numgrad.mean(t, dim=0), x)
    compare(lambda t: numgrad.amax(t, dim=1), x)
    compare(lambda t: numgrad.softmax(t, dim=1), x)
    compare(lambda t: numgrad.norm(t, dim=0), x)


def test_training_loss_on_device():
    # softmax + CE + mean through the table: the gradient stays on the device
    x = numgrad.tensor(randn(8, 40), device="cuda", requires_grad=True)
    t = numgrad.tensor(RNG.integers(0, 40, 8), device="cuda")
    loss = F.cross_entropy(x, t) + numgrad.norm(x) * 0.01
    loss.backward()
    assert x.grad.device.type == "cuda"
    xc = numgrad.tensor(host(x), requires_grad=True)
    (F.cross_entropy(xc, numgrad.tensor(host(t))) + numgrad.norm(xc) * 0.01).backward()
    np.testing.assert_allclose(host(x.grad), host(xc.grad), rtol=1e-10, atol=1e-12)
