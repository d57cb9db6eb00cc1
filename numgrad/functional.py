"""Public tensor functions (``numgrad.exp``, ``numgrad.sum`` ...).  Each validates its arguments,
then runs one op from the table through :func:`numgrad.dispatch.apply`; composites (``var``,
``norm``, ``split``) are built from those ops, micrograd-style.

The Tensor methods and operators are these functions themselves, listed in the class body of
:class:`numgrad.tensor.Tensor`; the in-place forms and the view history they rewrite are in
:mod:`numgrad.inplace`.  This module sits below both: it knows tensors as
:class:`~numgrad.storage.TensorBase` and makes them with ``_wrap``/``tensor_from``."""

from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple

import numpy as np

from . import dtypes as D
from .capture import CAPTURE, capture_op, host_read
from .dispatch import _describe, apply, apply_variadic, result_type
from .grad_mode import GRAD_MODE, no_grad
from .ops.linalg import check_matmul
from .ops.reduce import normalize_dims
from .ops.registry import OPS
from .ops.shape import _is_basic
from .ops.transfer import transfer as _transfer
from .random import generator as _np_gen
from .storage import TensorBase, _norm_dim, _wrap, check_device, host_data, tensor_from
from .tape import keep, record

_NUM = (int, float, bool, np.number, np.bool_)


def _t(x, name="input"):
    if isinstance(x, TensorBase):
        return x
    if isinstance(x, _NUM):
        return x
    if isinstance(x, (list, tuple, np.ndarray)):
        return tensor_from(x)
    raise TypeError(f"{name}: expected a tensor or a number, got {type(x).__name__}")


def _need_tensor(x, fname):
    if not isinstance(x, TensorBase):
        raise TypeError(f"{fname}(): argument 'input' must be a Tensor, not {type(x).__name__}")
    return x


# ---- arithmetic -------------------------------------------------------------------------------


def add(x, y, alpha=1):
    """x + alpha * y, broadcasting."""
    if alpha != 1:
        y = mul(y, alpha)
    return apply(OPS["add"], (_t(x), _t(y)))


_BOOL = np.dtype(np.bool_)


def _is_bool(v):
    if isinstance(v, TensorBase):
        return v._data.dtype is _BOOL
    return v.__class__ is bool or v.__class__ is np.bool_


def sub(x, y, alpha=1):
    x, y = _t(x), _t(y)
    if _is_bool(x) or _is_bool(y):
        # torch refuses a bool operand even when the other one would promote it
        if _is_bool(x) and _is_bool(y):
            what, hint = "two bool tensors", "Use the `^` or `logical_xor()` operator instead."
        else:
            what = "a bool tensor"
            hint = "If you are trying to invert a mask, use the `~` or `logical_not()` instead."
        raise RuntimeError(
            f"Subtraction, the `-` operator, with {what} is not supported. {hint} "
            f"({_describe((x, y))})"
        )
    if alpha != 1:
        y = mul(y, alpha)
    return apply(OPS["sub"], (x, y))


def mul(x, y):
    return apply(OPS["mul"], (_t(x), _t(y)))


def div(x, y, rounding_mode=None):
    if rounding_mode is not None:
        raise NotImplementedError("div(rounding_mode=...) is not supported; use // on numpy data")
    return apply(OPS["div"], (_t(x), _t(y)))


true_divide = divide = div
multiply = mul
subtract = sub


def pow(x, y):  # noqa: A001  (torch's name)
    if type(y) is bool and isinstance(x, TensorBase) and x._data.dtype == np.bool_:
        # torch: a bool tensor to a python bool power stays bool (x ** False is all True)
        return clone(x) if y else _wrap(np.ones(x._data.shape, np.bool_), x._device)
    if type(y) is int and isinstance(x, TensorBase) and x._data.dtype.kind in "biu":
        # torch checks an integer exponent against the integer tensor's type: a negative one
        # would need a fraction, a too-large one would wrap
        if y < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if x._data.dtype != np.bool_:
            D.checked_int(y, x._data.dtype, "exponent")
    return apply(OPS["pow"], (_t(x), _t(y)))


def _check_int_divisor(x, y, fname):
    """Integer division by zero has no value: torch raises "ZeroDivisionError", Numba would
    return 0 silently.  The divisor is checked as the op will see it: converted to the result
    type (uint8 // 256 divides by 0)."""
    if _is_bool(x) and _is_bool(y):
        return  # bool // bool is refused by the kernel, as in torch
    dt = result_type((x, y)).np
    if dt.kind not in "iu":
        return
    if isinstance(y, TensorBase):
        zero = not host_data(y, check_only=True).astype(dt, copy=False).all()
    else:
        zero = D.scalar_as(y, dt) == 0
    if zero:
        raise RuntimeError(f"ZeroDivisionError: integer {fname} by zero ({_describe((x, y))})")


def floor_divide(x, y):
    """Elementwise ``floor(x / y)`` (Python's ``//``); integer inputs stay integer, as in torch."""
    x, y = _t(x), _t(y)
    _check_int_divisor(x, y, "floor_divide")
    return apply(OPS["floor_divide"], (x, y))


def remainder(x, y):
    """Elementwise ``x - floor(x / y) * y`` (Python's ``%``: the sign of ``y``), as torch."""
    x, y = _t(x), _t(y)
    _check_int_divisor(x, y, "remainder")
    return apply(OPS["remainder"], (x, y))


def neg(x):
    return apply(OPS["neg"], (_need_tensor(x, "neg"),))


negative = neg


def maximum(x, y):
    return apply(OPS["maximum"], (_t(x), _t(y)))


def minimum(x, y):
    return apply(OPS["minimum"], (_t(x), _t(y)))


def square(x):
    if isinstance(x, TensorBase) and x._data.dtype == np.bool_:
        return pow(x, 2)  # torch: int64, where bool * bool would stay bool
    return mul(x, x)


def _cmp(name):
    def f(x, y):
        return apply(OPS[name], (_t(x), _t(y)))

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}`` comparison (bool result, no gradient)."
    return f


lt, le, gt, ge, eq, ne = (_cmp(n) for n in ("lt", "le", "gt", "ge", "eq", "ne"))
less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne


def logical_not(x):
    return apply(OPS["logical_not"], (_need_tensor(x, "logical_not").bool(),))


# ``~ & | ^`` work on the arrays directly (integer and bool tensors; no gradient, no op row)


def bitwise_not(x):
    """``~x``: logical not of a bool tensor, bitwise not of an integer one."""
    if x._data.dtype == np.bool_:
        return logical_not(x)
    return _wrap(~x._data, x._device)


def bitwise_and(x, y):
    return _wrap(x._data & _index(y), x._device)


def bitwise_or(x, y):
    return _wrap(x._data | _index(y), x._device)


def bitwise_xor(x, y):
    return _wrap(x._data ^ _index(y), x._device)


def _unary(name):
    op = OPS[name]

    def f(x):
        return apply(op, (_need_tensor(x, name),))

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}``, differentiable."
    return f


exp, log, sqrt, abs, tanh, sigmoid, relu, sign = (  # noqa: A001
    _unary(n) for n in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sign")
)
absolute = abs


def _rounding(name):
    op = OPS[name]

    def f(x):
        x = _need_tensor(x, name)
        kind = x._data.dtype.kind
        if kind in "iu":  # integers are already whole: torch returns a copy, same dtype
            return clone(x)
        if kind == "b":
            raise NotImplementedError(f"\"{name}\" not implemented for 'Bool'")
        return apply(op, (x,))

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}`` (gradient 0); integer tensors are returned unchanged."
    return f


round, floor, ceil, trunc = (  # noqa: A001
    _rounding(n) for n in ("round", "floor", "ceil", "trunc")
)


def all(x, dim=None, keepdim=False):  # noqa: A001
    """True where every element (along ``dim``) is non-zero; no gradient."""
    x = _need_tensor(x, "all")
    axes = normalize_dims(dim, x.ndim)
    out = np.all(host_data(x), axis=axes, keepdims=keepdim)
    out = out.astype(np.uint8) if x._data.dtype == np.uint8 else out  # torch: uint8 stays
    return _wrap(np.asarray(out), x._device)


def any(x, dim=None, keepdim=False):  # noqa: A001
    """True where some element (along ``dim``) is non-zero; no gradient."""
    x = _need_tensor(x, "any")
    axes = normalize_dims(dim, x.ndim)
    out = np.any(host_data(x), axis=axes, keepdims=keepdim)
    out = out.astype(np.uint8) if x._data.dtype == np.uint8 else out  # torch: uint8 stays
    return _wrap(np.asarray(out), x._device)


def rsqrt(x):
    return div(1.0, sqrt(x))


def where(condition, x=None, y=None):
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (gradients flow to both)."""
    cond = _need_tensor(condition, "where")
    if x is None and y is None:
        return tuple(_wrap(i, cond._device) for i in np.nonzero(host_data(cond)))
    if cond._data.dtype != np.bool_:
        raise TypeError(
            f"where expected condition to be a boolean tensor, but got a tensor with "
            f"dtype {cond.dtype.name}"
        )
    x, y = _t(x, "where"), _t(y, "where")
    dt = None
    for v in (x, y):
        if isinstance(v, TensorBase):
            dt = v.dtype if dt is None else D.promote(dt, v.dtype)
    for v in (x, y):
        if not isinstance(v, TensorBase):
            dt = (
                D.promote_scalar(dt, v)
                if dt is not None
                else (D.DEFAULT_FLOAT if isinstance(v, float) else D.int64)
            )
    args = []
    for v in (x, y):
        if isinstance(v, TensorBase):
            args.append(v if v.dtype is dt else _cast(v, dt))
        else:
            args.append(D.scalar_as(v, dt.np))  # wraps into small int types, as torch
    return apply(OPS["where"], (cond, *args))


def masked_fill(x, mask, value):
    """``value`` where ``mask`` holds, else ``x``; the result keeps ``x``'s dtype (torch)."""
    x = _need_tensor(x, "masked_fill")
    if isinstance(value, TensorBase):
        if value.dtype is not x.dtype:
            value = _cast(value, x.dtype)
    else:
        value = _fill_value(value, x.dtype, "masked_fill")
    return where(mask, value, x)


def _fill_value(value, dt, fname):
    """A python number stored into a tensor of dtype ``dt``, converted as torch does: floats
    truncate into integer types, integers are range-checked (uint8 takes -1 as 255)."""
    npt = dt.np
    if npt.kind in "iu":
        if isinstance(value, (float, np.floating)):
            if not math.isfinite(value):
                raise RuntimeError(f"{fname}: value {value} cannot be converted to {dt.name}")
            value = int(value)
        return D.checked_int(value, npt, f"{fname} value")
    return npt.type(value)


