"""Op specs for the issue 11 area 'math' (merged into ``opinfo.OP_SPECS``/``NN_SPECS``).

Trigonometric, hyperbolic and special functions (each a scalar-rule op), ``atan2``, ``hypot``,
``lerp``, ``nan_to_num``, ``reciprocal``, and the elementwise predicates and logical ops (bool
results, no gradient).  Generators keep inputs inside each function's domain and away from
its poles, so finite differences see a smooth function; the domain edges themselves (acosh at
1, atanh at +-1, sinc at 0, hypot at (0, 0)...) are checked value by value in
``tests/test_math_functions.py``.
"""

from __future__ import annotations

import functools

import numpy as np
from opinfo import Case, away, nonzero, pos, randn, spec

OP_SPECS = []
NN_SPECS = []

INF = float("inf")
NAN = float("nan")


def _uniform(lo, hi):
    return functools.partial(away, points=(), lo=lo, hi=hi)


_INSIDE = _uniform(-0.9, 0.9)  # asin, acos, atanh, erfinv: inside (-1, 1), away from the poles


def _unary_cases(gen):
    def sample(rng):
        return [
            Case((gen(rng, 3, 4),), name="2d"),
            Case((gen(rng, 2, 3, 4),), name="3d"),
            Case((gen(rng, 5),), name="1d"),
            Case((np.array(gen(rng, 1)[0]),), name="0d"),
            # a strided view runs the ufunc fallback instead of the contiguous loops
            Case((gen(rng, 4, 6),), {"strided": True}, name="strided"),
        ]

    return sample


def _unary(name, gen, method=True):
    """Specs for ``m.<name>(x)`` and, with ``method``, ``x.<name>()``."""

    def fn(m, x, strided=False):
        return getattr(m, name)(x[:, ::2] if strided else x)

    def meth(m, x, strided=False):
        return getattr(x[:, ::2] if strided else x, name)()

    out = [spec(name, fn, _unary_cases(gen))]
    if method:
        out.append(spec(f"{name}_method", meth, lambda rng: _unary_cases(gen)(rng)[:2]))
    return out


for _name, _gen in (
    ("sin", randn),
    ("cos", randn),
    ("tan", _uniform(-1.2, 1.2)),
    ("asin", _INSIDE),
    ("acos", _INSIDE),
    ("atan", randn),
    ("sinh", randn),
    ("cosh", randn),
    ("asinh", randn),
    ("acosh", _uniform(1.1, 3.0)),
    ("atanh", _INSIDE),
    ("erf", randn),
    ("erfc", randn),
    ("erfinv", _INSIDE),
    ("log10", pos),
    ("log2", pos),
    ("log1p", _uniform(-0.5, 2.0)),
    ("expm1", randn),
    ("exp2", randn),
    ("sinc", randn),
    ("reciprocal", nonzero),
    # numpy-style aliases torch has (the same functions)
    ("arcsin", _INSIDE),
    ("arccos", _INSIDE),
    ("arctan", randn),
    ("arcsinh", randn),
    ("arccosh", _uniform(1.1, 3.0)),
    ("arctanh", _INSIDE),
):
    OP_SPECS.extend(_unary(_name, _gen, method=True))


def _special_values(rng):
    # erfinv's tails, erfc and exp2 far out, sinc at 0 (gradient 0 there, and smooth)
    return [
        Case(
            (np.array([-0.999, -0.99, -0.5, 0.5, 0.99, 0.999]),),
            {"fn": "erfinv"},
            name="erfinv_tails",
        ),
        Case((np.array([-5.0, -3.0, 3.0, 5.0, 8.0]),), {"fn": "erfc"}, name="erfc_far"),
        Case((np.array([-30.0, -10.0, 10.0, 30.0]),), {"fn": "exp2"}, name="exp2_far"),
        Case((np.array([-1.5, -0.5, 0.0, 0.5, 1.5]),), {"fn": "sinc"}, name="sinc_zero"),
        Case((np.array([1e-8, -1e-6, 1e-4]),), {"fn": "expm1"}, name="expm1_small"),
        Case((np.array([1e-8, -1e-6, 1e-4]),), {"fn": "log1p"}, name="log1p_small"),
    ]


OP_SPECS.append(spec("math_special_values", lambda m, x, fn: getattr(m, fn)(x), _special_values))


