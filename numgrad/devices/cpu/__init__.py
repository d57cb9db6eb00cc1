"""The CPU device: Numba ``@njit`` kernels.  ``loops`` turns scalar rules into cached loops,
``math`` is the vectorisable scalar math behind the math seam on this device, ``array`` the
array API the tape and the engine use on its arrays (numpy's); ``reduce``, ``nn``, ``linalg`` and
``shape`` the compute kernels of the non-elementwise ops (their plans live in ``numgrad/ops``),
``optim`` the optimizer updates over all parameters of a group."""

# importing each module registers its kernels (impl / register_device)
from . import array, conv, convert, index, layers, linalg, loops, nn, optim, reduce, shape  # noqa: F401, E402
