"""Plan and compute (issue 8, point 3): ``numgrad/ops`` declares each non-elementwise op and its
plans (plain Python over shapes and attrs); ``numgrad/devices/<device>`` implements the compute."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import numgrad
from numgrad.ops import OPS
from numgrad.ops.linalg import matmul_plan
from numgrad.ops.reduce import reduce_plan
from numgrad.ops.registry import Kernel, Op

OPS_DIR = Path(numgrad.__file__).parent / "ops"
PLANNED = ("reduce", "nn", "linalg", "shape")


def _imports(path):
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = ["numgrad", "ops"]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names.append(".".join(base + ([node.module] if node.module else [])))
    return names


def _kernels(op):
    return [k for k in (op.forward, *op.backward.values()) if k is not None]


def test_ops_import_no_device_package():
    # the op table is device-neutral: devices import it, never the reverse (the math seam,
    # ops/math.py, is the one module devices override)
    for path in sorted(OPS_DIR.glob("*.py")):
        if path.name == "math.py":
            continue
        bad = [m for m in _imports(path) if m.startswith("numgrad.devices")]
        assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("name", PLANNED)
def test_plans_import_no_array_library(name):
    # plans are shape arithmetic, reusable by every device and by generated code
    roots = {m.split(".")[0] for m in _imports(OPS_DIR / f"{name}.py")}
    assert not roots & {"numpy", "numba"}, f"ops/{name}.py imports {roots & {'numpy', 'numba'}}"


def test_no_device_callable_in_declarations():
    for path in sorted(Path(numgrad.__file__).parent.rglob("*.py")):
        if path.name == "registry.py" or "optim" in path.parts:
            continue
        assert "Kernel(cpu=" not in path.read_text(), path


def test_every_kernel_runs_on_the_cpu():
    # a declaration without a CPU implementation would only fail when first called
    for op in OPS.values():
        if op.name.startswith("custom."):
            continue
        for k in _kernels(op):
            assert k.scalar is not None or k.generic is not None or "cpu" in k.impls, (op, k)


def test_plans_are_cached_by_shape_and_attrs():
    x = numgrad.randn(3, 4, 5, requires_grad=True)
    x.sum(dim=(0, 2)).sum().backward()
    fwd = OPS["sum"].forward
    key = ((3, 4, 5), (0, 2), False)
    plan = fwd.plans[key]
    assert plan.perm == (1, 0, 2) and plan.arb == (4, 15, 1) and plan.out_shape == (4,)
    # the backward rule shares the plan function, so it reuses the forward's plan
    assert OPS["sum"].backward["x"].plans is fwd.plans
    scope = {"x_shape": (3, 4, 5), "axes": (0, 2), "keepdim": False}
    assert fwd.plan_for(scope) is plan


def test_plans_need_only_shapes():
    p = reduce_plan((2, 3, 4), (1,), True)
    assert (p.arb, p.out_shape, p.keep_shape, p.whole) == ((2, 3, 4), (2, 1, 4), (2, 1, 4), False)
    m = matmul_plan((5,), (2, 5, 3))
    assert m.batched and m.a_mat == (1, 5) and m.out_shape == (2, 3)
    assert matmul_plan((4,), (4,)).out_shape == ()
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(4, 5\)"):
        matmul_plan((2, 3), (4, 5))


def test_plan_errors_name_the_shapes():
    a, b = numgrad.randn(2, 3), numgrad.randn(4, 5)
    with pytest.raises(RuntimeError, match=r"shapes \(2, 3\) and \(4, 5\)") as info:
        numgrad.dispatch.apply(OPS["matmul"], (a, b))  # past functional.matmul's own check
    assert info.value.__context__ is None  # not raised while handling the cache miss
    with pytest.raises(IndexError, match="amax.*reduction dim 1.*non-zero size"):
        numgrad.amax(numgrad.zeros(3, 0), dim=1)


def test_registration_checks_plans():
    def reads_array(x):
        return x

    with pytest.raises(ValueError, match="plan of kernel .* reads 'x'"):
        Op("bad_plan", ("x",), Kernel(args=("x", "plan"), plan=reads_array), {"x": None})
    with pytest.raises(ValueError, match="reads unknown name 'plan'"):
        Op("no_plan", ("x",), Kernel(args=("x", "plan")), {"x": None})


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_of_a_scalar(fn):
    # torch: a 0-d tensor is one row of one element (numgrad raised numpy's AxisError)
    n = numgrad.tensor(0.7, dtype=numgrad.float64, requires_grad=True)
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    out_n, out_t = getattr(numgrad, fn)(n, 0), getattr(torch, fn)(t, 0)
    np.testing.assert_allclose(out_n.detach().numpy(), out_t.detach().numpy())
    (out_n * 3.0).backward()
    (out_t * 3.0).backward()
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy())
