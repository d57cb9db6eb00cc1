"""``numgrad.save`` / ``numgrad.load``: pickle objects holding tensors (state dicts...)."""

from __future__ import annotations

import pickle


def save(obj, f):
    """Pickle ``obj`` (tensors, state dicts, optimizer state) to a path or open binary file."""
    if hasattr(f, "write"):
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        return
    with open(f, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)


def load(f, weights_only=None):
    """Unpickle what :func:`save` wrote.  Like torch.load, only load files you trust."""
    if hasattr(f, "read"):
        return pickle.load(f)
    with open(f, "rb") as fh:
        return pickle.load(fh)
