"""The array API of numpy-backed devices: everything the tape and the autograd engine do to a
device's arrays, besides running kernels.

The core never calls numpy on a tensor's data directly in the tape, the engine or dispatch: it
asks the tensor's device for its array API (``device.arrays``, registered with
``numgrad.ops.registry.register_device(name, array=...)``) and calls these.  A new device
implements the same names for its own arrays (a CUDA device: device buffers and a stream); a
device whose arrays are numpy arrays in host memory (the CPU, a test reference backend) uses
:class:`NumpyArrays` as it is.
"""

from __future__ import annotations

import numpy as np

from ...ops.registry import register_device


class NumpyArrays:
    """numpy's implementation of the array API (static methods, so a device may subclass)."""

    array_type = np.ndarray

    @staticmethod
    def empty(shape, dtype):
        return np.empty(shape, dtype)

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype)

    @staticmethod
    def full(shape, value, dtype):
        return np.full(shape, value, dtype)

    @staticmethod
    def asarray(x, dtype=None):
        """An array of this device from a kernel's result or a python/numpy number."""
        return np.asarray(x, dtype=dtype)

    @staticmethod
    def copy(a):
        return np.array(a, copy=True)

    @staticmethod
    def cast(a, dtype):
        # overflow to inf is silent, as in torch (float64 -> float16 of 1e6 is inf)
        with np.errstate(over="ignore"):
            return a.astype(dtype)

    @staticmethod
    def add(a, b):
        """``a + b`` as a new array (pending gradients: out of place, so aliasing is harmless)."""
        return a + b

    @staticmethod
    def accumulate(into, g):
        """``into += g`` in place (a leaf's existing ``.grad``, as torch accumulates)."""
        np.add(into, g, out=into)

    @staticmethod
    def sum_to_shape(g, shape):
        """Sum ``g`` down to ``shape``: the inverse of broadcasting (a gradient of an input
        that was broadcast against a larger one)."""
        if g.shape == shape:
            return g
        extra = g.ndim - len(shape)
        if extra > 0:
            g = g.sum(axis=tuple(range(extra)))
        axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        if g.shape != shape:
            g = np.broadcast_to(g, shape)
        return g

    @staticmethod
    def assign(dst, src):
        """Copy ``src`` (an array of this device, or a number) into ``dst``, broadcasting and
        casting as an in-place op does."""
        np.copyto(dst, src, casting="unsafe")

    @staticmethod
    def fill(dst, value):
        dst[...] = value

    @staticmethod
    def writeable(a):
        """False for arrays that are read-only views (a broadcast): never handed out as .grad."""
        return a.flags.writeable

    @staticmethod
    def shares_memory(a, b):
        return np.may_share_memory(a, b)

    @staticmethod
    def errstate():
        """A context in which NaN and inf flow silently (torch raises no floating-point
        warnings; numpy would)."""
        return np.errstate(all="ignore")

    @staticmethod
    def is_contiguous(a):
        return bool(a.flags.c_contiguous)

    @staticmethod
    def from_host(a):
        """An array of this device holding the numpy array ``a``'s values; on a host-memory
        device that is ``a`` itself (callers that need a new buffer copy)."""
        return a

    @staticmethod
    def to_host(a):
        """A numpy array with ``a``'s values (``a`` itself in host memory)."""
        return a


register_device("cpu", array=NumpyArrays)
