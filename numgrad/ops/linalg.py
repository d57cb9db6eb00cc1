"""matmul (1-D, 2-D, batched with broadcasting) and the fused ``linear`` op: declarations and
the matmul plans.

``linear`` is one op rather than transpose + matmul + add so a Linear layer costs one dispatch
and one tape entry, as torch's addmm does.  It has no plan: its only shape arithmetic is
flattening the leading dims of ``x`` into rows, one reshape in the device callable, cheaper
than a plan lookup on the hot path of every layer.  Devices implement the kernels
(``devices/cpu/linalg.py``: BLAS through Numba's ``@``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .registry import Kernel, Op, register


def broadcast_shapes(a, b):
    """numpy's broadcast of two shapes; ValueError when they do not broadcast."""
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"shapes {a} and {b} cannot be broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)


def check_matmul(a_shape, b_shape, name="matmul"):
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise RuntimeError(
            f"{name}: both arguments need at least 1 dimension, got shapes {a_shape} and {b_shape}"
        )
    k1 = a_shape[-1]
    k2 = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if k1 != k2:
        raise RuntimeError(
            f"{name}: shapes {a_shape} and {b_shape} cannot be multiplied "
            f"(inner dimensions {k1} and {k2} differ)"
        )
    try:
        broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise RuntimeError(
            f"{name}: batch dimensions of {a_shape} and {b_shape} cannot be broadcast"
        ) from None


class MatmulPlan(NamedTuple):
    """``a @ b`` as matrix products.  A 1-D ``a`` is promoted to a row (1, k), a 1-D ``b`` to
    a column (k, 1) (``a_mat``/``b_mat``, None when the operand needs no reshape), and the
    promoted dims are dropped from the result (``out_shape``; ``squeeze`` says a reshape is
    needed).  ``batched``: some operand has more than 2 dims, so both are broadcast to
    ``batch + matrix`` (``a_full``/``b_full``) and flattened to (B, m, k) / (B, k, n)
    (``a_flat``/``b_flat``) for one batched product."""

    batched: bool
    a_mat: tuple | None
    b_mat: tuple | None
    a_full: tuple
    b_full: tuple
    a_flat: tuple
    b_flat: tuple
    out_shape: tuple
    squeeze: bool


def matmul_plan(a_shape, b_shape):
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    check_matmul(a_shape, b_shape)
    a2 = (1,) + a_shape if len(a_shape) == 1 else a_shape
    b2 = b_shape + (1,) if len(b_shape) == 1 else b_shape
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a_shape) == 1:
        out = out[:-2] + out[-1:]
    if len(b_shape) == 1:
        out = out[:-1]
    nb = math.prod(batch)
    return MatmulPlan(
        batched=len(a2) > 2 or len(b2) > 2,
        a_mat=a2 if len(a_shape) == 1 else None,
        b_mat=b2 if len(b_shape) == 1 else None,
        a_full=batch + a2[-2:],
        b_full=batch + b2[-2:],
        a_flat=(nb,) + a2[-2:],
        b_flat=(nb,) + b2[-2:],
        out_shape=out,
        squeeze=len(a_shape) == 1 or len(b_shape) == 1,
    )


class MatmulGradPlan(NamedTuple):
    """The gradient of one matmul operand: ``grad`` put back in the promoted matrix layout
    (``grad_mat``, None when no operand was promoted from 1-D), multiplied by the other
    operand's matrix (``other_mat``, None when it needs no reshape) transposed on its last two
    dims; ``inner`` plans that product when it is batched (None: one 2-D product).
    ``out_shape`` drops a promoted dim again (None: keep the product's shape; the tape sums
    broadcast batch dims away)."""

    grad_mat: tuple | None
    other_mat: tuple | None
    inner: MatmulPlan | None
    out_shape: tuple | None


def _grad_matrix(a_shape, b_shape):
    """The forward result's shape in the 2-D/3-D layout the forward computed in."""
    out = matmul_plan(a_shape, b_shape).out_shape
    if len(a_shape) == 1 and len(b_shape) == 1:
        return (1, 1)
    if len(a_shape) == 1:
        return out[:-1] + (1, out[-1])
    if len(b_shape) == 1:
        return out + (1,)
    return out


def _grad_plan(g, other_mat, inner, out_shape, promoted):
    # grad needs a reshape only when an operand was promoted from 1-D
    return MatmulGradPlan(g if promoted else None, other_mat, inner, out_shape)


def _transposed(shape):
    return shape[:-2] + (shape[-1], shape[-2])


def matmul_da_plan(a_shape, b_shape):
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    g = _grad_matrix(a_shape, b_shape)
    b2 = b_shape + (1,) if len(b_shape) == 1 else b_shape
    bt = _transposed(b2)
    inner = None if len(g) == 2 and len(bt) == 2 else matmul_plan(g, bt)
    res = inner.out_shape if inner is not None else (g[0], bt[1])
    out = res[:-2] + res[-1:] if len(a_shape) == 1 else None
    promoted = len(a_shape) == 1 or len(b_shape) == 1
    return _grad_plan(g, b2 if len(b_shape) == 1 else None, inner, out, promoted)


def matmul_db_plan(a_shape, b_shape):
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    g = _grad_matrix(a_shape, b_shape)
    a2 = (1,) + a_shape if len(a_shape) == 1 else a_shape
    at = _transposed(a2)
    inner = None if len(g) == 2 and len(at) == 2 else matmul_plan(at, g)
    res = inner.out_shape if inner is not None else (at[0], g[1])
    out = res[:-1] if len(b_shape) == 1 else None
    promoted = len(a_shape) == 1 or len(b_shape) == 1
    return _grad_plan(g, a2 if len(a_shape) == 1 else None, inner, out, promoted)


register(
    Op(
        "matmul",
        ("a", "b"),
        Kernel(args=("a", "b", "plan"), name="matmul_forward", plan=matmul_plan),
        {
            "a": Kernel(args=("grad", "b", "plan"), name="matmul_da", plan=matmul_da_plan),
            "b": Kernel(args=("grad", "a", "plan"), name="matmul_db", plan=matmul_db_plan),
        },
        promote="same",
        half="float32",
    )
)
register(
    Op(
        "linear",
        ("x", "weight", "bias"),
        Kernel(args=("x", "weight", "bias"), name="linear_forward"),
        {
            "x": Kernel(args=("grad", "weight", "x_shape"), name="linear_dx"),
            "weight": Kernel(args=("grad", "x"), name="linear_dw"),
            "bias": Kernel(args=("grad",), name="linear_db"),
        },
        promote="same",
        half="float32",
    )
)
