"""The CUDA suite: runs where device ``"cuda"`` exists - under Numba's simulator
(``NUMBA_ENABLE_CUDASIM=1`` set before ``numba`` is imported, which ``tests/test_cuda_sim.py``
does for a pytest process of its own) or on a real GPU (``benchmarks/gpu/run.sh``).  Without
either, nothing here is collected: a plain CPU run has no CUDA device to test, and the
simulator run is its own test of the CPU suite (``tests/test_cuda_sim.py``)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numgrad  # noqa: E402

if not numgrad.cuda.is_available():
    collect_ignore_glob = ["test_*.py"]
elif numgrad.devices.cuda.runtime.SIM:
    import simulator  # noqa: E402

    simulator.install()  # a barrier for syncthreads (see tests/cuda/simulator.py)
