"""``numgrad.compile`` on ``cuda``: the trace replays the device's kernels (the replay program;
the single fused function is CPU code), with eager's numbers on the device bit for bit, the
gradients and optimizer state left on the device, and the guards as on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
from util import host

import numgrad
import numgrad.nn as nn


def _setup(opt_name, dtype):
    numgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).to(dtype).to("cuda")
    if opt_name == "adam":
        opt = numgrad.optim.Adam(model.parameters(), lr=1e-2)
    else:
        opt = numgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    lossf = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


@pytest.mark.parametrize("opt_name", ["sgd-momentum", "adam"])
@pytest.mark.parametrize("dtype", [numgrad.float32, numgrad.float64], ids=["float32", "float64"])
def test_compiled_step_on_cuda_equals_eager(opt_name, dtype):
    m1, _, eager = _setup(opt_name, dtype)
    m2, _, step = _setup(opt_name, dtype)
    compiled = numgrad.compile(step)
    rng = np.random.default_rng(1)
    x = numgrad.tensor(rng.standard_normal((6, 5)), dtype=dtype, device="cuda")
    y = numgrad.tensor(rng.integers(0, 3, 6), device="cuda")
    for _ in range(4):
        l1, l2 = eager(x, y), compiled(x, y)
        assert l2.device.type == "cuda"
        assert l1.item() == l2.item()
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert q.device.type == "cuda" and q.grad.device.type == "cuda"
        assert np.array_equal(host(p), host(q))
        assert np.array_equal(host(p.grad), host(q.grad))
    (entry,) = compiled._entries.values()
    assert entry.program is not None and entry.program.fused is None
    # a new batch size is a new entry, traced again
    x2 = numgrad.tensor(rng.standard_normal((4, 5)), dtype=dtype, device="cuda")
    y2 = numgrad.tensor(rng.integers(0, 3, 4), device="cuda")
    for _ in range(3):
        assert eager(x2, y2).item() == compiled(x2, y2).item()
    assert len(compiled._entries) == 2
