"""CUDA matmul / linear, casts and the optimizer updates, against the CPU backend.

The op-spec suite (test_cuda_ops.py) covers contiguous operands; here: transposed, sliced and
broadcast views (read in place by the GEMM), shapes spanning several tiles and grid-stride
rounds, integer products, empty products, the cuBLAS argument mapping (run through a numpy
stand-in for the library, since no GPU is here), casts at the edges of numpy's conversions,
and every optimizer update stepped side by side with the CPU's.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from util import assert_close, compare

import numgrad
from numgrad.dispatch import apply
from numgrad.ops.registry import OPS

F64 = np.float64
F32 = np.float32


def rand(rng, *shape, dtype=F64):
    return rng.standard_normal(shape).astype(dtype)


# ---- matmul: layouts ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [F32, F64])
def test_matmul_transposed_and_sliced_views(dtype):
    rng = np.random.default_rng(0)
    a, b = rand(rng, 9, 6, dtype=dtype), rand(rng, 11, 9, dtype=dtype)
    # a.T @ b.T, a sliced operand with a step, and a view with a negative-free offset
    compare(lambda x, y: x.T @ y.T, a, b)
    compare(lambda x, y: x[1:, ::2] @ y[:3, 2:5], a, b)
    compare(lambda x, y: x.T[2:5] @ y[::2, :7], a, rand(rng, 18, 9, dtype=dtype))


def test_matmul_several_tiles_and_grid_rounds():
    # 13 x 17 @ 17 x 19 spans several tiles on each axis (more than the simulator's grid cap,
    # so the grid-stride loops run), with ragged edges on all three dims
    rng = np.random.default_rng(1)
    compare(lambda x, y: x @ y, rand(rng, 13, 17), rand(rng, 17, 19))


def test_matmul_broadcast_batches():
    rng = np.random.default_rng(2)
    # batch dims that broadcast on different axes: no single stride describes a's batch
    compare(lambda x, y: x @ y, rand(rng, 3, 1, 2, 4), rand(rng, 1, 2, 4, 3))
    # rank-5 mixed broadcasting: a's batch collapses at no split shared with b's
    compare(lambda x, y: x @ y, rand(rng, 2, 1, 3, 2, 3), rand(rng, 1, 2, 1, 3, 2))
    # a transposed batch view
    compare(lambda x, y: x.permute(1, 0, 2) @ y, rand(rng, 3, 2, 4), rand(rng, 2, 4, 5))


def test_matmul_empty_and_zero_inner():
    rng = np.random.default_rng(3)
    compare(lambda x, y: x @ y, rand(rng, 3, 0), rand(rng, 0, 4))  # k = 0: zeros
    compare(lambda x, y: x @ y, rand(rng, 0, 3), rand(rng, 3, 4))
    compare(lambda x, y: x @ y, rand(rng, 2, 0, 3, 4), rand(rng, 4, 5))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_matmul_integer_and_bool(dtype):
    rng = np.random.default_rng(4)
    a = rng.integers(0, 40, (5, 7)).astype(dtype)
    b = rng.integers(0, 40, (7, 3)).astype(dtype)
    # uint8 wraps, bool is "any product nonzero": the CPU's int64 loop cast back
    compare(lambda x, y: x @ y, a, b, grad=False)
    compare(lambda x, y: x @ y, rng.integers(0, 9, (2, 3, 4)).astype(dtype), b[:4], grad=False)


def test_matmul_dtype_mismatch_raises_like_cpu():
    a = np.ones((2, 3), F32)
    b = np.ones((3, 2), F64)
    errors = []
    for dev in ("cpu", "cuda"):
        with pytest.raises(Exception) as e:
            numgrad.tensor(a, device=dev) @ numgrad.tensor(b, device=dev)
        errors.append(type(e.value))
    assert errors[0] is errors[1]


# ---- linear ----------------------------------------------------------------------------------


def _linear(x, w, b=None):
    # the op itself (nn.functional.linear reads x.shape[-1] of the raw array first)
    return apply(OPS["linear"], (x, w, b))


@pytest.mark.parametrize("dtype", [F32, F64])
def test_linear_layouts(dtype):
    rng = np.random.default_rng(5)
    x, w, b = (
        rand(rng, 2, 3, 6, dtype=dtype),
        rand(rng, 5, 6, dtype=dtype),
        rand(rng, 5, dtype=dtype),
    )
    compare(_linear, x, w, b)
    compare(_linear, x, w)
    compare(_linear, rand(rng, 6, dtype=dtype), w, b)
    # a transposed input and weight, and a strided bias
    compare(
        lambda x, w, b: _linear(x.permute(1, 0, 2), w.T, b[::2]),
        x,
        rand(rng, 6, 5, dtype=dtype),
        rand(rng, 10, dtype=dtype),
    )


def test_linear_larger_than_tiles():
    rng = np.random.default_rng(6)
    compare(_linear, rand(rng, 10, 21), rand(rng, 9, 21), rand(rng, 9))


# ---- the cuBLAS mapping, through a numpy stand-in -------------------------------------------


class _FakeCublas:
    """cuBLAS's column-major GEMMs on host memory (the simulator's device arrays are host
    arrays), so the row-major -> column-major mapping of cublas.py runs without a GPU."""

    class Operation:
        N = 0
        T = 1

    def __init__(self):
        self.calls = 0

    @staticmethod
    def _matrix(ptr, rows, cols, ld, trans, dtype, batch=1, stride=0):
        # op(X) of a column-major X (rows x cols after op) with leading dimension ld
        size = np.dtype(dtype).itemsize
        r, c = (cols, rows) if trans else (rows, cols)
        span = (r - 1) + (c - 1) * ld + (batch - 1) * stride + 1
        buf = (ctypes.c_char * (span * size)).from_address(ptr)
        flat = np.frombuffer(buf, dtype)
        x = np.lib.stride_tricks.as_strided(flat, (batch, r, c), (stride * size, size, ld * size))
        assert ld >= max(1, r), "cuBLAS requires ld >= rows of the stored matrix"
        return x.transpose(0, 2, 1) if trans else x

    def _gemm(self, dtype, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, nb):
        self.calls += 1
        al = np.frombuffer((ctypes.c_char * 8).from_address(alpha), dtype, 1)[0]
        be = np.frombuffer((ctypes.c_char * 8).from_address(beta), dtype, 1)[0]
        A = self._matrix(a, m, k, lda, ta, dtype, nb, sa)
        B = self._matrix(b, k, n, ldb, tb, dtype, nb, sb)
        C = self._matrix(c, m, n, ldc, 0, dtype, nb, sc)
        C[...] = al * (A @ B) + (be * C if be else 0)

    def sgemm(self, h, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc):
        self._gemm(F32, ta, tb, m, n, k, al, a, lda, 0, b, ldb, 0, be, c, ldc, 0, 1)

    def dgemm(self, h, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc):
        self._gemm(F64, ta, tb, m, n, k, al, a, lda, 0, b, ldb, 0, be, c, ldc, 0, 1)

    def sgemm_strided_batched(self, h, ta, tb, m, n, k, al, a, lda, sa, b, ldb, sb, *rest):
        self._gemm(F32, ta, tb, m, n, k, al, a, lda, sa, b, ldb, sb, *rest)

    def dgemm_strided_batched(self, h, ta, tb, m, n, k, al, a, lda, sa, b, ldb, sb, *rest):
        self._gemm(F64, ta, tb, m, n, k, al, a, lda, sa, b, ldb, sb, *rest)


@pytest.fixture
def fake_cublas(monkeypatch):
    from numgrad.devices.cuda import cublas

    fake = _FakeCublas()
    monkeypatch.setattr(cublas, "_STATE", {"lib": fake, "handle": 0})
    return fake


@pytest.mark.parametrize("dtype", [F32, F64])
def test_cublas_mapping(fake_cublas, dtype):
    rng = np.random.default_rng(7)
    a, b = rand(rng, 5, 4, dtype=dtype), rand(rng, 4, 6, dtype=dtype)
    compare(lambda x, y: x @ y, a, b)  # backward: transposed operands (flag T)
    compare(lambda x, y: x.T @ y.T, rand(rng, 4, 5, dtype=dtype), rand(rng, 6, 4, dtype=dtype))
    compare(lambda x, y: x[:, 1:3] @ y[1:3, 2:], a, b)  # leading dims larger than the cols
    compare(lambda x, y: x @ y, rand(rng, 3, 5, 4, dtype=dtype), b)  # strided batched, stride 0
    compare(lambda x, y: x @ y, rand(rng, 4, dtype=dtype), b)  # vector: a size-1 dim
    compare(
        _linear,
        rand(rng, 2, 3, 4, dtype=dtype),
        rand(rng, 6, 4, dtype=dtype),
        rand(rng, 6, dtype=dtype),
    )
    n = fake_cublas.calls
    # every-other-column view: neither of its strides is 1, so the tiled kernel runs the
    # forward and the gradient of b (a.T @ grad); only grad @ b.T goes to cuBLAS
    compare(lambda x, y: x[:, ::2] @ y, rand(rng, 5, 8, dtype=dtype), b)
    assert fake_cublas.calls == n + 1
    assert n > 10


def test_cublas_off_in_the_simulator():
    from numgrad.devices.cuda import cublas

    assert cublas._library() is None


# ---- cast / clone ----------------------------------------------------------------------------

_EDGES = np.array(
    [-1.5, -0.5, -0.0, 0.5, 2.7, np.nan, 300.0, -300.0, np.inf, -np.inf, 1e10 + 7, 2.0**31, 4e9]
)


@pytest.mark.parametrize("src", [np.float16, F32, F64])
@pytest.mark.parametrize("to", ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"])
def test_cast_edges_match_numpy(src, to):
    x = _EDGES.astype(src)
    got = numgrad.tensor(x, device="cuda").to(getattr(numgrad, to))
    want = numgrad.tensor(x).to(getattr(numgrad, to))
    assert got.device.type == "cuda"
    g, w = got.cpu().numpy(), want.numpy()
    assert g.dtype == w.dtype
    np.testing.assert_array_equal(g, w)


def test_cast_and_clone_of_0d():
    for v in (1.5, float("nan"), -3.7):
        for fn in (lambda t: t.clone(), lambda t: t.int(), lambda t: t.bool(), lambda t: t.half()):
            got, want = fn(numgrad.tensor(v, device="cuda")), fn(numgrad.tensor(v))
            assert got.shape == want.shape == ()
            np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


def test_cast_and_clone_of_views():
    rng = np.random.default_rng(8)
    x = rand(rng, 6, 5)
    compare(lambda t: t.T[1:, ::2].float(), x)
    compare(lambda t: t[::2].clone() * 2, x)
    got = numgrad.tensor(x, device="cuda").T.clone()
    assert got._data.is_c_contiguous()
    assert_close(got, numgrad.tensor(x).T.clone())
    ints = rng.integers(-300, 300, (4, 7))
    for to in ("bool", "uint8", "int32", "float32"):
        a = numgrad.tensor(ints, device="cuda")[:, 1::2].to(getattr(numgrad, to))
        assert_close(a, numgrad.tensor(ints)[:, 1::2].to(getattr(numgrad, to)))


# ---- optimizer updates -----------------------------------------------------------------------


class _Mirror:
    """Wraps the CPU implementation of update op ``name``: each bind also binds the CUDA kernel
    to device copies of the rows (one copy per CPU array, kept across binds), and each call runs
    both, so the real optimizer drives the CPU and the CUDA update with the same state, flags and
    scalars.  ``check()`` compares every mirrored array with its CPU original."""

    def __init__(self, name):
        self.name = name
        self.cpu = OPS[name].forward.impls["cpu"]
        self.cuda = OPS[name].forward.on("cuda", name)
        self.copies = {}  # id(cpu array) -> (cpu array, device copy)
        self.calls = 0

    def _device(self, a):
        got = self.copies.get(id(a))
        if got is None or got[0] is not a:
            got = self.copies[id(a)] = (a, numgrad.tensor(a, device="cuda")._data)
        return got[1]

    def __call__(self, rows, static, dtype):
        cpu = self.cpu(rows, static, dtype)
        dev = self.cuda(
            [tuple(None if a is None else self._device(a) for a in r) for r in rows], static, dtype
        )

        def bound(grads, *scalars):
            dev([numgrad.tensor(g, device="cuda")._data for g in grads], *scalars)
            cpu(grads, *scalars)
            self.calls += 1

        return bound

    def check(self, dtype):
        tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == F64 else {"rtol": 1e-5, "atol": 1e-6}
        for a, d in self.copies.values():
            got = _host(d)
            assert got.dtype == a.dtype
            if a.dtype == np.float32 and a.shape == ():  # counters: exact
                np.testing.assert_array_equal(got, a)
            else:
                np.testing.assert_allclose(got, a, **tol)


def _host(d):
    from numgrad.devices.cuda import runtime

    return runtime.to_host(d)


_OPTIMIZERS = [
    ("sgd_update", "SGD", {"lr": 0.1}),
    ("sgd_update", "SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("sgd_update", "SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "maximize": True}),
    ("sgd_update", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    ("adam_update", "Adam", {"lr": 0.01}),
    ("adam_update", "Adam", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}),
    ("adam_update", "AdamW", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    ("adam_update", "Adam", {"lr": 0.01, "betas": (0.3, 0.9)}),
    ("rmsprop_update", "RMSprop", {"lr": 0.01}),
    ("rmsprop_update", "RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9}),
    (
        "rmsprop_update",
        "RMSprop",
        {"lr": 0.01, "alpha": 0.3, "centered": True, "weight_decay": 0.1},
    ),
    ("adagrad_update", "Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    ("adadelta_update", "Adadelta", {"lr": 1.0, "weight_decay": 0.1}),
    ("adamax_update", "Adamax", {"lr": 0.02, "maximize": True}),
    ("radam_update", "RAdam", {"lr": 0.01}),
    ("radam_update", "RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("nadam_update", "NAdam", {"lr": 0.01}),
    ("nadam_update", "NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
]


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "op,cls,kwargs", _OPTIMIZERS, ids=[f"{c}-{i}" for i, (_, c, _) in enumerate(_OPTIMIZERS)]
)
def test_update_matches_cpu(monkeypatch, op, cls, kwargs, dtype):
    mirror = _Mirror(op)
    monkeypatch.setitem(OPS[op].forward.impls, "cpu", mirror)
    rng = np.random.default_rng(9)
    # a parameter larger than a block (grid-stride rounds), a small one, and an empty one
    params = [
        numgrad.tensor(rand(rng, *s, dtype=dtype), requires_grad=True)
        for s in ((9, 13), (3,), (0, 2))
    ]
    opt = getattr(numgrad.optim, cls)(params, **kwargs)
    steps = 7 if op == "radam_update" else 4  # RAdam rectifies from step 6 with beta2 0.999
    for step in range(steps):
        for p in params:
            p.grad = numgrad.tensor(rand(rng, *p.shape, dtype=dtype))
        if step == 2:  # a parameter skipping a step: its counters fall behind the others'
            params[1].grad = None
        opt.step()
        mirror.check(dtype)
    assert mirror.calls >= steps
    assert mirror.copies  # the mirrored params and states were compared


def test_update_gradient_count_checked():
    op = "adam_update"
    spec = OPS[op].forward.spec
    make = OPS[op].forward.on("cuda", op)
    p = numgrad.tensor(np.ones(3, F32), device="cuda")._data
    st = [numgrad.tensor(np.zeros(3, F32), device="cuda")._data for _ in range(2)]
    step = numgrad.tensor(np.zeros((), F32), device="cuda")._data
    static = (False, False, False, False, True)
    bound = make([(p, None, *st, step)], static, np.dtype(F32))
    with pytest.raises(ValueError, match="2 gradients for 1 parameters"):
        bound([p, p], *([F32(0.1)] * len(spec["scalars"])), 0.1, 0.9, 0.99, 0.5)
