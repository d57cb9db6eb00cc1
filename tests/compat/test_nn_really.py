"""End to end, in the shape of "What is torch.nn really?", written once against ``m``
(``torch`` or ``numgrad``), on synthetic 784-d "images" instead of MNIST.

Own code: logistic regression first from raw tensors (numpy-made weights, ``requires_grad_()``,
``log_softmax`` by hand, the negative log-likelihood by indexing ``input[range(n), target]``,
updates under ``no_grad``), then refactored step by step (``nn.Module`` with ``nn.Linear``,
``F.cross_entropy``, ``optim.SGD``, ``TensorDataset``/``DataLoader`` and a ``fit()`` loop with
``model.train()``/``model.eval()`` and a validation loss); and the tutorial's small CNN as an
``nn.Sequential`` with a ``Lambda`` module and ``nn.AdaptiveAvgPool2d(1)``.  float32 throughout.
"""

from __future__ import annotations

import math

import numpy as np
import torch

import numgrad

N_TRAIN, N_VALID, BS, LR = 192, 64, 32, 0.02
RTOL, ATOL = 1e-4, 1e-5


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, 784)).astype(np.float32)
    y = rng.integers(0, 10, N_TRAIN + N_VALID)
    x = (0.5 * centres[y] + rng.standard_normal((len(y), 784))).astype(np.float32)
    x = 1 / (1 + np.exp(-x))  # pixel-like values in (0, 1)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def compare(ours, theirs):
    assert len(ours) == len(theirs)
    for (l1, p1), (l2, p2) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(l1, l2, rtol=RTOL)
        for a, b in zip(p1, p2, strict=True):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def snapshot(params):
    return [p.detach().numpy().copy() for p in params]


def from_scratch(m, x_train, y_train, epochs=2):
    rng = np.random.default_rng(1)
    x_train, y_train = m.tensor(x_train), m.tensor(y_train)
    weights = m.tensor(rng.standard_normal((784, 10)).astype(np.float32)) / math.sqrt(784)
    weights.requires_grad_()
    bias = m.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    def accuracy(out, yb):
        return (m.argmax(out, dim=1) == yb).float().mean()

    history = []
    n = x_train.shape[0]
    for _ in range(epochs):
        for i in range((n - 1) // BS + 1):
            xb, yb = x_train[i * BS : i * BS + BS], y_train[i * BS : i * BS + BS]
            loss = nll(model(xb), yb)
            loss.backward()
            with m.no_grad():
                weights -= weights.grad * LR
                bias -= bias.grad * LR
                weights.grad.zero_()
                bias.grad.zero_()
            history.append((loss.item(), snapshot([weights, bias])))
    acc = accuracy(model(x_train), y_train).item()
    # the hand-written pieces agree with the library's
    out = model(x_train[:BS])
    F = m.nn.functional
    np.testing.assert_allclose(
        out.detach().numpy(),
        F.log_softmax(x_train[:BS] @ weights + bias, dim=-1).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        nll(out, y_train[:BS]).item(), F.nll_loss(out, y_train[:BS]).item(), rtol=1e-6
    )
    return history, acc


def refactored(m, model, x_train, y_train, x_valid, y_valid, epochs=3, momentum=0.0):
    F = m.nn.functional
    data = m.utils.data
    train_dl = data.DataLoader(data.TensorDataset(m.tensor(x_train), m.tensor(y_train)), BS)
    valid_dl = data.DataLoader(
        data.TensorDataset(m.tensor(x_valid), m.tensor(y_valid)), batch_size=BS * 2
    )
    opt = m.optim.SGD(model.parameters(), lr=LR, momentum=momentum)
    history, valid_losses = [], []

    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss.item(), len(xb)

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        for _ in range(epochs):
            model.train()
            assert model.training
            for xb, yb in train_dl:
                loss, _ = loss_batch(model, loss_func, xb, yb, opt)
                history.append((loss, snapshot(model.parameters())))
            model.eval()
            with m.no_grad():
                losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
            valid_losses.append(np.sum(np.multiply(losses, nums)) / np.sum(nums))

    fit(epochs, model, F.cross_entropy, opt, train_dl, valid_dl)
    return history, valid_losses


def build_logistic(m):
    nn = m.nn

    class MnistLogistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(784, 10)

        def forward(self, xb):
            return self.lin(xb)

    return MnistLogistic()


def build_cnn(m):
    nn = m.nn

    class Lambda(nn.Module):
        def __init__(self, func):
            super().__init__()
            self.func = func

        def forward(self, x):
            return self.func(x)

    return nn.Sequential(
        Lambda(lambda x: x.view(-1, 1, 28, 28)),
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )


def test_logistic_regression_from_scratch():
    x_train, y_train, _, _ = make_data()
    ours, theirs = from_scratch(numgrad, x_train, y_train), from_scratch(torch, x_train, y_train)
    compare(ours[0], theirs[0])
    assert ours[1] == theirs[1]
    assert ours[0][-1][0] < ours[0][0][0]


def test_logistic_regression_refactored_with_nn():
    x_train, y_train, x_valid, y_valid = make_data()
    torch.manual_seed(0)
    th_model, ng_model = build_logistic(torch), build_logistic(numgrad)
    assert repr(ng_model) == repr(th_model)
    ng_model.load_state_dict(th_model.state_dict())
    ours = refactored(numgrad, ng_model, x_train, y_train, x_valid, y_valid)
    theirs = refactored(torch, th_model, x_train, y_train, x_valid, y_valid)
    compare(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1], rtol=RTOL)
    assert ours[1][-1] < ours[1][0]


def test_small_cnn_with_lambda_and_adaptive_pool():
    x_train, y_train, x_valid, y_valid = make_data()
    torch.manual_seed(0)
    th_model, ng_model = build_cnn(torch), build_cnn(numgrad)
    assert repr(ng_model) == repr(th_model)
    assert list(ng_model.state_dict()) == list(th_model.state_dict())
    ng_model.load_state_dict(th_model.state_dict())
    args = (x_train, y_train, x_valid, y_valid, 2, 0.9)
    ours = refactored(numgrad, ng_model, *args)
    theirs = refactored(torch, th_model, *args)
    compare(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1], rtol=RTOL)
