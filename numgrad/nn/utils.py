"""Gradient clipping (``numgrad.nn.utils``)."""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..grad_mode import no_grad
from ..storage import CPU
from ..tensor import Tensor, _wrap


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so their joint norm is at most ``max_norm``; returns the
    total norm before clipping (torch's formula: ``clip_coef = max_norm / (total + 1e-6)``)."""
    grads = _grads(parameters)
    if not grads:
        return _wrap(np.asarray(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if grads[0]._device is not CPU:
        return _clip_on_device(grads, max_norm, norm_type, error_if_nonfinite)
    if math.isinf(norm_type):
        norms = [np.abs(g._data).max() if g._data.size else 0.0 for g in grads]
        total = max(norms)
    else:
        total = sum(
            float(np.sum(np.abs(g._data.astype(np.float64)) ** norm_type)) for g in grads
        ) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients is non-finite, so "
            "it cannot be clipped. Set error_if_nonfinite=False to skip the check"
        )
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g._data *= g._data.dtype.type(coef)
    return _wrap(np.asarray(total, dtype=grads[0]._data.dtype))


def _clip_on_device(grads, max_norm, norm_type, error_if_nonfinite):
    """clip_grad_norm_ with device ops, as torch computes it on a GPU: the norm of the
    per-gradient norms, and each gradient scaled in place by min(1, max_norm / (total + 1e-6));
    no copy to the host unless ``error_if_nonfinite`` asks for a check."""
    with no_grad():
        norms = F.stack([F.norm(g, norm_type) for g in grads])
        total = F.norm(norms, norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients is non-finite, so "
                "it cannot be clipped. Set error_if_nonfinite=False to skip the check"
            )
        coef = F.clamp(float(max_norm) / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    c = float(clip_value)
    for g in _grads(parameters):
        if g._device is CPU:
            np.clip(g._data, -c, c, out=g._data)
        else:
            with no_grad():
                g.clamp_(-c, c)


def parameters_to_vector(parameters):
    parameters = list(parameters)
    if parameters and parameters[0]._device is not CPU:
        with no_grad():
            return F.cat([p.reshape(-1) for p in parameters])
    return _wrap(np.concatenate([p._data.reshape(-1) for p in parameters]))
