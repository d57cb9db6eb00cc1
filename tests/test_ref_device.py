"""The reference device ``"ref"`` (``tests/ref_backend.py``): the proof that the op table is
device-neutral.

It implements every op of the table from the registry API alone (its elementwise ops run the
scalar rules as plain Python, the rest is numpy written from each op's meaning and plan), the
op-spec suite of ``tests/test_ops.py`` runs on it against torch, and here it must agree with the
CPU device on every spec, forward and backward, in both dtypes.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
import ref_backend
import torch
from opinfo import ALL_SPECS
from test_ops import _make_inputs, _outputs, _seed

import numgrad
from numgrad.ops import OPS
from numgrad.ops.math import scalar

REF = ref_backend.NAME
# rounding-level differences only: numpy's summation order against Numba's, libm against the
# CPU's vectorised exp/tanh (<= 2 ulp), FMA contraction in the CPU loops
TOL = {np.float32: {"rtol": 2e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-11, "atol": 1e-13}}


def _kernels():
    """(op name, kernel name, Kernel) of every op of the table (custom Functions aside)."""
    for name, op in OPS.items():
        if name.startswith("custom."):
            continue
        for which, k in (("forward", op.forward), *op.backward.items()):
            if k is not None:
                yield name, which, k


def test_every_op_has_a_ref_implementation():
    """Fails naming each (op, kernel) the ref device cannot run, or runs with another
    device's callable."""
    missing, borrowed = [], []
    for name, which, k in _kernels():
        try:
            fn = k.on(REF, name)
        except NotImplementedError:
            missing.append(f"{name}[{which}]")
            continue
        module = getattr(fn, "__module__", None) or type(fn).__module__
        # the ref device's own: ref_backend.py and its per-area modules (tests/ref_<area>.py)
        own = module == ref_backend.__name__ or module.startswith("ref_")
        if k.generic is None and not own:
            borrowed.append(f"{name}[{which}] from {module}")
    assert not missing, f"ops with no ref implementation: {missing}"
    assert not borrowed, f"ref kernels that are not the ref device's own: {borrowed}"


@pytest.mark.parametrize(
    "module", ["ref_backend", *sorted(p.stem for p in Path(__file__).parent.glob("ref_*.py"))]
)
def test_ref_backend_reaches_numgrad_only_through_the_registry(module):
    # ref_backend.py and each issue 11 area's tests/ref_<area>.py
    import importlib

    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            used.add(node.module)
        elif isinstance(node, ast.Import):
            used.update(a.name for a in node.names)
    assert {m for m in used if m.split(".")[0] == "numgrad"} <= {"numgrad.ops.registry"}
    assert "numba" not in {m.split(".")[0] for m in used}


def test_plain_rules_refuse_device_math():
    """The ref device runs rules as plain Python; a rule calling a device's compiled math
    instead of the math seam is refused (so the ref suite catches it)."""
    from numgrad.devices.cpu import math as cpu_math

    @scalar
    def leaky(x):
        return cpu_math.fast_exp(x)

    with pytest.raises(AssertionError, match="numgrad.devices.cpu.math"):
        ref_backend.plain(leaky)
    # the rules of the table pass: a rule calling another rule gets that rule's plain version
    silu_dx = ref_backend.plain(OPS["silu"].backward["x"].scalar)
    assert not hasattr(silu_dx.__globals__["sigmoid_f"], "py_func")


def _run(spec, case, dtype, device):
    """Outputs and leaf gradients of one spec case on ``device`` (the same upstream
    gradients on every device)."""
    grad = spec.differentiable and case.grad
    args, _, leaves = _make_inputs(case, dtype, device, requires_grad=grad, lib="ng")
    outs = _outputs(spec.ng_fn(*args, **case.kwargs))
    rng = np.random.default_rng(_seed(spec.name, case.name, "parity"))
    roots = [o for o in outs if o.requires_grad]
    if roots:
        gs = [rng.standard_normal(tuple(o.shape)).astype(o.detach().numpy().dtype) for o in roots]
        numgrad.autograd.backward(roots, [numgrad.tensor(g, device=device) for g in gs])
    return [o.detach() for o in outs] + [n.grad for n, _ in leaves]


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in ALL_SPECS])
def test_ref_matches_cpu(spec):
    """Every case of every spec, float32 and float64: the same outputs and gradients on the
    ref device as on the CPU (dtypes and shapes exactly, values to rounding)."""
    for dtype in (np.float32, np.float64):
        for case in spec.cases:
            cpu = _run(spec, case, dtype, "cpu")
            ref = _run(spec, case, dtype, REF)
            for k, (a, b) in enumerate(zip(cpu, ref, strict=True)):
                what = f"{case.name} {np.dtype(dtype).name} result {k}"
                assert (a is None) == (b is None), what
                if a is None:
                    continue
                assert b.device == REF, what
                a, b = a.numpy(), b.numpy()
                assert (a.dtype, a.shape) == (b.dtype, b.shape), what
                if a.dtype.kind == "f":
                    np.testing.assert_allclose(b, a, err_msg=what, **TOL[dtype])
                else:
                    np.testing.assert_array_equal(b, a, err_msg=what)


