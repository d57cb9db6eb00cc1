"""numgrad.Generator, generator= on every random function, normal/multinomial/bernoulli/poisson,
the in-place random fills: shapes, dtypes and errors against torch; reproducibility for a seed;
statistical checks with fixed seeds and tolerant bounds (numgrad's stream is numpy's PCG64, so
the numbers themselves are not torch's)."""

import numpy as np
import pytest
import torch

import numgrad as ng


def _both(fn):
    return fn(ng), fn(torch)


def _same_error(fn):
    """fn(numgrad) and fn(torch) raise the same exception type."""
    with pytest.raises(Exception) as th:
        fn(torch)
    with pytest.raises(th.type):
        fn(ng)


# ---- Generator ---------------------------------------------------------------------------------


def test_generator_api_as_torch():
    g, tg = ng.Generator(), torch.Generator()
    assert g.initial_seed() == tg.initial_seed()  # 67280421310721, torch's
    assert str(g.device) == str(tg.device) == "cpu"
    assert g.manual_seed(5) is g and tg.manual_seed(5) is tg
    assert g.initial_seed() == tg.initial_seed() == 5
    g.manual_seed(-1), tg.manual_seed(-1)
    assert g.initial_seed() == tg.initial_seed() == 2**64 - 1
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    for bad in (2**64, -(2**63) - 1):
        _same_error(lambda m, bad=bad: m.Generator().manual_seed(bad))
    assert isinstance(ng.manual_seed(3), ng.Generator) and ng.initial_seed() == 3
    assert ng.default_generator.initial_seed() == 3


def test_same_seed_same_numbers_and_independent_streams():
    a = ng.randn(5, generator=ng.Generator().manual_seed(1))
    ng.manual_seed(0)
    ng.rand(100)  # the global stream moves; the generator's does not care
    b = ng.randn(5, generator=ng.Generator().manual_seed(1))
    assert a.tolist() == b.tolist()
    # drawing from a Generator leaves the global stream where it was
    ng.manual_seed(2)
    x1 = ng.randn(3).tolist()
    ng.manual_seed(2)
    ng.randn(4, generator=ng.Generator().manual_seed(1))
    assert ng.randn(3).tolist() == x1
    ng.manual_seed(2)
    ng.randn(4)
    assert ng.randn(3).tolist() != x1


def test_state_round_trip():
    g = ng.Generator().manual_seed(11)
    ng.rand(3, generator=g)
    state = g.get_state()
    assert state.dtype == ng.uint8 and state.ndim == 1
    first = ng.rand(4, generator=g).tolist()
    ng.rand(10, generator=g)
    g.set_state(state)
    assert ng.rand(4, generator=g).tolist() == first and g.initial_seed() == 11
    st = ng.get_rng_state()
    x = ng.randn(3).tolist()
    ng.set_rng_state(st)
    assert ng.randn(3).tolist() == x
    # torch: a non-tensor state is a TypeError; numgrad also rejects a state of the wrong size
    _same_error(lambda m: m.Generator().set_state([1, 2]))
    with pytest.raises(RuntimeError, match="uint8"):
        g.set_state(ng.zeros(3))


def test_fork_rng():
    ng.manual_seed(8)
    with ng.random.fork_rng():
        inside = ng.randn(3).tolist()
    after = ng.randn(3).tolist()
    assert inside == after  # the state was restored on leaving
    second = ng.randn(3).tolist()
    ng.manual_seed(8)
    with torch.random.fork_rng(enabled=False), ng.random.fork_rng(enabled=False):
        ng.randn(3)
    assert ng.randn(3).tolist() == second != after  # not restored: the stream moved on


def test_seed_draws_a_new_seed():
    a = ng.seed()
    b = ng.seed()
    assert a != b and ng.initial_seed() == b and 0 <= a < 2**64


def test_bad_generator_is_a_type_error():
    _same_error(lambda m: m.randn(2, generator=3))
    _same_error(lambda m: m.rand(2, generator="x"))


# ---- generator= on every random function -----------------------------------------------------

