"""matmul (1-D, 2-D, batched with broadcasting) and the fused ``linear`` op.

Kernels call BLAS through Numba's ``@`` (needs scipy).  ``linear`` is one op rather than
transpose + matmul + add so a Linear layer costs one dispatch and one tape entry, as torch's
addmm does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .registry import Kernel, Op, register

_JIT = {"cache": True, "error_model": "numpy"}


@njit(**_JIT)
def mm_kernel(a, b):
    return a @ b


@njit(**_JIT)
def mm_int_kernel(a, b):
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=a.dtype)
    for i in range(m):
        for p in range(k):
            v = a[i, p]
            for j in range(n):
                out[i, j] += v * b[p, j]
    return out


@njit(**_JIT)
def bmm_kernel(a, b):
    nb, m, _ = a.shape
    n = b.shape[2]
    out = np.empty((nb, m, n), dtype=a.dtype)
    for i in range(nb):
        out[i] = a[i] @ b[i]
    return out


@njit(**_JIT)
def linear_kernel(x, w, b):
    out = x @ w.T
    m, n = out.shape
    for i in range(m):
        for j in range(n):
            out[i, j] += b[j]
    return out


@njit(**_JIT)
def linear_nobias_kernel(x, w):
    return x @ w.T


@njit(**_JIT)
def colsum_kernel(g):
    out = np.zeros(g.shape[1], dtype=g.dtype)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[j] += g[i, j]
    return out


def _mm(a, b):
    if a.dtype.kind == "f":
        return mm_kernel(a, b)
    return mm_int_kernel(a.astype(np.int64), b.astype(np.int64)).astype(a.dtype)


def _bmm(a, b):
    if a.dtype.kind != "f":
        return np.stack([_mm(x, y) for x, y in zip(a, b)]) if len(a) else np.matmul(a, b)
    return bmm_kernel(np.ascontiguousarray(a), np.ascontiguousarray(b))


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
        np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise RuntimeError(
            f"{name}: batch dimensions of {a_shape} and {b_shape} cannot be broadcast"
        ) from None


def matmul_forward(a, b):
    if a.ndim <= 2 and b.ndim <= 2:
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        out = _mm(a2, b2)
        if a.ndim == 1 and b.ndim == 1:
            return out.reshape(())
        if a.ndim == 1:
            return out.reshape(-1)
        if b.ndim == 1:
            return out.reshape(-1)
        return out
    a3 = a.reshape(1, -1) if a.ndim == 1 else a
    b3 = b.reshape(-1, 1) if b.ndim == 1 else b
    batch = np.broadcast_shapes(a3.shape[:-2], b3.shape[:-2])
    ab = np.broadcast_to(a3, batch + a3.shape[-2:]).reshape(-1, *a3.shape[-2:])
    bb = np.broadcast_to(b3, batch + b3.shape[-2:]).reshape(-1, *b3.shape[-2:])
    out = _bmm(ab, bb).reshape(batch + (a3.shape[-2], b3.shape[-1]))
    if a.ndim == 1:
        out = out.reshape(out.shape[:-2] + out.shape[-1:])
    elif b.ndim == 1:
        out = out.reshape(out.shape[:-1])
    return out


def _as_matrix_grad(grad, a_shape, b_shape):
    """Put ``grad`` back into the 2-D/3-D layout the forward computed in."""
    g = grad
    if len(a_shape) == 1 and len(b_shape) == 1:
        return g.reshape(1, 1)
    if len(a_shape) == 1:
        return g.reshape(g.shape[:-1] + (1, g.shape[-1]))
    if len(b_shape) == 1:
        return g.reshape(g.shape + (1,))
    return g


def matmul_da(grad, b, a_shape):
    g = _as_matrix_grad(grad, a_shape, b.shape)
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    bt = np.swapaxes(b2, -1, -2)
    if g.ndim == 2 and bt.ndim == 2:
        ga = _mm(np.ascontiguousarray(g), bt)
    else:
        ga = matmul_forward(g, bt)
    if len(a_shape) == 1:
        ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
    return ga  # the tape sums broadcast batch dims away


def matmul_db(grad, a, b_shape):
    g = _as_matrix_grad(grad, a.shape, b_shape)
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    at = np.swapaxes(a2, -1, -2)
    if g.ndim == 2 and at.ndim == 2:
        gb = _mm(at, np.ascontiguousarray(g))
    else:
        gb = matmul_forward(at, g)
    if len(b_shape) == 1:
        gb = gb.reshape(gb.shape[:-1])
    return gb


def linear_forward(x, weight, bias):
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    if bias is None:
        out = linear_nobias_kernel(x2, weight)
    else:
        out = linear_kernel(x2, weight, bias)
    if x.ndim != 2:
        out = out.reshape(x.shape[:-1] + (weight.shape[0],))
    return out


def linear_dx(grad, weight, x_shape):
    g2 = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
    return _mm(g2, weight).reshape(x_shape)


def linear_dw(grad, x):
    g2 = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    return _mm(g2.T, x2)


def linear_db(grad):
    return colsum_kernel(np.ascontiguousarray(grad).reshape(-1, grad.shape[-1]))


register(
    Op(
        "matmul",
        ("a", "b"),
        Kernel(cpu=matmul_forward),
        {"a": Kernel(cpu=matmul_da), "b": Kernel(cpu=matmul_db)},
        promote="same",
        half="float32",
    )
)
register(
    Op(
        "linear",
        ("x", "weight", "bias"),
        Kernel(cpu=linear_forward),
        {
            "x": Kernel(cpu=linear_dx),
            "weight": Kernel(cpu=linear_dw),
            "bias": Kernel(cpu=linear_db),
        },
        promote="same",
        half="float32",
    )
)
