"""The CUDA device's array API: what the tape and the autograd engine do to device arrays
(the names of ``devices/cpu/array.py``), with device kernels and no host round trip."""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ...ops.math import scalar
from ...ops.registry import ALL, register_device
from . import kernels, runtime
from .loops import broadcast_view, build_cuda


@scalar
def add_rule(x, y):
    return x + y


_add = []


def _adder():
    if not _add:
        _add.append(build_cuda(add_rule, "array_add", ALL, None, None, None))
    return _add[0]


class CudaArrays:
    """Device arrays (``runtime.ARRAY_TYPES``) behind the array API."""

    array_type = runtime.ARRAY_TYPES[0]

    @staticmethod
    def empty(shape, dtype):
        return runtime.empty(tuple(shape), np.dtype(dtype))

    @staticmethod
    def zeros(shape, dtype):
        return kernels.fill(runtime.empty(tuple(shape), np.dtype(dtype)), 0)

    @staticmethod
    def full(shape, value, dtype):
        return kernels.fill(runtime.empty(tuple(shape), np.dtype(dtype)), value)

    @staticmethod
    def asarray(x, dtype=None):
        """A device array from a kernel's result (a device array) or a python/numpy number."""
        if isinstance(x, runtime.ARRAY_TYPES):
            if dtype is None or np.dtype(dtype) == x.dtype:
                return x
            return CudaArrays.cast(x, dtype)
        return runtime.from_host(np.asarray(x, dtype=dtype))

    @staticmethod
    def copy(a):
        return kernels.copy_into(runtime.empty(a.shape, a.dtype), a)

    @staticmethod
    def cast(a, dtype):
        return kernels.copy_into(runtime.empty(a.shape, np.dtype(dtype)), a)

    @staticmethod
    def add(a, b):
        return _adder()(a, b)

    @staticmethod
    def accumulate(into, g):
        kernels.copy_into(into, broadcast_view(_adder()(into, g), into.shape))

    @staticmethod
    def sum_to_shape(g, shape):
        shape = tuple(shape)
        if g.shape == shape:
            return g
        g = kernels.contiguous(g)
        lead = g.ndim - len(shape)
        if lead > 0:
            r = math.prod(g.shape[:lead])
            rest = g.shape[lead:]
            g = kernels.sum_arb(g, 1, r, math.prod(rest)).reshape(rest)
        for axis, s in enumerate(shape):
            if s == 1 and g.shape[axis] != 1:
                a = math.prod(g.shape[:axis])
                b = math.prod(g.shape[axis + 1 :])
                kept = g.shape[:axis] + (1,) + g.shape[axis + 1 :]
                g = kernels.sum_arb(g, a, g.shape[axis], b).reshape(kept)
        if g.shape != shape:
            g = broadcast_view(g, shape)
        return g

    @staticmethod
    def assign(dst, src):
        """Copy ``src`` (a device array or a number) into ``dst``, broadcasting and casting."""
        if isinstance(src, runtime.ARRAY_TYPES):
            kernels.copy_into(dst, broadcast_view(src, dst.shape))
        elif isinstance(src, np.ndarray) and src.ndim:
            kernels.copy_into(dst, broadcast_view(runtime.from_host(src), dst.shape))
        else:
            kernels.fill(dst, np.asarray(src).item())

    @staticmethod
    def fill(dst, value):
        kernels.fill(dst, value)

    @staticmethod
    def writeable(a):
        """False for broadcast views (a stride-0 dimension of length > 1)."""
        return all(st != 0 or s <= 1 for s, st in zip(a.shape, a.strides))

    @staticmethod
    def shares_memory(a, b):
        return isinstance(b, runtime.ARRAY_TYPES) and runtime.base_key(a) == runtime.base_key(b)

    @staticmethod
    def errstate():
        """Device kernels raise no floating-point warnings: NaN and inf flow as in torch."""
        return contextlib.nullcontext()

    @staticmethod
    def from_host(a):
        return runtime.from_host(np.asarray(a))

    @staticmethod
    def to_host(a):
        return runtime.to_host(a)

    @staticmethod
    def setitem(dst, index, value):
        """``dst[index] = value`` in place (a device array, a host array or a number)."""
        from .shape import assign_index

        assign_index(dst, index, value)

    @staticmethod
    def is_contiguous(a):
        return a.is_c_contiguous()

    @staticmethod
    def contiguous(a):
        return kernels.contiguous(a)


register_device("cuda", array=CudaArrays)