_DRAWS = {
    "randn": lambda m, g: m.randn(2, 3, generator=g),
    "rand": lambda m, g: m.rand((2, 3), generator=g, dtype=m.float64),
    "randint": lambda m, g: m.randint(0, 10, (4,), generator=g),
    "randint_high": lambda m, g: m.randint(10, (2, 2), generator=g),
    "randint_float": lambda m, g: m.randint(3, 10, size=(3,), generator=g, dtype=m.float32),
    "randperm": lambda m, g: m.randperm(6, generator=g),
    "rand_like": lambda m, g: m.rand_like(m.zeros(2, dtype=m.float64), generator=g),
    "randn_like": lambda m, g: m.randn_like(m.zeros(3, 1), generator=g),
    "randint_like": lambda m, g: m.randint_like(m.zeros(2, 3), 10, generator=g),
    "randint_like_lh": lambda m, g: m.randint_like(m.zeros(2, dtype=m.int64), 3, 10, generator=g),
    "normal_tt": lambda m, g: m.normal(m.zeros(3), m.ones(2, 1, dtype=m.float64), generator=g),
    "normal_tf": lambda m, g: m.normal(m.zeros(2, 3), 2.0, generator=g),
    "normal_ft": lambda m, g: m.normal(1.0, m.ones(4), generator=g),
    "normal_ff": lambda m, g: m.normal(0.0, 1.0, (2, 2), generator=g),
    "normal_ff_dtype": lambda m, g: m.normal(2, 3, size=(3,), generator=g, dtype=m.float64),
    "multinomial": lambda m, g: m.multinomial(m.tensor([0.1, 0.5, 0.4]), 2, generator=g),
    "multinomial_2d": lambda m, g: m.multinomial(m.ones(3, 4), 6, True, generator=g),
    "bernoulli": lambda m, g: m.bernoulli(m.full((3, 2), 0.5), generator=g),
    "bernoulli_p": lambda m, g: m.bernoulli(m.zeros(4, dtype=m.float64), 0.3, generator=g),
    "poisson": lambda m, g: m.poisson(m.full((5,), 3.0), generator=g),
    "uniform_": lambda m, g: m.zeros(3).uniform_(-1, 1, generator=g),
    "normal_": lambda m, g: m.zeros(3).normal_(2, 1, generator=g),
    "bernoulli_": lambda m, g: m.zeros(4).bernoulli_(0.5, generator=g),
    "bernoulli_t": lambda m, g: m.zeros(2, 2).bernoulli_(m.tensor([0.2, 0.9]), generator=g),
    "random_": lambda m, g: m.zeros(4).random_(generator=g),
    "random_to": lambda m, g: m.zeros(4, dtype=m.int64).random_(7, generator=g),
    "random_from_to": lambda m, g: m.zeros(4, dtype=m.int32).random_(-3, 7, generator=g),
    "random_uint8": lambda m, g: m.zeros(4, dtype=m.uint8).random_(generator=g),
    "random_bool": lambda m, g: m.zeros(4, dtype=m.bool).random_(generator=g),
    "exponential_": lambda m, g: m.zeros(3, dtype=m.float64).exponential_(2.0, generator=g),
    "geometric_": lambda m, g: m.zeros(3).geometric_(0.3, generator=g),
    "log_normal_": lambda m, g: m.zeros(3).log_normal_(0.0, 0.5, generator=g),
    "cauchy_": lambda m, g: m.zeros(3).cauchy_(generator=g),
    "tensor_bernoulli": lambda m, g: m.full((3,), 0.5).bernoulli(generator=g),
    "tensor_multinomial": lambda m, g: m.ones(2, 3).multinomial(2, generator=g),
    "randn_0d": lambda m, g: m.randn((), generator=g),
    "normal_0d": lambda m, g: m.normal(m.zeros(()), m.ones(()), generator=g),
    "bernoulli_0d": lambda m, g: m.bernoulli(m.tensor(0.5), generator=g),
    "poisson_0d": lambda m, g: m.poisson(m.tensor(2.0), generator=g),
    "random_0d": lambda m, g: m.zeros(()).random_(generator=g),
}