_INT_CASES = {
    "uint8+300": lambda t: t(np.array([1, 200, 255], np.uint8)) + 300,
    "uint8-1": lambda t: t(np.array([0, 5], np.uint8)) - 1,
    "int32*big": lambda t: t(np.array([2**30, -3], np.int32)) * 4,
    "int64**neg": lambda t: t(np.array([-1, -1, 2, 1])) ** t(np.array([-3, -2, -1, -5])),
    "int64//": lambda t: t(np.array([7, -7, 6], np.int64)) // t(np.array([2, 2, -4], np.int64)),
    "int32%": lambda t: t(np.array([7, -7, 6], np.int32)) % 3,
    "bool+bool": lambda t: t(np.array([True, False, False])) + t(np.array([True, True, False])),
    "bool*bool": lambda t: t(np.array([True, False, True])) * t(np.array([True, True, False])),
    "bool<int": lambda t: t(np.array([True, False])) < t(np.array([1, 1], np.int64)),
    "abs(int32)": lambda t: abs(t(np.array([-3, 4], np.int32))),
    "sign(bool)": lambda t: t(np.array([True, False])).sign(),
    "clamp(uint8)": lambda t: t(np.array([0, 9, 250], np.uint8)).clamp(3, 200),
    "maximum(int64)": lambda t: t(np.array([1, 5], np.int64)).maximum(t(np.array([3, 2]))),
    "where(int32)": lambda t: numgrad.where(
        t(np.array([True, False])), t(np.array([1, 2], np.int32)), t(np.array([-1, -2], np.int32))
    ),
    "exp(int64)": lambda t: t(np.array([0, 1], np.int64)).exp(),
    "sum(int32)": lambda t: t(np.array([[2**30, 2**30], [1, 2]], np.int32)).sum(dim=0),
    "sum(bool)": lambda t: t(np.array([True, True, False])).sum(),
    "matmul(int32)": lambda t: (
        t(np.array([[1, 2], [3, 4]], np.int32)) @ t(np.array([5, 6], np.int32))
    ),
    "amax(uint8)": lambda t: t(np.array([[3, 250], [7, 1]], np.uint8)).amax(dim=1),
    "max_dim(int64)": lambda t: t(np.array([[3, 9, 9], [7, 1, 7]], np.int64)).max(dim=1)[1],
}


@pytest.mark.parametrize("name", list(_INT_CASES))
def test_integer_and_bool_dtypes_match_cpu(name):
    """The dtype contract of the elementwise specs (integer loops that wrap, bool logic, fixed
    bool outputs) and the integer reductions, the same on both devices."""
    out = {}
    for device in ("cpu", REF):
        r = _INT_CASES[name](lambda a, d=device: numgrad.tensor(a, device=d))
        assert r.device == device
        out[device] = r.numpy()
    assert out["cpu"].dtype == out[REF].dtype
    np.testing.assert_array_equal(out[REF], out["cpu"])


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: t(np.array([True])) - t(np.array([True])),
        lambda t: -t(np.array([True])),
        lambda t: t(np.array([True])).relu(),
        lambda t: abs(t(np.array([True]))),
    ],
    ids=["sub_bool", "neg_bool", "relu_bool", "abs_bool"],
)
def test_refusals_match_cpu(fn):
    """A dtype an op refuses raises the same error, with torch's words, on both devices."""
    errors = {}
    for device in ("cpu", REF):
        with pytest.raises(Exception) as e:
            fn(lambda a, d=device: numgrad.tensor(a, device=d))
        errors[device] = (type(e.value), str(e.value))
    assert errors[REF] == errors["cpu"]


@pytest.mark.parametrize("fn", ["floor", "ceil", "trunc", "round"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_rounding_keeps_the_sign_of_zero_like_torch(fn, dtype):
    """The math seam's plain-Python meanings keep -0.0, NaN and inf, as torch (and the CPU's
    compiled versions) do: ceil(-0.5) is -0.0."""
    x = np.array([-0.0, 0.0, -0.3, 0.3, -0.5, 0.5, -1.5, 2.5, np.nan, np.inf, -np.inf], dtype)
    expect = getattr(torch, fn)(torch.tensor(x)).numpy()
    for device in ("cpu", REF):
        got = getattr(numgrad, fn)(numgrad.tensor(x, device=device)).numpy()
        np.testing.assert_array_equal(got, expect, err_msg=device)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expect), err_msg=device)


