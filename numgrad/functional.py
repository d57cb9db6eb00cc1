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
from .capture import CAPTURE, capture_op
from .dispatch import _describe, apply, apply_variadic, result_type
from .grad_mode import GRAD_MODE, no_grad
from .ops.linalg import check_matmul
from .ops.reduce import normalize_dims
from .ops.registry import OPS
from .ops.shape import _is_basic
from .ops.transfer import transfer as _transfer
from .storage import TensorBase, _norm_dim, _wrap, tensor_from
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
        zero = not y._data.astype(dt, copy=False).all()
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
    out = np.all(x._data, axis=axes, keepdims=keepdim)
    out = out.astype(np.uint8) if x._data.dtype == np.uint8 else out  # torch: uint8 stays
    return _wrap(np.asarray(out), x._device)


def any(x, dim=None, keepdim=False):  # noqa: A001
    """True where some element (along ``dim``) is non-zero; no gradient."""
    x = _need_tensor(x, "any")
    axes = normalize_dims(dim, x.ndim)
    out = np.any(x._data, axis=axes, keepdims=keepdim)
    out = out.astype(np.uint8) if x._data.dtype == np.uint8 else out  # torch: uint8 stays
    return _wrap(np.asarray(out), x._device)


def rsqrt(x):
    return div(1.0, sqrt(x))


def where(condition, x=None, y=None):
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (gradients flow to both)."""
    cond = _need_tensor(condition, "where")
    if x is None and y is None:
        return tuple(_wrap(i, cond._device) for i in np.nonzero(cond._data))
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
        arr = np.asarray([i._data if isinstance(i, TensorBase) else i for i in idx])
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
    if not np.isfinite(m._data).all():
        # torch shifts by 0 where the max is infinite: a row of -inf (fully masked attention)
        # gives -inf, and one holding +inf gives +inf, where x - m would be inf - inf = NaN
        m = tensor_from(np.where(np.isinf(m._data), m._data.dtype.type(0), m._data))
    out = log(sum(exp(x - m), dim=dim, keepdim=True)) + m
    return out if keepdim else squeeze(out, dim)


# ---- issue 11 section: math ----
# ---- end section: math ----
# ---- issue 11 section: habits ----
# ---- end section: habits ----
# ---- issue 11 section: random ----
# ---- end section: random ----
# ---- issue 11 section: tensor_ops ----
# ---- end section: tensor_ops ----
