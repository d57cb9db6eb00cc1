"""Higher-order gradients (``create_graph=True``): every op of the spec list at second order
against torch in float64 and against finite differences of its first-order gradient, plus the
uses they exist for (gradient penalty, Hessian-vector product, a MAML step, third order)."""

import numpy as np
import pytest
import torch
from opinfo import ALL_SPECS
from test_ops import _make_inputs, _outputs, _seed

import numgrad

# Specs whose op has no differentiable backward yet, with why: each raises a
# NotImplementedError naming the op (checked below); the list is checked to be exact, so an op
# that gains a Tensor form must leave it.  Filled from a run over the whole spec list.
NO_DOUBLE_BACKWARD: dict[str, str] = {
    "remainder": "its y-rule multiplies by floor_divide(x, y), which has no derivative "
    "(first-order floor_divide raises in torch and here; torch's second order takes it as 0)",
    "remainder_fn": "as remainder",
}

TOL = {"rtol": 1e-7, "atol": 1e-9}


def _np(t):
    if isinstance(t, torch.Tensor):  # torch's second derivative may be a ZeroTensor
        return t.detach().numpy(force=True)
    return t.detach().numpy()


def _params():
    out = []
    for s in ALL_SPECS:
        if not s.differentiable:
            continue
        cases = [c for c in s.cases if c.grad]
        if cases:  # one case per spec keeps the suite's time in check
            out.append(pytest.param(s, cases[0], id=f"{s.name}-{cases[0].name}"))
    return out


def _second_order(mod, outs, leaves, rng_seed):
    """d/dleaves of sum_i <dL/dleaf_i, v_i>, L = sum_k <out_k, g_k>; random g and v."""
    rng = np.random.default_rng(rng_seed)
    outs = [o for o in outs if o.requires_grad]
    gs = [mod.tensor(rng.standard_normal(tuple(o.shape))) for o in outs]
    first = mod.autograd.grad(outs, leaves, grad_outputs=gs, create_graph=True, allow_unused=True)
    vs = [rng.standard_normal(tuple(x.shape)) for x in leaves]
    total = None
    for g, v in zip(first, vs):
        if g is None or not g.requires_grad:
            continue
        term = (g * mod.tensor(v)).sum()
        total = term if total is None else total + term
    if total is None:
        return [None] * len(leaves), first
    second = mod.autograd.grad(total, leaves, allow_unused=True)
    return list(second), first


@pytest.mark.parametrize("spec,case", _params())
def test_double_backward_matches_torch(spec, case):
    ng_args, th_args, leaves = _make_inputs(case, np.float64, "cpu", requires_grad=True)
    ng_leaves = [n for n, _ in leaves]
    th_leaves = [t for _, t in leaves]
    seed = _seed(spec.name, case.name, "double")
    th_outs = _outputs(spec.torch_fn(*th_args, **case.kwargs))
    try:
        th_second, _ = _second_order(torch, th_outs, th_leaves, seed)
    except (NotImplementedError, RuntimeError) as e:
        # torch itself has no second derivative here (floor_divide in remainder's): nothing
        # to compare with; numgrad must not return a silent wrong answer either
        assert "derivative" in str(e) or "not implemented" in str(e), e
        return
    ng_outs = _outputs(spec.ng_fn(*ng_args, **case.kwargs))
    try:
        ng_second, _ = _second_order(numgrad, ng_outs, ng_leaves, seed)
    except NotImplementedError as e:
        assert spec.name in NO_DOUBLE_BACKWARD, f"{spec.name}: {e}"
        assert "create_graph=True" in str(e) or "derivative" in str(e)
        return
    assert spec.name not in NO_DOUBLE_BACKWARD, f"{spec.name} works now: remove it from the list"
    for k, (a, b) in enumerate(zip(ng_second, th_second)):
        a = np.zeros(ng_leaves[k].shape) if a is None else _np(a)
        b = np.zeros(th_leaves[k].shape) if b is None else _np(b)
        np.testing.assert_allclose(a, b, err_msg=f"second-order grad of leaf {k}", **TOL)