def clamp(x, min=None, max=None):  # noqa: A002
    """Clamp to ``[min, max]``; the gradient passes where ``min <= x <= max``."""
    x = _need_tensor(x, "clamp")
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, TensorBase) or isinstance(max, TensorBase):
        # one op with torch's gradients (maximum/minimum would split ties); an absent bound is
        # the widest value of the result's type, so it never clips nor changes the promotion
        dt = x.dtype
        for b in (min, max):
            if isinstance(b, TensorBase):
                dt = D.promote(dt, b.dtype)
            elif isinstance(b, float):
                dt = D.promote(dt, D.DEFAULT_FLOAT)
        if dt.is_floating_point:
            lo, hi = -np.inf, np.inf
        elif dt.np == np.bool_:
            lo, hi = False, True
        else:
            lo, hi = int(np.iinfo(dt.np).min), int(np.iinfo(dt.np).max)
        lo = _t(min, "clamp") if min is not None else lo
        hi = _t(max, "clamp") if max is not None else hi
        two_sided = min is not None and max is not None
        return apply(OPS["clamp_tensor"], (x, lo, hi), {"two_sided": two_sided})
    # number bounds promote like operands (torch): clamp(int, 0.5) is float32, clamp(bool, 0, 1)
    # int64; an integer bound converts with torch's overflow check (uint8 with -1 wraps to 255)
    dt = x.dtype
    for b in (min, max):
        if b is not None:
            dt = D.promote_scalar(dt, b)
    if dt is not x.dtype:
        x = _cast(x, dt)
    if dt.is_floating_point:
        lo = -np.inf if min is None else float(min)
        hi = np.inf if max is None else float(max)
    else:
        info = np.iinfo(dt.np)
        lo = info.min if min is None else D.checked_int(min, dt.np, "clamp min")
        hi = info.max if max is None else D.checked_int(max, dt.np, "clamp max")
    return apply(OPS["clamp"], (x,), {"lo": lo, "hi": hi})


clip = clamp


def clamp_min(x, min):  # noqa: A002
    return clamp(x, min=min)


def clamp_max(x, max):  # noqa: A002
    return clamp(x, max=max)


def _cast(x, dt):
    return apply(OPS["cast"], (x,), {"dtype": dt.np})


def clone(x):
    return apply(OPS["clone"], (_need_tensor(x, "clone"),))


def _to_device(x, device):
    """``x`` copied to ``device``; differentiable (the gradient is copied back), as torch's."""
    op = OPS["to_device"]
    arr = _transfer(x._data, x._device, device)
    out = _wrap(arr, device)
    attrs = {"source": x._device, "device": device}
    if x._rg and GRAD_MODE.enabled:
        record(op, op.rules, (x,), (x._data,), attrs, out, arr, (), device)
    if CAPTURE.active:
        capture_op(op, op.forward, (x,), (x._data, x._device, device), attrs, (out,))
    return out


# ---- reductions -------------------------------------------------------------------------------


def sum(x, dim=None, keepdim=False, dtype=None):  # noqa: A001
    """Sum over ``dim`` (int, tuple or None for all); bool/int sum to int64, like torch."""
    x = _need_tensor(x, "sum")
    if dtype is not None:
        x = x.to(dtype)
    out = apply(OPS["sum"], (x,), {"axes": normalize_dims(dim, x.ndim), "keepdim": keepdim})
    if dtype is not None and out.dtype is not D.as_dtype(dtype):
        out = _cast(out, D.as_dtype(dtype))  # integers sum in int64; sum(dtype=int32) wraps back
    return out


def mean(x, dim=None, keepdim=False, dtype=None):
    x = _need_tensor(x, "mean")
    if dtype is not None:
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be floating point, but got "
            f"{x.dtype.name}"
        )
    return apply(OPS["mean"], (x,), {"axes": normalize_dims(dim, x.ndim), "keepdim": keepdim})


MinMax = namedtuple("MinMax", ["values", "indices"])


def _maxmin(x, dim, keepdim, sign, fname):
    x = _need_tensor(x, fname)
    if isinstance(dim, TensorBase):
        return (maximum if sign > 0 else minimum)(x, dim)
    if dim is None:
        return apply(OPS["max_all"], (x,), {"sign": sign})
    axis = _norm_dim(dim, x.ndim)
    if x.ndim == 0:
        return MinMax(x.clone(), _wrap(np.zeros((), dtype=np.int64), x._device))
    vals, idx = apply(OPS["max_dim"], (x,), {"axis": axis, "keepdim": keepdim, "sign": sign})
    return MinMax(vals, idx)


def max(x, dim=None, keepdim=False):  # noqa: A001
    """Whole-tensor max, or ``(values, indices)`` along ``dim``; ``max(a, b)`` is ``maximum``."""
    return _maxmin(x, dim, keepdim, 1, "max")


def min(x, dim=None, keepdim=False):  # noqa: A001
    return _maxmin(x, dim, keepdim, -1, "min")


def amax(x, dim=None, keepdim=False):
    """Max over ``dim`` (int or tuple); ties share the gradient evenly, like torch.amax."""
    x = _need_tensor(x, "amax")
    axes = normalize_dims(dim, x.ndim)
    return apply(OPS["amax"], (x,), {"axes": axes, "keepdim": keepdim, "sign": 1})


def amin(x, dim=None, keepdim=False):
    x = _need_tensor(x, "amin")
    axes = normalize_dims(dim, x.ndim)
    return apply(OPS["amax"], (x,), {"axes": axes, "keepdim": keepdim, "sign": -1})


def _argmaxmin(x, dim, keepdim, sign, fname):
    x = _need_tensor(x, fname)
    if x._data.dtype == np.bool_:
        raise RuntimeError(f"{fname}(): does not support bool input (shape {tuple(x.shape)})")
    with no_grad():
        if dim is None:
            flat = x.reshape(-1)
            idx = _maxmin(flat, 0, False, sign, fname).indices
            return idx.reshape((1,) * x.ndim) if keepdim else idx
        return _maxmin(x, dim, keepdim, sign, fname).indices


def argmax(x, dim=None, keepdim=False):
    return _argmaxmin(x, dim, keepdim, 1, "argmax")


def argmin(x, dim=None, keepdim=False):
    return _argmaxmin(x, dim, keepdim, -1, "argmin")


def _var_std(name, x, dim, unbiased, keepdim, correction):
    x = _need_tensor(x, name)
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            f"{name}(): std and var only support floating point dtypes, got {x.dtype.name}"
        )
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = normalize_dims(dim, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    if n - correction <= 0:
        warnings.warn(
            f"{name}(): degrees of freedom is <= 0 (reducing {n} elements with correction "
            f"{correction}); the result is inf or NaN",
            stacklevel=3,
        )
    full = dim is None or x.ndim == 0
    attrs = {"axes": axes, "keepdim": keepdim, "correction": correction, "full": full}
    return apply(OPS[name], (x,), attrs)


def var(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance over ``dim`` with ``correction`` (default 1, Bessel's); torch's gradient."""
    return _var_std("var", x, dim, unbiased, keepdim, correction)


def std(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation; the gradient is 0 (not NaN) where it is 0, as in torch."""
    return _var_std("std", x, dim, unbiased, keepdim, correction)


def norm(x, p=2, dim=None, keepdim=False):
    """Vector p-norm over ``dim`` (any real p, inf, -inf, 0, "fro"); torch's gradient, which is
    0 (not NaN) for a zero vector."""
    x = _need_tensor(x, "norm")
    if p == "fro":
        p = 2
    elif p in ("inf", "-inf"):
        p = float(p)
    elif isinstance(p, str) or not isinstance(p, _NUM):
        raise NotImplementedError(f"norm: p={p!r} is not supported (vector norms only)")
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"norm(): expected a floating point tensor as input, got {x.dtype.name}")
    attrs = {"axes": normalize_dims(dim, x.ndim), "keepdim": keepdim, "p": float(p)}
    return apply(OPS["norm"], (x,), attrs)


# ---- linear algebra ---------------------------------------------------------------------------


def matmul(a, b):
    """torch.matmul semantics: 1-D dot, 2-D matrix product, batched with broadcasting."""
    a, b = _need_tensor(a, "matmul"), _need_tensor(b, "matmul")
    check_matmul(tuple(a._data.shape), tuple(b._data.shape))
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"matmul: expected both arguments to have the same dtype, but got "
            f"{a.dtype.name} and {b.dtype.name}"
        )
    return apply(OPS["matmul"], (a, b))


def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(
            f"mm: expected 2-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return matmul(a, b)


def bmm(a, b):
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(
            f"bmm: expected 3-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return matmul(a, b)


def dot(a, b):
    a, b = _need_tensor(a, "dot"), _need_tensor(b, "dot")
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(
            f"dot: 1D tensors expected, but got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(
            f"dot: inconsistent tensor size, expected tensors of the same size, "
            f"got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return matmul(a, b)


def mv(a, v):
    return matmul(a, v)


def outer(a, b):
    return mul(a.reshape(-1, 1), b.reshape(1, -1))


# ---- shapes and indexing ----------------------------------------------------------------------


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x, *shape):
    x = _need_tensor(x, "reshape")
    shape = _shape_arg(shape)
    size = x._data.size
    known = 1
    neg = 0
    for s in shape:
        if s == -1:
            neg += 1
        else:
            known *= s
    if neg > 1 or (neg == 0 and known != size) or (neg == 1 and (known == 0 or size % known)):
        raise RuntimeError(
            f"shape '{list(shape)}' is invalid for input of size {size} "
            f"(shape {tuple(x._data.shape)})"
        )
    return apply(OPS["reshape"], (x,), {"shape": shape}, view=True)


def view(x, *shape):
    """Like ``reshape`` but never copies: raises, as torch does, when the new shape cannot be
    expressed over the tensor's existing memory (writes through a copy would be lost)."""
    out = reshape(x, *shape)
    # apply marked the result a view only if it shares memory with x
    if out._base is None and x._data.size:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (shape "
            f"{tuple(x._data.shape)}, strides {x._data.strides}, requested "
            f"{list(_shape_arg(shape))}): at least one dimension spans across two contiguous "
            "subspaces. Use .reshape(...) instead."
        )
    return out


def flatten(x, start_dim=0, end_dim=-1):
    x = _need_tensor(x, "flatten")
    if x.ndim == 0:
        return reshape(x, 1)
    s = _norm_dim(start_dim, x.ndim)
    e = _norm_dim(end_dim, x.ndim)
    shp = tuple(x.shape)
    n = 1
    for v in shp[s : e + 1]:
        n *= v
    return reshape(x, shp[:s] + (n,) + shp[e + 1 :])


def unflatten(x, dim, sizes):
    d = _norm_dim(dim, x.ndim)
    shp = tuple(x.shape)
    return reshape(x, shp[:d] + tuple(sizes) + shp[d + 1 :])


def squeeze(x, dim=None):
    x = _need_tensor(x, "squeeze")
    shp = tuple(x.shape)
    if dim is None:
        new = tuple(s for s in shp if s != 1)
    else:
        dims = normalize_dims(dim, x.ndim)
        new = tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1))
    return reshape(x, new)


def unsqueeze(x, dim):
    x = _need_tensor(x, "unsqueeze")
    d = _norm_dim(dim, x.ndim + 1)
    shp = tuple(x.shape)
    return reshape(x, shp[:d] + (1,) + shp[d:])


def permute(x, *dims):
    x = _need_tensor(x, "permute")
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(
            f"permute: number of dims {len(dims)} does not match tensor of shape {tuple(x.shape)}"
        )
    perm = tuple(_norm_dim(d, x.ndim) for d in dims)
    if sorted(perm) != list(range(x.ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of {x.ndim} dims")
    return apply(OPS["permute"], (x,), {"perm": perm}, view=True)


def transpose(x, dim0, dim1):
    x = _need_tensor(x, "transpose")
    n = x.ndim
    if n == 0:
        return x
    a, b = _norm_dim(dim0, n), _norm_dim(dim1, n)
    perm = list(range(n))
    perm[a], perm[b] = perm[b], perm[a]
    return apply(OPS["permute"], (x,), {"perm": tuple(perm)}, view=True)


swapaxes = transpose


def t(x):
    if x.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but got shape {tuple(x.shape)}"
        )
    return transpose(x, 0, 1) if x.ndim == 2 else x


def expand(x, *sizes):
    x = _need_tensor(x, "expand")
    sizes = _shape_arg(sizes)
    shp = tuple(x.shape)
    lead = len(sizes) - len(shp)
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be >= the "
            f"number of dims of shape {shp}"
        )
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            target.append(s)
            continue
        cur = shp[i - lead]
        if s == -1:
            target.append(cur)
        elif cur == 1 or cur == s:
            target.append(s)
        else:
            raise RuntimeError(
                f"expand: size {s} at dim {i} does not match size {cur} of shape "
                f"{shp} (only singleton dims can be expanded)"
            )
    return apply(OPS["expand"], (x,), {"shape": tuple(target)}, view=True)


def broadcast_to(x, shape):
    return expand(x, *shape)


def _index(idx):
    """Convert tensors inside an index to numpy arrays."""
    if isinstance(idx, tuple):
        return tuple(_index(i) for i in idx)
    if isinstance(idx, TensorBase):
        return idx._data
    if isinstance(idx, list):
        arr = np.asarray([host_data(i) if isinstance(i, TensorBase) else i for i in idx])
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)  # x[[]] selects nothing, as in torch (numpy: float64)
        if arr.dtype.kind not in "biu":
            raise IndexError(f"tensors used as indices must be long or bool, got values {idx!r}")
        return arr
    return idx


