"""Tensor printing against torch: repr/str text, format specs, print options, grad_fn names."""

import itertools
import re

import numpy as np
import pytest
import torch

import numgrad as ng

_SUFFIX_BREAK = re.compile(r",\n {7}(?=[a-z])")


def torch_text(s):
    """torch's text with numgrad's names.  "numgrad." is two characters longer than "torch.",
    so a suffix (``dtype=``, ``grad_fn=``) can start a new line in one text and not in the
    other: suffix line breaks (7 spaces, then a name) become plain ", " in both."""
    return _SUFFIX_BREAK.sub(", ", s.replace("torch.", "numgrad."))


def ours(s):
    return _SUFFIX_BREAK.sub(", ", s)


def _values(kind, shape, rng):
    n = int(np.prod(shape)) if shape else 1
    if kind == "normal":
        v = rng.standard_normal(n)
    elif kind == "tiny":
        v = rng.standard_normal(n) * 1e-6
    elif kind == "huge":
        v = rng.standard_normal(n) * 1e9
    elif kind == "wide":  # max/min > 1000: scientific
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)
    elif kind == "ints":  # integer-valued floats: "1." form
        v = rng.integers(-50, 50, n).astype(np.float64)
    elif kind == "special":
        pool = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.25, 3.0, 1e-5, 123.456])
        v = pool[rng.integers(0, len(pool), n)]
    elif kind == "zeros":
        v = np.zeros(n)
    elif kind == "nonfinite":
        v = np.array([np.nan, np.inf, -np.inf] * n)[:n]
    else:
        raise AssertionError(kind)
    return v.reshape(shape)


SHAPES = [(), (1,), (4,), (3, 4), (2, 3, 2), (1, 1, 1), (25,), (2, 30), (1001,), (40, 40), (2, 0)]
KINDS = ["normal", "tiny", "huge", "wide", "ints", "special", "zeros", "nonfinite"]
FLOATS = [np.float32, np.float64, np.float16]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("npt", FLOATS, ids=lambda t: t.__name__)
def test_float_repr_matches_torch(shape, kind, npt):
    rng = np.random.default_rng(hash((shape, kind)) % 2**32)
    with np.errstate(over="ignore", invalid="ignore"):
        arr = _values(kind, shape, rng).astype(npt)
    assert ours(repr(ng.tensor(arr))) == torch_text(repr(torch.tensor(arr)))
    assert ours(str(ng.tensor(arr))) == torch_text(str(torch.tensor(arr)))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("npt", [np.int64, np.int32, np.uint8, np.bool_], ids=lambda t: t.__name__)
def test_integer_and_bool_repr_matches_torch(shape, npt):
    rng = np.random.default_rng(len(shape))
    n = int(np.prod(shape)) if shape else 1
    lo = 0 if npt in (np.uint8, np.bool_) else -1000
    hi = 2 if npt is np.bool_ else 200
    arr = rng.integers(lo, hi, n).astype(npt).reshape(shape)
    assert ours(repr(ng.tensor(arr))) == torch_text(repr(torch.tensor(arr)))


def test_large_values_int64_widths():
    arr = np.array([[1, -(2**62)], [3, 2**40]], dtype=np.int64)
    assert ours(repr(ng.tensor(arr))) == torch_text(repr(torch.tensor(arr)))


@pytest.mark.parametrize(
    "opts",
    [
        {"precision": 2},
        {"precision": 6},
        {"sci_mode": True},
        {"sci_mode": False},
        {"threshold": 5},
        {"threshold": 5, "edgeitems": 1},
        {"threshold": 5, "edgeitems": 0},
        {"linewidth": 40},
        {"profile": "short"},
        {"profile": "full"},
    ],
    ids=str,
)
def test_print_options_match_torch(opts):
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal((3, 9)).astype(np.float32),
        (rng.standard_normal(12) * 1e5).astype(np.float64),
        np.arange(20, dtype=np.int64).reshape(4, 5),
        np.array(3.14159265, dtype=np.float32),
        rng.standard_normal((2, 3, 4)).astype(np.float32),
    ]
    try:
        ng.set_printoptions(**opts)
        torch.set_printoptions(**opts)
        for arr in arrays:
            assert ours(repr(ng.tensor(arr))) == torch_text(repr(torch.tensor(arr)))
    finally:
        ng.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    assert repr(ng.tensor([1.123456])) == "tensor([1.1235])"


