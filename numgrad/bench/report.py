"""What ``numgrad bench`` shows: the progress line, the table, the JSON file and the plot."""

from __future__ import annotations

import json
import math
import statistics
import sys
import time

from . import gpu
from .runner import UNSTABLE

TORCH_HINT = (
    "torch is not installed: these are numgrad's own numbers. To compare against torch: "
    "pip install torch==2.13.0   (or pip install -e '.[bench]')"
)


def fmt_time(s):
    if s is None or not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            v = s / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return "-"


class Progress:
    """A bar redrawn in place on a terminal; one plain line per finished case in a log."""

    def __init__(self, total, stream=None, tty=None):
        self.total, self.done = total, 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.t0 = time.perf_counter()

    def _elapsed(self):
        return f"{time.perf_counter() - self.t0:5.0f}s"

    def start(self, case):
        if self.tty:
            width = 24
            filled = width * self.done // max(self.total, 1)
            bar = "#" * filled + "-" * (width - filled)
            line = f"\r[{bar}] {self.done}/{self.total} {self._elapsed()}  {case.name}"
            self.stream.write(f"{line:<80.80}")
            self.stream.flush()

    def finish(self, row):
        self.done += 1
        if not self.tty:
            self.stream.write(f"[{self.done}/{self.total}] {self._elapsed()} {row_summary(row)}\n")
            self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def row_summary(row):
    c = row.case
    if row.error:
        return f"{c.name}: FAILED - {row.error}"
    parts = [f"{lib} {fmt_time(t.median)}" for lib, t in row.timings.items()]
    r = row.ratio()
    return f"{c.name}: " + ", ".join(parts) + (f", torch/numgrad {r:.2f}x" if r else "")


def _agree_cell(row):
    if row.error:
        return "WRONG" if row.agree is False else "ERROR"
    if row.agree is None:
        return "n/a"
    return f"yes ({row.max_err:.0e})"


# a row's throughput is shown from this much work up: below it launch latency, not the GPU's
# bandwidth or arithmetic, sets the time
RATE_MIN_ELEMENTS = 10**6
RATE_MIN_FLOPS = 1e9


def rates(row, dtype, peak=None):
    """``{lib: (unit, value)}`` for a large row (GB/s or TFLOP/s from its median time), plus
    ``"peak"``: the GPU's peak in the same unit (None if the GPU is not in ``gpu.PEAKS``)."""
    c = row.case
    if not row.ok or (c.moved < RATE_MIN_ELEMENTS and c.flops < RATE_MIN_FLOPS):
        return {}
    itemsize = 4 if dtype == "float32" else 8
    out = {}
    for lib, t in row.timings.items():
        if t.per_call:
            r = gpu.throughput(c.moved * itemsize, c.flops, t.median)
            if r is not None:
                out[lib] = r
    if out:
        unit = next(iter(out.values()))[0]
        out["peak"] = (unit, gpu.peak_value(peak, unit, dtype))
    return out


