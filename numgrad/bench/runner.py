"""Runs the cases: build both sides from the same data, check they agree, then time them
interleaved.  Also collects the facts about the machine a result needs to be read later."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import statistics
import subprocess
import traceback
from dataclasses import dataclass, field

import numpy as np

from . import gpu, timing
from .workloads import Lib

# A row whose torch/numgrad ratio moves by more than this between repeats is marked unstable
# and left out of the summary line: on a shared machine such a ratio is noise, not a result.
UNSTABLE = 0.10

# Largest relative difference (max |a - b| / max |b| per array) still counted as agreement.
# float32: a 512-long dot product or one optimizer step of a 1024-wide MLP rounds differently in
# the last bits on each side; 1e-4 is far above that and far below a wrong gradient.
TOLERANCE = {"float32": 1e-4, "float64": 1e-10}


@dataclass
class Row:
    case: object
    timings: dict = field(default_factory=dict)  # lib name -> timing.Timing
    agree: bool | None = None  # None: nothing to compare against (torch missing)
    max_err: float | None = None
    error: str | None = None  # an exception raised by one side, or what disagreed
    ratios: list = field(default_factory=list)  # torch/numgrad of each repeat
    ratios_compiled: list = field(default_factory=list)  # torch/(numgrad.compile) of each
    host: dict = field(default_factory=dict)  # GPU: lib name -> host seconds to enqueue a step

    @property
    def ok(self):
        return self.error is None and self.agree is not False

    def ratio(self):
        """torch/numgrad: the median over repeats (each repeat: median time over median time)."""
        if not self.ok:
            return None
        if self.ratios:
            return statistics.median(self.ratios)
        t, n = self.timings.get("torch"), self.timings.get("numgrad")
        if t is None or n is None or not t.per_call or not n.per_call:
            return None
        return t.median / n.median

    def ratio_compiled(self):
        """torch / numgrad.compile'd step (train-step rows), the median over repeats."""
        if not self.ok or not self.ratios_compiled:
            return None
        return statistics.median(self.ratios_compiled)

    @property
    def ratio_spread(self):
        """(largest - smallest) / median of the repeats' ratios; None with under two repeats."""
        if not self.ok or len(self.ratios) < 2:
            return None
        return (max(self.ratios) - min(self.ratios)) / statistics.median(self.ratios)

    @property
    def unstable(self):
        """The ratio moved more than ``UNSTABLE`` between repeats."""
        s = self.ratio_spread
        return s is not None and s > UNSTABLE


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def compare(got, ref, dtype):
    """(agree, max relative error, message) for two lists of ``(label, array[, grad label])``.

    The error of an array is max |a - b| / max |b|.  A parameter after an optimizer step names
    its gradient: in float32 it is compared only where that gradient is above 1e-3 of its
    largest value, because Adam's first step, g / (sqrt(g*g) + eps), turns float32 rounding of
    a gradient near eps = 1e-8 into any update between -lr and lr (the gradients themselves are
    compared in full).
    """
    tol = TOLERANCE[dtype]
    if [e[0] for e in got] != [e[0] for e in ref]:
        return False, float("inf"), "the two sides returned different results"
    ref_by_label = {e[0]: np.asarray(e[1], dtype=np.float64) for e in ref}
    worst = 0.0
    for g_entry, r_entry in zip(got, ref):
        label = r_entry[0]
        a = np.asarray(g_entry[1], dtype=np.float64)
        b = ref_by_label[label]
        if a.shape != b.shape:
            return False, float("inf"), f"{label}: shape {a.shape}, torch's {b.shape}"
        if not np.array_equal(np.isfinite(a), np.isfinite(b)):
            return False, float("inf"), f"{label}: inf/nan in different places"
        keep = np.isfinite(b)
        if len(r_entry) > 2 and dtype == "float32":
            grad = np.abs(ref_by_label[r_entry[2]])
            keep &= grad >= 1e-3 * grad.max()
        if not keep.any():
            continue
        scale = float(np.max(np.abs(b[np.isfinite(b)])))
        err = float(np.max(np.abs(a[keep] - b[keep]))) / (scale if scale > 0 else 1.0)
        worst = max(worst, err)
        if not err <= tol:
            return False, err, f"{label}: max relative difference {err:.1e} > {tol:.0e}"
    return True, worst, ""


