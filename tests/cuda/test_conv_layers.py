"""CUDA convolution, pooling and layer ops (``devices/cuda/conv.py``, ``devices/cuda/layers.py``)
against the CPU backend, beyond the op-spec parity suite: strided (non-contiguous) device
inputs, NaN and tie rules of max pooling, more elements than one block, float16 and integer
padding, embedding's index checks, and a small CNN trained two steps on both devices.

Shapes are small: under the simulator every simulated thread runs as Python.
"""

from __future__ import annotations

import numpy as np
import pytest
from util import TOL, assert_close, compare, host

import numgrad
import numgrad.nn.functional as F
from numgrad.devices.cpu import conv as cpu_conv
from numgrad.devices.cpu import layers as cpu_layers
from numgrad.devices.cuda import conv as cuda_conv
from numgrad.devices.cuda import layers as cuda_layers
from numgrad.devices.cuda import runtime
from numgrad.dispatch import apply
from numgrad.ops import conv as conv_ops
from numgrad.ops import layers as layer_ops
from numgrad.ops.registry import OPS

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def _rand(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _close(dev, ref, what):
    a = runtime.to_host(dev)
    assert a.shape == ref.shape, f"{what}: shape {a.shape} != cpu's {ref.shape}"
    assert a.dtype == ref.dtype, f"{what}: dtype {a.dtype} != cpu's {ref.dtype}"
    np.testing.assert_allclose(a, ref, err_msg=what, **TOL[a.dtype])


def _views(a):
    """``a`` as two strided views, on the host and on the device alike: every other element
    of a twice-as-wide array (a slice), and the transpose of its last two axes' transpose
    (made with byte strides)."""
    wide = np.repeat(a, 2, axis=-1)
    wide[..., 1::2] = 1e6  # the skipped elements: any leak into a result shows
    sliced_dev = runtime.from_host(wide)[..., ::2]
    t = np.ascontiguousarray(np.swapaxes(a, -1, -2))
    t_dev = runtime.from_host(t)
    strides = t_dev.strides[:-2] + (t_dev.strides[-1], t_dev.strides[-2])
    transposed_dev = runtime.as_strided(t_dev, a.shape, strides)
    for dev in (sliced_dev, transposed_dev):
        assert not dev.is_c_contiguous()
        np.testing.assert_array_equal(runtime.to_host(dev), a)
    return [("slice", sliced_dev), ("transpose", transposed_dev)]


# ---- strided inputs reach the kernels' contiguous layout ----------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_strided_inputs(dtype):
    rng = np.random.default_rng(1)
    x, w = _rand(rng, 2, 4, 5, 6, dtype=dtype), _rand(rng, 6, 2, 3, 2, dtype=dtype)
    b = _rand(rng, 6, dtype=dtype)
    plan = conv_ops.conv_plan(x.shape, w.shape, (2, 1), (1, 0, 1, 1), (1, 2), 2)
    out = cpu_conv.conv_forward(x, w, b, plan)
    g = _rand(rng, *out.shape, dtype=dtype)
    want = {
        "out": out,
        "dx": cpu_conv.conv_dx(g, w, plan),
        "dw": cpu_conv.conv_dw(g, x, plan),
        "db": cpu_conv.conv_db(g, plan),
    }
    for (name, xd), (_, wd), (_, gd) in zip(_views(x), _views(w), _views(g)):
        bd = runtime.from_host(b)
        _close(cuda_conv.conv_forward(xd, wd, bd, plan), want["out"], f"conv {name}")
        _close(cuda_conv.conv_dx(gd, wd, plan), want["dx"], f"conv dx {name}")
        _close(cuda_conv.conv_dw(gd, xd, plan), want["dw"], f"conv dw {name}")
        _close(cuda_conv.conv_db(gd, plan), want["db"], f"conv db {name}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling_strided_inputs(dtype):
    rng = np.random.default_rng(2)
    x = _rand(rng, 2, 3, 5, 6, dtype=dtype)
    mp = conv_ops.max_pool_plan(x.shape, 2, (3, 2), (2, 2), (1, 1, 1, 0), (1, 1), True)
    ap = conv_ops.avg_pool_plan(x.shape, 2, (2, 3), (1, 2), (1, 1, 1, 1), False, False, None)
    am = conv_ops.adaptive_max_pool_plan(x.shape, 2, (3, 4))
    out, idx = cpu_conv.max_pool_forward(x, mp)
    avg = cpu_conv.avg_pool_forward(x, ap)
    aout, aidx = cpu_conv.adaptive_max_pool_forward(x, am)
    for name, xd in _views(x):
        o, i = cuda_conv.max_pool_forward(xd, mp)
        _close(o, out, f"max_pool {name}")
        np.testing.assert_array_equal(runtime.to_host(i), idx)
        _close(cuda_conv.avg_pool_forward(xd, ap), avg, f"avg_pool {name}")
        o, i = cuda_conv.adaptive_max_pool_forward(xd, am)
        _close(o, aout, f"adaptive_max_pool {name}")
        np.testing.assert_array_equal(runtime.to_host(i), aidx)
    g = _rand(rng, *avg.shape, dtype=dtype)
    for name, gd in _views(g):
        _close(cuda_conv.avg_pool_backward(gd, ap), cpu_conv.avg_pool_backward(g, ap), f"dx {name}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_norms_strided_inputs(dtype):
    rng = np.random.default_rng(3)
    x = _rand(rng, 3, 2, 5, dtype=dtype)
    w, b = _rand(rng, 5, dtype=dtype), _rand(rng, 5, dtype=dtype)
    lp = layer_ops.layer_norm_plan(x.shape, (5,))
    out, mean, rstd = cpu_layers.layer_norm_forward(x, w, b, 1e-5, lp)
    g = _rand(rng, *x.shape, dtype=dtype)
    dx = cpu_layers.layer_norm_dx(g, x, w, mean, rstd, lp)
    bp = layer_ops.batch_norm_plan(x.shape)
    bout, bmean, bvar = cpu_layers.batch_norm_forward(x, None, None, 1e-5, bp)
    bdx = cpu_layers.batch_norm_dx(g, x, None, bmean, bvar, 1e-5, bp)
    wd, bd = runtime.from_host(w), runtime.from_host(b)
    for (name, xd), (_, gd) in zip(_views(x), _views(g)):
        o, m_, r_ = cuda_layers.layer_norm_forward(xd, wd, bd, 1e-5, lp)
        _close(o, out, f"layer_norm {name}")
        _close(m_, mean, f"layer_norm mean {name}")
        _close(cuda_layers.layer_norm_dx(gd, xd, wd, m_, r_, lp), dx, f"layer_norm dx {name}")
        o, m_, v_ = cuda_layers.batch_norm_forward(xd, None, None, 1e-5, bp)
        _close(o, bout, f"batch_norm {name}")
        _close(v_, bvar, f"batch_norm var {name}")
        _close(cuda_layers.batch_norm_dx(gd, xd, None, m_, v_, 1e-5, bp), bdx, f"bn dx {name}")


def test_pad_and_embedding_strided_inputs():
    rng = np.random.default_rng(4)
    x = _rand(rng, 2, 3, 4)
    for mode, pads in (("constant", (1, -1, 2, 0)), ("reflect", (2, 1, 1, 2))):
        plan = layer_ops.pad_plan(x.shape, pads, mode)
        want = cpu_layers.pad_forward(x, 0.5, plan)
        for name, xd in _views(x):
            _close(cuda_layers.pad_forward(xd, 0.5, plan), want, f"pad {mode} {name}")
    w = _rand(rng, 6, 5)
    idx = np.array([[5, 0, 2], [2, 2, 1], [4, 3, 5]])
    for (name, wd), (_, idx_d) in zip(_views(w), _views(idx)):
        got = cuda_layers.embedding_forward(wd, idx_d)
        assert runtime.to_host(got).dtype == w.dtype
        np.testing.assert_array_equal(runtime.to_host(got), w[idx], err_msg=name)


# ---- through the tensor API --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_views(dtype):
    # transposed and sliced tensors (views on the device) into every op of the two modules
    rng = np.random.default_rng(10)
    x = _rand(rng, 2, 3, 4, 3, dtype=dtype)
    w = _rand(rng, 4, 3, 2, 2, dtype=dtype)
    compare(lambda x, w: F.conv2d(x.transpose(2, 3), w, stride=(2, 1)), x, w)
    compare(lambda x, w: F.conv_transpose2d(x[:, :, ::2], w.transpose(0, 1)[:3]), x, w)
    compare(lambda x: F.max_pool2d(x[:, 1:, ::2], 2, padding=1), x)
    compare(lambda x: F.avg_pool2d(x.transpose(2, 3), 2, ceil_mode=True), x)
    compare(lambda x: F.adaptive_avg_pool2d(x.transpose(1, 3), (2, 3)), x)
    compare(lambda x: F.layer_norm(x[1:, :, ::2].transpose(1, 3), (3,)), x)
    compare(lambda x: F.batch_norm(x.transpose(0, 1), None, None, training=True), x)
    compare(lambda x: F.pad(x.transpose(2, 3), (1, 2, 2, 1), mode="reflect"), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_ties_and_nans(dtype):
    # ties: the first maximum of a window wins; NaN wins over any number, the last NaN over an
    # earlier one (the CPU kernel's rule); -inf windows keep their first position
    x = np.zeros((1, 2, 4, 6), dtype=dtype)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = 3.0
    x[0, 0, 2:, :2] = np.nan
    x[0, 0, 2, 3] = np.nan
    x[0, 1] = -np.inf
    x[0, 1, 3, 5] = np.nan
    for fn in (
        lambda t: F.max_pool2d(t, 2, return_indices=True),
        lambda t: F.max_pool2d(t, (3, 2), stride=1, padding=1, return_indices=True),
        lambda t: F.max_pool2d(t, 2, stride=2, dilation=2, ceil_mode=True, return_indices=True),
        lambda t: F.adaptive_max_pool2d(t, (3, 4), return_indices=True),
    ):
        go, co = compare(fn, x, grad=False)
        assert np.array_equal(host(go[1]), host(co[1]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_more_than_one_block(dtype):
    # rows and channels longer than a block's threads (8 in the simulator, 256 on a GPU), so
    # the shared-memory trees combine several partial sums per thread, and more outputs than
    # the simulator's one grid-stride block has threads
    rng = np.random.default_rng(5)
    n = runtime.THREADS + runtime.THREADS // 2 + 3
    x = _rand(rng, 2, n, dtype=dtype) * 3 + 1
    w, b = _rand(rng, n, dtype=dtype), _rand(rng, n, dtype=dtype)
    compare(lambda x, w, b: F.layer_norm(x, (n,), w, b), x, w, b)
    xb = _rand(rng, n, 2, 1, dtype=dtype)
    compare(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), xb, w[:2], b[:2])
    xc = _rand(rng, 2, 3, 7, 8, dtype=dtype)  # 336 inputs, 240 conv outputs
    wc = _rand(rng, 4, 3, 3, 3, dtype=dtype)
    compare(lambda x, w: F.max_pool2d(F.conv2d(x, w, padding=0), 2), xc, wc)
    compare(lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), xc)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_running_stats(dtype):
    rng = np.random.default_rng(6)
    x = _rand(rng, 4, 3, 2, 2, dtype=dtype)
    rm, rv = _rand(rng, 3, dtype=dtype), np.abs(_rand(rng, 3, dtype=dtype)) + 0.5
    stats = {}
    for dev in ("cpu", "cuda"):
        m_, v_ = numgrad.tensor(rm, device=dev), numgrad.tensor(rv, device=dev)
        for _ in range(2):
            out = F.batch_norm(numgrad.tensor(x, device=dev), m_, v_, training=True, momentum=0.3)
        stats[dev] = (out, m_, v_)
    for k, what in enumerate(("out", "running_mean", "running_var")):
        assert_close(stats["cuda"][k], stats["cpu"][k], what)


def test_pad_other_dtypes():
    rng = np.random.default_rng(7)
    x16 = _rand(rng, 2, 3, 4, dtype=np.float16)
    ints = rng.integers(-5, 5, (2, 3, 4))
    for mode, pads in (
        ("constant", (1, 2, -1, 1)),
        ("reflect", (2, 1)),
        ("replicate", (1, 2, 2, 0)),
        ("circular", (1, 2)),
    ):
        compare(lambda t, p=pads, m=mode: F.pad(t, p, mode=m), x16)
        compare(lambda t, p=pads, m=mode: F.pad(t, p, mode=m), ints, grad=False)
        compare(lambda t, p=pads, m=mode: F.pad(t, p, mode=m), ints > 0, grad=False)


# ---- embedding's index checks -------------------------------------------------------------------


def _embedding(weight, indices, padding_idx=-1):
    # the op itself: F.embedding checks indices on the host first (see the report for the
    # core change that lets it leave the check to the device)
    return apply(OPS["embedding"], (weight, indices), {"padding_idx": padding_idx})


def test_embedding_out_of_range_raises_cpus_error():
    w = np.arange(15.0).reshape(5, 3)
    for bad in (np.array([[1, 7], [0, 2]]), np.array([0, -1, 3], dtype=np.int32)):
        with pytest.raises(IndexError) as cpu_err:
            F.embedding(numgrad.tensor(bad), numgrad.tensor(w))
        with pytest.raises(IndexError) as cuda_err:
            _embedding(numgrad.tensor(w, device="cuda"), numgrad.tensor(bad, device="cuda"))
        assert str(cuda_err.value) == str(cpu_err.value)


def test_embedding_backward_checks_indices():
    # the indices can change after forward (through .data); the backward checks them first
    g = np.ones((3, 2))
    bad = np.array([0, 4, 9])
    with pytest.raises(IndexError) as cpu_err:
        cpu_layers.embedding_backward(g, bad, (4, 2), -1)
    with pytest.raises(IndexError) as cuda_err:
        cuda_layers.embedding_backward(runtime.from_host(g), runtime.from_host(bad), (4, 2), -1)
    assert str(cuda_err.value) == str(cpu_err.value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_padding_idx_and_repeats(dtype):
    rng = np.random.default_rng(8)
    w = _rand(rng, 6, 4, dtype=dtype)
    idx = np.array([[1, 3, 1, 1], [3, 0, 5, 1]])
    for pad in (-1, 1, 3):
        compare(lambda w, i, p=pad: _embedding(w, i, p), w, idx)


# ---- a small CNN trained on both devices -------------------------------------------------------


def _cnn_step(params, x, up, lr):
    w1, b1, g1, be1, w2, b2 = params
    h = F.conv2d(x, w1, b1, padding=1)
    h = F.batch_norm(h, None, None, g1, be1, training=True)
    h = F.max_pool2d(F.relu(h), 2)
    # the readout: a linear layer over the pooled maps, written as a convolution whose kernel
    # covers the whole map, so the step needs no reshape (CUDA shape ops are another module)
    out = F.conv2d(h, w2, b2)
    numgrad.autograd.backward([out], [up])
    with numgrad.no_grad():
        for p in params:
            p.sub_(p.grad * lr)
            p.grad = None
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_cnn_trains_alike(dtype):
    rng = np.random.default_rng(9)
    init = [
        _rand(rng, 4, 2, 3, 3, dtype=dtype) * 0.3,
        _rand(rng, 4, dtype=dtype) * 0.1,
        1 + _rand(rng, 4, dtype=dtype) * 0.1,
        _rand(rng, 4, dtype=dtype) * 0.1,
        _rand(rng, 3, 4, 3, 3, dtype=dtype) * 0.3,
        _rand(rng, 3, dtype=dtype) * 0.1,
    ]
    x = _rand(rng, 2, 2, 6, 6, dtype=dtype)
    ups = [_rand(rng, 2, 3, 1, 1, dtype=dtype) for _ in range(2)]
    runs = {}
    for dev in ("cpu", "cuda"):
        params = [numgrad.tensor(p, device=dev, requires_grad=True) for p in init]
        xt = numgrad.tensor(x, device=dev)
        outs = [_cnn_step(params, xt, numgrad.tensor(u, device=dev), 0.1).detach() for u in ups]
        runs[dev] = (outs, params)
    for k, (a, b) in enumerate(zip(runs["cuda"][0], runs["cpu"][0])):
        assert_close(a, b, f"output of step {k}")
    for k, (a, b) in enumerate(zip(runs["cuda"][1], runs["cpu"][1])):
        assert_close(a, b, f"parameter {k} after two steps")
    assert not np.allclose(host(runs["cuda"][1][0]), init[0])  # the steps moved the weights


def test_empty_batches():
    rng = np.random.default_rng(11)
    x, w, b = np.zeros((0, 2, 4, 4)), _rand(rng, 3, 2, 2, 2), _rand(rng, 3)
    compare(lambda x, w, b: F.conv2d(x, w, b), x, w, b)
    compare(lambda x, w, b: F.conv_transpose2d(x, w.transpose(0, 1), b), x[:, :, :2], w, b)
    compare(lambda x: F.max_pool2d(x, 2), x)
    compare(lambda x: F.avg_pool2d(x, 2), x)
    compare(lambda x: F.layer_norm(x, (4, 4)), x)
    compare(lambda x: F.pad(x, (1, 1), mode="replicate"), x)