def _rate_text(unit, value):
    if value is None:
        return "?"
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def table(rows, with_torch, env=None):
    """The result table as a list of lines.  Train-step rows also timed under
    ``numgrad.compile`` fill two more columns: its time and torch / its time.  GPU rows add
    the host time to enqueue a step (torch / numgrad) and, for large rows, the throughput of
    each side beside the GPU's peak."""
    compiled = any("compiled" in r.timings for r in rows)
    on_gpu = any(r.host for r in rows)
    env = env or {}
    head = ["workload", "size", "torch", "numgrad", "torch/numgrad"]
    if compiled:
        head += ["compiled", "torch/compiled"]
    if on_gpu:
        head += ["host/step torch / numgrad", "rate torch / numgrad (peak)"]
    head += ["agree", "first call"]
    if not with_torch:
        head = ["workload", "size", "numgrad"] + (["compiled"] if compiled else []) + ["first call"]
    body = []
    for row in rows:
        c, tm = row.case, row.timings

        def cell(lib):
            t = tm.get(lib)
            if t is None or not t.per_call:
                return "-"
            return f"{fmt_time(t.median)} ({100 * t.spread:.0f}%)"

        def first(lib):
            t = tm.get(lib)
            return fmt_time(t.first_call) if t is not None else "-"

        def ratio_cell(r, reps):
            if not r:
                return "FAILED" if row.error else "-"
            text = f"{r:.2f}x"
            if len(reps) >= 2:
                # the ratio's range over the repeats; "~" marks a row left out of the summary
                spread = (max(reps) - min(reps)) / statistics.median(reps)
                text = f"{'~' if spread > UNSTABLE else ''}{text} ±{50 * spread:.0f}%"
            return text

        if with_torch:
            cells = [c.workload, c.size, cell("torch"), cell("numgrad")]
            cells.append(ratio_cell(row.ratio(), row.ratios))
            if compiled:
                cells.append(cell("compiled"))
                cells.append(ratio_cell(row.ratio_compiled(), row.ratios_compiled))
            if on_gpu:
                h = row.host
                cells.append(f"{fmt_time(h.get('torch'))} / {fmt_time(h.get('numgrad'))}")
                cells.append(_rates_cell(row, env))
            cells += [_agree_cell(row), f"{first('torch')} / {first('numgrad')}"]
            body.append(cells)
        else:
            cells = [c.workload, c.size, cell("numgrad")]
            if compiled:
                cells.append(cell("compiled"))
            body.append(cells + [first("numgrad")])
    widths = [max(len(str(r[i])) for r in [head] + body) for i in range(len(head))]
    left = ("workload", "size", "agree", "first call")
    right = {i for i, h in enumerate(head) if h not in left}

    def line(cells):
        out = []
        for i, (v, w) in enumerate(zip(cells, widths)):
            out.append(f"{v:>{w}}" if i in right else f"{v:<{w}}")
        return "  ".join(out).rstrip()

    lines = [line(head), line(["-" * w for w in widths])]
    lines += [line(r) for r in body]
    return lines


def _rates_cell(row, env):
    r = rates(row, env.get("dtype", "float32"), env.get("gpu_peak"))
    if not r:
        return "-"
    unit = r["peak"][0]
    t = _rate_text(unit, r["torch"][1]) if "torch" in r else "-"
    n = _rate_text(unit, r["numgrad"][1]) if "numgrad" in r else "-"
    return f"{t} / {n} {unit} ({_rate_text(unit, r['peak'][1])})"


def header(env, n_cases):
    th = env["threads"]
    torch_threads = (
        f"torch.set_num_threads({th['torch']})" if "torch" in th else "torch not installed"
    )
    blas = "/".join(map(str, th["numgrad_blas"])) or "?"
    versions = (
        f"numgrad {env['numgrad']} (numba {env['numba']}, numpy {env['numpy']}, "
        f"scipy {env['scipy']}), torch {env['torch'] or '-'}, Python {env['python']}"
    )
    load = env.get("load_average")
    load_text = f"; load average {load:.2f}" if load is not None else ""
    lines = [
        f"numgrad bench - suite {env['suite']} ({n_cases} cases), device {env['device']}, "
        f"dtype {env['dtype']}, {env['date']}",
        f"CPU: {env['cpu']} ({env['cpu_count']} cores)"
        + (f"; GPU: {env['gpu']}" if env["gpu"] else ""),
        versions,
        f"threads: {th['requested']} each - numgrad: numba {th['numgrad_numba']}, BLAS {blas} "
        f"(threadpoolctl); {torch_threads}{load_text}",
    ]
    if env["device"] == "cuda":
        peak = env.get("gpu_peak")
        peak_text = (
            f"peak ({peak['name']}, NVIDIA datasheet): {peak['bandwidth_GBps']} GB/s, "
            f"{peak['fp32_TFLOPs']} TFLOP/s fp32, {peak['fp64_tensor_TFLOPs']} fp64 tensor"
            if peak
            else "peak rates unknown for this GPU (numgrad/bench/gpu.py PEAKS)"
        )
        lines.append(
            f"CUDA: numba-cuda {env.get('numba_cuda') or '?'}, torch CUDA "
            f"{env.get('torch_cuda') or '-'} ({env.get('torch_gpu') or '-'}); {peak_text}"
        )
    cores = env.get("cpu_count") or 0
    if load is not None and cores and load + th["requested"] > cores:
        lines.append(
            f"warning: the load average ({load:.2f}) plus {th['requested']} benchmark thread(s) "
            f"exceeds the {cores} cores: other work competes for them and ratios are noisy"
            + (
                "; try --threads 1"
                if th["requested"] > 1
                else "; rows marked ~ moved too much to count"
            )
        )
    return lines