def _int_input(rng):
    return [
        Case((rng.integers(-3, 4, (3, 4)),), {"fn": fn}, name=fn)
        for fn in ("sin", "exp2", "erf", "reciprocal", "atan")
    ] + [Case((np.array([True, False]),), {"fn": "log2"}, name="bool_log2")]


# integer and bool inputs compute in float32 (torch's promotion, as exp and sqrt do); not sinc,
# whose float32 values at the integers (its zeros) are rounding noise in torch
OP_SPECS.append(
    spec(
        "math_int_input",
        lambda m, x, fn: getattr(m, fn)(x),
        _int_input,
        differentiable=False,
    )
)


# ---- binary: atan2, hypot, lerp -------------------------------------------------------------


def _pair_cases(rng):
    return [
        Case((randn(rng, 3, 4), randn(rng, 3, 4)), name="same"),
        Case((randn(rng, 3, 4), randn(rng, 4)), name="bcast_3x4_4"),
        Case((randn(rng, 2, 1, 3), randn(rng, 4, 1)), name="bcast_2x1x3_4x1"),
        Case((randn(rng, 3, 4), np.array(randn(rng, 1)[0])), name="0d_other"),
        Case((randn(rng, 3, 4), randn(rng, 3, 4)), name="only_x_grad", requires_grad=(True, False)),
        Case((randn(rng, 3, 4), randn(rng, 4)), name="only_y_grad", requires_grad=(False, True)),
    ]


OP_SPECS.extend(
    [
        spec("atan2", lambda m, x, y: m.atan2(x, y), _pair_cases),
        spec("atan2_method", lambda m, x, y: x.atan2(y), lambda rng: _pair_cases(rng)[:2]),
        spec("arctan2", lambda m, x, y: m.arctan2(x, y), lambda rng: _pair_cases(rng)[:2]),
        spec("hypot", lambda m, x, y: m.hypot(x, y), _pair_cases),
        spec("hypot_method", lambda m, x, y: x.hypot(y), lambda rng: _pair_cases(rng)[:2]),
    ]
)


def _lerp_cases(rng):
    def w(*shape):  # both of torch's branches: |weight| < 0.5 and beyond
        return rng.uniform(-0.4, 1.4, shape)

    return [
        Case((randn(rng, 3, 4), randn(rng, 3, 4), 0.25), name="small_weight"),
        Case((randn(rng, 3, 4), randn(rng, 3, 4), 0.75), name="large_weight"),
        Case((randn(rng, 3, 4), randn(rng, 4), 1.0), name="weight_1_bcast_end"),
        Case((randn(rng, 3, 4), randn(rng, 3, 4), w(3, 4)), name="tensor_weight"),
        Case((randn(rng, 3, 1), randn(rng, 4), w(2, 1, 1)), name="tensor_weight_bcast"),
        Case((randn(rng, 3, 4), randn(rng, 3, 4), np.array(0.6)), name="0d_weight"),
        Case(
            (randn(rng, 3, 4), randn(rng, 3, 4), w(3, 4)),
            name="only_weight_grad",
            requires_grad=(False, False, True),
        ),
    ]


OP_SPECS.extend(
    [
        spec("lerp", lambda m, x, e, w: m.lerp(x, e, w), _lerp_cases),
        spec("lerp_method", lambda m, x, e, w: x.lerp(e, w), lambda rng: _lerp_cases(rng)[:4]),
    ]
)


# ---- nan_to_num --------------------------------------------------------------------------------


def _with_specials(rng, *shape):
    x = randn(rng, *shape).ravel()
    x[:3] = (NAN, INF, -INF)
    return rng.permutation(x).reshape(shape)


def _nan_to_num_cases(rng):
    return [
        Case((_with_specials(rng, 3, 4),), name="defaults"),
        Case((_with_specials(rng, 3, 4),), {"nan": 1.5, "posinf": 7.0, "neginf": -7.0}, name="all"),
        Case((_with_specials(rng, 2, 5),), {"posinf": 3.0}, name="posinf_only"),
        Case((_with_specials(rng, 2, 5),), {"nan": None, "neginf": -2.0}, name="nan_none"),
        Case((randn(rng, 3, 4),), name="finite"),
        Case((rng.integers(-3, 4, (3, 4)),), name="int_input", grad=False),
    ]


