"""Tensor creation functions (torch names and dtype defaults)."""

from __future__ import annotations

import numpy as np

from . import dtypes as D
from .random import generator
from .tensor import Tensor, _wrap, check_device


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data``.

    Python floats become float32, python ints int64, bools bool; numpy arrays keep their dtype.
    """
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and (dtype is None or D.as_dtype(dtype) is data.dtype):
        return data
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(arr):
    """A tensor sharing memory with the numpy array ``arr``."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    D.from_np(arr.dtype)
    return _wrap(arr)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise RuntimeError(f"sizes must be non-negative integers, got {size}")
    return tuple(int(s) for s in size)


def _make(arr, dtype, device, requires_grad):
    check_device(device)
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dt(dtype):
    return D.DEFAULT_FLOAT.np if dtype is None else D.as_dtype(dtype).np


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros(_size(size), _dt(dtype)), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.ones(_size(size), _dt(dtype)), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.empty(_size(size), _dt(dtype)), dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = (
            D.bool_
            if isinstance(fill_value, bool)
            else D.int64
            if isinstance(fill_value, int)
            else D.DEFAULT_FLOAT
        )
    return _make(np.full(_size((size,)), fill_value, _dt(dtype)), dtype, device, requires_grad)


def _like(t, dtype):
    return t._data.dtype if dtype is None else D.as_dtype(dtype).np


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros(t._data.shape, _like(t, dtype)), dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.ones(t._data.shape, _like(t, dtype)), dtype, device, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.empty(t._data.shape, _like(t, dtype)), dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return _make(np.full(t._data.shape, fill_value, _like(t, dtype)), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = D.DEFAULT_FLOAT if is_float else D.int64
    return _make(np.arange(start, end, step, dtype=_dt(dtype)), dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _make(np.linspace(start, end, steps, dtype=_dt(dtype)), dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _make(np.eye(n, m, dtype=_dt(dtype)), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    arr = generator().standard_normal(_size(size)).astype(_dt(dtype))
    return _make(arr, dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    arr = generator().random(_size(size)).astype(_dt(dtype))
    return _make(arr, dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    arr = (
        generator()
        .integers(low, high, _size((size,)) if not isinstance(size, tuple) else size)
        .astype(_dt(dtype) if dtype else np.int64)
    )
    return _make(arr, dtype, device, False)


def randperm(n, dtype=None, device=None):
    return _make(generator().permutation(n).astype(np.int64), dtype, device, False)


def randn_like(t, dtype=None):
    return randn(*t.shape, dtype=dtype or t.dtype)


def rand_like(t, dtype=None):
    return rand(*t.shape, dtype=dtype or t.dtype)
