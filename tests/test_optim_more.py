"""RMSprop, Adagrad, Adadelta, Adamax, RAdam, NAdam, LBFGS and the lr schedulers vs torch.

Optimizers step by step on the same gradients as ``torch.optim`` (``foreach=False``: torch's
single-tensor path, the one numgrad mirrors), state dicts in torch's layout and loaded both
ways, the optimizer API (param groups added or edited between steps, ``zero_grad``), LBFGS in
both line-search modes on a small regression, and every scheduler's rates over 30 steps.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from test_optim import _grads, _make_params, _set_grads, _torch_opt

import numgrad
from numgrad import optim
from numgrad.optim import lr_scheduler

# torch warns when a scheduler steps before its optimizer: these tests step schedulers alone
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`")

STEPS = 10
# float64 agrees to rounding (the rules keep torch's expression order); float32 to its epsilon
TOL = {np.float32: {"rtol": 2e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-15}}
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]

# (optimizer name, kwargs): torch's defaults, each option alone, and combinations
CONFIGS = [
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
    ("RMSprop", {"lr": 0.01, "eps": 1e-3}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "alpha": 0.3}),  # lerp's weight >= 0.5 branch
    ("RMSprop", {"lr": 0.01, "maximize": True}),
    (
        "RMSprop",
        {
            "lr": 0.02,
            "alpha": 0.8,
            "eps": 1e-6,
            "weight_decay": 0.2,
            "momentum": 0.5,
            "centered": True,
            "maximize": True,
        },
    ),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-3}),
    ("Adagrad", {"lr": 0.1, "maximize": True}),
    (
        "Adagrad",
        {
            "lr": 0.2,
            "lr_decay": 0.1,
            "weight_decay": 0.3,
            "initial_accumulator_value": 0.1,
            "eps": 1e-6,
            "maximize": True,
        },
    ),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5}),
    ("Adadelta", {"eps": 1e-3}),
    ("Adadelta", {"weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("Adadelta", {"lr": 0.3, "rho": 0.7, "eps": 1e-4, "weight_decay": 0.2, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.05, "betas": (0.3, 0.9)}),  # lerp's weight >= 0.5 branch
    ("Adamax", {"lr": 0.05, "eps": 1e-2}),
    ("Adamax", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.05, "maximize": True}),
    (
        "Adamax",
        {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-4, "weight_decay": 0.2, "maximize": True},
    ),
    ("RAdam", {}),
    # rho_t passes 5 (the rectified branch) at step 6 with beta2 = 0.999, at step 7 with 0.8,
    # never with 0.6; beta1 = 0.3 takes lerp's other branch
    ("RAdam", {"lr": 0.05, "betas": (0.3, 0.8)}),
    ("RAdam", {"lr": 0.05, "eps": 1e-2, "betas": (0.9, 0.6)}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.05, "maximize": True, "betas": (0.9, 0.8)}),
    (
        "RAdam",
        {
            "lr": 0.05,
            "betas": (0.8, 0.8),
            "eps": 1e-4,
            "weight_decay": 0.2,
            "decoupled_weight_decay": True,
            "maximize": True,
        },
    ),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.05, "betas": (0.3, 0.9)}),  # lerp's weight >= 0.5 branch
    ("NAdam", {"lr": 0.05, "momentum_decay": 0.5}),
    ("NAdam", {"lr": 0.05, "eps": 1e-2}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.05, "maximize": True}),
    (
        "NAdam",
        {
            "lr": 0.05,
            "betas": (0.8, 0.95),
            "eps": 1e-4,
            "weight_decay": 0.2,
            "momentum_decay": 0.1,
            "decoupled_weight_decay": True,
            "maximize": True,
        },
    ),
]


def _cfg_id(cfg):
    name, kw = cfg
    return name + "-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")


def _close(ours, theirs, dtype, what=""):
    for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(
            p._data, q.detach().numpy(), **TOL[dtype], err_msg=f"{what} param {i}"
        )


# ---- parity with torch, step by step ------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", CONFIGS, ids=_cfg_id)
def test_parity_with_torch(cfg, dtype):
    name, kw = cfg
    ours, theirs = _make_params(dtype)
    opt = getattr(optim, name)(ours, **kw)
    topt = _torch_opt(name, theirs, kw)
    for step in range(STEPS):
        _set_grads(ours, theirs, _grads(dtype, step))  # the last one skips every third step
        opt.step()
        topt.step()
        _close(ours, theirs, dtype, f"{name} step {step}")
    for p in ours:
        assert p._data.dtype == dtype
    # the state matches torch's too, key by key (Adagrad's exists from construction, as torch's)
    for p, q in zip(ours, theirs, strict=True):
        st, tst = opt.state[p], topt.state[q]
        assert set(st) == set(tst)
        for key, value in st.items():
            expect = tst[key].numpy()
            assert value._data.dtype == expect.dtype, key
            np.testing.assert_allclose(value._data, expect, **TOL[dtype], err_msg=key)


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Adadelta", "Adamax", "RAdam", "NAdam"])
def test_defaults_and_repr_match_torch(name):
    ours, theirs = _make_params(np.float64, shapes=[(2,)])
    opt = getattr(optim, name)(ours)
    topt = getattr(torch.optim, name)(theirs)
    for key, value in opt.defaults.items():
        assert topt.defaults[key] == value, key
    assert repr(opt).startswith(f"{name} (\nParameter Group 0\n")


def test_one_update_call_per_group_and_step():
    shapes = [(3,), (2, 2), (4,)]
    ours, _ = _make_params(np.float64, shapes=shapes)
    for name, op in [
        ("RMSprop", "rmsprop_update"),
        ("Adagrad", "adagrad_update"),
        ("Adadelta", "adadelta_update"),
        ("Adamax", "adamax_update"),
        ("RAdam", "radam_update"),
        ("NAdam", "nadam_update"),
    ]:
        opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:]}])
        for p, g in zip(ours, _grads(np.float64, 0, shapes=shapes), strict=True):
            p.grad = numgrad.tensor(g)
        with numgrad.autograd.trace() as t:
            opt.step()
        updates = [e for e in t if e.kind == "update"]
        assert [e.op for e in updates] == [op, op]
        assert [len(e.inputs["param"]) for e in updates] == [2, 1]


# ---- the optimizer API ---------------------------------------------------------------------------
def _new(name, params, kw):
    return getattr(optim, name)(params, **kw), _torch_opt(name, _torch_params(params), kw)


def _torch_params(params):
    return [torch.tensor(p._data.copy(), requires_grad=True) for p in params]


API_CONFIGS = [
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.2}),
    ("Adadelta", {"rho": 0.8}),
    ("Adamax", {"lr": 0.02}),
    ("Adam", {"lr": 0.02}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
]


@pytest.mark.parametrize("cfg", API_CONFIGS, ids=_cfg_id)
def test_add_param_group_and_edited_options_match_torch(cfg):
    name, kw = cfg
    shapes = [(3,), (2, 2), (4,)]
    ours, theirs = _make_params(np.float64, shapes=shapes)
    opt = getattr(optim, name)(ours[:2], **kw)
    topt = _torch_opt(name, theirs[:2], kw)
    for step in range(6):
        if step == 2:
            # a new group with its own lr: its parameters start stepping from here
            opt.add_param_group({"params": [ours[2]], "lr": 0.05})
            topt.add_param_group({"params": [theirs[2]], "lr": 0.05})
            ours_keys, theirs_keys = set(opt.param_groups[1]), set(topt.param_groups[1])
            assert ours_keys <= theirs_keys
            assert theirs_keys - ours_keys <= {"foreach", "differentiable", "capturable", "fused"}
        if step == 4:
            # options edited between steps take effect at the next one
            for group in (opt.param_groups[0], topt.param_groups[0]):
                group["lr"] *= 0.5
                group["weight_decay"] = 0.1
                group["maximize"] = True
        n = len(opt.param_groups[0]["params"]) + (step >= 2)
        gs = _grads(np.float64, step, shapes=shapes)[:n]
        _set_grads(ours[:n], theirs[:n], gs)
        opt.step()
        topt.step()
        _close(ours, theirs, np.float64, f"step {step}")


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Adadelta", "Adamax"])
def test_zero_grad_set_to_none_and_to_zeros(name):
    ours, theirs = _make_params(np.float64, shapes=[(3,), (2,)])
    opt = getattr(optim, name)(ours)
    topt = _torch_opt(name, theirs, {})
    _set_grads(ours, theirs, _grads(np.float64, 0, shapes=[(3,), (2,)]))
    opt.zero_grad(set_to_none=False)
    topt.zero_grad(set_to_none=False)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad._data, q.grad.numpy())
    opt.step()  # zero gradients still step (weight decay, momentum...), as in torch
    topt.step()
    _close(ours, theirs, np.float64)
    opt.zero_grad()
    topt.zero_grad()
    assert all(p.grad is None for p in ours) and all(q.grad is None for q in theirs)


# ---- state dicts ---------------------------------------------------------------------------------
STATE_CONFIGS = [
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.2}),
    ("Adadelta", {"rho": 0.8, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.02}),
    ("RAdam", {"lr": 0.02, "betas": (0.9, 0.8), "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.02, "momentum_decay": 0.1, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("cfg", STATE_CONFIGS, ids=_cfg_id)
def test_state_dict_round_trip_continues_identically(cfg):
    name, kw = cfg
    shapes = [(3,), (2, 2), (4,)]
    ours, _ = _make_params(np.float64, shapes=shapes)
    opt = getattr(optim, name)([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.03}], **kw)
    for step in range(4):
        for p, g in zip(ours, _grads(np.float64, step, shapes=shapes), strict=True):
            p.grad = None if g is None else numgrad.tensor(g)
        opt.step()
    sd = copy.deepcopy(opt.state_dict())
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sd["param_groups"][1]["lr"] == 0.03

    clones = [numgrad.tensor(p._data.copy(), requires_grad=True) for p in ours]
    opt2 = getattr(optim, name)([{"params": clones[:1]}, {"params": clones[1:]}], lr=9.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.03
    for step in range(4, 8):
        for group in (ours, clones):
            for p, g in zip(group, _grads(np.float64, step, shapes=shapes), strict=True):
                p.grad = None if g is None else numgrad.tensor(g)
        opt.step()
        opt2.step()
        for p, c in zip(ours, clones, strict=True):
            np.testing.assert_array_equal(p._data, c._data)


@pytest.mark.parametrize("cfg", STATE_CONFIGS, ids=_cfg_id)
def test_state_dicts_cross_load_with_torch(cfg):
    """Same layout as torch's; a torch state dict loads into numgrad and a numgrad one (as
    torch tensors) into torch, and both continue in step."""
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
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]

    # torch -> numgrad
    fresh = [numgrad.tensor(q.detach().numpy().copy(), requires_grad=True) for q in theirs]
    opt3 = getattr(optim, name)(fresh, lr=1.0)
    opt3.load_state_dict(tsd)
    assert opt3.state[fresh[0]]["step"].dtype == numgrad.float32
    # numgrad -> torch
    tfresh = [torch.tensor(p._data.copy(), requires_grad=True) for p in ours]
    topt3 = _torch_opt(name, tfresh, {"lr": 1.0})
    as_torch = {
        "state": {
            k: {key: torch.tensor(v._data.copy()) for key, v in st.items()}
            for k, st in sd["state"].items()
        },
        "param_groups": [dict(g, foreach=False) for g in copy.deepcopy(sd["param_groups"])],
    }
    topt3.load_state_dict(as_torch)
    for step in range(3, 6):
        gs = _grads(np.float64, step, shapes=shapes)
        _set_grads(fresh, theirs, gs)
        _set_grads(ours, tfresh, gs)
        for o in (opt, opt3, topt, topt3):
            o.step()
        _close(fresh, theirs, np.float64, f"torch -> numgrad, step {step}")
        if name == "NAdam":
            # torch's load_state_dict casts mu_product to the parameter's dtype (float64 here),
            # so torch loaded from any state dict, its own too, drifts from float32 products
            for p, q in zip(ours, tfresh, strict=True):
                np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-9)
        else:
            _close(ours, tfresh, np.float64, f"numgrad -> torch, step {step}")


# ---- hyperparameter checks -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, kw",
    [
        ("RMSprop", {"lr": -1.0}),
        ("RMSprop", {"alpha": -0.1}),
        ("RMSprop", {"eps": -1.0}),
        ("RMSprop", {"momentum": -0.5}),
        ("RMSprop", {"weight_decay": -0.1}),
        ("Adagrad", {"lr": -1.0}),
        ("Adagrad", {"lr_decay": -0.1}),
        ("Adagrad", {"weight_decay": -0.1}),
        ("Adagrad", {"initial_accumulator_value": -1.0}),
        ("Adagrad", {"eps": -1.0}),
        ("Adadelta", {"lr": -1.0}),
        ("Adadelta", {"rho": 1.5}),
        ("Adadelta", {"rho": -0.1}),
        ("Adadelta", {"eps": -1.0}),
        ("Adadelta", {"weight_decay": -0.1}),
        ("Adamax", {"lr": -1.0}),
        ("Adamax", {"betas": (1.0, 0.9)}),
        ("Adamax", {"betas": (0.9, -0.1)}),
        ("Adamax", {"eps": -1.0}),
        ("Adamax", {"weight_decay": -0.1}),
        ("RAdam", {"betas": (0.9, 1.0)}),
        ("RAdam", {"eps": -1.0}),
        ("NAdam", {"momentum_decay": -0.1}),
        ("NAdam", {"betas": (-0.1, 0.9)}),
        ("LBFGS", {"lr": -1.0}),
    ],
)
def test_bad_hyperparameters_raise_like_torch(name, kw):
    ours, theirs = _make_params(np.float64, shapes=[(2,)])
    with pytest.raises(ValueError) as theirs_err:
        getattr(torch.optim, name)(theirs, **kw)
    with pytest.raises(ValueError) as ours_err:
        getattr(optim, name)(ours, **kw)
    # the same words as torch's message, before the value
    assert str(ours_err.value).split(":")[0] == str(theirs_err.value).split(":")[0]


# ---- LBFGS -------------------------------------------------------------------------------------
def _regression(lib, dtype=np.float64):
    """A small least-squares problem with a nonlinearity: (weight, bias) and a closure maker."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20, 3))
    y = np.tanh(x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3) + 0.05 * rng.standard_normal((20, 1))
    w0 = 0.1 * rng.standard_normal((3, 1))
    if lib == "torch":
        mk = lambda a, rg=False: torch.tensor(a.astype(dtype), requires_grad=rg)
    else:
        mk = lambda a, rg=False: numgrad.tensor(a.astype(dtype), requires_grad=rg)
    xt, yt = mk(x), mk(y)
    w, b = mk(w0, True), mk(np.zeros(1), True)

    def closure_for(opt, calls):
        def closure():
            calls.append(1)
            opt.zero_grad()
            loss = (((xt @ w + b).tanh() - yt) ** 2).mean()
            loss.backward()
            return loss

        return closure

    return [w, b], closure_for


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"line_search_fn": "strong_wolfe"},
        {"lr": 0.5, "max_iter": 5, "history_size": 3},
        {"line_search_fn": "strong_wolfe", "max_iter": 8, "history_size": 2, "max_eval": 12},
        {"tolerance_grad": 1e-3, "tolerance_change": 1e-4, "line_search_fn": "strong_wolfe"},
        {"lr": 0.8, "tolerance_change": 1e-3},
    ],
    ids=["fixed", "strong_wolfe", "fixed-short-history", "wolfe-short", "wolfe-tol", "fixed-tol"],
)
def test_lbfgs_matches_torch(kw):
    ours, closure_ours = _regression("numgrad")
    theirs, closure_theirs = _regression("torch")
    opt = optim.LBFGS(ours, **kw)
    topt = torch.optim.LBFGS(theirs, **kw)
    calls, tcalls = [], []
    c, tc = closure_ours(opt, calls), closure_theirs(topt, tcalls)
    for step in range(3):
        loss = opt.step(c)
        tloss = topt.step(tc)
        assert isinstance(loss, numgrad.Tensor)
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-10, abs=1e-14)
        assert len(calls) == len(tcalls), f"closure evaluations, step {step}"
        for p, q in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(
                p._data, q.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=f"step {step}"
            )
    st, tst = opt.state[ours[0]], topt.state[theirs[0]]
    assert set(st) == set(tst)
    assert st["n_iter"] == tst["n_iter"] and st["func_evals"] == tst["func_evals"]
    assert len(st["old_dirs"]) == len(tst["old_dirs"])
    np.testing.assert_allclose(st["d"]._data, tst["d"].numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_round_trips_and_loads_torch_state(line_search_fn):
    """Rebuilt from a state dict (numgrad's or torch's), LBFGS continues as the original."""
    kw = {"line_search_fn": line_search_fn, "max_iter": 4, "history_size": 3}
    ours, closure_ours = _regression("numgrad")
    theirs, closure_theirs = _regression("torch")
    opt, topt = optim.LBFGS(ours, **kw), torch.optim.LBFGS(theirs, **kw)
    opt.step(closure_ours(opt, []))
    topt.step(closure_theirs(topt, []))
    sd, tsd = copy.deepcopy(opt.state_dict()), copy.deepcopy(topt.state_dict())
    assert set(sd["state"][0]) == set(tsd["state"][0])
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"] == [0, 1]
    for source in (sd, tsd):
        params, make_closure = _regression("numgrad")
        for p, q in zip(params, ours, strict=True):
            p.data = q.detach().clone()
        again = optim.LBFGS(params, **kw)
        again.load_state_dict(source)
        c_again, c_ours = make_closure(again, []), closure_ours(opt, [])
        reference = [p._data.copy() for p in ours]
        again.step(c_again)
        opt.step(c_ours)
        for p, q in zip(params, ours, strict=True):
            np.testing.assert_allclose(p._data, q._data, rtol=1e-9, atol=1e-13)
        for p, r in zip(ours, reference, strict=True):  # step back for the next source
            p.data = numgrad.tensor(r)
        opt.load_state_dict(sd)


def test_lbfgs_converges_float32():
    ours, closure_ours = _regression("numgrad", np.float32)
    opt = optim.LBFGS(ours, line_search_fn="strong_wolfe")
    c = closure_ours(opt, [])
    first = opt.step(c).item()
    for _ in range(3):
        last = opt.step(c).item()
    assert last < first * 0.5
    assert ours[0].dtype == numgrad.float32


def test_lbfgs_errors():
    ours, _ = _make_params(np.float64, shapes=[(2,), (3,)])
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": ours[:1]}, {"params": ours[1:]}])
    opt = optim.LBFGS(ours)
    with pytest.raises(ValueError, match="parameter groups"):
        opt.add_param_group({"params": []})
    with pytest.raises(TypeError):
        opt.step()  # as torch's: the closure is a required argument
    with pytest.raises(RuntimeError, match="closure"):
        opt.step(None)
    with pytest.raises(ValueError, match="strong_wolfe"):
        optim.LBFGS(ours, line_search_fn="backtracking")


def test_lbfgs_gradient_none_counts_as_zero():
    """A parameter the loss does not use keeps grad None: torch counts it as zeros."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(3)
    ours = [numgrad.tensor(a, requires_grad=True), numgrad.tensor(np.ones(2), requires_grad=True)]
    theirs = [torch.tensor(a, requires_grad=True), torch.tensor(np.ones(2), requires_grad=True)]
    for lib, params in ((optim, ours), (torch.optim, theirs)):
        opt = lib.LBFGS(params, line_search_fn="strong_wolfe")

        def closure(opt=opt, params=params):
            opt.zero_grad()
            loss = ((params[0] - 1.0) ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
    _close(ours, theirs, np.float64)


# ---- learning-rate schedulers ------------------------------------------------------------------
def _sched_opts(name="SGD", kw=None):
    kw = {"lr": 0.1, "momentum": 0.9} if kw is None else kw
    ours, theirs = _make_params(np.float64, shapes=[(2,), (3,)])
    opt = getattr(optim, name)([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.2}], **kw)
    topt = getattr(torch.optim, name)(
        [{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.2}], **kw
    )
    return opt, topt


class _Scale:
    """A callable object: its ``__dict__`` goes into the scheduler's state dict."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, epoch):
        return self.factor**epoch


SCHEDULERS = {
    "StepLR": lambda o, m: m.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda o, m: m.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.3),
    "ExponentialLR": lambda o, m: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o, m: m.CosineAnnealingLR(o, T_max=10),
    "CosineAnnealingLR-eta_min": lambda o, m: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "LinearLR": lambda o, m: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=8),
    "LinearLR-defaults": lambda o, m: m.LinearLR(o),
    "ConstantLR": lambda o, m: m.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda o, m: m.PolynomialLR(o, total_iters=12, power=2.0),
    "LambdaLR": lambda o, m: m.LambdaLR(o, lambda e: 1.0 / (1 + e)),
    "LambdaLR-object": lambda o, m: m.LambdaLR(o, [_Scale(0.9), _Scale(0.95)]),
    "MultiplicativeLR": lambda o, m: m.MultiplicativeLR(o, lambda e: 0.95),
    "CosineAnnealingWarmRestarts": lambda o, m: m.CosineAnnealingWarmRestarts(o, T_0=5),
    "CosineAnnealingWarmRestarts-mult": lambda o, m: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.001
    ),
    "OneCycleLR-cos": lambda o, m: m.OneCycleLR(o, max_lr=1.0, total_steps=31),
    "OneCycleLR-linear-three_phase": lambda o, m: m.OneCycleLR(
        o,
        max_lr=[0.5, 1.0],
        epochs=4,
        steps_per_epoch=8,
        pct_start=0.25,
        anneal_strategy="linear",
        three_phase=True,
        div_factor=10.0,
        final_div_factor=100.0,
    ),
    "OneCycleLR-no-momentum": lambda o, m: m.OneCycleLR(
        o, max_lr=0.3, total_steps=40, cycle_momentum=False
    ),
    "CyclicLR-triangular2": lambda o, m: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4, mode="triangular2"
    ),
    "CyclicLR-exp_range": lambda o, m: m.CyclicLR(
        o,
        base_lr=[0.01, 0.02],
        max_lr=0.1,
        step_size_up=3,
        step_size_down=5,
        mode="exp_range",
        gamma=0.97,
    ),
    "SequentialLR": lambda o, m: m.SequentialLR(
        o,
        [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=20)],
        milestones=[5],
    ),
    "SequentialLR-three": lambda o, m: m.SequentialLR(
        o,
        [
            m.ConstantLR(o, factor=0.2, total_iters=3),
            m.ExponentialLR(o, gamma=0.9),
            m.StepLR(o, step_size=3, gamma=0.5),
        ],
        milestones=[4, 12],
    ),
    "ChainedScheduler": lambda o, m: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.1, total_iters=2), m.ExponentialLR(o, gamma=0.9)]
    ),
}


