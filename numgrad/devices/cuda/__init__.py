"""The CUDA device: ``@cuda.jit`` kernels from the same op table as the CPU's ``@njit`` ones.

Imported lazily, the first time something names device ``"cuda"`` (``numgrad.cuda``,
``device="cuda"``, ``t.to("cuda")``); without a GPU (and without ``NUMBA_ENABLE_CUDASIM=1``) the
import raises ``ImportError``, which the registry reads as "this device is not available".

``runtime`` is the driver or the simulator, launch sizes, the caching allocator and the
simulator's strict arrays; ``math`` overloads the math seam with libdevice; ``rules`` turns
scalar rules into CUDA device code and ``loops`` into grid-stride kernels; ``kernels`` holds the
shared fill, strided copy and (outer, reduced, inner) sum; ``array`` is the array API; the other
modules register the compute of every non-elementwise op, loaded on first use.
"""

import importlib.util

from . import runtime

if not runtime.SIM:
    from . import math  # noqa: F401  (libdevice overloads of the math seam)

from ...ops.registry import impl_lazily  # noqa: E402
from . import array, loops  # noqa: F401, E402

# compute kernels of the non-elementwise ops, by area; each loads when one of its ops first runs
for _module in ("convert", "shape", "reduce", "nn", "linalg", "optim", "index", "conv", "layers"):
    if importlib.util.find_spec(f"{__name__}.{_module}") is not None:
        impl_lazily("cuda", f"{__name__}.{_module}")
