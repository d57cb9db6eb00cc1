"""NaN where torch is finite, and masked-out gradients that must be exactly 0 (issue 7).

Every case runs the same function through numgrad and torch (float64 and float32) and compares
the forward result and every input's gradient: values to rounding, NaN and inf in the same
places, and an exact 0 wherever torch's gradient is exactly 0.  Upstream gradients holding inf
and NaN check that masked-out slots are a select (exact 0), not ``grad * 0`` (NaN).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import numgrad
import numgrad.nn.functional as NF

INF, NAN = math.inf, math.nan
DTYPES = [pytest.param(np.float64, id="float64"), pytest.param(np.float32, id="float32")]
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def _run(lib, fn, inputs, upstream, dtype):
    mk = numgrad.tensor if lib is numgrad else torch.tensor
    leaves = [mk(np.asarray(a, dtype=dtype), requires_grad=True) for a in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # var/std with no degree of freedom warn in both
        y = fn(lib, *leaves)
    g = np.ones(tuple(y.shape)) if upstream is None else upstream
    y.backward(mk(np.asarray(g, dtype=dtype)))
    grads = [
        np.zeros(np.shape(a)) if t.grad is None else t.grad.numpy() for a, t in zip(inputs, leaves)
    ]
    return y.detach().numpy(), grads


def _same(ours, ref, dtype, what):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != torch's {ref.shape}"
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=f"{what}: NaN places")
    np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(ref), err_msg=f"{what}: +inf")
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(ref), err_msg=f"{what}: -inf")
    zero = ref == 0
    np.testing.assert_array_equal(ours[zero], 0, err_msg=f"{what}: torch's exact zeros")
    fin = np.isfinite(ref)
    tol = TOL[dtype]
    np.testing.assert_allclose(ours[fin], ref[fin], rtol=tol, atol=tol, err_msg=what)


def check(fn, inputs, dtype, upstream=None):
    ref_y, ref_g = _run(torch, fn, inputs, upstream, dtype)
    y, g = _run(numgrad, fn, inputs, upstream, dtype)
    _same(y, ref_y, dtype, "forward")
    for k, (a, b) in enumerate(zip(g, ref_g)):
        _same(a, b, dtype, f"gradient of input {k}")


def _nnf(lib):
    return NF if lib is numgrad else TF


# ---- norm and F.normalize of a zero vector ---------------------------------------------------

ZERO_ROWS = [[0.0, 0.0, 0.0], [1.0, 2.0, -2.0], [0.0, -0.5, 0.0]]
NORM_P = [2, "fro", 1, 3, 1.5, 0.5, -1, INF, -INF, 0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", NORM_P, ids=str)
def test_norm_of_zero_vector_has_torch_gradient(p, dtype):
    check(lambda m, x: m.norm(x, p=p), [[0.0, 0.0, 0.0]], dtype)
    if p != "fro":
        check(lambda m, x: m.norm(x, p=p, dim=1), [ZERO_ROWS], dtype)
        check(lambda m, x: m.norm(x, p=p, dim=0, keepdim=True), [ZERO_ROWS], dtype)
    else:
        check(lambda m, x: m.norm(x, p=p, dim=1), [ZERO_ROWS], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2, 1, 3, INF], ids=str)
def test_norm_with_inf_upstream_gradient(p, dtype):
    # the zero row's gradient is masked to an exact 0 even for an inf upstream gradient (p >= 2)
    check(lambda m, x: m.norm(x, p=p, dim=1), [ZERO_ROWS], dtype, upstream=[INF, 1.0, -INF])


@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_keeps_float32_range(dtype):
    # torch raises to the power p in the input's precision: a float32 square of 1e20 is inf
    check(lambda m, x: m.norm(x), [[1e20, 1.0]], dtype)
    check(lambda m, x: m.norm(x, p=3), [[1e20, 1.0]], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2, 1, 3, INF], ids=str)
def test_normalize_zero_vector(p, dtype):
    check(
        lambda m, x: _nnf(m).normalize(x, p=p, dim=1),
        [ZERO_ROWS],
        dtype,
        upstream=np.arange(9.0).reshape(3, 3),
    )


def test_norm_rejects_integer_and_empty_inf_norm():
    with pytest.raises(RuntimeError, match="floating point"):
        numgrad.norm(numgrad.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="empty"):
        numgrad.norm(numgrad.zeros(0, 3), p=INF, dim=0)
    assert numgrad.norm(numgrad.zeros(0, 3), p=INF, dim=1).shape == (0,)


# ---- std / var of a constant tensor ----------------------------------------------------------

VAR_INPUTS = [
    [[3.0, 3.0, 3.0], [1.0, 2.0, 4.0]],  # a constant row, a varying one
    [[3.0], [-1.0]],  # one element per row: no degree of freedom with correction 1
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_std_var_of_constant(name, correction, dtype):
    for x in VAR_INPUTS:
        check(lambda m, t: getattr(m, name)(t, dim=1, correction=correction), [x], dtype)
        check(lambda m, t: getattr(m, name)(t, correction=correction), [x], dtype)
        check(
            lambda m, t: getattr(m, name)(t, dim=0, keepdim=True, correction=correction), [x], dtype
        )
    check(lambda m, t: getattr(m, name)(t, correction=correction), [[5.0, 5.0]], dtype)
    check(lambda m, t: getattr(m, name)(t, correction=correction), [[5.0]], dtype)
    check(lambda m, t: getattr(t, name)(), [[2.0, 2.0, 2.0, 2.0]], dtype)
    check(lambda m, t: getattr(m, name)(t, dim=0, correction=correction), [5.0], dtype)  # 0-d


@pytest.mark.parametrize("dtype", DTYPES)
def test_std_of_constant_with_inf_upstream_gradient(dtype):
    check(lambda m, t: m.std(t, dim=1), [VAR_INPUTS[0]], dtype, upstream=[INF, 1.0])


def test_var_warns_without_degrees_of_freedom():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        numgrad.var(numgrad.tensor([1.0]))
    with pytest.raises(RuntimeError, match="floating point"):
        numgrad.std(numgrad.tensor([1, 2]))


# ---- logsumexp with infinite rows ------------------------------------------------------------

LSE_CASES = [
    ([[-INF, -INF, -INF], [1.0, 2.0, 3.0]], {"dim": 1}),  # a fully masked row
    ([[INF, 1.0, -INF], [1.0, 2.0, 3.0]], {"dim": 1}),  # a row holding +inf
    ([[INF, INF], [-INF, INF]], {"dim": 1}),
    ([[-INF, -INF], [-INF, 1.0]], {"dim": 0}),
    ([[-INF, -INF], [-INF, -INF]], {"dim": (0, 1), "keepdim": True}),
    ([[NAN, 1.0], [1.0, 2.0]], {"dim": 1}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(LSE_CASES)))
def test_logsumexp_infinite_rows(case, dtype):
    x, kw = LSE_CASES[case]
    check(lambda m, t: m.logsumexp(t, **kw), [x], dtype)


# ---- masking rules: an exact 0 in masked-out slots, whatever the upstream gradient ------------

X = [-INF, -2.0, -0.0, 0.0, 1.0, INF, NAN, 0.5]
Y = [0.0, -2.0, 1.0, -0.0, NAN, INF, 1.0, 0.5]  # ties, NaN on either side, infinities
COND = [True, False, True, False, True, False, False, True]
UPSTREAM = {
    "inf": [INF, -INF, NAN, INF, INF, -INF, INF, -INF],
    "finite": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
}


def _cond(m):
    return m.tensor(COND)


UNARY = {
    "relu": lambda m, x: m.relu(x),
    "F.relu": lambda m, x: _nnf(m).relu(x),
    "leaky_relu": lambda m, x: _nnf(m).leaky_relu(x, 0.1),
    "clamp": lambda m, x: m.clamp(x, -1.0, 0.5),
    "clamp_min": lambda m, x: m.clamp_min(x, 0.0),
    "clamp_max": lambda m, x: m.clamp_max(x, 0.0),
    "clamp_int_bound": lambda m, x: m.clamp(x, min=-1),
    "masked_fill": lambda m, x: x.masked_fill(_cond(m), -INF),
    "masked_fill_zero": lambda m, x: m.masked_fill(x, _cond(m), 0.0),
    "abs": lambda m, x: m.abs(x),
    "sign": lambda m, x: m.sign(x),
    "pow_0": lambda m, x: x**0,
    "pow_0.0": lambda m, x: m.pow(x, 0.0),
    "silu": lambda m, x: _nnf(m).silu(x),
    "1/abs": lambda m, x: 1.0 / m.abs(x),  # abs(-0.0) is +0.0
}
BINARY = {
    "maximum": lambda m, x, y: m.maximum(x, y),
    "minimum": lambda m, x, y: m.minimum(x, y),
    "max_binary": lambda m, x, y: m.max(x, y),
    "where": lambda m, x, y: m.where(_cond(m), x, y),
    "clamp_tensor_min": lambda m, x, y: m.clamp(x, min=y),
    "clamp_tensor_max": lambda m, x, y: m.clamp(x, max=y),
    "clamp_tensor_both": lambda m, x, y: m.clamp(x, min=y, max=y + 0.25),
    "clamp_tensor_empty_range": lambda m, x, y: m.clamp(x, min=y, max=y - 1.0),
    "pow_tensor": lambda m, x, y: m.pow(x, y * 0.0),
    "l1_loss": lambda m, x, y: _nnf(m).l1_loss(x, y, reduction="none"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upstream", list(UPSTREAM))
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_masking(name, upstream, dtype):
    check(UNARY[name], [X], dtype, upstream=UPSTREAM[upstream])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upstream", list(UPSTREAM))
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_masking(name, upstream, dtype):
    check(BINARY[name], [X, Y], dtype, upstream=UPSTREAM[upstream])


@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_tensor_grid(dtype):
    # every order of x, lo and hi, ties and NaN included (full shapes: torch's own backward
    # fails when x is smaller than the result)
    vals = np.array([-1.0, 0.0, 1.0, NAN, INF, -INF])
    x, lo, hi = np.meshgrid(vals, vals, vals, indexing="ij")
    check(lambda m, a, b, c: m.clamp(a, min=b, max=c), [x, lo, hi], dtype)
    check(lambda m, a, b: m.clamp(a, min=b), [x, lo], dtype)
    check(lambda m, a, c: m.clamp(a, max=c), [x, hi], dtype)


def test_integer_relu_and_clamp_keep_exact_values():
    # the exact-0 selects are typed like the input: no detour through float64
    big = 2**62 + 1
    x = numgrad.tensor([-3, big, 0])
    assert numgrad.relu(x).tolist() == [0, big, 0]
    assert numgrad.clamp(x, min=numgrad.tensor([0, 0, 0])).tolist() == [0, big, 0]
    assert numgrad.sign(x).tolist() == [-1, 1, 0]
    assert numgrad.clamp(x, min=numgrad.tensor([0, 0, 0])).dtype == numgrad.int64


# ---- Linear(0, k) ----------------------------------------------------------------------------


def test_linear_with_no_input_features():
    with pytest.warns(UserWarning, match="zero-element"):
        layer = numgrad.nn.Linear(0, 3)
    assert tuple(layer.weight.shape) == (3, 0)
    np.testing.assert_array_equal(layer.bias.detach().numpy(), 0.0)  # torch's bound is 0
    x = numgrad.zeros(2, 0, requires_grad=True)
    y = layer(x)
    assert tuple(y.shape) == (2, 3)
    np.testing.assert_array_equal(y.detach().numpy(), 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(layer.bias.grad.numpy(), [2.0, 2.0, 2.0])
    assert tuple(layer.weight.grad.shape) == (3, 0)
    assert tuple(x.grad.shape) == (2, 0)
    with pytest.warns(UserWarning, match="zero-element"):
        numgrad.nn.init.kaiming_normal_(numgrad.zeros(0, 4))
    with pytest.warns(UserWarning, match="zero-element"):
        empty_out = numgrad.nn.Linear(3, 0)
    assert tuple(empty_out(numgrad.ones(2, 3)).shape) == (2, 0)
