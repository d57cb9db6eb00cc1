"""Optimizer update kernels: one fused in-place pass over a parameter per step.

Every kernel takes flat (1-D, contiguous) views of the parameter, its gradient and its state
arrays, plus scalars already computed in Python (bias corrections, ``-lr`` ...).  The callers
cast every scalar to the parameter's numpy dtype first: Numba promotes ``float32 * float64`` (and
``float32 * int``) to float64, while torch does float32 updates in float32 arithmetic, so mixing
in a python float or an integer literal here would silently change the rounding.  For the same
reason there are no numeric literals in the loops.

Each expression keeps the association of the torch op it mirrors (``buf.mul_(m).add_(g,
alpha=a)`` is ``buf * m + a * g``, rounded after the multiply), so float64 results agree with
torch to the last few ulps.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = {"cache": True, "error_model": "numpy"}


@njit(**_JIT)
def sgd_update(
    param,
    grad,
    buf,
    neg_lr,
    weight_decay,
    momentum,
    one_minus_dampening,
    nesterov,
    maximize,
    use_momentum,
    first,
):
    """SGD: ``param += -lr * g`` with optional L2 decay, (Nesterov) momentum and maximize.

    ``buf`` is the momentum buffer (ignored, may be empty, without ``use_momentum``); on the
    ``first`` step it is set to the gradient, as torch clones the gradient into a new buffer.
    """
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * param[i]
        if use_momentum:
            if first:
                b = g
            else:
                b = buf[i] * momentum + one_minus_dampening * g
            buf[i] = b
            if nesterov:
                g = g + momentum * b
            else:
                g = b
        param[i] = param[i] + neg_lr * g


@njit(**_JIT)
def adam_update(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    weight_decay,
    decay,
    w1,
    one_minus_w1,
    beta2,
    one_minus_beta2,
    bc2_sqrt,
    eps,
    neg_step_size,
    amsgrad,
    maximize,
    decoupled,
):
    """Adam / AdamW, torch's non-capturable single-tensor formulation.

    ``decay`` is ``1 - lr * weight_decay`` (AdamW's decoupled decay, applied to the parameter
    before the moments); ``w1`` is ``1 - beta1``, the weight of ``exp_avg.lerp_(g, w1)``.
    ``max_exp_avg_sq`` is ignored (may be empty) without ``amsgrad``.
    """
    # torch's lerp switches formula at weight 0.5 to stay exact near both ends
    small_w1 = abs(w1) < 0.5
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        p = param[i]
        if weight_decay != 0:
            if decoupled:
                p = p * decay
            else:
                g = g + weight_decay * p
        m = exp_avg[i]
        if small_w1:
            m = m + w1 * (g - m)
        else:
            m = g - (g - m) * one_minus_w1
        exp_avg[i] = m
        v = exp_avg_sq[i] * beta2
        v = v + one_minus_beta2 * g * g
        exp_avg_sq[i] = v
        if amsgrad:
            vmax = max_exp_avg_sq[i]
            # torch.maximum propagates NaN from either side
            if v > vmax or v != v:
                vmax = v
            max_exp_avg_sq[i] = vmax
            v = vmax
        denom = np.sqrt(v) / bc2_sqrt + eps
        param[i] = p + neg_step_size * m / denom
