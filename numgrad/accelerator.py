"""``numgrad.accelerator``: torch's device-agnostic accelerator queries.

numgrad's one accelerator is CUDA (``numgrad.cuda``): without a GPU (or Numba's simulator)
``is_available()`` is False and ``current_accelerator()`` is None, as torch answers on a
machine without one, and the calls that need a device raise torch's RuntimeError.
"""

from __future__ import annotations

from . import cuda as _cuda
from .storage import Device


def is_available():
    """Whether an accelerator (a CUDA device) is available to numgrad."""
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """The accelerator's device (``device(type='cuda')``), or None when there is none."""
    if not _cuda.is_available():
        return None
    return Device("cuda")


def device_count():
    """Number of accelerator devices (0 without one)."""
    return _cuda.device_count()


def _no_accelerator():
    if not _cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index():
    """Index of the current accelerator device; raises without one, as torch does."""
    _no_accelerator()
    return _cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device):
    """Select the accelerator device; raises without one, as torch does."""
    _no_accelerator()
    _cuda.set_device(device)


set_device_idx = set_device_index


def synchronize(device=None):
    """Wait for the accelerator's work; raises without one, as torch does."""
    _no_accelerator()
    _cuda.synchronize(device)


def empty_cache():
    """Free the accelerator's cached memory; raises without one, as torch does."""
    _no_accelerator()
    _cuda.empty_cache()


def memory_allocated(device=None):
    """Bytes of accelerator memory held by tensors; raises without one, as torch does."""
    _no_accelerator()
    return _cuda.memory_allocated(device)


def max_memory_allocated(device=None):
    """Peak bytes of accelerator memory held by tensors; raises without one, as torch does."""
    _no_accelerator()
    return _cuda.max_memory_allocated(device)
