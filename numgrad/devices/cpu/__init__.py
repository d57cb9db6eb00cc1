"""The CPU device: Numba ``@njit`` kernels.  ``loops`` turns scalar rules into cached loops,
``math`` is the vectorisable scalar math behind the math seam on this device, ``array`` the
array API the tape and the engine use on its arrays (numpy's); ``reduce``, ``nn``, ``linalg`` and
``shape`` the compute kernels of the non-elementwise ops (their plans live in ``numgrad/ops``),
``optim`` the optimizer updates over all parameters of a group."""

# importing each module registers its kernels (impl / register_device)
from ...ops.registry import impl_lazily  # noqa: E402
from . import array, convert, linalg, loops, nn, optim, reduce, shape  # noqa: F401, E402

# convolutions and pooling, the index ops and the normalization layers load on first use
# (their @njit kernels cost ~15 ms of import; docs/architecture.md, start-up)
for _module in ("conv", "index", "layers"):
    impl_lazily("cpu", f"{__name__}.{_module}")
