"""Parity helpers for the CUDA suite: run the same computation on the CPU and on ``cuda`` from
the same numpy inputs and compare results and gradients (the CPU backend is checked against
torch by the CPU suite, so agreeing with it is agreeing with torch)."""

from __future__ import annotations

import numpy as np

import numgrad

TOL = {
    np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-12},
    np.dtype(np.float32): {"rtol": 1e-5, "atol": 1e-6},
    np.dtype(np.float16): {"rtol": 1e-3, "atol": 1e-3},
}


def host(t):
    """A tensor's values as a numpy array, from any device."""
    return t.detach().cpu().numpy()


def assert_close(cuda_t, cpu_t, what="result"):
    assert isinstance(cuda_t, numgrad.Tensor), f"{what}: got {type(cuda_t).__name__}"
    assert cuda_t.device.type == "cuda", f"{what}: on {cuda_t.device}, expected cuda"
    a, b = host(cuda_t), host(cpu_t)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != cpu's {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != cpu's {b.dtype}"
    if a.dtype.kind in "fc":
        np.testing.assert_allclose(a, b, err_msg=what, **TOL.get(a.dtype, TOL[np.dtype("f8")]))
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def _outs(r):
    return list(r) if isinstance(r, (tuple, list)) else [r]


def compare(fn, *args, grad=True, seed=0):
    """``fn(*tensors)`` on the CPU and on cuda, from the same inputs: numpy arrays become tensors
    (float arrays require grad when ``grad``), anything else passes through.  Checks every
    output, then backpropagates one random upstream gradient through both and checks every
    leaf's gradient.  Returns the (cuda, cpu) outputs."""
    rng = np.random.default_rng(seed)
    sides = {}
    for dev in ("cpu", "cuda"):
        leaves, call = [], []
        for a in args:
            if isinstance(a, np.ndarray):
                rg = grad and a.dtype.kind == "f"
                t = numgrad.tensor(a, device=dev, requires_grad=rg)
                if rg:
                    leaves.append(t)
                call.append(t)
            else:
                call.append(a)
        sides[dev] = (leaves, _outs(fn(*call)))
    (gl, go), (cl, co) = sides["cuda"], sides["cpu"]
    assert len(go) == len(co)
    for k, (a, b) in enumerate(zip(go, co)):
        assert_close(a, b, f"output {k}")
    if grad and cl:
        roots = [(a, b) for a, b in zip(go, co) if b.requires_grad]
        if roots:
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
    return go, co
