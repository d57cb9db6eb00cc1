"""``numgrad bench``: numgrad and torch timed side by side on the same workloads.

``python -m numgrad bench --help`` (or the ``numgrad bench`` console script) lists the options;
``main(argv)`` runs it from Python and returns the exit status.  The parts: ``workloads`` (the
cases, each written once for both libraries), ``timing`` (interleaved A/B timing), ``runner``
(agreement check, then timing), ``report`` (progress, table, JSON, plot).
"""

from .cli import main

__all__ = ["main"]
