"""The CPU device: Numba ``@njit`` kernels.  ``loops`` turns scalar rules into cached loops,
``math`` is the vectorisable scalar math behind the math seam on this device."""

from . import loops  # noqa: F401, E402  (registers the CPU elementwise builder)
