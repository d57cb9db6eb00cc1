"""Training parity: random MLPs trained from torch's initial weights match torch every step."""

import numpy as np
import pytest
import torch

import numgrad as ng

ACTS = {
    "relu": (ng.nn.ReLU, torch.nn.ReLU),
    "tanh": (ng.nn.Tanh, torch.nn.Tanh),
    "sigmoid": (ng.nn.Sigmoid, torch.nn.Sigmoid),
    "leaky_relu": (lambda: ng.nn.LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1)),
    "gelu": (ng.nn.GELU, torch.nn.GELU),
}
LOSSES = ["mse", "l1", "bce_logits", "bce", "cross_entropy", "nll", "huber"]
OPTIMS = {
    "sgd": ({"lr": 0.05}, "SGD"),
    "sgd_momentum": ({"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3}, "SGD"),
    "sgd_nesterov": ({"lr": 0.05, "momentum": 0.9, "nesterov": True}, "SGD"),
    "adam": ({"lr": 1e-2}, "Adam"),
    "adam_amsgrad": ({"lr": 1e-2, "weight_decay": 1e-2, "amsgrad": True}, "Adam"),
    "adamw": ({"lr": 1e-2, "weight_decay": 0.1}, "AdamW"),
}


def _build(depth, widths, act, out_dim, final_sigmoid, final_logsoftmax):
    ng_layers, t_layers = [], []
    dims = widths[: depth + 1] + [out_dim]
    for i in range(len(dims) - 1):
        ng_layers.append(ng.nn.Linear(dims[i], dims[i + 1]))
        t_layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            ng_layers.append(ACTS[act][0]())
            t_layers.append(ACTS[act][1]())
    if final_sigmoid:
        ng_layers.append(ng.nn.Sigmoid())
        t_layers.append(torch.nn.Sigmoid())
    if final_logsoftmax:
        ng_layers.append(ng.nn.LogSoftmax(dim=1))
        t_layers.append(torch.nn.LogSoftmax(dim=1))
    return ng.nn.Sequential(*ng_layers), torch.nn.Sequential(*t_layers)


def _loss_fns(name):
    table = {
        "mse": (ng.nn.MSELoss(), torch.nn.MSELoss()),
        "l1": (ng.nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum")),
        "bce_logits": (ng.nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss()),
        "bce": (ng.nn.BCELoss(), torch.nn.BCELoss()),
        "cross_entropy": (ng.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
        "nll": (ng.nn.NLLLoss(), torch.nn.NLLLoss()),
        "huber": (ng.nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5)),
    }
    return table[name]


def _cases():
    rng = np.random.default_rng(1234)
    cases = []
    for k in range(24):
        cases.append(
            dict(
                depth=int(rng.integers(1, 4)),
                widths=[int(w) for w in rng.integers(2, 24, size=4)],
                batch=int(rng.integers(1, 33)),
                act=list(ACTS)[k % len(ACTS)],
                loss=LOSSES[k % len(LOSSES)],
                optim=list(OPTIMS)[k % len(OPTIMS)],
                dtype=("float64", "float32")[(k // 2) % 2],
                seed=k,
            )
        )
    return cases


@pytest.mark.parametrize(
    "case",
    _cases(),
    ids=lambda c: f"{c['optim']}-{c['loss']}-{c['act']}-d{c['depth']}-b{c['batch']}-{c['dtype']}",
)
def test_mlp_parity_every_step(case):
    rng = np.random.default_rng(case["seed"])
    torch.manual_seed(case["seed"])
    loss = case["loss"]
    classes = loss in ("cross_entropy", "nll")
    out_dim = int(rng.integers(2, 6)) if classes else int(rng.integers(1, 4))
    ng_net, t_net = _build(
        case["depth"],
        case["widths"],
        case["act"],
        out_dim,
        final_sigmoid=loss == "bce",
        final_logsoftmax=loss == "nll",
    )
    np_dt = np.dtype(case["dtype"])
    t_net = t_net.to(getattr(torch, case["dtype"]))
    ng_net.to(case["dtype"])
    ng_net.load_state_dict(t_net.state_dict())  # torch's initial weights

    x = rng.standard_normal((case["batch"], case["widths"][0])).astype(np_dt)
    if classes:
        y = rng.integers(0, out_dim, case["batch"])
    elif loss in ("bce", "bce_logits"):
        y = (rng.random((case["batch"], out_dim)) > 0.5).astype(np_dt)
    else:
        y = rng.standard_normal((case["batch"], out_dim)).astype(np_dt)

    kw, cls = OPTIMS[case["optim"]]
    ng_opt = getattr(ng.optim, cls)(ng_net.parameters(), **kw)
    t_opt = getattr(torch.optim, cls)(t_net.parameters(), **kw)
    ng_loss, t_loss = _loss_fns(loss)
    rtol, atol = (1e-9, 1e-12) if case["dtype"] == "float64" else (1e-4, 1e-5)

    for step in range(5):
        ng_opt.zero_grad()
        lv = ng_loss(ng_net(ng.tensor(x)), ng.tensor(y))
        lv.backward()
        ng_opt.step()
        t_opt.zero_grad()
        tv = t_loss(t_net(torch.from_numpy(x)), torch.from_numpy(y))
        tv.backward()
        t_opt.step()
        np.testing.assert_allclose(
            lv.item(), tv.item(), rtol=rtol, atol=atol, err_msg=f"loss at step {step}"
        )
        t_state = t_net.state_dict()
        for name, p in ng_net.state_dict().items():
            assert p.dtype.name == case["dtype"]
            np.testing.assert_allclose(
                p.numpy(),
                t_state[name].numpy(),
                rtol=rtol,
                atol=atol,
                err_msg=f"{name} after step {step}",
            )


def test_dropout_train_eval_and_scaling():
    ng.manual_seed(0)
    d = ng.nn.Dropout(0.25)
    x = ng.ones(4000, requires_grad=True)
    y = d(x)
    kept = y.detach().numpy() != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75, rtol=1e-6)
    d.eval()
    assert d(x) is x


def test_state_dict_roundtrip_with_torch():
    t_net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    ng_net = ng.nn.Sequential(ng.nn.Linear(3, 4), ng.nn.ReLU(), ng.nn.Linear(4, 2))
    assert list(ng_net.state_dict()) == list(t_net.state_dict())
    ng_net.load_state_dict({k: v.numpy() for k, v in t_net.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(
        ng_net(ng.tensor(x)).detach().numpy(),
        t_net(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
    )
    t2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    t2.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in ng_net.state_dict().items()}
    )
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        ng_net.load_state_dict({**ng_net.state_dict(), "0.weight": np.zeros((2, 2))})
    with pytest.raises(RuntimeError, match="missing keys"):
        ng_net.load_state_dict({"0.weight": np.zeros((4, 3))})


def test_module_registration_and_modes():
    class Net(ng.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = ng.nn.Linear(4, 3)
            self.act = ng.nn.ReLU()
            self.head = ng.nn.Sequential(ng.nn.Linear(3, 2), ng.nn.Dropout(0.5))
            self.scale = ng.nn.Parameter(ng.ones(1))

        def forward(self, x):
            return self.head(self.act(self.fc1(x))) * self.scale

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "head.0.weight", "head.0.bias"]
    assert len(list(net.children())) == 3 and len(list(net.modules())) == 6
    assert isinstance(net.head[0], ng.nn.Linear) and len(net.head) == 2
    net.eval()
    assert not net.head[1].training
    net.train()
    assert net.head[1].training
    net(ng.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.double()
    assert all(p.dtype is ng.float64 for p in net.parameters())


def test_linear_default_init_bounds():
    ng.manual_seed(0)
    lin = ng.nn.Linear(50, 20)
    bound = 1 / np.sqrt(50)
    w = lin.weight.detach().numpy()
    assert w.shape == (20, 50) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound


def test_init_functions_statistics():
    ng.manual_seed(0)
    w = ng.empty(400, 300)
    ng.nn.init.xavier_uniform_(w)
    assert abs(w.numpy().std() - np.sqrt(2 / 700)) < 0.01 * np.sqrt(2 / 700) * 10
    ng.nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - np.sqrt(2 / 300)) / np.sqrt(2 / 300) < 0.05
    ng.nn.init.constant_(w, 0.5)
    assert np.all(w.numpy() == 0.5)
    ng.nn.init.zeros_(w)
    assert not w.numpy().any()


def test_clip_grad_norm_and_value_match_torch():
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(s) for s in [(3, 4), (5,)]]
    ps = [ng.tensor(a, requires_grad=True) for a in arrs]
    ts = [torch.tensor(a, requires_grad=True) for a in arrs]
    for p, t in zip(ps, ts):
        g = rng.standard_normal(p.shape)
        p.grad = ng.tensor(g)
        t.grad = torch.tensor(g)
    n1 = ng.nn.utils.clip_grad_norm_(ps, 1.0)
    n2 = torch.nn.utils.clip_grad_norm_(ts, 1.0)
    np.testing.assert_allclose(n1.item(), n2.item(), rtol=1e-12)
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    ng.nn.utils.clip_grad_value_(ps, 0.05)
    torch.nn.utils.clip_grad_value_(ts, 0.05)
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)
