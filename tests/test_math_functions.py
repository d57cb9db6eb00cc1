"""The math area of issue 11 beyond the op specs, against torch: values and gradients at domain
edges (inf, NaN, exact zeros and their signs), erfinv's accuracy, the numpy-style aliases, the
in-place forms, the options of ``isclose``/``allclose``/``nan_to_num``, dtypes and errors.

The op specs (``tests/opinfo_math.py``) check each op on smooth inputs; here every check runs
on the CPU and on the plain-numpy reference device, whose elementwise kernels are the scalar
rules run through the plain-Python math seam (``numgrad/ops/math.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ref_backend
import torch

import numgrad

DEVICES = ["cpu", ref_backend.NAME]
INF = math.inf
NAN = math.nan


def _ng(values, device, dtype=np.float64, requires_grad=False):
    return numgrad.tensor(
        np.asarray(values, dtype=dtype), device=device, requires_grad=requires_grad
    )


def _th(values, dtype=np.float64, requires_grad=False):
    return torch.tensor(np.asarray(values, dtype=dtype), requires_grad=requires_grad)


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def assert_same(ng, th, rtol=1e-12, what="result", atol=0.0):
    """Same dtype and shape, NaN where torch has NaN, the same infinities, the same signs of
    zeros, and close values elsewhere."""
    a, b = _np(ng), _np(th)
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != torch's {b.dtype}"
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    if a.dtype.kind != "f":
        np.testing.assert_array_equal(a, b, err_msg=what)
        return
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{what}: NaNs {a} vs {b}")
    finite = np.isfinite(b)
    np.testing.assert_array_equal(a[~finite & ~np.isnan(b)], b[~finite & ~np.isnan(b)], what)
    zeros = b == 0
    np.testing.assert_array_equal(
        np.signbit(a[zeros]), np.signbit(b[zeros]), err_msg=f"{what}: signs of zeros {a} vs {b}"
    )
    np.testing.assert_allclose(a[finite], b[finite], rtol=rtol, atol=atol, err_msg=what)


# ---- values and gradients at domain edges -----------------------------------------------------

# (function, inputs): each input's value and gradient (upstream 1, -2 and inf) against torch
EDGES = [
    ("acosh", [1.0, 0.5, 2.0, INF, NAN]),
    ("atanh", [1.0, -1.0, 2.0, -2.0, 0.5, 0.0, -0.0]),
    ("asin", [1.0, -1.0, 1.5, 0.5, -0.0]),
    ("acos", [1.0, -1.0, 1.5, 0.5]),
    ("asinh", [INF, -INF, 0.0, -0.0]),
    ("sinc", [0.0, -0.0, 1e-170, 1e-300, 0.5, 1.0, INF]),
    ("erfinv", [1.0, -1.0, 2.0, 0.0, -0.0, NAN, 1 - 2**-53, 0.9999999]),
    ("erf", [INF, -INF, 0.0, 6.0]),
    ("erfc", [INF, -INF, 30.0, -30.0]),
    ("log10", [0.0, -0.0, -1.0, INF]),
    ("log2", [0.0, -1.0, INF, 1.0]),
    ("log1p", [-1.0, -2.0, INF, 1e-300]),
    ("expm1", [1000.0, -1000.0, -INF, 1e-300]),
    ("exp2", [2000.0, -2000.0, INF, -INF]),
    ("sinh", [1000.0, -1000.0, -0.0]),
    ("cosh", [1000.0, -1000.0, INF]),
    ("tan", [INF, 1.5707963267948966, -0.0]),
    ("sin", [INF, -0.0, NAN]),
    ("cos", [-INF, 0.0]),
    ("atan", [INF, -INF]),
    ("reciprocal", [0.0, -0.0, INF, -INF]),
    ("rsqrt", [0.0, -1.0, INF]),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,values", EDGES, ids=[e[0] for e in EDGES])
def test_domain_edges_match_torch(name, values, device):
    for upstream in (1.0, -2.0, INF):
        x = _ng(values, device, requires_grad=True)
        t = _th(values, requires_grad=True)
        y, u = getattr(numgrad, name)(x), getattr(torch, name)(t)
        assert_same(y, u, what=f"{name}{values}")
        y.backward(_ng(np.full(len(values), upstream), device))
        u.backward(_th(np.full(len(values), upstream)))
        assert_same(x.grad, t.grad, rtol=1e-9, what=f"d {name}, upstream {upstream}")


BINARY_EDGES = [
    ("hypot", [0.0, 0.0, -0.0, 1e-200, 3.0, INF, 1.0], [0.0, -0.0, 0.0, 0.0, 4.0, 1.0, NAN]),
    ("atan2", [0.0, -0.0, 0.0, 1e-200, INF, 1.0, 0.0], [0.0, 0.0, -0.0, 0.0, 1.0, INF, -1.0]),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,xs,ys", BINARY_EDGES, ids=[e[0] for e in BINARY_EDGES])
def test_binary_domain_edges_match_torch(name, xs, ys, device):
    # atan2's gradient is 0 where x*x + y*y is 0 (torch masks 1/0), hypot's is NaN at (0, 0)
    for upstream in (1.0, -2.0, INF):
        x, y = _ng(xs, device, requires_grad=True), _ng(ys, device, requires_grad=True)
        tx, ty = _th(xs, requires_grad=True), _th(ys, requires_grad=True)
        out, tout = getattr(numgrad, name)(x, y), getattr(torch, name)(tx, ty)
        assert_same(out, tout, what=name)
        out.backward(_ng(np.full(len(xs), upstream), device))
        tout.backward(_th(np.full(len(xs), upstream)))
        assert_same(x.grad, tx.grad, rtol=1e-9, what=f"d{name}/dx, upstream {upstream}")
        assert_same(y.grad, ty.grad, rtol=1e-9, what=f"d{name}/dy, upstream {upstream}")


@pytest.mark.parametrize("device", DEVICES)
def test_nan_to_num_gradient_is_a_product_with_isfinite(device):
    # torch: grad * isfinite(x), so an inf upstream gradient at a non-finite x gives NaN
    values = [NAN, INF, -INF, 1.0, -2.0]
    for upstream in ([1.0, -1.0, 2.0, 3.0, -3.0], [INF] * 5, [-1.0] * 5):
        x, t = _ng(values, device, requires_grad=True), _th(values, requires_grad=True)
        numgrad.nan_to_num(x).backward(_ng(upstream, device))
        torch.nan_to_num(t).backward(_th(upstream))
        assert_same(x.grad, t.grad, what=f"upstream {upstream}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_in_float32_and_float64(dtype, device):
    # the float32 kernels compute in float32 (libm's sinf...) or round a float64 result
    x = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, INF, -INF, NAN], dtype=dtype)
    for name in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
                 "atanh", "erf", "erfc", "erfinv", "log10", "log2", "log1p", "expm1", "exp2",
                 "sinc", "reciprocal"):  # fmt: skip
        with np.errstate(all="ignore"):
            got = getattr(numgrad, name)(numgrad.tensor(x, device=device))
        # atol: torch's float32 sinc at the integers (its zeros) is rounding noise, ~3e-8
        want = getattr(torch, name)(torch.tensor(x))
        assert_same(got, want, rtol=2e-6, atol=1e-7 if dtype == np.float32 else 0.0, what=name)


# ---- erfinv: accuracy of the seam's algorithm ---------------------------------------------------


def _erfinv_points():
    rng = np.random.default_rng(11)
    return np.concatenate(
        [
            rng.uniform(-1, 1, 4000),
            1 - 10 ** rng.uniform(-15.9, -1, 1000),  # the upper tail, up to 1 - 1.3e-16
            -(1 - 10 ** rng.uniform(-15.9, -1, 500)),
            10 ** rng.uniform(-300, -1, 500),  # tiny values, where erfinv(y) ~ sqrt(pi)/2 y
            [0.5, np.nextafter(0.5, 0), np.nextafter(0.5, 1), 1 - 2**-53, 2**-1074, -(2**-1074)],
        ]
    )


def test_erfinv_is_within_a_few_ulp_of_torch_float64():
    """numgrad's erfinv (Giles' approximation + Halley steps) and torch's (rational
    approximation + Newton) agree to 4 ulp on float64 over the whole domain, tails included.
    (Against mpmath at 40 digits the seam was measured within 1.3 ulp, torch's within 0.51.)"""
    y = _erfinv_points()
    ref = torch.erfinv(torch.tensor(y)).numpy()
    ulp = np.spacing(np.abs(ref))
    for device in DEVICES:
        got = numgrad.erfinv(numgrad.tensor(y, device=device)).numpy()
        err = np.abs(got - ref) / ulp
        assert err.max() <= 4, f"{device}: {err.max()} ulp at y={y[err.argmax()]!r}"
        assert np.array_equal(np.signbit(got), np.signbit(ref))


def test_erfinv_float32_is_correctly_rounded_from_float64():
    y = _erfinv_points().astype(np.float32)
    y = y[np.abs(y) < 1]
    got = numgrad.erfinv(numgrad.tensor(y)).numpy()
    exact = torch.erfinv(torch.tensor(y.astype(np.float64))).numpy().astype(np.float32)
    ours_vs_exact = np.abs(got.astype(np.float64) - exact) / np.spacing(np.abs(exact))
    assert ours_vs_exact.max() <= 1
    th32 = torch.erfinv(torch.tensor(y)).numpy()  # torch's own float32 kernel, a few ulp
    np.testing.assert_allclose(got, th32, rtol=1e-5, atol=0)


# ---- aliases, methods and in-place forms ------------------------------------------------------

ALIASES = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arctan2": "atan2",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
}


