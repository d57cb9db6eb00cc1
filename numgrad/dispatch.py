"""``apply``: run one op from the table on tensors and record it on the tape.

This is the hot path of every operation, so it avoids per-call allocation where it can: the
common case (all inputs already one dtype, forward reading exactly its inputs) is a loop over
the arguments, one kernel call and, when gradients are needed, one :func:`~numgrad.tape.record`.

Ops run on their inputs' device: the kernel is ``kernel.impls[device.type]``, outputs carry
the device, and inputs on two different devices raise torch's error naming both.
"""

from __future__ import annotations

import copy

import numpy as np

from . import dtypes as D
from .capture import CAPTURE, capture_op
from .grad_mode import GRAD_MODE
from .ops.registry import _MISSING, DtypeError, Kernel
from .ops.registry import device_arrays as DEVICE_ARRAYS
from .storage import CPU, TensorBase, _wrap
from .tape import keep, record

_NUMBER = (int, float, bool, np.number, np.bool_)
_TO_FLOAT = frozenset(("float", "floating"))  # promote policies that need a floating dtype
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _describe(args):
    parts = []
    for a in args:
        if isinstance(a, TensorBase):
            parts.append(f"tensor(shape={tuple(a._data.shape)}, dtype={a.dtype.name})")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def _device_error(op, args):
    devices = []
    for a in args:
        if isinstance(a, TensorBase) and a._device not in devices:
            devices.append(a._device)
    return RuntimeError(
        f"Expected all tensors to be on the same device, but found at least two devices, "
        f"{devices[0]} and {devices[1]}! ({op.name}: {_describe(args)})"
    )


def _promote(op, args, arrays, device):
    """Cast inputs to one dtype following ``op.promote``.

    Returns ``(arrays, half)``: the (maybe new) arrays, and whether the op computes in float16
    (in float32, see :func:`_half_op`).
    """
    policy = op.promote
    if len(args) == 2 and policy != "same":
        # the hot case: a float32/float64 tensor with a python number keeps the tensor's dtype
        x, y = args
        if type(y) in (float, int) and isinstance(x, TensorBase):
            dt = arrays[0].dtype
            if dt is _F32 or dt is _F64:
                return [arrays[0], dt.type(y)], False
        if type(x) in (float, int) and isinstance(y, TensorBase):
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
        if isinstance(a, TensorBase):
            out.append(arr if arr.dtype == npt else device.arrays.cast(arr, npt))
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
        if isinstance(a, TensorBase):
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


def _upcast(a, api):
    if type(a) is np.float16:
        return np.float32(a)
    if getattr(a, "dtype", None) == _F16:
        return api.cast(a, _F32)
    return a


def _downcast(r, api):
    if isinstance(r, tuple):
        return tuple(_downcast(v, api) for v in r)
    if isinstance(r, np.floating) or (isinstance(r, api.array_type) and r.dtype.kind == "f"):
        return api.cast(api.asarray(r), _F16)  # beyond float16's range is inf, as in torch
    return r


def _half_kernel(k, opname, forward, device):
    fn = k.on(device, opname)
    api = DEVICE_ARRAYS(device)
    if forward:

        def run(*args):
            return _downcast(fn(*[_upcast(a, api) for a in args]), api)
    else:
        # a backward result stays float32: the tape casts each gradient to its input's dtype

        def run(*args):
            return fn(*[_upcast(a, api) for a in args])

    h = Kernel(args=k.args, name=k.name, fresh=k.fresh, plan=k.plan)
    h.plans = k.plans  # the plan does not depend on the dtype: share the cache
    h.impls[device] = run
    return h


_HALF_OPS = {}


