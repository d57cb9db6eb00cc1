"""The shared op-spec list (OpInfo-style) that drives ``tests/test_ops.py``.

Every differentiable public op is one :class:`OpSpec`: a name, the numgrad callable, the torch
callable, and a sample generator that returns :class:`Case` objects.  Most specs are written once
as ``lambda m, ...`` where ``m`` is the module (``numgrad`` or ``torch``); :func:`spec` binds it
twice, giving ``ng_fn`` and ``torch_fn``.  Where the APIs differ, pass ``torch_fn=`` explicitly.

Case arguments
    ``args`` are passed positionally.  A numpy array becomes a tensor of the library under test:
    float arrays are cast to the test dtype (and require grad in the gradient tests unless the
    case's ``requires_grad`` mask says otherwise); bool/int arrays keep their dtype and never
    require grad.  Anything else (python numbers, slices, lists) is passed through unchanged.
    ``kwargs`` are passed through unchanged (dims, keepdim, index tuples ...).

Domain constraints are built into the generators: ``log``/``sqrt`` get positive inputs,
``abs``/``relu``/``clamp``/``maximum``/``max`` get inputs kept at least ~0.1 away from their kinks
and ties, so central differences and torch's tie-breaking conventions never come into play.
Cases that deliberately contain ties (to check torch's first-index rule) set ``grad=False``.

Every generator gets its own ``numpy.random.Generator`` seeded from the spec's name, so the data
is the same on every run and does not depend on which tests are selected.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ref_backend  # registers the "ref" device
import torch

import numgrad

# Devices the numgrad side runs on: the CPU, and "ref", the plain-numpy reference device of
# tests/ref_backend.py (registered by importing it: the proof that the op table is device-neutral;
# test_ops.py runs it on part of the matrix, see REF_DTYPES there).  Add "cuda" when it exists.
# The torch reference always runs on the CPU.
DEVICES = ["cpu", ref_backend.NAME]
DTYPES = [np.float32, np.float64]

INF = float("inf")


@dataclass
class Case:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    name: str = ""
    grad: bool = True  # take part in the gradient tests (False: forward only, e.g. ties)
    requires_grad: tuple | None = None  # per float-array arg; None means all of them


@dataclass
class OpSpec:
    name: str
    ng_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    sample: Callable[[np.random.Generator], list[Case]]
    differentiable: bool = True
    gradcheck: bool = True
    _cases: list[Case] | None = None

    @property
    def cases(self) -> list[Case]:
        if self._cases is None:
            rng = np.random.default_rng(zlib.crc32(self.name.encode()))
            cases = self.sample(rng)
            for k, c in enumerate(cases):
                if not c.name:
                    c.name = f"case{k}"
            names = [c.name for c in cases]
            assert len(set(names)) == len(names), f"{self.name}: duplicate case names {names}"
            self._cases = cases
        return self._cases


def spec(name, fn, sample, torch_fn=None, **kw) -> OpSpec:
    """``fn(m, *args, **kwargs)`` written once against the shared numgrad/torch API."""
    ng = functools.partial(fn, numgrad)
    th = functools.partial(torch_fn if torch_fn is not None else fn, torch)
    return OpSpec(name, ng, th, sample, **kw)


# ---- input generators ---------------------------------------------------------------------


def randn(rng, *shape):
    return rng.standard_normal(shape)


def pos(rng, *shape, lo=0.5, hi=2.0):
    """Strictly positive values (log, sqrt, pow bases, divisors)."""
    return rng.uniform(lo, hi, shape)


def away(rng, *shape, points=(0.0,), margin=0.1, lo=-2.0, hi=2.0):
    """Uniform values in [lo, hi] at least ``margin`` away from every kink in ``points``."""
    x = rng.uniform(lo, hi, shape)
    for _ in range(1000):
        bad = np.zeros(shape, dtype=bool)
        for p in points:
            bad |= np.abs(x - p) < margin
        if not bad.any():
            return x
        x[bad] = rng.uniform(lo, hi, int(bad.sum()))
    raise AssertionError("could not draw values away from the kinks")


def nonzero(rng, *shape, margin=0.5):
    """Values with |x| in [margin, 2] and random sign (divisors, abs, 1/x)."""
    return rng.uniform(margin, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng, *shape, gap=0.15):
    """All values distinct, any two at least ``gap`` apart (max/min/argmax without ties)."""
    n = int(np.prod(shape, dtype=np.int64))
    v = (rng.permutation(n) + rng.uniform(0.0, 0.4, n)) * (gap / 0.6)
    return (v - v.mean()).reshape(shape)


def distinct_abs(rng, *shape, gap=0.15):
    """Distinct absolute values (>= gap apart, >= gap from 0) with random signs (inf-norm)."""
    n = int(np.prod(shape, dtype=np.int64))
    v = (rng.permutation(n) + 1 + rng.uniform(0.0, 0.4, n)) * (gap / 0.6)
    return (v * rng.choice([-1.0, 1.0], n)).reshape(shape)


def apart(rng, shape_x, shape_y):
    """Two arrays whose broadcast elements differ by at least 0.15 (maximum/minimum)."""
    x = rng.integers(-4, 4, shape_x) * 0.5 + rng.uniform(0.0, 0.1, shape_x)
    y = rng.integers(-4, 4, shape_y) * 0.5 + 0.25 + rng.uniform(0.0, 0.1, shape_y)
    return x, y


def scalar(rng):
    """A 0-d array (a 0-d tensor operand)."""
    return np.array(rng.standard_normal())


# ---- shared case lists --------------------------------------------------------------------


def _binary_cases(rng, gen_y=randn):
    return [
        Case((randn(rng, 3, 4), gen_y(rng, 3, 4)), name="same"),
        Case((randn(rng, 3, 4), gen_y(rng, 4)), name="bcast_3x4_4"),
        Case((randn(rng, 2, 1, 3), gen_y(rng, 4, 1)), name="bcast_2x1x3_4x1"),
        Case((randn(rng, 4, 1), gen_y(rng, 2, 1, 3)), name="bcast_4x1_2x1x3"),
        Case((randn(rng, 3, 4), np.asarray(np.abs(gen_y(rng)) + 0.5)), name="0d_other"),
        Case((randn(rng, 3, 4), 2.5), name="py_float"),
        Case((randn(rng, 3, 4), 3), name="py_int"),
        Case((randn(rng, 3, 4), gen_y(rng, 3, 4)), name="only_x_grad", requires_grad=(True, False)),
        Case((randn(rng, 3, 4), gen_y(rng, 4)), name="only_y_grad", requires_grad=(False, True)),
    ]


def _divmod_cases(rng):
    """x = y * (k + u) with integer k and u in [0.15, 0.85]: x / y stays away from the integers
    where floor division and remainder jump, so finite differences see a smooth function."""

    def quotients():
        return rng.integers(-3, 3, (3, 4)) + rng.uniform(0.15, 0.85, (3, 4))

    y1, y2 = nonzero(rng, 3, 4), nonzero(rng, 4)
    x1, x2, x3 = y1 * quotients(), y2 * quotients(), 1.5 * quotients()
    return [
        Case((x1, y1), name="same"),
        Case((x2, y2), name="bcast_3x4_4"),
        Case((x3, 1.5), name="py_float"),
        Case((x1, y1), name="only_y_grad", requires_grad=(False, True)),
    ]


def _unary_cases(gen):
    def sample(rng):
        return [
            Case((gen(rng, 3, 4),), name="2d"),
            Case((gen(rng, 2, 3, 4),), name="3d"),
            Case((gen(rng, 5),), name="1d"),
            Case((np.array(gen(rng, 1)[0]),), name="0d"),
        ]

    return sample


def _reduce_cases(gen=randn):
    def sample(rng):
        return [
            Case((gen(rng, 3, 4),), {}, name="all"),
            Case((gen(rng, 2, 3, 4),), {"dim": None, "keepdim": True}, name="all_keepdim"),
            Case((gen(rng, 3, 4),), {"dim": 0}, name="dim0"),
            Case((gen(rng, 3, 4),), {"dim": 1, "keepdim": True}, name="dim1_keepdim"),
            Case((gen(rng, 2, 3, 4),), {"dim": -1}, name="dim-1"),
            Case((gen(rng, 2, 3, 4),), {"dim": -2, "keepdim": True}, name="dim-2_keepdim"),
            Case((gen(rng, 2, 3, 4),), {"dim": (0, 2)}, name="dims_0_2"),
            Case((gen(rng, 2, 3, 4),), {"dim": (-1, -3), "keepdim": True}, name="dims_-1_-3_keep"),
            Case((gen(rng, 2, 3, 4),), {"dim": (0, 1)}, name="dims_0_1"),
            Case((gen(rng, 5),), {"dim": 0}, name="1d_dim0"),
        ]

    return sample


# ---- the op table -------------------------------------------------------------------------

OP_SPECS: list[OpSpec] = []


def _add(*specs):
    OP_SPECS.extend(specs)


# arithmetic -----------------------------------------------------------------------------------

_add(
    spec("add", lambda m, x, y: x + y, _binary_cases),
    spec("add_fn_alpha", lambda m, x, y: m.add(x, y, alpha=2), lambda rng: _binary_cases(rng)[:4]),
    spec("sub", lambda m, x, y: x - y, _binary_cases),
    spec(
        "sub_fn_alpha", lambda m, x, y: m.sub(x, y, alpha=-1.5), lambda rng: _binary_cases(rng)[:4]
    ),
    spec("mul", lambda m, x, y: x * y, _binary_cases),
    spec("div", lambda m, x, y: x / y, lambda rng: _binary_cases(rng, gen_y=nonzero)),
    spec("remainder", lambda m, x, y: x % y, _divmod_cases),
    spec("remainder_fn", lambda m, x, y: m.remainder(x, y), lambda rng: _divmod_cases(rng)[:2]),
    # floor_divide records (the output requires grad) but has no derivative, as in torch
    spec("floor_divide", lambda m, x, y: x // y, _divmod_cases, differentiable=False),
    spec("radd", lambda m, x: 3.5 + x, _unary_cases(randn)),
    spec("rsub", lambda m, x: 1 - x, _unary_cases(randn)),
    spec("rmul", lambda m, x: 2 * x, _unary_cases(randn)),
    spec("rdiv", lambda m, x: 1 / x, _unary_cases(nonzero)),
    spec("rdiv_float", lambda m, x: 2.5 / x, _unary_cases(nonzero)),
    spec("neg", lambda m, x: -x, _unary_cases(randn)),
    spec("neg_fn", lambda m, x: m.neg(x), _unary_cases(randn)),
    spec("square", lambda m, x: m.square(x), _unary_cases(randn)),
)


def _pow_scalar_cases(rng):
    return [
        Case((randn(rng, 3, 4),), {"p": 2}, name="int2"),
        Case((randn(rng, 3, 4),), {"p": 3}, name="int3_neg_base"),
        Case((randn(rng, 3, 4),), {"p": 2.0}, name="float2"),
        Case((pos(rng, 3, 4),), {"p": 0.5}, name="half"),
        Case((pos(rng, 3, 4),), {"p": -1.5}, name="neg_frac"),
        Case((nonzero(rng, 2, 3),), {"p": -2}, name="neg_int"),
        Case((randn(rng, 3, 4),), {"p": 1}, name="one"),
        Case((randn(rng, 3, 4),), {"p": 0}, name="zero"),
    ]


def _rpow_cases(rng):
    return [
        Case((randn(rng, 3, 4),), {"b": 2.0}, name="base2"),
        Case((randn(rng, 3, 4),), {"b": 0.5}, name="base_half"),
        Case((randn(rng, 5),), {"b": 3}, name="int_base"),
    ]


def _pow_tensor_cases(rng):
    return [
        Case((pos(rng, 3, 4), randn(rng, 3, 4)), name="same"),
        Case((pos(rng, 3, 4), randn(rng, 4)), name="bcast_3x4_4"),
        Case((pos(rng, 2, 1, 3), randn(rng, 4, 1)), name="bcast_2x1x3_4x1"),
        Case((pos(rng, 4), randn(rng, 3, 1)), name="bcast_4_3x1"),
    ]


_add(
    spec("pow_scalar", lambda m, x, p: x**p, _pow_scalar_cases),
    spec("pow_fn_scalar", lambda m, x, p: m.pow(x, p), _pow_scalar_cases),
    spec("rpow", lambda m, x, b: b**x, _rpow_cases),
    spec("pow_tensor", lambda m, x, y: x**y, _pow_tensor_cases),
)


def _apart_cases(rng):
    cases = []
    for name, sx, sy in [
        ("same", (3, 4), (3, 4)),
        ("bcast_3x4_4", (3, 4), (4,)),
        ("bcast_2x1x3_4x1", (2, 1, 3), (4, 1)),
        ("bcast_4_3x1", (4,), (3, 1)),
    ]:
        cases.append(Case(apart(rng, sx, sy), name=name))
    x, y = apart(rng, (3, 4), (3, 4))
    cases.append(Case((x, y), name="only_y_grad", requires_grad=(False, True)))
    return cases


_add(
    spec("maximum", lambda m, x, y: m.maximum(x, y), _apart_cases),
    spec("minimum", lambda m, x, y: m.minimum(x, y), _apart_cases),
    spec("max_binary", lambda m, x, y: m.max(x, y), lambda rng: _apart_cases(rng)[:2]),
    spec("min_binary", lambda m, x, y: m.min(x, y), lambda rng: _apart_cases(rng)[:2]),
)


def _where_cases(rng):
    def cond(*shape):
        return rng.random(shape) < 0.5

    return [
        Case((cond(3, 4), randn(rng, 3, 4), randn(rng, 3, 4)), name="same"),
        Case((cond(3, 4), randn(rng, 4), randn(rng, 3, 1)), name="bcast"),
        Case((cond(2, 1, 3), randn(rng, 4, 1), randn(rng, 3)), name="bcast_3d"),
        Case((cond(3, 4), randn(rng, 3, 4), 0.0), name="scalar_y"),
        Case((cond(3, 4), 1.5, randn(rng, 3, 4)), name="scalar_x"),
        Case(
            (cond(4), randn(rng, 4), randn(rng, 4)), name="only_x_grad", requires_grad=(True, False)
        ),
    ]


def _masked_fill_cases(rng):
    return [
        Case((randn(rng, 3, 4), rng.random((3, 4)) < 0.5), name="same"),
        Case((randn(rng, 3, 4), rng.random(4) < 0.5), name="bcast_mask"),
    ]


_add(
    spec("where", lambda m, c, x, y: m.where(c, x, y), _where_cases),
    spec("masked_fill", lambda m, x, mask: x.masked_fill(mask, -0.5), _masked_fill_cases),
)

# unary elementwise ----------------------------------------------------------------------------

_add(
    spec("exp", lambda m, x: m.exp(x), _unary_cases(randn)),
    spec("exp_method", lambda m, x: x.exp(), _unary_cases(randn)),
    spec("log", lambda m, x: m.log(x), _unary_cases(pos)),
    spec("log_small", lambda m, x: x.log(), _unary_cases(functools.partial(pos, lo=1e-3, hi=0.1))),
    spec("sqrt", lambda m, x: m.sqrt(x), _unary_cases(pos)),
    spec("rsqrt", lambda m, x: m.rsqrt(x), _unary_cases(pos)),
    spec("abs", lambda m, x: m.abs(x), _unary_cases(nonzero)),
    spec("abs_builtin", lambda m, x: abs(x), _unary_cases(nonzero)),
    spec("tanh", lambda m, x: m.tanh(x), _unary_cases(randn)),
    spec("sigmoid", lambda m, x: m.sigmoid(x), _unary_cases(randn)),
    spec("sigmoid_large", lambda m, x: x.sigmoid(), _unary_cases(lambda r, *s: 30 * randn(r, *s))),
    spec("relu", lambda m, x: m.relu(x), _unary_cases(functools.partial(away, points=(0.0,)))),
    spec("clone", lambda m, x: x.clone(), _unary_cases(randn)),
)

_CLAMP_X = functools.partial(away, points=(-0.5, 0.5), margin=0.1)


def _clamp_cases(rng):
    return [
        Case((_CLAMP_X(rng, 3, 4),), {"min": -0.5}, name="min_only"),
        Case((_CLAMP_X(rng, 3, 4),), {"max": 0.5}, name="max_only"),
        Case((_CLAMP_X(rng, 2, 3, 4),), {"min": -0.5, "max": 0.5}, name="both"),
        Case((_CLAMP_X(rng, 5),), {"min": -0.5, "max": 0.5}, name="both_1d"),
        Case((_CLAMP_X(rng, 3, 4),), {"min": -1, "max": 1}, name="int_bounds"),
    ]


def _clamp_tensor_cases(rng):
    x, lo = apart(rng, (3, 4), (4,))
    x2, hi = apart(rng, (3, 4), (3, 1))
    return [
        Case((x, lo), {"which": "min"}, name="tensor_min"),
        Case((x2, hi), {"which": "max"}, name="tensor_max"),
    ]


def _clamp_tensor(m, x, b, which):
    return m.clamp(x, min=b) if which == "min" else m.clamp(x, max=b)


_add(
    spec("clamp", lambda m, x, **kw: m.clamp(x, **kw), _clamp_cases),
    spec("clamp_method", lambda m, x, **kw: x.clamp(**kw), _clamp_cases),
    spec("clip", lambda m, x, **kw: m.clip(x, **kw), lambda rng: _clamp_cases(rng)[2:3]),
    spec("clamp_min", lambda m, x: m.clamp_min(x, -0.5), _unary_cases(_CLAMP_X)),
    spec("clamp_max", lambda m, x: m.clamp_max(x, 0.5), _unary_cases(_CLAMP_X)),
    spec("clamp_tensor", _clamp_tensor, _clamp_tensor_cases),
)

# reductions -----------------------------------------------------------------------------------


def _sum_cases(rng):
    cases = _reduce_cases()(rng)
    cases.append(Case((scalar(rng),), {}, name="0d"))
    return cases


_add(
    spec("sum", lambda m, x, **kw: m.sum(x, **kw), _sum_cases),
    spec("sum_method", lambda m, x, **kw: x.sum(**kw), _reduce_cases()),
    spec("mean", lambda m, x, **kw: m.mean(x, **kw), _sum_cases),
    spec("mean_method", lambda m, x, **kw: x.mean(**kw), _reduce_cases()),
)


def _max_all_cases(rng):
    return [
        Case((distinct(rng, 3, 4),), name="2d"),
        Case((distinct(rng, 2, 3, 4),), name="3d"),
        Case((distinct(rng, 5),), name="1d"),
        Case((scalar(rng),), name="0d"),
    ]


def _max_dim_cases(rng):
    ties = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    return [
        Case((distinct(rng, 3, 4),), {"dim": 0}, name="dim0"),
        Case((distinct(rng, 3, 4),), {"dim": 1, "keepdim": True}, name="dim1_keepdim"),
        Case((distinct(rng, 2, 3, 4),), {"dim": -1}, name="dim-1"),
        Case((distinct(rng, 2, 3, 4),), {"dim": -2, "keepdim": True}, name="dim-2_keepdim"),
        Case((distinct(rng, 2, 3, 4),), {"dim": 0}, name="3d_dim0"),
        Case((distinct(rng, 5),), {"dim": 0}, name="1d"),
        Case((ties,), {"dim": 1}, name="ties_dim1", grad=False),
        Case((ties.T.copy(),), {"dim": 0}, name="ties_dim0", grad=False),
    ]


def _amax_cases(rng):
    return [
        Case((distinct(rng, 3, 4),), {}, name="all"),
        Case((distinct(rng, 3, 4),), {"dim": 0}, name="dim0"),
        Case((distinct(rng, 2, 3, 4),), {"dim": -1, "keepdim": True}, name="dim-1_keepdim"),
        Case((distinct(rng, 2, 3, 4),), {"dim": (0, 2)}, name="dims_0_2"),
        Case((distinct(rng, 2, 3, 4),), {"dim": (-1, -2), "keepdim": True}, name="dims_neg_keep"),
    ]


_add(
    spec("max_all", lambda m, x: m.max(x), _max_all_cases),
    spec("max_all_method", lambda m, x: x.max(), _max_all_cases),
    spec("min_all", lambda m, x: m.min(x), _max_all_cases),
    spec("max_dim", lambda m, x, **kw: tuple(m.max(x, **kw)), _max_dim_cases),
    spec("max_dim_method", lambda m, x, **kw: tuple(x.max(**kw)), _max_dim_cases),
    spec("min_dim", lambda m, x, **kw: tuple(m.min(x, **kw)), _max_dim_cases),
    spec(
        "max_dim_values",
        lambda m, x, **kw: m.max(x, **kw).values,
        lambda rng: _max_dim_cases(rng)[:4],
    ),
    spec("amax", lambda m, x, **kw: m.amax(x, **kw), _amax_cases),
    spec("amin", lambda m, x, **kw: m.amin(x, **kw), _amax_cases),
)


def _var_cases(rng):
    return [
        Case((randn(rng, 3, 4),), {}, name="all"),
        Case((randn(rng, 3, 4),), {"dim": 0}, name="dim0"),
        Case((randn(rng, 2, 3, 4),), {"dim": -1, "keepdim": True}, name="dim-1_keepdim"),
        Case((randn(rng, 2, 3, 4),), {"dim": (0, 2)}, name="dims_0_2"),
        Case((randn(rng, 3, 4),), {"dim": 1, "correction": 0}, name="correction0"),
        Case((randn(rng, 3, 4),), {"dim": 1, "unbiased": False}, name="unbiased_false"),
        Case((randn(rng, 2, 5),), {"correction": 2}, name="correction2"),
    ]


_add(
    spec("var", lambda m, x, **kw: m.var(x, **kw), _var_cases),
    spec("var_method", lambda m, x, **kw: x.var(**kw), lambda rng: _var_cases(rng)[:4]),
    spec("std", lambda m, x, **kw: m.std(x, **kw), _var_cases),
    spec("std_method", lambda m, x, **kw: x.std(**kw), lambda rng: _var_cases(rng)[:4]),
)


def _norm_cases(rng):
    nz = functools.partial(nonzero, margin=0.2)
    return [
        Case((randn(rng, 3, 4),), {}, name="fro_all"),
        Case((randn(rng, 3, 4),), {"p": 2, "dim": 1}, name="p2_dim1"),
        Case((randn(rng, 2, 3, 4),), {"p": 2, "dim": -1, "keepdim": True}, name="p2_dim-1_keep"),
        Case((randn(rng, 2, 3, 4),), {"p": 2, "dim": (1, 2)}, name="p2_dims"),
        Case((nz(rng, 3, 4),), {"p": 1}, name="p1_all"),
        Case((nz(rng, 3, 4),), {"p": 1, "dim": 0, "keepdim": True}, name="p1_dim0_keep"),
        Case((nz(rng, 3, 4),), {"p": 3, "dim": 1}, name="p3_dim1"),
        Case((nz(rng, 3, 4),), {"p": 0.5, "dim": 0}, name="p0.5_dim0"),
        Case((distinct_abs(rng, 3, 4),), {"p": INF}, name="pinf_all"),
        Case((distinct_abs(rng, 3, 4),), {"p": INF, "dim": 1}, name="pinf_dim1"),
        Case(
            (distinct_abs(rng, 2, 3, 4),),
            {"p": INF, "dim": (1, 2), "keepdim": True},
            name="pinf_dims_keep",
        ),
    ]


def _logsumexp_cases(rng):
    return [
        Case((randn(rng, 3, 4),), {"dim": 1}, name="dim1"),
        Case((randn(rng, 3, 4),), {"dim": 0, "keepdim": True}, name="dim0_keepdim"),
        Case((randn(rng, 2, 3, 4),), {"dim": -1}, name="dim-1"),
        Case((randn(rng, 2, 3, 4),), {"dim": (0, 2)}, name="dims_0_2"),
        Case((randn(rng, 2, 3, 4),), {"dim": (-1, -2), "keepdim": True}, name="dims_neg_keep"),
        Case((50 * randn(rng, 3, 4),), {"dim": 1}, name="large_values"),
        Case((randn(rng, 5),), {"dim": 0}, name="1d"),
    ]


_add(
    spec("norm", lambda m, x, **kw: m.norm(x, **kw), _norm_cases),
    spec("norm_method", lambda m, x, **kw: x.norm(**kw), lambda rng: _norm_cases(rng)[:3]),
    spec("logsumexp", lambda m, x, **kw: m.logsumexp(x, **kw), _logsumexp_cases),
    spec(
        "logsumexp_method",
        lambda m, x, **kw: x.logsumexp(**kw),
        lambda rng: _logsumexp_cases(rng)[:3],
    ),
)

# linear algebra -------------------------------------------------------------------------------


def _matmul_cases(rng):
    shapes = [
        ("1d_1d", (4,), (4,)),
        ("2d_1d", (3, 4), (4,)),
        ("1d_2d", (4,), (4, 5)),
        ("2d_2d", (3, 4), (4, 5)),
        ("3d_2d", (2, 3, 4), (4, 5)),
        ("2d_3d", (3, 4), (2, 4, 5)),
        ("3d_3d", (2, 3, 4), (2, 4, 5)),
        ("bcast_batch", (1, 3, 4), (2, 4, 5)),
        ("3d_1d", (2, 3, 4), (4,)),
        ("1d_3d", (4,), (2, 4, 5)),
        ("4d_bcast", (2, 1, 3, 4), (3, 4, 2)),
    ]
    cases = [Case((randn(rng, *a), randn(rng, *b)), name=n) for n, a, b in shapes]
    cases.append(
        Case((randn(rng, 3, 4), randn(rng, 4, 5)), name="only_b_grad", requires_grad=(False, True))
    )
    return cases


_add(
    spec("matmul", lambda m, a, b: a @ b, _matmul_cases),
    spec("matmul_fn", lambda m, a, b: m.matmul(a, b), lambda rng: _matmul_cases(rng)[:4]),
    spec(
        "mm",
        lambda m, a, b: m.mm(a, b),
        lambda rng: [
            Case((randn(rng, 3, 4), randn(rng, 4, 5))),
            Case((randn(rng, 1, 4), randn(rng, 4, 1))),
        ],
    ),
    spec(
        "bmm",
        lambda m, a, b: m.bmm(a, b),
        lambda rng: [Case((randn(rng, 2, 3, 4), randn(rng, 2, 4, 5)))],
    ),
    spec("mv", lambda m, a, v: m.mv(a, v), lambda rng: [Case((randn(rng, 3, 4), randn(rng, 4)))]),
    spec(
        "dot",
        lambda m, a, b: m.dot(a, b),
        lambda rng: [
            Case((randn(rng, 5), randn(rng, 5))),
            Case((randn(rng, 1), randn(rng, 1)), name="len1"),
        ],
    ),
    spec(
        "outer", lambda m, a, b: m.outer(a, b), lambda rng: [Case((randn(rng, 3), randn(rng, 4)))]
    ),
)

# shapes and views -----------------------------------------------------------------------------


def _transpose_cases(rng):
    return [
        Case((randn(rng, 3, 4),), {"d0": 0, "d1": 1}, name="2d"),
        Case((randn(rng, 2, 3, 4),), {"d0": 0, "d1": 2}, name="3d_0_2"),
        Case((randn(rng, 2, 3, 4),), {"d0": -1, "d1": -2}, name="3d_neg"),
        Case((randn(rng, 2, 3, 4),), {"d0": 1, "d1": 1}, name="same_dim"),
    ]


def _permute_cases(rng):
    return [
        Case((randn(rng, 2, 3, 4),), {"dims": (2, 0, 1)}, name="201"),
        Case((randn(rng, 2, 3, 4),), {"dims": (-1, 0, -2)}, name="neg"),
        Case((randn(rng, 3, 4),), {"dims": (1, 0)}, name="2d"),
        Case((randn(rng, 2, 3, 4, 2),), {"dims": (3, 1, 0, 2)}, name="4d"),
    ]


def _reshape_cases(rng):
    return [
        Case((randn(rng, 3, 4),), {"shape": (4, 3)}, name="4x3"),
        Case((randn(rng, 3, 4),), {"shape": (2, -1)}, name="2x-1"),
        Case((randn(rng, 2, 3, 4),), {"shape": (-1,)}, name="flat"),
        Case((randn(rng, 2, 3, 4),), {"shape": (6, 1, -1)}, name="6x1x-1"),
        Case((randn(rng, 12),), {"shape": (2, 2, 3)}, name="1d_to_3d"),
        Case((np.array(randn(rng, 1)[0]),), {"shape": (1, 1)}, name="0d_to_2d"),
    ]


def _flatten_cases(rng):
    return [
        Case((randn(rng, 2, 3, 4),), {}, name="default"),
        Case((randn(rng, 2, 3, 4),), {"start_dim": 1}, name="start1"),
        Case((randn(rng, 2, 3, 4, 2),), {"start_dim": 1, "end_dim": 2}, name="1_2"),
        Case((randn(rng, 2, 3, 4),), {"end_dim": -2}, name="end-2"),
    ]


def _squeeze_cases(rng):
    return [
        Case((randn(rng, 3, 1, 4, 1),), {}, name="all"),
        Case((randn(rng, 3, 1, 4),), {"dim": 1}, name="dim1"),
        Case((randn(rng, 3, 4, 1),), {"dim": -1}, name="dim-1"),
        Case((randn(rng, 3, 4),), {"dim": 0}, name="noop"),
        Case((randn(rng, 1, 3, 1),), {"dim": (0, 2)}, name="tuple"),
    ]


def _unsqueeze_cases(rng):
    return [
        Case((randn(rng, 3, 4),), {"dim": 0}, name="dim0"),
        Case((randn(rng, 3, 4),), {"dim": 1}, name="dim1"),
        Case((randn(rng, 3, 4),), {"dim": -1}, name="dim-1"),
        Case((randn(rng, 3, 4),), {"dim": -2}, name="dim-2"),
        Case((scalar(rng),), {"dim": 0}, name="0d"),
    ]


def _expand_cases(rng):
    return [
        Case((randn(rng, 3, 1),), {"sizes": (3, 4)}, name="3x1_3x4"),
        Case((randn(rng, 3, 1),), {"sizes": (2, 3, 4)}, name="3x1_2x3x4"),
        Case((randn(rng, 1, 4),), {"sizes": (3, -1)}, name="minus1"),
        Case((randn(rng, 4),), {"sizes": (2, 3, 4)}, name="1d_lead"),
        Case((scalar(rng),), {"sizes": (2, 3)}, name="0d"),
    ]


_add(
    spec("transpose", lambda m, x, d0, d1: m.transpose(x, d0, d1), _transpose_cases),
    spec("transpose_method", lambda m, x, d0, d1: x.transpose(d0, d1), _transpose_cases),
    spec("permute", lambda m, x, dims: x.permute(*dims), _permute_cases),
    spec("permute_fn", lambda m, x, dims: m.permute(x, dims), _permute_cases),
    spec(
        "T",
        lambda m, x: x.T,
        lambda rng: [Case((randn(rng, 3, 4),)), Case((randn(rng, 1, 5),), name="row")],
    ),
    spec("t", lambda m, x: x.t(), lambda rng: [Case((randn(rng, 3, 4),))]),
    spec("mT", lambda m, x: x.mT, lambda rng: [Case((randn(rng, 2, 3, 4),))]),
    spec("reshape", lambda m, x, shape: x.reshape(shape), _reshape_cases),
    spec("reshape_varargs", lambda m, x, shape: x.reshape(*shape), _reshape_cases),
    spec("reshape_fn", lambda m, x, shape: m.reshape(x, shape), _reshape_cases),
    spec("view", lambda m, x, shape: x.view(*shape), _reshape_cases),
    spec(
        "reshape_noncontig",
        lambda m, x: x.transpose(0, 1).reshape(-1),
        lambda rng: [Case((randn(rng, 3, 4),)), Case((randn(rng, 2, 3, 4),), name="3d")],
    ),
    spec("flatten", lambda m, x, **kw: m.flatten(x, **kw), _flatten_cases),
    spec("flatten_method", lambda m, x, **kw: x.flatten(**kw), _flatten_cases),
    spec("squeeze", lambda m, x, **kw: m.squeeze(x, **kw), _squeeze_cases),
    spec("squeeze_method", lambda m, x, **kw: x.squeeze(**kw), _squeeze_cases),
    spec("unsqueeze", lambda m, x, dim: m.unsqueeze(x, dim), _unsqueeze_cases),
    spec("unsqueeze_method", lambda m, x, dim: x.unsqueeze(dim), _unsqueeze_cases),
    spec("expand", lambda m, x, sizes: x.expand(*sizes), _expand_cases),
    spec("expand_tuple", lambda m, x, sizes: x.expand(sizes), _expand_cases),
    spec(
        "expand_then_mul",
        lambda m, x, sizes: x.expand(*sizes) * 2.0,
        lambda rng: _expand_cases(rng)[:2],
    ),
)

# indexing -------------------------------------------------------------------------------------


def _getitem_cases(rng):
    return [
        Case((randn(rng, 5, 4),), {"idx": slice(1, 3)}, name="slice_1_3"),
        Case((randn(rng, 5, 4),), {"idx": (slice(None), 0)}, name="col0"),
        Case((randn(rng, 2, 3, 4),), {"idx": (Ellipsis, -1)}, name="ellipsis_-1"),
        Case((randn(rng, 5, 4),), {"idx": 1}, name="int"),
        Case((randn(rng, 5, 4),), {"idx": -1}, name="neg_int"),
        Case((randn(rng, 6, 4),), {"idx": slice(None, None, 2)}, name="step2"),
        Case((randn(rng, 5, 4),), {"idx": (slice(1, None), slice(None, -1))}, name="2d_slices"),
        Case((randn(rng, 5, 4),), {"idx": (None, 1)}, name="none_int"),
        Case((randn(rng, 5, 4),), {"idx": [0, 2, 0]}, name="list_repeat"),
        Case((randn(rng, 5, 4),), {"idx": (slice(None), [3, 1, 3, 3])}, name="list_dim1_repeat"),
        Case((randn(rng, 5, 4),), {"idx": ([0, 4, 0], [1, 1, 1])}, name="pairs_repeat"),
        Case((randn(rng, 2, 3, 4),), {"idx": (1, slice(None), [0, 0])}, name="mixed"),
    ]


def _getitem_tensor_cases(rng):
    return [
        Case((randn(rng, 4, 3), rng.random((4, 3)) < 0.5), name="bool_mask_full"),
        Case((randn(rng, 4, 3), np.array([True, False, True, True])), name="bool_mask_rows"),
        Case((randn(rng, 5, 3), np.array([0, 2, 0, 4, 2])), name="int_repeat"),
        Case((randn(rng, 5, 3), np.array([-1, 1, -1])), name="int_negative"),
        Case((randn(rng, 5), np.array([[0, 1], [1, 3]])), name="int_2d_index"),
    ]


_add(
    spec("getitem", lambda m, x, idx: x[idx], _getitem_cases),
    spec("getitem_tensor", lambda m, x, i: x[i], _getitem_tensor_cases),
    spec("getitem_chain", lambda m, x: x[1:][:, ::2][0], lambda rng: [Case((randn(rng, 4, 5),))]),
)

# joining and splitting ------------------------------------------------------------------------


def _cat_cases(rng):
    return [
        Case((randn(rng, 2, 3), randn(rng, 4, 3)), {"dim": 0}, name="dim0"),
        Case((randn(rng, 2, 3), randn(rng, 2, 1), randn(rng, 2, 2)), {"dim": 1}, name="dim1_x3"),
        Case((randn(rng, 2, 3, 2), randn(rng, 2, 3, 1)), {"dim": -1}, name="dim-1"),
        Case((randn(rng, 3), randn(rng, 2)), {"dim": 0}, name="1d"),
        Case(
            (randn(rng, 2, 3), randn(rng, 1, 3)),
            {"dim": 0},
            name="only_first_grad",
            requires_grad=(True, False),
        ),
    ]


def _stack_cases(rng):
    return [
        Case((randn(rng, 2, 3), randn(rng, 2, 3)), {"dim": 0}, name="dim0"),
        Case((randn(rng, 2, 3), randn(rng, 2, 3), randn(rng, 2, 3)), {"dim": 1}, name="dim1_x3"),
        Case((randn(rng, 2, 3), randn(rng, 2, 3)), {"dim": -1}, name="dim-1"),
        Case((scalar(rng), scalar(rng)), {"dim": 0}, name="0d"),
    ]


def _split_cases(rng):
    return [
        Case((randn(rng, 5, 3),), {"s": 2, "dim": 0}, name="size2_dim0"),
        Case((randn(rng, 2, 5),), {"s": [1, 3, 1], "dim": 1}, name="sections_dim1"),
        Case((randn(rng, 2, 3, 4),), {"s": 3, "dim": -1}, name="size3_dim-1"),
        Case((randn(rng, 4, 3),), {"s": 4, "dim": 0}, name="whole"),
    ]


def _chunk_cases(rng):
    return [
        Case((randn(rng, 6, 2),), {"chunks": 3, "dim": 0}, name="even"),
        Case((randn(rng, 2, 7),), {"chunks": 3, "dim": 1}, name="uneven"),
        Case((randn(rng, 2, 3, 5),), {"chunks": 2, "dim": -1}, name="dim-1"),
    ]


_add(
    spec("cat", lambda m, *xs, dim: m.cat(list(xs), dim=dim), _cat_cases),
    spec("stack", lambda m, *xs, dim: m.stack(list(xs), dim=dim), _stack_cases),
    spec("split", lambda m, x, s, dim: x.split(s, dim=dim), _split_cases),
    spec("split_fn", lambda m, x, s, dim: m.split(x, s, dim=dim), _split_cases),
    spec("chunk", lambda m, x, chunks, dim: m.chunk(x, chunks, dim=dim), _chunk_cases),
    spec(
        "unbind",
        lambda m, x, dim: m.unbind(x, dim=dim),
        lambda rng: [
            Case((randn(rng, 3, 2),), {"dim": 0}, name="dim0"),
            Case((randn(rng, 2, 3, 2),), {"dim": -1}, name="dim-1"),
        ],
    ),
    spec(
        "split_use_one",
        lambda m, x: x.split(2, dim=1)[1] * 3.0,
        lambda rng: [Case((randn(rng, 3, 5),))],
    ),
)

# softmax family -------------------------------------------------------------------------------


def _softmax_cases(rng):
    return [
        Case((randn(rng, 2, 3, 4),), {"dim": 0}, name="dim0"),
        Case((randn(rng, 2, 3, 4),), {"dim": 1}, name="dim1"),
        Case((randn(rng, 2, 3, 4),), {"dim": -1}, name="dim-1"),
        Case((randn(rng, 3, 4),), {"dim": -2}, name="2d_dim-2"),
        Case((randn(rng, 5),), {"dim": 0}, name="1d"),
        Case((30 * randn(rng, 3, 4),), {"dim": 1}, name="large_logits"),
    ]


_add(
    spec("softmax", lambda m, x, dim: m.softmax(x, dim=dim), _softmax_cases),
    spec("softmax_method", lambda m, x, dim: x.softmax(dim), _softmax_cases),
    spec("log_softmax", lambda m, x, dim: m.log_softmax(x, dim=dim), _softmax_cases),
    spec("log_softmax_method", lambda m, x, dim: x.log_softmax(dim), _softmax_cases),
)

# aliases and the remaining functional / method spellings --------------------------------------


def _two(rng):
    return [Case((randn(rng, 3, 4), nonzero(rng, 4)), name="bcast")]


_add(
    spec("mul_fn", lambda m, x, y: m.mul(x, y), _two),
    spec("multiply", lambda m, x, y: m.multiply(x, y), _two),
    spec("div_fn", lambda m, x, y: m.div(x, y), _two),
    spec("divide", lambda m, x, y: m.divide(x, y), _two),
    spec("true_divide", lambda m, x, y: m.true_divide(x, y), _two),
    spec("subtract", lambda m, x, y: m.subtract(x, y), _two),
    spec("add_method", lambda m, x, y: x.add(y), _two),
    spec("sub_method", lambda m, x, y: x.sub(y), _two),
    spec("mul_method", lambda m, x, y: x.mul(y), _two),
    spec("div_method", lambda m, x, y: x.div(y), _two),
    spec(
        "pow_method",
        lambda m, x, y: x.pow(y),
        lambda rng: [Case((pos(rng, 3, 4), randn(rng, 4)), name="bcast")],
    ),
    spec("negative", lambda m, x: m.negative(x), _unary_cases(randn)),
    spec("absolute", lambda m, x: m.absolute(x), _unary_cases(nonzero)),
    spec("sign", lambda m, x: m.sign(x), _unary_cases(nonzero), differentiable=False),
    spec(
        "concat", lambda m, *xs, dim: m.concat(list(xs), dim=dim), lambda rng: _cat_cases(rng)[:2]
    ),
    spec(
        "concatenate",
        lambda m, *xs, dim: m.concatenate(list(xs), dim=dim),
        lambda rng: _cat_cases(rng)[:2],
    ),
    spec("swapaxes", lambda m, x, d0, d1: m.swapaxes(x, d0, d1), _transpose_cases),
    spec("broadcast_to", lambda m, x, sizes: m.broadcast_to(x, sizes), _expand_cases),
    spec(
        "unflatten",
        lambda m, x, dim, sizes: m.unflatten(x, dim, sizes),
        lambda rng: [
            Case((randn(rng, 2, 6),), {"dim": 1, "sizes": (2, 3)}, name="dim1"),
            Case((randn(rng, 6, 2),), {"dim": -2, "sizes": (3, -1)}, name="neg"),
        ],
    ),
    spec(
        "view_as",
        lambda m, x, y: x.view_as(y),
        lambda rng: [Case((randn(rng, 3, 4), randn(rng, 2, 6)), requires_grad=(True, False))],
    ),
    spec(
        "reshape_as",
        lambda m, x, y: x.reshape_as(y),
        lambda rng: [Case((randn(rng, 3, 4), randn(rng, 6, 2)), requires_grad=(True, False))],
    ),
    spec(
        "expand_as",
        lambda m, x, y: x.expand_as(y),
        lambda rng: [Case((randn(rng, 3, 1), randn(rng, 2, 3, 4)), requires_grad=(True, False))],
    ),
    spec("amax_method", lambda m, x: x.amax(dim=1), lambda rng: [Case((distinct(rng, 3, 4),))]),
    spec("amin_method", lambda m, x: x.amin(dim=0), lambda rng: [Case((distinct(rng, 3, 4),))]),
)

# composites: several ops in one graph (saved values, views and accumulation interacting) -----

_add(
    spec(
        "composite_mlp",
        lambda m, x, w, b: m.tanh(x @ w + b).sum(dim=1),
        lambda rng: [Case((randn(rng, 3, 4), randn(rng, 4, 5), randn(rng, 5)))],
    ),
    spec(
        "composite_reuse",
        lambda m, x: (x * x.exp() - x.mean(dim=0)) / (1 + x * x),
        _unary_cases(randn),
    ),
    spec(
        "composite_view_chain",
        lambda m, x: x.T.reshape(2, -1).unsqueeze(0).expand(3, 2, 6),
        lambda rng: [Case((randn(rng, 3, 4),))],
    ),
)


# ops the specs above do not reach: every op of the table is run by some spec
# (tests/test_ops.py::test_every_op_is_exercised_by_a_spec) -----------------------------------


def _ties(rng, *shape):
    """Small integers as floats: equal elements happen, so == and <= meet ties."""
    return rng.integers(-2, 3, shape).astype(np.float64)


def _compare_cases(rng):
    return [
        Case((_ties(rng, 3, 4), _ties(rng, 3, 4)), name="same"),
        Case((_ties(rng, 3, 4), _ties(rng, 4)), name="bcast"),
        Case((_ties(rng, 3, 4), 1.0), name="py_float"),
    ]


def _mask_cases(rng):
    return [Case((rng.random((3, 4)) < 0.5,), name="2d"), Case((np.array(True),), name="0d")]


def _setitem(m, x, v):
    y = x * 1.0  # a non-leaf: assigning into a leaf that requires grad raises
    y[1:, 0] = v  # a tensor value
    y[0, ::2] = 0.5  # a python number
    return y


def _inplace_on_view(m, x, v):
    y = x * 1.0
    row = y[0]
    row *= v  # rewrites y's history (view_scatter), as torch's CopySlices
    return y.T  # so backward hands view_scatter a transposed (non-C-ordered) gradient


def _device_round_trip(m, x):
    """``x`` copied to another device and back (numgrad's two test devices)."""
    other = DEVICES[1] if x.device == DEVICES[0] else DEVICES[0]
    return x.to(other).to(x.device)


_add(
    *[
        spec(name, (lambda f: lambda m, x, y: f(x, y))(f), _compare_cases, differentiable=False)
        for name, f in (
            ("lt", lambda x, y: x < y),
            ("le", lambda x, y: x <= y),
            ("gt", lambda x, y: x > y),
            ("ge", lambda x, y: x >= y),
            ("eq", lambda x, y: x == y),
            ("ne", lambda x, y: x != y),
        )
    ],
    spec("logical_not", lambda m, x: m.logical_not(x), _mask_cases, differentiable=False),
    spec("invert_mask", lambda m, x: ~x, _mask_cases, differentiable=False),
    # piecewise constant: the output requires grad and the gradient is 0, as torch's
    *[
        spec(
            name,
            (lambda n: lambda m, x: getattr(m, n)(x))(name),
            _unary_cases(lambda r, *s: 3 * randn(r, *s)),
        )
        for name in ("floor", "ceil", "round", "trunc")
    ],
    # no finite differences through a float32 rounding
    spec(
        "cast_float_double",
        lambda m, x: x.float().double(),
        _unary_cases(randn),
        gradcheck=False,
    ),
    spec(
        "setitem",
        _setitem,
        lambda rng: [Case((randn(rng, 3, 4), randn(rng, 2)))],
    ),
    spec(
        "inplace_on_view",
        _inplace_on_view,
        lambda rng: [Case((randn(rng, 3, 4), randn(rng, 4)))],
    ),
    spec(
        "to_device",
        _device_round_trip,
        _unary_cases(randn),
        torch_fn=lambda m, x: x.clone(),
    ),
)


# ---- numgrad.nn.functional -------------------------------------------------------------------
# NN_SPECS: specs for numgrad.nn.functional, run by the same three tests as OP_SPECS.  Each
# lambda reaches the function through `m.nn.functional`, so the same spec runs against
# torch.nn.functional.  (They are collected only when `numgrad.nn.functional` imports, which it
# does since the nn package landed; test_spec_list_is_well_formed checks the two agree.)


def _nnf(m):
    return m.nn.functional


def _loss_pair(gen_target=randn):
    def sample(rng):
        return [
            Case((randn(rng, 3, 4), gen_target(rng, 3, 4)), {}, name="mean"),
            Case((randn(rng, 3, 4), gen_target(rng, 3, 4)), {"reduction": "sum"}, name="sum"),
            Case((randn(rng, 3, 4), gen_target(rng, 3, 4)), {"reduction": "none"}, name="none"),
            Case(
                (randn(rng, 3, 4), gen_target(rng, 3, 4)),
                {},
                name="target_no_grad",
                requires_grad=(True, False),
            ),
        ]

    return sample


def _apart_pair(margin):
    def sample(rng):
        out = []
        for name, kw in [
            ("mean", {}),
            ("sum", {"reduction": "sum"}),
            ("none", {"reduction": "none"}),
        ]:
            y = randn(rng, 3, 4)
            x = y + nonzero(rng, 3, 4, margin=margin) * 1.5
            out.append(Case((x, y), kw, name=name))
        return out

    return sample


def _prob(rng, *shape):
    return rng.uniform(0.05, 0.95, shape)


def _xent_cases(rng):
    return [
        Case((randn(rng, 4, 5), rng.integers(0, 5, 4)), {}, name="mean"),
        Case((randn(rng, 4, 5), rng.integers(0, 5, 4)), {"reduction": "sum"}, name="sum"),
        Case((randn(rng, 4, 5), rng.integers(0, 5, 4)), {"reduction": "none"}, name="none"),
        Case(
            (randn(rng, 4, 5), np.array([1, -100, 3, 1])),
            {"ignore_index": -100},
            name="ignore_index",
        ),
        Case((randn(rng, 2, 5, 3), rng.integers(0, 5, (2, 3))), {}, name="spatial"),
    ]


def _weighted_xent_cases(rng):
    """(logits or log-probs, target, class weight); the weight does not require grad."""
    out = []
    for n, kw in [
        ("mean", {}),
        ("sum", {"reduction": "sum"}),
        ("none", {"reduction": "none"}),
        ("ignore_index", {"ignore_index": 2}),
    ]:
        x = np.log(_softmax_np(randn(rng, 4, 5)))
        t = rng.integers(0, 5, 4)
        if n == "ignore_index":
            t[[0, 3]] = 2
        out.append(Case((x, t, pos(rng, 5)), kw, name=n, requires_grad=(True, False)))
    return out


def _nll_cases(rng):
    return [
        Case((np.log(_softmax_np(randn(rng, 4, 5))), rng.integers(0, 5, 4)), kw, name=n)
        for n, kw in [("mean", {}), ("sum", {"reduction": "sum"}), ("none", {"reduction": "none"})]
    ]


def _softmax_np(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _linear_cases(rng):
    return [
        Case((randn(rng, 3, 4), randn(rng, 5, 4), randn(rng, 5)), name="bias"),
        Case((randn(rng, 2, 3, 4), randn(rng, 5, 4), randn(rng, 5)), name="batched"),
        Case((randn(rng, 3, 4), randn(rng, 5, 4)), name="no_bias"),
        Case((randn(rng, 4), randn(rng, 5, 4), randn(rng, 5)), name="1d_input"),
    ]


NN_SPECS: list[OpSpec] = [
    spec("F.relu", lambda m, x: _nnf(m).relu(x), _unary_cases(functools.partial(away))),
    spec("F.leaky_relu", lambda m, x: _nnf(m).leaky_relu(x, 0.1), _unary_cases(away)),
    spec("F.gelu", lambda m, x: _nnf(m).gelu(x), _unary_cases(randn)),
    spec("F.gelu_tanh", lambda m, x: _nnf(m).gelu(x, approximate="tanh"), _unary_cases(randn)),
    spec("F.softplus", lambda m, x: _nnf(m).softplus(x), _unary_cases(randn)),
    spec("F.sigmoid", lambda m, x: _nnf(m).sigmoid(x), _unary_cases(randn)),
    spec("F.tanh", lambda m, x: _nnf(m).tanh(x), _unary_cases(randn)),
    spec("F.softmax", lambda m, x, dim: _nnf(m).softmax(x, dim=dim), _softmax_cases),
    spec("F.log_softmax", lambda m, x, dim: _nnf(m).log_softmax(x, dim=dim), _softmax_cases),
    spec("F.linear", lambda m, *a: _nnf(m).linear(*a), _linear_cases),
    spec("F.mse_loss", lambda m, x, y, **kw: _nnf(m).mse_loss(x, y, **kw), _loss_pair()),
    spec("F.l1_loss", lambda m, x, y, **kw: _nnf(m).l1_loss(x, y, **kw), _apart_pair(0.2)),
    spec(
        "F.huber_loss",
        lambda m, x, y, **kw: _nnf(m).huber_loss(x, y, delta=0.7, **kw),
        _apart_pair(0.2),
    ),
    spec(
        "F.smooth_l1_loss",
        lambda m, x, y, **kw: _nnf(m).smooth_l1_loss(x, y, **kw),
        _apart_pair(0.2),
    ),
    spec(
        "F.binary_cross_entropy",
        lambda m, x, y, **kw: _nnf(m).binary_cross_entropy(x, y, **kw),
        lambda rng: [
            Case((_prob(rng, 3, 4), _prob(rng, 3, 4)), kw, name=n)
            for n, kw in [
                ("mean", {}),
                ("sum", {"reduction": "sum"}),
                ("none", {"reduction": "none"}),
            ]
        ],
    ),
    spec(
        "F.binary_cross_entropy_with_logits",
        lambda m, x, y, **kw: _nnf(m).binary_cross_entropy_with_logits(x, y, **kw),
        _loss_pair(_prob),
    ),
    spec("F.cross_entropy", lambda m, x, t, **kw: _nnf(m).cross_entropy(x, t, **kw), _xent_cases),
    spec("F.nll_loss", lambda m, x, t, **kw: _nnf(m).nll_loss(x, t, **kw), _nll_cases),
    spec("F.silu", lambda m, x: _nnf(m).silu(x), _unary_cases(randn)),
    spec(
        "F.leaky_relu_0.2",
        lambda m, x: _nnf(m).leaky_relu(x, negative_slope=0.2),
        _unary_cases(away),
    ),
    spec(
        "F.softplus_beta",
        lambda m, x: _nnf(m).softplus(x, beta=2.0, threshold=5.0),
        _unary_cases(functools.partial(away, points=(2.5,), lo=-4.0, hi=4.0)),
    ),
    spec(
        "F.smooth_l1_loss_beta",
        lambda m, x, y, **kw: _nnf(m).smooth_l1_loss(x, y, beta=0.5, **kw),
        _apart_pair(0.2),
    ),
    spec(
        "F.dropout_eval",
        lambda m, x: _nnf(m).dropout(x, p=0.5, training=False),
        _unary_cases(randn),
    ),
    spec("F.dropout_p0", lambda m, x: _nnf(m).dropout(x, p=0.0), _unary_cases(randn)),
    spec(
        "F.cross_entropy_weight",
        lambda m, x, t, w, **kw: _nnf(m).cross_entropy(x, t, weight=w, **kw),
        _weighted_xent_cases,
    ),
    spec(
        "F.cross_entropy_label_smoothing",
        lambda m, x, t, **kw: _nnf(m).cross_entropy(x, t, label_smoothing=0.1, **kw),
        lambda rng: _xent_cases(rng)[:4],
    ),
    spec(
        "F.cross_entropy_probs",
        lambda m, x, t, **kw: _nnf(m).cross_entropy(x, t, **kw),
        lambda rng: [
            Case(
                (randn(rng, 4, 5), _softmax_np(randn(rng, 4, 5))),
                kw,
                name=n,
                requires_grad=(True, False),
            )
            for n, kw in [
                ("mean", {}),
                ("sum", {"reduction": "sum"}),
                ("none", {"reduction": "none"}),
            ]
        ],
    ),
    spec(
        "F.nll_loss_weight",
        lambda m, x, t, w, **kw: _nnf(m).nll_loss(x, t, weight=w, **kw),
        _weighted_xent_cases,
    ),
    spec(
        "F.binary_cross_entropy_weight",
        lambda m, x, y, w, **kw: _nnf(m).binary_cross_entropy(x, y, weight=w, **kw),
        lambda rng: [
            Case(
                (_prob(rng, 3, 4), _prob(rng, 3, 4), pos(rng, 4)),
                kw,
                name=n,
                requires_grad=(True, True, False),
            )
            for n, kw in [("mean", {}), ("none", {"reduction": "none"})]
        ],
    ),
    spec(
        "F.binary_cross_entropy_with_logits_pos_weight",
        lambda m, x, y, pw, **kw: _nnf(m).binary_cross_entropy_with_logits(
            x, y, pos_weight=pw, **kw
        ),
        lambda rng: [
            Case(
                (randn(rng, 3, 4), _prob(rng, 3, 4), pos(rng, 4)),
                kw,
                name=n,
                requires_grad=(True, True, False),
            )
            for n, kw in [("mean", {}), ("none", {"reduction": "none"})]
        ],
    ),
    spec(
        "F.normalize",
        lambda m, x, **kw: _nnf(m).normalize(x, **kw),
        lambda rng: [
            Case((randn(rng, 3, 4),), {}, name="default"),
            Case((randn(rng, 2, 3, 4),), {"dim": -1}, name="dim-1"),
            Case((nonzero(rng, 3, 4),), {"p": 1.0, "dim": 0}, name="p1_dim0"),
        ],
    ),
    spec(
        "F.one_hot",
        lambda m, t, **kw: _nnf(m).one_hot(t, **kw),
        lambda rng: [
            Case((rng.integers(0, 4, 5),), {"num_classes": 4}, name="n4"),
            Case((rng.integers(0, 3, (2, 3)),), {}, name="inferred"),
        ],
        differentiable=False,
    ),
]


def has_nn_functional() -> bool:
    try:
        import numgrad.nn.functional  # noqa: F401
    except ImportError:
        return False
    return True


# issue 11 areas keep their specs in their own modules (tests/opinfo_<area>.py), each with
# OP_SPECS and NN_SPECS lists; they import what they need from this module (defined above).
for _area in ("math", "tensor_ops", "random", "conv", "layers", "habits"):
    _mod = __import__(f"opinfo_{_area}")
    OP_SPECS.extend(getattr(_mod, "OP_SPECS", []))
    NN_SPECS.extend(getattr(_mod, "NN_SPECS", []))

ALL_SPECS: list[OpSpec] = OP_SPECS + (NN_SPECS if has_nn_functional() else [])

# ---- optimizer updates -----------------------------------------------------------------------
# UPDATE_SPECS: the update ops of the table (sgd_update, adam_update, ...) reached through
# numgrad.optim, checked step by step against torch.optim on every device
# (tests/test_ops.py::test_update; tests/test_optim.py checks every option on the CPU).


@dataclass
class UpdateSpec:
    name: str
    make: Callable[..., Any]  # make(m, params) -> an optimizer of module m (numgrad or torch)


UPDATE_SPECS: list[UpdateSpec] = [
    UpdateSpec("sgd", lambda m, ps: m.optim.SGD(ps, lr=0.1)),
    UpdateSpec(
        "sgd_momentum_decay",
        lambda m, ps: m.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    ),
    UpdateSpec(
        "sgd_nesterov_maximize",
        lambda m, ps: m.optim.SGD(ps, lr=0.05, momentum=0.5, nesterov=True, maximize=True),
    ),
    UpdateSpec("adam", lambda m, ps: m.optim.Adam(ps, lr=0.01)),
    UpdateSpec(
        "adam_amsgrad_decay",
        lambda m, ps: m.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, amsgrad=True),
    ),
    UpdateSpec(
        "adamw_maximize",
        lambda m, ps: m.optim.AdamW(ps, lr=0.01, weight_decay=0.1, maximize=True),
    ),
    UpdateSpec("rmsprop", lambda m, ps: m.optim.RMSprop(ps, lr=0.01)),
    UpdateSpec(
        "rmsprop_centered_momentum_decay_maximize",
        lambda m, ps: m.optim.RMSprop(
            ps, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1, maximize=True
        ),
    ),
    UpdateSpec(
        "adagrad_decays_maximize",
        lambda m, ps: m.optim.Adagrad(
            ps,
            lr=0.1,
            lr_decay=0.05,
            weight_decay=0.1,
            initial_accumulator_value=0.2,
            maximize=True,
        ),
    ),
    UpdateSpec("adadelta", lambda m, ps: m.optim.Adadelta(ps, rho=0.8, weight_decay=0.1)),
    UpdateSpec(
        "adamax_decay_maximize",
        lambda m, ps: m.optim.Adamax(ps, lr=0.01, weight_decay=0.1, maximize=True),
    ),
    UpdateSpec(
        "radam_decoupled",
        # 3 steps: RAdam's un-rectified branch (tests/test_optim_more.py runs both)
        lambda m, ps: m.optim.RAdam(
            ps, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, decoupled_weight_decay=True
        ),
    ),
    UpdateSpec(
        "nadam_decay_maximize",
        lambda m, ps: m.optim.NAdam(
            ps, lr=0.01, momentum_decay=0.1, weight_decay=0.1, maximize=True
        ),
    ),
]
