"""Index and ordering ops: gather, scatter, scatter_add, index_select, cumsum, cumprod,
cummax/cummin, sort, prod, roll, flip, tril/triu, repeat, diagonal.  Declarations and plans only;
each device implements the compute (``devices/cpu/index.py``).

Ops that read an index take it as a tensor *input* whose backward rule is ``None``: the tape
then saves it like any input a rule reads and version-checks it, so an in-place change of the
index between forward and backward raises torch's error.  The public functions
(``numgrad/functional.py``) check the index values against the sizes before any kernel runs
(Numba does not bounds-check); the backward kernels check again, as the user may change an index
through ``.data``.

Most kernels work on an ``(A, R, B)`` view of their arrays along one axis (``axis_plan``): the
axes before it, the axis itself and the axes after it, like the reductions.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .reduce import reduce_plan
from .registry import Kernel, Op, register


def _along(shape, axis):
    shape = tuple(shape)
    if not shape:
        return (1, 1, 1)
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


class AxisPlan(NamedTuple):
    """One axis of an array of ``shape``: ``arb`` is its ``(A, R, B)`` view."""

    shape: tuple
    axis: int
    arb: tuple


def axis_plan(x_shape, axis):
    return AxisPlan(tuple(x_shape), axis, _along(x_shape, axis))


class GatherPlan(NamedTuple):
    """``gather``/``scatter`` along ``axis``.  The index may be smaller than ``x`` (and than
    ``src``) in every dim; ``region`` (None when it covers them) is the slice of ``x`` outside
    ``axis`` that the index addresses, and ``src_region`` the part of ``src`` it reads."""

    x_shape: tuple
    index_shape: tuple
    axis: int
    region: tuple | None
    src_shape: tuple | None
    src_region: tuple | None


def _dims_msg(shape):
    return list(shape)


def gather_plan(x_shape, index_shape, axis):
    x_shape, index_shape = tuple(x_shape), tuple(index_shape)
    if len(index_shape) != len(x_shape) and not (len(index_shape) <= 1 and len(x_shape) <= 1):
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as input tensor (index "
            f"shape {index_shape}, input shape {x_shape})"
        )
    for d, (i, s) in enumerate(zip(index_shape, x_shape)):
        if d != axis and i > s:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index {_dims_msg(index_shape)} "
                f"to be no larger than self {_dims_msg(x_shape)} apart from dimension {axis}"
            )
    region = None
    if any(i != s for d, (i, s) in enumerate(zip(index_shape, x_shape)) if d != axis):
        region = tuple(slice(None) if d == axis else slice(0, i) for d, i in enumerate(index_shape))
    return GatherPlan(x_shape, index_shape, axis, region, None, None)


def scatter_plan(x_shape, index_shape, src_shape, axis):
    x_shape, index_shape, src_shape = tuple(x_shape), tuple(index_shape), tuple(src_shape)
    n = len(x_shape)
    if len(index_shape) != n and not (len(index_shape) <= 1 and n <= 1):
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as self tensor (index shape "
            f"{index_shape}, self shape {x_shape})"
        )
    if len(src_shape) != len(index_shape) and not (len(src_shape) <= 1 and len(index_shape) <= 1):
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as src tensor (index shape "
            f"{index_shape}, src shape {src_shape})"
        )
    bad = any(i > s for d, (i, s) in enumerate(zip(index_shape, x_shape)) if d != axis)
    if bad or any(i > s for i, s in zip(index_shape, src_shape)):
        raise RuntimeError(
            f"Expected index {_dims_msg(index_shape)} to be no larger than self "
            f"{_dims_msg(x_shape)} apart from dimension {axis} and to be no larger size than "
            f"src {_dims_msg(src_shape)}"
        )
    plan = gather_plan(x_shape, index_shape, axis)
    src_region = None
    if src_shape != index_shape and len(src_shape) == len(index_shape):
        src_region = tuple(slice(0, i) for i in index_shape)
    return plan._replace(src_shape=src_shape, src_region=src_region)


def _gather_op(name, inputs, backward, plan):
    register(
        Op(
            name,
            inputs,
            Kernel(args=(*inputs, "plan"), name=f"{name}_forward", plan=plan),
            backward,
            attrs=("axis",),
            promote=None,
        )
    )


_gather_op(
    "gather",
    ("x", "index"),
    {
        "x": Kernel(args=("grad", "index", "plan"), name="gather_backward", plan=gather_plan),
        "index": None,
    },
    gather_plan,
)
_gather_op(
    "scatter",
    ("x", "index", "src"),
    {
        "x": Kernel(args=("grad", "index", "plan"), name="scatter_dx", plan=scatter_plan),
        "index": None,
        "src": Kernel(args=("grad", "index", "plan"), name="scatter_dsrc", plan=scatter_plan),
    },
    scatter_plan,
)
_gather_op(
    "scatter_add",
    ("x", "index", "src"),
    {
        "x": Kernel(args=("grad",), name="scatter_add_dx", fresh=False),
        "index": None,
        "src": Kernel(args=("grad", "index", "plan"), name="scatter_dsrc", plan=scatter_plan),
    },
    scatter_plan,
)


def index_select_plan(x_shape, index_shape, axis):
    if len(index_shape) > 1:
        raise IndexError(
            f"index_select(): Index is supposed to be a vector (index shape {tuple(index_shape)})"
        )
    return AxisPlan(tuple(x_shape), axis, _along(x_shape, axis))


register(
    Op(
        "index_select",
        ("x", "index"),
        Kernel(args=("x", "index", "plan"), name="index_select_forward", plan=index_select_plan),
        {
            "x": Kernel(
                args=("grad", "index", "plan"), name="index_select_backward", plan=index_select_plan
            ),
            "index": None,
        },
        attrs=("axis",),
        promote=None,
    )
)

# ---- scans: cumsum, cumprod, cummax/cummin ---------------------------------------------------
# torch accumulates float32 scans in float64 on the CPU (acc_type); the kernels do too.

register(
    Op(
        "cumsum",
        ("x",),
        Kernel(args=("x", "plan"), name="cumsum_forward", plan=axis_plan),
        {"x": Kernel(args=("grad", "plan"), name="cumsum_backward", plan=axis_plan)},
        attrs=("axis",),
        promote=None,
        half="float32",
    )
)
register(
    Op(
        "cumprod",
        ("x",),
        Kernel(args=("x", "plan"), name="cumprod_forward", plan=axis_plan),
        # torch's rule (cumprod_backward): exact where the input holds zeros, not grad*out/x
        {"x": Kernel(args=("grad", "x", "out", "plan"), name="cumprod_backward", plan=axis_plan)},
        attrs=("axis",),
        promote=None,
        half="float32",
    )
)
# cummax and cummin: one kernel (``sign`` +1 or -1), two rows so grad_fn names them as torch
for _name in ("cummax", "cummin"):
    register(
        Op(
            _name,
            ("x",),
            Kernel(args=("x", "sign", "plan"), name="cummax_forward", plan=axis_plan),
            # the gradient of each output goes to the element it copied; repeats accumulate
            {"x": Kernel(args=("grad", "indices", "plan"), name="cummax_backward", plan=axis_plan)},
            attrs=("axis", "sign"),
            outputs=("out", "indices"),
            promote=None,
            half="float32",
        )
    )

# ---- sort ------------------------------------------------------------------------------------

register(
    Op(
        "sort",
        ("x",),
        Kernel(args=("x", "descending", "plan"), name="sort_forward", plan=axis_plan),
        # a permutation along the axis: the gradient goes back to where each value came from
        {"x": Kernel(args=("grad", "indices", "plan"), name="sort_backward", plan=axis_plan)},
        attrs=("axis", "descending"),
        outputs=("out", "indices"),
        promote=None,
    )
)

# ---- prod -------------------------------------------------------------------------------------
# torch's rule (prod_backward): grad * out / x where no element of a product is 0; where one is,
# that element gets the product of the others and the rest 0; where two are, all get 0.

register(
    Op(
        "prod",
        ("x",),
        Kernel(args=("x", "plan"), name="prod_forward", plan=reduce_plan),
        {"x": Kernel(args=("grad", "x", "out", "plan"), name="prod_backward", plan=reduce_plan)},
        attrs=("axes", "keepdim"),
        promote=None,
        half="float32",
    )
)

# ---- data movement: roll, flip, tril/triu, repeat, diagonal ----------------------------------

register(
    Op(
        "roll",
        ("x",),
        Kernel(args=("x", "shifts", "dims"), name="roll_forward"),
        {"x": Kernel(args=("grad", "shifts", "dims"), name="roll_backward")},
        attrs=("shifts", "dims"),
        promote=None,
    )
)
register(
    Op(
        "flip",
        ("x",),
        Kernel(args=("x", "dims"), name="flip_forward"),
        {"x": Kernel(args=("grad", "dims"), name="flip_forward")},
        attrs=("dims",),
        promote=None,
    )
)
for _name, _upper in (("tril", False), ("triu", True)):
    register(
        Op(
            _name,
            ("x",),
            Kernel(args=("x", "diagonal", "upper"), name="tri_forward"),
            {"x": Kernel(args=("grad", "diagonal", "upper"), name="tri_forward")},
            attrs=("diagonal", "upper"),
            promote=None,
        )
    )


class RepeatPlan(NamedTuple):
    """``repeat``: ``x`` viewed as ``padded`` (leading 1s) is tiled ``repeats`` times; the
    gradient, viewed as ``split`` = (r0, s0, r1, s1, ...), sums over the even axes."""

    padded: tuple
    repeats: tuple
    split: tuple
    sum_axes: tuple
    x_shape: tuple


def repeat_plan(x_shape, repeats):
    x_shape = tuple(x_shape)
    if len(repeats) < len(x_shape):
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
            f"tensor (repeats {tuple(repeats)}, shape {x_shape})"
        )
    for r in repeats:
        if r < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {r}: repeats {list(repeats)}"
            )
    padded = (1,) * (len(repeats) - len(x_shape)) + x_shape
    split = tuple(v for r, s in zip(repeats, padded) for v in (r, s))
    return RepeatPlan(padded, tuple(repeats), split, tuple(range(0, len(split), 2)), x_shape)


register(
    Op(
        "repeat",
        ("x",),
        Kernel(args=("x", "plan"), name="repeat_forward", plan=repeat_plan),
        {"x": Kernel(args=("grad", "plan"), name="repeat_backward", plan=repeat_plan)},
        attrs=("repeats",),
        promote=None,
    )
)
register(
    Op(
        "diagonal",
        ("x",),
        # a copy (torch returns a view: writes into it do not reach x here)
        Kernel(args=("x", "offset", "dim1", "dim2"), name="diagonal_forward"),
        {"x": Kernel(args=("grad", "x_shape", "offset", "dim1", "dim2"), name="diagonal_backward")},
        attrs=("offset", "dim1", "dim2"),
        promote=None,
    )
)