def _fd_params():
    # every fourth spec that has a double backward and takes finite differences
    ok = [p for p in _params() if p.values[0].name not in NO_DOUBLE_BACKWARD]
    return [p for p in ok if p.values[0].gradcheck][::4]


@pytest.mark.parametrize("spec,case", _fd_params())
def test_double_backward_matches_finite_differences(spec, case):
    ng_args, _, leaves = _make_inputs(case, np.float64, "cpu", requires_grad=True, lib="ng")
    xs = [n for n, _ in leaves]
    seed = _seed(spec.name, case.name, "fd")
    second, _ = _second_order(numgrad, _outputs(spec.ng_fn(*ng_args, **case.kwargs)), xs, seed)
    rng = np.random.default_rng(seed + 1)
    d = [rng.standard_normal(tuple(x.shape)) for x in xs]
    want = sum(float((_np(s) * di).sum()) for s, di in zip(second, d) if s is not None)

    def first_dot(sign, eps=1e-6):
        args = list(ng_args)
        shifted = []
        for x, di in zip(xs, d):
            y = numgrad.tensor(x.detach().numpy() + sign * eps * di, requires_grad=True)
            shifted.append(y)
            args[next(i for i, a in enumerate(ng_args) if a is x)] = y
        outs = [o for o in _outputs(spec.ng_fn(*args, **case.kwargs)) if o.requires_grad]
        r = np.random.default_rng(seed)  # the same g and v as _second_order drew
        gs = [numgrad.tensor(r.standard_normal(tuple(o.shape))) for o in outs]
        first = numgrad.autograd.grad(outs, shifted, grad_outputs=gs, allow_unused=True)
        vs = [r.standard_normal(tuple(x.shape)) for x in xs]
        return sum(float((_np(g) * v).sum()) for g, v in zip(first, vs) if g is not None)

    got = (first_dot(1) - first_dot(-1)) / 2e-6
    assert got == pytest.approx(want, rel=1e-4, abs=1e-6)


# ---- the uses ---------------------------------------------------------------------------------


def _mlp(mod, rng):
    w1 = mod.tensor(rng.standard_normal((8, 3)), requires_grad=True)
    b1 = mod.tensor(rng.standard_normal(8), requires_grad=True)
    w2 = mod.tensor(rng.standard_normal((1, 8)), requires_grad=True)
    return [w1, b1, w2]


def _net(mod, ps, x):
    w1, b1, w2 = ps
    return mod.tanh(x @ w1.T + b1) @ w2.T


def test_gradient_penalty_matches_torch():
    res = {}
    for mod in (numgrad, torch):
        rng = np.random.default_rng(0)
        ps = _mlp(mod, rng)
        x = mod.tensor(rng.standard_normal((5, 3)), requires_grad=True)
        out = _net(mod, ps, x)
        (gx,) = mod.autograd.grad(out.sum(), x, create_graph=True)
        penalty = ((gx.norm(dim=1) - 1) ** 2).mean()
        loss = out.mean() + 10 * penalty
        loss.backward()
        res[mod.__name__] = [p.grad.detach().numpy() for p in ps]
    for a, b in zip(res["numgrad"], res["torch"]):
        np.testing.assert_allclose(a, b, **TOL)


def test_hessian_vector_product_and_third_order():
    rng = np.random.default_rng(1)
    x0, v0 = rng.standard_normal(6), rng.standard_normal(6)
    res = {}
    for mod in (numgrad, torch):
        x = mod.tensor(x0, requires_grad=True)
        f = (x.sin() * x.exp()).sum() + (x**4).sum()
        (g,) = mod.autograd.grad(f, x, create_graph=True)
        (hv,) = mod.autograd.grad(g, x, grad_outputs=mod.tensor(v0), create_graph=True)
        (third,) = mod.autograd.grad(hv.sum(), x)
        res[mod.__name__] = (hv.detach().numpy(), third.numpy())
    for a, b in zip(res["numgrad"], res["torch"]):
        np.testing.assert_allclose(a, b, **TOL)