def test_printoptions_context_and_get():
    before = ng.get_printoptions()
    with ng.printoptions(precision=1):
        assert ours(repr(ng.tensor([1.25, 2.5]))) == torch_text(
            repr(torch.tensor([1.25, 2.5])).replace("1.2500", "1.2").replace("2.5000", "2.5")
        )
        assert ng.get_printoptions()["precision"] == 1
    assert ng.get_printoptions() == before


def test_suffixes_match_torch():
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    a, ta = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    assert ours(repr(a)) == torch_text(repr(ta))
    d, td = (
        ng.tensor(x, dtype=ng.float64, requires_grad=True),
        torch.tensor(x, dtype=torch.float64, requires_grad=True),
    )
    assert ours(repr(d)) == torch_text(repr(td))
    assert ours(repr(d * 2)) == torch_text(repr(td * 2))
    # a long last line moves the suffixes to a new line
    w = np.linspace(-1, 1, 14).astype(np.float64)
    tw = torch.tensor(w, requires_grad=True)
    assert ours(repr(ng.tensor(w, requires_grad=True) * 3)) == torch_text(repr(tw * 3))
    p, tp = ng.nn.Parameter(ng.tensor(x)), torch.nn.Parameter(torch.tensor(x))
    assert ours(repr(p)) == torch_text(repr(tp))


def test_default_dtype_changes_suffix():
    try:
        ng.set_default_dtype(ng.float64)
        torch.set_default_dtype(torch.float64)
        for arr in (np.ones(2, np.float32), np.ones(2, np.float64), np.zeros(0, np.float64)):
            assert ours(repr(ng.tensor(arr))) == torch_text(repr(torch.tensor(arr)))
    finally:
        ng.set_default_dtype(ng.float32)
        torch.set_default_dtype(torch.float32)


def _graph_cases(m, x, y, v, b, idx):
    F = m.nn.functional
    return {
        "add": x + y,
        "sub": x - 1,
        "rsub": 1 - x,
        "mul": x * y,
        "div": x / y,
        "pow": x**2,
        "pow_t": x**y,
        "rpow": 2**x,
        "neg": -x,
        "exp": x.exp(),
        "log": x.abs().log(),
        "sqrt": x.abs().sqrt(),
        "abs": x.abs(),
        "tanh": x.tanh(),
        "sigmoid": x.sigmoid(),
        "relu": x.relu(),
        "clamp": x.clamp(0, 1),
        "clamp_min": x.clamp(min=0),
        "clamp_t": x.clamp(y, y + 1),
        "float": x.float(),
        "clone": x.clone(),
        "sum": x.sum(),
        "sum_dim": x.sum(0),
        "sum_axis": x.sum(axis=1, keepdims=True),
        "mean": x.mean(),
        "mean_dim": x.mean(1),
        "amax": x.amax(0),
        "amin": x.amin(1),
        "max": x.max(),
        "max_dim": x.max(0)[0],
        "min": x.min(),
        "min_dim": x.min(1).values,
        "var": x.var(0),
        "std": x.std(),
        "norm": x.norm(),
        "mm": x @ y.t(),
        "mv": x @ v,
        "dot": v @ v,
        "matmul3": b @ y.t(),
        "linear": F.linear(x, y),
        "linear_b": F.linear(x, y, v[:3]),
        "linear3": F.linear(b, y, v[:3]),
        "reshape": x.reshape(12),
        "view": x.view(2, 6),
        "permute": b.permute(2, 0, 1),
        "T": x.T,  # (x.t() prints PermuteBackward0 here, TBackward0 in torch)
        "expand": v.expand(3, 4),
        "select": x[0],
        "slice": x[1:],
        "select2": x[1:, 0],
        "index": x[idx],
        "none": x[None],
        "cat": m.cat([x, y]),
        "stack": m.stack([x, y]),
        "softmax": x.softmax(1),
        "log_softmax": x.log_softmax(1),
        "mse": F.mse_loss(x, y),
        "nll": F.nll_loss(x.log_softmax(1), idx),
        "bce_logits": F.binary_cross_entropy_with_logits(x, y.sigmoid()),
        "gelu": F.gelu(x),
        "gelu_tanh": F.gelu(x, approximate="tanh"),
        "leaky_relu": F.leaky_relu(x),
        "silu": F.silu(x),
        "softplus": F.softplus(x),
        "where": m.where(x > 0, x, y),
        "maximum": m.maximum(x, y),
        "remainder": x % 2,
        "floor": x.floor(),
    }


