"""``numgrad.distributions``: the probability distributions of ``torch.distributions`` that
policy-gradient and VAE code uses - :class:`Categorical`, :class:`OneHotCategorical`,
:class:`Normal`, :class:`Bernoulli`, :class:`Uniform` - with ``kl_divergence`` between pairs of
the same family and ``constraints``.

Every ``log_prob``/``entropy``/``rsample`` is built from public differentiable numgrad ops, so
gradients flow as in torch.  ``validate_args`` (on by default, as torch's) checks parameters
and values with torch's ValueError messages.  Samples come from numgrad's global random stream
(``numgrad.manual_seed``): reproducible for a seed, but not the numbers torch draws.
"""

from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .normal import Normal, Uniform

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "OneHotCategorical",
    "Uniform",
    "constraints",
    "kl_divergence",
    "register_kl",
]
