"""cuBLAS GEMM for the CUDA device's float32/float64 products, through ``nvmath-python``'s
bindings when it is installed (an optional dependency; without it, or in the simulator, every
product runs ``linalg.py``'s tiled kernel).

cuBLAS is column-major and numgrad's arrays are row-major, so ``C = A @ B`` runs as the
column-major ``C^T = B^T A^T``: a row-major matrix is its transpose in column-major order, so
no operand is copied.  A view whose rows or columns are contiguous maps to cuBLAS's
``N``/``T`` flag with its other stride as the leading dimension; anything else (both strides
> 1, a stride-0 broadcast row or column) falls back to the tiled kernel.

Settings: one handle per process, on the default stream numgrad's kernels run on (so no sync
is needed between them), scalars read from the host, and ``CUBLAS_DEFAULT_MATH``: no TF32 and
no reduced-precision reductions, so float32 products are full float32 GEMMs like the CPU's.
``NUMGRAD_CUDA_CUBLAS=0`` turns this path off (to time or test the tiled kernel on a GPU).
"""

from __future__ import annotations

import os

import numpy as np

from . import kernels, runtime
from .loops import broadcast_view

_INT_MAX = 2**31 - 1
_STATE: dict = {}  # "lib": the bindings module or None, "handle": the cuBLAS handle
# alpha and beta, read from host memory at each call (pointer mode HOST); kept alive here
_ONE = {np.dtype(np.float32): np.ones(1, np.float32), np.dtype(np.float64): np.ones(1, np.float64)}
_ZERO = {
    np.dtype(np.float32): np.zeros(1, np.float32),
    np.dtype(np.float64): np.zeros(1, np.float64),
}


def _stream_handle():
    """The raw handle of Numba's default stream (0: the legacy default stream)."""
    from numba import cuda

    h = cuda.default_stream().handle
    value = getattr(h, "value", None)
    if value is None:
        try:
            value = int(h)
        except TypeError:
            value = 0
    return value or 0


def _library():
    """The cuBLAS bindings with a configured handle, or None where they cannot be used."""
    if "lib" in _STATE:
        return _STATE["lib"]
    lib = None
    if (
        not runtime.SIM
        and not runtime.COMPILE_ONLY
        and os.environ.get("NUMGRAD_CUDA_CUBLAS") != "0"
    ):
        try:
            from nvmath.bindings import cublas as lib

            handle = lib.create()
            lib.set_stream(handle, _stream_handle())
            lib.set_pointer_mode(handle, lib.PointerMode.HOST)
            lib.set_math_mode(handle, lib.Math.DEFAULT_MATH)
            _STATE["handle"] = handle
        except Exception:  # no nvmath, no libcublas, no driver: the tiled kernel runs
            lib = None
    _STATE["lib"] = lib
    return lib


def _layout(rows, cols, row_stride, col_stride, lib):
    """cuBLAS's (op, leading dimension) that reads the column-major transpose of a row-major
    ``rows x cols`` view with these element strides, or None when no flag fits."""
    # a size-1 dimension's stride is never used: pick one that fits
    if cols == 1 and row_stride >= 1:
        return lib.Operation.N, row_stride
    if rows == 1 and col_stride >= 1:
        return lib.Operation.T, col_stride
    if rows == 1 and cols == 1:
        return lib.Operation.N, 1
    if col_stride == 1 and row_stride >= max(1, cols):
        return lib.Operation.N, row_stride
    if row_stride == 1 and col_stride >= max(1, rows):
        return lib.Operation.T, col_stride
    return None


def _batch_stride(x4, itemsize):
    """The single element stride of a (nb1, nb2, ...) view's batch, or None."""
    nb1, nb2 = x4.shape[:2]
    s1, s2 = x4.strides[:2]
    if nb1 == 1:
        s = s2
    elif nb2 == 1:
        s = s1
    else:
        return None
    return s // itemsize if s >= 0 and s % itemsize == 0 else None


def _pointer(x):
    return x.__cuda_array_interface__["data"][0]


def gemm(out4, a4, b4, bias):
    """``out4 = a4 @ b4 (+ bias)`` with cuBLAS for 4-D views ``a4`` (nb1, nb2, m, k), ``b4``
    (nb1, nb2, k, n) and contiguous ``out4``; False (nothing written) where cuBLAS cannot run
    it: the one place the choice between cuBLAS and the tiled kernel is made."""
    lib = _library()
    dtype = out4.dtype
    if lib is None or dtype not in _ONE:
        return False
    nb1, nb2, m, k = a4.shape
    n = b4.shape[3]
    if k == 0 or max(m, n, k, nb1 * nb2) > _INT_MAX:
        return False
    size = dtype.itemsize
    strides = [s // size if s % size == 0 else -1 for s in a4.strides[2:] + b4.strides[2:]]
    if min(strides) < 0:
        return False
    la = _layout(m, k, strides[0], strides[1], lib)  # B' = a^T (k x m)
    lb = _layout(k, n, strides[2], strides[3], lib)  # A' = b^T (n x k)
    if la is None or lb is None or max(la[1], lb[1]) > _INT_MAX:
        return False
    nb = nb1 * nb2
    if nb > 1:
        sa, sb = _batch_stride(a4, size), _batch_stride(b4, size)
        if sa is None or sb is None:
            return False
    beta = _ZERO[dtype]
    if bias is not None:
        kernels.copy_into(out4, broadcast_view(bias, out4.shape))
        beta = _ONE[dtype]
    handle = _STATE["handle"]
    alpha = _ONE[dtype].ctypes.data
    args = (lb[0], la[0], n, m, k, alpha)
    if nb == 1:
        fn = lib.sgemm if size == 4 else lib.dgemm
        fn(
            handle,
            *args,
            _pointer(b4),
            lb[1],
            _pointer(a4),
            la[1],
            beta.ctypes.data,
            _pointer(out4),
            n,
        )
    else:
        fn = lib.sgemm_strided_batched if size == 4 else lib.dgemm_strided_batched
        fn(
            handle,
            *args,
            _pointer(b4),
            lb[1],
            sb,
            _pointer(a4),
            la[1],
            sa,
            beta.ctypes.data,
            _pointer(out4),
            n,
            m * n,
            nb,
        )
    return True
