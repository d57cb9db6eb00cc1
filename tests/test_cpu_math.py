"""The vectorisable scalar math (backends/cpu_math.py) against numpy's libm, ulp-level."""

import numpy as np
import pytest
from numba import njit

from numgrad.backends.cpu_math import FAST, fast_exp, fast_tanh


@njit(**FAST)
def _exp_loop(x, out):
    for i in range(x.size):
        out[i] = fast_exp(x[i])


@njit(**FAST)
def _tanh_loop(x, out):
    for i in range(x.size):
        out[i] = fast_tanh(x[i])


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
