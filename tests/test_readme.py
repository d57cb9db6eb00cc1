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


def test_readme_first_command_after_install_is_numgrad_bench():
    src = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    after_install = src[src.index("## Install") :]
    blocks = re.findall(r"```bash\n(.*?)```", after_install, re.S)
    assert "pip install" in blocks[0]
    assert blocks[1].strip().splitlines()[0] == "numgrad bench"
    # the pasted table is real output: header lines and every default row agreed
    from numgrad.bench import workloads

    default = [c for c in workloads.all_cases() if "default" in c.suites]
    for c in default:
        assert re.search(rf"^{re.escape(c.workload)}\s+{re.escape(c.size)}\s.*yes \(", src, re.M)
    assert "threads: " in src and "CPU: " in src and "torch 2.13.0" in src
    assert (Path(__file__).resolve().parents[1] / "docs" / "bench.png").stat().st_size > 10_000
