"""The global random generator (numpy's PCG64), seeded by ``numgrad.manual_seed``."""

from __future__ import annotations

import numpy as np

_GEN = [np.random.default_rng()]


def manual_seed(seed):
    """Seed every numgrad random function (randn, rand, init, Dropout)."""
    _GEN[0] = np.random.default_rng(int(seed))
    return _GEN[0]


seed = manual_seed


def generator():
    return _GEN[0]
