"""torch habits against torch: device pickers, legacy constructors, numpy keywords, out=,
the default dtype, inference_mode, and the refusal of sparse tensors."""

import pickle
import warnings

import numpy as np
import pytest
import torch

import numgrad as ng


def outcome(fn):
    """A call's result, or the type of the exception it raised."""
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001  (the type is what is compared)
        return ("raised", type(e))


# ---- device pickers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "is_available()",
        "device_count()",
        "is_initialized()",
        "manual_seed(0)",
        "manual_seed_all(0)",
        "empty_cache()",
        "synchronize()",
        "get_device_name()",
        "get_device_name(0)",
        "current_device()",
        "get_device_capability()",
        "get_device_properties(0)",
        "initial_seed()",
        "memory_allocated()",
        "max_memory_allocated()",
        "memory_reserved()",
        "is_bf16_supported()",
    ],
)
def test_cuda_facade_answers_as_torch_without_a_gpu(call):
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU here; numgrad's CUDA backend is not built")
    ours = outcome(lambda: eval("ng.cuda." + call))
    theirs = outcome(lambda: eval("torch.cuda." + call))
    assert ours == theirs


def test_cuda_error_says_why():
    with pytest.raises(AssertionError, match="CUDA"):
        ng.cuda.get_device_name()


@pytest.mark.parametrize(
    "call",
    [
        "is_available()",
        "current_accelerator()",
        "device_count()",
        "current_device_index()",
        "synchronize()",
        "set_device_index(0)",
        "empty_cache()",
        "memory_allocated()",
    ],
)
def test_accelerator_answers_as_torch_without_one(call):
    if torch.accelerator.is_available():
        pytest.skip("torch sees an accelerator here")
    assert outcome(lambda: eval("ng.accelerator." + call)) == outcome(
        lambda: eval("torch.accelerator." + call)
    )


def test_device_picking_idiom():
    dev = ng.device("cuda" if ng.cuda.is_available() else "cpu")
    tdev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert repr(dev) == repr(tdev) and str(dev) == str(tdev)
    acc = ng.accelerator.current_accelerator()
    tacc = torch.accelerator.current_accelerator()
    assert (acc is None) == (tacc is None)
    assert repr(ng.device("cuda")) == repr(torch.device("cuda"))
    assert repr(ng.device("cuda:1")) == repr(torch.device("cuda:1"))
    x = ng.ones(2, device=dev)
    assert x.device == "cpu"


def test_backends_flags_and_queries_match_torch():
    assert ng.backends.mps.is_available() == torch.backends.mps.is_available()
    assert ng.backends.mps.is_built() == torch.backends.mps.is_built()
    for flag in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(ng.backends.cudnn, flag) == getattr(torch.backends.cudnn, flag), flag
    assert ng.backends.cudnn.is_available() is False
    assert ng.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    assert ng.backends.cuda.is_built() is False
    assert ng.backends.opt_einsum.is_available() is False
    old = ng.backends.cudnn.benchmark
    try:
        ng.backends.cudnn.benchmark = True
        ng.backends.cudnn.deterministic = True
        ng.backends.cuda.matmul.allow_tf32 = True
        assert ng.backends.cudnn.benchmark and ng.backends.cudnn.deterministic
        assert ng.backends.cuda.matmul.allow_tf32
    finally:
        ng.backends.cudnn.benchmark = old
        ng.backends.cudnn.deterministic = False
        ng.backends.cuda.matmul.allow_tf32 = False
    with ng.backends.cudnn.flags(enabled=False):
        assert ng.backends.cudnn.enabled is False
    assert ng.backends.cudnn.enabled is True


def test_default_device():
    assert repr(ng.get_default_device()) == repr(torch.get_default_device())
    ng.set_default_device("cpu")
    ng.set_default_device(None)
    with pytest.raises(RuntimeError, match="CUDA"):
        ng.set_default_device("cuda")


def test_global_switches():
    assert ng.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    ng.set_float32_matmul_precision("high")
    assert ng.get_float32_matmul_precision() == "high"
    ng.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError):
        ng.set_float32_matmul_precision("fast")
    assert ng.are_deterministic_algorithms_enabled() == torch.are_deterministic_algorithms_enabled()
    ng.use_deterministic_algorithms(True)
    assert ng.are_deterministic_algorithms_enabled()
    ng.use_deterministic_algorithms(False)


