"""Every op spec of ``tests/opinfo.py`` run on ``cuda`` and compared with the CPU backend:
forward values, dtypes and shapes, and the gradients of every leaf for one random upstream
gradient (the CPU suite checks the CPU against torch and finite differences)."""

from __future__ import annotations

import numpy as np
import pytest
from opinfo import ALL_SPECS
from util import assert_close, host

import numgrad

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def _params():
    return [pytest.param(s, c, id=f"{s.name}-{c.name}") for s in ALL_SPECS for c in s.cases]


def _inputs(case, dtype, device, want_grad):
    args, leaves, k = [], [], 0
    for a in case.args:
        if isinstance(a, np.ndarray):
            if a.dtype.kind == "f":
                rg = want_grad and (case.requires_grad is None or case.requires_grad[k])
                k += 1
                t = numgrad.tensor(
                    np.ascontiguousarray(a.astype(dtype)), device=device, requires_grad=rg
                )
                if rg:
                    leaves.append(t)
            else:
                t = numgrad.tensor(a, device=device)
            args.append(t)
        else:
            args.append(a)
    return args, leaves


def _outs(r):
    return list(r) if isinstance(r, (tuple, list)) else [r]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec,case", _params())
def test_op_matches_cpu(spec, case, dtype):
    want_grad = spec.differentiable and case.grad
    results = {}
    for dev in ("cpu", "cuda"):
        args, leaves = _inputs(case, dtype, dev, want_grad)
        results[dev] = (leaves, _outs(spec.ng_fn(*args, **case.kwargs)))
    (gl, go), (cl, co) = results["cuda"], results["cpu"]
    assert len(go) == len(co)
    for k, (a, b) in enumerate(zip(go, co)):
        if isinstance(b, numgrad.Tensor):
            assert_close(a, b, f"output {k}")
            assert a.requires_grad == b.requires_grad, f"output {k}: requires_grad differs"
        else:
            assert a == b, f"output {k}: {a!r} != cpu's {b!r}"
    if not want_grad or not cl:
        return
    roots = [(a, b) for a, b in zip(go, co) if isinstance(b, numgrad.Tensor) and b.requires_grad]
    if not roots:
        return
    rng = np.random.default_rng(0)
    ups = [rng.standard_normal(tuple(b.shape)).astype(host(b).dtype) for _, b in roots]
    numgrad.autograd.backward(
        [a for a, _ in roots], [numgrad.tensor(u, device="cuda") for u in ups]
    )
    numgrad.autograd.backward([b for _, b in roots], [numgrad.tensor(u) for u in ups])
    for k, (a, b) in enumerate(zip(gl, cl)):
        if b.grad is None:
            assert a.grad is None, f"leaf {k}: cuda has a gradient, cpu has none"
            continue
        assert a.grad is not None, f"leaf {k}: no gradient on cuda"
        assert_close(a.grad, b.grad, f"grad of leaf {k}")