def _keep_index(node, idx):
    """Protect the index a recorded getitem/setitem reads again in backward.

    Backward scatters the gradient through the index, so it must still be the forward's: the
    user's numpy arrays are copied (torch's own from_numpy would share them), and the arrays of
    index tensors are version-checked like saved tensors, so an in-place change raises torch's
    "modified by an inplace operation" error.  (A change through ``.data`` is not tracked, as
    in torch; the backward kernels re-check bounds for it.)  Runs only when the op recorded.
    """
    if isinstance(idx, TensorBase):  # the common case: one index tensor
        _watch_index(node, ((idx, "index tensor"),))
        return
    if type(idx) is np.ndarray:
        node.attrs = {**node.attrs, "index": node.attrs["index"].copy()}
        return
    if not isinstance(idx, tuple):
        return  # a list became a fresh array in _index; ints and slices hold no data
    tensors = [i for i in idx if isinstance(i, TensorBase)]
    arrays = {id(i) for i in idx if type(i) is np.ndarray}
    if arrays:
        index = node.attrs["index"]  # a tuple, possibly without the ints (_split_int_advanced)
        index = tuple(i.copy() if id(i) in arrays else i for i in index)
        node.attrs = {**node.attrs, "index": index}
    if tensors:
        _watch_index(node, [(t, f"index tensor {k}") for k, t in enumerate(tensors)])


def _watch_index(node, named):
    # not "index": saved names enter the kernels' scope (attrs win there, but keep it clear)
    for t, name in named:
        keep(node, name, t._data, t)


def _has_mask(index):
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.any(
        getattr(i, "dtype", None) == np.bool_ and getattr(i, "ndim", 0) > 0 for i in parts
    )


def _split_int_advanced(index):
    """torch applies integer indices as selections before advanced (array) indexing, while
    numpy treats them as advanced indices too, which moves dims differently.  Return the
    (basic, advanced) pair to apply in turn, or None when numpy's rules already agree."""
    if not isinstance(index, tuple):
        return None
    ints = [isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index]
    adv = [isinstance(i, np.ndarray) and i.ndim > 0 for i in index]
    if not builtins.any(ints) or not builtins.any(adv):
        return None
    if builtins.any(
        isinstance(i, np.ndarray) and i.dtype == np.bool_ and i.ndim > 1 for i in index
    ):
        return None
    basic = tuple(
        i if is_int else (Ellipsis if i is Ellipsis else slice(None))
        for i, is_int in zip(index, ints)
        if i is not None
    )
    rest = tuple(i for i, is_int in zip(index, ints) if not is_int)
    return basic, rest


def getitem(x, idx):
    index = _index(idx)
    if CAPTURE.active and _has_mask(index):
        host_read("indexing with a boolean mask (the count of True values sizes the result)")
    split = _split_int_advanced(index)
    try:
        if split is not None:
            y = apply(OPS["getitem"], (x,), {"index": split[0]}, view=True)
            out = apply(OPS["getitem"], (y,), {"index": split[1]})
        elif _is_basic(index):
            return apply(OPS["getitem"], (x,), {"index": index}, view=True)
        else:
            # advanced indexing copies (as in torch): not a view
            out = apply(OPS["getitem"], (x,), {"index": index})
    except IndexError as e:
        raise IndexError(f"{e} (indexing a tensor of shape {tuple(x.shape)})") from None
    if out._node is not None:
        _keep_index(out._node, idx)
    return out


def split(x, split_size_or_sections, dim=0):
    d = _norm_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step < 0:
            raise RuntimeError(
                f"split expects split_size be non-negative, but got split_size={step}"
            )
        if step == 0 and n:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of "
                f"{n} (dim {d} of shape {tuple(x.shape)})"
            )
        # an empty dim splits into one empty piece, as in torch
        sizes = [builtins.min(step, n - i) for i in range(0, n, step)] if n else [0]
    else:
        sizes = [int(v) for v in split_size_or_sections]
        if builtins.any(v < 0 for v in sizes):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                f"split_sizes={sizes}"
            )
        if builtins.sum(sizes) != n:
            raise RuntimeError(
                f"split: sizes {sizes} do not sum to {n} (dim {d} of shape {tuple(x.shape)})"
            )
    out = []
    start = 0
    for s in sizes:
        idx = (slice(None),) * d + (slice(start, start + s),)
        out.append(getitem(x, idx))
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _norm_dim(dim, x.ndim)
    n = x.shape[d]
    if n == 0:  # torch: `chunks` empty pieces
        return split(x, [0] * chunks, d)
    step = -(-n // chunks)
    return split(x, step, d)


def unbind(x, dim=0):
    d = _norm_dim(dim, x.ndim)
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.shape[d]))


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    nd = tensors[0].ndim
    d = _norm_dim(dim, nd)
    for t_ in tensors:
        if t_.ndim != nd:
            raise RuntimeError(
                f"cat(): tensors must have the same number of dimensions: got "
                f"{[tuple(x.shape) for x in tensors]}"
            )
    return apply_variadic(OPS["cat"], tensors, {"dim": d})


concat = concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack(): expected a non-empty list of Tensors")
    shp = tuple(tensors[0].shape)
    for t_ in tensors:
        if tuple(t_.shape) != shp:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got "
                f"{[tuple(x.shape) for x in tensors]}"
            )
    d = _norm_dim(dim, len(shp) + 1)
    return apply_variadic(OPS["stack"], tensors, {"dim": d})


# ---- softmax family (also in numgrad.nn.functional) -------------------------------------------


def softmax(x, dim=-1, dtype=None):
    x = _need_tensor(x, "softmax")
    if dtype is not None:
        x = x.to(dtype)
    return apply(OPS["softmax"], (x,), {"dim": _norm_dim(dim, x.ndim)})


def log_softmax(x, dim=-1, dtype=None):
    x = _need_tensor(x, "log_softmax")
    if dtype is not None:
        x = x.to(dtype)
    return apply(OPS["log_softmax"], (x,), {"dim": _norm_dim(dim, x.ndim)})


def logsumexp(x, dim, keepdim=False):
    if not _need_tensor(x, "logsumexp").dtype.is_floating_point:
        x = x.float()  # torch: integers give float32 (x - max would wrap in uint8)
    if x._data.size == 0:
        # a sum of no terms is 0, so its log is -inf (torch's result over an empty dim, where
        # amax would raise); built on sum so backward still gives x its (empty) gradient
        return sum(x, dim=dim, keepdim=keepdim) + float("-inf")
    m = amax(x, dim, keepdim=True).detach()
    # torch shifts by 0 where the max is infinite: a row of -inf (fully masked attention) gives
    # -inf, and one holding +inf gives +inf, where x - m would be inf - inf = NaN.  A select on
    # the device, not a check on the host: no sync on a GPU, nothing frozen in a compiled step
    m = where(isinf(m), 0.0, m)
    out = log(sum(exp(x - m), dim=dim, keepdim=True)) + m
    return out if keepdim else squeeze(out, dim)


# ---- issue 11 section: math ----


def _math(name, doc):
    op = OPS[name]

    def f(input):  # noqa: A002  (torch's name)
        return apply(op, (_need_tensor(input, name),))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


