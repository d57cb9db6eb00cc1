"""Layer modules of issue 11 against torch: reprs, BatchNorm's running statistics over training
steps then eval, state_dict keys and buffers, Embedding, the parameter containers, the
dropout family and the errors (the functional forms' values and gradients are op specs in
``tests/opinfo_layers.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numgrad

# ---- reprs ------------------------------------------------------------------------------------

# each entry builds the same module with numgrad's nn and torch's
REPR_CASES = [
    lambda nn: nn.Linear(2, 3),
    lambda nn: nn.Linear(2, 3, bias=False),
    lambda nn: nn.Identity(),
    lambda nn: nn.ReLU(),
    lambda nn: nn.ReLU(inplace=True),
    lambda nn: nn.Sigmoid(),
    lambda nn: nn.Tanh(),
    lambda nn: nn.SiLU(),
    lambda nn: nn.LeakyReLU(),
    lambda nn: nn.LeakyReLU(0.2, inplace=True),
    lambda nn: nn.GELU(),
    lambda nn: nn.GELU(approximate="tanh"),
    lambda nn: nn.Softplus(),
    lambda nn: nn.Softplus(beta=2, threshold=10),
    lambda nn: nn.Softmax(),
    lambda nn: nn.Softmax(dim=1),
    lambda nn: nn.LogSoftmax(dim=-1),
    lambda nn: nn.Dropout(),
    lambda nn: nn.Dropout(0.2, inplace=True),
    lambda nn: nn.Flatten(),
    lambda nn: nn.Flatten(0, 2),
    lambda nn: nn.Unflatten(1, (2, 3)),
    lambda nn: nn.BatchNorm1d(3),
    lambda nn: nn.BatchNorm1d(3, eps=1e-3, momentum=None, affine=False),
    lambda nn: nn.BatchNorm2d(4, track_running_stats=False, bias=False),
    lambda nn: nn.LayerNorm(4),
    lambda nn: nn.LayerNorm((2, 3), elementwise_affine=False),
    lambda nn: nn.LayerNorm([3], eps=1e-6, bias=False),
    lambda nn: nn.Embedding(10, 3),
    lambda nn: nn.Embedding(10, 3, padding_idx=0, max_norm=1.0),
    lambda nn: nn.Embedding(10, 3, padding_idx=-1, norm_type=1.0),
    lambda nn: nn.ELU(),
    lambda nn: nn.ELU(alpha=0.5, inplace=True),
    lambda nn: nn.CELU(2.0),
    lambda nn: nn.SELU(),
    lambda nn: nn.GLU(),
    lambda nn: nn.GLU(dim=1),
    lambda nn: nn.LogSigmoid(),
    lambda nn: nn.Hardtanh(),
    lambda nn: nn.Hardtanh(-2.0, 2.0),
    lambda nn: nn.ReLU6(),
    lambda nn: nn.ReLU6(inplace=True),
    lambda nn: nn.PReLU(),
    lambda nn: nn.PReLU(3, init=0.1),
    lambda nn: nn.Mish(),
    lambda nn: nn.Hardswish(),
    lambda nn: nn.Hardsigmoid(),
    lambda nn: nn.Softsign(),
    lambda nn: nn.Tanhshrink(),
    lambda nn: nn.Threshold(0.1, 20),
    lambda nn: nn.Bilinear(2, 3, 4),
    lambda nn: nn.Bilinear(2, 3, 4, bias=False),
    lambda nn: nn.CosineSimilarity(),
    lambda nn: nn.PairwiseDistance(),
    lambda nn: nn.Dropout1d(),
    lambda nn: nn.Dropout2d(0.3),
    lambda nn: nn.Dropout3d(),
    lambda nn: nn.AlphaDropout(0.1),
    lambda nn: nn.KLDivLoss(reduction="batchmean"),
    lambda nn: nn.MSELoss(),
    lambda nn: nn.CrossEntropyLoss(),
    lambda nn: nn.Sequential(),
    lambda nn: nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Dropout(0.1)),
    # nested containers: two-space indentation per level, torch's ModuleList run compression
    lambda nn: nn.Sequential(
        nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU()),
        nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 8)]),
        nn.ModuleDict({"norm": nn.LayerNorm(8), "act": nn.ELU()}),
        nn.Flatten(),
    ),
    lambda nn: nn.ModuleList([]),
    lambda nn: nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.ReLU()]),
]


@pytest.mark.parametrize("make", REPR_CASES, ids=[str(i) for i in range(len(REPR_CASES))])
def test_repr_matches_torch(make):
    assert repr(make(numgrad.nn)) == repr(make(torch.nn))


def test_custom_module_repr_matches_torch():
    def build(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(3, 3)
                self.head = nn.Sequential(nn.Linear(3, 2), nn.LogSoftmax(dim=1))

            def extra_repr(self):
                return "two\nlines"

        return Net()

    assert repr(build(numgrad.nn)) == repr(build(torch.nn))


def test_parameter_container_reprs_match_torch():
    def build(m):
        nn = m.nn
        pl = nn.ParameterList([nn.Parameter(m.zeros(2, 3)), nn.Parameter(m.zeros(2))])
        pd = nn.ParameterDict({"a": nn.Parameter(m.zeros(2)), "b": m.zeros(1, dtype=m.float64)})
        return repr(pl), repr(pd)

    ours, theirs = build(numgrad), build(torch)
    assert ours == tuple(r.replace("torch.", "numgrad.") for r in theirs)


# ---- BatchNorm ----------------------------------------------------------------------------------


def _copy_params(ng_mod, th_mod):
    for (n1, p1), (n2, p2) in zip(ng_mod.named_parameters(), th_mod.named_parameters()):
        assert n1 == n2
        with torch.no_grad():
            p2.copy_(torch.tensor(p1.detach().numpy()))


BN_CASES = [
    ("bn1d_2d", lambda nn: nn.BatchNorm1d(3), (6, 3)),
    ("bn1d_3d", lambda nn: nn.BatchNorm1d(3, momentum=0.3), (4, 3, 5)),
    ("bn1d_cumulative", lambda nn: nn.BatchNorm1d(3, momentum=None), (5, 3)),
    ("bn2d", lambda nn: nn.BatchNorm2d(2), (3, 2, 4, 4)),
    ("bn2d_no_affine", lambda nn: nn.BatchNorm2d(2, affine=False, eps=1e-3), (2, 2, 3, 3)),
    ("bn2d_no_bias", lambda nn: nn.BatchNorm2d(2, bias=False), (2, 2, 3, 3)),
    ("bn1d_untracked", lambda nn: nn.BatchNorm1d(3, track_running_stats=False), (4, 3)),
]


@pytest.mark.parametrize("name,make,shape", BN_CASES, ids=[c[0] for c in BN_CASES])
def test_batchnorm_running_stats_train_then_eval(name, make, shape):
    rng = np.random.default_rng(0)
    ng, th = make(numgrad.nn).double(), make(torch.nn).double()
    if ng.weight is not None:
        with numgrad.no_grad():
            ng.weight.copy_(numgrad.tensor(rng.uniform(0.5, 1.5, ng.weight.shape)))
            if ng.bias is not None:
                ng.bias.copy_(numgrad.tensor(rng.standard_normal(ng.bias.shape)))
        _copy_params(ng, th)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        xn, xt = numgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yn, yt = ng(xn), th(xt)
        np.testing.assert_allclose(yn.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(shape)
        yn.backward(numgrad.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
        for (_, pn), (_, pt) in zip(ng.named_parameters(), th.named_parameters()):
            np.testing.assert_allclose(pn.grad.numpy(), pt.grad.numpy(), rtol=1e-9, atol=1e-11)
        _check_buffers(ng, th)
    ng.eval()
    th.eval()
    x = rng.standard_normal(shape)
    xn, xt = numgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yn, yt = ng(xn), th(xt)
    np.testing.assert_allclose(yn.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    yn.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    _check_buffers(ng, th)


def _check_buffers(ng, th):
    nb, tb = dict(ng.named_buffers()), dict(th.named_buffers())
    assert list(nb) == list(tb)
    for k in tb:
        assert nb[k].dtype.name == str(tb[k].dtype).replace("torch.", ""), k
        np.testing.assert_allclose(nb[k].numpy(), tb[k].numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


def test_batchnorm_float32_matches_torch():
    rng = np.random.default_rng(1)
    ng, th = numgrad.nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    for _ in range(3):
        x = rng.standard_normal((8, 4)).astype(np.float32)
        yn, yt = ng(numgrad.tensor(x)), th(torch.tensor(x))
        assert yn.dtype.name == "float32"
        np.testing.assert_allclose(yn.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ng.running_var.numpy(), th.running_var.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ng.running_mean.numpy(), th.running_mean.numpy(), atol=1e-6)


def test_batchnorm_state_dict_keys_and_round_trip():
    def build(nn):
        return nn.Sequential(
            nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LayerNorm(4), nn.Embedding(5, 4)
        )

    ng, th = build(numgrad.nn), build(torch.nn)
    assert list(ng.state_dict()) == list(th.state_dict())
    sd_t = th.state_dict()
    assert ng.state_dict()["1.num_batches_tracked"].dtype.name == "int64"
    assert ng.state_dict()["1.num_batches_tracked"].shape == ()
    # train torch's a little, then load its state into numgrad's: buffers included
    th.train()
    th[1](torch.randn(6, 4))
    ng.load_state_dict(th.state_dict())
    for k, v in sd_t.items():
        np.testing.assert_allclose(ng.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    assert int(ng[1].num_batches_tracked.item()) == 1


def test_untracked_batchnorm_has_no_buffers_in_state_dict():
    ng = numgrad.nn.BatchNorm2d(3, track_running_stats=False, affine=False)
    th = torch.nn.BatchNorm2d(3, track_running_stats=False, affine=False)
    assert list(ng.state_dict()) == list(th.state_dict()) == []
    assert ng.running_mean is None


def test_non_persistent_buffer_is_not_in_state_dict():
    def build(nn, m):
        mod = nn.Linear(2, 2)
        mod.register_buffer("kept", m.zeros(2))
        mod.register_buffer("scratch", m.zeros(2), persistent=False)
        return mod

    ng, th = build(numgrad.nn, numgrad), build(torch.nn, torch)
    assert list(ng.state_dict()) == list(th.state_dict())
    assert [n for n, _ in ng.named_buffers()] == [n for n, _ in th.named_buffers()]


def test_batchnorm_errors_like_torch():
    bn = numgrad.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(numgrad.randn(1, 3))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        bn(numgrad.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="expected 4D input"):
        numgrad.nn.BatchNorm2d(3)(numgrad.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        numgrad.nn.functional.batch_norm(
            numgrad.randn(2, 3), numgrad.zeros(4), numgrad.ones(4), training=True
        )
    # torch raises the same types
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(3)(torch.randn(1, 3))


def test_batchnorm_eval_with_batch_of_one():
    bn = numgrad.nn.BatchNorm1d(3).eval()
    tb = torch.nn.BatchNorm1d(3).eval()
    x = np.random.default_rng(2).standard_normal((1, 3)).astype(np.float32)
    np.testing.assert_allclose(
        bn(numgrad.tensor(x)).detach().numpy(), tb(torch.tensor(x)).detach().numpy(), rtol=1e-6
    )


# ---- LayerNorm ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-2}], ids=str
)
def test_layernorm_module_matches_torch(kw):
    rng = np.random.default_rng(3)
    ng, th = numgrad.nn.LayerNorm((3, 4), **kw).double(), torch.nn.LayerNorm((3, 4), **kw).double()
    if ng.weight is not None:
        with numgrad.no_grad():
            ng.weight.copy_(numgrad.tensor(rng.uniform(0.5, 1.5, (3, 4))))
        _copy_params(ng, th)
    x = rng.standard_normal((2, 3, 4))
    xn, xt = numgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yn, yt = ng(xn), th(xt)
    np.testing.assert_allclose(yn.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(x.shape)
    yn.backward(numgrad.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (_, pn), (_, pt) in zip(ng.named_parameters(), th.named_parameters()):
        np.testing.assert_allclose(pn.grad.numpy(), pt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_layernorm_shape_error():
    with pytest.raises(RuntimeError, match="normalized_shape"):
        numgrad.nn.LayerNorm(4)(numgrad.randn(2, 3))
    with pytest.raises(RuntimeError):
        torch.nn.LayerNorm(4)(torch.randn(2, 3))


def test_layernorm_float16_computes_in_float32():
    x = np.random.default_rng(4).standard_normal((3, 5)).astype(np.float16)
    y = numgrad.nn.functional.layer_norm(numgrad.tensor(x), (5,))
    t = torch.nn.functional.layer_norm(torch.tensor(x), (5,))
    assert y.dtype.name == "float16"
    np.testing.assert_allclose(
        y.numpy().astype(np.float32), t.numpy().astype(np.float32), atol=2e-3
    )


# ---- Embedding ----------------------------------------------------------------------------------


def test_embedding_init_padding_row_and_gradient():
    emb = numgrad.nn.Embedding(6, 3, padding_idx=2)
    assert np.all(emb.weight.detach().numpy()[2] == 0)
    assert emb.weight.requires_grad
    idx = numgrad.tensor([[2, 1], [1, 5]])
    emb(idx).sum().backward()
    g = emb.weight.grad.numpy()
    np.testing.assert_array_equal(g[2], 0)
    np.testing.assert_array_equal(g[1], 2)
    np.testing.assert_array_equal(g[5], 1)
    assert emb(idx).shape == (2, 2, 3)


def test_embedding_float16_weight():
    w = np.random.default_rng(8).standard_normal((4, 3)).astype(np.float16)
    wn = numgrad.tensor(w, requires_grad=True)
    y = numgrad.nn.functional.embedding(numgrad.tensor([0, 3, 3]), wn)
    assert y.dtype.name == "float16"
    np.testing.assert_array_equal(y.detach().numpy(), w[[0, 3, 3]])
    y.sum().backward()
    assert wn.grad.dtype.name == "float16"
    np.testing.assert_array_equal(wn.grad.numpy()[:, 0], [1, 0, 0, 2])


def test_embedding_from_pretrained_matches_torch():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    ng = numgrad.nn.Embedding.from_pretrained(numgrad.tensor(w))
    th = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    assert ng.weight.requires_grad == th.weight.requires_grad is False
    idx = np.array([3, 0, 3])
    np.testing.assert_array_equal(ng(numgrad.tensor(idx)).numpy(), th(torch.tensor(idx)).numpy())
    assert repr(ng) == repr(th)
    trainable = numgrad.nn.Embedding.from_pretrained(numgrad.tensor(w), freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1


def test_embedding_max_norm_renormalises_rows_like_torch():
    w = np.random.default_rng(5).standard_normal((5, 4)) * 3
    ng = numgrad.nn.Embedding.from_pretrained(numgrad.tensor(w), max_norm=1.0)
    th = torch.nn.Embedding.from_pretrained(torch.tensor(w), max_norm=1.0)
    idx = np.array([[0, 2], [2, 4]])
    np.testing.assert_allclose(
        ng(numgrad.tensor(idx)).numpy(), th(torch.tensor(idx)).numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(ng.weight.detach().numpy(), th.weight.detach().numpy(), rtol=1e-12)


def test_embedding_errors_like_torch():
    emb = numgrad.nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        emb(numgrad.tensor([1, 4]))
    with pytest.raises(IndexError, match="index out of range in self"):
        emb(numgrad.tensor([-1]))
    with pytest.raises(IndexError, match="index out of range in self"):
        torch.nn.Embedding(4, 2)(torch.tensor([1, 4]))
    with pytest.raises(RuntimeError, match="Long, Int"):
        emb(numgrad.tensor([1.0]))
    with pytest.raises(AssertionError):
        numgrad.nn.Embedding(4, 2, padding_idx=4)


# ---- containers ---------------------------------------------------------------------------------


def test_parameter_list_and_dict_register_like_torch():
    def build(m):
        nn = m.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.ws = nn.ParameterList([nn.Parameter(m.ones(2)) for _ in range(3)])
                self.ws.append(m.zeros(1))  # a plain tensor becomes a Parameter
                self.named = nn.ParameterDict({"scale": nn.Parameter(m.ones(1))})
                self.named["shift"] = m.zeros(1)

        return Net()

    ng, th = build(numgrad), build(torch)
    assert [n for n, _ in ng.named_parameters()] == [n for n, _ in th.named_parameters()]
    assert list(ng.state_dict()) == list(th.state_dict())
    assert isinstance(ng.ws[3], numgrad.nn.Parameter) and ng.ws[-1] is ng.ws[3]
    assert len(ng.ws) == 4 and len(ng.named) == 2
    assert list(ng.named.keys()) == ["scale", "shift"]
    assert "shift" in ng.named
    assert sum(p.numel() for p in ng.parameters()) == sum(p.numel() for p in th.parameters())


# ---- other modules ------------------------------------------------------------------------------


def test_unflatten_prelu_bilinear_glu_modules():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6))
    u = numgrad.nn.Unflatten(1, (2, 3))(numgrad.tensor(x))
    assert tuple(u.shape) == (2, 2, 3)
    with pytest.raises(TypeError):
        numgrad.nn.Unflatten(1, 6)

    pn, pt = numgrad.nn.PReLU(3).double(), torch.nn.PReLU(3).double()
    np.testing.assert_array_equal(pn.weight.detach().numpy(), pt.weight.detach().numpy())
    x3 = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(
        pn(numgrad.tensor(x3)).detach().numpy(), pt(torch.tensor(x3)).detach().numpy()
    )

    bn, bt = numgrad.nn.Bilinear(2, 3, 4).double(), torch.nn.Bilinear(2, 3, 4).double()
    _copy_params(bn, bt)
    a, b = rng.standard_normal((5, 2)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(
        bn(numgrad.tensor(a), numgrad.tensor(b)).detach().numpy(),
        bt(torch.tensor(a), torch.tensor(b)).detach().numpy(),
        rtol=1e-12,
    )
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        numgrad.nn.GLU(dim=1)(numgrad.randn(2, 3))


@pytest.mark.filterwarnings("ignore:Implicit dimension")
@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 3, 4), (2, 3, 4, 5)], ids=str)
def test_softmax_without_dim_picks_torchs_dim(shape):
    x = np.random.default_rng(9).standard_normal(shape)
    for cls in ("Softmax", "LogSoftmax"):
        ng = getattr(numgrad.nn, cls)()(numgrad.tensor(x))
        th = getattr(torch.nn, cls)()(torch.tensor(x))
        np.testing.assert_allclose(ng.numpy(), th.numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        numgrad.nn.Softmax()(numgrad.tensor(x))


def test_kldivloss_module_matches_torch():
    rng = np.random.default_rng(7)
    x = np.log(rng.dirichlet(np.ones(5), size=4))
    y = rng.dirichlet(np.ones(5), size=4)
    for kw in ({"reduction": "batchmean"}, {"reduction": "sum"}, {"reduction": "none"}):
        ng = numgrad.nn.KLDivLoss(**kw)(numgrad.tensor(x), numgrad.tensor(y))
        th = torch.nn.KLDivLoss(**kw)(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(ng.numpy(), th.numpy(), rtol=1e-12)
    with pytest.raises(ValueError):
        numgrad.nn.KLDivLoss(reduction="avg")


# ---- dropout family -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls,shape",
    [("Dropout1d", (8, 16, 5)), ("Dropout2d", (8, 16, 3, 3)), ("Dropout3d", (4, 16, 2, 2, 2))],
    ids=["1d", "2d", "3d"],
)
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    numgrad.manual_seed(0)
    m = getattr(numgrad.nn, cls)(0.5)
    y = m(numgrad.ones(*shape)).numpy()
    per_channel = y.reshape(shape[0], shape[1], -1)
    # each channel is all zeros or all 1 / (1 - p)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    frac = (per_channel[..., 0] == 0).mean()
    assert 0.3 < frac < 0.7
    m.eval()
    np.testing.assert_array_equal(m(numgrad.ones(*shape)).numpy(), 1.0)
    with pytest.raises(RuntimeError, match="Expected"):
        m.train()(numgrad.ones(2))


def test_alpha_dropout_keeps_mean_and_variance():
    numgrad.manual_seed(0)
    x = numgrad.randn(200, 500)
    y = numgrad.nn.AlphaDropout(0.2)(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.03
    np.testing.assert_array_equal(numgrad.nn.AlphaDropout(0.2).eval()(x).numpy(), x.numpy())


# ---- functional errors --------------------------------------------------------------------------


def test_pad_errors_like_torch():
    F, TF = numgrad.nn.functional, torch.nn.functional
    for mod, fn in ((numgrad, F.pad), (torch, TF.pad)):
        x = mod.ones(2, 3)
        with pytest.raises(RuntimeError, match="divisible by 2"):
            fn(x, (1, 2, 3))
        with pytest.raises(RuntimeError):
            fn(x, (-2, -2))
        with pytest.raises((RuntimeError, NotImplementedError, ValueError)):
            fn(x.reshape(1, 2, 3), (3, 3), mode="reflect")


# ---- activations at extreme values ---------------------------------------------------------------

_EXTREME = [-1000.0, -100.0, -20.0, -3.0, -1.0, -1e-8, -0.0, 0.0, 1e-8, 0.5, 3.0, 20.0, 1000.0]
_EXTREME += [np.inf, -np.inf, np.nan]

_ACTS = {
    "elu": {},
    "celu": {"alpha": 0.5},
    "selu": {},
    "logsigmoid": {},
    "hardtanh": {},
    "relu6": {},
    "threshold": {"threshold": 0.5, "value": -1.0},
    "hardsigmoid": {},
    "hardswish": {},
    "softsign": {},
    "tanhshrink": {},
    "mish": {},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(_ACTS))
def test_activation_extreme_values_match_torch(name, dtype):
    """Overflow, tiny values, signed zeros, infinities and NaN: forward and gradient (an
    upstream of ones) equal torch's, NaN and inf in the same places."""
    x = np.array(_EXTREME, dtype=dtype)
    xn = numgrad.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yn = getattr(numgrad.nn.functional, name)(xn, **_ACTS[name])
    yt = getattr(torch.nn.functional, name)(xt, **_ACTS[name])
    yn.backward(numgrad.ones_like(yn))
    yt.backward(torch.ones_like(yt))
    tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(yn.detach().numpy(), yt.detach().numpy(), err_msg="forward", **tol)
    gn, gt = xn.grad.numpy(), xt.grad.numpy()
    if dtype == "float32":
        # torch's float32 gradients at a NaN input depend on its vector/scalar code path
        # (elu's is 1 there, NaN in float64): compared where the input is a number
        gn, gt = gn[~np.isnan(x)], gt[~np.isnan(x)]
    np.testing.assert_allclose(gn, gt, err_msg="gradient", **tol)