@pytest.mark.parametrize("alias,name", ALIASES.items())
def test_aliases_are_the_same_functions_as_in_torch(alias, name):
    assert getattr(numgrad, alias) is getattr(numgrad, name)
    assert getattr(numgrad.Tensor, alias) is getattr(numgrad.Tensor, name)
    assert hasattr(torch, alias) and hasattr(torch.Tensor, alias)


NEW_NAMES = (
    "sin cos tan asin acos atan atan2 sinh cosh asinh acosh atanh erf erfc erfinv log10 log2 "
    "log1p expm1 exp2 sinc hypot isnan isinf isfinite isposinf isneginf nan_to_num isclose "
    "allclose signbit logical_and logical_or logical_xor reciprocal lerp"
).split()


@pytest.mark.parametrize("name", NEW_NAMES + list(ALIASES))
def test_function_and_method_exist_as_in_torch(name):
    assert callable(getattr(numgrad, name)), name
    assert callable(getattr(numgrad.Tensor, name)), name
    assert getattr(numgrad, name).__doc__, f"{name} has no docstring"


UNARY_INPLACE = {
    "sin_": (-2, 2),
    "cos_": (-2, 2),
    "tan_": (-1.2, 1.2),
    "asin_": (-0.9, 0.9),
    "acos_": (-0.9, 0.9),
    "atan_": (-2, 2),
    "sinh_": (-2, 2),
    "cosh_": (-2, 2),
    "asinh_": (-2, 2),
    "acosh_": (1.1, 3),
    "atanh_": (-0.9, 0.9),
    "erf_": (-2, 2),
    "erfc_": (-2, 2),
    "erfinv_": (-0.9, 0.9),
    "log10_": (0.5, 2),
    "log2_": (0.5, 2),
    "log1p_": (-0.5, 2),
    "expm1_": (-2, 2),
    "exp2_": (-2, 2),
    "sinc_": (-2, 2),
    "reciprocal_": (0.5, 2),
    "arcsin_": (-0.9, 0.9),
    "arccos_": (-0.9, 0.9),
    "arctan_": (-2, 2),
    "arcsinh_": (-2, 2),
    "arccosh_": (1.1, 3),
    "arctanh_": (-0.9, 0.9),
    "nan_to_num_": (-2, 2),
    "rsqrt_": (0.5, 2),
    "sigmoid_": (-2, 2),
    "tanh_": (-2, 2),
}


