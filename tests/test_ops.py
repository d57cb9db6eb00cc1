"""Every differentiable public op checked against torch (CPU), from one spec list.

``tests/opinfo.py`` holds the specs.  For every (spec, case) this file checks

1. the forward result against torch: values, shape, dtype and ``requires_grad``
   (float32: rtol 1e-5 / atol 1e-6; float64: rtol 1e-12 / atol 1e-13);
2. the gradients of every leaf against torch's, backpropagating a random upstream gradient
   (float64: rtol 1e-9 / atol 1e-12; float32 is checked too, loosely, plus the grad's dtype);
3. the gradients against central finite differences with ``numgrad.autograd.gradcheck``
   (float64).

Then the things that do not fit the spec shape: comparisons, argmax/argmin, in-place operators,
gradient accumulation and dtype promotion, and the optimizer updates (``UPDATE_SPECS``).

Everything runs on every device of ``opinfo.DEVICES``: the CPU and ``"ref"``, the plain-numpy
reference device of ``tests/ref_backend.py`` (``tests/test_ref_device.py`` checks that it agrees
with the CPU).  ``test_every_op_is_exercised_by_a_spec`` fails when an op of the table is run by
no spec.
"""

from __future__ import annotations

import importlib
import zlib

import numpy as np
import pytest
import torch
from opinfo import ALL_SPECS, DEVICES, DTYPES, NN_SPECS, UPDATE_SPECS, has_nn_functional

import numgrad

TOL_FWD = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}
TOL_GRAD = {np.float32: {"rtol": 1e-4, "atol": 1e-5}, np.float64: {"rtol": 1e-9, "atol": 1e-12}}
GRADCHECK_TOL = {"eps": 1e-6, "atol": 1e-6, "rtol": 1e-5}

DTYPE_PARAMS = [pytest.param(d, id=np.dtype(d).name) for d in DTYPES]
DEVICE_PARAMS = [pytest.param(d, id=d) for d in DEVICES]


def _seed(*parts) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def _factory(mod, device):
    """``mod.tensor`` that puts numgrad tensors on ``device`` (the torch reference stays on CPU)."""
    if mod is numgrad:
        return lambda data, **kw: numgrad.tensor(data, device=device, **kw)
    return torch.tensor


def _spec_params(for_grad=False, for_gradcheck=False):
    out = []
    for s in ALL_SPECS:
        if (for_grad or for_gradcheck) and not s.differentiable:
            continue
        if for_gradcheck and not s.gradcheck:
            continue
        for c in s.cases:
            if (for_grad or for_gradcheck) and not c.grad:
                continue
            out.append(pytest.param(s, c, id=f"{s.name}-{c.name}"))
    return out


def _make_inputs(case, dtype, device, requires_grad, lib="both"):
    """numgrad args, torch args and the (numgrad, torch) leaf pairs that require grad."""
    ng_args, th_args, leaves = [], [], []
    k = 0
    for a in case.args:
        if isinstance(a, np.ndarray):
            if a.dtype.kind == "f":
                rg = requires_grad and (case.requires_grad is None or case.requires_grad[k])
                k += 1
                arr = np.ascontiguousarray(a.astype(dtype))
                n = numgrad.tensor(arr, device=device, requires_grad=rg)
                t = torch.tensor(arr, requires_grad=rg) if lib == "both" else None
                if rg:
                    leaves.append((n, t))
            else:
                n = numgrad.tensor(a, device=device)
                t = torch.tensor(a) if lib == "both" else None
            ng_args.append(n)
            th_args.append(t)
        else:
            ng_args.append(a)
            th_args.append(a)
    return ng_args, th_args, leaves


def _outputs(r):
    return list(r) if isinstance(r, (tuple, list)) else [r]


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    assert isinstance(t, numgrad.Tensor), f"expected a numgrad.Tensor, got {type(t).__name__}"
    return t.detach().numpy()


