"""``Unsupported``: a trace holds something a program form cannot replay faithfully."""


class Unsupported(Exception):
    """Raised while building a program: the caller falls back (fused -> replay -> eager)."""
