"""``"ref"``: a plain-numpy reference device, used only by the tests.

It is the proof that the op table is device-neutral (issue 8): everything here goes through the
registry API (``register_device``, ``impl``) and nothing else in ``numgrad``.  Importing this
module registers the device; ``tests/opinfo.py`` does, so the op-spec suite runs on it too.

* **Arrays**: numpy arrays in host memory, behind this file's own array API (:class:`RefArrays`),
  so the tape and the engine reach them only through the names a device must provide.
* **Elementwise ops** run each op's scalar rule *without Numba*: the rule's plain-Python
  function (``py_func``), with every other ``@scalar`` rule it calls swapped for that rule's
  own plain function, evaluated element by element on numpy scalars of the dtype the CPU
  kernel would compute in.  So the plain-Python meanings in ``numgrad/ops/math.py`` (the math
  seam) are what runs; a rule reaching past the seam (a device's math, a compiled helper)
  fails here.  Slow (microseconds per element): tests keep their arrays small.
* **Every other op** is written here from its meaning with numpy, reading the plan that
  ``numgrad/ops`` computes from shapes and attrs; none of it is shared with
  ``numgrad/devices/cpu`` (which this file never imports).
* **Optimizer updates** (``sgd_update``, ``adam_update``) follow the device contract of
  ``numgrad/ops/optim.py`` with the rules' plain-Python functions, element by element.
"""

from __future__ import annotations

import inspect
import math
import types

import numpy as np

from numgrad.ops.registry import OPS, DtypeError, impl, register_device

NAME = "ref"

_SMALL_INTS = frozenset(np.dtype(t) for t in ("uint8", "int8", "int16", "int32", "uint16"))
_I64 = np.dtype(np.int64)

# ---- the array API ---------------------------------------------------------------------------


class RefArrays:
    """Everything the tape and the engine do to this device's arrays besides running kernels
    (the names of ``numgrad/devices/cpu/array.py``, written again from their meaning)."""

    array_type = np.ndarray

    @staticmethod
    def empty(shape, dtype):
        return np.empty(shape, dtype)

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype)

    @staticmethod
    def full(shape, value, dtype):
        return np.full(shape, value, dtype)

    @staticmethod
    def asarray(x, dtype=None):
        return np.asarray(x, dtype=dtype)

    @staticmethod
    def copy(a):
        return np.array(a, copy=True)

    @staticmethod
    def cast(a, dtype):
        with np.errstate(over="ignore"):  # float64 -> float16 overflow is inf, as in torch
            return np.asarray(a).astype(dtype)

    @staticmethod
    def add(a, b):
        return np.add(a, b)

    @staticmethod
    def accumulate(into, g):
        into += g

    @staticmethod
    def sum_to_shape(g, shape):
        shape = tuple(shape)
        if g.shape == shape:
            return g
        lead = g.ndim - len(shape)
        kept = [i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1]
        axes = tuple(range(lead)) + tuple(lead + i for i in kept)
        g = np.sum(g, axis=axes, keepdims=True) if axes else g
        g = g.reshape(g.shape[lead:])
        return g if g.shape == shape else np.broadcast_to(g, shape)

    @staticmethod
    def assign(dst, src):
        np.copyto(dst, src, casting="unsafe")

    @staticmethod
    def fill(dst, value):
        dst.fill(value)

    @staticmethod
    def writeable(a):
        return bool(a.flags.writeable)

    @staticmethod
    def shares_memory(a, b):
        return isinstance(b, np.ndarray) and np.shares_memory(a, b)

    @staticmethod
    def errstate():
        return np.errstate(all="ignore")

    @staticmethod
    def is_contiguous(a):
        return bool(a.flags.c_contiguous)

    @staticmethod
    def from_host(a):
        return a

    @staticmethod
    def to_host(a):
        return a


# ---- scalar rules in plain Python --------------------------------------------------------------