def assert_same(ng, th, tol, what="result"):
    """numgrad tensor ``ng`` equals torch tensor ``th``: shape, dtype and values."""
    a, b = _np(ng), _np(th)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != torch's {b.dtype}"
    if a.dtype.kind == "f":
        np.testing.assert_allclose(a, b, err_msg=what, **tol)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def _backward_both(ng_outs, th_outs, rng):
    """Backpropagate the same random upstream gradient through both libraries' outputs."""
    ng_roots, th_roots, ng_gs, th_gs = [], [], [], []
    for i, (a, b) in enumerate(zip(ng_outs, th_outs)):
        assert a.requires_grad == b.requires_grad, f"output {i}: requires_grad differs"
        if not b.requires_grad:
            continue
        g = np.asarray(rng.standard_normal(tuple(b.shape))).astype(_np(b).dtype)
        ng_roots.append(a)
        th_roots.append(b)
        ng_gs.append(numgrad.tensor(g, device=a.device))
        th_gs.append(torch.tensor(g))
    assert th_roots, "no differentiable output"
    numgrad.autograd.backward(ng_roots, ng_gs)
    torch.autograd.backward(th_roots, th_gs)


def assert_grads_match(leaves, tol):
    for k, (n, t) in enumerate(leaves):
        if t.grad is None:
            assert n.grad is None or not np.any(n.grad.numpy()), f"leaf {k}: unexpected grad"
            continue
        assert n.grad is not None, f"leaf {k}: numgrad produced no gradient"
        assert isinstance(n.grad, numgrad.Tensor)
        assert n.grad.dtype == n.dtype, f"leaf {k}: grad dtype {n.grad.dtype} != leaf {n.dtype}"
        assert_same(n.grad, t.grad, tol, what=f"grad of leaf {k}")


# ---- 1. forward vs torch ------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("spec,case", _spec_params())
def test_forward(spec, case, dtype, device):
    ng_args, th_args, _ = _make_inputs(case, dtype, device, requires_grad=spec.differentiable)
    ng = _outputs(spec.ng_fn(*ng_args, **case.kwargs))
    th = _outputs(spec.torch_fn(*th_args, **case.kwargs))
    assert len(ng) == len(th), f"{len(ng)} outputs, torch gives {len(th)}"
    for i, (a, b) in enumerate(zip(ng, th)):
        assert_same(a, b, TOL_FWD[dtype], what=f"output {i}")
        assert a.device == device
        assert a.requires_grad == b.requires_grad, f"output {i}: requires_grad differs"


# ---- 2. gradients vs torch ----------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("spec,case", _spec_params(for_grad=True))
def test_grad(spec, case, dtype, device):
    ng_args, th_args, leaves = _make_inputs(case, dtype, device, requires_grad=True)
    assert leaves, "case has no input that requires grad"
    ng = _outputs(spec.ng_fn(*ng_args, **case.kwargs))
    th = _outputs(spec.torch_fn(*th_args, **case.kwargs))
    assert len(ng) == len(th)
    _backward_both(ng, th, np.random.default_rng(_seed(spec.name, case.name, "upstream")))
    assert_grads_match(leaves, TOL_GRAD[dtype])


# ---- 3. gradients vs finite differences ---------------------------------------------------


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("spec,case", _spec_params(for_gradcheck=True))
def test_gradcheck(spec, case, device):
    ng_args, _, leaves = _make_inputs(case, np.float64, device, requires_grad=True, lib="ng")
    assert leaves

    def fn(*xs):
        outs = _outputs(spec.ng_fn(*xs, **case.kwargs))
        return tuple(o for o in outs if o.dtype.is_floating_point)

    assert numgrad.autograd.gradcheck(fn, ng_args, **GRADCHECK_TOL)