# one scalar-rule op each (ops/elementwise.py); integer and bool tensors give float32, as torch
sin = _math("sin", "Elementwise sine (``torch.sin``), differentiable.")
cos = _math("cos", "Elementwise cosine (``torch.cos``), differentiable.")
tan = _math("tan", "Elementwise tangent (``torch.tan``), differentiable.")
asin = arcsin = _math("asin", "Elementwise arcsine (``torch.asin``); NaN outside [-1, 1].")
acos = arccos = _math("acos", "Elementwise arccosine (``torch.acos``); NaN outside [-1, 1].")
atan = arctan = _math("atan", "Elementwise arctangent (``torch.atan``), differentiable.")
sinh = _math("sinh", "Elementwise hyperbolic sine (``torch.sinh``), differentiable.")
cosh = _math("cosh", "Elementwise hyperbolic cosine (``torch.cosh``), differentiable.")
asinh = arcsinh = _math("asinh", "Elementwise inverse hyperbolic sine (``torch.asinh``).")
acosh = arccosh = _math("acosh", "Inverse hyperbolic cosine (``torch.acosh``); NaN below 1.")
atanh = arctanh = _math("atanh", "Inverse hyperbolic tangent (``torch.atanh``); +-inf at +-1.")
erf = _math("erf", "Error function (``torch.erf``), differentiable.")
erfc = _math("erfc", "Complementary error function 1 - erf(x) (``torch.erfc``).")
erfinv = _math(
    "erfinv",
    "Inverse error function (``torch.erfinv``): +-inf at +-1, NaN outside [-1, 1]; float64 "
    "results within 1.3 ulp of the exact value (see ``numgrad.ops.math.erfinv``).",
)
log10 = _math("log10", "Base-10 logarithm (``torch.log10``); -inf at 0, NaN below.")
log2 = _math("log2", "Base-2 logarithm (``torch.log2``); -inf at 0, NaN below.")
log1p = _math("log1p", "log(1 + x), accurate for small x (``torch.log1p``).")
expm1 = _math("expm1", "exp(x) - 1, accurate for small x (``torch.expm1``).")
exp2 = _math("exp2", "2 ** x (``torch.exp2``), differentiable.")
sinc = _math("sinc", "Normalized sinc sin(pi x) / (pi x), 1 at 0 (``torch.sinc``).")
reciprocal = _math("reciprocal", "1 / x (``torch.reciprocal``); integers give float32.")


def _other_tensor(other, fname):
    if not isinstance(other, TensorBase):
        raise TypeError(
            f"{fname}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
        )
    return other


def atan2(input, other):  # noqa: A002
    """Elementwise arctangent of ``input / other`` in the quadrant of the point (other, input),
    as ``torch.atan2``; its gradient is 0 where input and other are both 0, as torch's."""
    x = _need_tensor(input, "atan2")
    return apply(OPS["atan2"], (x, _other_tensor(other, "atan2")))


arctan2 = atan2


def hypot(input, other):  # noqa: A002
    """sqrt(input**2 + other**2) without intermediate overflow (``torch.hypot``); floating
    tensors only, as torch."""
    x = _need_tensor(input, "hypot")
    return apply(OPS["hypot"], (x, _other_tensor(other, "hypot")))


def lerp(input, end, weight):  # noqa: A002
    """``input + weight * (end - input)`` (``torch.lerp``), computed from the nearer end as
    torch does; ``weight`` is a number or a tensor.  ``end`` (and a ``weight`` tensor with
    dims) must have ``input``'s dtype, as in torch."""
    x = _need_tensor(input, "lerp")
    end = _other_tensor(end, "lerp")
    if not x.dtype.is_floating_point:  # the python weight would promote to float otherwise
        raise NotImplementedError(
            f"\"lerp\" not implemented for '{D.torch_name(x._data.dtype)}' (a float tensor is "
            f"needed, got {x.dtype.name})"
        )
    for what, v in (("end", end), ("weight", weight)):
        if isinstance(v, TensorBase) and v.dtype is not x.dtype and (what == "end" or v._data.ndim):
            raise RuntimeError(
                f"expected dtype {D.torch_name(x._data.dtype).lower()} for `{what}` but got "
                f"dtype {D.torch_name(v._data.dtype).lower()}"
            )
    if not isinstance(weight, TensorBase) and not isinstance(weight, _NUM):
        raise TypeError(f"lerp(): weight must be a Tensor or a number, not {type(weight).__name__}")
    return apply(OPS["lerp"], (x, end, weight))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):  # noqa: A002
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and the
    largest and lowest finite values of the dtype), as ``torch.nan_to_num``; the gradient
    passes where the input is finite.  Integer and bool tensors are returned as copies."""
    x = _need_tensor(input, "nan_to_num")
    dt = x._data.dtype
    if dt.kind != "f":
        return clone(x)
    info = np.finfo(dt)
    with np.errstate(over="ignore"):  # a value beyond the dtype's range becomes inf, as torch
        attrs = {
            "nan": dt.type(0.0 if nan is None else nan),
            "posinf": dt.type(info.max if posinf is None else posinf),
            "neginf": dt.type(info.min if neginf is None else neginf),
        }
    return apply(OPS["nan_to_num"], (x,), attrs)


def _predicate(name, doc, other_dtypes):
    """An elementwise float predicate; ``other_dtypes`` is its answer for integer and bool
    tensors (nothing there is NaN or infinite; signbit compares with 0)."""
    op = OPS[name]

    def f(input):  # noqa: A002
        x = _need_tensor(input, name)
        if x._data.dtype.kind == "f":
            return apply(op, (x,))
        if other_dtypes == "negative":
            return lt(x, 0)
        arrays = x._device.arrays
        return _wrap(arrays.full(x._data.shape, other_dtypes, np.bool_), x._device)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


isnan = _predicate("isnan", "True where the element is NaN (``torch.isnan``).", False)
isinf = _predicate("isinf", "True where the element is +inf or -inf (``torch.isinf``).", False)
isposinf = _predicate("isposinf", "True where the element is +inf (``torch.isposinf``).", False)
isneginf = _predicate("isneginf", "True where the element is -inf (``torch.isneginf``).", False)
isfinite = _predicate(
    "isfinite", "True where the element is neither NaN nor infinite (``torch.isfinite``).", True
)
signbit = _predicate(
    "signbit",
    "True where the sign bit is set (``torch.signbit``): negative values, -0.0, negative NaNs.",
    "negative",
)


def _logical(name):
    op = OPS[name]

    def f(input, other):  # noqa: A002
        x = _need_tensor(input, name)
        return apply(op, (x, _other_tensor(other, name)))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise ``torch.{name}`` of the truth values (non-zero) of two tensors; bool."
    return f


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """``|input - other| <= atol + rtol * |other|`` elementwise, or equal (infinities included),
    or both NaN with ``equal_nan``, as ``torch.isclose``; both tensors must share one dtype.
    One difference: for uint8 tensors torch computes ``input - other`` with wraparound (1 - 2
    is 255, so 1 and 2 are not close even with ``atol=1``); numgrad takes the true difference."""
    x = _need_tensor(input, "isclose")
    y = _other_tensor(other, "isclose")
    if x.dtype is not y.dtype:
        raise RuntimeError(
            f"{D.torch_name(x._data.dtype)} did not match {D.torch_name(y._data.dtype)}"
        )
    for what, v in (("rtol", rtol), ("atol", atol)):
        if v < 0:
            raise RuntimeError(f"{what} must be greater than or equal to zero, but got {v}")
    attrs = {"rtol": float(rtol), "atol": float(atol), "equal_nan": bool(equal_nan)}
    return apply(OPS["isclose"], (x, y), attrs)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """Whether every element of ``input`` is close to ``other`` (``torch.allclose``): a python
    bool."""
    close = isclose(input, other, rtol, atol, equal_nan)
    return bool(np.all(close._device.arrays.to_host(close._data)))


# ---- end section: math ----
# ---- issue 11 section: habits ----
# numpy's keyword names, as torch's reductions take them (x.sum(axis=0, keepdims=True)); the
# Tensor methods are these same wrapped functions
import functools  # noqa: E402


def _numpy_keywords(fn):
    """``fn`` also taking numpy's ``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=``, as
    torch's reductions do.  Costs one call frame, nothing else, without them."""

    @functools.wraps(fn)
    def wrapper(*args, **kw):
        if kw:
            if "axis" in kw:
                if "dim" in kw:
                    raise TypeError(f"{fn.__name__}() got both 'dim' and its alias 'axis'")
                kw["dim"] = kw.pop("axis")
            if "keepdims" in kw:
                if "keepdim" in kw:
                    raise TypeError(f"{fn.__name__}() got both 'keepdim' and its alias 'keepdims'")
                kw["keepdim"] = kw.pop("keepdims")
        return fn(*args, **kw)

    return wrapper


sum = _numpy_keywords(sum)  # noqa: A001
mean = _numpy_keywords(mean)
max = _numpy_keywords(max)  # noqa: A001
min = _numpy_keywords(min)  # noqa: A001
amax = _numpy_keywords(amax)
amin = _numpy_keywords(amin)
std = _numpy_keywords(std)
var = _numpy_keywords(var)
argmax = _numpy_keywords(argmax)
argmin = _numpy_keywords(argmin)
any = _numpy_keywords(any)  # noqa: A001
all = _numpy_keywords(all)  # noqa: A001
logsumexp = _numpy_keywords(logsumexp)
# ---- end section: habits ----
# ---- issue 11 section: random ----
# Sampling functions (torch's normal, bernoulli, multinomial, poisson): values are drawn on the
# host from ``generator`` (a numgrad.Generator) or the global stream - reproducible for a seed,
# not torch's numbers.  Their gradient is zero, as torch defines it (they are not
# reparametrised: write ``mean + std * randn_like(std)`` for a pathwise gradient).


def _host(x):
    return x._device.arrays.to_host(x._data)


def _zero_grad_to(out, params):
    """``out`` with torch's zero gradient to each of ``params`` that requires grad (a ``where``
    whose condition is never true: the values stay ``out``'s exactly, even where a parameter is
    inf, and each parameter gets zeros of its shape)."""
    params = [p for p in params if isinstance(p, TensorBase) and p._rg]
    if not params or not GRAD_MODE.enabled:
        return out
    never = _wrap(out._device.arrays.from_host(np.zeros(out._data.shape, np.bool_)), out._device)
    for p in params:
        out = where(never, p if p.dtype is out.dtype else _cast(p, out.dtype), out)
    return out


def _check_float_input(x, kernel):
    if x._data.dtype.kind != "f":
        raise NotImplementedError(
            f"\"{kernel}\" not implemented for '{D.torch_name(x._data.dtype)}' (a float tensor "
            f"is needed, got {x.dtype.name})"
        )


