"""``numgrad.utils``: data loading helpers (``numgrad.utils.data``)."""

from . import data

__all__ = ["data"]
