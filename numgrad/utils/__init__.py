"""``numgrad.utils``: data loading helpers (``numgrad.utils.data``).

``data`` is imported on first use (``numgrad.utils.data`` or ``from numgrad.utils.data import
...``), not with numgrad: a training step that loads its own arrays does not pay for it at
start-up.
"""

import importlib

__all__ = ["data", "checkpoint", "hooks"]


def __getattr__(name):
    if name in ("data", "checkpoint"):
        return importlib.import_module(f".{name}", __name__)
    if name == "hooks":  # torch.utils.hooks.RemovableHandle
        return importlib.import_module("numgrad.hooks")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
