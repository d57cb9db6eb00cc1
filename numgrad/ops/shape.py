"""Shape and indexing ops: declarations and plans.

Forward kernels follow numpy's semantics for ``reshape``, ``broadcast_to``, ``transpose``,
indexing, ``concatenate`` and ``stack`` (on the CPU they are those numpy calls, mostly views:
``devices/cpu/shape.py``); the backward rules move the gradient back into the input's layout.
Plans: ``permute``'s inverse permutation, ``cat``'s split points, and ``getitem``'s index kind
(basic, rows of a 1-D integer array, or general) for its scatter-add backward.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from .elementwise import identity
from .registry import Kernel, Op, register

_back = Kernel(args=("grad", "x_shape"), name="reshape_back", fresh=False)

register(
    Op(
        "reshape",
        ("x",),
        Kernel(args=("x", "shape"), name="reshape"),
        {"x": _back},
        attrs=("shape",),
        promote=None,
    )
)
register(
    Op(
        "expand",
        ("x",),
        Kernel(args=("x", "shape"), name="broadcast_to"),
        {"x": identity},
        attrs=("shape",),
        promote=None,
    )
)


def inverse_perm(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


register(
    Op(
        "permute",
        ("x",),
        Kernel(args=("x", "perm"), name="transpose"),
        {"x": Kernel(args=("grad", "plan"), name="transpose_back", fresh=False, plan=inverse_perm)},
        attrs=("perm",),
        promote=None,
    )
)


def _is_basic(index):
    """Only ints, slices, None and Ellipsis: numpy and torch return a view."""
    items = index if isinstance(index, tuple) else (index,)
    # type(i) is int first: the ABC check numpy integers need is slower (functional.getitem
    # asks on every call)
    return all(
        i is None or i is Ellipsis or type(i) is int or isinstance(i, (slice, numbers.Integral))
        for i in items
    )


class IndexPlan(NamedTuple):
    """How ``getitem``'s backward scatters ``grad`` into zeros of ``shape``.  ``kind``:
    ``"basic"`` (a view: assign), ``"rows"`` (a 1-D integer array on the first axis: add
    rows of ``row`` elements, re-checking bounds) or ``"general"`` (a device's scatter-add)."""

    kind: str
    index: object
    shape: tuple
    row: int


def index_plan(x_shape, index):
    shape = tuple(x_shape)
    if _is_basic(index):
        return IndexPlan("basic", index, shape, 0)
    dtype = getattr(index, "dtype", None)
    if getattr(index, "ndim", None) == 1 and getattr(dtype, "kind", "") == "i" and shape:
        return IndexPlan("rows", index, shape, math.prod(shape[1:]))
    return IndexPlan("general", index, shape, 0)


register(
    Op(
        "getitem",
        ("x",),
        Kernel(args=("x", "index"), name="index"),
        # not cached: an index may hold arrays, and x[False] is not x[0] though they hash alike
        {
            "x": Kernel(
                args=("grad", "plan"), name="getitem_backward", plan=index_plan, cache_plan=False
            )
        },
        attrs=("index",),
        promote=None,
    )
)
register(
    Op(
        "setitem",
        ("x", "v"),
        Kernel(args=("x", "v", "index"), name="setitem_forward"),
        {
            "x": Kernel(args=("grad", "index"), name="setitem_dx"),
            "v": Kernel(args=("grad", "index"), name="setitem_dv", fresh=False),
        },
        attrs=("index",),
        promote=None,
    )
)


class SplitPlan(NamedTuple):
    """``cat``'s gradient split along ``dim`` at ``bounds`` (the inputs' running offsets)."""

    dim: int
    bounds: tuple


def split_plan(xs_shapes, dim):
    bounds = []
    total = 0
    for s in xs_shapes[:-1]:
        total += s[dim]
        bounds.append(total)
    return SplitPlan(dim, tuple(bounds))


register(
    Op(
        "cat",
        ("xs",),
        Kernel(args=("xs", "dim"), name="concatenate"),
        {"xs": Kernel(args=("grad", "plan"), name="cat_backward", fresh=False, plan=split_plan)},
        attrs=("dim",),
        variadic=True,
        promote=None,
    )
)
register(
    Op(
        "stack",
        ("xs",),
        Kernel(args=("xs", "dim"), name="stack"),
        {"xs": Kernel(args=("grad", "xs_shapes", "dim"), name="stack_backward", fresh=False)},
        attrs=("dim",),
        variadic=True,
        promote=None,
    )
)


# In-place ops on views rewrite the base's history through this op (see numgrad.inplace.rebase):
# ``region`` holds, shaped like the view, the flat indices of the base that the view covers.
register(
    Op(
        "view_scatter",
        ("base", "v"),
        Kernel(args=("base", "v", "region"), name="view_scatter_forward"),
        {
            "base": Kernel(args=("grad", "region"), name="view_scatter_dbase"),
            "v": Kernel(args=("grad", "region"), name="view_scatter_dv"),
        },
        attrs=("region",),
        promote=None,
    )
)