# what a rule may reach besides its own module's rules: the math seam, numpy's scalar types
# (np.float32(1.0) as a typed constant) and Python's math
_SEAM_MODULES = frozenset(("numgrad.ops.math", "numpy", "math"))
_PLAIN: dict = {}  # rule's py_func -> its plain-Python version


def _is_compiled(v):
    return callable(v) and hasattr(v, "py_func")  # a Numba dispatcher


def plain(rule):
    """``rule`` (an ``@scalar`` function) as plain Python: its ``py_func`` re-created with
    globals (and closure cells) in which every compiled rule it calls is that rule's plain
    version (recursively), so calling it compiles nothing.  Raises when the rule reaches a
    module other than the math seam, numpy or math, or a compiled function that is not a rule
    (a device's own math)."""
    py = getattr(rule, "py_func", rule)
    got = _PLAIN.get(py)
    if got is not None:
        return got
    code = py.__code__
    env = dict(py.__globals__)
    for name in code.co_names:
        if name in env:
            env[name] = _plain_value(py, name, env[name], code.co_names)
    cells = None
    if py.__closure__:
        cells = tuple(
            types.CellType(_plain_value(py, n, c.cell_contents, code.co_names))
            for n, c in zip(code.co_freevars, py.__closure__)
        )
    fn = types.FunctionType(code, env, py.__name__, py.__defaults__, cells)
    fn.__qualname__ = py.__qualname__
    _PLAIN[py] = fn
    return fn


def _plain_value(py, name, v, attrs):
    """What rule ``py`` may see under ``name`` instead of ``v`` (see :func:`plain`)."""
    if isinstance(v, types.ModuleType):
        if v.__name__ not in _SEAM_MODULES:
            raise AssertionError(
                f"scalar rule {py.__qualname__} uses module {v.__name__}: rules may call only "
                "the math seam (numgrad.ops.math)"
            )
        if v.__name__ == "numgrad.ops.math":
            for attr in attrs:
                if _is_compiled(getattr(v, attr, None)):
                    raise AssertionError(
                        f"scalar rule {py.__qualname__} calls compiled {v.__name__}.{attr}"
                    )
        return v
    if _is_compiled(v):
        if v.py_func.__module__.startswith("numgrad.devices"):
            raise AssertionError(f"scalar rule {py.__qualname__} calls device code {name}")
        return plain(v)
    return v


def _element_arrays(args, sig):
    """Each argument as an array of its signature type (a python number converts as a ufunc's
    scalar operand would, wrapping into small integer types)."""
    return [np.asarray(a).astype(t, copy=False) for a, t in zip(args, sig)]


def build_elementwise(kernel):
    """This device's callable for an elementwise Kernel: ``kernel.scalar``'s plain-Python rule
    evaluated per element, with the dtype contract of ``kernel.spec`` (supported types, a fixed
    output type, fixed argument types, torch's refusals)."""
    spec = kernel.spec
    fn = plain(kernel.scalar)
    nargs = len(inspect.signature(fn).parameters)
    arg_types = spec["arg_types"] or (None,) * nargs
    dtype_arg = next(i for i, t in enumerate(arg_types) if t is None)
    ok = frozenset(np.dtype(t) for t in spec["types"])
    fixed_out = None if spec["out"] is None else np.dtype(spec["out"])
    refuse = spec["refuse"] or {}
    name = kernel.name

    def run(*args):
        a = args[dtype_arg]
        dt = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
        if dt not in ok:
            raise DtypeError(name, dt, refuse.get(dt.name))
        out_dt = fixed_out or dt
        with np.errstate(all="ignore"):  # NaN and inf flow silently, as in torch
            arrays = _element_arrays(args, [dt if t is None else np.dtype(t) for t in arg_types])
            shape = np.broadcast_shapes(*(x.shape for x in arrays))
            # small integers compute in int64 and store wrapped, as numgrad's CPU loops (and
            # torch's uint8/int32 arithmetic) do
            flat = [
                np.broadcast_to(x.astype(_I64) if x.dtype in _SMALL_INTS else x, shape).ravel()
                for x in arrays
            ]
            res = np.empty(math.prod(shape), _I64 if out_dt in _SMALL_INTS else out_dt)
            for i in range(res.size):
                res[i] = fn(*[f[i] for f in flat])
            return res.astype(out_dt, copy=False).reshape(shape)

    run.__name__ = f"ref_{name}"
    return run


