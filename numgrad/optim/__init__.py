"""Optimizers with torch's API: :class:`SGD`, :class:`Adam`, :class:`AdamW`.

Each step computes its scalars in Python and runs one fused Numba kernel per parameter
(:mod:`numgrad.optim.kernels`) in place on the parameter's storage.  Learning-rate schedulers are
in :mod:`numgrad.optim.lr_scheduler`.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "SGD", "lr_scheduler"]