def _same_lrs(ours, theirs, what):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a == pytest.approx(b, rel=1e-13, abs=1e-16), what


def _same_momenta(opt, topt, what):
    for g, tg in zip(opt.param_groups, topt.param_groups, strict=True):
        for key in ("momentum", "betas"):
            if key in tg:
                assert g[key] == pytest.approx(tg[key], rel=1e-13), f"{what}: {key}"


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_rates_match_torch(name):
    make = SCHEDULERS[name]
    opt, topt = _sched_opts()
    sched, tsched = make(opt, lr_scheduler), make(topt, torch.optim.lr_scheduler)
    _same_lrs(sched.get_last_lr(), tsched.get_last_lr(), "initial")
    _same_lrs([g["lr"] for g in opt.param_groups], [g["lr"] for g in topt.param_groups], "init")
    for step in range(30):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        _same_lrs(sched.get_last_lr(), tsched.get_last_lr(), f"step {step}")
        _same_lrs(
            [g["lr"] for g in opt.param_groups], [g["lr"] for g in topt.param_groups], f"{step}"
        )
        _same_momenta(opt, topt, f"step {step}")


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_state_dict_round_trip(name):
    """A scheduler rebuilt and loaded from a state dict (with the optimizer's) continues the
    same sequence, as torch's does."""
    make = SCHEDULERS[name]
    opt, topt = _sched_opts()
    sched, tsched = make(opt, lr_scheduler), make(topt, torch.optim.lr_scheduler)
    for _ in range(12):
        sched.step()
        tsched.step()
    sd, osd = copy.deepcopy(sched.state_dict()), copy.deepcopy(opt.state_dict())
    assert "optimizer" not in sd
    # torch also saves a flag its get_lr warnings read
    assert set(sd) == set(tsched.state_dict()) - {"_get_lr_called_within_step"}
    opt2, _ = _sched_opts()
    sched2 = make(opt2, lr_scheduler)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(sd)
    for step in range(12):
        sched.step()
        sched2.step()
        tsched.step()
        assert sched2.get_last_lr() == sched.get_last_lr(), f"step {step}"
        _same_lrs(sched2.get_last_lr(), tsched.get_last_lr(), f"step {step}")