# torch raises "the derivative for 'inplace version of acosh' is not implemented" in backward;
# numgrad's in-place forms all have the out-of-place gradient, which these are checked against
NO_TORCH_INPLACE_DERIVATIVE = ("asinh", "acosh", "atanh")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", UNARY_INPLACE)
def test_unary_inplace_on_a_graph_tensor(name, device):
    lo, hi = UNARY_INPLACE[name]
    x0 = np.random.default_rng(len(name)).uniform(lo, hi, (3, 4))
    g = np.random.default_rng(1).standard_normal((3, 4))
    a, ta = _ng(x0, device, requires_grad=True), _th(x0, requires_grad=True)
    b, tb = a * 1.5, ta * 1.5  # a non-leaf, as torch requires for in-place ops under grad
    r = getattr(b, name)()
    assert r is b and b._version[0] == 1
    if ALIASES.get(name[:-1], name[:-1]) in NO_TORCH_INPLACE_DERIVATIVE:
        tb = getattr(tb, name[:-1])()
    else:
        assert getattr(tb, name)() is tb
    assert_same(b, tb, rtol=1e-12, what=name)
    (b * 2).backward(_ng(g, device))
    (tb * 2).backward(_th(g))
    assert_same(a.grad, ta.grad, rtol=1e-9, what=f"grad of {name}")