# ---- dtype conversion, copies, shapes, indexing -------------------------------------------------


def astype(x, dtype):
    with np.errstate(over="ignore"):
        return x.astype(dtype)


def copy(x):
    return np.array(x, copy=True)


def reshape(x, shape):
    return np.reshape(x, shape)  # a view when the layout allows it, as torch's view/reshape


def reshape_back(grad, x_shape):
    return np.reshape(grad, x_shape)


def broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


def transpose(x, perm):
    return np.transpose(x, perm)


def transpose_back(grad, plan):
    return np.transpose(grad, plan)  # plan: the inverse permutation


def index(x, index):
    return x[index]


def getitem_backward(grad, plan):
    out = np.zeros(plan.shape, grad.dtype)
    if plan.kind == "basic":
        out[plan.index] = grad  # a view selects each element once
    else:
        np.add.at(out, plan.index, grad)  # repeated indices add up; bounds-checked by numpy
    return out


def setitem_forward(x, v, index):
    out = np.array(x, copy=True)
    out[index] = v
    return out


def setitem_dx(grad, index):
    g = np.array(grad, copy=True)
    g[index] = 0
    return g


def setitem_dv(grad, index):
    return grad[index]


def concatenate(xs, dim):
    return np.concatenate(xs, axis=dim)


def cat_backward(grad, plan):
    return np.split(grad, list(plan.bounds), axis=plan.dim)


def stack(xs, dim):
    return np.stack(xs, axis=dim)


def stack_backward(grad, xs_shapes, dim):
    return [np.take(grad, i, axis=dim) for i in range(len(xs_shapes))]


# region: the flat (C-order) indices of the base that the view covers, shaped like the view;
# the copies are C-ordered so that reshape(-1) is a view to write through


def view_scatter_forward(base, v, region):
    out = np.array(base, order="C")
    out.reshape(-1)[region] = np.broadcast_to(v, region.shape)
    return out


def view_scatter_dbase(grad, region):
    g = np.array(grad, order="C")
    g.reshape(-1)[region] = 0
    return g


def view_scatter_dv(grad, region):
    return np.ravel(grad)[region]


# ---- reductions ------------------------------------------------------------------------------


def _count(plan):
    return math.prod(plan.shape[a] for a in plan.axes)


def _total(x, plan):
    """The sum over ``plan.axes``: floats accumulate in float64, integers and bools in int64."""
    acc = np.float64 if x.dtype.kind == "f" else np.int64
    return np.asarray(np.sum(x, axis=plan.axes, dtype=acc))


def sum_forward(x, plan):
    s = _total(x, plan)
    return s.astype(x.dtype if x.dtype.kind == "f" else np.int64).reshape(plan.out_shape)


def sum_backward(grad, plan):
    return np.array(np.broadcast_to(np.reshape(grad, plan.keep_shape), plan.shape))


def mean_forward(x, plan):
    n = _count(plan)
    with np.errstate(all="ignore"):  # the mean of nothing is NaN, as torch's
        return (_total(x, plan) / n).astype(x.dtype).reshape(plan.out_shape)


def mean_backward(grad, plan):
    return sum_backward(grad / np.asarray(_count(plan), grad.dtype), plan)


def _extreme(sign):
    return np.max if sign > 0 else np.min  # both propagate NaN, as torch's


def _tied(x, best):
    """Where ``x`` equals its (broadcast) extreme ``best``; NaN ties NaN."""
    return (x == best) | (np.isnan(x) & np.isnan(best)) if x.dtype.kind == "f" else x == best


