"""Reductions: sum, mean, max/min (whole tensor or along a dim), argmax/argmin, var/std, norm.

Declarations and plans only; each device implements the kernels (``devices/cpu/reduce.py``).

Every reduction runs on an ``(A, R, B)`` view of its input: the reduced axes (made adjacent and
contiguous) form ``R``, the axes before and after form ``A`` and ``B``.  :func:`reduce_plan`
computes that view once per (shape, axes, keepdim), so one compute kernel per reduction covers
every ``dim``/``keepdim`` combination.  float32 sums accumulate in float64.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from .registry import Kernel, Op, register


def normalize_dims(dim, ndim):
    """``dim`` (None, int or sequence) -> sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    # type(dim) is int first: the ABC check numpy integers need is slower (every sum(dim=...))
    dims = (dim,) if type(dim) is int or isinstance(dim, numbers.Integral) else tuple(dim)
    n = max(ndim, 1)
    out = []
    for d in dims:
        d = int(d)
        if not -n <= d < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
            )
        d = d % n
        if ndim == 0:
            continue
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(sorted(out))


def reduced_shape(shape, axes, keepdim):
    if keepdim:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


class ReducePlan(NamedTuple):
    """How a device sees a reduction of an array of ``shape`` over ``axes``.

    ``perm`` (None when the reduced axes are already adjacent) moves the kept axes first and the
    reduced ones last, into a contiguous copy; the input, so permuted, is then viewed as ``arb``
    = (A, R, B) with R the product of the reduced sizes (``inv_perm`` undoes ``perm``).
    ``out_shape`` is the result's shape, ``keep_shape`` the same with the reduced axes kept as
    1 (the gradient's layout before it is broadcast back).  ``whole``: every axis reduced and
    not kept, the one-number reduction of a loss.
    """

    shape: tuple
    axes: tuple
    arb: tuple
    perm: tuple | None
    inv_perm: tuple | None
    out_shape: tuple
    keep_shape: tuple
    whole: bool


def reduce_plan(x_shape, axes, keepdim):
    shape = tuple(x_shape)
    perm = inv = None
    if not axes:
        arb = (math.prod(shape), 1, 1)
    elif axes[-1] - axes[0] + 1 != len(axes):
        keep = [i for i in range(len(shape)) if i not in axes]
        perm = tuple(keep + list(axes))
        inv = tuple(sorted(range(len(perm)), key=perm.__getitem__))
        arb = (math.prod(shape[i] for i in keep), math.prod(shape[i] for i in axes), 1)
    else:
        lo, hi = axes[0], axes[-1]
        arb = (math.prod(shape[:lo]), math.prod(shape[lo : hi + 1]), math.prod(shape[hi + 1 :]))
    return ReducePlan(
        shape,
        tuple(axes),
        arb,
        perm,
        inv,
        reduced_shape(shape, axes, keepdim),
        reduced_shape(shape, axes, True),
        len(axes) == len(shape) and not keepdim,
    )


def amax_plan(x_shape, axes, keepdim, sign):
    for a in axes:
        # an empty batch (0 rows, reduced over a non-empty dim) gives an empty result, as in
        # torch; only an empty reduced dim has no extreme to return
        if x_shape[a] == 0:
            raise IndexError(
                f"{'amax' if sign > 0 else 'amin'}(): Expected reduction dim {a} to have "
                f"non-zero size (shape {tuple(x_shape)})"
            )
    return reduce_plan(x_shape, axes, keepdim)


def max_dim_plan(x_shape, axis, keepdim, sign):
    if x_shape[axis] == 0:
        raise IndexError(
            f"{'max' if sign > 0 else 'min'}(): Expected reduction dim {axis} to have non-zero "
            f"size (shape {tuple(x_shape)})"
        )
    return reduce_plan(x_shape, (axis,), keepdim)


def max_dim_back_plan(x_shape, axis):
    return reduce_plan(x_shape, (axis,), True)


def max_all_plan(x_shape):
    if math.prod(x_shape) == 0:
        raise RuntimeError("max(): expected a non-empty tensor; use max(dim=...) on an empty one")
    return reduce_plan(x_shape, tuple(range(len(x_shape))), False)