def normal(
    mean=0.0,
    std=1.0,
    size=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
):
    """Normal samples (``torch.normal``), in torch's overloads:

    ``normal(mean: Tensor, std: Tensor)``, ``normal(mean: Tensor, std=1.0)``,
    ``normal(mean: float, std: Tensor)`` (shape: the broadcast of the tensors; dtype: theirs) and
    ``normal(mean: float, std: float, size, dtype=, device=, requires_grad=)``.  The gradient to
    tensor ``mean``/``std`` is zero, as torch's.
    """
    is_t = (isinstance(mean, TensorBase), isinstance(std, TensorBase))
    if not builtins.any(is_t):
        if size is None:
            raise TypeError(
                "normal() with a float mean and a float std needs size= (normal(mean, std, size))"
            )
        # a float mean and std make a new tensor: numgrad.normal (creation.py) does that
        raise TypeError("normal(float, float, size): use numgrad.normal, a creation function")
    if size is not None:
        raise TypeError(
            "normal() received an invalid combination of arguments: size= is only for a float "
            "mean and a float std (with a tensor mean or std the shape is theirs)"
        )
    tensors = [v for v in (mean, std) if isinstance(v, TensorBase)]
    _check_float_input(tensors[0], "normal_kernel_cpu")  # the result's dtype (mean's first)
    dev = tensors[0]._device
    dt = tensors[0].dtype  # mean's when both are tensors, as torch
    m = _host(mean) if is_t[0] else mean
    s = _host(std) if is_t[1] else std
    if is_t[1]:
        if not (s >= 0).all():  # also NaN
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in (m, s)))
    except ValueError:
        raise RuntimeError(
            f"normal: the shapes of mean {tuple(np.shape(m))} and std {tuple(np.shape(s))} "
            f"cannot be broadcast together"
        ) from None
    arr = np.asarray(m + s * _np_gen(generator).standard_normal(shape), dt.np)
    out = _wrap(dev.arrays.from_host(np.asarray(arr, order="C")), dev)
    return _zero_grad_to(out, tensors)


def bernoulli(input, p=None, *, generator=None):  # noqa: A002
    """0/1 samples with probability ``input`` (or the float ``p``), in ``input``'s dtype
    (``torch.bernoulli``); the gradient to ``input`` is zero, as torch's."""
    x = _need_tensor(input, "bernoulli")
    _check_float_input(x, "bernoulli_tensor_cpu_p_")
    if p is None:
        probs = _host(x)
        if not ((probs >= 0) & (probs <= 1)).all():
            raise RuntimeError(
                "Expected p_in >= 0 && p_in <= 1 to be true, but got false (bernoulli: every "
                "probability must be in [0, 1])"
            )
    else:
        if not 0.0 <= p <= 1.0:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        probs = p
    arr = np.asarray(_np_gen(generator).random(x._data.shape) < probs, x._data.dtype)
    return _zero_grad_to(_wrap(x._device.arrays.from_host(arr), x._device), (x,))


def poisson(input, generator=None):  # noqa: A002
    """Poisson samples with rates ``input``, in its dtype (``torch.poisson``; zero gradient)."""
    x = _need_tensor(input, "poisson")
    _check_float_input(x, "poisson_cpu")
    rates = _host(x)
    if not (rates >= 0).all():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    arr = np.asarray(_np_gen(generator).poisson(rates), x._data.dtype)
    return _zero_grad_to(_wrap(x._device.arrays.from_host(arr), x._device), (x,))


def multinomial(input, num_samples, replacement=False, *, generator=None):  # noqa: A002
    """Category indices drawn from the rows of ``input`` (non-negative weights, 1-D or 2-D),
    int64, ``(num_samples,)`` or ``(rows, num_samples)`` (``torch.multinomial``, its checks).

    Without replacement this is torch's method: the ``num_samples`` largest ``p / q`` with
    ``q`` exponential (categories of weight 0 come last, as in torch)."""
    x = _need_tensor(input, "multinomial")
    if x._data.dtype.kind != "f":
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: "
            f"{D.torch_name(x._data.dtype)}"
        )
    if x.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim (got shape {tuple(x.shape)})")
    n = int(num_samples)
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    ncat = x.shape[-1]
    if not replacement and n > ncat:
        raise RuntimeError(
            f"cannot sample n_sample > prob_dist.size(-1) samples without replacement "
            f"({n} > {ncat})"
        )
    p = _host(x).astype(np.float64).reshape(-1, ncat)
    if not (np.isfinite(p) & (p >= 0)).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = p.shape[0]
    total = p.sum(axis=1)
    if rows and not (total > 0).all():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _np_gen(generator)
    if rows == 0:
        idx = np.zeros((0, n), np.int64)
    elif replacement:
        # inverse CDF, all rows at once: row r's CDF is shifted to [2r, 2r + 1] so one
        # searchsorted over the flattened CDFs serves every row
        cdf = np.cumsum(p, axis=1) / total[:, None]
        shift = 2.0 * np.arange(rows)[:, None]
        u = rng.random((rows, n))
        flat = np.searchsorted((cdf + shift).ravel(), (u + shift).ravel(), side="right")
        idx = flat.reshape(rows, n) - ncat * np.arange(rows)[:, None]
        # rounding can leave a row's CDF just under 1: never land past its last nonzero weight
        last = ncat - 1 - np.argmax(p[:, ::-1] > 0, axis=1)
        idx = np.minimum(idx, last[:, None])
    else:
        keys = p / rng.standard_exponential((rows, ncat))
        idx = np.argsort(-keys, axis=1, kind="stable")[:, :n]
    idx = np.ascontiguousarray(idx.astype(np.int64).reshape((n,) if x.ndim == 1 else (rows, n)))
    return _wrap(x._device.arrays.from_host(idx), x._device)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-D/1-D tensors (``torch.meshgrid``): ``indexing='ij'`` (the
    default, torch's too; torch also warns when it is not given) gives shape
    ``(len(t0), len(t1), ...)``, ``'xy'`` swaps the first two dims.  The outputs are expanded
    views of the inputs, differentiable."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        _need_tensor(t, "meshgrid")
        if t.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a tensor "
                f"of shape {tuple(t.shape)}"
            )
    if len({t.dtype for t in tensors}) > 1:
        raise RuntimeError(
            f"meshgrid expects all tensors to have the same dtype (got "
            f"{[t.dtype.name for t in tensors]})"
        )
    if len({t._device for t in tensors}) > 1:
        raise RuntimeError(
            f"meshgrid expects all tensors to be on the same device (got "
            f"{[str(t._device) for t in tensors]})"
        )
    n = len(tensors)
    order = list(range(n))  # order[i]: the output dim of tensors[i]
    if indexing == "xy" and n >= 2:
        order[0], order[1] = 1, 0
    out_shape = [0] * n
    for i, t in enumerate(tensors):
        out_shape[order[i]] = t.numel()
    grids = []
    for i, t in enumerate(tensors):
        shape = [1] * n
        shape[order[i]] = out_shape[order[i]]
        grids.append(expand(reshape(t, tuple(shape)), *out_shape))
    return tuple(grids)


# ---- end section: random ----
# ---- issue 11 section: tensor_ops ----
# Index, ordering and counting ops (issue 11, item 7).  Index tensors are op inputs with no
# gradient rule, so the tape saves and version-checks them (ops/index.py); their values are
# checked here, before any kernel, as Numba does not bounds-check.

_sort_result = namedtuple("sort", ["values", "indices"])
_topk_result = namedtuple("topk", ["values", "indices"])
_kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
_median_result = namedtuple("median", ["values", "indices"])
_mode_result = namedtuple("mode", ["values", "indices"])
_cummax_result = namedtuple("cummax", ["values", "indices"])
_cummin_result = namedtuple("cummin", ["values", "indices"])
_histogram_result = namedtuple("histogram", ["hist", "bin_edges"])
_I64 = np.dtype(np.int64)


def _index_arg(index, fname, what="index"):
    """``index`` as an int64 tensor (int32 accepted and converted, as torch does)."""
    if not isinstance(index, TensorBase):
        if isinstance(index, (list, tuple, np.ndarray)):
            index = tensor_from(np.asarray(index, dtype=np.int64))
        else:
            raise TypeError(
                f"{fname}(): argument '{what}' must be Tensor, not {type(index).__name__}"
            )
    dt = index._data.dtype
    if dt != _I64:
        if dt != np.int32:
            raise RuntimeError(
                f"{fname}(): Expected dtype int32 or int64 for {what}, got {index.dtype.name}"
            )
        index = _cast(index, D.int64)
    return index


def _check_index_range(index, size, dim, fname, style="bounds"):
    """Raise torch's error when an index value lies outside ``[0, size)``.  A device's own
    indices are checked by its kernels, on the device (devices/cuda raises the same errors):
    reading them here would copy them to the host at every call."""
    arr = index._data
    if arr.size == 0 or type(arr) is not np.ndarray:
        return
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi < size:
        return
    bad = lo if lo < 0 else hi
    if style == "select":
        # torch's two checks: an IndexError along dim 0, a RuntimeError along the others
        if dim == 0:
            raise IndexError(
                f"index out of range in self (index_select(): index {bad}, dimension 0 with "
                f"size {size})"
            )
        raise RuntimeError(
            f"index_select(): index {bad} is out of range for dimension {dim} with size {size} "
            f"(INDICES element is out of DATA bounds, id={bad} axis_dim={size})"
        )
    raise RuntimeError(
        f"{fname}(): index {bad} is out of bounds for dimension {dim} with size {size}"
    )


def gather(input, dim, index, *, sparse_grad=False):  # noqa: A002
    """``out[i][j] = input[i][index[i][j]]`` along ``dim`` (torch.gather); ``index`` may be
    smaller than ``input`` in the other dims."""
    x = _need_tensor(input, "gather")
    index = _index_arg(index, "gather")
    if (x.ndim == 0 or index.ndim == 0) and x.ndim <= 1 and index.ndim <= 1:
        out = gather(reshape(x, -1), 0 if x.ndim == 0 else dim, reshape(index, -1))
        return reshape(out, tuple(index.shape))
    axis = _norm_dim(dim, x.ndim)
    _check_index_range(index, x.shape[axis], axis, "gather")
    return apply(OPS["gather"], (x, index), {"axis": axis})


def _scatter_src(x, index, src, fname):
    if isinstance(src, TensorBase):
        if src.dtype is not x.dtype:
            raise RuntimeError(
                f"{fname}(): Expected self.dtype to be equal to src.dtype (self {x.dtype.name}, "
                f"src {src.dtype.name})"
            )
        return src
    if not isinstance(src, _NUM):
        raise TypeError(f"{fname}(): src must be a Tensor or a number, got {type(src).__name__}")
    value = _fill_value(src, x.dtype, fname)
    return _wrap(np.full(index._data.shape, value, x._data.dtype), x._device)