@pytest.mark.parametrize("name", sorted(_DRAWS))
def test_generator_keyword_shapes_dtypes_and_reproducibility(name):
    fn = _DRAWS[name]
    ours = fn(ng, ng.Generator().manual_seed(4))
    theirs = fn(torch, torch.Generator().manual_seed(4))
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    again = fn(ng, ng.Generator().manual_seed(4))
    assert again.tolist() == ours.tolist() or np.isnan(ours.numpy()).any()
    ng.manual_seed(4)
    a = fn(ng, None)
    ng.manual_seed(4)
    assert fn(ng, None).tolist() == a.tolist()


def test_values_in_range():
    g = ng.Generator().manual_seed(0)
    x = ng.randint(-3, 5, (2000,), generator=g).numpy()
    assert x.min() == -3 and x.max() == 4
    p = ng.randperm(50, generator=g).numpy()
    assert sorted(p.tolist()) == list(range(50))
    r = ng.zeros(1000).random_(generator=g).numpy()
    assert r.min() >= 0 and r.max() <= 2**24 and r.max() > 2**20
    u8 = ng.zeros(1000, dtype=ng.uint8).random_(generator=g).numpy()
    assert u8.max() > 200
    assert set(ng.zeros(100, dtype=ng.bool).random_(generator=g).numpy().tolist()) == {False, True}
    assert (ng.zeros(500).geometric_(0.5, generator=g).numpy() >= 1).all()
    assert (ng.zeros(500).exponential_(generator=g).numpy() > 0).all()


# ---- statistics (fixed seeds; bounds several standard errors wide) -----------------------------


def test_normal_statistics():
    g = ng.Generator().manual_seed(123)
    x = ng.normal(3.0, 2.0, (20000,), generator=g, dtype=ng.float64).numpy()
    assert abs(x.mean() - 3.0) < 0.06 and abs(x.std() - 2.0) < 0.06
    m = ng.tensor([-5.0, 0.0, 5.0], dtype=ng.float64)
    s = ng.tensor([0.1, 1.0, 3.0], dtype=ng.float64)
    y = ng.normal(m.expand(8000, 3), s.expand(8000, 3), generator=g).numpy()
    np.testing.assert_allclose(y.mean(0), m.numpy(), atol=0.15)
    np.testing.assert_allclose(y.std(0), s.numpy(), rtol=0.05)
    z = ng.randn(20000, generator=g).numpy()
    assert abs(z.mean()) < 0.04 and abs(z.std() - 1) < 0.03
    e = ng.zeros(20000, dtype=ng.float64).exponential_(4.0, generator=g).numpy()
    assert abs(e.mean() - 0.25) < 0.01
    po = ng.poisson(ng.full((20000,), 3.0, dtype=ng.float64), generator=g).numpy()
    assert abs(po.mean() - 3.0) < 0.06 and (po == np.round(po)).all()


def test_multinomial_statistics():
    g = ng.Generator().manual_seed(7)
    p = np.array([0.1, 0.0, 0.6, 0.3])
    draws = ng.multinomial(ng.tensor(p), 20000, replacement=True, generator=g).numpy()
    freq = np.bincount(draws, minlength=4) / 20000
    np.testing.assert_allclose(freq, p, atol=0.015)
    assert freq[1] == 0  # a zero weight is never drawn
    rows = ng.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [1.0, 1.0, 0.0]])
    d = ng.multinomial(rows, 500, True, generator=g).numpy()
    assert (d[0] == 0).all() and (d[1] == 2).all() and set(d[2].tolist()) == {0, 1}
    # without replacement: distinct, and the first draw follows the weights
    w = ng.tensor([0.5, 0.3, 0.2, 0.0, 0.0])
    firsts = []
    for _ in range(3000):
        s = ng.multinomial(w, 4, generator=g).tolist()
        assert len(set(s)) == 4 and s[3] in (3, 4)
        firsts.append(s[0])
    np.testing.assert_allclose(
        np.bincount(firsts, minlength=3)[:3] / 3000, [0.5, 0.3, 0.2], atol=0.03
    )
    b = ng.bernoulli(ng.full((20000,), 0.3, dtype=ng.float64), generator=g).numpy()
    assert set(np.unique(b).tolist()) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.015


