"""``apply``: run one op from the table on tensors and record it on the tape.

This is the hot path of every operation, so it avoids per-call allocation where it can: the
common case (all inputs already one dtype, forward reading exactly its inputs) is a loop over
the arguments, one kernel call and, when gradients are needed, one :class:`~numgrad.tape.Node`.
"""

from __future__ import annotations

import numpy as np

from . import dtypes as D
from .ops.registry import _MISSING, missing_rule_error
from .tape import GRAD_MODE, Node
from .tensor import Tensor, _wrap

_NUMBER = (int, float, bool, np.number, np.bool_)


def _describe(args):
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"tensor(shape={tuple(a._data.shape)}, dtype={a.dtype.name})")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def _promote(op, args, arrays):
    """Cast inputs to one dtype following ``op.promote``; returns the (maybe new) arrays."""
    policy = op.promote
    if len(args) == 2 and policy != "same":
        # the hot case: a floating tensor with a python number keeps the tensor's dtype
        x, y = args
        if type(y) in (float, int) and isinstance(x, Tensor) and arrays[0].dtype.kind == "f":
            return [arrays[0], arrays[0].dtype.type(y)]
        if type(x) in (float, int) and isinstance(y, Tensor) and arrays[1].dtype.kind == "f":
            return [arrays[1].dtype.type(x), arrays[1]]
    # torch's three tiers: tensors with dims decide, then 0-d tensors, then python numbers;
    # a lower tier only matters when it lifts the category (bool < int < float)
    dim_dt = zero_dt = None
    scalars = []
    for a in args:
        if isinstance(a, Tensor):
            dt = a.dtype
            if policy == "same":
                if dim_dt is None:
                    dim_dt = dt
                elif dt is not dim_dt:
                    raise TypeError(
                        f"{op.name}: expected all tensors to have the same dtype, got "
                        f"{_describe(args)}"
                    )
            elif a._data.ndim:
                dim_dt = dt if dim_dt is None else D.promote(dim_dt, dt)
            else:
                zero_dt = dt if zero_dt is None else D.promote(zero_dt, dt)
        elif a is not None:
            if not isinstance(a, _NUMBER):
                raise TypeError(
                    f"{op.name}: unsupported operand {a!r} of type "
                    f"{type(a).__name__}; expected a tensor or a number"
                )
            scalars.append(a)
    if dim_dt is None:
        target = zero_dt
    elif zero_dt is not None and zero_dt._cat > dim_dt._cat:
        target = zero_dt
    else:
        target = dim_dt
    for s in scalars:
        target = D.promote_scalar(target, s)
    if policy == "float" and not target.is_floating_point:
        target = D.DEFAULT_FLOAT
    npt = target.np
    out = []
    for a, arr in zip(args, arrays):
        if isinstance(a, Tensor):
            out.append(arr if arr.dtype == npt else arr.astype(npt))
        elif a is None:
            out.append(arr)
        else:
            out.append(npt.type(arr))
    return out


def apply(op, args, attrs=None, view=False):
    """Run ``op`` on ``args`` (tensors, python numbers or None) and record it if needed.

    Returns the output tensor, or a tuple ``(out, *extras)`` for ops with extra outputs.
    ``view=True`` marks outputs that share memory with the first input (shares its version).
    """
    arrays = []
    need_any = False
    first_dt = None
    mixed = False
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            arrays.append(d)
            if a._rg:
                need_any = True
            if first_dt is None:
                first_dt = d.dtype
            elif d.dtype != first_dt:
                mixed = True
        else:
            arrays.append(a)
            if a is not None:
                mixed = True
    promote = op.promote
    if promote is not None and (mixed or (promote == "float" and first_dt.kind != "f")):
        arrays = _promote(op, args, arrays)
    fwd = op.forward
    kern = fwd.cpu if fwd.cpu is not None else fwd.on("cpu", op.name)
    try:
        if op.plain_forward:
            result = kern(*arrays)
        else:
            scope = dict(zip(op.inputs, arrays))
            if attrs:
                scope.update(attrs)
            result = kern(*[scope[n] for n in fwd.args])
    except ValueError as e:
        if "broadcast" in str(e):
            raise RuntimeError(
                f"{op.name}: shapes cannot be broadcast together: {_describe(args)}"
            ) from None
        raise
    except TypeError as e:
        if "not supported for the input types" in str(e):
            raise TypeError(f"{op.name}: no kernel for these dtypes: {_describe(args)}") from None
        raise
    if op.multi_output:
        out_arr, extras = result[0], result[1:]
    else:
        out_arr, extras = result, ()
    if type(out_arr) is not np.ndarray:
        out_arr = np.asarray(out_arr)
    out = _wrap(out_arr)
    # a result is a view only when it really shares memory: numpy's reshape of a strided array
    # copies, and marking a copy as a view would let an in-place op on it rewrite the base's
    # history (a wrong gradient)
    if view and np.may_share_memory(out_arr, arrays[0]):
        src = args[0]
        out._version = src._version
        if src._base is None:
            out._base = src
            out._viewfn = ((op, attrs),)
        else:
            out._base = src._base
            out._viewfn = src._viewfn + ((op, attrs),)
    if need_any and op.differentiable and GRAD_MODE.enabled:
        _record(op, args, arrays, attrs, out, out_arr, extras)
    if extras:
        return (out, *[_wrap(np.asarray(e)) for e in extras])
    return out


