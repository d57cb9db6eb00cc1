"""Higher-order gradients: ``backward(create_graph=True)`` and ``autograd.grad(create_graph=True)``.

The plain backward pass (``numgrad/tape.py``) calls each op's backward *kernels* on arrays and
records nothing.  With ``create_graph=True`` the same walk runs here on Tensors instead, with grad
mode on, so every operation of the backward pass is itself recorded and its result can be
differentiated again, to any order.

Where a backward rule comes from:

* **Elementwise rules** (the scalar rules of ``ops/elementwise.py``...) are evaluated on Tensors
  as they are written: each rule's Python source is compiled once more with its conditional
  expressions turned into ``where`` (``a if c else b`` -> ``where(c, a, b)``; ``and``/``or``/
  ``not`` -> ``&``/``|``/``~``; ``max``/``min`` -> ``maximum``/``minimum``) and the math seam
  (``m.exp``...) bound to numgrad's differentiable functions.  No derivative is written twice:
  the rule that is the fused scalar kernel is also the differentiable expression.
* **Everything else** (matmul, linear, reductions, softmax, nll, shape ops...) has a Tensor-level
  formula in :data:`FORMULAS`, next to nothing else, each checked against the kernels by the
  double-backward tests.  An op with neither raises ``NotImplementedError`` naming it.

Saved arrays become Tensors again with their history: a saved input of a node is its parent
(the leaf itself, or a Tensor whose history is the parent node), a saved output is a Tensor whose
history is the node.  So a second derivative flows back through every saved value.
"""

from __future__ import annotations

import ast
import heapq
import inspect
import textwrap

import numpy as np

from .. import functional as _functional
from ..dispatch import apply as _apply
from ..grad_mode import enable_grad
from ..ops import math as _seam
from ..ops.registry import _MISSING, missing_rule_error
from ..storage import TensorBase, _wrap
from ..tape import _freed_error, _version_error
from .function import Function


def _F():
    return _functional


# ---- the math seam on Tensors -------------------------------------------------------------------


class _TensorMath:
    """``ops/math.py``'s functions with Tensor meanings (numbers pass through to the seam)."""

    def __init__(self):
        seam = _seam
        self._seam = seam
        self.inf = seam.inf
        self.nan = seam.nan

    def __getattr__(self, name):
        F = _F()
        seam = self._seam
        plain = getattr(seam, name)
        alias = {"exp_double": "exp", "rint": "round", "power": "pow"}.get(name, name)
        fn = getattr(F, alias, None)
        if fn is None:
            raise NotImplementedError(f"the math seam's {name} has no Tensor form yet")

        def call(*args):
            if any(isinstance(a, TensorBase) for a in args):
                return fn(*args)
            return plain(*args)

        setattr(self, name, call)
        return call


def _zero_of(x):
    return 0.0 if isinstance(x, TensorBase) else type(x)(0)


def _one_of(x):
    return 1.0 if isinstance(x, TensorBase) else type(x)(1)


def _power(x, y):
    if isinstance(x, TensorBase) or isinstance(y, TensorBase):
        return x**y
    return _seam.power(x, y)


def _where(c, a, b):
    if isinstance(c, TensorBase):
        return _F().where(c, a, b)
    return a if c else b


def _tensor_or_number(fn_t, fn_n):
    def call(*args):
        if any(isinstance(a, TensorBase) for a in args):
            return fn_t(*args)
        return fn_n(*args)

    return call


