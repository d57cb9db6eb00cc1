"""numgrad.optim against torch.optim: every step of every option combo, state dicts, errors."""

import numpy as np
import pytest
import ref_backend
import torch

import numgrad
from numgrad import optim

SHAPES = [(), (3,), (4, 5), (2, 3, 4), (0, 3)]
STEPS = 10
TOL = {np.float32: {"rtol": 1e-4, "atol": 1e-6}, np.float64: {"rtol": 1e-9, "atol": 0.0}}

# (optimizer name, kwargs): each option alone and in combination
CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {}),  # torch's defaults
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.2, "maximize": True}),
    (
        "SGD",
        {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.01, "maximize": True},
    ),
    ("Adam", {}),
    ("Adam", {"lr": 0.1}),
    ("Adam", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.1, "betas": (0.3, 0.9), "eps": 1e-3}),  # lerp's weight >= 0.5 branch
    (
        "Adam",
        {
            "lr": 0.05,
            "betas": (0.8, 0.99),
            "eps": 1e-6,
            "weight_decay": 0.3,
            "amsgrad": True,
            "maximize": True,
        },
    ),
    ("Adam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.1}),
    ("AdamW", {"lr": 0.1, "weight_decay": 0.5, "amsgrad": True}),
    ("AdamW", {"lr": 0.1, "weight_decay": 0.0, "maximize": True}),
    (
        "AdamW",
        {"lr": 0.05, "betas": (0.5, 0.95), "weight_decay": 0.2, "amsgrad": True, "maximize": True},
    ),
]


def _cfg_id(cfg):
    name, kw = cfg
    return name + "-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")


