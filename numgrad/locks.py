"""Process-wide locks shared across layers (the ground floor: imports nothing from numgrad).

``BUILD_LOCK`` serialises every lazy kernel build: the registry's first build of a kernel on a
device, and generating/importing a kernel module in the cache.  It is one lock, not one per
layer, because ``fork()`` must wait for all of them (``devices/kernel_cache.py`` takes it in an
``os.register_at_fork`` hook): a child that inherits a build lock held by another thread hangs
at its first kernel.
"""

from __future__ import annotations

import threading

BUILD_LOCK = threading.RLock()
