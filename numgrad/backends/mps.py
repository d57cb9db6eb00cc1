"""``numgrad.backends.mps``: Apple's Metal backend, which numgrad does not have."""


def is_available():
    """False: numgrad has no MPS backend."""
    return False


def is_built():
    """False: numgrad is not built with MPS."""
    return False


def is_macos13_or_newer(minor=0):
    """Raises as torch does without an MPS backend."""
    raise RuntimeError("Cannot execute isOnMacOSorNewer() without MPS backend.")