# ---- torch's checks ------------------------------------------------------------------------------

_ERRORS = {
    "randn_int": lambda m: m.randn(2, dtype=m.int64),
    "randint_empty_range": lambda m: m.randint(5, 5, (2,)),
    "randint_size_int": lambda m: m.randint(10, size=3),
    "randint_requires_grad": lambda m: m.randint(0, 10, (3,), requires_grad=True),
    "randperm_requires_grad": lambda m: m.randperm(3, requires_grad=True),
    "randperm_negative": lambda m: m.randperm(-1),
    "normal_negative_std": lambda m: m.normal(0.0, -1.0, (2,)),
    "normal_negative_std_t": lambda m: m.normal(m.zeros(3), -m.ones(3)),
    "normal_negative_std_f": lambda m: m.normal(m.zeros(3), -1.0),
    "normal_nan_std": lambda m: m.normal(m.zeros(3), float("nan")),
    "normal_int": lambda m: m.normal(m.zeros(3, dtype=m.int64), 1.0),
    "normal_shapes": lambda m: m.normal(m.zeros(3), m.ones(4)),
    "normal_size_with_tensor": lambda m: m.normal(m.zeros(3), m.ones(3), size=(3,)),
    "normal_no_size": lambda m: m.normal(0.0, 1.0),
    "multinomial_too_many": lambda m: m.multinomial(m.tensor([0.2, 0.8]), 3),
    "multinomial_zero": lambda m: m.multinomial(m.tensor([0.2, 0.8]), 0),
    "multinomial_negative": lambda m: m.multinomial(m.tensor([0.2, -0.8]), 1),
    "multinomial_nan": lambda m: m.multinomial(m.tensor([0.2, float("nan")]), 1),
    "multinomial_inf": lambda m: m.multinomial(m.tensor([0.2, float("inf")]), 1),
    "multinomial_zero_sum": lambda m: m.multinomial(m.zeros(2, 3), 1, True),
    "multinomial_0d": lambda m: m.multinomial(m.tensor(1.0), 1),
    "multinomial_3d": lambda m: m.multinomial(m.ones(2, 2, 2), 1),
    "multinomial_int": lambda m: m.multinomial(m.ones(3, dtype=m.int64), 1),
    "bernoulli_bad_p": lambda m: m.bernoulli(m.tensor([0.5, 1.5])),
    "bernoulli_int": lambda m: m.bernoulli(m.tensor([1, 0])),
    "bernoulli_float_p": lambda m: m.zeros(3).bernoulli_(1.5),
    "bernoulli_tensor_p": lambda m: m.zeros(2).bernoulli_(m.tensor([0.5, 2.0])),
    "poisson_negative": lambda m: m.poisson(m.tensor([1.0, -1.0])),
    "poisson_int": lambda m: m.poisson(m.tensor([1, 2])),
    "random_from_to": lambda m: m.zeros(3).random_(10, 3),
    "random_uint8_range": lambda m: m.zeros(3, dtype=m.uint8).random_(0, 300),
    "exponential_lambda": lambda m: m.zeros(3).exponential_(0),
    "exponential_int": lambda m: m.zeros(3, dtype=m.int64).exponential_(),
    "geometric_p": lambda m: m.zeros(3).geometric_(1.5),
    "log_normal_std": lambda m: m.zeros(3).log_normal_(1, -2),
    "uniform_from_to": lambda m: m.zeros(3).uniform_(2, 1),
    "normal__std": lambda m: m.zeros(3).normal_(0, -1),
}


@pytest.mark.parametrize("name", sorted(_ERRORS))
def test_errors_as_torch(name):
    _same_error(_ERRORS[name])


