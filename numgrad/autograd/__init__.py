"""``numgrad.autograd``: backward, grad, custom Functions and gradcheck."""

from .engine import backward, grad
from .function import Function, FunctionCtx
from .gradcheck import gradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "gradcheck"]