@pytest.mark.parametrize("device", DEVICES)
def test_binary_inplace_forms(device):
    rng = np.random.default_rng(5)
    x0, y0, w0 = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.uniform(0, 1, (3, 4))
    for call in (
        lambda m, x, y, w: x.atan2_(y),
        lambda m, x, y, w: x.arctan2_(y),
        lambda m, x, y, w: x.hypot_(y),
        lambda m, x, y, w: x.lerp_(y, 0.3),
        lambda m, x, y, w: x.lerp_(y, w),
    ):
        a, y, w = (_ng(v, device, requires_grad=True) for v in (x0, y0, w0))
        ta, ty, tw = (_th(v, requires_grad=True) for v in (x0, y0, w0))
        b, tb = a * 1.0, ta * 1.0
        assert call(numgrad, b, y, w) is b
        call(torch, tb, ty, tw)
        assert_same(b, tb)
        b.sum().backward()
        tb.sum().backward()
        for n, t in ((a, ta), (y, ty), (w, tw)):
            if t.grad is None:
                assert n.grad is None
            else:
                assert_same(n.grad, t.grad, rtol=1e-9)


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_on_plain_tensors_writes_into_them(device):
    x0 = np.array([0.5, -1.0, 2.0, 0.0])
    x, t = _ng(x0, device), _th(x0)
    data = x._data
    x.sin_().exp2_().reciprocal_()
    t.sin_().exp2_().reciprocal_()
    assert x._data is data
    assert_same(x, t)
    # logical ops in place keep the tensor's dtype (a float tensor holds 0.0 / 1.0)
    f, tf = _ng([0.0, 2.0, NAN, 0.0], device), _th([0.0, 2.0, NAN, 0.0])
    m, tm = (
        _ng([True, True, False, False], device, np.bool_),
        _th([True, True, False, False], np.bool_),
    )
    for name in ("logical_and_", "logical_or_", "logical_xor_"):
        ff, tff = f.clone(), tf.clone()
        getattr(ff, name)(m)
        getattr(tff, name)(tm)
        assert_same(ff, tff, what=name)
    n, tn = _ng([NAN, INF, -INF, 1.0], device), _th([NAN, INF, -INF, 1.0])
    n.nan_to_num_(nan=1.0, posinf=2.0)
    tn.nan_to_num_(nan=1.0, posinf=2.0)
    assert_same(n, tn)