def _scatter(name, x, dim, index, src):
    x = _need_tensor(x, name)
    index = _index_arg(index, name)
    src = _scatter_src(x, index, src, name)
    if (x.ndim == 0 or index.ndim == 0) and x.ndim <= 1 and index.ndim <= 1:
        out = _scatter(name, reshape(x, -1), 0, reshape(index, -1), reshape(src, -1))
        return reshape(out, tuple(x.shape))
    axis = _norm_dim(dim, x.ndim)
    _check_index_range(index, x.shape[axis], axis, name)
    return apply(OPS[name], (x, index, src), {"axis": axis})


def scatter(input, dim, index, src=None, value=None, *, reduce=None):  # noqa: A002
    """``input`` with ``src`` (a tensor or a number) written at ``index`` along ``dim``
    (torch.scatter).  ``reduce="add"`` is ``scatter_add``; ``"multiply"`` is not supported."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): missing argument 'src' (or 'value')")
    if reduce is not None:
        if reduce == "add":
            return scatter_add(input, dim, index, src)
        if reduce == "multiply":
            raise NotImplementedError("scatter(reduce='multiply') is not supported")
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}")
    return _scatter("scatter", input, dim, index, src)


def scatter_add(input, dim, index, src):  # noqa: A002
    """``input`` plus ``src`` added at ``index`` along ``dim``; repeated indices accumulate."""
    return _scatter("scatter_add", input, dim, index, src)


def index_select(input, dim, index):  # noqa: A002
    """The slices of ``input`` at ``index`` (a vector) along ``dim`` (torch.index_select)."""
    x = _need_tensor(input, "index_select")
    if not isinstance(index, TensorBase) or index._data.dtype not in (np.int64, np.int32):
        dt = index.dtype.name if isinstance(index, TensorBase) else type(index).__name__
        raise RuntimeError(f"index_select(): Expected dtype int32 or int64 for index, got {dt}")
    if index.ndim > 1:
        raise IndexError(
            f"index_select(): Index is supposed to be a vector (index shape {tuple(index.shape)})"
        )
    index = _index_arg(index, "index_select")
    if x.ndim == 0:
        _norm_dim(dim, 0)
        out = index_select(reshape(x, 1), 0, index)
        return reshape(out, ())
    axis = _norm_dim(dim, x.ndim)
    _check_index_range(index, x.shape[axis], axis, "index_select", style="select")
    if index.ndim == 0:
        index = reshape(index, 1)
    return apply(OPS["index_select"], (x, index), {"axis": axis})


def masked_select(input, mask):  # noqa: A002
    """The elements of ``input`` where the bool ``mask`` holds (both broadcast), as 1-D."""
    x = _need_tensor(input, "masked_select")
    mask = _need_tensor(mask, "masked_select")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype.name}")
    shape = np.broadcast_shapes(tuple(x.shape), tuple(mask.shape))
    if tuple(x.shape) != shape:
        x = expand(x, *shape)
    hm = host_data(mask)
    m = hm if tuple(mask.shape) == shape else np.broadcast_to(hm, shape)
    return getitem(x, _wrap(np.ascontiguousarray(m), mask._device))


def take(input, index):  # noqa: A002
    """``input`` as 1-D, indexed by ``index`` (negative indices count from the end)."""
    x = _need_tensor(input, "take")
    index = _index_arg(index, "take")
    n = x._data.size
    arr = index._data
    # (a device's indices are checked by its getitem kernel)
    if type(arr) is np.ndarray and arr.size and (int(arr.min()) < -n or int(arr.max()) >= n):
        bad = int(arr.min()) if int(arr.min()) < -n else int(arr.max())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return getitem(reshape(x, -1), index)


def narrow(input, dim, start, length):  # noqa: A002
    """The slice ``start:start + length`` of ``input`` along ``dim`` (a view)."""
    x = _need_tensor(input, "narrow")
    d = _norm_dim(dim, x.ndim)
    size = x.shape[d]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})"
        )
    if start < 0:
        start += size
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def select(input, dim, index):  # noqa: A002
    """``input[..., index, ...]`` at ``dim`` (a view with that dim removed)."""
    x = _need_tensor(input, "select")
    d = _norm_dim(dim, x.ndim)
    size = x.shape[d]
    i = int(index)
    if not -size <= i < size:
        raise IndexError(
            f"select(): index {i} out of range for tensor of size {list(x.shape)} at dimension {d}"
        )
    return getitem(x, (slice(None),) * d + (i,))


def movedim(input, source, destination):  # noqa: A002
    """``input`` with the dims ``source`` moved to ``destination`` (a view)."""
    x = _need_tensor(input, "movedim")
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    n = x.ndim
    src = [_norm_dim(s, n) for s in src]
    dst = [_norm_dim(s, n) for s in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source {src} or destination {dst}")
    rest = [i for i in range(n) if i not in src]
    perm = [None] * n
    for s, d_ in zip(src, dst):
        perm[d_] = s
    it = iter(rest)
    perm = [p if p is not None else next(it) for p in perm]
    return permute(x, *perm) if n else x


moveaxis = movedim


# ---- scans ------------------------------------------------------------------------------------


def _scan_input(x, dtype, fname):
    x = _need_tensor(x, fname)
    if dtype is not None:
        return x.to(dtype)
    if not x.dtype.is_floating_point:
        return x.to(D.int64)  # torch: bool and integer scans give int64
    return x


def cumsum(input, dim, *, dtype=None):  # noqa: A002
    """Running sum along ``dim``; integer inputs give int64 (float32 accumulates in float64,
    as torch on the CPU)."""
    x = _scan_input(input, dtype, "cumsum")
    return apply(OPS["cumsum"], (x,), {"axis": _norm_dim(dim, x.ndim)})


def cumprod(input, dim, *, dtype=None):  # noqa: A002
    """Running product along ``dim``; the gradient is exact where the input holds zeros."""
    x = _scan_input(input, dtype, "cumprod")
    return apply(OPS["cumprod"], (x,), {"axis": _norm_dim(dim, x.ndim)})


def _cummax(x, dim, sign, fname, result):
    x = _need_tensor(x, fname)
    vals, idx = apply(OPS[fname], (x,), {"axis": _norm_dim(dim, x.ndim), "sign": sign})
    return result(vals, idx)


def cummax(input, dim):  # noqa: A002
    """Running maximum and its index along ``dim`` (a tie takes the later index, as torch)."""
    return _cummax(input, dim, 1, "cummax", _cummax_result)


def cummin(input, dim):  # noqa: A002
    """Running minimum and its index along ``dim``."""
    return _cummax(input, dim, -1, "cummin", _cummin_result)


def prod(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Product of all elements, or along ``dim``; integer inputs give int64.  The gradient is
    torch's: right where elements are 0."""
    x = _scan_input(input, dtype, "prod")
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    axes = normalize_dims(dim, x.ndim)
    return apply(OPS["prod"], (x,), {"axes": axes, "keepdim": bool(keepdim and dim is not None)})


# ---- sorting and selection --------------------------------------------------------------------


def sort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """``(values, indices)`` sorted along ``dim``; always stable (ties keep their order), NaN
    sorts as the largest value, as in torch."""
    x = _need_tensor(input, "sort")
    axis = _norm_dim(dim, x.ndim)
    vals, idx = apply(OPS["sort"], (x,), {"axis": axis, "descending": bool(descending)})
    return _sort_result(vals, idx)


def argsort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """The indices that sort ``input`` along ``dim`` (stable)."""
    with no_grad():
        return sort(input, dim, descending, stable).indices


def _take_along(t, axis, k, keepdim):
    idx = (slice(None),) * axis + ((slice(k, k + 1) if keepdim else k),)
    return getitem(t, idx)


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices, sorted (also
    with ``sorted=False``, which lets torch return any order)."""
    x = _need_tensor(input, "topk")
    axis = _norm_dim(dim, x.ndim)
    n = x.shape[axis] if x.ndim else 1
    k = int(k)
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range (k={k}, dim {axis} has size {n})")
    vals, idx = sort(x, axis, descending=largest)
    if x.ndim == 0:
        return _topk_result(vals, idx)
    sl = (slice(None),) * axis + (slice(0, k),)
    return _topk_result(getitem(vals, sl), getitem(idx, sl))


def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    """The ``k``-th smallest element along ``dim`` and its index."""
    x = _need_tensor(input, "kthvalue")
    axis = _norm_dim(dim, x.ndim)
    n = x.shape[axis] if x.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis}")
    vals, idx = sort(x, axis)
    if x.ndim == 0:
        return _kthvalue_result(vals, idx)
    return _kthvalue_result(
        _take_along(vals, axis, k - 1, keepdim), _take_along(idx, axis, k - 1, keepdim)
    )


def median(input, dim=None, keepdim=False):  # noqa: A002
    """The lower median (of all elements, or ``(values, indices)`` along ``dim``); NaN where a
    row holds one, as torch."""
    x = _need_tensor(input, "median")
    if dim is None:
        flat = reshape(x, -1)
        if flat.shape[0] == 0:
            return _wrap(np.full((), np.nan, x._data.dtype), x._device)
        return median(flat, 0).values
    axis = _norm_dim(dim, x.ndim)
    if x.ndim == 0:
        return _median_result(clone(x), _wrap(np.zeros((), np.int64), x._device))
    n = x.shape[axis]
    if n == 0:
        raise IndexError(
            f"median(): Expected reduction dim {axis} to have non-zero size (shape "
            f"{tuple(x.shape)})"
        )
    vals, idx = sort(x, axis)
    pos = np.full([1 if d == axis else s for d, s in enumerate(x.shape)], (n - 1) // 2)
    if x._data.dtype.kind == "f":
        nan = np.isnan(host_data(x))
        if nan.any():
            # sorted NaNs come last: a row holding one returns its first NaN
            valid = np.sum(~nan, axis=axis, keepdims=True)
            pos = np.where(valid < n, valid, pos)
    p = _wrap(pos.astype(np.int64), x._device)
    v, i = gather(vals, axis, p), gather(idx, axis, p)
    if not keepdim:
        v, i = squeeze(v, axis), squeeze(i, axis)
    return _median_result(v, i)


def mode(input, dim=-1, keepdim=False):  # noqa: A002
    """The most frequent value along ``dim`` (the smallest among equally frequent ones) and the
    index of its last occurrence, as torch on the CPU."""
    x = _need_tensor(input, "mode")
    axis = _norm_dim(dim, x.ndim)
    if x.ndim == 0:
        return _mode_result(clone(x), _wrap(np.zeros((), np.int64), x._device))
    arr = np.moveaxis(host_data(x), axis, -1)
    rows = arr.reshape(-1, arr.shape[-1])
    pos = np.zeros(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        vals, counts = np.unique(row, return_counts=True)
        best = vals[np.argmax(counts)]
        pos[r] = np.flatnonzero(row == best)[-1]
    shape = list(arr.shape[:-1])
    p = np.moveaxis(pos.reshape(shape + [1]), -1, axis)
    p = _wrap(np.ascontiguousarray(p), x._device)
    v, i = gather(x, axis, p), p
    if not keepdim:
        v, i = squeeze(v, axis), squeeze(i, axis)
    return _mode_result(v, i)


# ---- data movement ----------------------------------------------------------------------------


def _int_tuple(v):
    if isinstance(v, (int, np.integer)):
        return (int(v),)
    return tuple(int(s) for s in v)


def roll(input, shifts, dims=None):  # noqa: A002
    """Elements shifted by ``shifts`` along ``dims`` (around the flattened tensor if None)."""
    x = _need_tensor(input, "roll")
    shifts = _int_tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts {list(shifts)} need dims (one per shift)")
        return reshape(roll(reshape(x, -1), shifts, 0), tuple(x.shape))
    dims = _int_tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    dims = tuple(_norm_dim(d, x.ndim) for d in dims)
    if x.ndim == 0:
        return clone(x)
    return apply(OPS["roll"], (x,), {"shifts": shifts, "dims": dims})


def flip(input, *dims):  # noqa: A002
    """``input`` reversed along ``dims`` (a copy, as torch)."""
    x = _need_tensor(input, "flip")
    dims = _shape_arg(dims) if dims else ()
    axes = []
    for d in dims:
        a = _norm_dim(d, x.ndim)
        if a in axes:
            raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
        axes.append(a)
    if x.ndim == 0:
        return clone(x)
    return apply(OPS["flip"], (x,), {"dims": tuple(axes)})


def fliplr(input):  # noqa: A002
    """Flip the columns (dim 1); needs at least 2 dims."""
    if input.ndim < 2:
        raise RuntimeError(f"Input must be >= 2-d (shape {tuple(input.shape)})")
    return flip(input, 1)


def flipud(input):  # noqa: A002
    """Flip the rows (dim 0); needs at least 1 dim."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