def test_one_cycle_cycles_adam_beta1_like_torch():
    opt, topt = _sched_opts("Adam", {"lr": 0.01, "betas": (0.9, 0.99)})
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=20, three_phase=True)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.1, total_steps=20, three_phase=True)
    ours = [p for g in opt.param_groups for p in g["params"]]
    theirs = [p for g in topt.param_groups for p in g["params"]]
    for step in range(19):
        _set_grads(ours, theirs, _grads(np.float64, step, shapes=[(2,), (3,)]))
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        _same_momenta(opt, topt, f"step {step}")
        assert opt.param_groups[0]["betas"][1] == 0.99
        _close(ours, theirs, np.float64, f"step {step}")
    with pytest.raises(ValueError, match="Tried to step 21 times"):
        sched.step()
        sched.step()


def test_step_with_epoch_uses_the_closed_form_like_torch():
    for name in ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR"]:
        opt, topt = _sched_opts()
        sched, tsched = (
            SCHEDULERS[name](opt, lr_scheduler),
            SCHEDULERS[name](topt, torch.optim.lr_scheduler),
        )
        for epoch in [3, 9, 4, 15]:
            sched.step(epoch)
            with pytest.warns(UserWarning):
                tsched.step(epoch)
            _same_lrs(sched.get_last_lr(), tsched.get_last_lr(), f"{name} epoch {epoch}")
    opt, topt = _sched_opts()
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)
    tsched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=4, T_mult=2)
    for epoch in [0.5, 1.25, 7.5, 13.0, 2.0]:
        sched.step(epoch)
        tsched.step(epoch)
        _same_lrs(sched.get_last_lr(), tsched.get_last_lr(), f"warm restarts {epoch}")


