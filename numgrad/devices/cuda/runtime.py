"""The CUDA runtime under every CUDA kernel: the driver (or Numba's simulator), launch sizes,
the caching allocator, and the array class the simulator hands out.

Imported only when something asks for device ``"cuda"`` (``numgrad.devices.cuda``); importing it
raises ``ImportError`` when there is neither a usable GPU nor the simulator, which the registry
reads as "no such device" (``numgrad.cuda.is_available()`` is then False).

Two modes, fixed when ``numba`` is first imported:

* **GPU**: ``numba.cuda`` on a real driver.  Device arrays are Numba's ``DeviceNDArray``,
  allocated through :class:`CachingMemoryManager` (a ``cudaMalloc`` per tensor costs tens of
  microseconds: freed blocks are kept per size and handed out again, as torch's allocator
  does).  Every launch goes to the default stream, so work is ordered without syncs; host reads
  (``to_host``) synchronise through Numba's copy.
* **simulator** (``NUMBA_ENABLE_CUDASIM=1`` set before ``numba`` is imported): kernels run as
  Python, one thread per simulated thread (about 130 us each), so launches use one small block.
  Arrays are :class:`StrictArray`: the simulator's own array class wraps a numpy array and
  quietly accepts numpy calls and arithmetic that a real ``DeviceNDArray`` refuses; this one
  refuses them too, so a host round trip hidden in the core fails in the simulator as it would
  on a GPU.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")

from numba import config  # noqa: E402

SIM = bool(config.ENABLE_CUDASIM)
# compile-only: no GPU needed, kernels are only compiled to PTX (tests/cuda/ptx_check.py); no
# array can be made.  Set by NUMGRAD_CUDA_COMPILE_ONLY=1 before numgrad.devices.cuda is imported
COMPILE_ONLY = not SIM and os.environ.get("NUMGRAD_CUDA_COMPILE_ONLY") == "1"

try:
    from numba import cuda
except ImportError as e:  # numba built without CUDA support
    raise ImportError(f"numba.cuda is not importable: {e}") from e

if COMPILE_ONLY:
    import types as _types

    import numba.cuda.dispatcher as _dispatcher

    # device functions and overloads compile for "the current device": Hopper, without one
    _dispatcher.get_current_device = lambda: _types.SimpleNamespace(compute_capability=(9, 0))
elif not SIM and not cuda.is_available():
    raise ImportError("no CUDA GPU is available (and NUMBA_ENABLE_CUDASIM is not set)")

# threads per block.  Kernels with a shared-memory reduction size their arrays with it, so it is
# fixed per mode: 256 on a GPU; 8 in the simulator, where each simulated thread is a Python
# thread and a launch costs ~130 us per thread
THREADS = 8 if SIM else 256
# the most blocks a grid-stride launch uses (each thread then loops); the simulator runs blocks
# one after another, so one block is enough there
MAX_BLOCKS = 1 if SIM else 4096


def blocks_for(n):
    """Blocks for a grid-stride kernel over ``n`` items (at least one)."""
    return max(1, min(MAX_BLOCKS, (n + THREADS - 1) // THREADS))


# NUMGRAD_CUDA_RECORD=<file>: every (kernel, argument types) launched is written there at exit,
# so the PTX check compiles for a real GPU exactly what the simulator suite ran
_RECORD_PATH = os.environ.get("NUMGRAD_CUDA_RECORD")
_RECORDED: set = set()


def _type_name(a):
    from numba import typeof

    if SIM and hasattr(a, "_ary"):
        a = a._ary
    return str(typeof(a))


class _Recording:
    __slots__ = ("configured", "kernel")

    def __init__(self, kernel, configured):
        self.kernel = kernel
        self.configured = configured

    def __call__(self, *args):
        fn = getattr(self.kernel, "py_func", None) or self.kernel.fn
        key = (fn.__module__, fn.__qualname__, tuple(_type_name(a) for a in args))
        _RECORDED.add(key)
        return self.configured(*args)


def _write_record():
    import json

    with open(_RECORD_PATH, "a", encoding="utf-8") as f:
        for mod, name, types in sorted(_RECORDED):
            f.write(json.dumps({"module": mod, "kernel": name, "types": list(types)}) + "\n")


if _RECORD_PATH:
    import atexit

    atexit.register(_write_record)


_CONFIGURED: dict = {}  # (kernel, blocks, threads) -> the configured launcher, built once
_CONFIGURED_MAX = 8192


def launch_grid(kernel, blocks, threads=None):
    """``kernel[blocks, threads]``: every numgrad launch goes through here or :func:`launch`."""
    if SIM:  # the simulator's kernel[...] configures the kernel object itself: never cached
        configured = kernel[blocks, THREADS if threads is None else threads]
        return _Recording(kernel, configured) if _RECORD_PATH else configured
    key = (kernel, blocks, threads)
    configured = _CONFIGURED.get(key)
    if configured is None:
        configured = kernel[blocks, THREADS if threads is None else threads]
        if len(_CONFIGURED) < _CONFIGURED_MAX:
            _CONFIGURED[key] = configured
    return _Recording(kernel, configured) if _RECORD_PATH else configured


def launch(kernel, n):
    """``kernel`` configured for a grid-stride loop over ``n`` items."""
    return launch_grid(kernel, blocks_for(n))


def kernel(fn=None, **options):
    """``cuda.jit`` for numgrad's kernels: cached on disk on a GPU (the simulator has no cache)."""
    if not SIM:
        options.setdefault("cache", True)

    def deco(f):
        return cuda.jit(**options)(f)

    return deco if fn is None else deco(fn)