# ---- legacy constructors ----------------------------------------------------------------------

LEGACY = ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor"]


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize(
    "args",
    [(), (3,), (2, 3), ([1, 2, 3],), ([[1.7, -2.2], [0.0, 4.5]],), ([True, False],)],
    ids=str,
)
def test_legacy_constructors_match_torch(name, args):
    r1 = outcome(lambda: getattr(ng, name)(*args))
    r2 = outcome(lambda: getattr(torch, name)(*args))
    assert r1[0] == r2[0]
    if r1[0] == "raised":
        assert r1[1] is r2[1]
        return
    ours, theirs = r1[1], r2[1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    if args and isinstance(args[0], list):  # sizes give uninitialised memory in torch
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_legacy_wraps_and_checks():
    assert ng.ByteTensor([1, -1]).tolist() == torch.ByteTensor([1, -1]).tolist()
    assert ng.LongTensor([1.7, -2.5]).tolist() == torch.LongTensor([1.7, -2.5]).tolist()
    assert ng.FloatTensor(np.array([1, 2])).tolist() == [1.0, 2.0]
    x = ng.ones(2)
    assert ng.FloatTensor(x) is x
    with pytest.raises(TypeError):
        ng.FloatTensor(ng.ones(2, dtype=ng.float64))
    with pytest.raises(RuntimeError, match="negative dimension"):
        ng.FloatTensor(-1)
    with pytest.raises(TypeError):
        ng.FloatTensor(2.5)


def test_legacy_isinstance_and_type_names():
    for name in LEGACY:
        for dt in ("float32", "float64", "int64", "int32", "bool", "uint8"):
            x = ng.zeros(2, dtype=getattr(ng, dt))
            tx = torch.zeros(2, dtype=getattr(torch, dt))
            assert isinstance(x, getattr(ng, name)) == isinstance(tx, getattr(torch, name))
            assert x.type() == tx.type().replace("torch.", "numgrad.")
    assert not isinstance(np.zeros(2), ng.FloatTensor)
    x = ng.ones(2)
    assert x.type(ng.LongTensor).dtype == ng.int64
    assert x.type("torch.DoubleTensor").dtype == ng.float64
    assert x.type(ng.float16).dtype == ng.float16


def test_tensor_constructor_legacy_forms():
    for args in [(2, 3), ([1, 2],), ([[1, 2], [3, 4]],), (), (ng.Size([2, 1]),)]:
        targs = tuple(torch.Size(a) if isinstance(a, ng.Size) else a for a in args)
        ours, theirs = ng.Tensor(*args), torch.Tensor(*targs)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert ours.dtype == ng.float32 and theirs.dtype == torch.float32
    assert ng.Tensor([1, 2]).tolist() == torch.Tensor([1, 2]).tolist()
    assert ng.Tensor(2, 3).sum().item() == 0.0
    with pytest.raises(TypeError):
        ng.Tensor(2.5)
    with pytest.raises(RuntimeError):
        ng.Tensor(-1)
    with pytest.raises(TypeError):
        torch.Tensor(2.5)
    # numgrad's own forms still work: keywords, numpy data keeps its dtype
    assert ng.Tensor([1, 2], dtype=ng.int64).dtype == ng.int64
    assert ng.Tensor(np.arange(3)).dtype == ng.int64
    assert ng.Tensor([1.0], requires_grad=True).requires_grad


def test_variable():
    x = ng.ones(2, requires_grad=True)
    y = x * 2
    for data, tdata in ((x, torch.ones(2, requires_grad=True)), (y, torch.ones(2) * 2)):
        for rg in (False, True):
            v = ng.autograd.Variable(data, requires_grad=rg)
            tv = torch.autograd.Variable(tdata, requires_grad=rg)
            assert (v.requires_grad, v.is_leaf, v is data) == (tv.requires_grad, tv.is_leaf, False)
    v = ng.autograd.Variable(ng.ones(3), requires_grad=True)
    (v * v).sum().backward()
    assert v.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError):
        ng.autograd.Variable([1.0])


