"""``numgrad.autograd``: backward, grad, custom Functions, gradcheck and the capture hook
(``trace``: everything a step executes, as the list ``numgrad.compile`` turns into code)."""

from ..capture import Entry, Slot, Trace, trace
from .engine import backward, grad
from .function import Function, FunctionCtx
from .gradcheck import gradcheck

__all__ = [
    "backward",
    "grad",
    "Function",
    "FunctionCtx",
    "gradcheck",
    "trace",
    "Trace",
    "Entry",
    "Slot",
]