def test_gradcheck_catches_a_wrong_gradient():
    """The finite-difference check used above is able to fail."""

    class WrongSquare(numgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2 * g * x

    x = numgrad.tensor(np.linspace(0.5, 1.5, 4), requires_grad=True)
    gradcheck_module = importlib.import_module("numgrad.autograd.gradcheck")
    with pytest.raises(gradcheck_module.GradcheckError):
        numgrad.autograd.gradcheck(WrongSquare.apply, (x,), **GRADCHECK_TOL)
    assert numgrad.autograd.gradcheck(lambda t: t * t, (x,), **GRADCHECK_TOL)


def test_spec_list_is_well_formed():
    names = [s.name for s in ALL_SPECS]
    assert len(set(names)) == len(names)
    for s in ALL_SPECS:
        assert s.cases, s.name
        if s.differentiable:
            assert any(c.grad for c in s.cases), f"{s.name}: no case takes part in grad tests"
    nn_included = {s.name for s in NN_SPECS} <= set(names)
    assert nn_included == has_nn_functional()


# Ops of the table that no spec can run, each with the reason (only ops with no public entry
# belong here).  Empty: every op is reachable through the public API.
NOT_IN_SPECS: dict[str, str] = {}


def test_every_op_is_exercised_by_a_spec():
    """Every op of the table (custom Functions aside) runs in some spec: the capture hook
    records each op a spec's forward and backward execute, and each optimizer update."""
    seen = set()
    for s in ALL_SPECS:
        for c in s.cases:
            grad = s.differentiable and c.grad
            args, _, _ = _make_inputs(c, np.float64, "cpu", requires_grad=grad, lib="ng")
            with numgrad.autograd.trace() as t:
                outs = [o for o in _outputs(s.ng_fn(*args, **c.kwargs)) if o.requires_grad]
                if outs:
                    numgrad.autograd.backward(outs, [numgrad.ones_like(o) for o in outs])
            seen.update(t.ops("forward"))
    for u in UPDATE_SPECS:
        with numgrad.autograd.trace() as t:
            _run_update(numgrad, u, np.float64, "cpu", steps=1)
        seen.update(t.ops("update"))
    table = {name for name in numgrad.ops.OPS if not name.startswith("custom.")}
    missing = sorted(table - seen - set(NOT_IN_SPECS))
    assert not missing, f"ops of the table that no spec in tests/opinfo.py runs: {missing}"
    stale = sorted(set(NOT_IN_SPECS) & seen)
    assert not stale, f"NOT_IN_SPECS lists ops that specs do run: {stale}"


# ---- optimizer updates --------------------------------------------------------------------

TOL_UPDATE = {np.float32: {"rtol": 1e-4, "atol": 1e-6}, np.float64: {"rtol": 1e-9, "atol": 0.0}}


def _run_update(mod, spec, dtype, device, steps=3):
    """``steps`` optimizer steps of ``spec`` on two parameters; returns the parameters."""
    rng = np.random.default_rng(_seed("update", spec.name))
    p0 = [rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal(4).astype(dtype)]
    x0 = rng.standard_normal((2, 3)).astype(dtype)
    mk = _factory(mod, device)
    params = [mk(p, requires_grad=True) for p in p0]
    opt = spec.make(mod, params)
    x = mk(x0)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ params[0]).tanh() * params[1]).sum().backward()
        opt.step()
    return params


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("spec", [pytest.param(u, id=u.name) for u in UPDATE_SPECS])
def test_update(spec, dtype, device):
    ours = _run_update(numgrad, spec, dtype, device)
    theirs = _run_update(torch, spec, dtype, device)
    for k, (n, t) in enumerate(zip(ours, theirs)):
        assert n.device == device
        assert_same(n, t, TOL_UPDATE[dtype], what=f"parameter {k}")


# ---- comparisons --------------------------------------------------------------------------

CMP = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
}


def _cmp_operands(form, rng, dtype):
    """(lhs, rhs) as numpy arrays / python numbers; values repeat so == has hits."""

    def ints(*shape):
        return rng.integers(-2, 3, shape).astype(dtype)

    return {
        "tensor_tensor": (ints(3, 4), ints(3, 4)),
        "bcast": (ints(3, 4), ints(4)),
        "bcast_3d": (ints(2, 1, 3), ints(4, 1)),
        "tensor_float": (ints(3, 4), 1.0),
        "tensor_int": (ints(3, 4), 0),
        "float_tensor": (-1.0, ints(3, 4)),
        "int_tensor": (1, ints(3, 4)),
        "mixed_f32_f64": (ints(3, 4).astype(np.float32), ints(4).astype(np.float64)),
        "int64_vs_float": (rng.integers(-2, 3, (3, 4)), 0.5),
        "int64_vs_float_tensor": (rng.integers(-2, 3, (3, 4)), ints(4)),
    }[form]