# ---- numpy keyword names ----------------------------------------------------------------------

REDUCTIONS = ["sum", "mean", "amax", "amin", "std", "var", "argmax", "argmin", "logsumexp"]


@pytest.mark.parametrize("fn", REDUCTIONS + ["any", "all", "max", "min"])
@pytest.mark.parametrize(
    "kw", [{"axis": 1}, {"axis": 0, "keepdims": True}, {"dim": 1, "keepdims": True}], ids=str
)
def test_numpy_keywords_match_torch(fn, kw):
    a = np.random.default_rng(0).standard_normal((3, 4))
    if fn in ("any", "all"):
        a = a > 0
    ours = getattr(ng, fn)(ng.tensor(a), **kw)
    theirs = getattr(torch, fn)(torch.tensor(a), **kw)
    method = getattr(ng.tensor(a), fn)(**kw)
    if fn in ("max", "min"):
        ours, theirs, method = ours.values, theirs.values, method.values
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(method.numpy(), theirs.numpy())


def test_numpy_keywords_conflict():
    with pytest.raises(TypeError, match="axis"):
        ng.sum(ng.ones(2), dim=0, axis=0)


# ---- out= --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, args",
    [
        ("add", (np.ones((2, 3)), 2.0)),
        ("sub", (np.ones((2, 3)), np.arange(3.0))),
        ("mul", (np.ones((2, 3)), 3.0)),
        ("div", (np.arange(6.0).reshape(2, 3), 4.0)),
        ("pow", (np.arange(6.0).reshape(2, 3), 2)),
        ("exp", (np.arange(6.0).reshape(2, 3),)),
        ("tanh", (np.arange(6.0).reshape(2, 3),)),
        ("maximum", (np.arange(6.0).reshape(2, 3), np.full((2, 3), 2.5))),
        ("matmul", (np.ones((2, 4)), np.ones((4, 3)))),
        ("mm", (np.ones((2, 4)), np.ones((4, 3)))),
    ],
)
@pytest.mark.parametrize("out_dtype", ["float32", "float64"])
def test_out_matches_torch(fn, args, out_dtype):
    def conv(m, a):
        return m.tensor(a, dtype=m.float32) if isinstance(a, np.ndarray) else a

    o, to = (
        ng.empty(2, 3, dtype=getattr(ng, out_dtype)),
        torch.empty(2, 3, dtype=getattr(torch, out_dtype)),
    )
    r1 = outcome(lambda: getattr(ng, fn)(*[conv(ng, a) for a in args], out=o))
    r2 = outcome(lambda: getattr(torch, fn)(*[conv(torch, a) for a in args], out=to))
    assert r1[0] == r2[0]
    if r1[0] == "ok":
        assert r1[1] is o
        assert o.dtype.name == str(to.dtype).split(".")[-1]
        np.testing.assert_allclose(o.numpy(), to.numpy(), rtol=1e-6)
    else:
        assert r1[1] is r2[1]