def _make_params(dtype, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [numgrad.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _grads(dtype, step, seed=1, shapes=SHAPES):
    """Gradients for one step; the last parameter gets none every third step (skipped)."""
    rng = np.random.default_rng([seed, step])
    gs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if step % 3 == 2:
        gs[-1] = None
    return gs


def _set_grads(ours, theirs, gs):
    for p, q, g in zip(ours, theirs, gs, strict=True):
        p.grad = None if g is None else numgrad.tensor(g)
        q.grad = None if g is None else torch.tensor(g)


def _torch_opt(name, params, kw):
    return getattr(torch.optim, name)(params, foreach=False, **kw)


def _assert_close(ours, theirs, dtype, what=""):
    for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
        assert p.dtype == q.dtype or str(q.dtype).endswith(p.dtype.name)
        np.testing.assert_allclose(
            p._data, q.detach().numpy(), **TOL[dtype], err_msg=f"{what} param {i}"
        )


# ---- parity with torch, step by step -------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=_cfg_id)
def test_parity_with_torch(cfg, dtype):
    name, kw = cfg
    ours, theirs = _make_params(dtype)
    opt = getattr(optim, name)(ours, **kw)
    topt = _torch_opt(name, theirs, kw)
    for step in range(STEPS):
        _set_grads(ours, theirs, _grads(dtype, step))
        opt.step()
        topt.step()
        _assert_close(ours, theirs, dtype, f"{name} step {step}")
    for p in ours:
        assert p._data.dtype == dtype
    # the state matches torch's too, key by key
    for p, q in zip(ours, theirs, strict=True):
        st, tst = opt.state[p], topt.state[q]
        assert set(st) == set(tst)
        for key, value in st.items():
            expect = tst[key].numpy()
            assert value._data.dtype == expect.dtype, key
            np.testing.assert_allclose(value._data, expect, **TOL[dtype], err_msg=key)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_step_bumps_version_and_skips_params_without_grad(name):
    ours, _ = _make_params(np.float64, shapes=[(3,), (2,)])
    kw = {"momentum": 0.9} if name == "SGD" else {}
    opt = getattr(optim, name)(ours, lr=0.1, **kw)
    before = [p._data.copy() for p in ours]
    ours[0].grad = numgrad.ones(3, dtype=numgrad.float64)
    opt.step()
    assert ours[0]._version[0] == 1
    assert ours[1]._version[0] == 0
    np.testing.assert_array_equal(ours[1]._data, before[1])
    assert not np.array_equal(ours[0]._data, before[0])
    assert len(opt.state[ours[1]]) == 0


def test_update_is_in_place_and_keeps_graph_bookkeeping():
    p = numgrad.tensor(np.arange(4.0), requires_grad=True)
    storage = p._data
    p.grad = numgrad.ones(4, dtype=numgrad.float64)
    optim.SGD([p], lr=0.5).step()
    assert p._data is storage
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    np.testing.assert_array_equal(p._data, np.arange(4.0) - 0.5)


def test_training_loop_matches_torch():
    """Gradients from numgrad's own backward drive the optimizer as in torch."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    w0, b0 = rng.standard_normal((3, 1)), rng.standard_normal(1)
    w, b = numgrad.tensor(w0, requires_grad=True), numgrad.tensor(b0, requires_grad=True)
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt = optim.Adam([w, b], lr=0.05, amsgrad=True)
    topt = torch.optim.Adam([tw, tb], lr=0.05, amsgrad=True)
    X, Y = numgrad.tensor(x), numgrad.tensor(y)
    TX, TY = torch.tensor(x), torch.tensor(y)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        topt.zero_grad()
        loss = ((X @ w + b - Y) ** 2).mean()
        tloss = ((TX @ tw + tb - TY) ** 2).mean()
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        losses.append(loss.item())
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-9)
        np.testing.assert_allclose(w._data, tw.detach().numpy(), rtol=1e-9)
        np.testing.assert_allclose(b._data, tb.detach().numpy(), rtol=1e-9)
    assert losses[-1] < losses[0]


def test_closure_runs_with_grad_enabled_and_returns_loss():
    p = numgrad.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with numgrad.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p._data, [1.0 - 0.2, -2.0 + 0.4])


# ---- zero_grad -----------------------------------------------------------------------------------
def test_zero_grad_set_to_none():
    ours, _ = _make_params(np.float32, shapes=[(2,), (3,)])
    opt = optim.SGD(ours, lr=0.1)
    ours[0].grad = numgrad.ones(2)
    opt.zero_grad()
    assert ours[0].grad is None and ours[1].grad is None
    ours[0].grad = numgrad.ones(2)
    opt.zero_grad(set_to_none=True)
    assert ours[0].grad is None


def test_zero_grad_to_zeros_in_place():
    ours, _ = _make_params(np.float32, shapes=[(2,), (3,)])
    opt = optim.SGD(ours, lr=0.1)
    g = numgrad.ones(2)
    ours[0].grad = g
    opt.zero_grad(set_to_none=False)
    assert ours[0].grad is g
    np.testing.assert_array_equal(g._data, np.zeros(2, np.float32))
    assert ours[1].grad is None  # a missing gradient stays missing
    # zeroed gradients still take a step (weight decay moves the parameter), None skips it
    before = ours[0]._data.copy()
    optim.SGD(ours, lr=0.1, weight_decay=1.0).step()
    np.testing.assert_allclose(ours[0]._data, before * 0.9, rtol=1e-6)


def test_zero_grad_detaches_a_grad_that_requires_grad():
    p = numgrad.tensor(np.ones(3), requires_grad=True)
    p.grad = numgrad.tensor(np.ones(3), requires_grad=True)
    optim.SGD([p]).zero_grad(set_to_none=False)
    assert not p.grad.requires_grad
    np.testing.assert_array_equal(p.grad._data, np.zeros(3))


# ---- param groups --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, group_kw, default_kw",
    [
        ("SGD", [{"lr": 0.5}, {"momentum": 0.9, "nesterov": True}], {"lr": 0.01}),
        ("Adam", [{"lr": 0.5, "amsgrad": True}, {"betas": (0.5, 0.9)}], {"lr": 0.01}),
        ("AdamW", [{"lr": 0.5}, {"weight_decay": 0.3}], {"lr": 0.02}),
    ],
)
def test_param_groups_with_different_hyperparameters(name, group_kw, default_kw):
    ours, theirs = _make_params(np.float64, shapes=[(3,), (2, 2), (4,)])
    groups = [{"params": ours[:2], **group_kw[0]}, {"params": ours[2:], **group_kw[1]}]
    tgroups = [{"params": theirs[:2], **group_kw[0]}, {"params": theirs[2:], **group_kw[1]}]
    opt = getattr(optim, name)(groups, **default_kw)
    topt = _torch_opt(name, tgroups, default_kw)
    assert len(opt.param_groups) == 2
    assert opt.param_groups[0]["lr"] == 0.5
    assert opt.param_groups[1]["lr"] == default_kw["lr"]
    for g, tg in zip(opt.param_groups, topt.param_groups, strict=True):
        for key, value in g.items():
            if key != "params":
                assert tg[key] == value, key
    for step in range(STEPS):
        _set_grads(ours, theirs, _grads(np.float64, step, shapes=[(3,), (2, 2), (4,)]))
        opt.step()
        topt.step()
        _assert_close(ours, theirs, np.float64, f"step {step}")


def test_add_param_group_and_changing_lr():
    ours, theirs = _make_params(np.float64, shapes=[(3,), (2,)])
    opt = optim.SGD([ours[0]], lr=0.1, momentum=0.5)
    topt = torch.optim.SGD([theirs[0]], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": ours[1], "lr": 0.3})
    topt.add_param_group({"params": theirs[1], "lr": 0.3})
    assert len(opt.param_groups[1]["params"]) == 1
    assert opt.param_groups[1]["params"][0] is ours[1]
    assert opt.param_groups[1]["momentum"] == 0.5
    for step in range(4):
        if step == 2:
            for g, tg in zip(opt.param_groups, topt.param_groups, strict=True):
                g["lr"] *= 0.1
                tg["lr"] *= 0.1
        _set_grads(ours, theirs, _grads(np.float64, step, shapes=[(3,), (2,)]))
        opt.step()
        topt.step()
        _assert_close(ours, theirs, np.float64)


# ---- state dicts ---------------------------------------------------------------------------------
def _state_configs():
    return [
        ("SGD", {"lr": 0.1, "momentum": 0.9}),
        ("SGD", {"lr": 0.1}),
        ("Adam", {"lr": 0.1, "amsgrad": True}),
        ("AdamW", {"lr": 0.1, "weight_decay": 0.1}),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("cfg", _state_configs(), ids=_cfg_id)
def test_state_dict_round_trip_continues_identically(cfg, dtype):
    name, kw = cfg
    shapes = [(3,), (2, 2), (4,)]
    ours, _ = _make_params(dtype, shapes=shapes)
    opt = getattr(optim, name)([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.02}], **kw)
    for step in range(5):
        for p, g in zip(ours, _grads(dtype, step, shapes=shapes), strict=True):
            p.grad = None if g is None else numgrad.tensor(g)
        opt.step()
    sd = opt.state_dict()

    # torch's format: integer ids, params replaced by them, state tensors are numgrad Tensors
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sd["param_groups"][1]["lr"] == 0.02
    assert all(isinstance(k, int) for k in sd["state"])
    for st in sd["state"].values():
        for key, value in st.items():
            assert isinstance(value, numgrad.Tensor), key
            if key == "step":
                assert value.dtype == numgrad.float32 and value.shape == ()
            else:
                assert value._data.dtype == dtype

    clones = [numgrad.tensor(p._data.copy(), requires_grad=True) for p in ours]
    opt2 = getattr(optim, name)([{"params": clones[:1]}, {"params": clones[1:]}], lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.02 and opt2.param_groups[0]["lr"] == kw["lr"]
    assert opt2.param_groups[1]["params"][0] is clones[1]
    # the loaded state is a copy: stepping one optimizer leaves the other's state alone
    for k, st in sd["state"].items():
        for key, value in st.items():
            assert opt2.state[clones[k]][key]._data is not value._data

    for step in range(5, 10):
        for group in (ours, clones):
            for p, g in zip(group, _grads(dtype, step, shapes=shapes), strict=True):
                p.grad = None if g is None else numgrad.tensor(g)
        opt.step()
        opt2.step()
        for p, c in zip(ours, clones, strict=True):
            np.testing.assert_array_equal(p._data, c._data)


@pytest.mark.parametrize("cfg", _state_configs(), ids=_cfg_id)
def test_state_dict_matches_torch_layout_and_loads_torch_state(cfg):
    name, kw = cfg
    shapes = [(3,), (2, 2)]
    ours, theirs = _make_params(np.float64, shapes=shapes)
    opt = getattr(optim, name)(ours, **kw)
    topt = _torch_opt(name, theirs, kw)
    for step in range(3):
        _set_grads(ours, theirs, _grads(np.float64, step, shapes=shapes))
        opt.step()
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd["state"]) == set(tsd["state"])
    for k in tsd["state"]:
        assert set(sd["state"][k]) == set(tsd["state"][k])
    assert set(sd["param_groups"][0]) <= set(tsd["param_groups"][0])

    # a torch state dict loads (array-likes are accepted) and continues in step with torch
    fresh = [numgrad.tensor(q.detach().numpy().copy(), requires_grad=True) for q in theirs]
    opt3 = getattr(optim, name)(fresh, lr=1.0)
    opt3.load_state_dict(tsd)
    if "step" in opt3.state[fresh[0]]:
        assert opt3.state[fresh[0]]["step"].dtype == numgrad.float32
    for step in range(3, 6):
        _set_grads(fresh, theirs, _grads(np.float64, step, shapes=shapes))
        opt3.step()
        topt.step()
        _assert_close(fresh, theirs, np.float64, f"step {step}")


def test_load_state_dict_casts_state_to_param_dtype():
    p = numgrad.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = numgrad.tensor(np.ones(3))
    opt.step()
    q = numgrad.tensor(np.ones(3, np.float32), requires_grad=True)
    opt2 = optim.Adam([q], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.state[q]["exp_avg"]._data.dtype == np.float32
    assert opt2.state[q]["step"]._data.dtype == np.float32
    assert float(opt2.state[q]["step"]._data) == 1.0


def test_load_state_dict_errors():
    a, b = (
        numgrad.tensor(np.ones(3), requires_grad=True),
        numgrad.tensor(np.ones(2), requires_grad=True),
    )
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = numgrad.tensor(np.ones(3)), numgrad.tensor(np.ones(2))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="has 2 parameters"):
        optim.SGD([a]).load_state_dict(sd)
    swapped = optim.SGD([b, a])
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        swapped.load_state_dict(sd)


# ---- errors --------------------------------------------------------------------------------------
BAD_HYPERPARAMETERS = [
    ("SGD", {"lr": -0.1}, "Invalid learning rate: -0.1"),
    ("SGD", {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    ("SGD", {"weight_decay": -1e-3}, "Invalid weight_decay value: -0.001"),
    ("SGD", {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "dampening=0.1"),
    ("SGD", {"lr": float("nan")}, "Invalid learning rate: nan"),
    ("SGD", {"lr": "fast"}, "Invalid learning rate: 'fast'"),
    ("Adam", {"lr": -1.0}, "Invalid learning rate: -1.0"),
    ("Adam", {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    ("Adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    ("Adam", {"betas": (-0.1, 0.999)}, "Invalid beta parameter at index 0: -0.1"),
    ("Adam", {"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1: 1.5"),
    ("Adam", {"betas": 0.9}, "betas must be a pair"),
    ("Adam", {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ("AdamW", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    ("AdamW", {"lr": -2}, "Invalid learning rate: -2"),
]


@pytest.mark.parametrize(
    "name, kw, match", BAD_HYPERPARAMETERS, ids=[f"{n}-{m}" for n, _, m in BAD_HYPERPARAMETERS]
)
def test_bad_hyperparameters(name, kw, match):
    p = numgrad.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=_re(match)):
        getattr(optim, name)([p], **kw)


def test_bad_hyperparameter_in_a_param_group():
    p, q = (numgrad.tensor(np.ones(2), requires_grad=True) for _ in range(2))
    with pytest.raises(ValueError, match=_re("param group 1: Invalid learning rate: -1")):
        optim.SGD([{"params": [p]}, {"params": [q], "lr": -1}], lr=0.1)
    opt = optim.Adam([p])
    with pytest.raises(ValueError, match="param group 1: Invalid beta parameter at index 1"):
        opt.add_param_group({"params": [q], "betas": (0.9, 2.0)})


def test_bad_params():
    p = numgrad.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({p})
    with pytest.raises(TypeError, match="can only optimize Tensors.*ndarray"):
        optim.SGD([np.ones(2)])
    with pytest.raises(TypeError, match="float32 or float64.*int64"):
        optim.SGD([numgrad.tensor([1, 2])])
    with pytest.raises(TypeError, match="float32 or float64.*float16"):
        optim.Adam([numgrad.tensor(np.ones(2, np.float16))])
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p])
    q = numgrad.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p, q]}, {"params": [q]}])
    opt = optim.SGD([p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2])


def test_bad_grads_and_layouts_raise_at_step():
    p = numgrad.tensor(np.ones((2, 3)), requires_grad=True)
    opt = optim.Adam([p])
    p.grad = numgrad.tensor(np.ones(6))
    with pytest.raises(RuntimeError, match=r"gradient of shape \(6,\).*\(2, 3\)"):
        opt.step()
    p.grad = numgrad.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="gradient dtype float32.*float64"):
        opt.step()
    # a transposed gradient is fine (it is only read)
    p.grad = numgrad.tensor(np.ones((3, 2))).t()
    opt.step()
    # a non-contiguous parameter is not: the update could not reach its storage
    base = numgrad.tensor(np.ones((3, 2)), requires_grad=True)
    t = numgrad.tensor(np.ones((3, 2)))
    t._data = base._data.T
    t.requires_grad_(True)
    t.grad = numgrad.tensor(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="not a contiguous writeable array"):
        optim.SGD([t], lr=0.1).step()


def _re(text):
    import re

    return re.escape(text)


# ---- learning-rate schedulers --------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda o, m: m.StepLR(o, step_size=3, gamma=0.5),
        lambda o, m: m.LambdaLR(o, lambda epoch: 1.0 / (1 + epoch)),
        lambda o, m: m.LambdaLR(o, [lambda e: 0.9**e, lambda e: 1 + e]),
    ],
    ids=["StepLR", "LambdaLR", "LambdaLR-per-group"],
)
def test_lr_schedulers_match_torch(make):
    ours, theirs = _make_params(np.float64, shapes=[(2,), (3,)])
    opt = optim.SGD([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.2}], lr=0.1)
    topt = torch.optim.SGD([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.2}], lr=0.1)
    sched, tsched = make(opt, optim.lr_scheduler), make(topt, torch.optim.lr_scheduler)
    assert sched.get_last_lr() == tsched.get_last_lr()
    for _ in range(10):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 10
    again = make(opt, optim.lr_scheduler)
    again.load_state_dict(sd)
    assert again.last_epoch == 10 and again.base_lrs == [0.1, 0.2]


# ---- one update call per group: bound arrays follow every change, as torch's loop does --------
def _step_both(opt, topt, ours, theirs, dtype, gs, what):
    _set_grads(ours, theirs, gs)
    opt.step()
    topt.step()
    _assert_close(ours, theirs, dtype, what)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_one_update_call_per_group_and_step(name):
    shapes = [(3,), (2, 2), (4,), (5,)]
    ours, _ = _make_params(np.float64, shapes=shapes)
    kw = {"momentum": 0.9} if name == "SGD" else {}
    opt = getattr(optim, name)([{"params": ours[:3]}, {"params": ours[3:], "lr": 0.2}], **kw)
    op = "sgd_update" if name == "SGD" else "adam_update"
    for step in range(3):
        gs = _grads(np.float64, step, shapes=shapes)
        gs[1] = None  # skipped, and absent from the call
        for p, g in zip(ours, gs, strict=True):
            p.grad = None if g is None else numgrad.tensor(g)
        with numgrad.autograd.trace() as t:
            opt.step()
        updates = [e for e in t if e.kind == "update"]
        # the second group's only parameter has no gradient every third step: no call
        calls = 2 if gs[3] is not None else 1
        assert [e.op for e in updates] == [op] * calls
        assert [len(e.inputs["param"]) for e in updates] == [2, 1][:calls]
        assert [s.array for s in updates[0].inputs["param"]] == [ours[0]._data, ours[2]._data]
        assert updates[-1].attrs["group"] is opt.param_groups[calls - 1]


@pytest.mark.parametrize(
    "cfg", _state_configs() + [("SGD", {"lr": 0.1, "momentum": 0.5})], ids=_cfg_id
)
def test_changes_between_steps_match_torch(cfg):
    """Parameter data, group lists, state tensors and flags replaced between steps: the
    update uses what is there now, as torch's per-step loop does."""
    name, kw = cfg
    shapes = [(3,), (2, 2), (4,)]
    ours, theirs = _make_params(np.float64, shapes=shapes)
    opt = getattr(optim, name)(ours[:2], **kw)
    topt = _torch_opt(name, theirs[:2], kw)
    step = 0

    def both(what, skip_last=False):
        # each change below comes after a step with the same gradients present, so the
        # change alone is what the bound arrays must follow
        nonlocal step
        gs = [rng.standard_normal(s) for s in shapes]
        if skip_last:
            gs[-1] = None
        _step_both(opt, topt, ours, theirs, np.float64, gs, what)
        step += 1

    rng = np.random.default_rng(8)
    both("start")
    both("again")
    # a parameter appended to the group's list in place: its state starts on this step
    opt.param_groups[0]["params"].append(ours[2])
    topt.param_groups[0]["params"].append(theirs[2])
    both("appended")
    both("appended, skipped", skip_last=True)
    both("appended, again")
    # new storage for a parameter (the old array is dropped)
    new = np.random.default_rng(9).standard_normal((2, 2))
    ours[1].data = numgrad.tensor(new.copy())
    with torch.no_grad():
        theirs[1].data = torch.tensor(new.copy())
    both("new data")
    # a state tensor replaced by the user
    key = "momentum_buffer" if name == "SGD" else "exp_avg"
    if key in topt.state[theirs[0]]:
        opt.state[ours[0]][key] = numgrad.tensor(np.full(3, 0.25))
        topt.state[theirs[0]][key] = torch.full((3,), 0.25, dtype=torch.float64)
    both("state replaced")
    # flags changed in the group: other state slots, another compiled variant
    for g in (opt.param_groups[0], topt.param_groups[0]):
        if name == "SGD":
            g["momentum"] = 0.8
            g["nesterov"] = True
            g["dampening"] = 0
        else:  # torch cannot turn amsgrad on later (no max_exp_avg_sq), only off
            g["amsgrad"] = False
            g["maximize"] = True
            g["betas"] = (0.4, 0.9)  # lerp's other branch
    both("flags changed")
    both("flags changed, again")
    for g in (opt.param_groups[0], topt.param_groups[0]):
        g["weight_decay"] = 0.3
        g["lr"] = 0.03
    both("decay on")


def test_param_whose_first_gradient_comes_late_matches_torch():
    """SGD momentum: the parameter whose buffer is created while the others' exist runs with
    the first-step rule (buffer = gradient), the others without, in the same step."""
    shapes = [(3,), (4,), (2,)]
    ours, theirs = _make_params(np.float32, shapes=shapes)
    opt = optim.SGD(ours, lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1)
    topt = _torch_opt(
        "SGD", theirs, {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.1}
    )
    for step in range(6):
        gs = _grads(np.float32, step, shapes=shapes)
        if step < 3:
            gs[1] = None
        _step_both(opt, topt, ours, theirs, np.float32, gs, f"step {step}")
    np.testing.assert_allclose(
        opt.state[ours[1]]["momentum_buffer"]._data,
        topt.state[theirs[1]]["momentum_buffer"].numpy(),
        **TOL[np.float32],
    )


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_mixed_dtypes_in_one_group_match_torch(name):
    rng = np.random.default_rng(3)
    arrays = [
        rng.standard_normal(3).astype(np.float32),
        rng.standard_normal(4),
        rng.standard_normal(2).astype(np.float32),
    ]
    ours = [numgrad.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    kw = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1, "amsgrad": True}
    opt = getattr(optim, name)(ours, **kw)
    topt = _torch_opt(name, theirs, kw)
    for _ in range(4):
        for p, q in zip(ours, theirs, strict=True):
            g = rng.standard_normal(p.shape).astype(p._data.dtype)
            p.grad, q.grad = numgrad.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        for p, q in zip(ours, theirs, strict=True):
            tol = TOL[p._data.dtype.type]
            np.testing.assert_allclose(p._data, q.detach().numpy(), **tol)
            assert p._data.dtype == q.detach().numpy().dtype


def test_gradients_kept_between_steps_and_strided_gradients_match_torch():
    """zero_grad(set_to_none=False): the same gradient arrays, refilled by backward, every step;
    a transposed (strided) gradient is read through a copy."""
    rng = np.random.default_rng(4)
    w0, x0 = rng.standard_normal((3, 2)), rng.standard_normal((5, 3))
    w, tw = numgrad.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    v0 = rng.standard_normal((2, 3))
    v, tv = numgrad.tensor(v0, requires_grad=True), torch.tensor(v0, requires_grad=True)
    opt = optim.Adam([w, v], lr=0.05)
    topt = torch.optim.Adam([tw, tv], lr=0.05, foreach=False)
    x, tx = numgrad.tensor(x0), torch.tensor(x0)
    for step in range(5):
        opt.zero_grad(set_to_none=False)
        topt.zero_grad(set_to_none=False)
        (x @ w).tanh().sum().backward()
        (tx @ tw).tanh().sum().backward()
        gv = rng.standard_normal((3, 2))
        v.grad = numgrad.tensor(gv).t()  # not contiguous
        tv.grad = torch.tensor(gv).t()
        opt.step()
        topt.step()
        np.testing.assert_allclose(w._data, tw.detach().numpy(), rtol=1e-9, err_msg=str(step))
        np.testing.assert_allclose(v._data, tv.detach().numpy(), rtol=1e-9, err_msg=str(step))


def test_step_counts_of_other_types_become_float32_tensors():
    p = numgrad.tensor(np.ones(3), requires_grad=True)
    q = torch.tensor(np.ones(3), requires_grad=True)
    opt, topt = optim.Adam([p], lr=0.1), torch.optim.Adam([q], lr=0.1, foreach=False)
    for step in range(2):
        p.grad, q.grad = (
            numgrad.tensor(np.full(3, 0.5 + step)),
            torch.full((3,), 0.5 + step, dtype=torch.float64),
        )
        opt.step()
        topt.step()
    sd = opt.state_dict()
    for step_value in (
        2,
        np.array(2.0),
        numgrad.tensor(np.array(2.0)),
    ):  # int, float64 array, float64 tensor
        sd["state"][0]["step"] = step_value
        opt2 = optim.Adam([p2 := numgrad.tensor(p._data.copy(), requires_grad=True)], lr=0.1)
        opt2.load_state_dict(sd)
        p2.grad = numgrad.tensor(np.full(3, 3.0))
        opt2.step()
        st = opt2.state[p2]["step"]
        assert st._data.dtype == np.float32 and float(st._data) == 3.0
    q.grad = torch.full((3,), 3.0, dtype=torch.float64)
    topt.step()
    np.testing.assert_allclose(p2._data, q.detach().numpy(), rtol=1e-9)


def test_deepcopy_of_a_stepped_optimizer_continues_identically():
    import copy

    ours, _ = _make_params(np.float64, shapes=[(3,), (2,)])
    opt = optim.Adam(ours, lr=0.1)
    for p in ours:
        p.grad = numgrad.tensor(np.ones(p.shape))
    opt.step()
    twin = copy.deepcopy(opt)
    twin_params = twin.param_groups[0]["params"]
    assert twin_params[0] is not ours[0]
    for group in (ours, twin_params):
        for p in group:
            p.grad = numgrad.tensor(np.full(p.shape, 0.5))
    opt.step()
    twin.step()
    for p, c in zip(ours, twin_params, strict=True):
        np.testing.assert_array_equal(p._data, c._data)


def test_storage_replaced_by_another_size_in_a_child_process():
    """The bound kernel walks raw addresses: after p.data gets storage of another size (the old
    one freed), a step must use the new size and address (a stale row would write out of
    bounds).  Run in a child process so a crash fails this test only."""
    from tests.reliability.child import assert_child_ok

    out = assert_child_ok(
        """
        import gc
        import numpy as np, torch, numgrad
        from numgrad import optim
        rng = np.random.default_rng(0)
        a0, b0 = rng.standard_normal(3), rng.standard_normal(4)
        ours = [numgrad.tensor(a0, requires_grad=True), numgrad.tensor(b0, requires_grad=True)]
        theirs = [torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
        opt = optim.SGD(ours, lr=0.1)
        topt = torch.optim.SGD(theirs, lr=0.1, foreach=False)
        for size in (3, 100000, 2, 0, 7):
            if size != 3:
                new = rng.standard_normal(size)
                ours[0].data = numgrad.tensor(new.copy())
                with torch.no_grad():
                    theirs[0].data = torch.tensor(new.copy())
                gc.collect()
            for _ in range(2):
                for p, q in zip(ours, theirs):
                    g = rng.standard_normal(p.shape)
                    p.grad, q.grad = numgrad.tensor(g), torch.tensor(g)
                opt.step()
                topt.step()
                for p, q in zip(ours, theirs):
                    # torch may fuse lr * g into an FMA: a cancelling element differs in ulps
                    np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-9, atol=1e-12)
        print("ok")
        """,
        timeout=300,
    )
    assert out.strip().endswith("ok")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "op, group",
    [
        (
            "sgd_update",
            {
                "lr": 0.1,
                "momentum": 0.9,
                "dampening": 0.1,
                "weight_decay": 0.2,
                "nesterov": False,
                "maximize": True,
            },
        ),
        (
            "sgd_update",
            {
                "lr": 0.1,
                "momentum": 0.5,
                "dampening": 0,
                "weight_decay": 0,
                "nesterov": True,
                "maximize": False,
            },
        ),
        (
            "adam_update",
            {
                "lr": 0.1,
                "betas": (0.9, 0.99),
                "eps": 1e-3,
                "weight_decay": 0.1,
                "amsgrad": True,
                "maximize": False,
                "decoupled_weight_decay": True,
            },
        ),
        (
            "adam_update",
            {
                "lr": 0.1,
                "betas": (0.3, 0.9),
                "eps": 1e-8,
                "weight_decay": 0.1,
                "amsgrad": False,
                "maximize": True,
                "decoupled_weight_decay": False,
            },
        ),
    ],
)
def test_update_rules_are_device_neutral(op, group, dtype):
    """The CPU kernel agrees with the same rules run as plain Python, so a device needs only
    the declaration (rules, plan, spec) to implement an update."""
    from numgrad.ops import OPS

    spec = OPS[op].forward.spec
    values = spec["plan"](group, dtype)
    static = tuple(values[f] for f in spec["static"])
    scalars = [values[k] for k in spec["scalars"] + spec["per_tensor_scalars"]]
    nstate = len([s for s in spec["slots"] if s not in ("param", "grad")])
    nstate -= sum(1 for s, f in spec["optional"].items() if not values[f])
    rng = np.random.default_rng(11)
    shapes = [(3,), (2, 2), (), (0,)]
    made = {}
    for device in ("cpu", "python"):
        rows = []
        for k, s in enumerate(shapes):
            state = [np.asarray(np.abs(rng.standard_normal(s)), dtype) for _ in range(nstate)]
            steps = [np.array(k + 2.0, np.float32) for _ in spec["counters"]]
            rows.append((np.asarray(rng.standard_normal(s), dtype), None, *state, *steps))
        grads = [np.asarray(rng.standard_normal(s), dtype) for s in shapes]
        if device == "cpu":
            bound = OPS[op].forward.on("cpu", op)(rows, static, np.dtype(dtype))
        else:
            # the reference device's update: the rules run as plain Python per element
            bound = ref_backend.Update(op)(rows, static, np.dtype(dtype))
        rng = np.random.default_rng(11)  # the same data for both
        for _ in range(3):
            bound(grads, *scalars)
        made[device] = rows
    for r_cpu, r_py in zip(made["cpu"], made["python"], strict=True):
        for a, b in zip(r_cpu, r_py, strict=True):
            if a is not None:
                np.testing.assert_allclose(a, b, **TOL[dtype])
