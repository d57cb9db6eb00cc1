"""softmax, log_softmax and the negative log-likelihood: declarations and row plans.

Each device implements the row kernels (``devices/cpu/nn.py``).  softmax/log_softmax move
``dim`` last and run over contiguous rows (:func:`rows_plan`); ``log_softmax`` subtracts the
row max before ``exp`` (log-sum-exp), so logits of 1e4 are fine.  ``cross_entropy`` is
``log_softmax`` followed by ``nll``.  ``nll`` checks every target inside its kernels, forward
and backward, before it indexes with it and reports the first bad one.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .registry import Kernel, Op, register


class RowsPlan(NamedTuple):
    """An array of ``shape`` seen as ``n`` contiguous rows of ``c`` along ``dim``: when ``dim``
    is not last (``moved``) it is moved last, into ``moved_shape``, and moved back after."""

    dim: int
    moved: bool
    moved_shape: tuple
    n: int
    c: int


def rows_plan(x_shape, dim):
    shape = tuple(x_shape)
    if not shape:  # a 0-d tensor is one row of one element (torch: softmax of a scalar is 1)
        return RowsPlan(dim, False, (), 1, 1)
    moved = dim != len(shape) - 1
    if moved:
        shape = shape[:dim] + shape[dim + 1 :] + (shape[dim],)
    # explicit row count: reshape(-1, 0) is ambiguous, and (4, 0) inputs are valid
    return RowsPlan(dim, moved, shape, math.prod(shape[:-1]), shape[-1])


for _name in ("log_softmax", "softmax"):
    register(
        Op(
            _name,
            ("x",),
            Kernel(args=("x", "plan"), name=f"{_name}_kernel", plan=rows_plan),
            {
                "x": Kernel(
                    args=("grad", "out", "plan"), name=f"{_name}_backward_kernel", plan=rows_plan
                )
            },
            attrs=("dim",),
            promote="floating",  # torch refuses integers (softmax(x, dtype=...) converts)
            half="float32",
        )
    )

# ---- negative log-likelihood ----------------------------------------------------------------
# logp is (N, C, d1..) log-probabilities (or (C,) for one sample); target (N, d1..) int64;
# weight (C,) or None.  The kernels see (M, C) rows and (M,) targets.


class NllPlan(NamedTuple):
    """``logp`` of ``shape`` as ``n`` rows of ``c`` classes.  ``layout``: 1 (one sample, (C,)),
    2 ((N, C), the rows as they are) or 3 ((N, C, d1..): the class axis is moved last into
    ``moved_shape``).  ``mode``: 0 none, 1 sum, 2 mean (divided by the total weight of the
    non-ignored targets).  ``out_shape``: the per-sample losses' shape (reduction 'none')."""

    shape: tuple
    layout: int
    n: int
    c: int
    moved_shape: tuple
    mode: int
    out_shape: tuple


_MODES = {"none": 0, "sum": 1, "mean": 2}


def nll_plan(logp_shape, reduction):
    shape = tuple(logp_shape)
    if len(shape) == 1:
        return NllPlan(shape, 1, 1, shape[0], shape, _MODES[reduction], ())
    c = shape[1]
    samples = (shape[0],) + shape[2:]
    return NllPlan(
        shape,
        2 if len(shape) == 2 else 3,
        math.prod(samples),
        c,
        samples + (c,),
        _MODES[reduction],
        samples,
    )


register(
    Op(
        "nll",
        ("logp", "target", "weight"),
        Kernel(
            args=("logp", "target", "weight", "ignore_index", "plan"),
            name="nll_forward",
            plan=nll_plan,
        ),
        {
            "logp": Kernel(
                args=("grad", "target", "weight", "ignore_index", "plan"),
                name="nll_backward",
                plan=nll_plan,
            ),
            "target": None,
            "weight": None,
        },
        attrs=("ignore_index", "reduction"),
        promote=None,
        half="float32",
    )
)
