"""The op table.  Importing this package registers every built-in op in ``OPS``."""

from . import conv, elementwise, index, layers, linalg, nn, optim, reduce, shape, transfer  # noqa: F401
from .registry import OPS, Kernel, Op, impl, register, register_device

__all__ = ["OPS", "Op", "Kernel", "impl", "register", "register_device"]