def _share(grad, mask, axes):
    """``grad`` split evenly among the tied elements of ``mask`` (torch's amax rule)."""
    count = np.sum(mask, axis=axes, keepdims=True)
    with np.errstate(all="ignore"):
        return np.where(mask, grad / count.astype(grad.dtype), grad.dtype.type(0))


def amax_forward(x, sign, plan):
    return np.asarray(_extreme(sign)(x, axis=plan.axes)).reshape(plan.out_shape)


def amax_backward(grad, x, out, plan):
    best = np.reshape(out, plan.keep_shape)
    return _share(np.reshape(grad, plan.keep_shape), _tied(x, best), plan.axes)


def max_dim_forward(x, sign, plan):
    (axis,) = plan.axes
    # the first index of the extreme; a NaN is the extreme (its first index), as torch's
    pick = np.argmax if sign > 0 else np.argmin
    idx = pick(x, axis=axis, keepdims=True)
    vals = np.take_along_axis(x, idx, axis=axis)
    return vals.reshape(plan.out_shape), idx.astype(np.int64).reshape(plan.out_shape)


def max_dim_backward(grad, indices, plan):
    (axis,) = plan.axes
    size = plan.shape[axis]
    idx = np.reshape(indices, plan.keep_shape)
    bad = (idx < 0) | (idx >= size)
    if bad.any():
        raise RuntimeError(
            f"index {int(idx[bad][0])} is out of bounds for dimension {axis} with size {size} "
            f"(the indices returned by max/min were changed after forward)"
        )
    out = np.zeros(plan.shape, grad.dtype)
    np.put_along_axis(out, idx, np.reshape(grad, plan.keep_shape), axis=axis)
    return out


def max_all_forward(x, sign, plan):
    return np.asarray(_extreme(sign)(x), dtype=x.dtype).reshape(())


def max_all_backward(grad, x, out):
    g = np.asarray(grad, dtype=x.dtype)
    return _share(g, _tied(x, np.asarray(out, x.dtype)), None)


def _sgn(x):
    return np.sign(np.where(np.isnan(x), 0, x)).astype(x.dtype)  # torch's sgn: 0 at NaN


def var_forward(x, plan):
    with np.errstate(all="ignore"):  # no degrees of freedom: inf or NaN, as torch's
        mean = np.sum(x, axis=plan.axes, keepdims=True, dtype=np.float64) / plan.n
        d = x - mean
        ss = np.sum(d * d, axis=plan.axes, keepdims=plan.keepdim, dtype=np.float64)
        return np.asarray(ss / plan.denom).astype(x.dtype)


def var_backward(grad, x, plan):
    # torch's var_backward: (2 / dof) * grad * (x - mean); with no dim given and dof <= 0,
    # NaN where x equals its mean and inf elsewhere
    g = np.reshape(grad, plan.keep_shape)
    with np.errstate(all="ignore"):
        mean = (np.sum(x, axis=plan.axes, keepdims=True, dtype=np.float64) / plan.n).astype(x.dtype)
        if plan.full and plan.dof <= 0:
            return g * np.where(x == mean, np.nan, np.inf).astype(x.dtype)
        coef = np.inf if plan.dof == 0 else 2.0 / plan.dof
        return (x.dtype.type(coef) * g) * (x - mean)


def std_forward(x, plan):
    with np.errstate(invalid="ignore"):
        return np.sqrt(var_forward(x, plan))


def std_backward(grad, x, out, plan):
    # torch: grad / (2 std), an exact 0 where std is 0, then var's rule
    with np.errstate(all="ignore"):
        g = np.where(out == 0, out.dtype.type(0), grad / (2 * out))
    return var_backward(g, x, plan)


