"""Convolution and pooling layers against torch: reprs, attributes, default init, argument
errors, max-pool ties and NaN, edge shapes, and a small CNN trained step by step with torch's
weights.  (Values and gradients of the functional forms are in tests/opinfo_conv.py.)"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import numgrad
import numgrad.nn as nn
import numgrad.nn.functional as F

LAYERS = [
    "Conv2d(1, 8, 3)",
    "Conv2d(3, 6, (3, 5), stride=(2, 1), padding=(1, 2))",
    "Conv2d(4, 8, 3, padding='same', dilation=2, bias=False)",
    "Conv2d(4, 8, 3, padding='valid', groups=4)",
    "Conv1d(4, 8, 3, stride=2, padding=1, groups=2)",
    "Conv1d(2, 3, 5, padding='same')",
    "ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)",
    "ConvTranspose2d(4, 6, (2, 3), dilation=2, groups=2, bias=False)",
    "ConvTranspose1d(4, 2, 3)",
    "MaxPool2d(2)",
    "MaxPool2d((2, 3), stride=1, padding=1, dilation=2, ceil_mode=True)",
    "MaxPool1d(3, 2)",
    "AvgPool2d(2)",
    "AvgPool2d(3, 2, 1, True, False, 2)",
    "AvgPool1d(2)",
    "AvgPool1d(3, stride=1, padding=1)",
    "AdaptiveAvgPool2d(1)",
    "AdaptiveAvgPool2d((None, 3))",
    "AdaptiveAvgPool1d(4)",
    "AdaptiveMaxPool2d((3, None), return_indices=True)",
    "AdaptiveMaxPool1d(2)",
]


@pytest.mark.parametrize("expr", LAYERS)
def test_repr_and_attributes_match_torch(expr):
    ng, th = eval("nn." + expr), eval("torch.nn." + expr)
    assert repr(ng) == repr(th)
    for name in (
        "in_channels",
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "groups",
        "padding_mode",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
        "return_indices",
        "output_size",
    ):
        if hasattr(th, name):
            assert getattr(ng, name) == getattr(th, name), name
    for name, p in th.named_parameters():
        assert tuple(getattr(ng, name).shape) == tuple(p.shape)
        assert getattr(ng, name).dtype == numgrad.float32


def test_repr_inside_sequential():
    def net(m):
        return m.nn.Sequential(m.nn.Conv2d(1, 4, 3), m.nn.ReLU(), m.nn.MaxPool2d(2))

    assert repr(net(numgrad)) == repr(net(torch))


@pytest.mark.parametrize(
    "cls,args,groups",
    [
        ("Conv2d", (6, 16, (3, 5)), 1),
        ("Conv1d", (8, 4, 7), 1),
        ("Conv2d", (8, 12, 3), 2),
        ("ConvTranspose2d", (6, 16, 3), 2),
    ],
    ids=["conv2d", "conv1d", "conv2d_groups", "conv_transpose2d"],
)
def test_default_init_bounds_match_torch(cls, args, groups):
    # torch: kaiming_uniform(a=sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the bias too;
    # fan_in = weight.shape[1] * prod(kernel_size) (in / groups; out / groups when transposed)
    numgrad.manual_seed(0)
    torch.manual_seed(0)
    ng = getattr(nn, cls)(*args, groups=groups)
    th = getattr(torch.nn, cls)(*args, groups=groups)
    fan_in = th.weight.shape[1] * math.prod(th.kernel_size)
    bound = 1 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        a = getattr(ng, name).detach().numpy()
        t = getattr(th, name).detach().numpy()
        assert a.shape == t.shape
        assert np.abs(a).max() <= bound
        # both fill [-bound, bound] uniformly: similar extremes and spread
        if a.size >= 200:
            assert np.abs(a).max() > 0.9 * bound
            assert abs(a.std() - bound / math.sqrt(3)) < 0.15 * bound
            assert abs(a.std() - t.std()) < 0.15 * bound


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.nn.Conv2d(3, 8, 3, groups=2),
        lambda m: m.nn.Conv2d(4, 6, 3, groups=4),
        lambda m: m.nn.Conv2d(4, 8, 3, groups=0),
        lambda m: m.nn.Conv2d(4, 8, 3, padding="foo"),
        lambda m: m.nn.Conv2d(4, 8, 3, padding="same", stride=2),
        lambda m: m.nn.Conv2d(4, 8, 3, padding_mode="bar"),
    ],
    ids=["in_groups", "out_groups", "groups0", "pad_string", "same_strided", "padding_mode"],
)
def test_constructor_errors_match_torch(make):
    with pytest.raises(ValueError) as th:
        make(torch)
    with pytest.raises(ValueError) as ng:
        make(numgrad)
    assert _sorted_sets(str(ng.value)) == _sorted_sets(str(th.value))


def _sorted_sets(msg):
    # torch prints python sets ({'valid', 'same'}), whose order changes with string hashing
    return re.sub(r"\{[^}]*\}", lambda m: str(sorted(m.group(0)[1:-1].split(", "))), msg)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "args",
    [
        "Conv2d(2, 3, 3, padding=1)",
        "Conv2d(2, 4, (2, 3), padding='same', groups=2)",
        "Conv1d(2, 3, 3, padding=2)",
    ],
    ids=["conv2d", "conv2d_same_even", "conv1d"],
)
def test_padding_modes_match_torch(mode, args):
    th = eval("torch.nn." + args[:-1] + f", padding_mode={mode!r})").double()
    ng = eval("nn." + args[:-1] + f", padding_mode={mode!r})").double()
    ng.load_state_dict({k: v.numpy() for k, v in th.state_dict().items()})
    assert repr(ng) == repr(th)
    shape = (2, 2, 5, 6) if "2d" in repr(th).lower() else (2, 2, 7)
    x = np.random.default_rng(3).standard_normal(shape)
    a, t = numgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = ng(a), th(t)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ng.weight.grad.numpy(), th.weight.grad.numpy(), rtol=1e-12)


def test_conv_transpose_refuses_other_padding_modes_like_torch():
    for m in (torch, numgrad):
        with pytest.raises(ValueError, match='Only "zeros" padding mode'):
            m.nn.ConvTranspose2d(1, 2, 3, padding_mode="reflect")


def _x(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


ERRORS = [
    ("conv2d_2d_input", lambda m, T: m.nn.functional.conv2d(T(_x(2, 3)), T(_x(8, 3, 3, 3)))),
    ("channels", lambda m, T: m.nn.functional.conv2d(T(_x(2, 3, 5, 5)), T(_x(8, 1, 3, 3)))),
    ("too_small", lambda m, T: m.nn.functional.conv2d(T(_x(2, 3, 5, 5)), T(_x(8, 3, 7, 7)))),
    (
        "bias_shape",
        lambda m, T: m.nn.functional.conv2d(T(_x(2, 3, 5, 5)), T(_x(8, 3, 3, 3)), T(_x(5))),
    ),
    (
        "groups_weight",
        lambda m, T: m.nn.functional.conv2d(T(_x(2, 3, 5, 5)), T(_x(3, 1, 3, 3)), groups=2),
    ),
    (
        "stride0",
        lambda m, T: m.nn.functional.conv2d(T(_x(2, 3, 5, 5)), T(_x(8, 3, 3, 3)), stride=0),
    ),
    (
        "neg_pad",
        lambda m, T: m.nn.functional.conv2d(T(_x(2, 3, 5, 5)), T(_x(8, 3, 3, 3)), padding=-1),
    ),
    (
        "same_strided",
        lambda m, T: m.nn.functional.conv2d(
            T(_x(2, 3, 5, 5)), T(_x(8, 3, 3, 3)), padding="same", stride=2
        ),
    ),
    (
        "pad_string",
        lambda m, T: m.nn.functional.conv2d(T(_x(2, 3, 5, 5)), T(_x(8, 3, 3, 3)), padding="foo"),
    ),
    (
        "stride_len",
        lambda m, T: m.nn.functional.conv2d(T(_x(2, 3, 5, 5)), T(_x(8, 3, 3, 3)), stride=(1, 1, 1)),
    ),
    ("conv1d_too_small", lambda m, T: m.nn.functional.conv1d(T(_x(2, 3, 4)), T(_x(8, 3, 5)))),
    ("pool_pad", lambda m, T: m.nn.functional.max_pool2d(T(_x(2, 3, 5, 5)), 3, padding=2)),
    ("pool_too_small", lambda m, T: m.nn.functional.max_pool2d(T(_x(2, 3, 5, 5)), 6)),
    ("avg_too_small", lambda m, T: m.nn.functional.avg_pool2d(T(_x(2, 3, 5, 5)), 6)),
    ("pool_2d_input", lambda m, T: m.nn.functional.max_pool2d(T(_x(2, 3)), 2)),
    (
        "divisor0",
        lambda m, T: m.nn.functional.avg_pool2d(T(_x(2, 3, 5, 5)), 2, divisor_override=0),
    ),
    (
        "adaptive_len",
        lambda m, T: m.nn.functional.adaptive_avg_pool2d(T(_x(2, 3, 5, 5)), (2, 2, 2)),
    ),
    (
        "transpose_channels",
        lambda m, T: m.nn.functional.conv_transpose2d(T(_x(2, 3, 5, 5)), T(_x(4, 2, 3, 3))),
    ),
    (
        "transpose_output_padding",
        lambda m, T: m.nn.functional.conv_transpose2d(
            T(_x(2, 4, 5, 5)), T(_x(4, 2, 3, 3)), output_padding=2
        ),
    ),
    (
        "adaptive_empty",
        lambda m, T: m.nn.functional.adaptive_avg_pool2d(T(_x(2, 3, 0, 4)), 2),
    ),
]


@pytest.mark.parametrize("fn", [f for _, f in ERRORS], ids=[n for n, _ in ERRORS])
def test_errors_match_torch(fn):
    with pytest.raises(Exception) as th:
        fn(torch, torch.tensor)
    with pytest.raises(Exception) as ng:
        fn(numgrad, numgrad.tensor)
    assert type(ng.value) is type(th.value), (ng.value, th.value)
    # every shape torch's message names ([2, 3, 5, 5], (5 x 5), 3x0x0) is named by ours too
    for shape in re.findall(r"\[[\d, ]+\]|\(\d+(?: x \d+)*\)|\d+x\d+x\d+", str(th.value)):
        assert shape in str(ng.value), (str(ng.value), str(th.value))


def test_dtype_mismatch_raises_like_torch():
    x, w = _x(2, 3, 5, 5), _x(4, 3, 3, 3)
    for m in (torch, numgrad):
        with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
            m.nn.functional.conv2d(m.tensor(x.astype(np.float64)), m.tensor(w))
        with pytest.raises(RuntimeError, match="bias type"):
            m.nn.functional.conv2d(m.tensor(x), m.tensor(w), m.tensor(_x(4).astype(np.float64)))


# ---- max pooling: ties and NaN, as torch ----------------------------------------------------


@pytest.mark.parametrize(
    "x,kw",
    [
        (np.ones((1, 2, 4, 4)), {"kernel_size": 2}),
        (np.ones((1, 1, 5, 5)), {"kernel_size": 3, "stride": 1, "padding": 1}),
        (np.tile([[1.0, 2.0, 2.0, 1.0]], (4, 1))[None, None], {"kernel_size": 3, "stride": 1}),
        (
            np.array([[[[1.0, np.nan, 3.0], [np.nan, 0.0, 5.0], [2.0, 2.0, 2.0]]]]),
            {"kernel_size": 2, "stride": 1},
        ),
    ],
    ids=["ones", "ones_padded", "ties_in_rows", "nan"],
)
def test_max_pool_ties_and_nan_follow_torch(x, kw):
    a = numgrad.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    out, idx = F.max_pool2d(a, return_indices=True, **kw)
    tout, tidx = torch.nn.functional.max_pool2d(t, return_indices=True, **kw)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    g = np.arange(tout.numel(), dtype=np.float64).reshape(tout.shape) + 1
    out.backward(numgrad.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())


# ---- edge shapes and layouts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m.nn.functional.conv2d(x, m.ones(4, 3, 3, 3), m.ones(4)),
        lambda m, x: m.nn.functional.max_pool2d(x, 2),
        lambda m, x: m.nn.functional.avg_pool2d(x, 2),
        lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, 2),
    ],
    ids=["conv", "max_pool", "avg_pool", "adaptive"],
)
@pytest.mark.parametrize("shape", [(0, 3, 5, 5), (2, 3, 5, 5)], ids=["empty_batch", "batch"])
def test_edge_shapes_and_strided_inputs(fn, shape):
    x = np.random.default_rng(1).standard_normal((shape[0], shape[2], shape[3], shape[1]))
    x = x.astype(np.float32)
    # a permuted (non-contiguous) input, as after a channels-last transpose
    a = numgrad.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    out = fn(numgrad, a.permute(0, 3, 1, 2))
    tout = fn(torch, t.permute(0, 3, 1, 2))
    assert tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_float16_conv_and_pool_compute_in_float32_like_torch():
    x, w = _x(2, 3, 6, 6), _x(4, 3, 3, 3)
    a = F.max_pool2d(F.conv2d(numgrad.tensor(x).half(), numgrad.tensor(w).half()), 2)
    t = torch.nn.functional.max_pool2d(
        torch.nn.functional.conv2d(torch.tensor(x).half(), torch.tensor(w).half()), 2
    )
    assert a.dtype == numgrad.float16
    np.testing.assert_allclose(a.numpy().astype(np.float32), t.float().numpy(), atol=2e-2)


# ---- a small CNN, step by step against torch -------------------------------------------------


def _cnn(m):
    return m.nn.Sequential(
        m.nn.Conv2d(1, 4, 3, padding=1),
        m.nn.ReLU(),
        m.nn.MaxPool2d(2),
        m.nn.Conv2d(4, 8, 3, stride=1, padding="same", groups=2),
        m.nn.ReLU(),
        m.nn.AvgPool2d(2, ceil_mode=True),
        m.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
        m.nn.Tanh(),
        m.nn.AdaptiveAvgPool2d((2, 1)),
        m.nn.Flatten(),
        m.nn.Linear(8, 3),
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_small_cnn_training_matches_torch_step_by_step(dtype):
    torch.manual_seed(0)
    t_net = _cnn(torch).to(getattr(torch, dtype))
    ng_net = _cnn(numgrad)
    ng_net.load_state_dict({k: v.numpy() for k, v in t_net.state_dict().items()})
    ng_net.to(getattr(numgrad, dtype))
    t_opt = torch.optim.SGD(t_net.parameters(), lr=0.1, momentum=0.9)
    ng_opt = numgrad.optim.SGD(ng_net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == "float64" else {"rtol": 2e-4, "atol": 2e-5}
    for _ in range(5):
        x = rng.standard_normal((6, 1, 9, 9)).astype(dtype)
        y = rng.integers(0, 3, 6)
        t_loss = torch.nn.functional.cross_entropy(t_net(torch.tensor(x)), torch.tensor(y))
        ng_loss = F.cross_entropy(ng_net(numgrad.tensor(x)), numgrad.tensor(y))
        np.testing.assert_allclose(ng_loss.item(), t_loss.item(), **tol)
        t_opt.zero_grad()
        ng_opt.zero_grad()
        t_loss.backward()
        ng_loss.backward()
        for (name, p), tp in zip(ng_net.named_parameters(), t_net.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), err_msg=name, **tol)
        t_opt.step()
        ng_opt.step()
    for p, tp in zip(ng_net.parameters(), t_net.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), **tol)
