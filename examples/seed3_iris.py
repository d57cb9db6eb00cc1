"""Seed 3: a 2-32-1 sigmoid network on two iris classes, trained three ways.

Data: the 100 iris samples of classes 0 (setosa) and 1 (versicolor), using the two sepal
features (length, width), each normalized to zero mean and unit standard deviation.  The
network is ``p = sigmoid(sigmoid(x W1 + b1) W2 + b2)`` with 32 hidden units, trained for 101
full-batch epochs of gradient descent on the mean binary cross-entropy, in float64.

(a) **By hand**, as in the classic "neural network from scratch" tutorial: the forward pass and
    the chain rule written out with numpy.
(b) **With numgrad's autograd**: the same forward pass written with numgrad ops, ``.backward()``
    for the gradients and ``numgrad.optim.SGD`` for the update, from the same initial weights.
    At every epoch the gradients of (a) and (b) are compared; they agree to rounding error.
(c) **The torch way**: ``nn.Sequential(nn.Linear(2, 32), nn.Sigmoid(), nn.Linear(32, 1),
    nn.Sigmoid())`` with ``nn.BCELoss()`` and ``optim.SGD``, again from the same weights.

All three start from the weights torch's default ``nn.Linear`` initialization gives the
Sequential model of (c) (under ``numgrad.manual_seed``), so all three follow the same training
trajectory.

Needs scikit-learn for the data set: ``pip install numgrad[examples]``.
Run it with ``python examples/seed3_iris.py``; with ``--compile``, (b) and (c) run their steps
through ``numgrad.compile`` and give the same numbers to the bit.
"""

import sys

import numpy as np

import numgrad
import numgrad.nn as nn
import numgrad.optim as optim

EPOCHS = 101
LR = 0.5
HIDDEN = 32


def load_data():
    """The 100 samples of iris classes 0 and 1, sepal features normalized; float64 arrays
    ``x`` of shape (100, 2) and ``y`` of shape (100, 1)."""
    try:
        from sklearn.datasets import load_iris
    except ImportError:
        sys.exit(
            "examples/seed3_iris.py needs scikit-learn to load the iris data set; "
            "install it with:  pip install numgrad[examples]"
        )
    iris = load_iris()
    keep = iris.target < 2
    x = iris.data[keep][:, :2].astype(np.float64)  # sepal length, sepal width
    y = iris.target[keep].astype(np.float64).reshape(-1, 1)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, y


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def manual_forward_backward(params, x, y):
    """(a) Forward pass and hand-derived gradients of the mean BCE, in plain numpy.

    ``params`` = (W1 (2, 32), b1 (32,), W2 (32, 1), b2 (1,)); returns ``(loss, p, grads)``.
    """
    W1, b1, W2, b2 = params
    n = x.shape[0]
    # forward
    h = sigmoid(x @ W1 + b1)
    p = sigmoid(h @ W2 + b2)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    # backward: dL/dz2 of BCE(sigmoid(z2)) simplifies to (p - y) / n
    dz2 = (p - y) / n
    dW2 = h.T @ dz2
    db2 = dz2.sum(axis=0)
    dh = dz2 @ W2.T
    dz1 = dh * h * (1 - h)  # sigmoid'(z1) = h (1 - h)
    dW1 = x.T @ dz1
    db1 = dz1.sum(axis=0)
    return loss, p, (dW1, db1, dW2, db2)


