"""End to end, in the shape of the "60-minute blitz" CIFAR-10 classifier, written once against
``m`` (``torch`` or ``numgrad``).

Own code: a small LeNet-style ``Net(nn.Module)`` (``Conv2d``, ``nn.MaxPool2d`` and
``F.max_pool2d``, ``F.relu``, ``m.flatten(x, 1)``, ``Linear``) trained 5 steps with
``CrossEntropyLoss`` and ``SGD(momentum=0.9)`` on synthetic 3x16x16 images served by a
``TensorDataset`` and ``DataLoader(batch_size=4, shuffle=False)``, then scored under
``no_grad`` with ``outputs.max(1)`` and ``argmax``.  float32, as the tutorial is.
"""

from __future__ import annotations

import numpy as np
import torch

import numgrad

CLASSES = 10


def build(m):
    nn, F = m.nn, m.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 3)
            self.fc1 = nn.Linear(16 * 2 * 2, 32)
            self.fc2 = nn.Linear(32, 24)
            self.fc3 = nn.Linear(24, CLASSES)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))  # 16 -> 12 -> 6
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # 6 -> 4 -> 2
            x = m.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return Net()


def make_data(seed=0, n=20):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n, 3, 16, 16)).astype(np.float32)
    labels = rng.integers(0, CLASSES, n)
    return images, labels


def train(m, net, images, labels, steps=5):
    data = m.utils.data
    loader = data.DataLoader(
        data.TensorDataset(m.tensor(images), m.tensor(labels)), batch_size=4, shuffle=False
    )
    criterion = m.nn.CrossEntropyLoss()
    optimizer = m.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    history = []
    for i, (inputs, targets) in enumerate(loader):
        if i == steps:
            break
        assert tuple(inputs.shape) == (4, 3, 16, 16) and targets.dtype == m.int64
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        history.append((loss.item(), [p.detach().numpy().copy() for p in net.parameters()]))

    correct = total = 0
    preds = []
    with m.no_grad():
        for inputs, targets in loader:
            outputs = net(inputs)
            _, predicted = outputs.max(1)
            assert (predicted == m.argmax(outputs, dim=1)).all()
            assert not outputs.requires_grad
            total += targets.size(0)
            correct += (predicted == targets).sum().item()
            preds.append(predicted.numpy())
    return history, np.concatenate(preds), 100 * correct // total


def test_blitz_cnn_trains_like_torch():
    images, labels = make_data()
    torch.manual_seed(0)
    th_net, ng_net = build(torch), build(numgrad)
    assert repr(ng_net) == repr(th_net)
    print(ng_net)
    ng_net.load_state_dict(th_net.state_dict())
    ours = train(numgrad, ng_net, images, labels)
    theirs = train(torch, th_net, images, labels)
    assert len(ours[0]) == len(theirs[0]) == 5
    for (l1, p1), (l2, p2) in zip(ours[0], theirs[0], strict=True):
        np.testing.assert_allclose(l1, l2, rtol=1e-4)
        for a, b in zip(p1, p2, strict=True):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2] == theirs[2]
