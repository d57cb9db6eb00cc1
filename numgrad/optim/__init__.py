"""Optimizers with torch's API: :class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`,
:class:`Adagrad`, :class:`Adadelta`, :class:`Adamax`, :class:`NAdam`,
:class:`RAdam` and :class:`LBFGS`.

Each step of all but LBFGS runs one update op of the op table (``sgd_update``, ``adam_update``,
``rmsprop_update``... in ``numgrad/ops/optim.py``) per param group: scalar rules the
parameters' device runs over every parameter of the group in one call, in place on their
storage.  LBFGS is Python over public ops, as torch's is.  Learning-rate schedulers are in
:mod:`numgrad.optim.lr_scheduler`.
"""

import importlib

from .adam import Adam, AdamW
from .adaptive import Adadelta, Adagrad, Adamax, NAdam, RAdam, RMSprop
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .sgd import SGD

__all__ = [
    "Adadelta",
    "Adagrad",
    "Adam",
    "Adamax",
    "AdamW",
    "LBFGS",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "SGD",
    "lr_scheduler",
]


def __getattr__(name):
    # schedulers load on first use (numgrad.optim.lr_scheduler), not with numgrad
    if name == "lr_scheduler":
        return importlib.import_module(".lr_scheduler", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
