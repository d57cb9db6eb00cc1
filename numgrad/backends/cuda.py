"""``numgrad.backends.cuda``: CUDA's math switches (``matmul.allow_tf32`` ...).  The flags keep
what is set, with torch's defaults, and change nothing: numgrad has no TF32 or reduced-precision
CUDA kernels.  ``is_built()`` says whether numgrad's CUDA device can be used here."""


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: settable flags with torch's defaults."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    def __repr__(self):
        return f"<numgrad.backends.cuda.matmul allow_tf32={self.allow_tf32}>"


matmul = _MatmulFlags()

_SDP = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built():
    """Whether numgrad's CUDA device can be used here (a GPU with numba-cuda, or Numba's
    simulator); False on a machine without one, as torch's CPU build answers."""
    from .. import cuda

    return cuda.is_available()


def flash_sdp_enabled():
    """Whether flash attention may be used (a flag only: no CUDA kernels here)."""
    return _SDP["flash"]


def enable_flash_sdp(enabled):
    """Set the flash-attention flag (kept, changes nothing)."""
    _SDP["flash"] = bool(enabled)


def mem_efficient_sdp_enabled():
    """Whether memory-efficient attention may be used (a flag only)."""
    return _SDP["mem_efficient"]


def enable_mem_efficient_sdp(enabled):
    """Set the memory-efficient-attention flag (kept, changes nothing)."""
    _SDP["mem_efficient"] = bool(enabled)


def math_sdp_enabled():
    """Whether the plain attention path may be used (a flag only)."""
    return _SDP["math"]


def enable_math_sdp(enabled):
    """Set the plain-attention flag (kept, changes nothing)."""
    _SDP["math"] = bool(enabled)
