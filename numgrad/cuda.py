"""``numgrad.cuda``: torch.cuda's device queries and controls, for numgrad's CUDA device.

The device exists when ``numgrad/devices/cuda`` imports: a GPU with its driver and numba-cuda
(``pip install 'numgrad[cuda]'``), or Numba's simulator (``NUMBA_ENABLE_CUDASIM=1`` set before
``numba`` is imported).  Without it the facade answers as torch's CPU-only build does: the queries
say False/0, the calls that only record a wish (``manual_seed``, ``empty_cache``) do nothing,
and the calls that need a device raise ``AssertionError`` ("Torch not compiled with CUDA
enabled").

Random numbers: numgrad has one generator for every device (random tensors are drawn on the
host and copied), so ``numgrad.manual_seed`` seeds the CUDA tensors' random numbers too, and
``numgrad.cuda.manual_seed`` seeds that same generator when the device exists.
"""

from __future__ import annotations

from types import SimpleNamespace

from .ops.registry import device_arrays


def _backend():
    """The CUDA device package's array API, or None (imports it lazily on first use)."""
    try:
        api = device_arrays("cuda")
    except Exception:  # a GPU package that fails to import is a GPU that is not available
        return None
    if api is not None and _runtime().COMPILE_ONLY:
        return None  # NUMGRAD_CUDA_COMPILE_ONLY: kernels compile, but there is no device
    return api


def _runtime():
    from .devices.cuda import runtime

    return runtime


def _lazy_init(call):
    if _backend() is None:
        raise AssertionError(
            f"numgrad was not built with CUDA enabled: torch.cuda.{call} needs a CUDA device, "
            "and numgrad has none here (no NVIDIA GPU, or numba-cuda missing: pip install "
            "'numgrad[cuda]'; docs/devices.md)"
        )
    return _runtime()


def is_available():
    """True when numgrad can put tensors on a CUDA device (a GPU, or Numba's simulator)."""
    return _backend() is not None


def device_count():
    """Number of CUDA devices numgrad can use (numgrad uses the first one)."""
    if not is_available():
        return 0
    rt = _runtime()
    if rt.SIM:
        return 1
    return len(rt.cuda.gpus)


def is_initialized():
    """Whether the CUDA device has been set up (numgrad sets it up on first use)."""
    return "numgrad.devices.cuda" in __import__("sys").modules and is_available()


def is_bf16_supported(including_emulation=True):
    """torch.cuda.is_bf16_supported: False (numgrad has no bfloat16)."""
    return False


def manual_seed(seed):
    """Seed the random numbers of CUDA tensors: numgrad's one generator (see the module
    docstring); does nothing without a device, as torch's CPU build."""
    if is_available():
        from .random import manual_seed as _seed

        _seed(seed)


def manual_seed_all(seed):
    """torch.cuda.manual_seed_all: as :func:`manual_seed` (numgrad uses one device)."""
    manual_seed(seed)


def seed():
    """torch.cuda.seed: nothing to do; numgrad's generator is seeded by ``numgrad.seed``."""


def seed_all():
    """torch.cuda.seed_all: see :func:`seed`."""


def empty_cache():
    """Free the device memory the caching allocator keeps for reuse (torch.cuda.empty_cache)."""
    if is_available() and not _runtime().SIM:
        from .devices.cuda import allocator

        allocator.empty_cache()


def synchronize(device=None):
    """Wait until every kernel launched on the CUDA device has finished."""
    _lazy_init("synchronize()").synchronize()


def current_device():
    """Index of the current CUDA device (numgrad uses device 0)."""
    _lazy_init("current_device()")
    return 0


def set_device(device):
    """Select a CUDA device: numgrad uses device 0 only."""
    _lazy_init("set_device()")
    index = getattr(device, "index", device)
    if index not in (None, 0, "cuda", "cuda:0"):
        raise RuntimeError(f"numgrad uses CUDA device 0 only; asked for {device!r}")


def _props():
    rt = _runtime()
    if rt.SIM:
        return SimpleNamespace(
            name="Numba CUDA simulator",
            major=9,
            minor=0,
            total_memory=0,
            multi_processor_count=1,
        )
    dev = rt.cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    ctx = rt.cuda.current_context()
    return SimpleNamespace(
        name=name,
        major=dev.compute_capability[0],
        minor=dev.compute_capability[1],
        total_memory=ctx.get_memory_info().total,
        multi_processor_count=dev.MULTIPROCESSOR_COUNT,
    )


def get_device_name(device=None):
    """Name of the CUDA device."""
    _lazy_init("get_device_name()")
    return _props().name


def get_device_capability(device=None):
    """Compute capability of the CUDA device, as (major, minor)."""
    _lazy_init("get_device_capability()")
    p = _props()
    return (p.major, p.minor)


def get_device_properties(device=None):
    """Properties of the CUDA device: name, major, minor, total_memory, multi_processor_count."""
    _lazy_init("get_device_properties()")
    return _props()


def initial_seed():
    """The seed of the generator CUDA tensors draw from (numgrad's one generator)."""
    _lazy_init("initial_seed()")
    from .random import initial_seed as _initial

    return _initial()


def _stat(name):
    if not is_available() or _runtime().SIM:
        return 0
    from .devices.cuda import allocator

    return allocator.stats()[name]


def memory_allocated(device=None):
    """Bytes of CUDA memory held by tensors (0 without a device, or in the simulator)."""
    return _stat("allocated")


def max_memory_allocated(device=None):
    """Peak bytes of CUDA memory held by tensors."""
    return _stat("peak_allocated")


def memory_reserved(device=None):
    """Bytes of CUDA memory the caching allocator holds (in use or kept for reuse)."""
    return _stat("reserved")


def max_memory_reserved(device=None):
    """Peak bytes held by the caching allocator."""
    return _stat("peak_reserved")


def reset_peak_memory_stats(device=None):
    """Start the peaks over from the current values."""
    if is_available() and not _runtime().SIM:
        from .devices.cuda import allocator

        allocator.reset_peak_stats()