PLATEAU = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2},
    {"threshold_mode": "abs", "threshold": 0.05, "patience": 1, "cooldown": 2},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.1, "patience": 0, "min_lr": 0.02},
    {"patience": 1, "min_lr": [0.05, 0.001], "factor": 0.3, "eps": 1e-3},
]


@pytest.mark.parametrize("kw", PLATEAU, ids=lambda kw: "-".join(kw) or "defaults")
def test_reduce_lr_on_plateau_matches_torch(kw):
    opt, topt = _sched_opts()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    rng = np.random.default_rng(3)
    metrics = np.concatenate([np.linspace(1, 0.5, 6), 0.5 + 0.02 * rng.standard_normal(24)])
    for step, m in enumerate(metrics):
        metric = numgrad.tensor(m) if step % 2 else float(m)  # a 0-d tensor is a metric too
        sched.step(metric)
        tsched.step(float(m))
        _same_lrs(sched.get_last_lr(), tsched.get_last_lr(), f"step {step}")
        assert sched.num_bad_epochs == tsched.num_bad_epochs
        assert sched.cooldown_counter == tsched.cooldown_counter
    again = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    again.load_state_dict(copy.deepcopy(sched.state_dict()))
    assert again.best == sched.best and again.num_bad_epochs == sched.num_bad_epochs


