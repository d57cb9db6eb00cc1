"""``apply``: run one op from the table on tensors and record it on the tape.

This is the hot path of every operation, so it avoids per-call allocation where it can: the
common case (all inputs already one dtype, forward reading exactly its inputs) is a loop over
the arguments, one kernel call and, when gradients are needed, one :class:`~numgrad.tape.Node`.
"""

from __future__ import annotations

import copy

import numpy as np

from . import dtypes as D
from .grad_mode import GRAD_MODE
from .ops.registry import _MISSING, DtypeError, Kernel, missing_rule_error
from .tape import Node
from .tensor import Tensor, _wrap

_NUMBER = (int, float, bool, np.number, np.bool_)
_TO_FLOAT = frozenset(("float", "floating"))  # promote policies that need a floating dtype
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _describe(args):
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"tensor(shape={tuple(a._data.shape)}, dtype={a.dtype.name})")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def _promote(op, args, arrays):
    """Cast inputs to one dtype following ``op.promote``.

    Returns ``(arrays, half)``: the (maybe new) arrays, and whether the op computes in float16
    (in float32, see :func:`_half_op`).
    """
    policy = op.promote
    if len(args) == 2 and policy != "same":
        # the hot case: a float32/float64 tensor with a python number keeps the tensor's dtype
        x, y = args
        if type(y) in (float, int) and isinstance(x, Tensor):
            dt = arrays[0].dtype
            if dt is _F32 or dt is _F64:
                return [arrays[0], dt.type(y)], False
        if type(x) in (float, int) and isinstance(y, Tensor):
            dt = arrays[1].dtype
            if dt is _F32 or dt is _F64:
                return [dt.type(x), arrays[1]], False
    target = result_type(args, policy, op.name)
    if policy in _TO_FLOAT and not target.is_floating_point:
        if policy == "floating":  # torch refuses integers here (softmax, gelu...)
            raise DtypeError(
                op.name,
                target.np,
                f"\"{op.name}\" not implemented for '{D.torch_name(target.np)}' "
                f"({op.name}: {_describe(args)}; convert with .float())",
            )
        target = D.DEFAULT_FLOAT
    npt = target.np
    # python numbers convert to the result type, also float16 (as torch's add, sub and
    # comparisons do; its mul and div keep 0.1 unrounded, a difference of 1 ulp at most,
    # where unrounded numbers in add/sub would differ from torch's by a cancellation)
    out = []
    for a, arr in zip(args, arrays):
        if isinstance(a, Tensor):
            out.append(arr if arr.dtype == npt else arr.astype(npt))
        elif a is None:
            out.append(arr)
        else:
            # integers wrap into small int types (uint8 - 1 subtracts 255, as in torch)
            out.append(D.scalar_as(arr, npt))
    return out, npt == _F16


def result_type(args, policy="arith", opname="op"):
    """torch.result_type of tensors and python numbers (``None`` entries are skipped).

    torch's three tiers: tensors with dims decide, then 0-d tensors, then python numbers; a
    lower tier only matters when it lifts the category (bool < int < float).  ``policy="same"``
    requires one dtype for all tensors instead.
    """
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
                        f"{opname}: expected all tensors to have the same dtype, got "
                        f"{_describe(args)}"
                    )
            elif a._data.ndim:
                dim_dt = dt if dim_dt is None else D.promote(dim_dt, dt)
            else:
                zero_dt = dt if zero_dt is None else D.promote(zero_dt, dt)
        elif a is not None:
            if not isinstance(a, _NUMBER):
                raise TypeError(
                    f"{opname}: unsupported operand {a!r} of type "
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
    return target


def _upcast(a):
    if type(a) is np.ndarray:
        return a.astype(_F32) if a.dtype == _F16 else a
    return np.float32(a) if type(a) is np.float16 else a


def _downcast(r):
    if isinstance(r, tuple):
        return tuple(_downcast(v) for v in r)
    if isinstance(r, (np.ndarray, np.floating)) and r.dtype.kind == "f":
        with np.errstate(over="ignore"):  # beyond float16's range is inf, as in torch
            return np.asarray(r).astype(_F16)
    return r


def _half_kernel(k, opname, forward):
    fn = k.on("cpu", opname)
    if forward:

        def run(*args):
            return _downcast(fn(*[_upcast(a) for a in args]))
    else:
        # a backward result stays float32: the tape casts each gradient to its input's dtype

        def run(*args):
            return fn(*[_upcast(a) for a in args])

    return Kernel(cpu=run, args=k.args, name=k.name, fresh=k.fresh)


_HALF_OPS = {}


def _half_op(op):
    """``op`` for float16 inputs: the same row with kernels that compute in float32 and store
    float16 (Numba has no float16; torch's CPU kernels compute float16 in float32 too).  Built
    once per op; the tape records it, so backward runs the float32 rules as well."""
    h = _HALF_OPS.get(op)
    if h is None:
        h = copy.copy(op)
        h.forward = _half_kernel(op.forward, op.name, True)
        h.backward = {
            n: k if k is None else _half_kernel(k, op.name, False) for n, k in op.backward.items()
        }
        h.rules = tuple(h.backward.get(n, _MISSING) for n in op.inputs)
        h._save_plan = {}
        _HALF_OPS[op] = h
    return h


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
    half = first_dt is _F16
    if promote is not None and (mixed or (promote in _TO_FLOAT and first_dt.kind != "f")):
        arrays, half = _promote(op, args, arrays)
    elif mixed and not half:
        half = any(type(a) is np.ndarray and a.dtype == _F16 for a in arrays)
    if half and op.half == "float32":
        op = _HALF_OPS.get(op) or _half_op(op)
    fwd = op.forward
    kern = fwd.impls.get("cpu") or fwd.on("cpu", op.name)
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
    except DtypeError as e:
        msg = e.message or f"\"{op.name}\" not implemented for '{D.torch_name(e.dtype)}'"
        raise DtypeError(e.kernel, e.dtype, f"{msg} ({op.name}: {_describe(args)})") from None
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
        outs = [_wrap(np.asarray(e)) for e in extras]
        node = out._node
        if node is not None and node.saved:
            # an extra output that backward reads (max's indices) is the user's tensor too:
            # version-check it like a saved input, so an in-place change raises as in torch
            for name, t in zip(op.outputs[1:], outs):
                if node.saved.get(name) is t._data:
                    node.versions.append((name, t._version, 0))
        return (out, *outs)
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
