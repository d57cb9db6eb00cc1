#!/usr/bin/env bash
# Run the whole asv suite once in quick mode (one call per benchmark and parameter combination)
# against the numgrad importable from the active Python; exit non-zero if any benchmark fails.
#
# Usage, from anywhere, with a virtualenv holding numgrad, torch and asv activated:
#     bash .ci/asv_quick.sh [extra `asv run` arguments, e.g. --bench bench_ops]
#
# Quick numbers are single, unwarmed samples: useful to catch a broken benchmark, useless as
# timings. They are not saved (no --set-commit-hash), so they never reach .asv/results or the
# dashboard. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v asv >/dev/null || { echo "asv_quick: asv is not installed (pip install asv)" >&2; exit 1; }

# asv benchmarks whatever `import numgrad` finds in this interpreter; say which one that is.
# (To benchmark this checkout with another checkout's editable install active, run with
# ASV_PYTHONPATH="$PWD": asv strips PYTHONPATH from its benchmark processes.)
python -c 'import numgrad; print("asv_quick: numgrad", numgrad.__version__, "from", numgrad.__file__)'

# Records this machine's description in ~/.asv-machine.json without prompting.
asv machine --yes >/dev/null

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$SECONDS

# --python=same: the "existing" environment, this interpreter; nothing is built or installed.
# asv itself exits 2 when a benchmark failed, and 1 when the suite could not be discovered.
set +e
asv run --quick --python=same --show-stderr "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# Belt and braces, should asv's exit status change: asv ends a benchmark's result line with
# "failed" when every parameter combination failed, and with "N/M failed" when some did.
failed=$(grep -E '^\[ *[0-9.]+%\] .* ([0-9]+/[0-9]+ )?failed$' "$log" || true)
echo "asv_quick: asv run exited $rc after $((SECONDS - start)) s"
if [[ $rc -ne 0 || -n $failed ]]; then
    echo "asv_quick: FAILED" >&2
    [[ -n $failed ]] && printf '%s\n' "$failed" >&2
    exit $((rc ? rc : 1))
fi
echo "asv_quick: all benchmarks ran"