CMP_FORMS = [
    "tensor_tensor",
    "bcast",
    "bcast_3d",
    "tensor_float",
    "tensor_int",
    "float_tensor",
    "int_tensor",
    "mixed_f32_f64",
    "int64_vs_float",
    "int64_vs_float_tensor",
]


def _both(v, device, requires_grad=False):
    if isinstance(v, np.ndarray):
        rg = requires_grad and v.dtype.kind == "f"
        return numgrad.tensor(v, device=device, requires_grad=rg), torch.tensor(v, requires_grad=rg)
    return v, v


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("form", CMP_FORMS)
@pytest.mark.parametrize("op", list(CMP))
def test_comparison(op, form, dtype, device):
    rng = np.random.default_rng(_seed("cmp", op, form))
    lhs, rhs = _cmp_operands(form, rng, dtype)
    (na, ta), (nb, tb) = _both(lhs, device, True), _both(rhs, device, True)
    pairs = [(CMP[op](na, nb), CMP[op](ta, tb))]
    if isinstance(lhs, np.ndarray):  # torch.lt(number, tensor) does not exist
        pairs.append((getattr(numgrad, op)(na, nb), getattr(torch, op)(ta, tb)))
    for ng, th in pairs:
        assert isinstance(ng, numgrad.Tensor)
        assert ng.dtype == numgrad.bool
        assert_same(ng, th, {}, what=f"{op} {form}")
        assert not ng.requires_grad
        assert ng.grad_fn is None
        assert ng.device == device


# ---- argmax / argmin ----------------------------------------------------------------------

