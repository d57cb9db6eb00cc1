"""Training on ``cuda`` agrees with training on the CPU step for step: the same model from the
same weights and batches, the same optimizer, the loss and every parameter compared after each
step (float64 to 1e-10, float32 to 1e-5: ``util.TOL``).  The CPU backend is checked against
torch by the CPU suite, so this is agreement with torch."""

from __future__ import annotations

import numpy as np
import pytest
from util import TOL, assert_close, host

import numgrad
import numgrad.nn as nn

STEPS = 3

MODELS = {
    # name: (layer builder, loss, input width, batch) - small: the simulator runs every thread
    "mlp-relu-ce": (lambda: [nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)], "ce", 6, 10),
    "linear-sigmoid-bce": (lambda: [nn.Linear(5, 8), nn.Sigmoid(), nn.Linear(8, 1)], "bce", 5, 9),
}

OPTIMIZERS = {
    "sgd-momentum": lambda ps: numgrad.optim.SGD(ps, lr=0.1, momentum=0.9),
    "adam": lambda ps: numgrad.optim.Adam(ps, lr=1e-2),
}


def _batches(name, dtype, steps):
    _, loss, width, batch = MODELS[name]
    rng = np.random.default_rng(7)
    out = []
    for _ in range(steps):
        x = rng.standard_normal((batch, width)).astype(dtype)
        if loss == "ce":
            y = rng.integers(0, 4, size=batch).astype(np.int64)
        else:
            y = (rng.random((batch, 1)) < 0.5).astype(dtype)
        out.append((x, y))
    return out


def _model(name, dtype, state, device):
    layers, loss, _, _ = MODELS[name]
    numgrad.manual_seed(0)
    model = nn.Sequential(*layers()).to(dtype=getattr(numgrad, np.dtype(dtype).name))
    model.load_state_dict({k: numgrad.tensor(v) for k, v in state.items()})
    model.to(device)
    criterion = nn.CrossEntropyLoss() if loss == "ce" else nn.BCEWithLogitsLoss()
    return model, criterion


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("name", list(MODELS))
def test_training_on_cuda_matches_cpu_step_for_step(name, opt_name, dtype):
    # one set of initial weights, drawn once on the CPU, loaded into both models
    numgrad.manual_seed(0)
    init = nn.Sequential(*MODELS[name][0]()).to(dtype=getattr(numgrad, np.dtype(dtype).name))
    state = {k: host(v) for k, v in init.state_dict().items()}
    sides = {}
    for dev in ("cpu", "cuda"):
        model, criterion = _model(name, dtype, state, dev)
        params = list(model.parameters())
        assert all(p.device.type == dev for p in params)
        sides[dev] = (model, criterion, OPTIMIZERS[opt_name](params))
    tol = TOL[np.dtype(dtype)]
    for step, (xs, ys) in enumerate(_batches(name, dtype, STEPS)):
        losses = {}
        for dev, (model, criterion, opt) in sides.items():
            x, y = numgrad.tensor(xs, device=dev), numgrad.tensor(ys, device=dev)
            opt.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            opt.step()
            losses[dev] = loss
        assert_close(losses["cuda"], losses["cpu"], f"loss at step {step}")
        np.testing.assert_allclose(
            losses["cuda"].item(), losses["cpu"].item(), err_msg=f"loss.item() {step}", **tol
        )
        cuda_named = dict(sides["cuda"][0].named_parameters())
        for k, p_cpu in sides["cpu"][0].named_parameters():
            p = cuda_named[k]
            assert p.device.type == "cuda", f"{k} left the GPU at step {step}"
            assert p.grad is not None and p.grad.device.type == "cuda", f"grad of {k}"
            assert_close(p.grad, p_cpu.grad, f"grad of {k} at step {step}")
            assert_close(p, p_cpu, f"{k} after step {step}")
    # optimizer state (momentum buffers, Adam's moments) stays on the device
    opt = sides["cuda"][2]
    for st in opt.state.values():
        for key, v in st.items():
            if isinstance(v, numgrad.Tensor):
                assert v.device.type == "cuda", f"optimizer state {key!r} on {v.device}"
