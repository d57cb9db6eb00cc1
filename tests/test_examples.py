"""The examples in examples/: each one runs, and its results agree with torch (or, for seed 1,
with the values worked out by hand)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _load(name):
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"numgrad_example_{name}", EXAMPLES / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _has_sklearn():
    return importlib.util.find_spec("sklearn") is not None


needs_sklearn = pytest.mark.skipif(not _has_sklearn(), reason="scikit-learn not installed")


# ---- seed 1: d(w.x + b) -------------------------------------------------------------------
def test_seed1_dot_grads():
    r = _load("seed1_dot").main()
    # x = [2, 3], w = [4, 5], b = [7]: y = 8 + 15 + 7, dy/dx = w, dy/dw = x, dy/db = 1
    np.testing.assert_array_equal(r["y"], [30.0])
    np.testing.assert_array_equal(r["x_grad"], [4.0, 5.0])
    np.testing.assert_array_equal(r["w_grad"], [2.0, 3.0])
    np.testing.assert_array_equal(r["b_grad"], [1.0])
    for k in ("x_grad", "w_grad", "b_grad"):
        assert r[k].dtype == np.float32  # python floats -> float32, as torch.tensor


# ---- seed 2: Net(nn.Module) + MSELoss + SGD against torch ---------------------------------
@pytest.fixture(scope="module")
def seed2():
    module = _load("seed2_net")
    return module, module.main(steps=100, lr=0.01)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(10, 20)
        self.relu = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(20, 1)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def test_seed2_net_matches_torch(seed2):
    module, r = seed2
    losses = np.asarray(r["losses"])
    assert losses.shape == (100,)
    assert r["x"].dtype == np.float32 and r["y"].dtype == np.float32

    net = TorchNet()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in r["initial_state"].items()})
    x, y = torch.from_numpy(r["x"].copy()), torch.from_numpy(r["y"].copy())
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    ref = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        ref.append(loss.item())

    np.testing.assert_allclose(losses, ref, rtol=1e-4)
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(r["final_state"][k], v.numpy(), rtol=1e-4, atol=1e-6)


def test_seed2_net_learns(seed2):
    _, r = seed2
    losses = np.asarray(r["losses"])
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0]


def test_seed2_net_is_module_subclass(seed2):
    module, _ = seed2
    import numgrad.nn as nn

    net = module.Net()
    assert isinstance(net, nn.Module)
    assert list(net.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


# ---- seed 3: iris, manual backprop vs autograd vs nn.Sequential vs torch --------------------
@pytest.fixture(scope="module")
def seed3_module():
    if not _has_sklearn():
        pytest.skip("scikit-learn not installed")
    return _load("seed3_iris")


@pytest.fixture(scope="module")
def seed3(seed3_module):
    return seed3_module, seed3_module.main()


def test_seed3_data(seed3_module):
    x, y = seed3_module.load_data()
    assert x.shape == (100, 2) and y.shape == (100, 1) and x.dtype == np.float64
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=0), 1, rtol=1e-12)
    assert sorted(np.unique(y)) == [0.0, 1.0] and y.sum() == 50


def test_seed3_manual_equals_autograd_every_epoch(seed3):
    module, r = seed3
    assert r["grad_diffs"].shape == (module.EPOCHS,)
    assert np.all(np.isfinite(r["grad_diffs"]))
    assert r["grad_diffs"].max() < 1e-10
    np.testing.assert_allclose(r["autograd_losses"], r["manual_losses"], rtol=1e-12)


def test_seed3_manual_gradients_match_torch_autograd(seed3_module):
    """The hand-derived gradients of part (a) are right: torch's autograd on the same forward
    pass agrees, on the iris data at several random weights (independent of main())."""
    module = seed3_module
    x_np, y_np = module.load_data()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    rng = np.random.default_rng(1234)
    for scale in (0.1, 1.0, 3.0):
        arrays = [rng.normal(scale=scale, size=s) for s in [(2, 32), (32,), (32, 1), (1,)]]
        params = [torch.tensor(a, requires_grad=True) for a in arrays]
        W1, b1, W2, b2 = params
        p = torch.sigmoid(torch.sigmoid(x @ W1 + b1) @ W2 + b2)
        loss = torch.nn.functional.binary_cross_entropy(p, y)
        loss.backward()

        m_loss, m_p, m_grads = module.manual_forward_backward(
            [a.copy() for a in arrays], x_np, y_np
        )
        np.testing.assert_allclose(m_loss, loss.item(), rtol=1e-12)
        np.testing.assert_allclose(m_p, p.detach().numpy(), rtol=1e-12)
        for g_manual, t in zip(m_grads, params, strict=True):
            assert g_manual.shape == tuple(t.shape)
            np.testing.assert_allclose(g_manual, t.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_seed3_sequential_matches_torch(seed3):
    module, r = seed3
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 32), torch.nn.Sigmoid(), torch.nn.Linear(32, 1), torch.nn.Sigmoid()
    ).double()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in r["initial_state"].items()})
    x, y = torch.from_numpy(r["x"]), torch.from_numpy(r["y"])
    criterion = torch.nn.BCELoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=module.LR)
    losses, accs = [], []
    for _ in range(module.EPOCHS):
        optimizer.zero_grad()
        out = net(x)
        loss = criterion(out, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        accs.append(((out.detach() > 0.5) == (y > 0.5)).double().mean().item())
    with torch.no_grad():
        final_acc = ((net(x) > 0.5) == (y > 0.5)).double().mean().item()

    assert r["seq_losses"].shape == (module.EPOCHS,)
    np.testing.assert_allclose(r["seq_losses"], losses, rtol=1e-9)
    np.testing.assert_array_equal(r["seq_accuracies"], accs)
    assert r["final_accuracy"] == final_acc
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(r["final_state"][k], v.numpy(), rtol=1e-9, atol=1e-12)


def test_seed3_all_three_follow_one_trajectory(seed3):
    _, r = seed3
    np.testing.assert_allclose(r["seq_losses"], r["manual_losses"], rtol=1e-9)


def test_seed3_learns(seed3):
    _, r = seed3
    assert r["seq_losses"][-1] < 0.25 * r["seq_losses"][0]
    assert r["final_accuracy"] > 0.9


# ---- every example runs as a script -------------------------------------------------------
def _run(args):
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "script, expected",
    [
        ("seed1_dot.py", ["x.grad = tensor([4., 5.])", "w.grad = tensor([2., 3.])"]),
        ("seed2_net.py", ["step    0  loss", "step   99  loss"]),
        pytest.param(
            "seed3_iris.py",
            ["largest gradient difference", "final training accuracy"],
            marks=needs_sklearn,
        ),
    ],
)
def test_example_runs_as_script(script, expected):
    proc = _run([f"examples/{script}"])
    assert proc.returncode == 0, proc.stderr
    for text in expected:
        assert text in proc.stdout


def test_seed3_without_sklearn_says_how_to_install():
    code = (
        "import runpy, sys; sys.modules['sklearn'] = None; "
        "runpy.run_path('examples/seed3_iris.py', run_name='__main__')"
    )
    proc = _run(["-c", code])
    assert proc.returncode != 0
    assert "pip install numgrad[examples]" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---- every training example under numgrad.compile: eager's numbers, bit for bit --------------
def test_seed2_compiled_equals_eager(seed2):
    module, eager = seed2
    compiled = module.main(steps=100, lr=0.01, compiled=True)
    assert compiled["losses"] == eager["losses"]
    for k, v in eager["final_state"].items():
        assert np.array_equal(compiled["final_state"][k], v), k


@needs_sklearn
def test_seed3_compiled_equals_eager(seed3):
    module, eager = seed3
    compiled = module.main(compiled=True)
    for k in ("autograd_losses", "grad_diffs", "seq_losses", "seq_accuracies"):
        assert np.array_equal(compiled[k], eager[k]), k
    for k, v in eager["final_state"].items():
        assert np.array_equal(compiled["final_state"][k], v), k
