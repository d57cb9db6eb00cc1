"""End to end, in the shape of "Learning PyTorch with Examples": y = sin(x) fitted by a cubic
polynomial three ways, each written once against ``m`` (``torch`` or ``numgrad``).

Own code: (a) tensors and autograd with hand-written gradient-descent updates under ``no_grad``;
(b) a custom ``autograd.Function`` (the Legendre polynomial P3, with ``save_for_backward``);
(c) ``nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))`` with ``nn.MSELoss(reduction="sum")``
and ``optim.RMSprop``.  Losses and parameters are compared after every step.
"""

from __future__ import annotations

import math

import numpy as np
import torch

import numgrad


def fit_by_hand(m, steps=40, lr=1e-6):
    x = m.linspace(-math.pi, math.pi, 2000, dtype=m.float64)
    y = m.sin(x)
    rng = np.random.default_rng(0)
    a, b, c, d = (m.tensor(rng.standard_normal(), requires_grad=True) for _ in range(4))
    history = []
    for _ in range(steps):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with m.no_grad():
            for p in (a, b, c, d):
                p -= lr * p.grad
                p.grad.zero_()
        history.append((loss.item(), [p.item() for p in (a, b, c, d)]))
    return history


def make_legendre(m):
    class LegendrePolynomial3(m.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input**3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input**2 - 1)

    return LegendrePolynomial3


def fit_legendre(m, steps=40, lr=5e-6):
    x = m.linspace(-math.pi, math.pi, 2000, dtype=m.float64)
    y = m.sin(x)
    a, b, c, d = (m.full((), v, dtype=m.float64, requires_grad=True) for v in (0, -1, 0, 0.3))
    P3 = make_legendre(m).apply
    history = []
    for _ in range(steps):
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with m.no_grad():
            for p in (a, b, c, d):
                p -= lr * p.grad
                p.grad = None
        history.append((loss.item(), [p.item() for p in (a, b, c, d)]))
    return history


def fit_nn(m, model, steps=40):
    x = m.linspace(-math.pi, math.pi, 2000, dtype=m.float64)
    y = m.sin(x)
    xx = x.unsqueeze(-1).pow(m.tensor([1, 2, 3]))
    loss_fn = m.nn.MSELoss(reduction="sum")
    opt = m.optim.RMSprop(model.parameters(), lr=1e-3)
    history = []
    for _ in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        weights = [p.detach().numpy().copy() for p in model.parameters()]
        history.append((loss.item(), weights))
    return model, history


def compare(ours, theirs, rtol=1e-9):
    assert len(ours) == len(theirs)
    for (l1, p1), (l2, p2) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(l1, l2, rtol=rtol)
        for a, b in zip(p1, p2, strict=True):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


def test_polynomial_with_autograd_by_hand():
    ours, theirs = fit_by_hand(numgrad), fit_by_hand(torch)
    compare(ours, theirs)
    assert ours[-1][0] < ours[0][0]


def test_polynomial_with_custom_autograd_function():
    ours, theirs = fit_legendre(numgrad), fit_legendre(torch)
    compare(ours, theirs)
    assert ours[-1][0] < ours[0][0]
    # the custom backward agrees with autograd through the same formula
    for m in (numgrad, torch):
        x = m.tensor([-0.5, 0.2, 0.9], dtype=m.float64, requires_grad=True)
        (g,) = m.autograd.grad(make_legendre(m).apply(x).sum(), x)
        np.testing.assert_allclose(g.numpy(), 1.5 * (5 * x.detach().numpy() ** 2 - 1))


def test_polynomial_with_nn_and_rmsprop():
    torch.manual_seed(0)
    th_model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1)).double()
    ng_model = numgrad.nn.Sequential(numgrad.nn.Linear(3, 1), numgrad.nn.Flatten(0, 1)).double()
    assert repr(ng_model) == repr(th_model)
    ng_model.load_state_dict(th_model.state_dict())
    ng_model, ours = fit_nn(numgrad, ng_model)
    th_model, theirs = fit_nn(torch, th_model)
    compare(ours, theirs)
    assert ours[-1][0] < ours[0][0]
    w, b = ng_model[0].weight, ng_model[0].bias
    line = f"y = {b.item():.6f} + {w[:, 0].item():.6f} x + {w[:, 1].item():.6f} x^2"
    tw, tb = th_model[0].weight, th_model[0].bias
    assert line == f"y = {tb.item():.6f} + {tw[:, 0].item():.6f} x + {tw[:, 1].item():.6f} x^2"
