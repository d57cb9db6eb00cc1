"""End to end, tutorial-shaped: the training loops of the "optimizers and schedulers" chapters,
written once against ``m`` (``torch`` or ``numgrad``: the script runs by changing the import).

Own code: a small MLP regression trained by minibatches with a warm-up then cosine schedule
(``SequentialLR``), with ``OneCycleLR`` over Adam's ``beta1``, and with ``ReduceLROnPlateau``
on a validation loss; a curve fit with ``LBFGS`` and a closure; and a checkpoint (optimizer and
scheduler state dicts) taken halfway and resumed.  Both libraries start from the same weights;
losses, learning rates and final weights must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numgrad


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (64, 2))
    y = np.sin(x[:, :1]) * np.cos(x[:, 1:]) + 0.05 * rng.standard_normal((64, 1))
    return x, y


def build(m, seed=1):
    rng = np.random.default_rng(seed)
    model = m.nn.Sequential(m.nn.Linear(2, 16), m.nn.Tanh(), m.nn.Linear(16, 1)).double()
    with m.no_grad():
        for p in model.parameters():
            p.copy_(m.tensor(0.5 * rng.standard_normal(tuple(p.shape))))
    return model


def make_run(kind):
    """The optimizer and scheduler of each loop, written against ``m``."""

    def run(m, model, steps=40):
        sched_mod = m.optim.lr_scheduler
        params = model.parameters()
        if kind == "warmup-cosine":
            opt = m.optim.SGD(params, lr=0.2, momentum=0.9, nesterov=True)
            sched = sched_mod.SequentialLR(
                opt,
                [
                    sched_mod.LinearLR(opt, start_factor=0.1, total_iters=5),
                    sched_mod.CosineAnnealingLR(opt, T_max=steps - 5, eta_min=1e-3),
                ],
                milestones=[5],
            )
        elif kind == "one-cycle-adam":
            opt = m.optim.Adam(params, lr=0.01)
            sched = sched_mod.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
        elif kind == "plateau-rmsprop":
            opt = m.optim.RMSprop(params, lr=0.02, momentum=0.5, centered=True)
            sched = sched_mod.ReduceLROnPlateau(opt, factor=0.5, patience=2, threshold=1e-2)
        else:
            opt = m.optim.NAdam(params, lr=0.02, weight_decay=1e-3)
            sched = sched_mod.ExponentialLR(opt, gamma=0.97)
        return opt, sched

    return run


def train(m, kind, x, y, steps=40, resume_at=None):
    model = build(m)
    opt, sched = make_run(kind)(m, model, steps)
    xt, yt = m.tensor(x), m.tensor(y)
    losses, lrs = [], []
    for step in range(steps):
        if step == resume_at:
            # a checkpoint round trip: a new model, optimizer and scheduler from state dicts
            saved = (model.state_dict(), opt.state_dict(), sched.state_dict())
            model = build(m, seed=99)
            model.load_state_dict(saved[0])
            opt, sched = make_run(kind)(m, model, steps)
            opt.load_state_dict(saved[1])
            sched.load_state_dict(saved[2])
        batch = slice(16 * (step % 4), 16 * (step % 4) + 16)
        opt.zero_grad()
        loss = m.nn.functional.mse_loss(model(xt[batch]), yt[batch])
        loss.backward()
        opt.step()
        if kind == "plateau-rmsprop":
            with m.no_grad():
                sched.step(m.nn.functional.mse_loss(model(xt), yt))
        else:
            sched.step()
        losses.append(loss.item())
        lrs.append(sched.get_last_lr()[0])
    weights = [p.detach().numpy() for p in model.parameters()]
    return losses, lrs, weights


@pytest.mark.parametrize(
    "kind", ["warmup-cosine", "one-cycle-adam", "plateau-rmsprop", "nadam-exponential"]
)
@pytest.mark.parametrize("resume_at", [None, 17], ids=["straight", "resumed"])
def test_scheduled_training_matches_torch(kind, resume_at):
    x, y = make_data()
    ours = train(numgrad, kind, x, y, resume_at=resume_at)
    theirs = train(torch, kind, x, y, resume_at=resume_at)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    for a, b in zip(ours[2], theirs[2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    assert ours[0][-1] < ours[0][0]


def fit_curve(m, line_search_fn):
    """Fit ``a * exp(-b t) + c`` to noisy samples with LBFGS, as the curve-fitting examples do."""
    rng = np.random.default_rng(4)
    t = np.linspace(0, 4, 50)
    target = 2.0 * np.exp(-1.3 * t) + 0.5 + 0.02 * rng.standard_normal(50)
    tt, yt = m.tensor(t), m.tensor(target)
    coef = m.tensor(np.array([1.0, 0.5, 0.0]), requires_grad=True)
    opt = m.optim.LBFGS([coef], lr=1, max_iter=30, line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        loss = ((coef[0] * m.exp(-coef[1] * tt) + coef[2] - yt) ** 2).mean()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(3)]
    return losses, coef.detach().numpy()


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_curve_fit_matches_torch(line_search_fn):
    ours = fit_curve(numgrad, line_search_fn)
    theirs = fit_curve(torch, line_search_fn)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-8)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-7)
    if line_search_fn == "strong_wolfe":
        np.testing.assert_allclose(ours[1], [2.0, 1.3, 0.5], atol=0.1)
