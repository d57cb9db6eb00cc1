"""The vectorisable scalar math (devices/cpu/math.py) against numpy's libm, ulp-level."""

import numpy as np
import pytest
from numba import njit

from numgrad.devices.cpu.math import (
    FAST,
    fast_exp,
    fast_exp_typed,
    fast_expf,
    fast_tanh,
    maxnum,
    vec_dot,
    vec_sum,
)


@njit(**FAST)
def _exp_loop(x, out):
    for i in range(x.size):
        out[i] = fast_exp(x[i])


@njit(**FAST)
def _tanh_loop(x, out):
    for i in range(x.size):
        out[i] = fast_tanh(x[i])


@njit(**FAST)
def _expf_loop(x, out):
    for i in range(x.size):
        out[i] = fast_expf(x[i])


@njit(**FAST)
def _exp_typed_loop(x, out):
    for i in range(x.size):
        out[i] = fast_exp_typed(x[i])


@njit(**FAST)
def _max_loop(x):
    m = -np.inf
    for i in range(x.size):
        m = maxnum(m, x[i])
    return m


SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e300, -1e300]


def _inputs(lo, hi):
    rng = np.random.default_rng(0)
    return np.concatenate(
        [
            rng.uniform(lo, hi, 100000),
            rng.uniform(-1, 1, 10000),
            10.0 ** rng.uniform(-300, 0, 2000),
            -(10.0 ** rng.uniform(-300, 0, 2000)),
            SPECIALS,
        ]
    )


@pytest.mark.parametrize(
    "loop,ref,lo,hi,max_ulp",
    [(_exp_loop, np.exp, -745.5, 709.9, 1.5), (_tanh_loop, np.tanh, -30.0, 30.0, 2.5)],
    ids=["exp", "tanh"],
)
def test_fast_math_matches_libm(loop, ref, lo, hi, max_ulp):
    x = _inputs(lo, hi)
    out = np.empty_like(x)
    loop(x, out)
    with np.errstate(over="ignore"):
        want = ref(x)
    same_special = (np.isnan(out) == np.isnan(want)) & (np.isinf(out) == np.isinf(want))
    assert same_special.all(), x[~same_special][:5]
    ok = np.isfinite(want) & (np.abs(want) >= np.finfo(np.float64).tiny)
    ulp = np.abs(out[ok] - want[ok]) / np.spacing(np.abs(want[ok]))
    assert ulp.max() <= max_ulp, (x[ok][ulp.argmax()], ulp.max())
    sub = np.isfinite(want) & (np.abs(want) < np.finfo(np.float64).tiny)
    np.testing.assert_allclose(out[sub], want[sub], rtol=0, atol=1e-320)
    np.testing.assert_array_equal(
        np.signbit(out[np.isfinite(out)]), np.signbit(want[np.isfinite(out)])
    )


def test_fast_expf_within_one_ulp():
    # every float32 input was checked once (0.94 ulp at most against the exact result); here a
    # sample: the whole range, small arguments, the overflow and subnormal edges, specials
    rng = np.random.default_rng(0)
    big = np.float32(88.72283172607421875)  # the largest float32 whose exp is finite
    x = np.concatenate(
        [
            rng.uniform(-104.0, 89.0, 200000),
            rng.uniform(-1, 1, 20000),
            10.0 ** rng.uniform(-40, 0, 2000),
            -(10.0 ** rng.uniform(-40, 0, 2000)),
            rng.uniform(-103.98, -87.3, 5000),  # subnormal results
            [0.0, -0.0, np.inf, -np.inf, np.nan, 200.0, -200.0, 1e30, -1e30],
        ]
    ).astype(np.float32)
    x = np.concatenate([x, [big, np.nextafter(big, np.float32(np.inf))]]).astype(np.float32)
    out = np.empty_like(x)
    _expf_loop(x, out)
    assert out.dtype == np.float32
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(np.float64))
        want = exact.astype(np.float32)
    same_special = (np.isnan(out) == np.isnan(want)) & (np.isinf(out) == np.isinf(want))
    assert same_special.all(), x[~same_special][:5]
    tiny = np.finfo(np.float32).tiny
    ok = np.isfinite(want) & (want >= tiny)
    ulp = np.abs(out[ok] - exact[ok]) / np.spacing(want[ok]).astype(np.float64)
    assert ulp.max() <= 1.0, (x[ok][ulp.argmax()], ulp.max())
    sub = np.isfinite(want) & (want < tiny)
    np.testing.assert_allclose(out[sub], want[sub], rtol=0, atol=1.5e-45)  # one subnormal step
    assert np.isfinite(out[-2]) and np.isinf(out[-1])


def test_fast_exp_typed_follows_the_argument_type():
    x = np.linspace(-50, 50, 1001)
    out64 = np.empty_like(x)
    _exp_typed_loop(x, out64)
    ref64 = np.empty_like(x)
    _exp_loop(x, ref64)
    np.testing.assert_array_equal(out64, ref64)
    x32 = x.astype(np.float32)
    out32 = np.empty_like(x32)
    _exp_typed_loop(x32, out32)
    ref32 = np.empty_like(x32)
    _expf_loop(x32, ref32)
    np.testing.assert_array_equal(out32, ref32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxnum_and_vectorised_sums(dtype):
    rng = np.random.default_rng(1)
    for n in (1, 7, 64, 100, 1000):
        x = rng.standard_normal(n).astype(dtype)
        y = rng.standard_normal(n).astype(dtype)
        assert _max_loop(x) == x.max()
        np.testing.assert_allclose(vec_sum(x), x.astype(np.float64).sum(), rtol=1e-13)
        np.testing.assert_allclose(
            vec_dot(x, y), x.astype(np.float64) @ y.astype(np.float64), rtol=1e-12, atol=1e-12
        )
    x = np.array([np.nan, 1.0, -2.0], dtype=dtype)
    assert _max_loop(x) == 1.0  # maxnum skips NaN
    assert _max_loop(np.array([np.nan], dtype=dtype)) == -np.inf
