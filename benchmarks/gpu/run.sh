#!/usr/bin/env bash
# numgrad on a real GPU, in under 8 minutes: the CUDA suite without the simulator, then
# `numgrad bench --device cuda` against torch's CUDA build (JSON + PNG), then the launch-path
# probe.  Written for an H200 machine whose image has a CUDA torch, numba-cuda and cuda-core and
# may have no network: installing is tried, and a failed install falls back to running numgrad
# from this checkout (PYTHONPATH).  Every step has a timeout; a step that fails or runs out of
# time is reported and the next one still runs.  Outputs (logs, JSON, PNG) go to $OUT.
#
#   bash benchmarks/gpu/run.sh            # OUT=./gpu-out
#   OUT=/tmp/out TEST_S=120 BENCH_S=200 bash benchmarks/gpu/run.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
PY=${PYTHON:-python}
# seconds per step: at most 7.5 minutes in all (install 45 + nvmath 30 + versions 60 + 150 +
# 170 + 90), about 6.5 typically
INSTALL_S=${INSTALL_S:-45}
TEST_S=${TEST_S:-150}
BENCH_S=${BENCH_S:-170}
PROBE_S=${PROBE_S:-90}
T0=$(date +%s)
STATUS=0

step() {  # step NAME SECONDS COMMAND...: run with a timeout, log to $OUT/NAME.log
    local name=$1 secs=$2
    shift 2
    echo "=== $name (timeout ${secs}s, at $(($(date +%s) - T0))s)"
    timeout -s INT -k 10 "$secs" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ]; then
        echo "=== $name: stopped after ${secs}s (what it finished is above / in $OUT)"
    elif [ "$rc" -ne 0 ]; then
        echo "=== $name: exit status $rc"
    fi
    [ "$rc" -eq 0 ] || STATUS=1
    return 0
}

# ---- install what is missing (the image has no network: fall back to this checkout) --------
echo "=== install (at $(($(date +%s) - T0))s)"
if ! timeout "$INSTALL_S" $PY -m pip install --quiet --retries 0 --timeout 5 -e ".[cuda]" >"$OUT/install.log" 2>&1; then
    echo "pip install -e '.[cuda]' failed or timed out (no network?): see $OUT/install.log;"
    echo "running numgrad from this checkout instead"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# nvmath-python: cuBLAS bindings for matmul, when the index has it
$PY -c "import nvmath" 2>/dev/null ||
    timeout 30 $PY -m pip install --quiet --retries 0 --timeout 5 nvmath-python >>"$OUT/install.log" 2>&1 ||
    echo "nvmath-python not installed (matmul uses numgrad's own GEMM kernel)"

# ---- versions --------------------------------------------------------------------------------
echo "=== versions"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 |
    tee "$OUT/nvidia-smi.txt"
timeout 60 $PY - <<'PY' 2>&1 | tee "$OUT/versions.txt"
import importlib, platform
print("python", platform.python_version())
for mod in ("numpy", "scipy", "numba", "numba_cuda", "cuda.core", "cuda.bindings", "nvmath",
            "cupy", "torch"):
    try:
        m = importlib.import_module(mod)
        print(f"{mod:14} {getattr(m, '__version__', '?')}")
    except Exception as e:
        print(f"{mod:14} missing ({type(e).__name__}: {e})")
try:
    import torch
    print("torch.version.cuda", torch.version.cuda, "| cuda available", torch.cuda.is_available(),
          "|", torch.cuda.get_device_name() if torch.cuda.is_available() else "-")
except Exception as e:
    print("torch:", e)
try:
    from numba import cuda
    d = cuda.get_current_device()
    print("numba.cuda device", d.name, "cc", d.compute_capability)
    import numgrad
    print("numgrad", numgrad.__version__, "cuda available", numgrad.cuda.is_available())
except Exception as e:
    print("numba.cuda / numgrad:", type(e).__name__, e)
PY

# ---- the CUDA suite on the GPU (no simulator) -----------------------------------------------
unset NUMBA_ENABLE_CUDASIM NUMGRAD_CUDA_COMPILE_ONLY
export NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0
step tests "$TEST_S" $PY -m pytest tests/cuda -q -x -p no:cacheprovider \
    --junitxml="$OUT/tests-junit.xml"

# ---- numgrad against torch on the GPU ---------------------------------------------------------
# SIGINT at the timeout: the bench then writes the rows it finished to the JSON and the PNG
step bench "$BENCH_S" $PY -m numgrad bench --device cuda --time 0.4 --repeats 2 \
    --json "$OUT/gpu-bench.json" --plot "$OUT/gpu-bench.png"

# ---- launch paths (numba dispatcher, cuda.core pointer ABI, graphs) and GEMMs ----------------
for probe in ../shared/gpu/launch_probe.py shared/gpu/launch_probe.py; do
    if [ -f "$probe" ]; then
        PYTHONUNBUFFERED=1 step launch-probe "$PROBE_S" $PY "$probe"
        break
    fi
done

echo "=== done in $(($(date +%s) - T0))s; outputs in $OUT:"
ls -l "$OUT"
exit $STATUS
