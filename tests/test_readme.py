"""The README's example runs as written."""

import re
from pathlib import Path


def test_readme_example_runs(capsys):
    src = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"## Example\n\n```python\n(.*?)```", src, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    first = float(out[0].split()[1])
    final = float(out[-1].split()[1])
    assert final < first / 10


def test_readme_set_up_is_two_single_line_commands_and_ci_runs_the_test_one():
    root = Path(__file__).resolve().parents[1]
    src = (root / "README.md").read_text()
    set_up = src[src.index("## Set-up") : src.index("## Compare with torch")]
    blocks = [b.strip() for b in re.findall(r"```bash\n(.*?)```", set_up, re.S)]
    assert len(blocks) == 2 and all("\n" not in b for b in blocks)  # one line each, to paste
    bench, tests = blocks
    assert "pip install" in bench and bench.endswith("numgrad bench --threads 1")
    assert "pip install" in tests and tests.endswith("python -m pytest tests -q")
    ci = (root / ".ci" / "run").read_text()
    assert "\npython -m pytest tests -q\n" in ci  # exactly the README's test command


def test_readme_bench_section_is_real_output():
    src = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    after = src[src.index("## Compare with torch") :]
    blocks = re.findall(r"```bash\n(.*?)```", after, re.S)
    assert blocks[0].strip().splitlines()[0].startswith("numgrad bench")
    # the pasted table is real output: header lines and every default row agreed
    from numgrad.bench import workloads

    default = [c for c in workloads.all_cases() if "default" in c.suites]
    for c in default:
        assert re.search(rf"^{re.escape(c.workload)}\s+{re.escape(c.size)}\s.*yes \(", src, re.M)
    assert "threads: " in src and "CPU: " in src and "torch 2.13.0" in src
    assert (Path(__file__).resolve().parents[1] / "docs" / "bench.png").stat().st_size > 10_000
