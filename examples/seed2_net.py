"""Seed 2: the classic torch training loop, unchanged except for the import.

A two-layer network ``Linear(10, 20) -> ReLU -> Linear(20, 1)`` is written as an ``nn.Module``
subclass, exactly as in the torch tutorials, and trained with ``nn.MSELoss`` and
``optim.SGD(lr=0.01)`` on a small random regression problem (targets from a random linear map
plus a little noise).  The step is the familiar four lines::

    optimizer.zero_grad()
    loss = criterion(net(x), y)
    loss.backward()
    optimizer.step()

Replace ``numgrad`` by ``torch`` and the script runs under torch; loaded with the same initial
weights, it produces the same losses (``tests/test_examples.py`` checks this at every step).

``main(compiled=True)`` runs the same step through ``numgrad.compile`` (``python
examples/seed2_net.py --compile``): the losses and weights are the same to the bit.

Run it with ``python examples/seed2_net.py``.
"""

import numgrad
import numgrad.nn as nn
import numgrad.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(20, 1)

    def forward(self, x):
        x = self.relu(self.fc1(x))
        x = self.fc2(x)
        return x


def main(steps=100, lr=0.01, seed=0, print_every=10, compiled=False):
    numgrad.manual_seed(seed)

    # random regression data: y = x @ w_true + noise
    x = numgrad.randn(64, 10)
    w_true = numgrad.randn(10, 1)
    y = x @ w_true + 0.1 * numgrad.randn(64, 1)

    net = Net()
    print(net)
    initial_state = {k: v.clone().numpy() for k, v in net.state_dict().items()}

    criterion = nn.MSELoss()
    optimizer = optim.SGD(net.parameters(), lr=lr)

    def train_step(x, y):
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        return loss

    if compiled:  # the same step as generated code (docs/compile.md): same numbers, faster
        train_step = numgrad.compile(train_step)

    losses = []
    for step in range(steps):
        loss = train_step(x, y)
        losses.append(loss.item())
        if step % print_every == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.6f}")

    return {
        "losses": losses,
        "initial_state": initial_state,
        "final_state": {k: v.clone().numpy() for k, v in net.state_dict().items()},
        "x": x.numpy(),
        "y": y.numpy(),
    }


if __name__ == "__main__":
    import sys

    main(compiled="--compile" in sys.argv)