def footer(rows, with_torch, env):
    lines = [
        "times: median per call after warm-up, torch and numgrad interleaved in one process;",
        "(x%) = interquartile range / median over the timed rounds; first call = the first call",
        "in this process (numgrad: kernel loads from the Numba cache, or compiles; torch: its "
        "first-call setup).",
    ]
    if env.get("device") == "cuda":
        lines.append(
            f"host/step: Python time to enqueue one step, {gpu.ENQUEUE_STEPS} steps queued "
            "without waiting for the GPU (equal to the step's time where the step waits for "
            "the GPU); the 'launch' row's is the cost of one op."
        )
        lines.append(
            "rate: bytes an unfused step reads and writes (GB/s) or its flops (TFLOP/s) over "
            "the median time, beside the GPU's peak, for rows of at least "
            f"{RATE_MIN_ELEMENTS:.0e} elements or {RATE_MIN_FLOPS:.0e} flops."
        )
    if with_torch:
        lines.append(
            "torch/numgrad: the median of the repeats' ratios, ±half their range; ~ marks a row "
            f"whose ratio moved more than {100 * env.get('unstable_above', 0.1):.0f}% between "
            "repeats (left out of the summary)."
        )
        comp = [r for r in rows if r.ratio_compiled()]
        if comp:
            stable = [r.ratio_compiled() for r in comp if not _unstable(r.ratios_compiled)]
            gm = math.exp(sum(math.log(x) for x in stable) / len(stable)) if stable else None
            lines.append(
                "torch/compiled: the train step wrapped in numgrad.compile (same step, same "
                "check against torch)"
                + (f"; geometric mean over {len(stable)} stable rows {gm:.2f}x." if gm else ".")
            )
        ratios = [r.ratio() for r in rows if r.ratio() and not r.unstable]
        unstable = sum(1 for r in rows if r.ratio() and r.unstable)
        if ratios:
            gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
            faster = sum(x > 1 for x in ratios)
            lines.append(
                f"torch/numgrad > 1 means numgrad is faster: {faster} of {len(ratios)} stable "
                f"rows; geometric mean {gm:.2f}x"
                + (f" ({unstable} unstable rows left out)." if unstable else ".")
            )
        elif unstable:
            lines.append(f"every timed row ({unstable}) was unstable: no summary.")
        lines.append(
            f"agree: numgrad's results (outputs and gradients, or loss and parameters after one "
            f"step) match torch's within relative {env['tolerance']:.0e}."
        )
    else:
        lines.append(TORCH_HINT)
    failed = [r for r in rows if not r.ok]
    for r in failed:
        lines.append(f"FAILED {r.case.name}: {r.error}")
    return lines


def _unstable(reps):
    return len(reps) >= 2 and (max(reps) - min(reps)) / statistics.median(reps) > UNSTABLE


def to_json(rows, env):
    return {
        "environment": env,
        "rows": [
            {
                "workload": r.case.workload,
                "group": r.case.group,
                "size": r.case.size,
                "x": r.case.x,
                "x_label": r.case.x_label,
                "what": r.case.what,
                "ok": r.ok,
                "agree": r.agree,
                "max_rel_err": r.max_err,
                "error": r.error,
                "ratio_torch_over_numgrad": r.ratio(),
                "ratios_per_repeat": r.ratios,
                "ratio_torch_over_compiled": r.ratio_compiled(),
                "ratios_compiled_per_repeat": r.ratios_compiled,
                "ratio_spread": r.ratio_spread,
                "unstable": r.unstable,
                "timings": {lib: t.as_dict() for lib, t in r.timings.items()},
                "host_enqueue_s": r.host or None,
                "rates": {
                    lib: {"unit": u, "value": v}
                    for lib, (u, v) in rates(r, env.get("dtype"), env.get("gpu_peak")).items()
                }
                or None,
            }
            for r in rows
        ],
    }