ARG_CASES = {
    "all": ((3, 4), {}),
    "all_keepdim": ((3, 4), {"keepdim": True}),
    "dim0": ((3, 4), {"dim": 0}),
    "dim1_keepdim": ((3, 4), {"dim": 1, "keepdim": True}),
    "dim-1": ((2, 3, 4), {"dim": -1}),
    "dim-2_keepdim": ((2, 3, 4), {"dim": -2, "keepdim": True}),
    "1d": ((5,), {"dim": 0}),
    "ties": (None, {"dim": 1}),
    "ties_all": (None, {}),
}


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("case", list(ARG_CASES))
@pytest.mark.parametrize("fn", ["argmax", "argmin"])
def test_argmax_argmin(fn, case, dtype, device):
    shape, kw = ARG_CASES[case]
    rng = np.random.default_rng(_seed(fn, case))
    if shape is None:
        x = np.array([[1.0, 3.0, 3.0, -2.0], [2.0, -2.0, -2.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    else:
        x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 - 1.0
    x = x.astype(dtype)
    n = numgrad.tensor(x, device=device, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    for ng, th in [
        (getattr(numgrad, fn)(n, **kw), getattr(torch, fn)(t, **kw)),
        (getattr(n, fn)(**kw), getattr(t, fn)(**kw)),
    ]:
        assert_same(ng, th, {}, what=f"{fn} {kw}")
        assert not ng.requires_grad


# ---- in-place operators -------------------------------------------------------------------

INPLACE_OPS = ["iadd", "isub", "imul", "idiv"]


def _augmented(op, y, v):
    """Run the augmented assignment itself (``y += v`` ...), returning the rebound name."""
    if op == "iadd":
        y += v
    elif op == "isub":
        y -= v
    elif op == "imul":
        y *= v
    else:
        y /= v
    return y


def _inplace_other(kind, rng, dtype):
    if kind == "py_scalar":
        return 1.75
    if kind == "tensor_bcast":
        return (rng.uniform(0.5, 2.0, 4) * rng.choice([-1.0, 1.0], 4)).astype(dtype)
    return (rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))).astype(dtype)


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("other", ["tensor", "tensor_bcast", "py_scalar", "tensor_no_grad"])
@pytest.mark.parametrize("op", INPLACE_OPS)
def test_inplace_on_non_leaf(op, other, dtype, device):
    rng = np.random.default_rng(_seed("inplace", op, other))
    x0 = rng.standard_normal((3, 4)).astype(dtype)
    v0 = _inplace_other(other, rng, dtype)
    g0 = rng.standard_normal((3, 4)).astype(dtype)
    results = []
    for lib, mk in [("ng", _factory(numgrad, device)), ("th", torch.tensor)]:
        x = mk(x0, requires_grad=True)
        v = mk(v0, requires_grad=other != "tensor_no_grad") if other != "py_scalar" else v0
        y = x * 2.0 + 0.5  # non-leaf
        before = id(y)
        y = _augmented(op, y, v)
        assert id(y) == before, f"{lib}: augmented assignment made a new object"
        out = y.tanh() * y  # uses y's new value, twice
        out.backward(mk(g0))
        results.append((x, v, y, out))
    (nx, nv, ny, nout), (tx, tv, ty, tout) = results
    tol = TOL_GRAD[dtype]
    assert_same(ny, ty, TOL_FWD[dtype], what="y after in-place op")
    assert_same(nout, tout, TOL_FWD[dtype], what="out")
    assert ny.requires_grad and not ny.is_leaf
    assert_grads_match([(nx, tx)], tol)
    if other in ("tensor", "tensor_bcast"):
        assert_grads_match([(nv, tv)], tol)


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_inplace_chain(dtype, device):
    """y += z; y += y; y *= z; y -= z; y /= z on one non-leaf, then backward."""
    rng = np.random.default_rng(_seed("inplace_chain"))
    x0 = rng.standard_normal((3, 4)).astype(dtype)
    z0 = rng.uniform(0.5, 2.0, 4).astype(dtype)
    g0 = rng.standard_normal((3, 4)).astype(dtype)
    res = []
    for mk in (_factory(numgrad, device), torch.tensor):
        x, z = mk(x0, requires_grad=True), mk(z0, requires_grad=True)
        y = x * 3.0
        y += z
        y += y
        y *= z
        y -= z
        y /= z
        y.backward(mk(g0))
        res.append((x, z, y))
    (nx, nz, ny), (tx, tz, ty) = res
    assert_same(ny, ty, TOL_FWD[dtype], what="y")
    assert_grads_match([(nx, tx), (nz, tz)], TOL_GRAD[dtype])


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("op", INPLACE_OPS)
def test_inplace_under_no_grad(op, dtype, device):
    """In-place updates of a leaf under no_grad (an optimizer step) keep it a leaf."""
    rng = np.random.default_rng(_seed("inplace_nograd", op))
    p0 = rng.standard_normal((3, 4)).astype(dtype)
    v0 = rng.uniform(0.5, 2.0, 4).astype(dtype)
    w0 = rng.standard_normal((3, 4)).astype(dtype)
    res = []
    for lib, mod in [("ng", numgrad), ("th", torch)]:
        mk = _factory(mod, device)
        p = mk(p0, requires_grad=True)
        v = mk(v0, requires_grad=True)  # requires grad, but no_grad records nothing
        (p * mk(w0)).sum().backward()  # p.grad = w
        leaf = p
        with mod.no_grad():
            p = _augmented(op, p, v)
            p = _augmented(op, p, 0.5)
            p -= 0.1 * p.grad  # SGD-style step using the existing grad
        assert p is leaf, f"{lib}: in-place update made a new object"
        assert p.is_leaf and p.requires_grad and p.grad_fn is None, lib
        assert v.grad is None, lib
        p.grad = None
        (p * p * mk(w0)).sum().backward()
        res.append(p)
    n, t = res
    assert_same(n, t, TOL_FWD[dtype], what="p after no_grad updates")
    assert_grads_match([(n, t)], TOL_GRAD[dtype])


VIEWS = {
    "row": lambda b: b[0],
    "slice": lambda b: b[:, 1:],
    "view": lambda b: b.view(-1),
    "T": lambda b: b.T,
}


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("op", ["imul_scalar", "iadd_tensor"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_inplace_on_view_of_non_leaf(view, op, device):
    """An in-place op on a view changes its base; the base's gradient must follow (torch)."""
    rng = np.random.default_rng(_seed("inplace_view", view, op))
    x0 = rng.standard_normal((3, 4))
    g0 = rng.standard_normal((3, 4))
    res = []
    for mod in (numgrad, torch):
        mk = _factory(mod, device)
        x = mk(x0, requires_grad=True)
        b = x * 2.0  # non-leaf base
        v = VIEWS[view](b)
        z = mk(np.full(tuple(v.shape), 0.75), requires_grad=True)
        if op == "imul_scalar":
            v *= 3.0
        else:
            v += z * z
        (b * mk(g0)).sum().backward()
        res.append((x, z, b))
    (nx, nz, nb), (tx, tz, tb) = res
    assert_same(nb, tb, TOL_FWD[np.float64], what="base after in-place op on its view")
    assert_grads_match([(nx, tx), (nz, tz)], TOL_GRAD[np.float64])


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_setitem_on_non_leaf(dtype, device):
    rng = np.random.default_rng(_seed("setitem"))
    x0 = rng.standard_normal((3, 4)).astype(dtype)
    z0 = rng.standard_normal(4).astype(dtype)
    g0 = rng.standard_normal((3, 4)).astype(dtype)
    res = []
    for mod in (numgrad, torch):
        mk = _factory(mod, device)
        x, z = mk(x0, requires_grad=True), mk(z0, requires_grad=True)
        b = x * 2.0
        b[0] = z * z
        b[:, 1] = 0.5
        b[2, [0, 3]] = z[1:3]
        out = b.tanh()
        out.backward(mk(g0))
        res.append((x, z, out))
    (nx, nz, nout), (tx, tz, tout) = res
    assert_same(nout, tout, TOL_FWD[dtype])
    assert_grads_match([(nx, tx), (nz, tz)], TOL_GRAD[dtype])


@pytest.mark.parametrize("device", DEVICE_PARAMS)
def test_inplace_on_leaf_requiring_grad_raises(device):
    for mod in (numgrad, torch):
        mk = _factory(mod, device)
        p = mk(np.ones(3), requires_grad=True)
        with pytest.raises(RuntimeError):
            p += 1.0


@pytest.mark.parametrize("device", DEVICE_PARAMS)
def test_inplace_on_saved_tensor_raises_on_backward(device):
    """Modifying a tensor that an earlier op saved for backward is an error, as in torch."""
    x0 = np.array([0.5, -1.0, 2.0])
    for mod in (numgrad, torch):
        mk = _factory(mod, device)
        x = mk(x0, requires_grad=True)
        y = x * 2.0
        w = y * x  # saves y
        y += 1.0
        with pytest.raises(RuntimeError):
            w.sum().backward()
    # ...but fine when nothing saved the old value
    res = []
    for mod in (numgrad, torch):
        mk = _factory(mod, device)
        x = mk(x0, requires_grad=True)
        y = x * 2.0
        w = y + x  # add saves nothing
        y += 1.0
        (w * w).sum().backward()
        res.append((x, w))
    assert_same(res[0][1], res[1][1], TOL_FWD[np.float64])
    assert_grads_match([(res[0][0], res[1][0])], TOL_GRAD[np.float64])


# ---- gradient accumulation ----------------------------------------------------------------

ACCUM = {
    "x*x": lambda m, x: x * x,
    "x+x": lambda m, x: x + x,
    "x-x*x": lambda m, x: x - x * x,
    "two_branches": lambda m, x: x.exp() + x.tanh() * x,
    "broadcast_reuse": lambda m, x: x * x.sum(dim=0),
    "x@x": lambda m, x: x @ x,
    "x@x.T": lambda m, x: x @ x.T,
    "getitem_twice": lambda m, x: x[0] * x[1:].sum(dim=0),
    "cat_self": lambda m, x: m.cat([x, x, x[:1]], dim=0),
    "stack_self": lambda m, x: m.stack([x, 2.0 * x], dim=0),
    "maximum_self_shifted": lambda m, x: m.maximum(x, x + 0.25),
    "where_same": lambda m, x: m.where(x > 0, x, x * x),
}


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("name", list(ACCUM))
def test_grad_accumulates_over_uses(name, dtype, device):
    rng = np.random.default_rng(_seed("accum", name))
    x0 = rng.standard_normal((3, 3)).astype(dtype)
    x0[np.abs(x0) < 0.1] = 0.5  # keep away from where's switch
    res = []
    for mod in (numgrad, torch):
        mk = _factory(mod, device)
        x = mk(x0, requires_grad=True)
        res.append((x, ACCUM[name](mod, x)))
    (nx, nout), (tx, tout) = res
    assert_same(nout, tout, TOL_FWD[dtype])
    _backward_both([nout], [tout], np.random.default_rng(_seed("accum_up", name)))
    assert_grads_match([(nx, tx)], TOL_GRAD[dtype])


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_grad_accumulates_over_backward_calls(dtype, device):
    rng = np.random.default_rng(_seed("accum_calls"))
    x0 = rng.standard_normal((2, 3)).astype(dtype)
    g1, g2, g3 = (rng.standard_normal((2, 3)).astype(dtype) for _ in range(3))
    res = []
    for mod in (numgrad, torch):
        mk = _factory(mod, device)
        x = mk(x0, requires_grad=True)
        (x * x).backward(mk(g1))  # fresh graph
        y = x.sigmoid() * x
        y.backward(mk(g2), retain_graph=True)  # same graph twice
        y.backward(mk(g3))
        res.append(x)
    assert_grads_match([tuple(res)], TOL_GRAD[dtype])


# ---- dtype promotion ----------------------------------------------------------------------

F32, F64, I64, I32, B = np.float32, np.float64, np.int64, np.int32, np.bool_


def _arr(dtype, shape=(3,)):
    rng = np.random.default_rng(_seed("promo", np.dtype(dtype).name, shape))
    if dtype is B:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "i":
        return rng.integers(1, 4, shape).astype(dtype)
    return rng.uniform(0.5, 2.0, shape).astype(dtype)


PROMOTION = {
    "f32+f64": lambda m, t: t(_arr(F32)) + t(_arr(F64)),
    "f64+f32": lambda m, t: t(_arr(F64)) + t(_arr(F32)),
    "f32*f64_bcast": lambda m, t: t(_arr(F32, (2, 3))) * t(_arr(F64)),
    "f32*py_float": lambda m, t: t(_arr(F32)) * 2.5,
    "py_float*f32": lambda m, t: 2.5 * t(_arr(F32)),
    "f32+py_int": lambda m, t: t(_arr(F32)) + 2,
    "f64-py_float": lambda m, t: t(_arr(F64)) - 1.5,
    "i64+py_float": lambda m, t: t(_arr(I64)) + 2.5,
    "i64*py_int": lambda m, t: t(_arr(I64)) * 3,
    "i64/py_int": lambda m, t: t(_arr(I64)) / 2,
    "i64/i64": lambda m, t: t(_arr(I64)) / t(_arr(I64)),
    "i64*i64_bcast": lambda m, t: t(_arr(I64, (2, 3))) * t(_arr(I64)),
    "i64_strided+py_int": lambda m, t: t(_arr(I64, (3, 2))).T + 1,
    "i32+i64": lambda m, t: t(_arr(I32)) + t(_arr(I64)),
    "i32+i64_bcast": lambda m, t: t(_arr(I32, (2, 3))) + t(_arr(I64)),
    "abs(i64_strided)": lambda m, t: m.abs(t(_arr(I64, (2, 3))).T),
    "bool+py_int": lambda m, t: t(_arr(B)) + 1,
    "bool+py_float": lambda m, t: t(_arr(B)) + 1.5,
    "i64+f32": lambda m, t: t(_arr(I64)) + t(_arr(F32)),
    "i64*f64": lambda m, t: t(_arr(I64)) * t(_arr(F64)),
    "f32**py_int": lambda m, t: t(_arr(F32)) ** 2,
    "py_float**i64": lambda m, t: 2.0 ** t(_arr(I64)),
    "i64**py_int": lambda m, t: t(_arr(I64)) ** 2,
    "f32**f64": lambda m, t: t(_arr(F32)) ** t(_arr(F64)),
    "exp(i64)": lambda m, t: m.exp(t(_arr(I64))),
    "sqrt(i64)": lambda m, t: m.sqrt(t(_arr(I64))),
    "maximum(f32,f64)": lambda m, t: m.maximum(t(_arr(F32)), t(_arr(F64))),
    "where(f32,f64)": lambda m, t: m.where(t(_arr(B)), t(_arr(F32)), t(_arr(F64))),
    "where(f32,py_float)": lambda m, t: m.where(t(_arr(B)), t(_arr(F32)), 0.5),
    "cat(f32,f64)": lambda m, t: m.cat([t(_arr(F32)), t(_arr(F64))]),
    "sum(i64)": lambda m, t: t(_arr(I64)).sum(),
    "sum(bool)": lambda m, t: t(_arr(B)).sum(),
    "mean(f32)": lambda m, t: t(_arr(F32)).mean(),
    "f32@f32": lambda m, t: t(_arr(F32, (2, 3))) @ t(_arr(F32)),
    "f32+f64_0d": lambda m, t: t(_arr(F32)) + t(_arr(F64, ())),
    "f32_0d+f64_0d": lambda m, t: t(_arr(F32, ())) + t(_arr(F64, ())),
    "i64+f64_0d": lambda m, t: t(_arr(I64)) + t(_arr(F64, ())),
}


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("name", list(PROMOTION))
def test_promotion_dtype(name, device):
    ng = PROMOTION[name](numgrad, _factory(numgrad, device))
    th = PROMOTION[name](torch, torch.tensor)
    assert_same(ng, th, TOL_FWD[np.float32], what=name)


MIXED_GRAD = {
    "f32_leaf*f64_leaf": (lambda m, a, b: a * b, F32, F64),
    "f64_leaf+f32_leaf_bcast": (lambda m, a, b: a + b[0], F64, F32),
    "f32_leaf/f64_leaf": (lambda m, a, b: a / b, F32, F64),
    "f32_leaf**f64_leaf": (lambda m, a, b: a**b, F32, F64),
    "f32_leaf*py_float": (lambda m, a, b: (a * 2.5) * b, F32, F32),
    "f32_leaf.double()": (lambda m, a, b: a.double().exp() * b, F32, F64),
    "f64_leaf.float()": (lambda m, a, b: a.float().tanh() * b, F64, F32),
    "maximum(f32_leaf,f64_leaf)": (lambda m, a, b: m.maximum(a, b + 0.1 * (b > a)), F32, F64),
    "where(f32_leaf,f64_leaf)": (lambda m, a, b: m.where(a > 1.0, a, b), F32, F64),
    "cat(f32_leaf,f64_leaf)": (lambda m, a, b: m.cat([a, b], dim=1), F32, F64),
    "f32_leaf@f32_leaf": (lambda m, a, b: a @ b.T, F32, F32),
}


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("name", list(MIXED_GRAD))
def test_mixed_dtype_grad_keeps_leaf_dtype(name, device):
    fn, da, db = MIXED_GRAD[name]
    rng = np.random.default_rng(_seed("mixed", name))
    a0, b0 = rng.uniform(0.5, 2.0, (3, 4)).astype(da), rng.uniform(0.5, 2.0, (3, 4)).astype(db)
    res = []
    for mod in (numgrad, torch):
        mk = _factory(mod, device)
        a, b = mk(a0, requires_grad=True), mk(b0, requires_grad=True)
        res.append((a, b, fn(mod, a, b)))
    (na, nb, nout), (ta, tb, tout) = res
    assert_same(nout, tout, TOL_FWD[np.float32], what="result")
    _backward_both([nout], [tout], np.random.default_rng(_seed("mixed_up", name)))
    assert na.grad.dtype == na.dtype and nb.grad.dtype == nb.dtype
    assert_grads_match([(na, ta), (nb, tb)], TOL_GRAD[np.float32])
