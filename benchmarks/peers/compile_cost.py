"""What ``numgrad.compile`` costs up front, for issue 10's targets: the first compile of a step
with every cache cold, and loading the generated step from the disk cache in a new process.

Not part of the asv suite (each number needs fresh processes and an empty cache folder).
Run it with::

    taskset -c 0 python benchmarks/peers/compile_cost.py [mlp-medium] [batch]

For a workload of ``numgrad bench`` (default: mlp-medium, batch 64), in float32:

1. **cold**: a new process with empty ``NUMGRAD_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` runs the
   compiled step four times: the first call runs eagerly (it compiles every kernel the step
   uses), the second traces the step (eagerly, under the capture hook), the third generates
   the fused function, compiles it and runs it (the "first compile"), the fourth runs it.
2. **warm**: a second new process with the same (now filled) cache folders does the same: the
   third call now loads the generated step from the cache.

Prints the seconds of each call and of ``import numgrad`` in both processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numgrad
t_import = time.perf_counter() - t0
sys.path.insert(0, {root!r})
from numgrad.bench.workloads import Lib, _mlp
lib = Lib("numgrad", "cpu", compiled=True)
prepared = _mlp({name!r}, {batch})(lib, "float32")
calls = []
for _ in range(4):
    t = time.perf_counter()
    prepared.step()
    calls.append(time.perf_counter() - t)
import gc
fused = [
    e.program.fused is not None
    for o in gc.get_objects() if type(o).__name__ == "CompiledFunction"
    for e in o._entries.values() if e.program is not None
]
print(json.dumps({{"import": t_import, "calls": calls, "fused": fused}}))
"""


def _run(code, env):
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(name="mlp-medium", batch=64):
    code = _CHILD.format(root=ROOT, name=name, batch=batch)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMGRAD_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache)
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        for label in ("cold cache", "warm cache"):
            r = _run(code, env)
            first, trace, build, replay = r["calls"]
            what = "compile" if label == "cold cache" else "load"
            print(
                f"{name} batch {batch}, {label}: import {r['import']:.2f} s, call 1 (eager) "
                f"{first:.2f} s, call 2 (trace) {trace * 1e3:.1f} ms, call 3 (generate + "
                f"{what} + run) {build:.3f} s, call 4 {replay * 1e3:.2f} ms; fused: {r['fused']}"
            )


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0] if args else "mlp-medium", int(args[1]) if len(args) > 1 else 64)
