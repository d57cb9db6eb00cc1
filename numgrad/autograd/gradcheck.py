"""Finite-difference checks of analytical gradients (torch.autograd.gradcheck's contract)."""

from __future__ import annotations

import numpy as np

from ..storage import TensorBase
from .engine import grad as _grad


class GradcheckError(RuntimeError):
    pass


def _outputs(fn, inputs):
    out = fn(*inputs)
    return (out,) if isinstance(out, TensorBase) else tuple(out)


def numerical_jacobian(fn, inputs, k, eps):
    """d(all outputs, flattened)/d(inputs[k]) by central differences, shape (n_out, n_in)."""
    x = inputs[k]._data
    flat = x.reshape(-1)
    cols = []
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        plus = np.concatenate([o._data.reshape(-1) for o in _outputs(fn, inputs)])
        flat[i] = orig - eps
        minus = np.concatenate([o._data.reshape(-1) for o in _outputs(fn, inputs)])
        flat[i] = orig
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=1)


def analytical_jacobian(fn, inputs, k):
    """Rows of d(outputs)/d(inputs[k]), one backward pass per output element."""
    outs = _outputs(fn, inputs)
    rows = []
    for m, o in enumerate(outs):
        for j in range(o._data.size):
            seed = np.zeros(o._data.shape, dtype=o._data.dtype)
            seed.reshape(-1)[j] = 1
            out_m = _outputs(fn, inputs)[m]
            (g,) = _grad(
                out_m,
                [inputs[k]],
                grad_outputs=[seed],
                allow_unused=True,
                materialize_grads=True,
            )
            rows.append(g._data.reshape(-1))
    return np.stack(rows, axis=0)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare backward's Jacobian with central finite differences for every input that
    requires grad.  Inputs should be float64 tensors."""
    inputs = tuple(inputs) if not isinstance(inputs, TensorBase) else (inputs,)
    for k, x in enumerate(inputs):
        if not isinstance(x, TensorBase) or not x.requires_grad:
            continue
        if x._data.dtype != np.float64:
            import warnings

            warnings.warn(
                f"gradcheck input {k} is {x.dtype.name}, not float64; expect noise", stacklevel=2
            )
        num = numerical_jacobian(fn, inputs, k, eps)
        ana = analytical_jacobian(fn, inputs, k)
        if not np.allclose(ana, num, rtol=rtol, atol=atol, equal_nan=True):
            diff = np.abs(ana - num).max()
            msg = (
                f"gradcheck: Jacobian mismatch for input {k} (shape {tuple(x.shape)}): "
                f"max abs difference {diff:.3g}\nnumerical:\n{num}\nanalytical:\n{ana}"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