register(
    Op(
        "amax",
        ("x",),
        Kernel(args=("x", "sign", "plan"), name="amax_forward", plan=amax_plan),
        {"x": Kernel(args=("grad", "x", "out", "plan"), name="amax_backward", plan=reduce_plan)},
        attrs=("axes", "keepdim", "sign"),
        promote=None,
        half="float32",
    )
)
register(
    Op(
        "sum",
        ("x",),
        Kernel(args=("x", "plan"), name="sum_forward", plan=reduce_plan),
        {"x": Kernel(args=("grad", "plan"), name="sum_backward", plan=reduce_plan)},
        attrs=("axes", "keepdim"),
        promote=None,
        half="float32",
    )
)
register(
    Op(
        "mean",
        ("x",),
        Kernel(args=("x", "plan"), name="mean_forward", plan=reduce_plan),
        {"x": Kernel(args=("grad", "plan"), name="mean_backward", plan=reduce_plan)},
        attrs=("axes", "keepdim"),
        promote=None,
        half="float32",
    )
)
register(
    Op(
        "max_dim",
        ("x",),
        Kernel(args=("x", "sign", "plan"), name="max_dim_forward", plan=max_dim_plan),
        {
            "x": Kernel(
                args=("grad", "indices", "plan"), name="max_dim_backward", plan=max_dim_back_plan
            )
        },
        attrs=("axis", "keepdim", "sign"),
        outputs=("out", "indices"),
        promote=None,
        half="float32",
    )
)
register(
    Op(
        "max_all",
        ("x",),
        Kernel(args=("x", "sign", "plan"), name="max_all_forward", plan=max_all_plan),
        {"x": Kernel(args=("grad", "x", "out"), name="max_all_backward")},
        attrs=("sign",),
        promote=None,
        half="float32",
    )
)

# ---- var, std, norm: torch's backward formulas ---------------------------------------------
# Built as composites (sqrt(sum(x * x)), sqrt(var)) their gradients were NaN where torch's are
# 0: sqrt's rule divides by the result, so a zero vector or a constant tensor gave 0 / 0.  torch
# masks those points (derivatives.yaml: norm_backward, std_backward, var_backward); so do the
# kernels.  Sums accumulate in float64, like the other reductions here.


class MomentsPlan(NamedTuple):
    """var/std over ``axes``: ``n`` elements per result, ``dof`` = n - correction (may be
    <= 0), ``denom`` = max(dof, 0); ``full``: no dim was given (torch's rule differs there
    when there is no degree of freedom)."""

    axes: tuple
    keepdim: bool
    n: int
    dof: float
    denom: float
    keep_shape: tuple
    full: bool


def moments_plan(x_shape, axes, keepdim, correction, full):
    n = math.prod(x_shape[a] for a in axes)
    dof = n - correction
    return MomentsPlan(
        tuple(axes), keepdim, n, dof, max(dof, 0), reduced_shape(x_shape, axes, True), full
    )


class NormPlan(NamedTuple):
    axes: tuple
    keepdim: bool
    p: float
    keep_shape: tuple


def norm_plan(x_shape, axes, keepdim, p):
    if math.isinf(p):
        for a in axes:
            if x_shape[a] == 0:
                raise RuntimeError(
                    f"linalg.vector_norm cannot compute the {p} norm on dimension {a} of "
                    f"shape {tuple(x_shape)}: it is empty and the operation has no identity"
                )
    return NormPlan(tuple(axes), keepdim, p, reduced_shape(x_shape, axes, True))


for _name, _reads in (("var", ("x",)), ("std", ("x", "out"))):
    register(
        Op(
            _name,
            ("x",),
            Kernel(args=("x", "plan"), name=f"{_name}_forward", plan=moments_plan),
            {
                "x": Kernel(
                    args=("grad", *_reads, "plan"), name=f"{_name}_backward", plan=moments_plan
                )
            },
            # full: no dim given, where torch's rule differs when there is no degree of freedom
            attrs=("axes", "keepdim", "correction", "full"),
            promote=None,
        )
    )
register(
    Op(
        "norm",
        ("x",),
        Kernel(args=("x", "plan"), name="norm_forward", plan=norm_plan),
        {"x": Kernel(args=("grad", "x", "out", "plan"), name="norm_backward", plan=norm_plan)},
        attrs=("axes", "keepdim", "p"),
        promote=None,
    )
)
