"""CPU kernels for matmul and linear (``ops/linalg.py``): BLAS through Numba's ``@`` (needs
scipy); integer products run a plain triple loop in int64, as numpy's matmul would."""

from __future__ import annotations

import numpy as np
from numba import njit

from ...ops.registry import impl

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


def matmul_forward(a, b, plan):
    if plan.a_mat is not None:
        a = a.reshape(plan.a_mat)
    if plan.b_mat is not None:
        b = b.reshape(plan.b_mat)
    if plan.batched:
        a = np.broadcast_to(a, plan.a_full).reshape(plan.a_flat)
        b = np.broadcast_to(b, plan.b_full).reshape(plan.b_flat)
        return _bmm(a, b).reshape(plan.out_shape)
    out = _mm(a, b)
    return out.reshape(plan.out_shape) if plan.squeeze else out


def matmul_da(grad, b, plan):
    g = grad if plan.grad_mat is None else grad.reshape(plan.grad_mat)
    if plan.other_mat is not None:
        b = b.reshape(plan.other_mat)
    bt = np.swapaxes(b, -1, -2)
    if plan.inner is None:
        ga = _mm(np.ascontiguousarray(g), bt)
    else:
        ga = matmul_forward(g, bt, plan.inner)
    return ga if plan.out_shape is None else ga.reshape(plan.out_shape)


def matmul_db(grad, a, plan):
    g = grad if plan.grad_mat is None else grad.reshape(plan.grad_mat)
    if plan.other_mat is not None:
        a = a.reshape(plan.other_mat)
    at = np.swapaxes(a, -1, -2)
    if plan.inner is None:
        gb = _mm(at, np.ascontiguousarray(g))
    else:
        gb = matmul_forward(at, g, plan.inner)
    return gb if plan.out_shape is None else gb.reshape(plan.out_shape)


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


impl("matmul", "cpu", forward=matmul_forward, backward={"a": matmul_da, "b": matmul_db})
impl(
    "linear",
    "cpu",
    forward=linear_forward,
    backward={"x": linear_dx, "weight": linear_dw, "bias": linear_db},
)
