"""Grad mode: whether ops record on the tape.  The ground floor: imports nothing from numgrad.

The flag is per thread, as torch's (``threading.local``): a thread evaluating under ``no_grad``
never stops another thread's training step from recording, and every new thread starts with
recording on.
"""

from __future__ import annotations

import functools
import threading


class _GradMode(threading.local):
    """Whether ops record on the tape, per thread as in torch: a thread evaluating under
    ``no_grad`` never turns recording off for another thread that is training."""

    def __init__(self):
        # threading.local runs __init__ once in every thread that touches the object, so
        # each new thread starts with recording on, as torch's threads do
        self.enabled = True


GRAD_MODE = _GradMode()


class set_grad_enabled:
    """Context manager / decorator / function that turns gradient recording on or off."""

    def __init__(self, mode=True):
        self.prev = GRAD_MODE.enabled
        self.mode = bool(mode)
        GRAD_MODE.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        GRAD_MODE.enabled = self.prev
        return False


class _Mode:
    mode = True

    def __enter__(self):
        self.prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = self.mode
        return self

    def __exit__(self, *exc):
        GRAD_MODE.enabled = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with self.__class__():
                return fn(*a, **k)

        return wrapper


class no_grad(_Mode):
    """Operations inside do not record on the tape (``with numgrad.no_grad():``)."""

    mode = False


class enable_grad(_Mode):
    """Re-enable recording inside a ``no_grad`` block."""

    mode = True


def is_grad_enabled():
    return GRAD_MODE.enabled