OP_SPECS.extend(
    [
        spec("nan_to_num", lambda m, x, **kw: m.nan_to_num(x, **kw), _nan_to_num_cases),
        spec(
            "nan_to_num_method",
            lambda m, x, **kw: x.nan_to_num(**kw),
            lambda rng: _nan_to_num_cases(rng)[:2],
        ),
    ]
)


# ---- predicates and logical ops (bool results, no gradient) -----------------------------------


def _predicate_cases(rng):
    special = np.array([NAN, INF, -INF, 0.0, -0.0, 1.5, -2.5, np.copysign(NAN, -1.0)])
    return [
        Case((special,), name="specials"),
        Case((_with_specials(rng, 3, 4),), name="2d"),
        Case((np.array(-INF),), name="0d"),
        Case((rng.integers(-3, 4, (3, 4)),), name="int"),
        Case((np.array([True, False]),), name="bool"),
        Case((rng.integers(0, 4, (5,)).astype(np.uint8),), name="uint8"),
    ]


for _name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit"):
    OP_SPECS.append(
        spec(
            _name,
            functools.partial(lambda n, m, x: getattr(m, n)(x), _name),
            _predicate_cases,
            differentiable=False,
        )
    )
    OP_SPECS.append(
        spec(
            f"{_name}_method",
            functools.partial(lambda n, m, x: getattr(x, n)(), _name),
            lambda rng: _predicate_cases(rng)[:2],
            differentiable=False,
        )
    )


def _logical_cases(rng):
    def mask(*shape):
        return rng.random(shape) < 0.5

    def sparse(*shape):  # floats with zeros (false) and a NaN (true, as in torch)
        x = rng.integers(-1, 2, shape).astype(np.float64)
        x.flat[0] = NAN
        return x

    return [
        Case((mask(3, 4), mask(3, 4)), name="bool"),
        Case((mask(3, 4), mask(4)), name="bool_bcast"),
        Case((sparse(3, 4), sparse(3, 4)), name="float"),
        Case((sparse(3, 4), mask(3, 4)), name="float_bool"),
        Case((rng.integers(-1, 2, (2, 3)), sparse(2, 3)), name="int_float"),
    ]


for _name in ("logical_and", "logical_or", "logical_xor"):
    OP_SPECS.append(
        spec(
            _name,
            functools.partial(lambda n, m, x, y: getattr(m, n)(x, y), _name),
            _logical_cases,
            differentiable=False,
        )
    )
    OP_SPECS.append(
        spec(
            f"{_name}_method",
            functools.partial(lambda n, m, x, y: getattr(x, n)(y), _name),
            lambda rng: _logical_cases(rng)[:2],
            differentiable=False,
        )
    )


def _isclose_cases(rng):
    x = randn(rng, 3, 4)
    near = x * (1 + 1e-9)  # close at the defaults
    far = x + 0.05 * np.sign(x)  # close only with rtol/atol of 0.1
    mixed = np.where(rng.random((3, 4)) < 0.5, near, far)
    a = np.array([NAN, NAN, 1.0, INF, INF, -INF, 0.0, 1e-9])
    b = np.array([NAN, 1.0, NAN, INF, -INF, -INF, 1e-9, 0.0])
    return [
        Case((x, mixed), name="defaults"),
        Case((x, mixed), {"rtol": 0.1}, name="rtol"),
        Case((x, mixed), {"atol": 0.1, "rtol": 0.0}, name="atol"),
        Case((x, mixed[0]), {"atol": 0.06}, name="bcast"),
        Case((a, b), name="specials"),
        Case((a, b), {"equal_nan": True}, name="equal_nan"),
        Case((a, b), {"rtol": 0.0, "atol": 0.0}, name="zero_tolerance"),
        Case((rng.integers(0, 3, (3, 4)), rng.integers(0, 3, (3, 4))), name="int"),
        Case(
            (rng.integers(0, 3, (3, 4)), rng.integers(0, 3, (3, 4))), {"atol": 1}, name="int_atol"
        ),
    ]


OP_SPECS.extend(
    [
        spec(
            "isclose",
            lambda m, x, y, **kw: m.isclose(x, y, **kw),
            _isclose_cases,
            differentiable=False,
        ),
        spec(
            "isclose_method",
            lambda m, x, y, **kw: x.isclose(y, **kw),
            lambda rng: _isclose_cases(rng)[:2],
            differentiable=False,
        ),
    ]
)