def main(epochs=EPOCHS, lr=LR, seed=0, print_every=10, compiled=False):
    x_np, y_np = load_data()
    x = numgrad.tensor(x_np)  # numpy float64 arrays keep their dtype
    y = numgrad.tensor(y_np)

    # The model of part (c); its default initialization gives the starting point of all three.
    numgrad.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(2, HIDDEN),
        nn.Sigmoid(),
        nn.Linear(HIDDEN, 1),
        nn.Sigmoid(),
    ).double()
    initial_state = {k: v.clone().numpy() for k, v in model.state_dict().items()}
    # the tutorial's layout: x @ W1, so W1 is nn.Linear's weight transposed
    init_params = (
        initial_state["0.weight"].T.copy(),
        initial_state["0.bias"].copy(),
        initial_state["2.weight"].T.copy(),
        initial_state["2.bias"].copy(),
    )

    # ---- (a) manual backprop and (b) autograd, side by side ------------------------------
    print("(a) manual backprop vs (b) numgrad autograd, same weights, same data")
    manual = [a.copy() for a in init_params]
    W1, b1, W2, b2 = (numgrad.tensor(a, requires_grad=True) for a in init_params)
    optimizer_b = optim.SGD([W1, b1, W2, b2], lr=lr)

    def backward_b(x, y):
        # (b): the same forward pass with numgrad ops, gradients from autograd
        optimizer_b.zero_grad()
        h = numgrad.sigmoid(x @ W1 + b1)
        p = numgrad.sigmoid(h @ W2 + b2)
        loss_b = -(y * numgrad.log(p) + (1 - y) * numgrad.log(1 - p)).mean()
        loss_b.backward()
        return loss_b

    if compiled:  # the same steps as generated code (docs/compile.md): same numbers
        backward_b = numgrad.compile(backward_b)

    manual_losses, autograd_losses, grad_diffs = [], [], []
    for epoch in range(epochs):
        # (a): gradients by hand, update by hand
        loss_a, _, grads_a = manual_forward_backward(manual, x_np, y_np)
        for param, grad in zip(manual, grads_a, strict=True):
            param -= lr * grad

        loss_b = backward_b(x, y)
        grads_b = [t.grad.numpy() for t in (W1, b1, W2, b2)]
        diff = max(float(np.max(np.abs(ga - gb))) for ga, gb in zip(grads_a, grads_b, strict=True))
        optimizer_b.step()

        manual_losses.append(float(loss_a))
        autograd_losses.append(loss_b.item())
        grad_diffs.append(diff)
        if epoch % print_every == 0 or epoch == epochs - 1:
            print(
                f"epoch {epoch:4d}  loss (a) {loss_a:.10f}  (b) {loss_b.item():.10f}  "
                f"max |grad (a) - grad (b)| = {diff:.2e}"
            )
    print(f"largest gradient difference over all epochs: {max(grad_diffs):.2e}")
    assert max(grad_diffs) < 1e-10, "manual and autograd gradients disagree"

    # ---- (c) nn.Sequential + nn.BCELoss + optim.SGD --------------------------------------
    print("\n(c) nn.Sequential + nn.BCELoss + optim.SGD")
    criterion = nn.BCELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)

    def train_step(x, y):
        optimizer.zero_grad()
        out = model(x)
        loss = criterion(out, y)
        loss.backward()
        optimizer.step()
        return out, loss

    if compiled:
        train_step = numgrad.compile(train_step)

    seq_losses, seq_accuracies = [], []
    for epoch in range(epochs):
        out, loss = train_step(x, y)
        acc = ((out > 0.5) == y).double().mean().item()
        seq_losses.append(loss.item())
        seq_accuracies.append(acc)
        if epoch % print_every == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:4d}  loss {loss.item():.6f}  accuracy {acc:.2f}")

    with numgrad.no_grad():
        final_accuracy = ((model(x) > 0.5) == y).double().mean().item()
    print(f"final training accuracy: {final_accuracy:.2f}")

    return {
        "x": x_np,
        "y": y_np,
        "initial_state": initial_state,
        "manual_losses": np.array(manual_losses),
        "autograd_losses": np.array(autograd_losses),
        "grad_diffs": np.array(grad_diffs),
        "seq_losses": np.array(seq_losses),
        "seq_accuracies": np.array(seq_accuracies),
        "final_accuracy": final_accuracy,
        "final_state": {k: v.clone().numpy() for k, v in model.state_dict().items()},
    }


if __name__ == "__main__":
    main(compiled="--compile" in sys.argv)