def write_json(path, rows, env):
    with open(path, "w") as f:
        json.dump(to_json(rows, env), f, indent=2, allow_nan=False, default=_json_default)
        f.write("\n")


def _json_default(o):
    return str(o)


def write_plot(path, rows, env):
    """A PNG: torch/numgrad per row (left), time against size per workload group (right)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    groups = []
    for r in rows:
        if r.case.group not in groups:
            groups.append(r.case.group)
    n_right = max(len(groups), 1)
    fig = plt.figure(figsize=(14, max(6.0, 0.28 * len(rows) + 2.0)), constrained_layout=True)
    grid = fig.add_gridspec(n_right, 2, width_ratios=(1.0, 1.15))
    ax = fig.add_subplot(grid[:, 0])
    labels = [r.case.name for r in rows][::-1]
    ratios = [r.ratio() for r in rows][::-1]
    ypos = range(len(rows))
    if env["torch"]:
        # bars grow from 1 on a log axis: 2x faster and 2x slower look the same size
        widths = [x - 1.0 if x else 0.0 for x in ratios]
        colors = ["#2a9d4b" if x and x >= 1 else "#d1495b" for x in ratios]
        ax.barh(list(ypos), widths, left=1.0, color=colors)
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", lw=1)
        known = [x for x in ratios if x]
        lo = min(known + [1.0]) / 1.6
        hi = max(known + [1.0]) * 1.6
        ax.set_xlim(lo, hi)
        for y, x, r in zip(ypos, ratios, rows[::-1]):
            text = f"{x:.2f}x" if x else ("FAILED" if r.error else "-")
            ax.text(
                x if x else 1.0,
                y,
                f" {text} ",
                va="center",
                fontsize=8,
                ha="left" if not x or x >= 1 else "right",
            )
        ax.set_xlabel("torch time / numgrad time, log scale  (> 1: numgrad faster)")
        ax.set_xticks([t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32) if lo <= t <= hi])
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    else:
        ax.text(
            0.5, 0.5, "torch not installed:\nno ratio to show", ha="center", transform=ax.transAxes
        )
    ax.set_yticks(list(ypos))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_title(
        f"torch / numgrad ({env['device']}, {env['dtype']}, threads {env['threads']['requested']})"
    )
    for gi, g in enumerate(groups):
        axg = fig.add_subplot(grid[gi, 1])
        sub = [r for r in rows if r.case.group == g]
        workloads = []
        for r in sub:
            if r.case.workload not in workloads:
                workloads.append(r.case.workload)
        for wi, w in enumerate(workloads):
            color = f"C{wi}"
            pts = [r for r in sub if r.case.workload == w]
            for lib, style in (("numgrad", "-o"), ("torch", "--s")):
                xy = [
                    (r.case.x, r.timings[lib].median)
                    for r in pts
                    if lib in r.timings and r.timings[lib].per_call
                ]
                if xy:
                    xs, ys = zip(*xy)
                    axg.plot(
                        xs,
                        ys,
                        style,
                        color=color,
                        ms=4,
                        label=f"{w} {lib}",
                        mfc="none" if lib == "torch" else color,
                    )
        axg.set_xscale("log")
        axg.set_yscale("log")
        ticks = {}
        for r in sub:
            ticks.setdefault(r.case.x, r.case.tick or r.case.size)
        axg.set_xticks(sorted(ticks), [ticks[k] for k in sorted(ticks)])
        axg.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axg.set_title(f"{g}: time per call (solid numgrad, dashed torch)", fontsize=9)
        axg.set_xlabel(sub[0].case.x_label if sub else "", fontsize=8)
        axg.set_ylabel("seconds", fontsize=8)
        axg.tick_params(labelsize=7)
        axg.grid(True, which="major", alpha=0.3)
        if axg.lines:
            axg.legend(fontsize=6, ncol=2)
    fig.suptitle(
        f"numgrad bench - {_machine(env)} - {env['date'][:10]} - numgrad {env['numgrad']}, "
        f"torch {env['torch'] or 'not installed'}",
        fontsize=10,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _machine(env):
    # a GPU run is a result about the GPU; a CPU run about the CPU
    return (env.get("gpu") or env["cpu"]) if env.get("device") == "cuda" else env["cpu"]
