"""Interleaved A/B timing: numgrad and torch take turns in one process, so drift on a shared
machine (frequency changes, a neighbour's load) hits both sides alike."""

from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Timing:
    """Per-call times of one library on one case."""

    first_call: float  # seconds: the first call in this process (kernel loads/compiles included)
    per_call: list = field(default_factory=list)  # seconds per call, one entry per round
    number: int = 1  # calls per round

    @property
    def median(self):
        return statistics.median(self.per_call) if self.per_call else math.nan

    def quantile(self, q):
        xs = sorted(self.per_call)
        if not xs:
            return math.nan
        pos = q * (len(xs) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    @property
    def spread(self):
        """Interquartile range over the median: 0.02 means the middle half of the rounds lay
        within 2% of each other."""
        m = self.median
        return (self.quantile(0.75) - self.quantile(0.25)) / m if m > 0 else math.nan

    def as_dict(self):
        """JSON-ready: times in seconds; None where nothing was timed (a failed row)."""
        timed = bool(self.per_call)
        return {
            "median_s": self.median if timed else None,
            "p25_s": self.quantile(0.25) if timed else None,
            "p75_s": self.quantile(0.75) if timed else None,
            "min_s": min(self.per_call) if timed else None,
            "max_s": max(self.per_call) if timed else None,
            "spread": self.spread if timed else None,
            "rounds": len(self.per_call),
            "calls_per_round": self.number,
            "first_call_s": self.first_call,
        }


def first_call(step, sync):
    t0 = time.perf_counter()
    step()
    sync()
    return time.perf_counter() - t0


def _block(step, sync, number):
    t0 = time.perf_counter()
    for _ in range(number):
        step()
    sync()
    return (time.perf_counter() - t0) / number


def interleaved(
    sides,
    budget_s=1.0,
    min_rounds=7,
    max_rounds=1000,
    block_s=0.005,
    warmup_s=0.05,
    rewarm_s=0.001,
    settle_s=0.0,
):
    """Time each ``(step, sync)`` in ``sides`` (a dict name -> pair) in alternating rounds.

    Warm-up first (at least 3 calls and ``warmup_s`` seconds per side, which also estimates the
    call time); then each round runs every side for ``number`` calls (enough for ``block_s``
    seconds), alternating which side goes first, until ``budget_s`` seconds are spent and at least
    ``min_rounds`` rounds ran.  Before every timed block the side runs untimed again for
    ``rewarm_s`` (at least one call): a block timed straight after the other library's block
    starts with that library's data in the caches and runs 15-20% slow (measured).  With
    ``settle_s`` > 0 the clock also waits that long before each block, so the other library's
    BLAS/OpenMP workers, which spin ~100 ms after a call, stop taking a core (use it when
    timing with more than one thread).  The garbage collector is off inside a block, as in
    ``timeit``.  Returns a dict name -> (list of per-call seconds, number).
    """
    est = {}
    for name, (step, sync) in sides.items():
        calls, t0 = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - t0 < warmup_s:
            step()
            calls += 1
        sync()
        est[name] = (time.perf_counter() - t0) / calls
    number = {k: max(1, math.ceil(block_s / max(v, 1e-9))) for k, v in est.items()}
    rewarm = {k: max(1, min(number[k], math.ceil(rewarm_s / max(v, 1e-9)))) for k, v in est.items()}
    out = {k: [] for k in sides}
    order = list(sides)
    t_start = time.perf_counter()
    rounds = 0
    gc_was_on = gc.isenabled()
    try:
        while rounds < max_rounds and (
            rounds < min_rounds or time.perf_counter() - t_start < budget_s
        ):
            for name in order if rounds % 2 == 0 else reversed(order):
                step, sync = sides[name]
                if settle_s > 0:
                    time.sleep(settle_s)
                for _ in range(rewarm[name]):
                    step()
                sync()
                gc.disable()
                out[name].append(_block(step, sync, number[name]))
                if gc_was_on:
                    gc.enable()
            rounds += 1
    finally:
        if gc_was_on:
            gc.enable()
    return {k: (out[k], number[k]) for k in sides}
