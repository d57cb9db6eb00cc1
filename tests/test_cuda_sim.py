"""The CUDA backend in the CPU suite: CI has no GPU, so it runs the CUDA suite (``tests/cuda``)
under Numba's simulator in a pytest process of its own (``NUMBA_ENABLE_CUDASIM=1`` must be set
before ``numba`` is imported, and this process imported it long ago), recording every kernel
launch with its argument types; then it compiles every elementwise kernel and every recorded
launch to PTX for Hopper and links it to a cubin (``tests/cuda/ptx_check.py``), since the
simulator runs kernels as Python and checks no types.

``NUMGRAD_CUDA_SIM_K=<expr>`` runs only the simulator tests matching ``-k <expr>`` (for
working on a few ops; CI leaves it unset).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# generous limits: the simulator suite took 8 minutes (3171 tests) and the PTX check of its
# launches 7 on a loaded 2-core machine
SIM_TIMEOUT_S = 1500
PTX_TIMEOUT_S = 900


def _env(**set_vars):
    env = dict(os.environ)
    for k in ("NUMBA_ENABLE_CUDASIM", "NUMGRAD_CUDA_COMPILE_ONLY", "NUMGRAD_CUDA_RECORD"):
        env.pop(k, None)
    env.update(set_vars)
    return env


def _tail(text, n=60):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


def _run(cmd, env, timeout):
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        out, rc = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else e.stdout or ""
        out, rc = f"{out}\n... killed after {timeout} s", None
    return rc, out, time.perf_counter() - t0


PTX_CHECK = [sys.executable, "tests/cuda/ptx_check.py"]


@pytest.fixture(scope="module")
def simulator_run(tmp_path_factory):
    """The simulator suite, run once: (exit status, output, seconds, record file, elementwise
    PTX pass).  The PTX pass over the op table's elementwise kernels needs no record, so it
    runs meanwhile in a process of its own (the simulator suite keeps one core busy); the
    recorded launches are compiled once the suite is done."""
    folder = tmp_path_factory.mktemp("cuda_sim")
    record = folder / "launches.jsonl"
    ew_log = open(folder / "ptx_elementwise.log", "w+")  # a file: a pipe could fill and block
    elementwise = subprocess.Popen(
        # the cores the simulator suite (one process, one core) leaves free
        PTX_CHECK + ["--jobs", str(max(1, (os.cpu_count() or 2) - 1))],
        cwd=ROOT,
        env=_env(NUMGRAD_CUDA_COMPILE_ONLY="1"),
        stdout=ew_log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cmd = [sys.executable, "-m", "pytest", "tests/cuda", "-q", "-x", "-p", "no:cacheprovider"]
    select = os.environ.get("NUMGRAD_CUDA_SIM_K")
    if select:
        cmd += ["-k", select]
    env = _env(NUMBA_ENABLE_CUDASIM="1", NUMGRAD_CUDA_RECORD=str(record))
    try:
        rc, out, seconds = _run(cmd, env, SIM_TIMEOUT_S)
        yield rc, out, seconds, record, (elementwise, ew_log)
    finally:
        if elementwise.poll() is None:
            elementwise.kill()
            elementwise.wait()
        ew_log.close()


def test_cuda_suite_passes_under_the_simulator(simulator_run):
    rc, out, seconds, _, _ = simulator_run
    assert rc == 0, (
        f"the CUDA suite under NUMBA_ENABLE_CUDASIM=1 failed (exit {rc}, {seconds:.0f} s); "
        f"rerun it with: NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda -q -x\n{_tail(out)}"
    )
    assert " passed" in out, _tail(out)


def test_every_kernel_compiles_for_hopper_without_spills(simulator_run):
    """The elementwise kernels of the op table, and every launch the simulator run recorded,
    typed and compiled to PTX (sm_90) and linked to a cubin with no register spill."""
    _, _, _, record, (elementwise, ew_log) = simulator_run
    assert record.exists(), "the simulator run recorded no launch (NUMGRAD_CUDA_RECORD)"
    cmd = PTX_CHECK + ["--no-elementwise", "--record", str(record)]
    rc, out, seconds = _run(cmd, _env(NUMGRAD_CUDA_COMPILE_ONLY="1"), PTX_TIMEOUT_S)
    try:
        ew_rc = elementwise.wait(timeout=PTX_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        elementwise.kill()
        ew_rc = None
    ew_log.seek(0)
    ew_out = ew_log.read()
    rerun = (
        "rerun it with: NUMGRAD_CUDA_COMPILE_ONLY=1 python tests/cuda/ptx_check.py "
        f"--record {record}"
    )
    assert ew_rc == 0, (
        f"tests/cuda/ptx_check.py (elementwise kernels) failed (exit {ew_rc}); {rerun}\n"
        f"{_tail(ew_out, 80)}"
    )
    assert rc == 0, (
        f"tests/cuda/ptx_check.py (recorded launches) failed (exit {rc}, {seconds:.0f} s); "
        f"{rerun}\n{_tail(out, 80)}"
    )
    assert "kernels compiled to PTX" in out and "kernels compiled to PTX" in ew_out, _tail(out)


def test_type_strings_of_recorded_launches_parse_back():
    sys.path.insert(0, str(ROOT / "tests" / "cuda"))
    try:
        import ptx_check
    finally:
        sys.path.pop(0)
    for text in (
        "array(float32, 1d, C)",
        "array(float64, 3d, A)",
        "readonly array(int64, 2d, F)",
        "unaligned readonly array(uint8, 1d, C)",
        "array(bool, 2d, C)",
        "float64",
        "int64",
        "bool",
        "UniTuple(int64 x 3)",
        "Tuple(int64, float32)",
        "Tuple(array(float32, 1d, C), UniTuple(int64 x 2))",
    ):
        assert str(ptx_check.parse_type(text)) == text
    with pytest.raises(ValueError, match="unknown numba type"):
        ptx_check.parse_type("array(float99, 1d, C)")


def test_without_cuda_libraries_the_package_imports_and_runs_on_the_cpu():
    """``numba.cuda`` missing (numba without numba-cuda, no CUDA libraries): ``import numgrad``
    works, the CUDA device is simply not available, and CPU training works."""
    code = """
