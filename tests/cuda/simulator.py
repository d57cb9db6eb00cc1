"""A barrier for Numba's CUDA simulator (test infrastructure, installed by ``conftest.py``).

The simulator runs a block's threads as Python threads, and its ``syncthreads`` is a polling
loop: the block's manager spins over the threads until all say they are blocked, then releases
them.  In the suite it once let a thread of ``layer_norm_kernel`` read a shared-memory block sum
before the tree had finished (a "math domain error" from ``sqrt`` of a partial sum, under a load
of 10-14 on two cores; not reproducible in 200 quiet runs), and the spinning manager takes a core
from the threads it waits for.  This replaces it with ``threading.Barrier``: each block's
threads start, meet at every ``syncthreads``, and are joined; an exception in one thread breaks
the barrier so the others stop too.  Kernels see the same API.
"""

from __future__ import annotations

import threading

import numpy as np


def install():
    from numba.cuda.simulator import kernel as sim

    def run(self, grid_point, *args):
        barrier = threading.Barrier(int(np.prod(self._block_dim)))
        threads = []
        for block_point in np.ndindex(*self._block_dim):

            def target():
                try:
                    self._f(*args)
                except BaseException:
                    barrier.abort()
                    raise

            t = sim.BlockThread(target, self, grid_point, block_point, self._debug)
            t.barrier = barrier
            threads.append(t)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # the first thread that failed (the others then fail on the broken barrier)
        failed = [t for t in threads if t.exception]
        first = next(
            (t for t in failed if not isinstance(t.exception[0], threading.BrokenBarrierError)),
            failed[0] if failed else None,
        )
        if first is not None:
            raise first.exception[0].with_traceback(first.exception[1])

    def syncthreads(self):
        self.barrier.wait()

    sim.BlockManager.run = run
    sim.BlockThread.syncthreads = syncthreads