def test_scheduler_errors_like_torch():
    opt, topt = _sched_opts()
    cases = [
        lambda o, m: m.ConstantLR(o, factor=1.5),
        lambda o, m: m.LinearLR(o, start_factor=0.0),
        lambda o, m: m.ReduceLROnPlateau(o, factor=1.0),
        lambda o, m: m.ReduceLROnPlateau(o, mode="middle"),
        lambda o, m: m.OneCycleLR(o, max_lr=0.1),
        lambda o, m: m.OneCycleLR(o, max_lr=[0.1], total_steps=10),
        lambda o, m: m.CosineAnnealingWarmRestarts(o, T_0=0),
        lambda o, m: m.SequentialLR(o, [m.ExponentialLR(o, 0.9)], milestones=[3]),
    ]
    for make in cases:
        with pytest.raises(ValueError) as theirs:
            make(topt, torch.optim.lr_scheduler)
        with pytest.raises(ValueError) as ours:
            make(opt, lr_scheduler)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    adagrad = optim.Adagrad(_make_params(np.float64, shapes=[(2,)])[0])
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(adagrad, max_lr=0.1, total_steps=10)


def test_every_scheduler_torch_has_that_numgrad_lists():
    """The lazily imported module lists what torch's has, minus what is consciously left out."""
    names = {n for n in torch.optim.lr_scheduler.__all__ if not n.startswith("_")}
    missing = names - set(lr_scheduler.__all__)
    assert missing <= {"SWALR"}, missing  # SWALR belongs to torch.optim.swa_utils
    assert math.isclose(0.1, optim.lr_scheduler.StepLR(_sched_opts()[0], 3).get_last_lr()[0])


def test_a_user_scheduler_subclass_runs_like_torch():
    """Tutorials subclass LRScheduler (or the older _LRScheduler) and write get_lr."""

    def define(m):
        class Warmup(m.optim.lr_scheduler._LRScheduler):
            def __init__(self, optimizer, warmup):
                self.warmup = warmup
                super().__init__(optimizer)

            def get_lr(self):
                scale = min(1.0, (self.last_epoch + 1) / self.warmup)
                return [base * scale for base in self.base_lrs]

        return Warmup

    opt, topt = _sched_opts()
    sched, tsched = define(numgrad)(opt, 4), define(torch)(topt, 4)
    for step in range(8):
        _same_lrs(sched.get_last_lr(), tsched.get_last_lr(), f"step {step}")
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