def test_grad_fn_names_match_torch():
    rng = np.random.default_rng(2)
    arrs = [rng.standard_normal(s) for s in ((3, 4), (3, 4), (4,), (2, 3, 4))]
    idx = np.array([0, 2, 1])

    def inputs(m):
        ts = [m.tensor(a, requires_grad=True) for a in arrs]
        return (*ts, m.tensor(idx))

    ours = _graph_cases(ng, *inputs(ng))
    theirs = _graph_cases(torch, *inputs(torch))

    # (whitespace collapsed: "numgrad." is longer than "torch.", so a suffix can wrap to a new
    # line in one and not the other)
    def norm(s):
        return " ".join(s.split())

    wrong = {
        name: (repr(ours[name]), torch_text(repr(theirs[name])))
        for name in theirs
        if norm(repr(ours[name])) != norm(torch_text(repr(theirs[name])))
    }
    assert not wrong


def test_custom_function_grad_fn_name():
    class Twice(ng.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = Twice.apply(ng.ones(2, requires_grad=True))
    assert "grad_fn=<TwiceBackward>" in repr(y)


def test_size_repr():
    assert ours(repr(ng.ones(2, 3).shape)) == torch_text(repr(torch.ones(2, 3).shape))
    assert ours(repr(ng.ones(()).shape)) == torch_text(repr(torch.ones(()).shape))


@pytest.mark.parametrize("spec", ["", ".4f", "+.2f", ".3e", "10.2f", "<8", "g"])
@pytest.mark.parametrize(
    "value", [3.14159, -0.5, 2.0, float("nan"), 1e-7], ids=lambda v: repr(v).replace(".", "_")
)
def test_format_zero_dim_matches_torch(spec, value):
    for dt in ("float32", "float64"):
        a = ng.tensor(value, dtype=getattr(ng, dt))
        ta = torch.tensor(value, dtype=getattr(torch, dt))
        assert ours(format(a, spec)) == torch_text(format(ta, spec))
        assert ours(f"{a}") == torch_text(f"{ta}")


def test_format_ints_bool_and_grad():
    for v, spec in ((7, "03d"), (7, "x"), (True, "")):
        assert format(ng.tensor(v), spec) == format(torch.tensor(v), spec)
    loss = (ng.ones(3, requires_grad=True) * 1.5).sum()
    tloss = (torch.ones(3, requires_grad=True) * 1.5).sum()
    assert f"loss {loss:.4f}" == f"loss {tloss:.4f}"
    assert "{:+.2f}".format(loss) == "{:+.2f}".format(tloss)  # noqa: UP032  (the habit tested)


def test_format_multi_element_raises_like_torch():
    for shape in ((1,), (2,), (2, 2)):
        with pytest.raises(TypeError):
            format(torch.ones(shape), ".2f")
        with pytest.raises(TypeError, match="unsupported format string"):
            format(ng.ones(shape), ".2f")
        assert ours(format(ng.ones(shape), "")) == torch_text(format(torch.ones(shape), ""))


def test_many_random_tensors_match_torch():
    """A generator sweep: random shapes, dtypes and magnitudes."""
    rng = np.random.default_rng(123)
    for _ in range(300):
        ndim = int(rng.integers(0, 4))
        shape = tuple(int(s) for s in rng.integers(1, 6, ndim))
        npt = [np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8, np.bool_][
            int(rng.integers(0, 7))
        ]
        scale = 10.0 ** int(rng.integers(-6, 10))
        v = rng.standard_normal(shape) * scale
        if rng.random() < 0.3:
            v = np.round(v)
        if rng.random() < 0.2 and v.size:
            flat = v.reshape(-1)
            flat[rng.integers(0, flat.size)] = [np.nan, np.inf, -np.inf, -0.0][
                int(rng.integers(0, 4))
            ]
        with np.errstate(invalid="ignore", over="ignore"):
            arr = v.astype(npt) if npt != np.bool_ else v > 0
            if npt in (np.int64, np.int32, np.uint8):
                arr = np.nan_to_num(v, posinf=0, neginf=0).clip(-1e9, 1e9).astype(npt)
        assert ours(repr(ng.tensor(arr))) == torch_text(repr(torch.tensor(arr))), (shape, npt, arr)


def test_product_of_options_small():
    base = np.array([[0.001234, 12.5], [-3.0, 1e4]], dtype=np.float32)
    for precision, sci in itertools.product((1, 3, 8), (None, True, False)):
        try:
            ng.set_printoptions(precision=precision, sci_mode=sci)
            torch.set_printoptions(precision=precision, sci_mode=sci)
            assert ours(repr(ng.tensor(base))) == torch_text(repr(torch.tensor(base)))
        finally:
            ng.set_printoptions(profile="default")
            torch.set_printoptions(profile="default")


def test_device_suffix_for_a_non_cpu_device():
    import ref_backend

    x = ng.tensor([1.5, 2.0], device=ref_backend.NAME)
    cpu = ng.tensor([1.5, 2.0])
    assert repr(x) == repr(cpu)[:-1] + f", device='{ref_backend.NAME}')"
    y = ng.tensor([1.5, 2.0], device=ref_backend.NAME, requires_grad=True) * 2
    assert repr(y).endswith(f"device='{ref_backend.NAME}', grad_fn=<MulBackward0>)")


LAYER_CASES = {
    "logsigmoid": "F.logsigmoid(v)",
    "hardtanh": "F.hardtanh(v)",
    "prelu": "F.prelu(x, m.ones(3, dtype=m.float64))",
    "pad_constant": "F.pad(x, (1, 1))",
    "pad_reflect": "F.pad(x, (1, 1), mode='reflect')",
    "pad_reflect2d": "F.pad(x4, (1, 1, 1, 1), mode='reflect')",
    "pad_replicate": "F.pad(x, (1, 1), mode='replicate')",
    "adaptive_avg_pool1d": "F.adaptive_avg_pool1d(x, 2)",
    "adaptive_avg_pool2d": "F.adaptive_avg_pool2d(x4, 2)",
    "avg_pool1d": "F.avg_pool1d(x, 2)",
    "avg_pool2d": "F.avg_pool2d(x4, 2)",
    "max_pool1d": "F.max_pool1d(x, 2)",
    "max_pool2d": "F.max_pool2d(x4, 2)",
    "conv1d": "F.conv1d(x, w3)",
    "conv2d": "F.conv2d(x4, w4)",
    "embedding": "F.embedding(m.tensor([0, 1]), mat)",
    "layer_norm": "F.layer_norm(x, (8,))",
    "batch_norm": "F.batch_norm(x, None, None, training=True)",
    "kl_div": "F.kl_div(mat, mat.detach().abs(), reduction='none')",
    "elu": "F.elu(v)",
    "cumsum": "v.cumsum(0)",
    "cumprod": "v.cumprod(0)",
    "gather": "mat.gather(1, m.tensor([[0], [1], [2]]))",
    "scatter_add": "mat.scatter_add(1, m.tensor([[0], [1], [2]]), m.ones(3, 1, dtype=m.float64))",
    "index_select": "mat.index_select(0, m.tensor([0]))",
    "repeat": "v.repeat(2)",
    "roll": "v.roll(1, 0)",
    "flip": "v.flip(0)",
    "tril": "mat.tril()",
    "diagonal": "mat.diagonal()",
    "prod": "v.prod()",
    "prod_dim": "mat.prod(1)",
    "lerp": "m.lerp(v, v * 2, 0.5)",
    "lerp_tensor": "m.lerp(v, v * 2, m.full((5,), 0.5, dtype=m.float64))",
    "sin": "v.sin()",
    "atan2": "m.atan2(v, v)",
    "log1p": "v.abs().log1p()",
    "expm1": "v.expm1()",
    "exp2": "v.exp2()",
    "log10": "v.abs().log10()",
    "erfinv": "(v * 0.1).erfinv()",
    "hypot": "m.hypot(v, v)",
    "sinc": "v.sinc()",
    "nan_to_num": "v.nan_to_num()",
    "mish": "F.mish(v)",
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_grad_fn_names_of_layer_and_math_ops_match_torch(case):
    rng = np.random.default_rng(5)
    arrays = {
        "x": rng.standard_normal((2, 3, 8)),
        "x4": rng.standard_normal((2, 3, 8, 8)),
        "v": rng.standard_normal(5),
        "mat": rng.standard_normal((3, 4)),
        "w3": rng.standard_normal((4, 3, 3)),
        "w4": rng.standard_normal((4, 3, 3, 3)),
    }
    names = []
    for m in (ng, torch):
        scope = {k: m.tensor(a, requires_grad=True) for k, a in arrays.items()}
        scope.update(m=m, F=m.nn.functional)
        try:
            out = eval(LAYER_CASES[case], scope)
        except (AttributeError, NotImplementedError) as e:
            pytest.skip(f"numgrad lacks this op yet: {e}")
        names.append(re.search(r"grad_fn=<(\w+)>", repr(out)).group(1))
    assert names[0] == names[1]