def test_inplace_errors_match_torch():
    # a float result cannot be written into an integer tensor
    with pytest.raises(RuntimeError):
        torch.arange(3).sin_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        numgrad.arange(3).sin_()
    # a leaf that requires grad refuses in-place ops
    with pytest.raises(RuntimeError):
        torch.ones(3, requires_grad=True).sin_()
    with pytest.raises(RuntimeError, match="leaf"):
        numgrad.ones(3, requires_grad=True).sin_()
    # the result must keep the tensor's shape
    with pytest.raises(RuntimeError):
        torch.ones(3).atan2_(torch.ones(2, 3))
    with pytest.raises(RuntimeError, match="shape"):
        numgrad.ones(3).atan2_(numgrad.ones(2, 3))
    # integers are whole: nan_to_num_ on them changes nothing, as in torch
    i = numgrad.arange(3)
    assert i.nan_to_num_() is i and i.tolist() == [0, 1, 2]


# ---- isclose / allclose / nan_to_num options ------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_isclose_and_allclose_options(dtype, device):
    a = np.array([1.0, 1.0 + 1e-6, 1.1, NAN, NAN, INF, INF, -INF, 0.0, 1e-9, 100.0])
    b = np.array([1.0, 1.0, 1.0, NAN, 1.0, INF, -INF, -INF, 1e-9, 0.0, 100.5])
    options = [
        {},
        {"rtol": 0.2},
        {"atol": 0.15},
        {"rtol": 0.0, "atol": 0.0},
        {"equal_nan": True},
        {"rtol": 0.01, "atol": 0.0, "equal_nan": True},
    ]
    for kw in options:
        x, y = _ng(a, device, dtype), _ng(b, device, dtype)
        tx, ty = _th(a, dtype), _th(b, dtype)
        assert_same(numgrad.isclose(x, y, **kw), torch.isclose(tx, ty, **kw), what=str(kw))
        assert_same(x.isclose(y, **kw), tx.isclose(ty, **kw), what=str(kw))
        for sl in (slice(0, 3), slice(3, 5), slice(5, 8), slice(8, 11)):
            got = numgrad.allclose(x[sl], y[sl], **kw)
            assert type(got) is bool
            assert got == torch.allclose(tx[sl], ty[sl], **kw), (kw, sl)
            assert x[sl].allclose(y[sl], **kw) == got
    # broadcasting, as torch
    x, y = _ng([[1.0], [2.0]], device, dtype), _ng([1.0, 2.0, 1.0], device, dtype)
    tx, ty = _th([[1.0], [2.0]], dtype), _th([1.0, 2.0, 1.0], dtype)
    assert_same(numgrad.isclose(x, y), torch.isclose(tx, ty))