def norm_forward(x, plan):
    axes, keep, p = plan.axes, plan.keepdim, plan.p
    a = np.abs(x)
    with np.errstate(all="ignore"):
        if p == 0:
            r = np.sum(x != 0, axis=axes, keepdims=keep, dtype=np.float64)
        elif math.isinf(p):
            r = (np.max if p > 0 else np.min)(a, axis=axes, keepdims=keep)
        elif p == 1:
            r = np.sum(a, axis=axes, keepdims=keep, dtype=np.float64)
        elif p == 2:
            r = np.sqrt(np.sum(x * x, axis=axes, keepdims=keep, dtype=np.float64))
        else:
            r = np.sum(a ** x.dtype.type(p), axis=axes, keepdims=keep, dtype=np.float64) ** (1 / p)
    return np.asarray(r).astype(x.dtype)


def norm_backward(grad, x, out, plan):
    # torch's norm_backward (derivatives.yaml), masking the points where it divides 0 by 0
    p = plan.p
    g = np.reshape(grad, plan.keep_shape)
    n = np.reshape(out, plan.keep_shape)
    zero = x.dtype.type(0)
    a = np.abs(x)
    with np.errstate(all="ignore"):
        if p == 0:
            return np.zeros_like(x)
        if p == 1:
            return _sgn(x) * g
        if p == 2:
            return g * np.where(n == 0, zero, x / n)
        if math.isinf(p):
            return _sgn(x) * _share(g, _tied(a, n), plan.axes)
        pt = x.dtype.type(p)
        if p < 1:
            return _sgn(x) * np.where(x == 0, zero, a ** (pt - 1)) * g * n ** (1 - pt)
        scale = np.where(n == 0, zero, g / n ** (pt - 1))
        return _sgn(x) * a ** (pt - 1) * scale


# ---- matmul, linear --------------------------------------------------------------------------


def matmul_forward(a, b, plan):
    return np.reshape(np.matmul(a, b), plan.out_shape)  # numpy's matmul: torch's 1-D rules


def _swap(m):
    return np.swapaxes(m, -1, -2)


def matmul_da(grad, b, plan):
    g = grad if plan.grad_mat is None else np.reshape(grad, plan.grad_mat)
    b2 = b if plan.other_mat is None else np.reshape(b, plan.other_mat)
    ga = np.matmul(g, _swap(b2))  # batch dims may be broadcast: the tape sums them away
    return ga if plan.out_shape is None else np.reshape(ga, plan.out_shape)


def matmul_db(grad, a, plan):
    g = grad if plan.grad_mat is None else np.reshape(grad, plan.grad_mat)
    a2 = a if plan.other_mat is None else np.reshape(a, plan.other_mat)
    gb = np.matmul(_swap(a2), g)
    return gb if plan.out_shape is None else np.reshape(gb, plan.out_shape)


def linear_forward(x, weight, bias):
    out = np.matmul(x, weight.T)
    return out if bias is None else out + bias


def linear_dx(grad, weight, x_shape):
    return np.reshape(np.matmul(grad, weight), x_shape)


def linear_dw(grad, x):
    k = grad.shape[-1]
    return np.matmul(np.reshape(grad, (-1, k)).T, np.reshape(x, (-1, x.shape[-1])))


def linear_db(grad):
    return np.sum(np.reshape(grad, (-1, grad.shape[-1])), axis=0)


# ---- softmax, log_softmax, nll ---------------------------------------------------------------


def _rows_axis(x, plan):
    """``x`` and the axis its rows run along (a 0-d tensor is one row of one)."""
    return (x.reshape(1), 0) if x.ndim == 0 else (x, plan.dim)


