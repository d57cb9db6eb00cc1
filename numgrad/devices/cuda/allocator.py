"""The caching device allocator (GPU mode only): Numba's memory manager, keeping freed blocks.

A ``cudaMalloc`` costs tens of microseconds and a ``cudaFree`` synchronises the device, so a
training step that allocates and frees every intermediate would spend its time there.  As
torch's CUDA allocator does, a block whose array is garbage collected goes back to a pool keyed
by its rounded size and is handed to the next request of that size.  All numgrad work runs on one
stream, so a block reused by a later kernel is only touched after the kernels that used it
before: no event bookkeeping is needed.

It is installed as Numba's External Memory Management plugin (``set_memory_manager``), before
the first CUDA context exists, so every ``cuda.device_array`` numgrad makes comes from it.
"""

from __future__ import annotations

import threading
import weakref

from numba import cuda
from numba.cuda.cudadrv.driver import MemoryPointer, NumbaCUDAMemoryManager

# requests are rounded up to a multiple of this (torch rounds to 512 bytes too), so arrays of
# nearby sizes share blocks; large requests round to 1 MiB to keep the pool's keys few
_SMALL = 512
_LARGE = 1 << 20

_STATS = {"allocated": 0, "peak_allocated": 0, "reserved": 0, "peak_reserved": 0}
_MANAGERS: list = []


def _rounded(size):
    step = _SMALL if size < _LARGE else _LARGE
    return max(step, (size + step - 1) // step * step)


class CachingMemoryManager(NumbaCUDAMemoryManager):
    """Numba's memory manager with a free list per rounded size (see the module docstring)."""

    def initialize(self):
        super().initialize()
        self._pool = {}  # rounded size -> [raw allocations not in use]
        self._lock = threading.Lock()
        _MANAGERS.append(self)

    def memalloc(self, size):
        rounded = _rounded(size)
        with self._lock:
            free = self._pool.get(rounded)
            raw = free.pop() if free else None
        if raw is None:
            try:
                raw = super().memalloc(rounded)
            except Exception:
                # out of memory with blocks parked in the pool: give them back and retry once
                self.empty_cache()
                raw = super().memalloc(rounded)
            _STATS["reserved"] += rounded
            _STATS["peak_reserved"] = max(_STATS["peak_reserved"], _STATS["reserved"])
        _STATS["allocated"] += rounded
        _STATS["peak_allocated"] = max(_STATS["peak_allocated"], _STATS["allocated"])
        pool, lock = self._pool, self._lock

        def give_back(raw=raw, rounded=rounded):
            _STATS["allocated"] -= rounded
            with lock:
                pool.setdefault(rounded, []).append(raw)

        return MemoryPointer(
            weakref.proxy(self.context), raw.device_pointer, size, finalizer=give_back
        )

    def empty_cache(self):
        """Free every pooled block (torch.cuda.empty_cache)."""
        with self._lock:
            blocks = [(k, b) for k, free in self._pool.items() for b in free]
            self._pool.clear()
        for k, _ in blocks:
            _STATS["reserved"] -= k
        del blocks  # the raw allocations' own finalizers free them
        self.deallocations.clear()

    def reset(self):
        self.empty_cache()
        super().reset()


def install():
    """Make :class:`CachingMemoryManager` Numba's memory manager (before any context exists)."""
    cuda.set_memory_manager(CachingMemoryManager)


def empty_cache():
    for m in _MANAGERS:
        m.empty_cache()


def stats():
    """Bytes held by arrays, bytes reserved from the driver, and their peaks."""
    return dict(_STATS)


def reset_peak_stats():
    _STATS["peak_allocated"] = _STATS["allocated"]
    _STATS["peak_reserved"] = _STATS["reserved"]