def _tri(name, x, diagonal):
    x = _need_tensor(x, name)
    if x.ndim < 2:
        raise RuntimeError(
            f"{name}: input tensor must have at least 2 dimensions (shape {tuple(x.shape)})"
        )
    return apply(OPS[name], (x,), {"diagonal": int(diagonal), "upper": name == "triu"})


def tril(input, diagonal=0):  # noqa: A002
    """The lower triangle (on and below ``diagonal``) of the last two dims; zeros elsewhere."""
    return _tri("tril", input, diagonal)


def triu(input, diagonal=0):  # noqa: A002
    """The upper triangle (on and above ``diagonal``) of the last two dims; zeros elsewhere."""
    return _tri("triu", input, diagonal)


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The diagonal ``offset`` of the planes ``(dim1, dim2)``, as the last dim.  A copy: torch
    returns a view, so writes into the result do not reach ``input`` here."""
    x = _need_tensor(input, "diagonal")
    d1, d2 = _norm_dim(dim1, x.ndim), _norm_dim(dim2, x.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return apply(OPS["diagonal"], (x,), {"offset": int(offset), "dim1": d1, "dim2": d2})


_diagonal = diagonal


def diag(input, diagonal=0):  # noqa: A002
    """A 1-D tensor -> the 2-D matrix with it on diagonal ``diagonal``; a 2-D tensor -> that
    diagonal (1-D)."""
    x = _need_tensor(input, "diag")
    k = int(diagonal)
    if x.ndim == 2:
        return _diagonal(x, k)
    if x.ndim != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")
    n = x.shape[0]
    m = n + builtins.abs(k)
    z = _wrap(np.zeros((m, m), x._data.dtype), x._device)
    rows = np.arange(n) + builtins.max(-k, 0)
    index = (rows, rows + k)
    return apply(OPS["setitem"], (z, x), {"index": index})


def repeat(input, *sizes):  # noqa: A002
    """``input`` tiled ``sizes`` times along each dim (torch's Tensor.repeat, numpy's tile)."""
    x = _need_tensor(input, "repeat")
    return apply(OPS["repeat"], (x,), {"repeats": _shape_arg(sizes)})


def tile(input, dims):  # noqa: A002
    """``repeat`` with ``dims`` padded by leading 1s when shorter than the tensor's dims."""
    x = _need_tensor(input, "tile")
    dims = _int_tuple(dims)
    if len(dims) < x.ndim:
        dims = (1,) * (x.ndim - len(dims)) + dims
    return repeat(x, dims)


# ---- einsum -----------------------------------------------------------------------------------


def _einsum_parse(equation, operands):
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError(
            "einsum(): more operands were provided than specified in the equation"
            if len(operands) > len(terms)
            else "einsum(): fewer operands were provided than specified in the equation"
        )
    n_ell = 0
    for term, op in zip(terms, operands):
        if "..." in term:
            n_ell = builtins.max(n_ell, op.ndim - (len(term) - 3))
    ell = [("...", i) for i in range(n_ell)]
    subs = []
    for k, (term, op) in enumerate(zip(terms, operands)):
        if "..." in term:
            a, b = term.split("...")
            m = op.ndim - len(a) - len(b)
            toks = list(a) + ell[n_ell - m :] + list(b)
        else:
            toks = list(term)
        for c in toks:
            if isinstance(c, str) and not c.isalpha():
                raise RuntimeError(
                    f"einsum(): invalid subscript {c!r} in operand {k}; subscripts must be in "
                    "[a-zA-Z]"
                )
        if len(toks) != op.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(toks)}) does not "
                f"match the number of dimensions ({op.ndim}) for operand {k}"
                + ("" if "..." in term else " and no ellipsis was given")
            )
        subs.append(toks)
    if rhs is None:
        counts = {}
        for toks in subs:
            for c in toks:
                if isinstance(c, str):
                    counts[c] = counts.get(c, 0) + 1
        out = ell + builtins.sorted(c for c, v in counts.items() if v == 1)
    else:
        a, _, b = rhs.partition("...")
        out = list(a) + (ell if "..." in rhs else []) + list(b)
        for c in out:
            if not builtins.any(c in toks for toks in subs):
                raise RuntimeError(
                    f"einsum(): output subscript {c} does not appear in the equation for any "
                    f"input operand"
                )
        if len(set(out)) != len(out):
            raise RuntimeError("einsum(): output subscript appears more than once for output")
    return subs, out


def _einsum_sum(x, toks, keep):
    dims = [i for i, c in enumerate(toks) if c not in keep]
    if not dims:
        return x, toks
    return sum(x, dim=tuple(dims)), [c for c in toks if c in keep]


