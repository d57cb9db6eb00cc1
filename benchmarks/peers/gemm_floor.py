"""The GEMMs of each MLP step alone, beside the whole step, torch against numgrad, in one process
(issue 10's "within x% of its GEMMs alone").

Not part of the asv suite.  Run it pinned to one core::

    taskset -c 0 python benchmarks/peers/gemm_floor.py

For each MLP workload of ``numgrad bench`` (float32): the step's matrix products alone (per
layer: forward ``h @ W.T``, backward ``g @ W`` where a gradient flows on and ``g.T @ h``),
numgrad's as the fused step calls them (``np.dot(a, b, out)`` inside one ``@njit`` function,
Numba's BLAS, preallocated results) and torch's as eager torch runs them (``a @ b``); then the
whole training step, torch eager and ``numgrad.compile``.  Repeats interleave the four timings;
prints the median of each and the ratios torch/numgrad with their spread over the repeats.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from numba import njit  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from numgrad.bench.workloads import MLPS, Lib, _mlp  # noqa: E402

torch.set_num_threads(1)
BATCH = {"mlp-tiny": 100, "mlp-medium": 64, "mlp-large": 256}


@njit(cache=True)
def _dot(a, b, out):
    np.dot(a, b, out)


def _gemms(name, batch):
    """(numgrad callable, torch callable) running the step's matrix products once."""
    widths = MLPS[name][0]
    rng = np.random.default_rng(0)
    plan = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        h = rng.standard_normal((batch, fan_in)).astype(np.float32)
        w = rng.standard_normal((fan_out, fan_in)).astype(np.float32)
        g = rng.standard_normal((batch, fan_out)).astype(np.float32)
        plan.append((h, w.T, np.empty((batch, fan_out), np.float32)))  # forward
        if i > 0:
            plan.append((g, w, np.empty((batch, fan_in), np.float32)))  # gradient of h
        plan.append((g.T, h, np.empty((fan_out, fan_in), np.float32)))  # gradient of W
    tplan = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b, _ in plan]  # strided views

    def ng_run():
        for a, b, out in plan:
            _dot(a, b, out)

    def torch_run():
        for a, b in tplan:
            a @ b

    return ng_run, torch_run


def _time(fn, seconds=0.3):
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 3:
        fn()
        n += 1
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main(repeats=5):
    print(f"one thread, float32, {repeats} interleaved repeats; median time, torch/numgrad")
    for name, batch in BATCH.items():
        ng_gemm, torch_gemm = _gemms(name, batch)
        steps = {
            "torch": _mlp(name, batch)(Lib("torch", "cpu"), "float32").step,
            "compiled": _mlp(name, batch)(Lib("numgrad", "cpu", compiled=True), "float32").step,
        }
        for fn in (*steps.values(), ng_gemm, torch_gemm):
            for _ in range(3):
                fn()
        times = {k: [] for k in ("ng_gemm", "torch_gemm", "compiled", "torch")}
        for _ in range(repeats):
            times["ng_gemm"].append(_time(ng_gemm))
            times["torch_gemm"].append(_time(torch_gemm))
            times["compiled"].append(_time(steps["compiled"]))
            times["torch"].append(_time(steps["torch"]))
        gemm = [t / n for t, n in zip(times["torch_gemm"], times["ng_gemm"])]
        step = [t / n for t, n in zip(times["torch"], times["compiled"])]

        def fmt(r):
            m = statistics.median(r)
            return f"{m:.2f}x (spread {(max(r) - min(r)) / m:.0%})"

        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(
            f"{name}: GEMMs alone torch {med['torch_gemm']:.3f} ms, numgrad {med['ng_gemm']:.3f}"
            f" ms: {fmt(gemm)}; step torch {med['torch']:.3f} ms, numgrad.compile "
            f"{med['compiled']:.3f} ms: {fmt(step)}"
        )


if __name__ == "__main__":
    main()
