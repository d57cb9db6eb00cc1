"""``numgrad.backends``: torch's namespace of backend switches and availability queries.

torch code sets these flags (``torch.backends.cudnn.benchmark = True``) and asks them
(``torch.backends.mps.is_available()``) before it picks a device.  numgrad has no cuDNN, MPS or
TF32 kernels: the flags hold what is set (with torch's defaults) and change nothing; the
queries answer False, as torch does on a machine without those backends.  (numgrad's own kernel
packages live under ``numgrad.devices``, not here.)
"""

from . import cuda, cudnn, mps, opt_einsum

__all__ = ["cuda", "cudnn", "mps", "opt_einsum"]
