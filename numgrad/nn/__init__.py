"""``numgrad.nn``: Module, Parameter, layers, losses, functional, init and utils."""

from . import functional, init, utils
from .layers import (
    GELU,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ModuleDict,
    ModuleList,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module

# ---- issue 11 section: conv ----
# ---- end section: conv ----
# ---- issue 11 section: layers ----
# ---- end section: layers ----
from .parameter import Parameter

__all__ = [
    "functional",
    "init",
    "utils",
    "Module",
    "Parameter",
    "Linear",
    "Identity",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "GELU",
    "SiLU",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "Dropout",
    "Flatten",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "MSELoss",
    "L1Loss",
    "HuberLoss",
    "SmoothL1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
]

# ---- issue 11 section: conv (__all__ += [...]) ----
# ---- end section: conv ----
# ---- issue 11 section: layers (__all__ += [...]) ----
# ---- end section: layers ----
