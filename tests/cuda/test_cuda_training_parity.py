"""The training-parity suite's models (``tests/test_training.py``: random MLPs over every
activation, loss and optimizer of that suite) trained on ``cuda`` from torch's initial weights,
matching torch (CPU) every step with the CPU suite's tolerances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_training import OPTIMS, _build, _cases, _loss_fns
from util import host

import numgrad as ng


@pytest.mark.parametrize(
    "case",
    _cases(),
    ids=lambda c: f"{c['optim']}-{c['loss']}-{c['act']}-d{c['depth']}-b{c['batch']}-{c['dtype']}",
)
def test_mlp_parity_on_cuda(case):
    rng = np.random.default_rng(case["seed"])
    torch.manual_seed(case["seed"])
    loss = case["loss"]
    classes = loss in ("cross_entropy", "nll")
    out_dim = int(rng.integers(2, 6)) if classes else int(rng.integers(1, 4))
    ng_net, t_net = _build(
        case["depth"], case["widths"], case["act"], out_dim, loss == "bce", loss == "nll"
    )
    np_dt = np.dtype(case["dtype"])
    t_net = t_net.to(getattr(torch, case["dtype"]))
    ng_net.to(case["dtype"])
    ng_net.load_state_dict(t_net.state_dict())
    ng_net.to("cuda")
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
    xd, yd = ng.tensor(x, device="cuda"), ng.tensor(y, device="cuda")
    for step in range(3):
        ng_opt.zero_grad()
        lv = ng_loss(ng_net(xd), yd)
        lv.backward()
        ng_opt.step()
        t_opt.zero_grad()
        tv = t_loss(t_net(torch.from_numpy(x)), torch.from_numpy(y))
        tv.backward()
        t_opt.step()
        assert lv.device == ng.device("cuda:0")
        np.testing.assert_allclose(lv.item(), tv.item(), rtol=rtol, atol=atol)
        t_state = t_net.state_dict()
        for name, p in ng_net.state_dict().items():
            assert p.device == ng.device("cuda:0")
            np.testing.assert_allclose(
                host(p), t_state[name].numpy(), rtol=rtol, atol=atol, err_msg=f"{name} @{step}"
            )
    for st in ng_opt.state.values():  # optimizer state stayed on the device
        for v in st.values():
            if isinstance(v, ng.Tensor):
                assert v.device == ng.device("cuda:0")
