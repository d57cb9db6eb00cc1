"""numgrad.distributions against torch.distributions: log_prob/entropy/cdf/icdf/kl values and
their gradients in float64, sample shapes and dtypes, sample statistics (fixed seeds, tolerant
bounds), rsample's pathwise gradient, validate_args errors."""

import numpy as np
import pytest
import torch

import numgrad as ng

RNG = np.random.default_rng(0)


def _simplex(*shape):
    p = RNG.uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


# name -> (params (numpy, float64; each gets requires_grad), build(m, **params) -> value)
CASES = {
    "normal_log_prob": (
        {"loc": RNG.normal(size=(2, 3)), "scale": RNG.uniform(0.5, 2, (2, 3))},
        lambda m, loc, scale: m.distributions.Normal(loc, scale).log_prob(
            m.tensor(np.linspace(-2, 2, 6).reshape(2, 3))
        ),
    ),
    "normal_log_prob_broadcast": (
        {"loc": RNG.normal(size=(3,)), "scale": RNG.uniform(0.5, 2, (3,))},
        lambda m, loc, scale: m.distributions.Normal(loc, scale).log_prob(
            m.tensor(np.linspace(-2, 2, 12).reshape(4, 3))
        ),
    ),
    "normal_entropy": (
        {"loc": RNG.normal(size=(4,)), "scale": RNG.uniform(0.5, 2, (4,))},
        lambda m, loc, scale: m.distributions.Normal(loc, scale).entropy(),
    ),
    "normal_cdf": (
        {"loc": RNG.normal(size=(4,)), "scale": RNG.uniform(0.5, 2, (4,))},
        lambda m, loc, scale: m.distributions.Normal(loc, scale).cdf(
            m.tensor([-1.0, 0.0, 0.5, 2.0], dtype=m.float64)
        ),
    ),
    "normal_icdf": (
        {"loc": RNG.normal(size=(4,)), "scale": RNG.uniform(0.5, 2, (4,))},
        lambda m, loc, scale: m.distributions.Normal(loc, scale).icdf(
            m.tensor([0.1, 0.4, 0.5, 0.9], dtype=m.float64)
        ),
    ),
    "normal_moments": (
        {"loc": RNG.normal(size=(3,)), "scale": RNG.uniform(0.5, 2, (3,))},
        lambda m, loc, scale: (
            lambda d: m.stack([d.mean, d.mode, d.stddev, d.variance, d.perplexity()])
        )(m.distributions.Normal(loc, scale)),
    ),
    "categorical_probs": (
        {"probs": _simplex(2, 4) * 3.0},
        lambda m, probs: (
            lambda d: m.cat(
                [
                    d.log_prob(m.tensor([[0, 3], [2, 1], [1, 1]])).flatten(),
                    d.entropy(),
                    d.probs.flatten(),
                    d.logits.flatten(),
                ]
            )
        )(m.distributions.Categorical(probs=probs)),
    ),
    "categorical_logits": (
        {"logits": RNG.normal(size=(3, 5))},
        lambda m, logits: (
            lambda d: m.cat(
                [
                    d.log_prob(m.tensor([0, 4, 2])),
                    d.entropy(),
                    d.probs.flatten(),
                    d.logits.flatten(),
                ]
            )
        )(m.distributions.Categorical(logits=logits)),
    ),
    "categorical_1d": (
        {"logits": RNG.normal(size=(4,))},
        lambda m, logits: (
            lambda d: m.cat([d.log_prob(m.tensor([0, 3, 3])), d.entropy().reshape(1)])
        )(m.distributions.Categorical(logits=logits)),
    ),
    "one_hot_categorical": (
        {"logits": RNG.normal(size=(2, 3))},
        lambda m, logits: (
            lambda d: m.cat(
                [
                    d.log_prob(m.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=m.float64)),
                    d.entropy(),
                    d.mean.flatten(),
                    d.variance.flatten(),
                ]
            )
        )(m.distributions.OneHotCategorical(logits=logits)),
    ),
    "bernoulli_probs": (
        {"probs": RNG.uniform(0.05, 0.95, (2, 3))},
        lambda m, probs: (
            lambda d: m.cat(
                [
                    d.log_prob(
                        m.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=m.float64)
                    ).flatten(),
                    d.entropy().flatten(),
                    d.logits.flatten(),
                    d.variance.flatten(),
                ]
            )
        )(m.distributions.Bernoulli(probs=probs)),
    ),
    "bernoulli_logits": (
        {"logits": RNG.normal(size=(4,)) * 3},
        lambda m, logits: (
            lambda d: m.cat(
                [
                    d.log_prob(m.tensor([0.0, 1.0, 1.0, 0.0], dtype=m.float64)),
                    d.entropy(),
                    d.probs,
                    d.mean,
                ]
            )
        )(m.distributions.Bernoulli(logits=logits)),
    ),
    "uniform": (
        {"low": RNG.uniform(-2, -1, (3,)), "high": RNG.uniform(1, 2, (3,))},
        lambda m, low, high: (
            lambda d: m.cat(
                [
                    d.log_prob(m.tensor([0.0, -0.5, 0.9], dtype=m.float64)),
                    d.entropy(),
                    d.cdf(m.tensor([0.0, 0.5, -0.5], dtype=m.float64)),
                    d.icdf(m.tensor([0.1, 0.5, 0.7], dtype=m.float64)),
                    d.mean,
                    d.stddev,
                ]
            )
        )(m.distributions.Uniform(low, high)),
    ),
    "kl_normal": (
        {"a": RNG.normal(size=(3,)), "b": RNG.uniform(0.5, 2, (3,))},
        lambda m, a, b: m.distributions.kl_divergence(
            m.distributions.Normal(a, b), m.distributions.Normal(a * 0.5 + 0.3, b * 1.5)
        ),
    ),
    "kl_categorical": (
        {"a": RNG.normal(size=(2, 4)), "b": RNG.normal(size=(2, 4))},
        lambda m, a, b: m.distributions.kl_divergence(
            m.distributions.Categorical(logits=a), m.distributions.Categorical(logits=b)
        ),
    ),
    "kl_bernoulli": (
        {"a": RNG.uniform(0.1, 0.9, (3,)), "b": RNG.uniform(0.1, 0.9, (3,))},
        lambda m, a, b: m.distributions.kl_divergence(
            m.distributions.Bernoulli(probs=a), m.distributions.Bernoulli(probs=b)
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_as_torch_float64(name):
    params, build = CASES[name]
    ours = {k: ng.tensor(v, dtype=ng.float64, requires_grad=True) for k, v in params.items()}
    theirs = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()
    }
    out, tout = build(ng, **ours), build(torch, **theirs)
    assert tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.normal(size=tuple(tout.shape))
    (out * ng.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for k in params:
        tg = theirs[k].grad
        g = ours[k].grad
        if tg is None:
            assert g is None or not g.numpy().any(), k
            continue
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.distributions.Normal(m.zeros(2, 3), m.ones(2, 3)),
        lambda m: m.distributions.Normal(0.0, 1.0),
        lambda m: m.distributions.Normal(m.zeros(3, dtype=m.float64), 2.0),
        lambda m: m.distributions.Categorical(probs=m.ones(4, 3)),
        lambda m: m.distributions.Categorical(logits=m.zeros(5)),
        lambda m: m.distributions.OneHotCategorical(probs=m.ones(2, 3)),
        lambda m: m.distributions.Bernoulli(probs=m.full((3,), 0.3)),
        lambda m: m.distributions.Bernoulli(0.4),
        lambda m: m.distributions.Bernoulli(logits=m.zeros(2, 2, dtype=m.float64)),
        lambda m: m.distributions.Uniform(m.zeros(2), m.ones(2)),
        lambda m: m.distributions.Uniform(-1.0, 1.0),
    ],
)
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
def test_sample_shapes_and_dtypes(build, sample_shape):
    d, td = build(ng), build(torch)
    assert tuple(d.batch_shape) == tuple(td.batch_shape)
    assert tuple(d.event_shape) == tuple(td.event_shape)
    s, ts = d.sample(sample_shape), td.sample(sample_shape)
    assert tuple(s.shape) == tuple(ts.shape) and s.dtype.name == str(ts.dtype)[6:]
    assert not s.requires_grad
    assert d.has_rsample == td.has_rsample
    if td.has_rsample:
        r, tr = d.rsample(sample_shape), td.rsample(sample_shape)
        assert tuple(r.shape) == tuple(tr.shape) and r.dtype.name == str(tr.dtype)[6:]
    lp, tlp = d.log_prob(s), td.log_prob(ts)
    assert tuple(lp.shape) == tuple(tlp.shape) and lp.dtype.name == str(tlp.dtype)[6:]
    assert tuple(d.entropy().shape) == tuple(td.entropy().shape)
    e, te = d.enumerate_support() if td.has_enumerate_support else None, None
    if td.has_enumerate_support:
        te = td.enumerate_support()
        np.testing.assert_array_equal(e.numpy(), te.numpy())
        np.testing.assert_array_equal(
            d.enumerate_support(expand=False).numpy(), td.enumerate_support(expand=False).numpy()
        )