import sys
sys.modules["numba.cuda"] = None  # any 'import numba.cuda' now raises ImportError
import numpy as np
import numgrad
assert numgrad.cuda.is_available() is False
assert numgrad.cuda.device_count() == 0
x = numgrad.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
lin = numgrad.nn.Linear(3, 2)
loss = numgrad.nn.functional.cross_entropy(lin(x).tanh(), numgrad.tensor([0, 1]))
loss.backward()
assert x.grad.shape == (2, 3) and lin.weight.grad is not None
try:
    numgrad.zeros(2, device="cuda")
except RuntimeError as e:
    assert "not available" in str(e), e
else:
    raise AssertionError("a cuda tensor without CUDA")
print("ok")
"""
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True
    )
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr


# ---- numgrad bench --device cuda: too slow for the simulator, so only its edges -------------


def _bench(argv, **env):
    cmd = [sys.executable, "-m", "numgrad", "bench", *argv]
    r = subprocess.run(cmd, cwd=ROOT, env=_env(**env), capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def test_bench_on_cuda_without_a_gpu_fails_cleanly():
    rc, out, err = _bench(["--device", "cuda", "--suite", "quick"])
    assert rc == 2, out + err
    assert "numgrad.cuda.is_available() is False" in err
    assert "Traceback" not in err


def test_bench_on_cuda_refuses_the_simulator():
    rc, out, err = _bench(["--device", "cuda", "--suite", "quick"], NUMBA_ENABLE_CUDASIM="1")
    assert rc == 2, out + err
    assert "simulator" in err and "Traceback" not in err


def test_bench_lists_the_cuda_cases_without_a_gpu():
    from numgrad.bench import cli, workloads

    cases = cli.select(workloads.all_cases("cuda"), "default", None)
    names = [c.name for c in cases]
    assert "tanh n=10^8" in names and "softmax+CE 100000x1000" in names
    assert any(n.startswith("mlp-large") for n in names)
    rc, out, err = _bench(["--device", "cuda", "--list", "--filter", "tanh"])
    assert rc == 0, out + err
    assert "n=10^6" in out and "n=10^8" in out


def test_bench_gpu_peaks_and_throughput():
    from numgrad.bench import gpu

    peak = gpu.peak_for("NVIDIA H200")
    assert peak["bandwidth_GBps"] == pytest.approx(4800)
    assert gpu.peak_for("NVIDIA H100 80GB HBM3")["name"].startswith("H100")
    assert gpu.peak_for("Tesla T4") is None
    # 10^6 float32 elements read once and written once in 1 ms: 8 MB / 1e-3 s = 8 GB/s
    assert gpu.throughput(8e6, 0, 1e-3) == ("GB/s", pytest.approx(8.0))