def set_threads(n, libs):
    """Give numgrad and torch the same number of threads; returns what each side got."""
    from threadpoolctl import threadpool_info

    import numgrad

    numgrad.set_num_threads(n)
    info = {
        "requested": n,
        "numgrad_numba": numgrad.get_num_threads(),
        "numgrad_blas": sorted(
            {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
        ),
    }
    if "torch" in libs:
        import torch

        torch.set_num_threads(n)
        info["torch"] = torch.get_num_threads()
    return info


def run_case(case, libs, dtype, budget_s, min_rounds, progress=None, repeats=3, settle_s=0.0):
    """Build both sides, check they agree, then time them interleaved ``repeats`` times.

    Each repeat gets ``budget_s / repeats`` seconds and gives one torch/numgrad ratio; the row's
    ratio is their median, and their spread marks rows too noisy to count (``Row.unstable``).
    """
    row = Row(case)
    prepared, results = {}, {}
    libs = {k: lib for k, lib in libs.items() if case.compilable or not lib.compiled}
    # build and first call: numgrad first, so its kernel loads are not hidden behind torch's
    for name, lib in libs.items():
        try:
            p = case.build(lib, dtype)
            t = timing.first_call(p.step, lib.sync)
            results[name] = p.result()
        except Exception as e:  # a crash is a result to show, not a reason to stop the suite
            row.error = f"{name} raised {type(e).__name__}: {e}"
            if os.environ.get("NUMGRAD_BENCH_DEBUG"):
                traceback.print_exc()
            return row
        prepared[name] = p
        row.timings[name] = timing.Timing(first_call=t)
    if "torch" in results:
        for side in ("numgrad", "compiled"):
            if side not in results:
                continue
            agree, err, msg = compare(results[side], results["torch"], dtype)
            row.agree = agree if row.agree is None else row.agree and agree
            row.max_err = err if row.max_err is None else max(row.max_err, err)
            if not agree:
                who = "numgrad.compile" if side == "compiled" else "numgrad"
                row.error = f"{who} and torch disagree: " + msg
                return row  # a fast wrong answer is not timed
    sides = {name: (prepared[name].step, libs[name].sync) for name in libs}
    repeats = max(1, repeats)
    rounds = max(3, -(-min_rounds // repeats))
    try:
        for _ in range(repeats):
            times = timing.interleaved(
                sides, budget_s=budget_s / repeats, min_rounds=rounds, settle_s=settle_s
            )
            for name, (per_call, number) in times.items():
                row.timings[name].per_call += per_call
                row.timings[name].number = number
            if "torch" in times:
                t = statistics.median(times["torch"][0])
                row.ratios.append(t / statistics.median(times["numgrad"][0]))
                if "compiled" in times:
                    row.ratios_compiled.append(t / statistics.median(times["compiled"][0]))
        # on a GPU: the Python side of a step alone (work queued, not waited for)
        for name, lib in libs.items():
            if lib.device != "cpu":
                row.host[name] = gpu.enqueue_time(prepared[name].step, lib.sync)
    except Exception as e:
        row.error = f"raised {type(e).__name__} while timing: {e}"
        return row
    return row


def load_average():
    """The 1-minute load average, or None where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_model():
    """The first NVIDIA GPU's name, or None (asks nvidia-smi; never initialises CUDA)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = [s.strip() for s in out.stdout.splitlines() if s.strip()]
    return names[0] if out.returncode == 0 and names else None


def environment(libs, threads, device, dtype, suite):
    import numba
    import scipy

    import numgrad

    env = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "suite": suite,
        "device": device,
        "dtype": dtype,
        "numgrad": numgrad.__version__,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": libs["torch"].version if "torch" in libs else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu_model(),
        "threads": threads,
        "load_average": load_average(),
        "tolerance": TOLERANCE[dtype],
        "unstable_above": UNSTABLE,
    }
    if device == "cuda":
        env.update(cuda_environment(libs, env["gpu"]))
    return env


def cuda_environment(libs, gpu_name):
    """What a GPU result needs beside the CPU's facts: the versions of the CUDA stack on both
    sides and the GPU's peak rates (``gpu.PEAKS``)."""
    out = {"gpu_peak": gpu.peak_for(gpu_name)}
    try:
        from importlib.metadata import version

        out["numba_cuda"] = version("numba-cuda")
    except Exception:
        out["numba_cuda"] = None
    if "torch" in libs:
        import torch

        out["torch_cuda"] = torch.version.cuda
        out["torch_gpu"] = torch.cuda.get_device_name()
    return out


def cuda_problem(with_torch):
    """None when ``--device cuda`` can run here, else why not (for the user to read)."""
    import numgrad

    if not numgrad.cuda.is_available():
        found = gpu_model()
        seen = f"a GPU is present ({found}), but " if found else "no NVIDIA GPU was found, so "
        return (
            f"numgrad bench --device cuda: {seen}numgrad has no CUDA backend to run "
            "(numgrad.cuda.is_available() is False: no GPU or driver, or numba-cuda is not "
            "installed: pip install -e '.[cuda]'; see docs/devices.md). "
            "Run on the CPU with --device cpu."
        )
    from numba import config

    if config.ENABLE_CUDASIM:
        return (
            "numgrad bench --device cuda: numgrad's CUDA device is Numba's simulator here "
            "(NUMBA_ENABLE_CUDASIM is set), which runs kernels as Python: far too slow to time. "
            "Unset NUMBA_ENABLE_CUDASIM on a machine with an NVIDIA GPU."
        )
    if with_torch:
        import torch

        if not torch.cuda.is_available():
            build = (
                f"was built without CUDA ({torch.__version__})"
                if torch.version.cuda is None
                else f"{torch.__version__} sees no GPU"
            )
            return (
                f"numgrad bench --device cuda: torch {build}, so there is nothing to compare "
                "against. Install a CUDA build of torch, or pass --no-torch for numgrad's own "
                "numbers."
            )
    return None


def make_libs(device, with_torch, compiled=True):
    libs = {"numgrad": Lib("numgrad", device)}
    # numgrad.compile generates CPU loops: a GPU step is timed eager only
    if compiled and device == "cpu":
        libs["compiled"] = Lib("numgrad", device, compiled=True)
    if with_torch:
        libs["torch"] = Lib("torch", device)
    return libs