def _and(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out & x if isinstance(out, TensorBase) or isinstance(x, TensorBase) else out and x
    return out


def _or(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out | x if isinstance(out, TensorBase) or isinstance(x, TensorBase) else out or x
    return out


def _not(x):
    return _F().logical_not(x) if isinstance(x, TensorBase) else not x


class _Rewrite(ast.NodeTransformer):
    def visit_IfExp(self, node):
        self.generic_visit(node)
        return ast.Call(ast.Name("_ng_where", ast.Load()), [node.test, node.body, node.orelse], [])

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        name = "_ng_and" if isinstance(node.op, ast.And) else "_ng_or"
        return ast.Call(ast.Name(name, ast.Load()), list(node.values), [])

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return ast.Call(ast.Name("_ng_not", ast.Load()), [node.operand], [])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("max", "min"):
            node.func = ast.Name(f"_ng_{node.func.id}", ast.Load())
        return node


def _early_returns(body):
    """``if c: return a`` followed by ``...; return b`` becomes ``...; return where(c, a, b)``
    (both sides are computed; ``where`` picks per element)."""
    for k, st in enumerate(body):
        if (
            isinstance(st, ast.If)
            and not st.orelse
            and len(st.body) == 1
            and isinstance(st.body[0], ast.Return)
            and st.body[0].value is not None
        ):
            rest = _early_returns(body[k + 1 :])
            if rest and isinstance(rest[-1], ast.Return) and rest[-1].value is not None:
                cond = ast.Call(
                    ast.Name("_ng_where", ast.Load()),
                    [st.test, st.body[0].value, rest[-1].value],
                    [],
                )
                return body[:k] + rest[:-1] + [ast.copy_location(ast.Return(cond), rest[-1])]
    return body


_TENSOR_RULES = {}  # py_func -> its Tensor form
_MATH = []


def tensor_rule(py):
    """The Tensor form of scalar rule ``py`` (its plain Python function), built once."""
    got = _TENSOR_RULES.get(py)
    if got is not None:
        return got
    F = _F()
    if not _MATH:
        _MATH.append(_TensorMath())
    lines, first = inspect.getsourcelines(py)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    ast.increment_lineno(tree, first - 1)  # tracebacks point at the rule's own lines
    fdef = tree.body[0]
    fdef.decorator_list = []
    fdef.body = _early_returns(fdef.body)
    tree = ast.fix_missing_locations(_Rewrite().visit(tree))
    env = dict(py.__globals__)
    for name, v in list(env.items()):
        if v is _MATH_MODULE():
            env[name] = _MATH[0]
    env.update(
        zero_of=_zero_of,
        one_of=_one_of,
        power=_power,
        _ng_where=_where,
        _ng_and=_and,
        _ng_or=_or,
        _ng_not=_not,
        _ng_max=_tensor_or_number(F.maximum, max),
        _ng_min=_tensor_or_number(F.minimum, min),
    )
    # other scalar rules the rule calls become Tensor forms too (lazily, by name)
    for name in py.__code__.co_names:
        v = env.get(name)
        inner = getattr(v, "py_func", None)
        if inner is not None and inner is not py:
            env[name] = _lazy(inner)
    code = compile(tree, inspect.getsourcefile(py) or "<rule>", "exec")
    ns = {}
    exec(code, env, ns)
    fn = ns[fdef.name]
    _TENSOR_RULES[py] = fn
    return fn


def _lazy(py):
    def call(*args):
        if any(isinstance(a, TensorBase) for a in args):
            return tensor_rule(py)(*args)
        return py(*args)

    return call


def _MATH_MODULE():
    return _seam


# ---- Tensor formulas for the ops that are not elementwise -------------------------------------


def _sum_to(g, shape):
    """``g`` summed down to ``shape`` (the inverse of broadcasting)."""
    F = _F()
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = F.sum(g, dim=tuple(range(lead)))
    dims = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if b == 1 and a != 1)
    if dims:
        g = F.sum(g, dim=dims, keepdim=True)
    return g.reshape(shape) if tuple(g.shape) != shape else g


def _linear(s, wrt):
    F = _F()
    g = s["grad"]
    if wrt == "x":
        return F.matmul(g, s["weight"])
    g2 = g.reshape(-1, g.shape[-1])
    if wrt == "weight":
        x = s["x"]
        return F.matmul(g2.t().contiguous(), x.reshape(-1, x.shape[-1]))
    return F.sum(g2, dim=0)


def _matmul(s, wrt):
    F = _F()
    g, a, b = s["grad"], s.get("a"), s.get("b")
    a_ndim, b_ndim = (len(x) for x in s["_shapes"])  # only what the rule needs is saved
    if wrt == "a":
        if b_ndim == 1:
            return g.unsqueeze(-1) * b if g.ndim else g * b
        bt = b.transpose(-1, -2).contiguous()
        return F.matmul(g.unsqueeze(-2), bt).squeeze(-2) if a_ndim == 1 else F.matmul(g, bt)
    if a_ndim == 1:
        return F.matmul(a.unsqueeze(-1), g.unsqueeze(-2)) if b_ndim > 1 else a * g
    at = a.transpose(-1, -2).contiguous()
    return F.matmul(at, g.unsqueeze(-1)).squeeze(-1) if b_ndim == 1 else F.matmul(at, g)


def _reduce_back(s, mean):
    plan = s["plan"]
    g = s["grad"].reshape(plan.keep_shape)
    if mean:
        g = g / plan.arb[1]
    return _F().expand(g, *plan.shape)


def _log_softmax_back(s, _):
    F = _F()
    dim = s["plan"].dim
    g, out = s["grad"], s["out"]
    return g - F.exp(out) * F.sum(g, dim=dim, keepdim=True)


def _softmax_back(s, _):
    F = _F()
    dim = s["plan"].dim
    g, out = s["grad"], s["out"]
    return out * (g - F.sum(g * out, dim=dim, keepdim=True))


def _nll_back(s, _):
    F = _F()
    plan, target, weight = s["plan"], s["target"], s.get("weight")
    logp_shape = plan.shape
    c = plan.c
    t = target.reshape(-1)
    ii = s["ignore_index"]
    keep = (t != ii).to(s["grad"].dtype)
    tc = F.where(t != ii, t, t * 0)
    w = keep if weight is None else weight[tc] * keep
    onehot = _onehot(tc, c, s["grad"].dtype)
    if plan.mode == 0:
        g = s["grad"].reshape(-1) * w
    elif plan.mode == 1:
        g = s["grad"] * w
    else:
        g = s["grad"] * w / F.sum(w)
    rows = -(g.unsqueeze(-1) * onehot)
    if plan.layout == 1:
        return rows.reshape(logp_shape)
    if plan.layout == 2:
        return rows
    last = len(plan.moved_shape) - 1  # (N, d1.., C) back to (N, C, d1..)
    return F.permute(rows.reshape(plan.moved_shape), 0, last, *range(1, last))


def _arange(n, device):
    return _wrap(device.arrays.from_host(np.arange(n, dtype=np.int64)), device)


def _onehot(t, c, dtype):
    return (t.unsqueeze(-1) == _arange(c, t._device)).to(dtype)


def _reshape_back(s, _):
    return s["grad"].reshape(s["x_shape"] if "x_shape" in s else s["plan"])


def _getitem_back(s, _):
    F = _F()
    plan = s["plan"]
    g = s["grad"]

    if plan.kind == "basic":
        z = _zeros(plan.shape, g)
        z[plan.index] = g  # recorded: setitem of a tensor that needs grad into fresh zeros
        return z
    if plan.kind == "rows":  # rows may repeat: a one-hot product adds them up
        idx = plan.index
        idx = idx if isinstance(idx, TensorBase) else _wrap(idx, g._device)
        n = plan.shape[0]
        idx = F.where(idx < 0, idx + n, idx)
        onehot = _onehot(idx, n, g.dtype)
        rows = g.reshape(idx.shape[0], -1)
        return F.matmul(onehot.t().contiguous(), rows).reshape(plan.shape)
    idx = plan.index if isinstance(plan.index, tuple) else (plan.index,)
    if all(getattr(getattr(i, "dtype", None), "kind", "") != "i" for i in idx):
        z = _zeros(plan.shape, g)  # boolean masks select each element once
        z[plan.index] = g
        return z
    raise NotImplementedError("create_graph=True: getitem with an advanced integer index")


def _split_back(s, _):
    # cat: the gradient's slices along dim, one per input
    plan = s["plan"]
    g = s["grad"]
    d = plan.dim % g.ndim
    out = []
    lo = 0
    for hi in (*plan.bounds, g.shape[d]):
        out.append(g[(slice(None),) * d + (slice(lo, hi),)])
        lo = hi
    return out


def _stack_back(s, _):
    g, dim = s["grad"], s["dim"]
    d = dim if dim >= 0 else dim + g.ndim
    return [g[(slice(None),) * d + (i,)] for i in range(g.shape[d])]


def _keep(t, shape):
    return t.reshape(shape) if tuple(t.shape) != tuple(shape) else t


def _ties_back(s, _):
    # amax / max over everything: the gradient shared evenly among the tied extremes
    F = _F()
    x, out = s["x"], s["out"]
    shape = s["plan"].keep_shape if "plan" in s and hasattr(s["plan"], "keep_shape") else None
    if shape is None:
        shape = (1,) * x.ndim
    axes = tuple(i for i, (a, b) in enumerate(zip(x.shape, shape)) if b == 1 and a != 1)
    mask = (x == _keep(out.detach(), shape)).to(x.dtype)
    count = F.sum(mask, dim=axes, keepdim=True) if axes else mask
    return _keep(s["grad"], shape) * mask / count


def _max_dim_back(s, _):
    idx = s["indices"]
    axis = s["axis"]
    g = s["grad"]
    shape = list(s["_shapes"][0])
    axis = axis % len(shape)
    if not s["keepdim"]:
        g = g.unsqueeze(axis)
        idx = idx.unsqueeze(axis)
    pos = _arange(shape[axis], g._device).reshape(
        [-1 if i == axis else 1 for i in range(len(shape))]
    )
    return g * (pos == idx).to(g.dtype)


def _moments_back(s, _, std):
    F = _F()
    plan, x = s["plan"], s["x"]
    g = _keep(s["grad"], plan.keep_shape)
    centered = x - F.mean(x, dim=plan.axes, keepdim=True)
    if std:
        return g * centered / (plan.denom * _keep(s["out"], plan.keep_shape))
    return g * 2 * centered / plan.denom


def _norm_back(s, _):
    F = _F()
    plan, x = s["plan"], s["x"]
    g = _keep(s["grad"], plan.keep_shape)
    out = _keep(s["out"], plan.keep_shape)
    p = plan.p
    if p == 2:
        r = x / out
    elif p == 1:
        r = F.sign(x) + 0 * x
    elif p == float("inf") or p == float("-inf"):
        return _ties_back({"x": x.abs(), "out": out, "grad": s["grad"], "plan": plan}, None) * (
            F.sign(x)
        )
    else:
        r = x * x.abs() ** (p - 2) / out ** (p - 1)
    return g * F.where(out == 0, 0.0, r)


def _setitem_dx(s, _):
    g = s["grad"].clone()
    g[s["index"]] = 0.0
    return g


def _view_scatter_back(s, wrt):
    g, region = s["grad"], s["region"]
    flat = g.reshape(-1)
    if wrt == "v":
        return flat[region.reshape(-1)].reshape(region.shape)
    out = flat.clone()
    out[region.reshape(-1)] = 0.0
    return out.reshape(g.shape)


# ---- index ops (ops/index.py, ops/layers.py): each backward is another public op, so the
# derivative of a derivative closes over gather <-> scatter_add and their kin


def _zeros(shape, like):
    return _wrap(like._device.arrays.zeros(tuple(shape), like._data.dtype), like._device)


def _gather_back(s, _):
    x_shape = s["_shapes"][0]
    return _F().scatter_add(_zeros(x_shape, s["grad"]), s["axis"], s["index"], s["grad"])


def _scatter_back(s, wrt, add):
    F = _F()
    g = s["grad"]
    if wrt == "src":
        return F.gather(g, s["axis"], s["index"])
    return g if add else F.scatter(g, s["axis"], s["index"], value=0.0)


def _index_select_back(s, _):
    x_shape = s["_shapes"][0]
    return _F().index_add(_zeros(x_shape, s["grad"]), s["axis"], s["index"], s["grad"])


def _by_indices(s, _):
    # sort, cummax, cummin: the output's elements came from x at the saved indices
    x_shape = s["_shapes"][0]
    return _F().scatter_add(_zeros(x_shape, s["grad"]), s["axis"], s["indices"], s["grad"])


def _cumsum_back(s, _):
    F = _F()
    d = s["axis"]
    return F.flip(F.cumsum(F.flip(s["grad"], d), d), d)


def _roll_back(s, _):
    shifts, dims = s["shifts"], s["dims"]
    neg = [-k for k in shifts] if isinstance(shifts, (tuple, list)) else -shifts
    return _F().roll(s["grad"], neg, dims)


def _tri_back(s, _):
    F = _F()
    return (F.triu if s["upper"] else F.tril)(s["grad"], s["diagonal"])


def _repeat_back(s, _):
    plan = s["plan"]
    g = s["grad"].reshape(plan.split)
    return _F().sum(g, dim=plan.sum_axes).reshape(plan.x_shape)


def _embedding_back(s, _):
    F = _F()
    n, d = s["weight_shape"]
    g = s["grad"].reshape(-1, d)
    idx = s["indices"].reshape(-1)
    if s["padding_idx"] is not None:
        g = g * (idx != s["padding_idx"]).to(g.dtype).unsqueeze(-1)
    return F.index_add(_zeros((n, d), g), 0, idx, g)


# ---- the remaining plan ops: closed forms in public ops (derivatives.yaml's formulas) ----------


def _pad_back(s, _):
    plan, g = s["plan"], s["grad"]
    x_shape = tuple(s["x_shape"])
    if plan.constant:  # the gradient of the region that came from x, placed back
        region = g[tuple(slice(a, b) for a, b in plan.place)]
        z = _zeros(x_shape, g)
        z[tuple(slice(a, b) for a, b in plan.crop)] = region
        return z
    shape = list(plan.out_shape)
    for axis, src in reversed(plan.maps):  # undo each axis's gather, last first
        shape[axis] = x_shape[axis]
        idx = _wrap(g._device.arrays.from_host(np.asarray(src, np.int64)), g._device)
        g = _F().index_add(_zeros(shape, g), axis, idx, g)
    return g


def _diagonal_back(s, _):
    F = _F()
    g = s["grad"]
    shape = tuple(s["x_shape"])
    nd = len(shape)
    d1, d2, off = s["dim1"] % nd, s["dim2"] % nd, s["offset"]
    others = [i for i in range(nd) if i not in (d1, d2)]
    n = g.shape[-1]
    rows = np.arange(n) + max(-off, 0)
    cols = np.arange(n) + max(off, 0)
    z = _zeros([shape[i] for i in others] + [shape[d1], shape[d2]], g)
    z[(Ellipsis, rows, cols)] = g
    perm = others + [d1, d2]
    return F.permute(z, *[perm.index(i) for i in range(nd)])


def _prod_except(x3):
    # (A, R, B) -> the product over R of all but each element: R x R masks, any zeros allowed
    F = _F()
    r = x3.shape[1]
    eye = _wrap(x3._device.arrays.from_host(np.eye(r, dtype=bool)), x3._device)
    full = F.expand(x3.unsqueeze(1), x3.shape[0], r, r, x3.shape[2])
    return F.prod(F.where(eye.reshape(1, r, r, 1), 1.0, full), 2)


def _prod_back(s, _):
    F = _F()
    plan, x = s["plan"], s["x"]
    xp = F.permute(x, *plan.perm) if plan.perm is not None else x
    x3 = xp.reshape(plan.arb)
    g3 = s["grad"].reshape(plan.arb[0], 1, plan.arb[2])
    gx = (g3 * _prod_except(x3)).reshape(xp.shape)
    return F.permute(gx, *plan.inv_perm) if plan.perm is not None else gx


def _cumprod_back(s, _):
    F = _F()
    d = s["axis"] % s["x"].ndim
    x = F.movedim(s["x"], d, -1)
    g = F.movedim(s["grad"], d, -1)
    n = x.shape[-1]
    i, j, k = np.ogrid[:n, :n, :n]
    keep = (k <= j) & (k != i)  # out_j's factors but x_i
    dev = x._device
    mask = _wrap(dev.arrays.from_host(np.ascontiguousarray(keep)), dev)
    lower = _wrap(dev.arrays.from_host((np.arange(n)[:, None] <= np.arange(n)).astype(bool)), dev)
    xs = x.unsqueeze(-2).unsqueeze(-2)  # (..., 1, 1, n)
    m = F.prod(F.where(mask, xs, 1.0), -1)  # (..., i, j): d out_j / d x_i for i <= j
    gx = F.sum(F.where(lower, m * g.unsqueeze(-2), 0.0), -1)
    return F.movedim(gx, -1, d)


def _max_pool_back(s, _):
    # the gradient goes to the arg-max of each window (the saved plane indices, torch's)
    plan = s["plan"]
    n, c, h, w = plan.x4
    g = s["grad"].reshape(n * c, -1)
    idx = s["indices"].reshape(n * c, -1)
    z = _zeros((n * c, h * w), g)
    return _F().scatter_add(z, 1, idx, g).reshape(plan.x_shape)


def _norm_stats(x, axes, eps):
    F = _F()
    mu = F.mean(x, dim=axes, keepdim=True)
    var = F.mean((x - mu) ** 2, dim=axes, keepdim=True)
    rstd = (var + eps) ** -0.5
    return (x - mu) * rstd, rstd


def _normalized_back(g, w, xhat, rstd, axes):
    F = _F()
    dxhat = g if w is None else g * w
    return rstd * (
        dxhat
        - F.mean(dxhat, dim=axes, keepdim=True)
        - xhat * F.mean(dxhat * xhat, dim=axes, keepdim=True)
    )


def _layer_norm_back(s, wrt):
    plan = s["plan"]
    g = s["grad"].reshape(plan.m, plan.n)
    if wrt == "bias":
        return _F().sum(g, 0).reshape(s["normalized_shape"])
    xhat, rstd = _norm_stats(s["x"].reshape(plan.m, plan.n), (1,), s["eps"])
    if wrt == "weight":
        return _F().sum(g * xhat, 0).reshape(s["normalized_shape"])
    w = s.get("weight")
    w = None if w is None else w.reshape(1, plan.n)
    return _normalized_back(g, w, xhat, rstd, (1,)).reshape(plan.shape)


def _batch_norm_back(s, wrt):
    plan = s["plan"]
    shape3 = (plan.n, plan.c, plan.s)
    g = s["grad"].reshape(shape3)
    if wrt == "bias":
        return _F().sum(g, (0, 2))
    xhat, rstd = _norm_stats(s["x"].reshape(shape3), (0, 2), s["eps"])
    if wrt == "weight":
        return _F().sum(g * xhat, (0, 2))
    w = s.get("weight")
    w = None if w is None else w.reshape(1, plan.c, 1)
    return _normalized_back(g, w, xhat, rstd, (0, 2)).reshape(plan.shape)


# ---- linear and bilinear kernels (pooling, convolution) ------------------------------------------
# A rule R(grad) of an op A that is linear in x is A's adjoint: <R(g), u> = <g, A(u)>, so its
# derivative is A itself.  For a bilinear op T(x, w) (conv, conv_transpose): dx = Dx(g, w) and
# dw = Dw(g, x) with <Dx(g, w), u> = <g, T(u, w)> and <Dw(g, x), v> = <g, T(x, v)>, so each
# rule's derivatives are T and the other rule.  The rules run as the device's kernels inside a
# Function whose backward applies those (second order; the result of that backward is not
# recorded again).


def _kernel(node, wrt, *arrays, plain=None):
    rule = node.op.backward[wrt] if isinstance(node.op.backward, dict) else node.op.rules[0]
    plan = rule.plan_for(plain) if rule.plan is not None else None
    fn = rule.on(node.device.type, node.op.name)
    return fn(*arrays, plan) if plan is not None else fn(*arrays)


class _LinearRule(Function):
    @staticmethod
    def forward(ctx, g, node, plain):
        ctx.node = node
        return _wrap(_kernel(node, "x", g._data, plain=plain), g._device)

    @staticmethod
    def backward(ctx, u):
        return _apply(ctx.node.op, (u,), ctx.node.attrs), None, None


class _BilinearRule(Function):
    @staticmethod
    def forward(ctx, g, other, node, wrt, plain):
        ctx.save_for_backward(g, other)
        ctx.node, ctx.wrt, ctx.plain = node, wrt, plain
        return _wrap(_kernel(node, wrt, g._data, other._data, plain=plain), g._device)

    @staticmethod
    def backward(ctx, u):
        g, other = ctx.saved_tensors
        node, plain = ctx.node, ctx.plain
        if ctx.wrt == "x":  # R = Dx(g, w): d/dg = T(u, w), d/dw = Dw(g, u)
            dg = _apply(node.op, (u, other, None), node.attrs)
            dother = _kernel(node, "weight", g._data, u._data, plain=plain)
        else:  # R = Dw(g, x): d/dg = T(x, u), d/dx = Dx(g, u)
            dg = _apply(node.op, (other, u, None), node.attrs)
            dother = _kernel(node, "x", g._data, u._data, plain=plain)
        return dg, _wrap(dother, g._device), None, None, None


def _bilinear_back(s, wrt):
    node = s["_node"]
    g = s["grad"]
    if wrt == "bias":
        return _F().sum(g, dim=(0, *range(2, g.ndim)))
    plain = _plain_scope(s)
    other = s["weight"] if wrt == "x" else s["x"]
    return _BilinearRule.apply(g, other, node, wrt, plain)


def _linear_rule_back(s, _):
    return _LinearRule.apply(s["grad"], s["_node"], _plain_scope(s))


FORMULAS = {
    ("conv", "x"): _bilinear_back,
    ("conv", "weight"): _bilinear_back,
    ("conv", "bias"): _bilinear_back,
    ("conv_transpose", "x"): _bilinear_back,
    ("conv_transpose", "weight"): _bilinear_back,
    ("conv_transpose", "bias"): _bilinear_back,
    ("avg_pool", "x"): _linear_rule_back,
    ("adaptive_avg_pool", "x"): _linear_rule_back,
    ("pad", "x"): _pad_back,
    ("diagonal", "x"): _diagonal_back,
    ("prod", "x"): _prod_back,
    ("cumprod", "x"): _cumprod_back,
    ("max_pool", "x"): _max_pool_back,
    ("adaptive_max_pool", "x"): _max_pool_back,
    ("layer_norm", "x"): _layer_norm_back,
    ("layer_norm", "weight"): _layer_norm_back,
    ("layer_norm", "bias"): _layer_norm_back,
    ("batch_norm", "x"): _batch_norm_back,
    ("batch_norm", "weight"): _batch_norm_back,
    ("batch_norm", "bias"): _batch_norm_back,
    ("gather", "x"): _gather_back,
    ("scatter", "x"): lambda s, w: _scatter_back(s, w, False),
    ("scatter", "src"): lambda s, w: _scatter_back(s, w, False),
    ("scatter_add", "x"): lambda s, w: _scatter_back(s, w, True),
    ("scatter_add", "src"): lambda s, w: _scatter_back(s, w, True),
    ("index_select", "x"): _index_select_back,
    ("sort", "x"): _by_indices,
    ("cummax", "x"): _by_indices,
    ("cummin", "x"): _by_indices,
    ("cumsum", "x"): _cumsum_back,
    ("roll", "x"): _roll_back,
    ("flip", "x"): lambda s, w: _F().flip(s["grad"], *s["dims"]),
    ("tril", "x"): _tri_back,
    ("triu", "x"): _tri_back,
    ("repeat", "x"): _repeat_back,
    ("embedding", "weight"): _embedding_back,
    ("to_device", "x"): lambda s, w: s["grad"].to(s["source"]),
    ("amax", "x"): _ties_back,
    ("max_all", "x"): _ties_back,
    ("max_dim", "x"): _max_dim_back,
    ("var", "x"): lambda s, w: _moments_back(s, w, False),
    ("std", "x"): lambda s, w: _moments_back(s, w, True),
    ("norm", "x"): _norm_back,
    ("setitem", "x"): _setitem_dx,
    ("setitem", "v"): lambda s, w: s["grad"][s["index"]],
    ("view_scatter", "base"): _view_scatter_back,
    ("view_scatter", "v"): _view_scatter_back,
    ("reshape", "x"): lambda s, w: s["grad"].reshape(s["x_shape"]),
    ("permute", "x"): lambda s, w: _F().permute(s["grad"], *s["plan"]),
    ("getitem", "x"): _getitem_back,
    ("cat", "xs"): _split_back,
    ("stack", "xs"): _stack_back,
    ("linear", "x"): _linear,
    ("linear", "weight"): _linear,
    ("linear", "bias"): _linear,
    ("matmul", "a"): _matmul,
    ("matmul", "b"): _matmul,
    ("sum", "x"): lambda s, w: _reduce_back(s, False),
    ("mean", "x"): lambda s, w: _reduce_back(s, True),
    ("log_softmax", "x"): _log_softmax_back,
    ("softmax", "x"): _softmax_back,
    ("nll", "logp"): _nll_back,
}


# ---- the walk ------------------------------------------------------------------------------------


def _as_tensor(arr, device, history=None):
    t = _wrap(arr, device)
    if history is not None:
        if isinstance(history, TensorBase):
            return history
        t._node = history
        t._rg = True
    return t


def _scope(node, grad):
    """The rule scope of ``node`` with Tensors that carry history where the node's inputs and
    output did."""
    op = node.op
    scope = {"grad": grad}
    device = node.device
    out_name = op.outputs[0] if op.outputs else None
    for name, arr in (node.saved or {}).items():
        if arr is None or not hasattr(arr, "shape"):
            scope[name] = arr  # an absent optional input (weight=None), or a number
            continue
        idx = op.index_of.get(name)
        if idx is not None:
            parent = node.parents[idx]
            scope[name] = (
                parent if isinstance(parent, TensorBase) else _as_tensor(arr, device, parent)
            )
        elif name == out_name:
            scope[name] = _as_tensor(arr, device, node)
        else:
            scope[name] = _as_tensor(arr, device)
    if node.attrs:
        scope.update(node.attrs)
    scope.update(zip(op.shape_keys, node.shapes))
    scope["_shapes"] = node.shapes
    scope["_node"] = node
    return scope


def _input_grad(node, i, scope):
    op = node.op
    rule = op.rules[i]
    name = op.inputs[i]
    formula = FORMULAS.get((op.name, name))
    if formula is not None:
        if rule.plan is not None:
            scope.setdefault("plan", rule.plan_for(_plain_scope(scope)))
        return formula(scope, name)
    scalar = getattr(rule, "scalar", None)
    if scalar is not None:
        fn = tensor_rule(scalar.py_func)
        try:
            return fn(*[scope[a] for a in rule.args])
        except RuntimeError as e:
            if "Boolean value of Tensor" not in str(e):
                raise
            raise NotImplementedError(
                f"create_graph=True: the backward rule of op '{op.name}' (input '{name}') "
                "branches on a value (an `if` statement), so it has no Tensor form yet"
            ) from None
    generic = getattr(rule, "generic", None)
    if generic is not None and getattr(rule, "name", "") == "identity":
        return scope["grad"]
    raise NotImplementedError(
        f"create_graph=True: no differentiable backward for op '{op.name}' (input '{name}') "
        "yet; see docs/tape.md, higher-order gradients"
    )


def _plain_scope(scope):
    return {k: (v._data if isinstance(v, TensorBase) else v) for k, v in scope.items()}


def _send(node, i, parent, g, pending, heap, deliver_leaf):
    """Input ``i``'s gradient ``g``: summed to its shape, cast to its dtype, passed on."""
    if not isinstance(g, TensorBase):
        dev = node.device
        g = _wrap(dev.arrays.full(tuple(node.shapes[i]), g, node.dtypes[i]), dev)
    g = _sum_to(g, node.shapes[i])
    if node.dtypes[i] is not None and g._data.dtype != node.dtypes[i]:
        g = g.to(node.dtypes[i])
    if isinstance(parent, TensorBase):
        deliver_leaf(parent, g)
    elif parent in pending:
        pending[parent] = pending[parent] + g
    else:
        pending[parent] = g
        heapq.heappush(heap, (-parent.seq, parent))


def run_backward_graph(roots, root_grads, inputs=None):
    """``_run_backward`` of ``tape.py`` on Tensors with grad mode on (see the module docstring).

    ``root_grads``: arrays (as the engine makes them).  Returns the gradients of ``inputs`` as
    Tensors, or writes ``.grad`` of the leaves (out of place, as torch does here)."""
    captured = {}
    wanted = None
    if inputs is not None:
        wanted = {}
        for k, t in enumerate(inputs):
            wanted.setdefault(id(t._node) if t._node is not None else id(t), []).append(k)

    def deliver_leaf(leaf, g):
        if wanted is not None:
            if id(leaf) in wanted:
                old = captured.get(id(leaf))
                captured[id(leaf)] = g if old is None else old + g
            return
        leaf.grad = g if leaf.grad is None else leaf.grad + g

    with enable_grad():
        pending, heap = {}, []
        for root, g in zip(roots, root_grads):
            g = _wrap(g, root._device) if not isinstance(g, TensorBase) else g
            node = root._node
            if node is None:
                if root.requires_grad:
                    deliver_leaf(root, g)
                continue
            if node in pending:
                pending[node] = pending[node] + g
            else:
                pending[node] = g
                heapq.heappush(heap, (-node.seq, node))
        while heap:
            _, node = heapq.heappop(heap)
            grad = pending.pop(node)
            if node.freed:
                raise _freed_error()
            if wanted is not None and id(node) in wanted:
                captured[id(node)] = grad
            if node.versions:
                for name, counter, then in node.versions:
                    if counter[0] != then:
                        raise _version_error(node, name, node.saved[name], counter[0], then)
            scope = _scope(node, grad)
            if getattr(node.op, "variadic", False):
                grads = _input_grad(node, 0, scope)
                for i, (parent, g) in enumerate(zip(node.parents, grads)):
                    if parent is not None and node.needs[i] and g is not None:
                        _send(node, i, parent, g, pending, heap, deliver_leaf)
                continue
            for i, parent in enumerate(node.parents):
                if parent is None or not node.needs[i]:
                    continue
                if node.op.rules[i] is _MISSING:
                    raise missing_rule_error(node.op, node.op.inputs[i])
                _send(node, i, parent, _input_grad(node, i, scope), pending, heap, deliver_leaf)
    if inputs is not None:
        return [captured.get(id(t._node) if t._node is not None else id(t)) for t in inputs]
    return None


__all__ = ["run_backward_graph", "tensor_rule", "FORMULAS"]