def test_isclose_errors_match_torch():
    a32, a64 = numgrad.ones(3), numgrad.ones(3, dtype=numgrad.float64)
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        numgrad.isclose(a32, a64)
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        torch.isclose(torch.ones(3), torch.ones(3, dtype=torch.float64))
    for kw, what in (({"rtol": -1}, "rtol"), ({"atol": -0.5}, "atol")):
        with pytest.raises(RuntimeError, match=f"{what} must be greater than or equal to zero"):
            numgrad.isclose(a32, a32, **kw)
        with pytest.raises(RuntimeError, match=f"{what} must be greater than or equal to zero"):
            torch.isclose(torch.ones(3), torch.ones(3), **kw)
    for fn in ("isclose", "allclose", "atan2", "hypot", "logical_and", "logical_or"):
        with pytest.raises(TypeError, match="must be Tensor"):
            getattr(torch, fn)(torch.ones(3), 1.0)
        with pytest.raises(TypeError, match="must be Tensor"):
            getattr(numgrad, fn)(a32, 1.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_nan_to_num_options(dtype, device):
    x0 = np.array([NAN, INF, -INF, 1.5, -0.0])
    for kw in (
        {},
        {"nan": 2.0},
        {"posinf": 10.0},
        {"neginf": -10.0},
        {"nan": -1.0, "posinf": 1e3, "neginf": -1e3},
        {"posinf": 1e39, "neginf": -1e39},  # beyond float32/float16: inf, as torch casts it
        {"nan": None},
    ):
        got = numgrad.nan_to_num(_ng(x0, device, dtype), **kw)
        assert_same(got, torch.nan_to_num(_th(x0, dtype), **kw), what=f"{dtype} {kw}")
        got = _ng(x0, device, dtype).nan_to_num(**kw)
        assert_same(got, _th(x0, dtype).nan_to_num(**kw), what=f"method {dtype} {kw}")
    for ints in (np.array([1, -2, 3]), np.array([True, False]), np.array([1, 200], np.uint8)):
        got = numgrad.nan_to_num(numgrad.tensor(ints, device=device))
        assert_same(got, torch.nan_to_num(torch.tensor(ints)))


# ---- dtypes and errors ----------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_float16_computes_in_float32_and_stays_float16(device):
    x0 = np.array([-0.9, -0.3, 0.0, 0.4, 0.8], dtype=np.float16)
    for name in ("sin", "asin", "atanh", "erf", "erfinv", "exp2", "sinc", "reciprocal", "log1p"):
        got = getattr(numgrad, name)(numgrad.tensor(x0, device=device))
        assert_same(got, getattr(torch, name)(torch.tensor(x0)), rtol=1e-3, what=name)
    for name in ("isnan", "isfinite", "signbit"):
        got = getattr(numgrad, name)(numgrad.tensor(x0, device=device))
        assert_same(got, getattr(torch, name)(torch.tensor(x0)), what=name)
    h, th = numgrad.tensor(x0, device=device), torch.tensor(x0)
    assert_same(numgrad.hypot(h, h), torch.hypot(th, th), rtol=1e-3)
    assert_same(numgrad.atan2(h, h), torch.atan2(th, th), rtol=1e-3)


def test_promotion_between_float_dtypes():
    a = np.array([0.5, -1.0])
    for name in ("atan2", "hypot"):
        got = getattr(numgrad, name)(numgrad.tensor(a, dtype=numgrad.float32), numgrad.tensor(a))
        want = getattr(torch, name)(torch.tensor(a, dtype=torch.float32), torch.tensor(a))
        assert_same(got, want, what=name)
    i = numgrad.tensor([1, 2])
    assert_same(numgrad.atan2(i, i), torch.atan2(torch.tensor([1, 2]), torch.tensor([1, 2])), 1e-6)


def test_errors_match_torch():
    i, ti = numgrad.tensor([1, 2]), torch.tensor([1, 2])
    for fn in (lambda m, x: m.hypot(x, x), lambda m, x: m.lerp(x, x, 0.5)):
        with pytest.raises(NotImplementedError):
            fn(torch, ti)
        with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
            fn(numgrad, i)
    a32, a64 = numgrad.ones(3), numgrad.ones(3, dtype=numgrad.float64)
    t32, t64 = torch.ones(3), torch.ones(3, dtype=torch.float64)
    msg = "expected dtype float for `end` but got dtype double"
    with pytest.raises(RuntimeError, match=msg):
        torch.lerp(t32, t64, 0.5)
    with pytest.raises(RuntimeError, match=msg):
        numgrad.lerp(a32, a64, 0.5)
    msg = "expected dtype float for `weight` but got dtype double"
    with pytest.raises(RuntimeError, match=msg):
        torch.lerp(t32, t32, t64)
    with pytest.raises(RuntimeError, match=msg):
        numgrad.lerp(a32, a32, a64)
    # a 0-d weight of another float dtype is accepted, as in torch
    w = np.array(0.25)
    assert_same(
        numgrad.lerp(a32, a32 * 3, numgrad.tensor(w)), torch.lerp(t32, t32 * 3, torch.tensor(w))
    )
    for name in ("sin", "isnan", "erfinv"):
        with pytest.raises(TypeError):
            getattr(torch, name)(1.0)
        with pytest.raises(TypeError, match="must be a Tensor"):
            getattr(numgrad, name)(1.0)


def test_predicates_and_logical_ops_record_no_gradient():
    x = numgrad.tensor([NAN, 1.0, -0.0], requires_grad=True)
    for out in (
        numgrad.isnan(x),
        numgrad.isfinite(x),
        numgrad.signbit(x),
        numgrad.isclose(x, x),
        numgrad.logical_and(x, x),
        numgrad.logical_xor(x, x > 0),
    ):
        assert out.dtype == numgrad.bool
        assert not out.requires_grad and out.grad_fn is None