def _shifted(x, axis):
    """``x`` minus its row max (0 for an all -inf row, which then comes out NaN, as torch's),
    and the float64 sum of its exponentials."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(m == -np.inf, 0, m).astype(x.dtype)
    z = x - m
    e = np.exp(z)
    return z, e, np.sum(e, axis=axis, keepdims=True, dtype=np.float64)


def softmax_forward(x, plan):
    if x.size == 0:
        return np.empty_like(x)
    x1, axis = _rows_axis(x, plan)
    with np.errstate(all="ignore"):
        _, e, s = _shifted(x1, axis)
        return (e / s).astype(x.dtype).reshape(x.shape)


def log_softmax_forward(x, plan):
    if x.size == 0:
        return np.empty_like(x)
    x1, axis = _rows_axis(x, plan)
    with np.errstate(all="ignore"):
        z, _, s = _shifted(x1, axis)
        return (z - np.log(s).astype(x.dtype)).reshape(x.shape)


def softmax_backward(grad, out, plan):
    g, axis = _rows_axis(grad, plan)
    o, _ = _rows_axis(out, plan)
    dot = np.sum(g * o, axis=axis, keepdims=True, dtype=np.float64).astype(grad.dtype)
    return (o * (g - dot)).reshape(grad.shape)


def log_softmax_backward(grad, out, plan):
    g, axis = _rows_axis(grad, plan)
    o, _ = _rows_axis(out, plan)
    total = np.sum(g, axis=axis, keepdims=True, dtype=np.float64).astype(grad.dtype)
    return (g - np.exp(o) * total).reshape(grad.shape)


def _nll_rows(a, plan):
    """(rows, classes) of log-probabilities laid out as ``plan`` says (class axis 1, or 0 for
    one sample); targets flattened to one per row."""
    if plan.layout == 1:
        return np.reshape(a, (1, plan.c))
    return np.reshape(np.moveaxis(a, 1, -1), (plan.n, plan.c))


def _check_targets(t, c, ignore_index, when):
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(
            f"nll_loss: target {int(t[i])} at position {i} is out of bounds for {c} classes "
            f"({when})"
        )


def nll_forward(logp, target, weight, ignore_index, plan):
    rows = _nll_rows(logp, plan)
    t = np.reshape(target, -1).astype(np.int64)
    _check_targets(t, plan.c, ignore_index, "forward")
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    w = np.ones(plan.c) if weight is None else np.asarray(weight, np.float64)
    wt = np.where(keep, w[safe], 0.0)
    picked = rows[np.arange(len(t)), safe].astype(np.float64)
    losses = np.where(keep, -wt * picked, 0.0)
    if plan.mode == 0:
        return losses.astype(logp.dtype).reshape(plan.out_shape)
    total = np.sum(losses)
    if plan.mode == 1:
        return np.asarray(total, logp.dtype)
    total_w = np.sum(wt)
    with np.errstate(all="ignore"):
        return np.asarray(total / total_w if total_w else np.nan, logp.dtype)


def nll_backward(grad, target, weight, ignore_index, plan):
    t = np.reshape(target, -1).astype(np.int64)
    _check_targets(t, plan.c, ignore_index, "changed after forward")
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    w = np.ones(plan.c) if weight is None else np.asarray(weight, np.float64)
    wt = np.where(keep, w[safe], 0.0)
    if plan.mode == 0:
        g = np.reshape(grad, -1).astype(np.float64)
    else:
        g = np.full(len(t), float(np.reshape(grad, -1)[0]))
        if plan.mode == 2:
            total_w = np.sum(wt)
            g = g / total_w if total_w else g * np.nan
    rows = np.zeros((len(t), plan.c), grad.dtype)
    rows[np.arange(len(t)), safe] = np.where(keep, -wt * g, 0.0)
    if plan.layout == 1:
        return rows.reshape(plan.shape)
    return np.moveaxis(rows.reshape(plan.moved_shape), -1, 1)


# ---- optimizer updates -------------------------------------------------------------------------


class Update:
    """The device contract of ``numgrad/ops/optim.py``: ``make(rows, static, dtype)`` binds an
    update to a group's parameter rows; ``bound(grads, *scalars)`` runs its rules, plain Python,
    element by element."""

    def __init__(self, op_name):
        self.op_name = op_name

    def __call__(self, rows, static, dtype):
        spec = OPS[self.op_name].forward.spec
        flags = dict(zip(spec["static"], static, strict=True))
        present = [s for s in spec["slots"] if flags.get(spec["optional"].get(s), True)]
        counters = list(spec["counters"])
        rule = plain(spec["rule"])
        per_tensor = spec["per_tensor"] and plain(spec["per_tensor"])
        params = list(inspect.signature(rule).parameters)
        names = spec["scalars"] + spec["per_tensor_scalars"]
        rows = [tuple(r) for r in rows]

        def bound(grads, *scalars):
            if len(grads) != len(rows):
                raise ValueError(f"{len(grads)} gradients for {len(rows)} parameters")
            for row, g in zip(rows, grads):
                arrays = dict(zip(present + counters, (row[0], g, *row[2:]), strict=True))
                scope = dict(zip(names, scalars, strict=True)) | flags
                for c in counters:  # the increments: float32 += 1, as torch's step
                    if c in spec.get("increments", counters):
                        arrays[c][...] = arrays[c] + np.float32(1)
                    scope[c] = float(arrays[c])
                if per_tensor:
                    pt_args = [scope[a] for a in inspect.signature(per_tensor).parameters]
                    values = per_tensor(*pt_args)
                    for n, v in zip(spec["per_tensor_names"], values, strict=True):
                        if n in counters:  # a per-tensor state the rule writes (float32)
                            arrays[n][...] = np.float32(v)
                        else:
                            scope[n] = dtype.type(v)
                flat = {k: arrays[k].reshape(-1) for k in present}
                for k in present:
                    # writes must land in the caller's arrays (an empty one has nothing to write)
                    assert (
                        k == "grad" or not arrays[k].size or np.shares_memory(flat[k], arrays[k])
                    ), k
                for i in range(row[0].size):
                    call = []
                    for a in params:
                        if a in spec["slots"]:
                            call.append(flat[a][i] if a in flat else flat["param"][i])
                        else:
                            call.append(scope[a])
                    for w, v in zip(spec["writes"], rule(*call), strict=True):
                        if w in flat:
                            flat[w][i] = v

        return bound


# ---- registration ------------------------------------------------------------------------------

IMPLS = {
    "cast": (astype, {}),
    "clone": (copy, {}),
    "reshape": (reshape, {"x": reshape_back}),
    "expand": (broadcast_to, {}),
    "permute": (transpose, {"x": transpose_back}),
    "getitem": (index, {"x": getitem_backward}),
    "setitem": (setitem_forward, {"x": setitem_dx, "v": setitem_dv}),
    "cat": (concatenate, {"xs": cat_backward}),
    "stack": (stack, {"xs": stack_backward}),
    "view_scatter": (view_scatter_forward, {"base": view_scatter_dbase, "v": view_scatter_dv}),
    "sum": (sum_forward, {"x": sum_backward}),
    "mean": (mean_forward, {"x": mean_backward}),
    "amax": (amax_forward, {"x": amax_backward}),
    "max_dim": (max_dim_forward, {"x": max_dim_backward}),
    "max_all": (max_all_forward, {"x": max_all_backward}),
    "var": (var_forward, {"x": var_backward}),
    "std": (std_forward, {"x": std_backward}),
    "norm": (norm_forward, {"x": norm_backward}),
    "matmul": (matmul_forward, {"a": matmul_da, "b": matmul_db}),
    "linear": (linear_forward, {"x": linear_dx, "weight": linear_dw, "bias": linear_db}),
    "softmax": (softmax_forward, {"x": softmax_backward}),
    "log_softmax": (log_softmax_forward, {"x": log_softmax_backward}),
    "nll": (nll_forward, {"logp": nll_backward}),
    "sgd_update": (Update("sgd_update"), {}),
    "adam_update": (Update("adam_update"), {}),
}


def register():
    """Register the ``ref`` device (idempotent)."""
    register_device(NAME, elementwise=build_elementwise, array=RefArrays)
    impls = dict(IMPLS)
    for area in ("math", "tensor_ops", "random", "conv", "layers", "habits", "optim"):
        # each issue 11 area keeps its reference implementations in tests/ref_<area>.py
        impls.update(__import__(f"ref_{area}").IMPLS)
    for op, (forward, backward) in impls.items():
        impl(op, NAME, forward=forward, backward=backward)


register()
