"""``numgrad bench``: numgrad against torch, side by side, on this machine."""

from __future__ import annotations

import argparse
import re
import sys

EPILOG = """\
examples:
  numgrad bench                         the default suite (about a minute on 2 cores)
  numgrad bench --suite quick           a few seconds: the smallest size of each workload
  numgrad bench --filter mlp --threads 1 --json out.json --plot out.png
  numgrad bench --list                  the cases a suite would run
  numgrad bench --device cuda --json gpu.json   a GPU against torch's CUDA build

Exit status: 0 all rows agreed, 1 a row failed (numgrad and torch disagreed, or one raised),
2 bad arguments or a device that is not there, 130 interrupted (Ctrl-C or SIGINT: the finished
rows are still printed and written).
"""


def parser():
    p = argparse.ArgumentParser(
        prog="numgrad bench",
        description="Time numgrad against torch on the same workloads, interleaved in one "
        "process, after checking both compute the same numbers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="cpu or cuda (default: cpu); cuda times a GPU suite of its own (10^6-10^8 "
        "elements) against torch's CUDA build, and adds host enqueue time and GB/s or TFLOP/s",
    )
    p.add_argument(
        "--suite",
        default="default",
        choices=("quick", "default", "full"),
        help="quick: seconds; default: about a minute on 2 cores; full: every size",
    )
    p.add_argument(
        "--filter",
        action="append",
        metavar="REGEX",
        help="run only cases whose 'workload size' or group matches (repeatable: any match)",
    )
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for both numgrad and torch (default: numgrad's, i.e. Numba's default)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--plot", metavar="PATH", help="also draw the results as a PNG (matplotlib)")
    p.add_argument(
        "--time",
        type=float,
        default=None,
        metavar="SECONDS",
        help="timing budget per case (default: 0.25 quick, 1.0 default and full)",
    )
    p.add_argument(
        "--min-rounds", type=int, default=7, help="at least this many timed rounds per case"
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="time each case this many times (the budget is shared); a row whose ratio moves "
        "more than 10%% between repeats is marked and left out of the summary (default 3)",
    )
    p.add_argument(
        "--no-compile",
        action="store_true",
        help="do not also time the train-step rows under numgrad.compile",
    )
    p.add_argument("--no-torch", action="store_true", help="numgrad only, even if torch is here")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    return p


def select(cases, suite, filters):
    out = [c for c in cases if suite in c.suites]
    if filters:
        pats = [re.compile(f, re.IGNORECASE) for f in filters]
        out = [c for c in out if any(p.search(c.name) or p.search(c.group) for p in pats)]
    return out


def check_device(device, with_torch=True):
    """None if ``device`` can run, else the message to print."""
    if device == "cpu":
        return None
    if device != "cuda":
        return f"numgrad bench: unknown device {device!r}; use --device cpu or --device cuda"
    from .runner import cuda_problem, torch_available

    return cuda_problem(with_torch and torch_available())


def main(argv=None):
    args = parser().parse_args(argv)
    from . import report, runner, workloads

    if args.device not in ("cpu", "cuda"):
        print(check_device(args.device), file=sys.stderr)
        return 2
    if args.repeats < 1:
        print(f"numgrad bench: --repeats must be >= 1, got {args.repeats}", file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print(f"numgrad bench: --threads must be >= 1, got {args.threads}", file=sys.stderr)
        return 2
    # the GPU has a suite of its own sizes
    all_cases = workloads.all_cases("cuda") if args.device == "cuda" else workloads.all_cases()
    cases = select(all_cases, args.suite, args.filter)
    if not cases:
        print(
            f"numgrad bench: no case in suite {args.suite!r} matches --filter {args.filter}",
            file=sys.stderr,
        )
        return 2
    if args.list:
        for c in cases:
            print(f"{c.name:<28} {c.group:<12} {c.what}")
        return 0
    # after --list: listing the GPU suite needs no GPU
    msg = check_device(args.device, with_torch=not args.no_torch)
    if msg:
        print(msg, file=sys.stderr)
        return 2
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(
                "numgrad bench --plot needs matplotlib: pip install matplotlib "
                "(or pip install -e '.[bench]')",
                file=sys.stderr,
            )
            return 2

    with_torch = not args.no_torch and runner.torch_available()
    libs = runner.make_libs(args.device, with_torch, compiled=not args.no_compile)
    import numgrad

    n_threads = args.threads if args.threads is not None else numgrad.get_num_threads()
    threads = runner.set_threads(n_threads, libs)
    env = runner.environment(libs, threads, args.device, args.dtype, args.suite)
    env["command"] = " ".join(
        ["numgrad", "bench"] + list(argv if argv is not None else sys.argv[2:])
    )
    budget = args.time if args.time is not None else (0.25 if args.suite == "quick" else 1.0)

    for line in report.header(env, len(cases)):
        print(line)
    if not with_torch:
        print(report.TORCH_HINT)
    sys.stdout.flush()

    progress = report.Progress(len(cases))
    rows = []
    interrupted = False
    try:
        for case in cases:
            progress.start(case)
            row = runner.run_case(
                case,
                libs,
                args.dtype,
                budget,
                args.min_rounds,
                repeats=args.repeats,
                # with several threads, let the other library's spinning pool settle first
                settle_s=0.1 if n_threads > 1 else 0.0,
            )
            rows.append(row)
            progress.finish(row)
    except KeyboardInterrupt:
        # Ctrl-C (or `timeout -s INT`): report the rows that finished rather than nothing
        interrupted = True
    progress.close()
    if interrupted:
        print(f"\ninterrupted: {len(rows)} of {len(cases)} cases finished", file=sys.stderr)

    print()
    for line in report.table(rows, with_torch, env):
        print(line)
    print()
    for line in report.footer(rows, with_torch, env):
        print(line)
    if args.json:
        report.write_json(args.json, rows, env)
        print(f"wrote {args.json}")
    if args.plot:
        report.write_plot(args.plot, rows, env)
        print(f"wrote {args.plot}")
    if interrupted:
        return 130
    return 0 if all(r.ok for r in rows) else 1