def einsum(equation, *operands):
    """Einstein summation (torch.einsum): diagonals (repeated subscripts), sums, and
    contractions of operand pairs as batched matrix products, left to right; ``...``
    broadcasts.  Differentiable through those ops."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ops = [_need_tensor(o, "einsum") for o in operands]
    subs, out = _einsum_parse(equation, ops)
    sizes = {}
    for k, (x, toks) in enumerate(zip(ops, subs)):
        # repeated subscripts in one operand: take the diagonal
        while len(set(toks)) != len(toks):
            seen = {}
            for i, c in enumerate(toks):
                if c in seen:
                    p, q = seen[c], i
                    break
                seen[c] = i
            if x.shape[p] != x.shape[q]:
                raise RuntimeError(
                    f"einsum(): subscript {toks[p]} is repeated for operand {k} but the sizes "
                    f"don't match, {x.shape[q]} != {x.shape[p]}"
                )
            x = diagonal(x, 0, p, q)
            toks = [c for i, c in enumerate(toks) if i not in (p, q)] + [toks[p]]
        for c, s in zip(toks, x.shape):
            prev = sizes.get(c)
            if prev is None or prev == 1:
                sizes[c] = s
            elif s not in (1, prev):
                name = c if isinstance(c, str) else "..."
                raise RuntimeError(
                    f"einsum(): subscript {name} has size {s} for operand {k} which does not "
                    f"broadcast with previously seen size {prev}"
                )
        ops[k], subs[k] = x, toks
    for k in range(len(ops)):
        # sum what no other operand and not the output reads; broadcast size-1 dims
        others = set(out)
        for j, toks in enumerate(subs):
            if j != k:
                others.update(toks)
        x, toks = _einsum_sum(ops[k], subs[k], others)
        target = tuple(sizes[c] for c in toks)
        if tuple(x.shape) != target:
            x = expand(x, *target)
        ops[k], subs[k] = x, toks
    x, toks = ops[0], subs[0]
    for j in range(1, len(ops)):
        y, ytoks = ops[j], subs[j]
        later = set(out)
        for t_ in subs[j + 1 :]:
            later.update(t_)
        x, toks = _einsum_sum(x, toks, later | set(ytoks))
        y, ytoks = _einsum_sum(y, ytoks, later | set(toks))
        batch = [c for c in toks if c in ytoks and c in later]
        contract = [c for c in toks if c in ytoks and c not in later]
        left = [c for c in toks if c not in ytoks]
        right = [c for c in ytoks if c not in toks]

        def size(cs):
            n = 1
            for c in cs:
                n *= sizes[c]
            return n

        xp = permute(x, *[toks.index(c) for c in batch + left + contract])
        yp = permute(y, *[ytoks.index(c) for c in batch + contract + right])
        xm = reshape(xp, size(batch), size(left), size(contract))
        ym = reshape(yp, size(batch), size(contract), size(right))
        x = reshape(matmul(xm, ym), tuple(sizes[c] for c in batch + left + right))
        toks = batch + left + right
    x, toks = _einsum_sum(x, toks, set(out))
    if toks != out:
        x = permute(x, *[toks.index(c) for c in out])
    return x


def ravel(input):  # noqa: A002
    """``input`` as 1-D (a view when the layout allows, as torch)."""
    return reshape(_need_tensor(input, "ravel"), -1)


def trace(input):  # noqa: A002
    """The sum of the main diagonal of a 2-D tensor."""
    x = _need_tensor(input, "trace")
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    return sum(diagonal(x))


def take_along_dim(input, indices, dim=None):  # noqa: A002
    """``gather`` with ``input`` and ``indices`` broadcast against each other outside ``dim``
    (both flattened when ``dim`` is None), as torch.take_along_dim."""
    x = _need_tensor(input, "take_along_dim")
    indices = _index_arg(indices, "take_along_dim", "indices")
    if dim is None:
        return gather(reshape(x, -1), 0, reshape(indices, -1))
    if x.ndim != indices.ndim:
        raise RuntimeError(
            f"torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {x.ndim} dimensions for input, and {indices.ndim} dimensions "
            f"for indices"
        )
    d = _norm_dim(dim, x.ndim)
    xs, js = list(x.shape), list(indices.shape)
    xs[d] = js[d] = 1
    shape = list(np.broadcast_shapes(tuple(xs), tuple(js)))
    x_shape, i_shape = list(shape), list(shape)
    x_shape[d], i_shape[d] = x.shape[d], indices.shape[d]
    if list(x.shape) != x_shape:
        x = expand(x, *x_shape)
    if list(indices.shape) != i_shape:
        indices = expand(indices, *i_shape).contiguous()
    return gather(x, d, indices)


def index_add(input, dim, index, source, *, alpha=1):  # noqa: A002
    """``input`` plus ``alpha * source`` added at ``index`` (a vector) along ``dim``; repeated
    indices accumulate (built on ``scatter_add``)."""
    x = _need_tensor(input, "index_add")
    index = _index_arg(index, "index_add")
    source = _need_tensor(source, "index_add")
    if index.ndim > 1:
        raise IndexError(
            f"index_add_(): Index is supposed to be a vector (shape {tuple(index.shape)})"
        )
    if source.ndim == 0:
        source = reshape(source, 1)
    if x.ndim == 0:
        return reshape(index_add(reshape(x, 1), 0, index, source, alpha=alpha), ())
    d = _norm_dim(dim, x.ndim)
    n = index._data.size
    if source.ndim != x.ndim or source.shape[d] != n:
        raise RuntimeError(
            f"index_add_(): source {tuple(source.shape)} must have the shape of self "
            f"{tuple(x.shape)} with dim {d} of the index's length {n}"
        )
    if alpha != 1:
        source = mul(source, alpha)
    shape = [1] * x.ndim
    shape[d] = n
    full = expand(reshape(index, *shape), *source.shape)
    return scatter_add(x, d, full.contiguous(), source)


# ---- counting, searching, histograms (no gradient) --------------------------------------------


def count_nonzero(input, dim=None):  # noqa: A002
    """The number of non-zero elements (along ``dim``), int64."""
    x = _need_tensor(input, "count_nonzero")
    axes = normalize_dims(dim, x.ndim)
    h = host_data(x)
    out = np.count_nonzero(h, axis=axes) if axes else np.count_nonzero(h)
    return _wrap(np.asarray(out, dtype=np.int64), x._device)


def nonzero(input, *, as_tuple=False):  # noqa: A002
    """Indices of the non-zero elements: an ``(n, ndim)`` int64 tensor, or one 1-D tensor per
    dim with ``as_tuple=True``."""
    x = _need_tensor(input, "nonzero")
    if as_tuple:
        data = host_data(x) if x.ndim else host_data(x).reshape(1)
        return tuple(_wrap(i.astype(np.int64), x._device) for i in np.nonzero(data))
    return _wrap(np.argwhere(host_data(x)).astype(np.int64), x._device)


def argwhere(input):  # noqa: A002
    """``nonzero(input)``: the ``(n, ndim)`` indices of the non-zero elements."""
    return nonzero(input)


def _as_array(v):
    return v._data if isinstance(v, TensorBase) else np.asarray(v)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):  # noqa: A002
    """Where each value of ``input`` would go in ``sorted_sequence`` (its innermost dim) to keep
    it sorted: the first such position, or the last with ``right=True``/``side="right"``."""
    seq = _as_array(sorted_sequence)
    vals = _as_array(input)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(
                f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
            )
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of "
                "left while right was True"
            )
        right = side == "right"
    if sorter is not None:
        srt = _as_array(sorter)
        seq = np.take_along_axis(seq, srt, -1)
    how = "right" if right else "left"
    if seq.ndim <= 1:
        out = np.searchsorted(seq, vals, side=how)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise RuntimeError(
                f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                f"dimensions of boundaries tensor and input value tensor must match, but we got "
                f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}"
            )
        s2 = seq.reshape(-1, seq.shape[-1])
        v2 = vals.reshape(-1, vals.shape[-1])
        out = np.stack([np.searchsorted(a, b, side=how) for a, b in zip(s2, v2)])
        out = out.reshape(vals.shape)
    dev = input._device if isinstance(input, TensorBase) else sorted_sequence._device
    return _wrap(np.asarray(out, dtype=np.int32 if out_int32 else np.int64), dev)


def bucketize(input, boundaries, *, out_int32=False, right=False):  # noqa: A002
    """The bucket of each value: ``i`` with ``boundaries[i-1] < v <= boundaries[i]`` (or
    ``<= v <`` with ``right=True``); ``boundaries`` is 1-D."""
    b = _need_tensor(boundaries, "bucketize")
    if b.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({b.ndim})")
    return searchsorted(b, input, out_int32=out_int32, right=right)


def bincount(input, weights=None, minlength=0):  # noqa: A002
    """Counts of each value of a 1-D non-negative integer tensor (int64), or sums of
    ``weights`` (float32 weights stay float32, others give float64, as torch)."""
    x = _need_tensor(input, "bincount")
    arr = host_data(x)
    if arr.dtype.kind not in "biu":
        name = D.torch_name(arr.dtype)
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{name}'")
    if arr.ndim != 1 or (arr.size and int(arr.min()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        out = np.bincount(arr, minlength=minlength).astype(np.int64)
    else:
        w = _as_array(weights)
        if w.shape != arr.shape:
            raise RuntimeError("weights should be 1-d and have the same length as input")
        dt = np.float32 if w.dtype == np.float32 else np.float64
        out = np.bincount(arr, weights=w.astype(np.float64), minlength=minlength).astype(dt)
    return _wrap(out, x._device)


def _hist_float(x, fname):
    x = _need_tensor(x, fname)
    if x._data.dtype.kind != "f":
        raise NotImplementedError(
            f"\"{fname}\" not implemented for '{D.torch_name(x._data.dtype)}'"
        )
    return x


def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """Counts in ``bins`` equal bins over ``[min, max]`` (the data's range when both are 0);
    values outside are ignored.  The result has the input's dtype."""
    x = _hist_float(input, "histogram_cpu")
    data = x._data.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"max must be larger than min (min {min}, max {max})")
    counts, _ = np.histogram(data, bins=int(bins), range=(lo, hi))
    return _wrap(counts.astype(x._data.dtype), x._device)


def histogram(input, bins, *, range=None, weight=None, density=False):  # noqa: A002
    """``(hist, bin_edges)``: counts (or ``weight`` sums, or a density) in ``bins`` equal bins
    over ``range`` (the data's range by default), or between the given edges."""
    x = _hist_float(input, "histogramdd")
    data = host_data(x).reshape(-1)
    dt = x._data.dtype
    w = None if weight is None else _as_array(weight).reshape(-1)
    if isinstance(bins, TensorBase):
        edges = host_data(bins).astype(np.float64)
    else:
        if range is None:
            lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
        else:
            lo, hi = float(range[0]), float(range[1])
        if lo > hi:
            raise RuntimeError(f"histogram(): max must be larger than min (range {range})")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5  # numpy's and torch's widening of an empty range
        edges = np.linspace(lo, hi, int(bins) + 1).astype(dt).astype(np.float64)
    hist, _ = np.histogram(data, bins=edges, weights=w, density=density)
    return _histogram_result(_wrap(hist.astype(dt), x._device), _wrap(edges.astype(dt), x._device))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values (always sorted, as torch on the CPU), with the inverse indices and
    counts on request; ``dim`` takes distinct slices along that dim."""
    x = _need_tensor(input, "unique")
    arr = host_data(x)
    axis = None if dim is None else _norm_dim(dim, x.ndim)
    res = np.unique(arr, return_inverse=True, return_counts=True, axis=axis)
    vals, inv, counts = res
    if axis is None:
        inv = inv.reshape(arr.shape)
    else:
        inv = inv.reshape(-1)
    out = [_wrap(np.ascontiguousarray(vals), x._device)]
    if return_inverse:
        out.append(_wrap(inv.astype(np.int64), x._device))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64), x._device))
    return out[0] if len(out) == 1 else tuple(out)


# ---- new_* (Tensor methods) -------------------------------------------------------------------


def _new_like(x, arr, dtype, device, requires_grad):
    # storage-level construction: functional sits below creation (tests/reliability/test_layers)
    dt = D.as_dtype(dtype).np if dtype is not None else x._data.dtype
    dev = x._device if device is None else check_device(device)
    if isinstance(arr, TensorBase):
        arr = arr._device.arrays.to_host(arr._data)
    out = _wrap(dev.arrays.from_host(np.array(arr, dtype=dt)), dev)
    if requires_grad:
        out.requires_grad_(True)
    return out


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    """Zeros of ``size`` with this tensor's dtype and device (unless given)."""
    return _new_like(self, np.zeros(_shape_arg(size)), dtype, device, requires_grad)


def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    """Ones of ``size`` with this tensor's dtype and device (unless given)."""
    return _new_like(self, np.ones(_shape_arg(size)), dtype, device, requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of ``size`` (zeros here) with this tensor's dtype and device."""
    return _new_like(self, np.zeros(_shape_arg(size)), dtype, device, requires_grad)


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """``fill_value`` in ``size`` with this tensor's dtype and device (unless given)."""
    return _new_like(self, np.full(_shape_arg((size,)), fill_value), dtype, device, requires_grad)


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A new tensor (a copy) of ``data`` with this tensor's dtype and device (unless given)."""
    if isinstance(data, TensorBase):
        data = data._data
    return _new_like(self, np.array(data), dtype, device, requires_grad)


def equal(input, other):  # noqa: A002
    """``True`` if both tensors have the same shape and elements (``torch.equal``)."""
    a, b = _need_tensor(input, "equal"), _need_tensor(other, "equal")
    if a._device is not b._device:
        raise RuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices, "
            f"{a._device} and {b._device}!"
        )
    if tuple(a.shape) != tuple(b.shape):
        return False
    ha, hb = a._device.arrays.to_host(a._data), b._device.arrays.to_host(b._data)
    return bool(np.array_equal(ha, hb))


# ---- end section: tensor_ops ----