def test_out_errors_and_resizing_like_torch():
    for m in (ng, torch):
        with pytest.raises(RuntimeError, match="can't be cast"):
            m.add(m.ones(2), 1.5, out=m.empty(2, dtype=m.int64))
        with pytest.raises(RuntimeError, match="automatic differentiation"):
            m.add(m.ones(2, requires_grad=True), 1, out=m.empty(2))
        o = m.empty(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty out resizes silently
            m.add(m.ones(3), 1, out=o)
        assert tuple(o.shape) == (3,)
        o = m.empty(5)
        with pytest.warns(UserWarning, match="resized"):
            m.add(m.ones(3), 1, out=o)
        assert tuple(o.shape) == (3,)
        o = m.empty(2)
        assert m.sum(m.ones(2, 2), 0, out=o) is o and o.tolist() == [2.0, 2.0]
    # an int result into a float out is fine; a float one into an int out is not
    o = ng.empty(2, dtype=ng.float32)
    ng.add(ng.ones(2, dtype=ng.int64), 1, out=o)
    assert o.tolist() == [2.0, 2.0]


def test_out_keeps_the_storage_shared_with_views():
    o = ng.zeros(2, 3)
    row = o[0]
    ng.add(ng.ones(2, 3), 1, out=o)
    assert row.tolist() == [2.0, 2.0, 2.0]


# ---- default dtype -----------------------------------------------------------------------------


@pytest.fixture
def float64_default():
    ng.set_default_dtype(ng.float64)
    torch.set_default_dtype(torch.float64)
    yield
    ng.set_default_dtype(ng.float32)
    torch.set_default_dtype(torch.float32)


CREATIONS = [
    "m.tensor([1.0, 2.0])",
    "m.tensor(1.5)",
    "m.tensor([1, 2])",
    "m.tensor([1, 2.5])",
    "m.zeros(2)",
    "m.ones(2, 3)",
    "m.empty(1)",
    "m.full((2,), 1.5)",
    "m.full((2,), 3)",
    "m.arange(0.0, 1.0, 0.25)",
    "m.arange(3)",
    "m.linspace(0, 1, 5)",
    "m.eye(2)",
    "m.rand(2)",
    "m.randn(2)",
    "m.tensor([1, 2]) * 0.5",
    "m.tensor([1, 2]).exp()",
    "m.Tensor([1, 2])",
    "m.Tensor(2, 3)",
    "m.zeros_like(m.tensor([1, 2]), dtype=None)",
]


@pytest.mark.parametrize("expr", CREATIONS)
def test_default_dtype_flows_like_torch(expr, float64_default):
    assert ng.get_default_dtype() == ng.float64
    ours = eval(expr, {"m": ng})
    theirs = eval(expr, {"m": torch})
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]


def test_default_dtype_refuses_integers_and_restores():
    for m in (ng, torch):
        with pytest.raises(TypeError, match="floating"):
            m.set_default_dtype(m.int64)
    assert ng.get_default_dtype() == ng.float32
    assert ng.tensor([1.0]).dtype == ng.float32


# ---- inference_mode and no_grad ------------------------------------------------------------------


def test_inference_mode_like_torch():
    for m in (ng, torch):
        x = m.ones(2, requires_grad=True)
        with m.inference_mode():
            assert m.is_inference_mode_enabled()
            y = x * 2
            z = m.tensor([1.0])
            w = m.zeros(2)
        assert not m.is_inference_mode_enabled()
        assert (y.is_inference(), z.is_inference(), w.is_inference()) == (True, True, True)
        assert not y.requires_grad and not x.is_inference()
        assert not (x * 2).is_inference()

        @m.inference_mode()
        def f(t):
            return t + 1

        @m.inference_mode
        def g(t):
            return t + 1

        assert f(x).is_inference() and g(x).is_inference()
        assert not f(x).requires_grad
        with m.inference_mode(False):
            assert not m.ones(1).is_inference()
            assert (x * 2).requires_grad


def test_inference_tensor_is_a_tensor_and_pickles():
    with ng.inference_mode():
        y = ng.ones(3) * 2
    assert isinstance(y, ng.Tensor) and type(y).__name__ == "Tensor"
    back = pickle.loads(pickle.dumps(y))
    assert back.tolist() == [2.0, 2.0, 2.0] and not back.is_inference()
    assert repr(y) == "tensor([2., 2., 2.])"


def test_no_grad_as_decorator_with_and_without_parentheses():
    x = ng.ones(2, requires_grad=True)

    @ng.no_grad
    def f(t):
        return t * 2

    @ng.no_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    with ng.no_grad():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


# ---- sparse tensors ----------------------------------------------------------------------------


def test_sparse_is_refused_clearly():
    x = ng.ones(2, 2)
    assert x.is_sparse is False and torch.ones(2, 2).is_sparse is False
    assert x.to_dense() is x
    for call in (
        lambda: x.to_sparse(),
        lambda: x.to_sparse_csr(),
        lambda: ng.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (3,)),
        lambda: ng.sparse_csr_tensor([0, 1], [0], [1.0]),
    ):
        with pytest.raises(NotImplementedError, match="numgrad has no sparse tensors: .*sparse"):
            call()