def test_expand():
    for build in (
        lambda m: m.distributions.Normal(m.zeros(3), m.ones(3)),
        lambda m: m.distributions.Categorical(logits=m.zeros(3, 4)),
        lambda m: m.distributions.Bernoulli(probs=m.full((3,), 0.2)),
        lambda m: m.distributions.Uniform(m.zeros(3), m.ones(3)),
    ):
        d, td = build(ng).expand((2, 3)), build(torch).expand((2, 3))
        assert tuple(d.batch_shape) == tuple(td.batch_shape) == (2, 3)
        assert tuple(d.sample().shape) == tuple(td.sample().shape)


def test_rsample_is_pathwise():
    loc = ng.tensor([0.5, -1.0], dtype=ng.float64, requires_grad=True)
    scale = ng.tensor([2.0, 0.5], dtype=ng.float64, requires_grad=True)
    ng.manual_seed(0)
    x = ng.distributions.Normal(loc, scale).rsample((3,))
    x.sum().backward()
    eps = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
    np.testing.assert_allclose(loc.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0), rtol=1e-12)
    low = ng.tensor(0.0, requires_grad=True)
    high = ng.tensor(2.0, requires_grad=True)
    u = ng.distributions.Uniform(low, high).rsample((100,))
    u.sum().backward()
    assert low.grad.item() + high.grad.item() == pytest.approx(100.0)
    with pytest.raises(NotImplementedError):
        ng.distributions.Categorical(logits=ng.zeros(3)).rsample()
    ng.manual_seed(5)
    a = ng.distributions.Normal(loc, scale).sample((4,)).tolist()
    ng.manual_seed(5)
    assert ng.distributions.Normal(loc, scale).sample((4,)).tolist() == a  # reproducible