_EXTREME = [-1000.0, -100.0, -20.0, -1.0, -0.0, 0.0, 0.5, 1.0, 20.0, 100.0, 1000.0]
_EXTREME += [np.inf, -np.inf, np.nan]
_UNIT = [0.0, 1e-30, 0.25, 1.0]  # probabilities, ends included
_F = numgrad.nn.functional

_EXTREME_CASES = {
    "exp": (lambda x: x.exp(), _EXTREME),
    "log": (lambda x: x.log(), _EXTREME),
    "sqrt": (lambda x: x.sqrt(), _EXTREME),
    "tanh": (lambda x: x.tanh(), _EXTREME),
    "sigmoid": (lambda x: x.sigmoid(), _EXTREME),
    "relu": (lambda x: x.relu(), _EXTREME),
    "silu": (lambda x: _F.silu(x), _EXTREME),
    "gelu": (lambda x: _F.gelu(x), _EXTREME),
    "gelu_tanh": (lambda x: _F.gelu(x, approximate="tanh"), _EXTREME),
    "softplus": (lambda x: _F.softplus(x), _EXTREME),
    "leaky_relu": (lambda x: _F.leaky_relu(x, 0.1), _EXTREME),
    "abs": (lambda x: x.abs(), _EXTREME),
    "clamp": (lambda x: x.clamp(-1.0, 1.0), _EXTREME),
    "pow_half": (lambda x: x**0.5, _EXTREME),
    "pow_neg": (lambda x: x**-2, _EXTREME),
    "rpow": (lambda x: 2.0**x, _EXTREME),
    "rpow_negative_base": (lambda x: (-1.5) ** x, _EXTREME),
    "div": (lambda x: 1.0 / x, _EXTREME),
    "floor_divide": (lambda x: x.detach() // 0.5 + x, _EXTREME),  # no derivative of its own
    "remainder": (lambda x: x % 0.75, _EXTREME),
    "maximum": (lambda x: numgrad.maximum(x, x * 0.5), _EXTREME),
    "bce": (lambda x: _F.binary_cross_entropy(x, (x > 0.5).double(), reduction="none"), _UNIT),
    "bce_logits": (
        lambda x: _F.binary_cross_entropy_with_logits(x, (x > 0).double(), reduction="none"),
        _EXTREME,
    ),
    "huber": (lambda x: _F.huber_loss(x, x * 0.0 + 0.5, reduction="none"), _EXTREME),
    "softmax": (lambda x: x.reshape(2, 7).softmax(1), _EXTREME),
    "log_softmax": (lambda x: x.reshape(2, 7).log_softmax(1), _EXTREME),
    "amax": (lambda x: x.reshape(2, 7).amax(1), _EXTREME),
    "max_dim": (lambda x: x.reshape(7, 2).max(dim=0)[0], _EXTREME),
    "max_all_ties": (lambda x: x.max(), [1.0, 3.0, 3.0, -2.0]),
    "min_all_nan": (lambda x: x.min(), [1.0, np.nan, 3.0, np.nan]),
    "sum": (lambda x: x.reshape(2, 7).sum(0), _EXTREME),
    "norm_zero_rows": (lambda x: x.reshape(2, 2).norm(dim=1), [0.0, 0.0, 3.0, -4.0]),
    "norm_p3_zero": (lambda x: x.reshape(2, 2).norm(p=3, dim=1), [0.0, 0.0, 3.0, -4.0]),
    "norm_inf_ties": (lambda x: x.norm(p=float("inf")), [2.0, -2.0, 1.0, 0.0]),
    "std_constant": (lambda x: x.reshape(2, 3).std(dim=1), [2.0, 2.0, 2.0, 1.0, 2.0, 3.0]),
    "var_no_dof": (lambda x: x.var(), [5.0]),
}


@pytest.mark.filterwarnings("ignore:var\\(\\)")  # var_no_dof warns, as torch does
@pytest.mark.parametrize("name", list(_EXTREME_CASES))
def test_extreme_values_match_cpu(name):
    """Overflow, zeros, infinities and NaN: the plain-Python meanings of the math seam give
    what the CPU's compiled versions give (inf where exp overflows, -inf for log1p(-1)...),
    forward and backward, NaN and inf in the same places."""
    fn, values = _EXTREME_CASES[name]
    got = {}
    for device in ("cpu", REF):
        x = numgrad.tensor(np.array(values), device=device, requires_grad=True)
        y = fn(x)
        y.backward(numgrad.ones_like(y))
        got[device] = (y.detach().numpy(), x.grad.numpy())
    for what, a, b in zip(("forward", "gradient"), got["cpu"], got[REF]):
        # NaN and inf in the same places; finite values to rounding (softmax's gradient with an
        # upstream of ones is out * (1 - sum(out)): 0 up to the rounding of the sum)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15, err_msg=what)
