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
# isort: off
from .conv import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    ConvTranspose1d,
    ConvTranspose2d,
    MaxPool1d,
    MaxPool2d,
)

# isort: on
# ---- end section: conv ----
# ---- issue 11 section: layers ----
# isort: off
from .layers import (
    BatchNorm1d,
    BatchNorm2d,
    LayerNorm,
    Embedding,
    ELU,
    CELU,
    SELU,
    GLU,
    LogSigmoid,
    Hardtanh,
    ReLU6,
    PReLU,
    Mish,
    Hardswish,
    Hardsigmoid,
    Softsign,
    Tanhshrink,
    Threshold,
    Unflatten,
    ParameterList,
    ParameterDict,
    Bilinear,
    CosineSimilarity,
    PairwiseDistance,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    AlphaDropout,
)
from .loss import KLDivLoss

# isort: on
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
__all__ += [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "MaxPool1d",
    "MaxPool2d",
]
# ---- end section: conv ----
# ---- issue 11 section: layers (__all__ += [...]) ----
__all__ += [
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "Embedding",
    "ELU",
    "CELU",
    "SELU",
    "GLU",
    "LogSigmoid",
    "Hardtanh",
    "ReLU6",
    "PReLU",
    "Mish",
    "Hardswish",
    "Hardsigmoid",
    "Softsign",
    "Tanhshrink",
    "Threshold",
    "Unflatten",
    "ParameterList",
    "ParameterDict",
    "Bilinear",
    "CosineSimilarity",
    "PairwiseDistance",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "KLDivLoss",
]
# ---- end section: layers ----
