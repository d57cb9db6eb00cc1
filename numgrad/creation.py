"""Tensor creation functions (torch names and dtype defaults)."""

from __future__ import annotations

import math
import sys

import numpy as np

from . import dlpack as _dlpack
from . import dtypes as D
from . import functional as F
from . import random as _random
from .capture import CAPTURE, capture
from .random import generator as _np_gen
from .storage import Device
from .tensor import Tensor, _to_array, _wrap, check_device


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data``.

    Python floats become the default dtype (float32, see ``set_default_dtype``), python ints
    int64, bools bool; numpy arrays keep their dtype.
    """
    t = Tensor.__new__(Tensor)  # (an inference tensor inside inference_mode)
    t._init_data(data, dtype, device, requires_grad)
    return t


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        # a tensor passes through, converted only as far as asked (torch's as_tensor)
        return data.to(dtype=dtype, device=device)
    return tensor(data, dtype=dtype, device=device)


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


def _make(arr, dtype, device, requires_grad, like=None):
    """The tensor of host array ``arr`` on ``device`` (default: ``like``'s device, else the
    CPU)."""
    dev = like._device if device is None and like is not None else check_device(device)
    t = _wrap(dev.arrays.from_host(arr), dev)
    if requires_grad:
        t.requires_grad_(True)
    if CAPTURE.active:  # named after the creation function that called us (zeros, randn...)
        attrs = {"shape": tuple(arr.shape), "dtype": arr.dtype}
        capture("create", sys._getframe(1).f_code.co_name, (), (t,), attrs)
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
    # the fill value converts like tensor(fill_value, dtype): torch's dtype inference (bool,
    # int64, float32) and its overflow check (full((2,), 300, dtype=uint8) raises)
    value = _to_array(fill_value, dtype, copy=False)
    return _make(np.full(_size((size,)), value, value.dtype), dtype, device, requires_grad)


def _like(t, dtype):
    return t._data.dtype if dtype is None else D.as_dtype(dtype).np


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros(t._data.shape, _like(t, dtype)), dtype, device, requires_grad, like=t)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.ones(t._data.shape, _like(t, dtype)), dtype, device, requires_grad, like=t)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.empty(t._data.shape, _like(t, dtype)), dtype, device, requires_grad, like=t)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return _make(
        np.full(t._data.shape, fill_value, _like(t, dtype)), dtype, device, requires_grad, like=t
    )


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """``[start, end)`` by ``step``, with torch's checks, length and values.

    Float values are ``start + i * step`` computed in float64 and then rounded (as torch does;
    numpy's float32 arange accumulates in float32); integer types compute in int64 and wrap.
    """
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if dtype is None:
        is_float = any(isinstance(v, (float, np.floating)) for v in (start, end, step))
        dtype = D.DEFAULT_FLOAT if is_float else D.int64
    dt = D.as_dtype(dtype)
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if dt.is_floating_point:
        xs, xe, xst = float(start), float(end), float(step)
    else:
        xs, xe, xst = int(start), int(end), int(step) if math.isfinite(step) else 0
    if not (xst > 0 or xst < 0):  # also NaN
        # (torch raises ValueError for a float step that truncates to 0 for an integer type)
        err = RuntimeError if step == 0 or step != step else ValueError
        raise err(f"step must be nonzero (arange({start}, {end}, {step}) as {dt.name})")
    if not ((xst > 0 and xe >= xs) or (xst < 0 and xe <= xs)):
        raise RuntimeError(
            f"upper bound and lower bound inconsistent with step sign (arange({start}, {end}, "
            f"{step}))"
        )
    if dt is D.int64:
        n = (xe - xs + xst - (1 if xst > 0 else -1)) // xst
    else:
        n = math.ceil((float(end) - float(start)) / float(step))
    if dt.is_floating_point:
        vals = xs + np.arange(n, dtype=np.float64) * xst
    else:
        vals = xs + np.arange(n, dtype=np.int64) * xst
    with np.errstate(over="ignore"):
        arr = vals.astype(dt.np)
    return _make(arr, dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got {steps}")
    return _make(np.linspace(start, end, steps, dtype=_dt(dtype)), dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    for name, v in (("n", n), ("m", m)):
        if v is not None and v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    return _make(np.eye(n, m, dtype=_dt(dtype)), dtype, device, requires_grad)


def _float_only(dtype, fname):
    dt = D.DEFAULT_FLOAT if dtype is None else D.as_dtype(dtype)
    if not dt.is_floating_point:
        raise NotImplementedError(
            f"\"{fname}\" not implemented for '{D.torch_name(dt.np)}' (random floats cannot "
            f"be stored as {dt.name}; use randint for integers)"
        )
    return dt.np


def _rg_check(requires_grad, npt):
    if requires_grad and np.dtype(npt).kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")


# Random creation: numbers come from ``generator`` (a numgrad.Generator) or the global stream;
# reproducible for a seed, but not torch's numbers (numgrad.random).


def randn(
    *size,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
):
    """Standard-normal samples of ``size`` (``torch.randn``; ``layout`` and ``pin_memory`` are
    accepted and ignored, as by every random creation function here)."""
    npt = _float_only(dtype, "randn")
    arr = _np_gen(generator).standard_normal(_size(size)).astype(npt)
    return _make(arr, dtype, device, requires_grad)


def rand(
    *size,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
):
    """Uniform samples in ``[0, 1)`` of ``size`` (``torch.rand``)."""
    npt = _float_only(dtype, "rand")
    arr = _np_gen(generator).random(_size(size)).astype(npt)
    return _make(arr, dtype, device, requires_grad)


def _randint_array(low, high, size, npt, gen, fname="randint"):
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    if npt.kind in "iu":
        info = np.iinfo(npt)
        if low < info.min or high - 1 > info.max:
            raise RuntimeError(
                f"{fname}: [{low}, {high}) is out of bounds for {npt.name} "
                f"([{info.min}, {info.max}])"
            )
    return _np_gen(gen).integers(low, high, size).astype(npt)


def randint(
    low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False
):
    """Integers uniform in ``[low, high)``; ``randint(high, size)`` as in torch.  int64 default."""
    if isinstance(high, (tuple, list)) and size is None:  # torch.randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size' (a tuple of ints)")
    if not isinstance(size, (tuple, list)):
        raise TypeError(
            f"randint(): argument 'size' must be tuple of ints, not {type(size).__name__}"
        )
    npt = np.dtype(_dt(dtype) if dtype else np.int64)
    _rg_check(requires_grad, npt)
    arr = _randint_array(int(low), int(high), _size((tuple(size),)), npt, generator)
    return _make(arr, dtype, device, requires_grad)


def randperm(
    n,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
):
    """A random permutation of ``0..n-1`` (``torch.randperm``; int64 by default)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"randperm(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    npt = np.dtype(_dt(dtype) if dtype else np.int64)
    _rg_check(requires_grad, npt)
    arr = _np_gen(generator).permutation(int(n)).astype(npt)
    return _make(arr, dtype, device, requires_grad)


def randn_like(
    t,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    memory_format=None,
):
    """``randn`` with ``t``'s shape, dtype and device unless given (``torch.randn_like``)."""
    return randn(
        *t.shape,
        generator=generator,
        dtype=dtype or t.dtype,
        device=device or t._device,
        requires_grad=requires_grad,
    )


def rand_like(
    t,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    memory_format=None,
):
    """``rand`` with ``t``'s shape, dtype and device unless given (``torch.rand_like``)."""
    return rand(
        *t.shape,
        generator=generator,
        dtype=dtype or t.dtype,
        device=device or t._device,
        requires_grad=requires_grad,
    )


def randint_like(
    t,
    low=0,
    high=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    memory_format=None,
):
    """``randint`` with ``t``'s shape, dtype and device unless given (``torch.randint_like``:
    ``randint_like(t, high)`` or ``randint_like(t, low, high)``)."""
    if high is None:
        low, high = 0, low
    return randint(
        low,
        high,
        tuple(t.shape),
        generator=generator,
        dtype=dtype or t.dtype,
        device=device or t._device,
        requires_grad=requires_grad,
    )


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False, layout=None, pin_memory=False):  # fmt: skip
    """Normal samples (``torch.normal``) in all of torch's overloads: a float ``mean`` and
    ``std`` with ``size=`` make a new tensor here; with a tensor mean or std it is
    :func:`numgrad.functional.normal` (shape: their broadcast; zero gradient to them)."""
    from .storage import TensorBase

    if isinstance(mean, TensorBase) or isinstance(std, TensorBase):
        return F.normal(mean, std, size, generator=generator)
    if size is None:
        raise TypeError(
            "normal() with a float mean and a float std needs size= (normal(mean, std, size))"
        )
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    npt = _float_only(dtype, "normal")
    shape = _size((size,))
    arr = np.asarray(mean + std * _np_gen(generator).standard_normal(shape), npt)
    return _make(arr, dtype, device, requires_grad)


# numgrad.random sits below this module: it gets device checks and tensors from here
_random._register(check_device, tensor, Tensor)


def from_dlpack(obj):
    """A numgrad tensor sharing ``obj``'s memory, no copy (``numgrad.dlpack`` explains the two
    routes)."""
    # (Numba's own device arrays, simulated ones included, are CUDA arrays too)
    if hasattr(obj, "__cuda_array_interface__") or type(obj).__module__.startswith("numba.cuda"):
        dev = check_device("cuda")  # raises naming the device when there is no CUDA device
        from .devices.cuda import runtime

        return _wrap(runtime.adopt(obj), dev)
    if hasattr(obj, "__dlpack_device__"):
        kind, _ = obj.__dlpack_device__()
        if kind != _dlpack.KDL_CPU:
            raise BufferError(
                f"from_dlpack: a DLPack tensor on device type {kind} without "
                "__cuda_array_interface__ cannot be imported (CUDA arrays are imported through "
                "their __cuda_array_interface__)"
            )
        return _wrap(np.from_dlpack(obj), Device("cpu"))
    raise TypeError(f"from_dlpack: {type(obj).__name__} supports neither DLPack nor CUDA arrays")