def _record(op, args, arrays, attrs, out, out_arr, extras):
    rules = op.rules
    if len(args) == 1:  # unrolled: most ops have one tensor input
        a = args[0]
        rule = rules[0]
        if rule is None:
            return
        if rule is _MISSING:
            raise missing_rule_error(op, op.inputs[0])
        prev = a._node
        parents = (a if prev is None else prev,)
        needs = (True,)
        shapes = (arrays[0].shape,)
        dtypes = (a._data.dtype,)
    elif len(args) == 2:  # unrolled: binary elementwise ops and linear without bias dominate
        a, b = args
        ra, rb = rules
        na = ra is not None and isinstance(a, Tensor) and a._rg
        nb = rb is not None and isinstance(b, Tensor) and b._rg
        if not (na or nb):
            return
        if (na and ra is _MISSING) or (nb and rb is _MISSING):
            raise missing_rule_error(op, op.inputs[0 if na and ra is _MISSING else 1])
        pa = (a if a._node is None else a._node) if na else None
        pb = (b if b._node is None else b._node) if nb else None
        parents = (pa, pb)
        needs = (na, nb)
        xa, xb = arrays
        shapes = (
            xa.shape if type(xa) is np.ndarray else (),
            xb.shape if type(xb) is np.ndarray else (),
        )
        dtypes = (
            a._data.dtype if isinstance(a, Tensor) else None,
            b._data.dtype if isinstance(b, Tensor) else None,
        )
    else:
        parents = []
        needs = []
        any_need = False
        for a, rule in zip(args, rules):
            if rule is not None and isinstance(a, Tensor) and a._rg:
                if rule is _MISSING:
                    raise missing_rule_error(op, op.inputs[len(parents)])
                prev = a._node
                parents.append(a if prev is None else prev)
                needs.append(True)
                any_need = True
            else:
                parents.append(None)
                needs.append(False)
        if not any_need:
            return
        parents = tuple(parents)
        needs = tuple(needs)
        shapes = tuple([x.shape if type(x) is np.ndarray else () for x in arrays])
        dtypes = tuple([a._data.dtype if isinstance(a, Tensor) else None for a in args])
    node = Node(op, parents, needs, attrs, shapes, dtypes)
    plan = op._save_plan.get(needs)
    if plan is None:
        plan = op.save_plan(needs)
    if plan:
        saved = {}
        versions = []
        index_of = op.index_of
        for name in plan:
            idx = index_of.get(name)
            if idx is not None:
                saved[name] = arrays[idx]
                a = args[idx]
                if isinstance(a, Tensor):
                    versions.append((name, a._version, a._version[0]))
            elif name == op.outputs[0]:
                saved[name] = out_arr
                versions.append((name, out._version, out._version[0]))
            else:
                saved[name] = extras[op.outputs.index(name) - 1]
        node.saved = saved
        node.versions = versions
    out._node = node
    out._rg = True


def apply_variadic(op, tensors, attrs):
    """Run an op whose inputs are a list (cat, stack)."""
    arrays = []
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op.name}: expected a sequence of tensors, got {type(t).__name__}")
        arrays.append(t._data)
    if not arrays:
        raise ValueError(f"{op.name}: expected a non-empty sequence of tensors")
    if len({a.dtype for a in arrays}) > 1:
        target = tensors[0].dtype
        for t in tensors[1:]:
            target = D.promote(target, t.dtype)
        arrays = [a.astype(target.np) if a.dtype != target.np else a for a in arrays]
    fwd = op.forward.on("cpu", op.name)
    try:
        out_arr = fwd(arrays, **attrs)
    except ValueError as e:
        shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
        raise RuntimeError(
            f"{op.name}: cannot combine tensors of shapes {shapes} with {attrs}: {e}"
        ) from None
    out = _wrap(out_arr)
    if GRAD_MODE.enabled and any(t._rg for t in tensors):
        parents = tuple((t._node if t._node is not None else t) if t._rg else None for t in tensors)
        needs = tuple(t._rg for t in tensors)
        attrs = dict(attrs)
        attrs["xs_shapes"] = tuple(a.shape for a in arrays)
        node = Node(
            op,
            parents,
            needs,
            attrs,
            tuple(a.shape for a in arrays),
            tuple(t._data.dtype for t in tensors),  # gradients go back in each input's dtype
        )
        node.saved = {}
        node.versions = []
        out._node = node
        out._rg = True
    return out
