"""Op specs for the issue 11 area 'random' (merged into ``opinfo.OP_SPECS``/``NN_SPECS``).

``meshgrid`` (a composite of reshape + expand: its gradients sum over the broadcast dims).  The
sampling functions have no spec: their values are not torch's (a different generator); their
shapes, dtypes, errors, statistics and zero gradients are checked in ``tests/test_random.py``.
"""

from __future__ import annotations

import numpy as np
from opinfo import Case, randn, spec


def _meshgrid_cases(rng):
    return [
        Case((randn(rng, 3), randn(rng, 2)), {"indexing": "ij"}, name="ij"),
        Case((randn(rng, 3), randn(rng, 2)), {"indexing": "xy"}, name="xy"),
        Case((randn(rng, 2), randn(rng, 3), randn(rng, 4)), {"indexing": "xy"}, name="xy3"),
        Case((randn(rng, 4), np.array(rng.standard_normal())), {"indexing": "ij"}, name="0d"),
        Case((randn(rng, 3),), {"indexing": "xy"}, name="one"),
    ]


OP_SPECS = [
    spec("meshgrid", lambda m, *xs, **kw: m.meshgrid(*xs, **kw), _meshgrid_cases),
]
NN_SPECS = []
