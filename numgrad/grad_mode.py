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


# ---- anomaly mode ------------------------------------------------------------------------------


class _Anomaly:
    """``autograd.set_detect_anomaly``: process-wide, read once per recorded op."""

    __slots__ = ("enabled", "check_nan")

    def __init__(self):
        self.enabled = False
        self.check_nan = True


ANOMALY = _Anomaly()


def is_anomaly_enabled():
    return ANOMALY.enabled


def is_anomaly_check_nan_enabled():
    return ANOMALY.check_nan


class set_detect_anomaly:  # noqa: N801  (torch's name)
    """``torch.autograd.set_detect_anomaly(mode, check_nan=True)``: while on, every recorded
    op keeps the traceback of its forward call, and backward raises as soon as a rule returns
    NaN or inf, naming the op and that traceback.  Works as a call and as a context manager."""

    def __init__(self, mode, check_nan=True):
        self.prev = (ANOMALY.enabled, ANOMALY.check_nan)
        ANOMALY.enabled = bool(mode)
        ANOMALY.check_nan = bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        ANOMALY.enabled, ANOMALY.check_nan = self.prev


class detect_anomaly(set_detect_anomaly):  # noqa: N801
    """``torch.autograd.detect_anomaly()``: a context manager (or decorator) that turns anomaly
    mode on."""

    def __init__(self, check_nan=True):
        self.prev = (ANOMALY.enabled, ANOMALY.check_nan)
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = (ANOMALY.enabled, ANOMALY.check_nan)
        ANOMALY.enabled = True
        ANOMALY.check_nan = bool(self.check_nan)
        return self

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapped
