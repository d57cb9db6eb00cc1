"""``numgrad.cuda``: the device queries torch code calls before it picks a device.

The CUDA backend is not built yet (see docs/devices.md), so no CUDA device is ever available to
numgrad, whatever the hardware.  The facade answers as torch's CPU-only build does: the queries
say False/0, the calls that only record a wish (``manual_seed``, ``empty_cache``) do nothing,
and the calls that need a device raise ``AssertionError`` as torch's do ("Torch not compiled
with CUDA enabled").  Once a CUDA device package registers itself, ``is_available`` and
``device_count`` report it.
"""

from __future__ import annotations

from .ops.registry import device_arrays


def _backend():
    """The CUDA device package's array API, or None (imports it lazily on first use)."""
    try:
        return device_arrays("cuda")
    except Exception:  # a GPU package that fails to import is a GPU that is not available
        return None


def _lazy_init(call):
    if _backend() is None:
        raise AssertionError(
            f"numgrad was not built with CUDA enabled: torch.cuda.{call} needs a CUDA device, "
            "and numgrad's CUDA backend is not built yet (docs/devices.md)"
        )


def is_available():
    """True when numgrad can put tensors on a CUDA device (never yet: no backend)."""
    return _backend() is not None


def device_count():
    """Number of CUDA devices numgrad can use (0 without the backend)."""
    return 1 if is_available() else 0


def is_initialized():
    """torch.cuda.is_initialized: False, nothing was initialised."""
    return False


def is_bf16_supported(including_emulation=True):
    """torch.cuda.is_bf16_supported: False (numgrad has no bfloat16)."""
    return False


def manual_seed(seed):
    """torch.cuda.manual_seed: without a device there is no CUDA generator to seed, and torch
    silently does nothing; numgrad's one generator is seeded by ``numgrad.manual_seed``."""


def manual_seed_all(seed):
    """torch.cuda.manual_seed_all: nothing to seed (see :func:`manual_seed`)."""


def seed():
    """torch.cuda.seed: nothing to seed without a device."""


def seed_all():
    """torch.cuda.seed_all: nothing to seed without a device."""


def empty_cache():
    """torch.cuda.empty_cache: no cached device memory to free."""


def synchronize(device=None):
    """Wait for a CUDA device's work: raises without a device, as torch's CPU build does."""
    _lazy_init("synchronize()")


def current_device():
    """Index of the current CUDA device: raises without a device, as torch does."""
    _lazy_init("current_device()")
    return 0


def set_device(device):
    """Select a CUDA device: raises without a device."""
    _lazy_init("set_device()")


def get_device_name(device=None):
    """Name of a CUDA device: raises without a device, as torch does."""
    _lazy_init("get_device_name()")
    return "CUDA device"


def get_device_capability(device=None):
    """Compute capability of a CUDA device: raises without a device, as torch does."""
    _lazy_init("get_device_capability()")
    return (0, 0)


def get_device_properties(device=None):
    """Properties of a CUDA device: raises without a device, as torch does."""
    _lazy_init("get_device_properties()")


def initial_seed():
    """The CUDA generator's seed: raises without a device, as torch does."""
    _lazy_init("initial_seed()")


def memory_allocated(device=None):
    """Bytes of CUDA memory held by tensors: 0 without a device (torch's answer)."""
    return 0


def max_memory_allocated(device=None):
    """Peak bytes of CUDA memory held by tensors: 0 without a device."""
    return 0


def memory_reserved(device=None):
    """Bytes of CUDA memory held by the caching allocator: 0 without a device."""
    return 0


def max_memory_reserved(device=None):
    """Peak bytes held by the caching allocator: 0 without a device."""
    return 0