def test_normal_overloads_requires_grad_and_zero_gradient():
    for m in (ng, torch):
        x = m.normal(0.0, 1.0, (2, 3), requires_grad=True)
        assert x.requires_grad and x.is_leaf
    mean = ng.tensor([0.0, 1.0, 2.0], dtype=ng.float64, requires_grad=True)
    std = ng.tensor([[1.0], [2.0]], dtype=ng.float64, requires_grad=True)
    tm = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ts = torch.tensor([[1.0], [2.0]], dtype=torch.float64, requires_grad=True)
    out, tout = ng.normal(mean, std), torch.normal(tm, ts)
    assert out.requires_grad and tout.requires_grad and tuple(out.shape) == tuple(tout.shape)
    (out * 3).sum().backward()
    (tout * 3).sum().backward()
    np.testing.assert_array_equal(mean.grad.numpy(), tm.grad.numpy())  # zeros, torch's rule
    np.testing.assert_array_equal(std.grad.numpy(), ts.grad.numpy())
    p = ng.tensor([0.2, 0.7], requires_grad=True)
    b = ng.bernoulli(p)
    assert b.requires_grad
    b.sum().backward()
    assert p.grad.tolist() == [0.0, 0.0]
    with ng.no_grad():
        assert not ng.normal(mean, 1.0).requires_grad
    m32 = ng.zeros(2, requires_grad=True)
    mixed = ng.normal(m32, std)  # mean's dtype, as torch, whatever std's
    assert mixed.dtype == ng.float32 and mixed.dtype.name == str(
        torch.normal(torch.zeros(2, requires_grad=True), ts).dtype
    ).replace("torch.", "")
    mixed.sum().backward()
    assert m32.grad.dtype == ng.float32 and m32.grad.tolist() == [0.0, 0.0]
    # an infinite mean stays infinite (the zero gradient does not multiply it by 0)
    inf = ng.tensor([float("inf")], requires_grad=True)
    assert ng.normal(inf, 1.0).tolist() == [float("inf")]


def test_nn_init_generator():
    for name, args in [
        ("uniform_", (-1.0, 1.0)),
        ("normal_", (0.0, 2.0)),
        ("xavier_uniform_", ()),
        ("xavier_normal_", ()),
        ("kaiming_uniform_", ()),
        ("kaiming_normal_", ()),
    ]:
        fn = getattr(ng.nn.init, name)
        a = fn(ng.zeros(4, 5), *args, generator=ng.Generator().manual_seed(3))
        b = fn(ng.zeros(4, 5), *args, generator=ng.Generator().manual_seed(3))
        assert a.tolist() == b.tolist() and a.numpy().std() > 0, name
        getattr(torch.nn.init, name)(torch.zeros(4, 5), *args, generator=torch.Generator())


# ---- meshgrid ------------------------------------------------------------------------------------


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_values_as_torch(indexing):
    data = [np.arange(3.0), np.arange(2.0) + 10, np.array(7.0), np.arange(4.0) - 1]
    for k in (1, 2, 3, 4):
        ours = ng.meshgrid(*[ng.tensor(d) for d in data[:k]], indexing=indexing)
        theirs = torch.meshgrid(*[torch.tensor(d) for d in data[:k]], indexing=indexing)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    ours = ng.meshgrid([ng.arange(2), ng.arange(3)], indexing=indexing)  # a list, as torch takes
    theirs = torch.meshgrid([torch.arange(2), torch.arange(3)], indexing=indexing)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize(
    "fn",
    [
        lambda m: m.meshgrid(m.ones(2), m.ones(3, 2), indexing="ij"),
        lambda m: m.meshgrid(m.ones(2), m.ones(3, dtype=m.float64), indexing="ij"),
        lambda m: m.meshgrid(m.ones(2), m.ones(3), indexing="foo"),
        lambda m: m.meshgrid(indexing="ij"),
    ],
)
def test_meshgrid_errors_as_torch(fn):
    _same_error(fn)
