"""The MLP training steps of ``numgrad bench`` in JAX ``jit``, timed beside torch eager and
``numgrad.compile`` in one process (issue 10's peer comparison).

Not part of the asv suite or CI (JAX is not a dependency).  Run it in an environment with
``jax`` (CPU), torch==2.13.0 and numgrad, pinned to one core::

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        taskset -c 0 python benchmarks/peers/jax_steps.py

Each JAX step is the same computation as the bench's workload (same widths, activations,
losses, optimizer and its arguments, float32), written as one jitted function of (params,
optimizer state, x, y) with the update inside, as JAX users write it; inputs stay on the
device (the CPU) between calls and the result is blocked on before the clock stops.
Prints per workload: median time per call of each and torch/numgrad-compiled, torch/JAX.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from numgrad.bench.workloads import MLPS, Lib, _mlp  # noqa: E402

torch.set_num_threads(1)


def _jax_step(name, batch):
    widths, act, loss_name, (opt_name, kw) = MLPS[name]
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        b = 1 / math.sqrt(fan_in)
        params.append(
            (
                jnp.asarray(rng.uniform(-b, b, (fan_out, fan_in)).astype(np.float32)),
                jnp.asarray(rng.uniform(-b, b, fan_out).astype(np.float32)),
            )
        )
    x = jnp.asarray(rng.standard_normal((batch, widths[0])).astype(np.float32))
    if loss_name == "BCEWithLogitsLoss":
        y = jnp.asarray((rng.random((batch, 1)) < 0.5).astype(np.float32))
    else:
        y = jnp.asarray(rng.integers(0, widths[-1], size=batch))
    f_act = jax.nn.sigmoid if act == "Sigmoid" else jax.nn.relu

    def loss_fn(ps, x, y):
        h = x
        for i, (w, b) in enumerate(ps):
            h = h @ w.T + b
            if i < len(ps) - 1:
                h = f_act(h)
        if loss_name == "BCEWithLogitsLoss":
            return jnp.mean(jnp.maximum(h, 0) - h * y + jnp.log1p(jnp.exp(-jnp.abs(h))))
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    grad_fn = jax.value_and_grad(loss_fn)
    lr = kw["lr"]
    if opt_name == "SGD" and not kw.get("momentum"):
        state = ()

        def update(ps, st, g):
            return jax.tree_util.tree_map(lambda p, d: p - lr * d, ps, g), st

    elif opt_name == "SGD":
        mom = kw["momentum"]
        state = (jax.tree_util.tree_map(jnp.zeros_like, params), jnp.zeros((), jnp.int32))

        def update(ps, st, g):
            buf, t = st
            # torch's first step: the buffer is the gradient itself
            nb = jax.tree_util.tree_map(lambda b_, d: jnp.where(t == 0, d, mom * b_ + d), buf, g)
            return jax.tree_util.tree_map(lambda p, b_: p - lr * b_, ps, nb), (nb, t + 1)

    else:  # Adam, torch's defaults
        b1, b2, eps = 0.9, 0.999, 1e-8
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        state = (zeros, zeros, jnp.zeros((), jnp.float32))

        def update(ps, st, g):
            m, v, t = st
            t = t + 1
            m = jax.tree_util.tree_map(lambda a, d: b1 * a + (1 - b1) * d, m, g)
            v = jax.tree_util.tree_map(lambda a, d: b2 * a + (1 - b2) * d * d, v, g)
            c1, c2 = 1 - b1**t, 1 - b2**t
            new = jax.tree_util.tree_map(
                lambda p, a, s: p - lr * (a / c1) / (jnp.sqrt(s / c2) + eps), ps, m, v
            )
            return new, (m, v, t)

    @jax.jit
    def step(ps, st, x, y):
        loss, g = grad_fn(ps, x, y)
        ps, st = update(ps, st, g)
        return loss, ps, st

    carry = [params, state]

    def run():
        loss, carry[0], carry[1] = step(carry[0], carry[1], x, y)
        loss.block_until_ready()

    return run


def _median_time(fn, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    rows = [("mlp-tiny", 100, 400), ("mlp-medium", 64, 100), ("mlp-large", 256, 8)]
    print(f"jax {jax.__version__}, torch {torch.__version__}, one thread")
    for name, batch, n in rows:
        torch_step = _mlp(name, batch)(Lib("torch"), "float32").step
        ng_step = _mlp(name, batch)(Lib("numgrad", compiled=True), "float32").step
        jax_step = _jax_step(name, batch)
        for f in (torch_step, ng_step, jax_step):
            for _ in range(max(3, n // 10)):  # warm-up: traces, compiles, first steps
                f()
        ratios_ng, ratios_jax, t_all = [], [], []
        for _ in range(5):
            t = [_median_time(f, n) for f in (torch_step, ng_step, jax_step)]
            t_all.append(t)
            ratios_ng.append(t[0] / t[1])
            ratios_jax.append(t[0] / t[2])
        med = [statistics.median(c) for c in zip(*t_all)]
        rn, rj = statistics.median(ratios_ng), statistics.median(ratios_jax)
        spread_n = (max(ratios_ng) - min(ratios_ng)) / 2 / rn
        spread_j = (max(ratios_jax) - min(ratios_jax)) / 2 / rj
        print(
            f"{name:10s} {batch:4d}  torch {med[0] * 1e6:9.1f} us  numgrad.compile "
            f"{med[1] * 1e6:9.1f} us  jax.jit {med[2] * 1e6:9.1f} us  "
            f"torch/compiled {rn:5.2f}x ±{spread_n:.0%}  torch/jax {rj:5.2f}x ±{spread_j:.0%}"
        )


if __name__ == "__main__":
    main()
