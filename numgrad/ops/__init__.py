"""The op table.  Importing this package registers every built-in op in ``OPS``."""

from . import elementwise, linalg, nn, reduce, shape  # noqa: F401  (registration side effects)
from .registry import OPS, Kernel, Op, kernel, register

__all__ = ["OPS", "Op", "Kernel", "kernel", "register"]
