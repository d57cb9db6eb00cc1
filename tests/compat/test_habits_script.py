"""End to end, tutorial-shaped: a small regression script written once against ``m`` (``torch``
or ``numgrad``) in the habits of older and newer tutorials alike: the device picked with
``cuda.is_available()``/``accelerator``, ``backends.cudnn.benchmark = True``, data made with
``FloatTensor``/``Tensor(d0, d1)``/``autograd.Variable``, the float64 default dtype, numpy's
``axis=``/``keepdims=``, ``out=``, losses logged with ``f"{loss:.4f}"`` and ``print(tensor)``,
evaluation under ``@no_grad`` and ``inference_mode``.  The two logs must be the same text
(with numgrad's names for torch's).

Own code, in the shape of "Learning PyTorch with Examples" (a polynomial fit by hand, then
with ``nn``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

import numgrad


def script(m, log):
    device = "cuda" if m.cuda.is_available() else "cpu"
    if m.accelerator.is_available():  # never true here: numgrad has no accelerator yet
        device = str(m.accelerator.current_accelerator())
    m.backends.cudnn.benchmark = True
    log(f"device {device} mps {m.backends.mps.is_available()}")

    old = m.get_default_dtype()
    m.set_default_dtype(m.float64)
    try:
        x = m.tensor(np.linspace(-math.pi, math.pi, 200), device=device)
        y = m.sin(x)
        # old-style parameters: Variable over a legacy-constructed tensor, filled in place
        w = m.autograd.Variable(m.Tensor(4).fill_(0.1), requires_grad=True)
        log(repr(w))
        powers = m.stack([x**k for k in range(4)], dim=1)
        lr = 1e-5
        for step in range(60):
            pred = (powers * w).sum(axis=1)
            loss = (pred - y).pow(2).sum(axis=0, keepdims=True).squeeze()
            if step % 20 == 0:
                log(f"step {step:3d} loss {loss:.4f} {loss.item():.3e}")
            loss.backward()
            with m.no_grad():
                w -= lr * w.grad
                w.grad.zero_()
        log(f"{w}")

        model = m.nn.Sequential(m.nn.Linear(3, 1), m.nn.Flatten(0, 1))
        with m.no_grad():
            model[0].weight.copy_(m.tensor([[0.5, -0.25, 0.125]]))
            model[0].bias.fill_(0.0)
        xx = powers[:, 1:]
        opt = m.optim.SGD(model.parameters(), lr=5e-6)
        for _ in range(30):
            loss = m.nn.functional.mse_loss(model(xx), y, reduction="sum")
            opt.zero_grad()
            loss.backward()
            opt.step()
        log(f"final {loss:.6f}")
        log(str(m.nn.functional.mse_loss(model(xx), y, reduction="sum")))

        @m.no_grad()
        def evaluate(inputs):
            return model(inputs)

        out = m.empty(0)
        m.add(evaluate(xx[:3]), 1.0, out=out)
        log(str(out))
        with m.inference_mode():
            pred = model(xx[:2])
        log(f"{pred} inference {pred.is_inference()} grad {pred.requires_grad}")
        labels = m.LongTensor([0, 2, 1])
        log(f"{labels} {labels.type()} {isinstance(labels, m.LongTensor)}")
    finally:
        m.set_default_dtype(old)


def test_habits_script_logs_the_same_text_as_torch():
    logs = {}
    for name, m in (("numgrad", numgrad), ("torch", torch)):
        lines = []
        script(m, lines.append)
        logs[name] = [line.replace("torch.", "numgrad.") for line in lines]
    assert logs["numgrad"] == logs["torch"]
