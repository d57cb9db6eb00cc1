"""The core on the CUDA device: placement, transfers, host reads, interop, the numgrad.cuda
facade, and the host-side utilities, checked against the CPU (under the simulator in CI)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from util import assert_close, compare, host

import numgrad as ng


def test_device_strings_and_placement():
    x = ng.ones(3, device="cuda")
    assert x.device == ng.device("cuda:0") and str(x.device) == "cuda:0"
    assert x.is_cuda and ng.ones(1).cuda().device is x.device
    assert ng.ones(2).to("cuda:0").device is x.device
    assert repr(ng.device("cuda")) == "device(type='cuda')"
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        ng.ones(2, device="cuda:1")


def test_host_reads_copy_and_numpy_refuses_like_torch():
    x = ng.tensor([[1.5, -2.0], [3.0, 4.0]], device="cuda")
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        x.numpy()
    with pytest.raises(TypeError, match="Tensor.cpu"):
        np.asarray(x)
    np.testing.assert_array_equal(x.cpu().numpy(), [[1.5, -2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.5, -2.0], [3.0, 4.0]]
    assert x[0, 0].item() == 1.5 and float(x[1, 1]) == 4.0 and bool(x[0, 0])
    assert "device='cuda:0'" in repr(x)


def test_the_simulators_arrays_refuse_host_numpy_as_a_gpus_do():
    x = ng.ones(3, device="cuda")
    with pytest.raises((TypeError, AttributeError)):
        np.asarray(x._data)
    with pytest.raises(TypeError):
        x._data + 1


def test_mixing_devices_names_both():
    with pytest.raises(RuntimeError, match="cuda:0 and cpu"):
        ng.ones(2, device="cuda") + ng.ones(2)


def test_transfer_is_differentiable_both_ways():
    a = ng.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = (a.to("cuda") * 2).sigmoid().cpu()
    b.sum().backward()
    ref = ng.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (ref * 2).sigmoid().sum().backward()
    assert a.grad.device == ng.device("cpu")
    np.testing.assert_allclose(a.grad.numpy(), ref.grad.numpy(), rtol=1e-6)


def test_elementwise_broadcasting_and_views_match_cpu():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal((3,))
    compare(lambda x, y: (x * y + 1).tanh(), a, b)
    compare(lambda x: (x.T * 2).exp(), a)
    compare(lambda x: x[:, ::2] - x[:, 1:2], a)
    compare(lambda x, y: ng.where(x > 0, x, y), a, b)


def test_elementwise_over_more_than_one_block():
    x = np.random.default_rng(1).standard_normal(1000)
    compare(lambda t: ng.sigmoid(t) * t, x)


def test_module_to_moves_parameters_in_place_and_state_dicts_cross_devices():
    ng.manual_seed(0)
    m = ng.nn.Linear(3, 2)
    w = m.weight
    m.to("cuda")
    assert m.weight is w and w.device == ng.device("cuda:0")
    state = {k: v.cpu() for k, v in m.state_dict().items()}
    other = ng.nn.Linear(3, 2).to("cuda")
    other.load_state_dict(state)
    assert_close(other.weight, m.weight.cpu())
    back = ng.nn.Linear(3, 2)
    back.load_state_dict(m.state_dict())  # cuda tensors into a CPU module
    np.testing.assert_array_equal(back.weight.detach().numpy(), host(m.weight))
    m.zero_grad(set_to_none=False)


def test_save_and_load_keep_the_device():
    x = ng.arange(6.0).reshape(2, 3).cuda()
    buf = io.BytesIO()
    ng.save(x, buf)
    buf.seek(0)
    y = ng.load(buf)
    assert y.device == x.device
    np.testing.assert_array_equal(host(y), host(x))


def test_cuda_facade():
    assert ng.cuda.is_available() and ng.cuda.device_count() == 1
    assert ng.cuda.current_device() == 0
    assert isinstance(ng.cuda.get_device_name(), str)
    assert len(ng.cuda.get_device_capability()) == 2
    ng.cuda.synchronize()
    assert ng.cuda.memory_allocated() >= 0 and ng.cuda.max_memory_reserved() >= 0
    ng.cuda.empty_cache()
    ng.cuda.manual_seed(3)
    a = ng.randn(4, device="cuda")
    ng.manual_seed(3)
    b = ng.randn(4)
    np.testing.assert_array_equal(host(a), host(b))  # one generator for every device
    assert ng.accelerator.is_available()


def test_cuda_array_interface_and_dlpack_share_memory():
    from numba import cuda

    from numgrad import dlpack

    x = ng.arange(6.0).reshape(2, 3).cuda()
    cai = x.__cuda_array_interface__
    assert cai["shape"] == (2, 3) and cai["stream"] is None and cai["typestr"] == "<f4"
    assert x.__dlpack_device__() == (dlpack.KDL_CUDA, 0)
    ptr, shape, strides, dtype, kind, dev = dlpack.read_capsule(x.__dlpack__())
    assert (shape, strides, dtype, kind, dev) == ((2, 3), (12, 4), np.dtype("f4"), 2, 0)
    assert ptr == cai["data"][0]
    with pytest.raises(RuntimeError, match="require"):
        ng.ones(2, device="cuda", requires_grad=True).__dlpack__()
    # a CUDA array from another library becomes a tensor over the same memory
    arr = cuda.to_device(np.arange(4.0))
    t = ng.from_dlpack(arr)
    assert t.device == ng.device("cuda:0")
    t.add_(1.0)
    np.testing.assert_array_equal(arr.copy_to_host(), [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(AttributeError, match="non-CUDA"):
        _ = ng.ones(2).__cuda_array_interface__


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m.nonzero(x > 0),
        lambda m, x: m.unique(m.round(x)),
        lambda m, x: m.any(x > 1),
        lambda m, x: m.all(x > -5, dim=1),
        lambda m, x: m.count_nonzero(x > 0),
        lambda m, x: m.logsumexp(x, dim=1),
    ],
)
def test_host_utilities_return_tensors_on_the_device(fn):
    x = np.random.default_rng(2).standard_normal((3, 4))
    compare(lambda t: fn(ng, t), x, grad=False)


def test_clip_grad_norm_on_the_device_matches_cpu():
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    out = {}
    for dev in ("cpu", "cuda"):
        ps = [ng.zeros(g.shape, device=dev, requires_grad=True) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = ng.tensor(g, device=dev, dtype=ng.float32)
        total = ng.nn.utils.clip_grad_norm_(ps, 0.5)
        out[dev] = (total, ps)
    np.testing.assert_allclose(host(out["cuda"][0]), host(out["cpu"][0]), rtol=1e-5)
    for a, b in zip(out["cuda"][1], out["cpu"][1]):
        np.testing.assert_allclose(host(a.grad), host(b.grad), rtol=1e-5, atol=1e-7)
