"""``numgrad.backends.cudnn``: cuDNN's switches.  numgrad has no cuDNN: the flags keep what is
set (torch's defaults: enabled, not benchmark, not deterministic, TF32 allowed) and change
nothing; ``is_available()`` is False and ``version()`` None, torch's answers without cuDNN."""

import contextlib

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = 10


def is_available():
    """False: numgrad has no cuDNN."""
    return False


def version():
    """None: no cuDNN library is loaded."""
    return None


def is_acceptable(tensor):
    """False: no tensor can use cuDNN here."""
    return False


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Set the flags inside a ``with`` block (torch.backends.cudnn.flags), restored after."""
    g = globals()
    names = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")
    old = {n: g[n] for n in names}
    g.update(zip(names, (enabled, benchmark, benchmark_limit, deterministic, allow_tf32)))
    try:
        yield
    finally:
        g.update(old)
