"""Hook handles (``torch.utils.hooks.RemovableHandle``): what ``register_*_hook`` returns.

This module imports nothing from numgrad (the ground floor of tests/reliability/test_layers.py),
so the tape, the Tensor class and ``nn.Module`` can all hand these out.
"""

from __future__ import annotations

import itertools

_ids = itertools.count()


class RemovableHandle:
    """``handle.remove()`` unregisters the hook; also a context manager (removed on exit)."""

    __slots__ = ("hooks", "id")

    def __init__(self, hooks):
        self.hooks = hooks  # the dict {id: hook} the hook was registered in
        self.id = next(_ids)

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add(hooks, hook):
    """Register ``hook`` in the ordered dict ``hooks``; returns its handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle
