"""``numgrad bench``: the command runs, its JSON and PNG open, wrong answers fail, bad arguments
get clear messages.  Timings are never asserted (speed lives in the benchmarks, not the tests)."""

import io
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from numgrad.bench import cli, report, runner, timing, workloads
from numgrad.bench.workloads import Case, Lib, Prepared

FAST = ["--time", "0.01", "--min-rounds", "2"]


def run_main(capsys, argv):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def quick_outputs(tmp_path_factory):
    """One quick-suite run writing both files, shared by the tests that read them."""
    d = tmp_path_factory.mktemp("bench")
    js, png = d / "bench.json", d / "bench.png"
    buf_out, buf_err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = buf_out, buf_err
    try:
        code = cli.main(["--suite", "quick", "--json", str(js), "--plot", str(png)] + FAST)
    finally:
        sys.stdout, sys.stderr = old
    return code, buf_out.getvalue(), buf_err.getvalue(), js, png


def test_quick_suite_prints_the_table(quick_outputs):
    code, out, err, _, _ = quick_outputs
    assert code == 0, out + err
    quick = [c for c in workloads.all_cases() if "quick" in c.suites]
    lines = out.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("workload"))
    for col in ("size", "torch", "numgrad", "torch/numgrad", "agree", "first call"):
        assert col in lines[head]
    body = lines[head + 2 : head + 2 + len(quick)]
    for case, line in zip(quick, body):
        assert line.startswith(case.workload) and case.size in line
        assert re.search(r"\d+\.\d\dx", line), line  # a ratio
        assert "yes (" in line, line  # agreed with torch
    assert "threads:" in out and "torch.set_num_threads" in out
    assert "CPU:" in out and "torch 2." in out
    # a log (not a terminal) gets one plain progress line per case
    assert len(re.findall(r"^\[\d+/\d+\]", err, re.M)) == len(quick)


def test_json_is_valid_and_complete(quick_outputs):
    code, _, _, js, _ = quick_outputs
    data = json.loads(js.read_text())
    env = data["environment"]
    for key in ("numgrad", "numba", "numpy", "scipy", "torch", "python", "cpu", "date"):
        assert env[key], key
    assert env["threads"]["requested"] >= 1
    assert env["threads"]["torch"] == env["threads"]["requested"]
    assert env["threads"]["numgrad_numba"] >= 1 and env["threads"]["numgrad_blas"]
    quick = [c for c in workloads.all_cases() if "quick" in c.suites]
    assert [r["workload"] for r in data["rows"]] == [c.workload for c in quick]
    for r in data["rows"]:
        assert r["ok"] and r["agree"] is True and r["error"] is None
        assert r["max_rel_err"] <= runner.TOLERANCE["float32"]
        for lib in ("numgrad", "torch"):
            t = r["timings"][lib]
            assert t["rounds"] >= 2 and t["calls_per_round"] >= 1
            assert 0 < t["min_s"] <= t["median_s"] <= t["max_s"]
            assert t["first_call_s"] > 0
        # the row's ratio is the median of its repeats' ratios (3 by default)
        reps = r["ratios_per_repeat"]
        assert len(reps) == 3 and all(x > 0 for x in reps)
        assert r["ratio_torch_over_numgrad"] == pytest.approx(sorted(reps)[1])
        assert r["ratio_spread"] == pytest.approx((max(reps) - min(reps)) / sorted(reps)[1])
        assert r["unstable"] == (r["ratio_spread"] > runner.UNSTABLE)
        # train-step rows are also timed with the step under numgrad.compile
        if r["group"] == "train step":
            assert r["timings"]["compiled"]["rounds"] >= 2
            assert len(r["ratios_compiled_per_repeat"]) == 3
            assert r["ratio_torch_over_compiled"] > 0
        else:
            assert "compiled" not in r["timings"] and r["ratio_torch_over_compiled"] is None


def test_plot_is_a_png(quick_outputs):
    _, _, _, _, png = quick_outputs
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    img = matplotlib.image.imread(str(png))
    assert img.ndim == 3 and img.shape[0] > 400 and img.shape[1] > 800
    assert img[..., :3].std() > 0.05  # something was drawn


def test_without_torch_numgrad_numbers_and_a_hint(tmp_path):
    # torch made unimportable in a fresh interpreter, as on a machine without it
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from numgrad.__main__ import main\n"
        f"sys.exit(main(['bench', '--suite', 'quick', '--filter', 'add', '--json', "
        f"{str(tmp_path / 'b.json')!r}] + {FAST!r}))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "pip install torch==2.13.0" in p.stdout
    head = next(ln for ln in p.stdout.splitlines() if ln.startswith("workload"))
    assert "torch" not in head and "numgrad" in head
    assert re.search(r"^add\s+n=10\^4\s+\d", p.stdout, re.M)
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["environment"]["torch"] is None
    assert data["rows"][0]["agree"] is None and "torch" not in data["rows"][0]["timings"]


def _bad_case(kind):
    def build(lib, dtype):
        x = np.arange(4.0, dtype=dtype)
        if lib.name == "numgrad":
            if kind == "raise":

                def step():
                    raise RuntimeError("kernel exploded")

                return Prepared(step, lambda: [])
            x = x + 1  # a fast wrong answer
        return Prepared(lambda: None, lambda: [("y", x)])

    return Case("bad", "elementwise", "test", "n=4", 4, "elements", ("quick",), build)


@pytest.mark.parametrize("kind,label", [("wrong", "WRONG"), ("raise", "ERROR")])
def test_failures_are_shown_and_fail_the_run(capsys, monkeypatch, tmp_path, kind, label):
    monkeypatch.setattr(workloads, "all_cases", lambda: [_bad_case(kind)])
    js = tmp_path / "bad.json"
    code, out, err = run_main(capsys, ["--suite", "quick", "--json", str(js)] + FAST)
    assert code == 1
    row = json.loads(js.read_text())["rows"][0]  # strict JSON: no NaN for untimed rows
    assert row["ok"] is False and row["ratio_torch_over_numgrad"] is None
    assert all(t["median_s"] is None for t in row["timings"].values())
    row = next(ln for ln in out.splitlines() if ln.startswith("bad"))
    assert "FAILED" in row and label in row
    assert "FAILED bad n=4:" in out
    assert ("disagree" if kind == "wrong" else "kernel exploded") in out


def test_compare_names_what_differs():
    ref = [("loss", np.array(1.0)), ("grad of w", np.array([1.0, -2.0, 3.0]))]
    ok, err, _ = runner.compare(ref, ref, "float64")
    assert ok and err == 0
    bad = [("loss", np.array(1.0)), ("grad of w", np.array([1.0, -2.0, 3.001]))]
    ok, err, msg = runner.compare(bad, ref, "float64")
    assert not ok and "grad of w" in msg and err == pytest.approx(0.001 / 3)
    ok, _, msg = runner.compare([("loss", np.array([1.0, 2.0]))], ref[:1], "float64")
    assert not ok and "shape" in msg
    ok, _, msg = runner.compare([("loss", np.array(np.nan))], ref[:1], "float64")
    assert not ok and "nan" in msg


def test_compare_masks_parameters_with_tiny_gradients_in_float32_only():
    grad = np.array([1.0, 1e-9])
    ref = [("grad of w", grad), ("w after the step", np.array([0.5, 0.5]), "grad of w")]
    got = [("grad of w", grad), ("w after the step", np.array([0.5, 0.4]), "grad of w")]
    assert runner.compare(got, ref, "float32")[0]
    assert not runner.compare(got, ref, "float64")[0]
    got[1] = ("w after the step", np.array([0.4, 0.5]), "grad of w")
    assert not runner.compare(got, ref, "float32")[0]


def test_timing_interleaves_and_alternates_who_goes_first():
    calls = []
    sides = {"a": (lambda: calls.append("a"), lambda: None)}
    sides["b"] = (lambda: calls.append("b"), lambda: None)
    res = timing.interleaved(sides, budget_s=0.0, min_rounds=4, block_s=0.0, warmup_s=0.0)
    # 3 warm-up calls each, then per block one untimed call (re-warm) and one timed call
    blocks = calls[6:]
    assert blocks == [x for x in ["a", "b", "b", "a", "a", "b", "b", "a"] for _ in range(2)]
    for per_call, number in res.values():
        assert len(per_call) == 4 and number == 1
    t = timing.Timing(first_call=1.0, per_call=[1.0, 2.0, 3.0, 4.0, 5.0])
    assert t.median == 3.0 and t.spread == pytest.approx(2.0 / 3.0)


def test_each_block_is_rewarmed_and_may_wait_for_pools_to_settle(monkeypatch):
    calls, sleeps = [], []
    monkeypatch.setattr(timing.time, "sleep", sleeps.append)
    sides = {"a": (lambda: calls.append("a"), lambda: None)}
    timing.interleaved(
        sides, budget_s=0.0, min_rounds=2, block_s=0.0, warmup_s=0.0, rewarm_s=1.0, settle_s=0.1
    )
    # rewarm is capped at the block's own length (one call here), settle sleeps before each block
    assert calls == ["a"] * (3 + 2 * 2) and sleeps == [0.1, 0.1]


def _row_with_ratios(ratios, name="add"):
    case = next(c for c in workloads.all_cases() if c.workload == name)
    row = runner.Row(case)
    row.timings = {
        "torch": timing.Timing(first_call=0.1, per_call=[2e-5] * 3),
        "numgrad": timing.Timing(first_call=0.1, per_call=[1e-5] * 3),
    }
    row.agree, row.max_err, row.ratios = True, 0.0, list(ratios)
    return row


def test_rows_whose_ratio_moves_are_marked_and_left_out_of_the_summary():
    steady = _row_with_ratios([2.0, 2.05, 1.98])
    noisy = _row_with_ratios([2.0, 1.5, 2.4], name="mul")
    assert not steady.unstable and noisy.unstable
    assert steady.ratio() == 2.0 and noisy.ratio() == 2.0
    assert noisy.ratio_spread == pytest.approx(0.45)
    env = {"tolerance": 1e-4, "unstable_above": runner.UNSTABLE}
    lines = report.table([steady, noisy], with_torch=True)
    assert "~2.00x ±22%" in lines[3] and "~" not in lines[2] and "2.00x ±2%" in lines[2]
    foot = "\n".join(report.footer([steady, noisy], True, env))
    assert "1 of 1 stable rows; geometric mean 2.00x (1 unstable rows left out)" in foot
    only_noisy = "\n".join(report.footer([noisy], True, env))
    assert "every timed row (1) was unstable" in only_noisy
    js = report.to_json([noisy], {"x": 1})["rows"][0]
    assert js["unstable"] is True and js["ratios_per_repeat"] == [2.0, 1.5, 2.4]


@pytest.mark.parametrize("load,threads,warned", [(0.2, 1, False), (1.5, 1, True), (0.5, 2, True)])
def test_header_prints_the_load_and_warns_when_it_exceeds_the_cores(load, threads, warned):
    env = {
        "suite": "quick",
        "device": "cpu",
        "dtype": "float32",
        "date": "today",
        "cpu": "some cpu",
        "cpu_count": 2,
        "gpu": None,
        "numgrad": "0",
        "numba": "0",
        "numpy": "0",
        "scipy": "0",
        "torch": "0",
        "python": "3",
        "load_average": load,
        "threads": {"requested": threads, "numgrad_numba": threads, "numgrad_blas": [threads]},
    }
    text = "\n".join(report.header(env, 3))
    assert f"load average {load:.2f}" in text
    assert ("warning: the load average" in text) == warned
    if warned and threads > 1:
        assert "try --threads 1" in text


def test_no_compile_flag(capsys):
    argv = ["--suite", "quick", "--filter", "mlp-tiny", "--no-compile"] + FAST
    code, out, err = run_main(capsys, argv)
    assert code == 0 and "torch/compiled" not in out and "torch/numgrad" in out
    code, out, err = run_main(capsys, argv[: -len(FAST) - 1] + FAST)
    assert code == 0 and "torch/compiled" in out


def test_repeats_flag(capsys):
    code, out, err = run_main(
        capsys, ["--suite", "quick", "--filter", "add", "--repeats", "2"] + FAST
    )
    assert code == 0 and re.search(r"\d\.\d\dx ±\d+%", out)
    code, out, err = run_main(capsys, ["--repeats", "0"])
    assert code == 2 and "--repeats must be >= 1" in err


def test_default_suite_covers_the_workloads():
    cases = workloads.all_cases()
    default = {c.workload for c in cases if "default" in c.suites}
    need = {"add", "mul", "tanh", "sigmoid", "exp", "matmul", "softmax+CE"}
    assert need | {"mlp-tiny", "mlp-medium", "mlp-large"} <= default
    for w in need | {"mlp-tiny", "mlp-medium"}:
        assert len({c.size for c in cases if c.workload == w and "default" in c.suites}) >= 2
    full = [c for c in cases if "full" in c.suites]
    assert len(full) > len([c for c in cases if "default" in c.suites])
    assert workloads.mlp_description("mlp-tiny", 100) == (
        "100x2 -> 32 -> 1, Sigmoid, BCEWithLogitsLoss, SGD(lr=0.1)"
    )
    assert workloads.mlp_description("mlp-medium", 64).startswith("64x784 -> 256 -> 10, ReLU")
    large = workloads.mlp_description("mlp-large", 256)
    assert large.startswith("256x1024 -> 1024 -> 1024 -> 10, ReLU, CrossEntropyLoss, SGD(")
    assert "momentum=0.9" in large


def test_the_same_workload_code_builds_the_same_model_on_both_sides():
    case = next(c for c in workloads.all_cases() if c.workload == "mlp-tiny")
    res = {}
    for name in ("numgrad", "torch"):
        p = case.build(Lib(name), "float64")
        p.step()
        res[name] = p.result()
    assert [e[0] for e in res["numgrad"]] == [e[0] for e in res["torch"]]
    assert res["numgrad"][0][0] == "loss" and len(res["numgrad"]) == 9  # loss, 4 grads, 4 params
    ok, err, msg = runner.compare(res["numgrad"], res["torch"], "float64")
    assert ok, msg


def test_progress_bar_on_a_terminal():
    buf = io.StringIO()
    case = workloads.all_cases()[0]
    prog = report.Progress(2, stream=buf, tty=True)
    prog.start(case)
    row = runner.Row(case)
    prog.finish(row)
    prog.start(case)
    prog.close()
    text = buf.getvalue()
    assert text.count("\r[") == 2 and "1/2" in text and "\n" not in text


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["--device", "cuda"], "no CUDA backend"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--filter", "no-such-workload"], "no case in suite"),
        (["--threads", "0"], "--threads must be >= 1"),
    ],
)
def test_bad_arguments_get_a_clear_message(capsys, argv, msg):
    code, out, err = run_main(capsys, argv)
    assert code == 2 and msg in err and out == ""


def test_dtype_flag_is_checked(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--dtype", "float16"])
    assert e.value.code == 2
    assert "float16" in capsys.readouterr().err


def test_list_and_filter(capsys):
    code, out, _ = run_main(capsys, ["--list", "--suite", "full", "--filter", "^mlp-large"])
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and all(ln.startswith("mlp-large") for ln in lines)


def test_float64_rows_agree_at_float64_tolerance(capsys):
    code, out, err = run_main(
        capsys,
        ["--suite", "quick", "--dtype", "float64", "--filter", "softmax", "--threads", "1"] + FAST,
    )
    assert code == 0, out + err
    assert "dtype float64" in out and "threads: 1 each" in out
    m = re.search(r"^softmax\+CE .* yes \(([0-9.e+-]+)\)", out, re.M)
    assert m and float(m.group(1)) <= runner.TOLERANCE["float64"], out


def test_console_script_and_module_entry_points():
    p = subprocess.run(
        [sys.executable, "-m", "numgrad", "bench", "--list", "--suite", "quick"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0 and "mlp-tiny" in p.stdout
    p = subprocess.run([sys.executable, "-m", "numgrad"], capture_output=True, text=True)
    assert p.returncode == 2 and "bench" in p.stdout
    exe = shutil.which("numgrad")
    if exe is None:  # the script is on PATH only inside the installed environment's bin/
        exe = str(__import__("pathlib").Path(sys.executable).with_name("numgrad"))
    p = subprocess.run([exe, "bench", "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "--json" in p.stdout and "--plot" in p.stdout
