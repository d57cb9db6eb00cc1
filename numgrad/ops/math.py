"""The math seam: the only functions scalar rules call besides operators.

A scalar rule (``@scalar``) is a Numba function compiled inline into each device's loops, so
it may use arithmetic, comparisons and the functions named here.  Each name is a
target-neutral function; the CPU device provides vectorisable versions (``devices/cpu/math.py``:
no SVML on this machine, so ``exp``/``tanh`` are written to let LLVM vectorise them).
"""

from __future__ import annotations

from numba import njit

from ..devices.cpu.math import fast_exp, fast_exp_typed, fast_tanh, one_of, power, zero_of

__all__ = ["scalar", "fast_exp", "fast_exp_typed", "fast_tanh", "one_of", "power", "zero_of"]


def scalar(fn):
    """Decorator for scalar rules: compiled inline into every kernel that calls them."""
    return njit(inline="always", cache=True)(fn)
