"""User-facing entry points to the tape's backward walk."""

from __future__ import annotations

import numpy as np

from ..capture import CAPTURE, capture
from ..storage import TensorBase, _wrap
from ..tape import run_backward
from .higher import run_backward_graph


def _root_grads(tensors, grad_tensors):
    grads = []
    for k, t in enumerate(tensors):
        if not isinstance(t, TensorBase):
            raise TypeError(f"backward: expected tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(
                f"element {k} of tensors does not require grad and does not have a grad_fn"
            )
        g = None if grad_tensors is None else grad_tensors[k]
        api = t._device.arrays
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; got an output of "
                    f"shape {tuple(t._data.shape)}: pass gradient= with that shape"
                )
            ones = api.full(t._data.shape, 1, t._data.dtype)
            if CAPTURE.active:
                attrs = {"shape": t._data.shape, "dtype": t._data.dtype, "value": 1}
                capture("array", "full", (), (ones,), attrs, device=t._device)
            grads.append(ones)
            continue
        if isinstance(g, TensorBase):
            if g._device is not t._device:
                raise RuntimeError(
                    f"invalid gradient at index {k} - expected device {t._device} but got "
                    f"{g._device}"
                )
            arr = g._data
        else:
            arr = api.from_host(np.asarray(g, dtype=t._data.dtype))
        if arr.shape != t._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{k}] has a shape of {tuple(arr.shape)} and "
                f"output[{k}] has a shape of {tuple(t._data.shape)}."
            )
        grads.append(arr if arr.dtype == t._data.dtype else api.cast(arr, t._data.dtype))
    return grads


def _keep_root_grads(roots, given):
    # a gradient the caller passed as a tensor keeps its history (a double backward may
    # differentiate through it, as in a Hessian-vector product's grad_outputs)
    if given is None:
        return
    for k, g in enumerate(given):
        if isinstance(g, TensorBase) and roots[k] is g._data:
            roots[k] = g


def _seq(x):
    if isinstance(x, TensorBase):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on.

    ``create_graph=True`` records the backward pass itself (``autograd/higher.py``): the
    ``.grad`` written then has a ``grad_fn`` and can be differentiated again."""
    tensors = _seq(tensors)
    if grad_tensors is not None:
        grad_tensors = (
            _seq(grad_tensors) if not isinstance(grad_tensors, TensorBase) else [grad_tensors]
        )
    roots = _root_grads(tensors, grad_tensors)
    if create_graph:
        _keep_root_grads(roots, grad_tensors)
        grads = run_backward_graph(tensors, roots, inputs=None if inputs is None else _seq(inputs))
        if inputs is not None:
            for t, g in zip(_seq(inputs), grads):
                if g is not None:
                    t.grad = g if t.grad is None else t.grad + g
        return
    if inputs is None:
        run_backward(tensors, roots, retain_graph=bool(retain_graph))
        return
    inputs = _seq(inputs)
    grads = run_backward(tensors, roots, retain_graph=bool(retain_graph), inputs=inputs)
    for t, g in zip(inputs, grads):
        if g is None:
            continue
        if t.grad is None:
            t.grad = g
        else:
            t._device.arrays.accumulate(t.grad._data, g._data)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=False,
    materialize_grads=False,
):
    """Return d(outputs)/d(inputs) as a tuple, without touching any ``.grad``.

    ``create_graph=True``: the results carry the graph of the backward pass (``grad_fn``), so
    they can be differentiated again (gradient penalties, Hessian-vector products)."""
    outputs = _seq(outputs)
    single = isinstance(inputs, TensorBase)
    inputs = _seq(inputs)
    for k, t in enumerate(inputs):
        if not isinstance(t, TensorBase) or not t.requires_grad:
            raise RuntimeError(f"grad: input {k} does not require grad")
    if grad_outputs is not None:
        grad_outputs = _seq(grad_outputs)
    roots = _root_grads(outputs, grad_outputs)
    if create_graph:
        _keep_root_grads(roots, grad_outputs)
        res = run_backward_graph(outputs, roots, inputs=inputs)
    else:
        res = run_backward(outputs, roots, retain_graph=bool(retain_graph), inputs=inputs)
    for k, g in enumerate(res):
        if g is None:
            if materialize_grads:
                t = inputs[k]
                res[k] = _wrap(t._device.arrays.zeros(t._data.shape, t._data.dtype), t._device)
            elif not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {k}, shape "
                    f"{tuple(inputs[k].shape)}) appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
    return tuple(res) if not single or len(res) != 1 else (res[0],)