def test_sample_statistics():
    ng.manual_seed(1)
    p = np.array([[0.1, 0.6, 0.3], [0.5, 0.0, 0.5]])
    s = ng.distributions.Categorical(probs=ng.tensor(p)).sample((20000,)).numpy()
    for row in range(2):
        freq = np.bincount(s[:, row], minlength=3) / 20000
        np.testing.assert_allclose(freq, p[row], atol=0.015)
    x = ng.distributions.Normal(ng.tensor([1.0, -2.0]), ng.tensor([0.5, 3.0])).sample((20000,))
    np.testing.assert_allclose(x.numpy().mean(0), [1.0, -2.0], atol=0.08)
    np.testing.assert_allclose(x.numpy().std(0), [0.5, 3.0], rtol=0.03)
    b = ng.distributions.Bernoulli(logits=ng.tensor([0.0, 2.0])).sample((20000,)).numpy()
    np.testing.assert_allclose(b.mean(0), [0.5, 1 / (1 + np.exp(-2))], atol=0.015)
    u = ng.distributions.Uniform(2.0, 5.0).sample((20000,)).numpy()
    assert u.min() >= 2.0 and u.max() < 5.0 and abs(u.mean() - 3.5) < 0.03
    oh = ng.distributions.OneHotCategorical(probs=ng.tensor([0.2, 0.8])).sample((10000,)).numpy()
    assert (oh.sum(-1) == 1).all() and abs(oh[:, 1].mean() - 0.8) < 0.02


@pytest.fixture(autouse=True)
def _torch_validates_args():
    # torch.compile (the asv torch-compiled benchmarks, run earlier in the suite) turns torch's
    # default argument validation off process-wide; these tests compare against it on
    old = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(True)
    yield
    torch.distributions.Distribution.set_default_validate_args(old)


def _same_value_error(fn):
    with pytest.raises(ValueError) as th:
        fn(torch)
    with pytest.raises(ValueError) as ours:
        fn(ng)
    # the same message up to the first tensor print (numgrad.Size vs torch.Size, tensor text)
    ref = str(th.value).split("(")[0]
    mine = str(ours.value).replace("numgrad.Size", "torch.Size").split("(")[0]
    assert mine == ref, (str(ours.value), str(th.value))
    return str(ours.value), str(th.value)


