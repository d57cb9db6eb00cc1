"""DataLoader/TensorDataset, save/load, cuda queries."""

import numpy as np
import pytest

import numgrad as ng
from numgrad.utils.data import DataLoader, TensorDataset, random_split


def test_dataloader_batches_cover_dataset():
    x = ng.arange(10).float().reshape(10, 1)
    y = ng.arange(10)
    ds = TensorDataset(x, y)
    assert len(ds) == 10 and ds[3][1].item() == 3
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[1].numpy() for b in batches]), np.arange(10))
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    ng.manual_seed(0)
    seen = np.concatenate([b[1].numpy() for b in DataLoader(ds, batch_size=3, shuffle=True)])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    a, b = random_split(ds, [7, 3])
    assert len(a) == 7 and len(b) == 3
    collated = next(iter(DataLoader(a, batch_size=7)))
    assert collated[0].shape == (7, 1)
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, ng.arange(3))


def test_save_load_state_dict(tmp_path):
    net = ng.nn.Sequential(ng.nn.Linear(3, 2), ng.nn.ReLU(), ng.nn.Linear(2, 1))
    opt = ng.optim.Adam(net.parameters())
    net(ng.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.pt"
    ng.save({"model": net.state_dict(), "opt": opt.state_dict()}, path)
    ck = ng.load(path)
    net2 = ng.nn.Sequential(ng.nn.Linear(3, 2), ng.nn.ReLU(), ng.nn.Linear(2, 1))
    net2.load_state_dict(ck["model"])
    for (k, a), (_, b) in zip(net.state_dict().items(), net2.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), k
    p = ng.tensor([1.0, 2.0], requires_grad=True)
    ng.save(p, path)
    q = ng.load(path)
    assert q.requires_grad and q.tolist() == [1.0, 2.0] and q.is_leaf


def test_cuda_not_available():
    assert ng.cuda.is_available() is False and ng.cuda.device_count() == 0


@pytest.mark.parametrize("setting", ["default", "0"])
def test_import_freezes_gc_unless_told_not_to(setting):
    # the import pauses the collector and freezes what it made (docs/architecture.md, start-up);
    # the collector is on again afterwards, and NUMGRAD_GC_FREEZE=0 leaves it alone
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env.pop("NUMGRAD_GC_FREEZE", None)
    if setting == "0":
        env["NUMGRAD_GC_FREEZE"] = "0"
    code = "import gc, numgrad; print(gc.isenabled(), gc.get_freeze_count())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "True"
    frozen = int(out[1])
    if setting == "0":
        assert frozen == 0
    else:
        assert frozen > 10_000


def test_rarely_used_modules_load_on_first_use():
    # docs/architecture.md, start-up: conv/index/layer kernels, the compiler, utils.data,
    # lr_scheduler and distributions are imported when first used, not with numgrad
    import subprocess
    import sys

    code = (
        "import sys, numgrad as ng, numgrad.nn as nn\n"
        "lazy = ['numgrad.devices.cpu.conv', 'numgrad.devices.cpu.index', "
        "'numgrad.devices.cpu.layers', 'numgrad.compiler', 'numgrad.utils.data', "
        "'numgrad.optim.lr_scheduler', 'numgrad.distributions']\n"
        "print([m for m in lazy if m in sys.modules])\n"
        "nn.functional.conv2d(ng.randn(1, 1, 4, 4), ng.randn(1, 1, 3, 3))\n"
        "ng.cumsum(ng.randn(3), 0)\n"
        "ng.compile(lambda x: x)\n"
        "print([m for m in lazy[:4] if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == str(
        ["numgrad.devices.cpu.conv", "numgrad.devices.cpu.index", "numgrad.compiler"]
    )