def device_function(fn=None, **options):
    """``cuda.jit(device=True)``: a function kernels call, compiled into them."""

    def deco(f):
        return cuda.jit(device=True, **options)(f)

    return deco if fn is None else deco(fn)


# ---- arrays ------------------------------------------------------------------------------------

if SIM:
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    class StrictArray(FakeCUDAArray):
        """The simulator's device array, refusing what a real ``DeviceNDArray`` refuses: numpy
        conversion (``np.asarray``), arithmetic, and numpy attributes beyond the array's
        description.  Slices and reshapes stay strict."""

        _ALLOWED = frozenset(
            ("shape", "strides", "dtype", "size", "ndim", "nbytes", "itemsize", "_ary", "stream")
        )

        @property
        def shape(self):
            return tuple(self._ary.shape)  # a plain tuple, as a DeviceNDArray's (x.shape[-1])

        @property
        def strides(self):
            return tuple(self._ary.strides)

        def __getattr__(self, name):
            if name in StrictArray._ALLOWED:
                return getattr(self._ary, name)
            raise AttributeError(
                f"a CUDA device array has no attribute {name!r} (numpy's arrays do: is this "
                "host code reading a device array without copying it to the host?)"
            )

        def __array__(self, *args, **kwargs):
            raise TypeError(
                "a CUDA device array cannot become a numpy array implicitly; copy it to the "
                "host first (Tensor.cpu(), .numpy() after .cpu())"
            )

        def _refuse(self, *args, **kwargs):
            raise TypeError("arithmetic on a CUDA device array outside a kernel")

        __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
        __truediv__ = __rtruediv__ = __floordiv__ = __neg__ = __pow__ = _refuse
        __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _refuse
        __hash__ = object.__hash__

        def __bool__(self):
            raise TypeError("the truth value of a CUDA device array needs a copy to the host")

        def __getitem__(self, idx):
            r = self._ary[idx]
            return StrictArray(r) if isinstance(r, np.ndarray) else r

        def reshape(self, *shape, order="C"):
            return StrictArray(self._ary.reshape(*shape, order=order))

        def ravel(self, order="C"):
            if not self._ary.flags.c_contiguous:
                raise NotImplementedError("ravel() of a non-contiguous CUDA array")
            return StrictArray(self._ary.reshape(-1))

        def is_c_contiguous(self):
            return bool(self._ary.flags.c_contiguous)

        @property
        def __cuda_array_interface__(self):
            a = self._ary
            return {
                "shape": a.shape,
                "strides": None if a.flags.c_contiguous else a.strides,
                "typestr": a.dtype.str,
                "data": (a.ctypes.data, False),
                "version": 3,
                "stream": None,
            }

        def __repr__(self):
            return f"<CUDA (simulated) array shape={self._ary.shape} dtype={self._ary.dtype}>"

    ARRAY_TYPES = (StrictArray, FakeCUDAArray)

    def empty(shape, dtype):
        return StrictArray(np.empty(shape, dtype))

    def from_host(a):
        return StrictArray(np.array(a, copy=True, order="C"))

    def to_host(a):
        return np.array(a._ary, copy=True)

    def as_strided(a, shape, strides):
        """A view of ``a``'s memory with the given shape and byte strides (0 = broadcast)."""
        return StrictArray(np.lib.stride_tricks.as_strided(a._ary, shape, strides))

    def base_key(a):
        """An identity for the memory ``a`` views (for aliasing checks)."""
        # (as_strided views hold their allocation through a DummyArray's .base)
        base = a._ary
        while getattr(base, "base", None) is not None:
            base = base.base
        return id(base)

    def synchronize():
        pass

    def adopt(obj):
        """A device array over an object exporting ``__cuda_array_interface__`` (no copy)."""
        if isinstance(obj, FakeCUDAArray):
            return obj if isinstance(obj, StrictArray) else StrictArray(obj._ary)
        raise TypeError(f"cannot adopt {type(obj).__name__} as a simulated CUDA array")

else:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    from .allocator import install as _install_allocator

    if not COMPILE_ONLY:
        _install_allocator()
    ARRAY_TYPES = (DeviceNDArray,)

    def empty(shape, dtype):
        return cuda.device_array(shape, dtype)

    def from_host(a):
        return cuda.to_device(np.ascontiguousarray(a))

    def to_host(a):
        return a.copy_to_host()

    def as_strided(a, shape, strides):
        """A view of ``a``'s memory with the given shape and byte strides (0 = broadcast)."""
        return DeviceNDArray(tuple(shape), tuple(strides), a.dtype, gpu_data=a.gpu_data)

    def base_key(a):
        """An identity for the memory ``a`` views (for aliasing checks)."""
        owner = a.gpu_data
        while getattr(owner, "_owner", None) is not None and owner._owner is not owner:
            owner = owner._owner
        return id(owner)

    def synchronize():
        cuda.synchronize()

    def adopt(obj):
        """A device array over an object exporting ``__cuda_array_interface__`` (no copy)."""
        return cuda.as_cuda_array(obj)


def is_contiguous(a):
    return a.is_c_contiguous()