def _half_op(op, device):
    """``op`` for float16 inputs on ``device`` (a name): the same row with kernels that compute
    in float32 and store float16 (Numba has no float16; torch's CPU kernels compute float16 in
    float32 too).  Built once per (op, device); the tape records it, so backward runs the
    float32 rules as well."""
    h = _HALF_OPS.get((op, device))
    if h is None:
        h = copy.copy(op)
        h.forward = _half_kernel(op.forward, op.name, True, device)
        h.backward = {
            n: k if k is None else _half_kernel(k, op.name, False, device)
            for n, k in op.backward.items()
        }
        h.rules = tuple(h.backward.get(n, _MISSING) for n in op.inputs)
        h._save_plan = {}
        _HALF_OPS[(op, device)] = h
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
    device = CPU  # ops without tensor inputs (none today) run on the CPU
    for a in args:
        if isinstance(a, TensorBase):
            d = a._data
            arrays.append(d)
            if a._rg:
                need_any = True
            if first_dt is None:
                first_dt = d.dtype
                device = a._device
            else:
                if d.dtype != first_dt:
                    mixed = True
                if a._device is not device:
                    raise _device_error(op, args)
        else:
            arrays.append(a)
            if a is not None:
                mixed = True
    promote = op.promote
    half = first_dt is _F16
    if promote is not None and (mixed or (promote in _TO_FLOAT and first_dt.kind != "f")):
        arrays, half = _promote(op, args, arrays, device)
    elif mixed and not half:
        half = any(getattr(a, "dtype", None) == _F16 for a in arrays if a is not None)
    kind = device.type
    if half and op.half == "float32":
        op = _HALF_OPS.get((op, kind)) or _half_op(op, kind)
    fwd = op.forward
    kern = fwd.impls.get(kind) or fwd.on(kind, op.name)
    try:
        if op.plain_forward:
            call = arrays
            result = kern(*arrays)
        else:
            scope = dict(zip(op.inputs, arrays))
            if attrs:
                scope.update(attrs)
            if fwd.plan is not None:
                # the plan reads shapes and attrs (cached by them); the kernel reads ``plan``
                if len(arrays) == 1:  # most planned ops (reductions, softmax) take one input
                    scope[op.shape_keys[0]] = getattr(arrays[0], "shape", ())
                else:
                    for key, a in zip(op.shape_keys, arrays):
                        scope[key] = getattr(a, "shape", ())
                scope["plan"] = fwd.plan_for(scope)
            call = [scope[n] for n in fwd.args]
            result = kern(*call)
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
    if type(out_arr) is not np.ndarray:  # a number from a kernel; numpy's arrays pass as they are
        out_arr = device.arrays.asarray(out_arr)
    out = _wrap(out_arr, device)
    # a result is a view only when it really shares memory: numpy's reshape of a strided array
    # copies, and marking a copy as a view would let an in-place op on it rewrite the base's
    # history (a wrong gradient)
    if view and device.arrays.shares_memory(out_arr, arrays[0]):
        src = args[0]
        out._version = src._version
        if src._base is None:
            out._base = src
            out._viewfn = ((op, attrs),)
        else:
            out._base = src._base
            out._viewfn = src._viewfn + ((op, attrs),)
    if need_any and op.differentiable and GRAD_MODE.enabled:
        record(op, op.rules, args, arrays, attrs, out, out_arr, extras, device)
    if extras:
        outs = [_wrap(device.arrays.asarray(e), device) for e in extras]
        node = out._node
        if node is not None and node.saved:
            # an extra output that backward reads (max's indices) is the user's tensor too:
            # version-check it like a saved input, so an in-place change raises as in torch
            for name, t in zip(op.outputs[1:], outs):
                if node.saved.get(name) is t._data:
                    keep(node, name, t._data, t)
        if CAPTURE.active:
            capture_op(op, fwd, args, call, attrs, (out, *outs), arrays)
        return (out, *outs)
    if CAPTURE.active:
        capture_op(op, fwd, args, call, attrs, (out,), arrays)
    return out


def apply_variadic(op, tensors, attrs):
    """Run an op whose inputs are a list (cat, stack)."""
    arrays = []
    for t in tensors:
        if not isinstance(t, TensorBase):
            raise TypeError(f"{op.name}: expected a sequence of tensors, got {type(t).__name__}")
        arrays.append(t._data)
    if not arrays:
        raise ValueError(f"{op.name}: expected a non-empty sequence of tensors")
    device = tensors[0]._device
    for t in tensors:
        if t._device is not device:
            raise _device_error(op, tensors)
    if len({a.dtype for a in arrays}) > 1:
        target = tensors[0].dtype
        for t in tensors[1:]:
            target = D.promote(target, t.dtype)
        arrays = [device.arrays.cast(a, target.np) if a.dtype != target.np else a for a in arrays]
    fwd = op.forward.on(device.type, op.name)
    try:
        out_arr = fwd(arrays, **attrs)
    except ValueError as e:
        shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
        raise RuntimeError(
            f"{op.name}: cannot combine tensors of shapes {shapes} with {attrs}: {e}"
        ) from None
    out = _wrap(out_arr, device)
    if GRAD_MODE.enabled and any(t._rg for t in tensors):
        # one rule for every input; gradients go back in each input's dtype
        rec_attrs = {**attrs, "xs_shapes": tuple(a.shape for a in arrays)}
        rules = op.rules * len(tensors)
        record(op, rules, tuple(tensors), arrays, rec_attrs, out, out_arr, (), device)
    if CAPTURE.active:
        scope = {op.inputs[0]: tuple(arrays), **attrs}
        call = [scope[n] for n in op.forward.args]
        capture_op(op, op.forward, tensors, call, attrs, (out,), arrays)
    return out