@pytest.mark.parametrize(
    "fn",
    [
        lambda m: m.distributions.Normal(0.0, -1.0),
        lambda m: m.distributions.Normal(m.tensor([0.0, float("nan")]), 1.0),
        lambda m: m.distributions.Categorical(probs=m.tensor([0.5, -0.1])),
        lambda m: m.distributions.Categorical(logits=m.tensor([0.0, float("nan")])),
        lambda m: m.distributions.Categorical(probs=m.tensor(0.5)),
        lambda m: m.distributions.Categorical(),
        lambda m: m.distributions.Categorical(probs=m.ones(2), logits=m.ones(2)),
        lambda m: m.distributions.Bernoulli(probs=m.tensor([1.5])),
        lambda m: m.distributions.Bernoulli(),
        lambda m: m.distributions.Uniform(1.0, 0.0),
        lambda m: m.distributions.Categorical(logits=m.zeros(3)).log_prob(m.tensor([3])),
        lambda m: m.distributions.Categorical(logits=m.zeros(3)).log_prob(m.tensor([0.5])),
        lambda m: m.distributions.Categorical(logits=m.zeros(2, 3)).log_prob(m.tensor([0, 1, 2])),
        lambda m: m.distributions.Bernoulli(0.3).log_prob(m.tensor(0.5)),
        lambda m: m.distributions.Normal(0.0, 1.0).log_prob(1.0),
        lambda m: m.distributions.Normal(m.zeros(3), 1.0).log_prob(m.zeros(2)),
        lambda m: m.distributions.OneHotCategorical(logits=m.zeros(3)).log_prob(m.zeros(3)),
        lambda m: m.distributions.OneHotCategorical(logits=m.zeros(3)).log_prob(m.zeros(2)),
        lambda m: m.distributions.Uniform(0.0, 1.0).log_prob(m.tensor(2.0)),
    ],
)
def test_validate_args_errors_as_torch(fn):
    ours, theirs = _same_value_error(fn)
    for word in ("constraint", "support", "Simplex", "GreaterThan", "IntegerInterval", "Boolean"):
        assert (word in ours) == (word in theirs), (word, ours, theirs)


def test_validate_args_false_and_default():
    d = ng.distributions.Normal(0.0, -1.0, validate_args=False)  # no check
    assert tuple(d.batch_shape) == ()
    lp = ng.distributions.Categorical(logits=ng.zeros(3), validate_args=False)
    assert lp.log_prob(ng.tensor([1])).shape == (1,)
    try:
        ng.distributions.Distribution.set_default_validate_args(False)
        ng.distributions.Normal(0.0, -1.0)
    finally:
        ng.distributions.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        ng.distributions.Normal(0.0, -1.0)


def test_repr_and_constraints():
    for build in (
        lambda m: m.distributions.Normal(0.0, 1.0),
        lambda m: m.distributions.Bernoulli(probs=0.25),
        lambda m: m.distributions.Uniform(0.0, 2.0),
    ):
        assert repr(build(ng)) == repr(build(torch))
    c = ng.distributions.constraints
    tc = torch.distributions.constraints
    for name in (
        "real",
        "positive",
        "unit_interval",
        "simplex",
        "real_vector",
        "boolean",
        "one_hot",
    ):
        assert repr(getattr(c, name)) == repr(getattr(tc, name)), name
    assert repr(c.integer_interval(0, 4)) == repr(tc.integer_interval(0, 4))
    assert repr(ng.distributions.Categorical(logits=ng.zeros(2, 3))) == (
        "Categorical(logits: numgrad.Size([2, 3]))"
    )


def test_policy_gradient_step_as_torch():
    """REINFORCE as tutorials write it: a linear policy, Categorical(logits=...), actions
    sampled by numgrad and replayed in torch, loss = -(log_prob * returns).mean() - 0.01 *
    entropy; the parameter gradients match torch's in float64."""
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    states = rng.normal(size=(16, 4))
    returns = rng.normal(size=16)
    nw = ng.tensor(w, dtype=ng.float64, requires_grad=True)
    nb = ng.tensor(b, dtype=ng.float64, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ng.manual_seed(0)
    dist = ng.distributions.Categorical(logits=ng.tensor(states) @ nw.T + nb)
    actions = dist.sample()
    tdist = torch.distributions.Categorical(logits=torch.tensor(states) @ tw.T + tb)
    tactions = torch.tensor(actions.numpy())
    loss = -(dist.log_prob(actions) * ng.tensor(returns)).mean() - 0.01 * dist.entropy().mean()
    tloss = (
        -(tdist.log_prob(tactions) * torch.tensor(returns)).mean() - 0.01 * tdist.entropy().mean()
    )
    loss.backward()
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(nw.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(nb.grad.numpy(), tb.grad.numpy(), rtol=1e-10)


def test_sampling_first_keeps_lazy_parameters_differentiable():
    for make in (
        lambda logits: ng.distributions.Categorical(logits=logits),
        lambda logits: ng.distributions.Bernoulli(logits=logits),
    ):
        logits = ng.tensor([0.3, -0.2, 0.5], dtype=ng.float64, requires_grad=True)
        d = make(logits)
        d.sample((2,))  # computes probs lazily
        d.entropy().sum().backward()
        fresh = ng.tensor([0.3, -0.2, 0.5], dtype=ng.float64, requires_grad=True)
        make(fresh).entropy().sum().backward()
        np.testing.assert_allclose(logits.grad.numpy(), fresh.grad.numpy(), rtol=1e-12)