def test_maml_step_matches_torch():
    # the outer gradient flows through one inner SGD step (MAML)
    res = {}
    for mod in (numgrad, torch):
        rng = np.random.default_rng(2)
        ps = _mlp(mod, rng)
        xs, ys = mod.tensor(rng.standard_normal((6, 3))), mod.tensor(rng.standard_normal((6, 1)))
        xq, yq = mod.tensor(rng.standard_normal((4, 3))), mod.tensor(rng.standard_normal((4, 1)))
        inner = ((_net(mod, ps, xs) - ys) ** 2).mean()
        grads = mod.autograd.grad(inner, ps, create_graph=True)
        fast = [p - 0.1 * g for p, g in zip(ps, grads)]
        outer = ((_net(mod, fast, xq) - yq) ** 2).mean()
        outer.backward()
        res[mod.__name__] = [p.grad.numpy() for p in ps]
    for a, b in zip(res["numgrad"], res["torch"]):
        np.testing.assert_allclose(a, b, **TOL)


def test_backward_create_graph_gives_differentiable_grads_and_plain_backward_does_not():
    x = numgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([1.0, 2.0, 3.0]))
    y = numgrad.tensor([1.0, 2.0], requires_grad=True)
    (y**3).sum().backward()
    assert y.grad.grad_fn is None and not y.grad.requires_grad


# ---- autograd.functional ------------------------------------------------------------------------


def _fns(m):
    def f(x, w):
        return (w @ x).tanh() * 2 + (x * x).sum()

    def scalar(x):
        return (x.exp() * x).sum() + (x**3).sum()

    def scalar2(x, y):
        return (x * y.sum()).pow(2).sum() + (y**3).sum()

    return f, scalar, scalar2


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp", "hessian2"])
def test_autograd_functional_matches_torch(name, create_graph):
    import torch.autograd.functional as tf

    import numgrad.autograd.functional as nf

    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(3), rng.standard_normal((2, 3))
    v3, v2 = rng.standard_normal(3), rng.standard_normal(2)
    res = {}
    for m, mod in ((numgrad, nf), (torch, tf)):
        f, scalar, scalar2 = _fns(m)
        x, w = m.tensor(a), m.tensor(b)
        calls = {
            "vjp": lambda: mod.vjp(f, (x, w), m.tensor(v2), create_graph=create_graph),
            "jvp": lambda: mod.jvp(f, (x, w), (m.tensor(v3), w), create_graph=create_graph),
            "jacobian": lambda: mod.jacobian(f, (x, w), create_graph=create_graph),
            "hessian": lambda: mod.hessian(scalar, x, create_graph=create_graph),
            "hvp": lambda: mod.hvp(scalar, x, m.tensor(v3), create_graph=create_graph),
            "vhp": lambda: mod.vhp(scalar, x, m.tensor(v3), create_graph=create_graph),
            "hessian2": lambda: mod.hessian(scalar2, (x, m.tensor(v3)), create_graph=create_graph),
        }
        out = calls[name]()

        def flat(o):
            if isinstance(o, (tuple, list)):
                return [z for i in o for z in flat(i)]
            return [o]

        res[m.__name__] = flat(out)
    assert len(res["numgrad"]) == len(res["torch"])
    for a_, b_ in zip(res["numgrad"], res["torch"]):
        assert tuple(a_.shape) == tuple(b_.shape)
        np.testing.assert_allclose(_np(a_), _np(b_), **TOL)


def test_autograd_functional_strict_and_v_checks():
    import numgrad.autograd.functional as nf

    x = numgrad.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="independent of input 1"):
        nf.vjp(lambda a, b: a * 2, (x, x.clone()), numgrad.ones(2), strict=True)
    with pytest.raises(RuntimeError, match="v can only be None"):
        nf.vjp(lambda a: a * 2, x)
    _, (g0, g1) = nf.vjp(lambda a, b: (a * 2).sum(), (x, x.clone()))
    np.testing.assert_allclose(g1.numpy(), [0.0, 0.0])
