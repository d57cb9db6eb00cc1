"""In-place ops on tensors and the view history they rewrite.

On a tensor outside any graph an in-place op writes straight into its array and bumps its
version.  On a graph tensor (``x.add_(y)``, ``x[i] = v``, ``x.clamp_(...)`` with recording on)
the out-of-place op runs instead and :func:`rebase` makes ``x`` hold the result's values and
history.  When ``x`` is a view, its base's history is rewritten too: the base becomes
``view_scatter(old_base, result)`` and ``x`` a view of that, replaying the chain of view ops
that dispatch recorded on ``x`` (``_base``/``_viewfn``), as torch's CopySlices does.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .capture import CAPTURE, capture
from .dispatch import _describe, apply
from .grad_mode import GRAD_MODE
from .ops.registry import OPS
from .storage import TensorBase, tensor_from
from .tape import adopt, copy_saved

_CAT = {"b": 0, "u": 1, "i": 1, "f": 2}


def view_region(base, chain):
    """Flat indices of ``base`` that the view ``chain`` covers, shaped like the view (a host
    array: an attribute of the view_scatter op).  The chain runs on the base's device."""
    device = base._device
    api = device.arrays
    r = api.from_host(np.arange(base._data.size).reshape(base._data.shape))
    for op, attrs in chain:
        fwd = op.forward
        scope = {"x": r, **(attrs or {})}
        if fwd.plan is not None:  # as dispatch does: shapes and attrs -> the kernel's plan
            scope["x_shape"] = r.shape
            scope["plan"] = fwd.plan_for(scope)
        r = fwd.on(device.type, op.name)(*[scope[n] for n in fwd.args])
    return api.to_host(r)


def rebase(x, result):
    """Make ``x`` hold ``result``'s values and history (an in-place op on a graph tensor).

    If ``x`` is a view, its base's history is rewritten too: the base becomes
    ``view_scatter(old_base, result)`` and ``x`` a view of that, as torch's CopySlices does.
    """
    node = result._node
    if node is not None:
        copy_saved(node, x._data, x._device)  # keep the pre-mutation value backward needs
    x._device.arrays.assign(x._data, result._data)
    if CAPTURE.active:
        capture("inplace", "copy_", (result,), (x,))
    base = x._base
    if node is not None and base is not None and GRAD_MODE.enabled:
        region = view_region(base, x._viewfn)
        new_base = apply(OPS["view_scatter"], (base, result), {"region": region})
        adopt(base, new_base._node)
        v = new_base
        for op, attrs in x._viewfn:
            v = apply(op, (v,), attrs)
        adopt(x, v._node)
    elif node is not None:
        adopt(x, node)
    x._bump()


def binary_inplace(x, name, other):
    """``x.<name>_(other)``: the out-of-place op, its result written into ``x``."""
    x._check_inplace(name + "_")
    res = _BIN[name](x, other)
    if _CAT[res._data.dtype.kind] > _CAT[x._data.dtype.kind]:
        raise RuntimeError(
            f"{name}_: result type {res.dtype.name} can't be cast to the desired output type "
            f"{x.dtype.name} ({_describe((x, other))})"
        )
    if tuple(res._data.shape) != tuple(x._data.shape):
        raise RuntimeError(
            f"{name}_: output with shape {tuple(x._data.shape)} doesn't match the broadcast "
            f"shape {tuple(res._data.shape)}"
        )
    rebase(x, res)
    return x


_BIN = {
    "add": F.add,
    "sub": F.sub,
    "mul": F.mul,
    "div": F.div,
    "pow": F.pow,
    # copy_ replaces x's values and history with src's (x * 0 + src would turn inf into NaN)
    "copy": lambda x, src: F.expand(src, *x.shape),
}


def setitem(x, idx, value):
    index = F._index(idx)
    if GRAD_MODE.enabled and (x._rg or (isinstance(value, TensorBase) and value._rg)):
        x._check_inplace("__setitem__")
        v = (
            value
            if isinstance(value, TensorBase)
            else tensor_from(np.asarray(value, dtype=x._data.dtype), device=x._device)
        )
        if v.dtype != x.dtype:
            v = F._cast(v, x.dtype)
        result = apply(OPS["setitem"], (x, v), {"index": index})
        if result._node is not None:
            F._keep_index(result._node, idx)
        rebase(x, result)
        return
    arr = value._data if isinstance(value, TensorBase) else value
    try:
        if type(x._data) is np.ndarray:
            x._data[index] = arr
        else:  # a device array's own __setitem__ takes no advanced index (array API)
            x._device.arrays.setitem(x._data, index, arr)
    except (ValueError, IndexError) as e:
        raise type(e)(f"{e} (assigning into a tensor of shape {tuple(x.shape)})") from None
    x._bump()
    if CAPTURE.active:
        capture("inplace", "setitem_", (x, value), (x,), {"index": index})


def masked_fill_(x, mask, value):
    """``x[mask] = value``, in place."""
    setitem(x, mask, value)
    return x


def clamp_(x, min=None, max=None):  # noqa: A002
    """``clamp`` in place."""
    x._check_inplace("clamp_")
    rebase(x, F.clamp(x, min, max))
    return x


# ---- in-place forms of tensor ops (issue 11): the out-of-place result becomes x's history ----


def _inplace_result(x, result, name):
    x._check_inplace(name)
    rebase(x, result)
    return x


def scatter_(input, dim, index, src=None, value=None, *, reduce=None):  # noqa: A002
    """In-place ``scatter``."""
    return _inplace_result(
        input, F.scatter(input, dim, index, src, value, reduce=reduce), "scatter_"
    )


def scatter_add_(input, dim, index, src):  # noqa: A002
    """In-place ``scatter_add``."""
    return _inplace_result(input, F.scatter_add(input, dim, index, src), "scatter_add_")


def index_add_(input, dim, index, source, *, alpha=1):  # noqa: A002
    """In-place ``index_add``."""
    return _inplace_result(input, F.index_add(input, dim, index, source, alpha=alpha), "index_add_")


def tril_(input, diagonal=0):  # noqa: A002
    """In-place ``tril``."""
    return _inplace_result(input, F.tril(input, diagonal), "tril_")


def triu_(input, diagonal=0):  # noqa: A002
    """In-place ``triu``."""
    return _inplace_result(input, F.triu(input, diagonal), "triu_")
