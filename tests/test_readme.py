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
