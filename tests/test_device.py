"""A tensor's device is real: ops run the kernels registered for their inputs' device, outputs
and gradients carry it, mixing devices raises, ``.to`` copies (differentiably).

The device used here, ``twin``, is registered by this file only: numpy arrays in host memory
(numpy's array API) and, as kernels, the CPU's callables registered under its own name, each
call counted, so a test sees which device's kernels an op ran.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import numgrad as ng
from numgrad.devices.cpu.array import NumpyArrays
from numgrad.ops import registry as R
from numgrad.storage import _DEVICE_OBJECTS

CALLS = {}  # kernel name -> calls on "twin"


def _counted(name, fn):
    def run(*args, **kwargs):
        CALLS[name] = CALLS.get(name, 0) + 1
        return fn(*args, **kwargs)

    return run


def _kernels():
    for op in list(R.OPS.values()):
        for k in (op.forward, *op.backward.values()):
            if k is not None:
                yield op, k


@pytest.fixture(scope="module", autouse=True)
def twin():
    """Register "twin" (and "bare": an array API and no kernels); unregister afterwards."""
    R.register_device(
        "twin",
        elementwise=lambda k: _counted(k.name, k.on("cpu")),
        array=NumpyArrays,
    )
    R.register_device("bare", array=NumpyArrays)
    for _, k in _kernels():
        fn = k.impls.get("cpu")
        if fn is not None and k.scalar is None:
            k.impls["twin"] = _counted(k.name, fn)
    yield
    for name in ("twin", "bare"):
        R._DEVICES.pop(name, None)
        R._ARRAYS.pop(name, None)
        for key in [s for s, d in _DEVICE_OBJECTS.items() if str(d).startswith(name)]:
            del _DEVICE_OBJECTS[key]
    for _, k in _kernels():
        k.impls.pop("twin", None)


def test_device_is_held_and_read():
    x = ng.tensor([1.0, 2.0], device="twin")
    assert x.device == "twin" and str(x.device) == "twin" and x.device is ng.device("twin")
    assert ng.zeros(2, device="twin").device == "twin"
    assert ng.randn(2, 3, device="twin").device == "twin"
    assert ng.zeros_like(x).device == "twin"  # *_like keep the device, as torch's
    assert ng.tensor([1.0]).device == "cpu"
    assert ng.tensor(x).device == "twin"


def test_ops_run_the_kernels_of_their_device_and_outputs_carry_it():
    CALLS.clear()
    x = ng.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=ng.float64, device="twin", requires_grad=True)
    w = ng.tensor([[0.5, 1.0], [-1.0, 2.0]], dtype=ng.float64, device="twin", requires_grad=True)
    y = (x @ w).tanh().sum()
    assert y.device == "twin"
    assert CALLS, "no twin kernel ran"
    forward_calls = dict(CALLS)
    y.backward()
    assert x.grad.device == "twin" and w.grad.device == "twin"
    assert sum(CALLS.values()) > sum(forward_calls.values()), "backward ran no twin kernel"
    # the same numbers as torch
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    (tx @ tw).tanh().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_mixing_devices_raises_torchs_error_naming_both():
    x = ng.ones(3, device="twin")
    y = ng.ones(3)
    for fn in (lambda: x + y, lambda: y * x, lambda: ng.cat([x, y]), lambda: ng.where(y > 0, x, y)):
        with pytest.raises(
            RuntimeError, match="Expected all tensors to be on the same device"
        ) as e:
            fn()
        assert "twin" in str(e.value) and "cpu" in str(e.value)


def test_missing_op_for_a_device_names_both():
    x = ng.ones(3, device="bare")
    with pytest.raises(NotImplementedError, match="exp.*bare"):
        x.exp()


def test_to_copies_and_is_differentiable_like_torch():
    x = ng.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = ng.tensor([0.5, -1.0, 2.0], device="twin")
    xt = x.to("twin")
    assert xt.device == "twin" and not np.shares_memory(xt._data, x._data)
    loss = (xt * w).sum() * 2
    loss.backward()
    assert x.grad.device == "cpu"
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ((tx * torch.tensor([0.5, -1.0, 2.0])).sum() * 2).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    back = xt.cpu()
    assert back.device == "cpu" and back.tolist() == [1.0, 2.0, 3.0]
    assert x.to("cpu") is x  # same device: no copy


def test_module_to_moves_parameters_in_place_and_trains():
    ng.manual_seed(0)
    model = ng.nn.Sequential(ng.nn.Linear(3, 4), ng.nn.Tanh(), ng.nn.Linear(4, 1))
    ref = ng.nn.Sequential(ng.nn.Linear(3, 4), ng.nn.Tanh(), ng.nn.Linear(4, 1))
    ref.load_state_dict(model.state_dict())
    params = list(model.parameters())
    model.to("twin")
    assert list(model.parameters()) == params and all(p.device == "twin" for p in params)
    x, y = ng.randn(8, 3), ng.randn(8, 1)
    opts = [ng.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (model, ref)]
    for _ in range(3):
        for m, opt, dev in ((model, opts[0], "twin"), (ref, opts[1], "cpu")):
            opt.zero_grad()
            loss = ng.nn.functional.mse_loss(m(x.to(dev)), y.to(dev))
            loss.backward()
            opt.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        assert p.device == "twin" and p.grad.device == "twin"
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_inplace_and_views_stay_on_their_device():
    x = ng.tensor([1.0, 2.0, 3.0], device="twin", requires_grad=True)
    b = x * 2
    b[0:2] *= 3  # rebases b's history through view_scatter, on the twin device
    (b * b).sum().backward()
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tb = tx * 2
    tb[0:2] *= 3
    (tb * tb).sum().backward()
    assert b.device == "twin" and x.grad.device == "twin"
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    v = ng.zeros(3, device="twin")
    v.copy_(ng.tensor([1.0, 2.0, 3.0]))  # copy_ crosses devices, as torch's
    assert v.device == "twin" and v.tolist() == [1.0, 2.0, 3.0]
    v.fill_(2.0)
    assert v.tolist() == [2.0, 2.0, 2.0]


def test_save_and_load_keep_the_device():
    buf = io.BytesIO()
    ng.save({"t": ng.tensor([1.0, 2.0], device="twin"), "d": ng.device("twin")}, buf)
    buf.seek(0)
    back = ng.load(buf)
    assert back["t"].device == "twin" and back["t"].tolist() == [1.0, 2.0]
    assert back["d"] is ng.device("twin")


def test_unknown_and_unbuilt_devices_refused():
    with pytest.raises(RuntimeError, match="unknown device 'tpu'"):
        ng.zeros(2, device="tpu")
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        ng.zeros(2, device="cuda")
    assert ng.device("cuda") != ng.device("cpu")  # the name exists for torch code's checks
