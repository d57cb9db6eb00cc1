"""``numgrad.autograd``: backward, grad, custom Functions (torch's ``Function`` on tensors;
``KernelFunction`` on numpy arrays for ``@njit`` kernels), gradcheck and the capture hook
(``trace``: everything a step executes, as the list ``numgrad.compile`` turns into code)."""

from ..capture import Entry, Slot, Trace, trace
from ..grad_mode import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from .engine import backward, grad
from .function import Function, FunctionCtx, KernelFunction
from .gradcheck import gradcheck
from .variable import Variable

__all__ = [
    "functional",
    "graph",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "backward",
    "grad",
    "Function",
    "FunctionCtx",
    "KernelFunction",
    "gradcheck",
    "Variable",
    "trace",
    "Trace",
    "Entry",
    "Slot",
]


def __getattr__(name):
    # numgrad.autograd.functional (vjp, jvp, hessian...) sits above the engine's layer
    # (tests/reliability/test_layers.py): imported on first use
    if name in ("functional", "graph"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
