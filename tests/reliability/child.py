"""Run a snippet in a child Python process, so a segfault or a hang fails one test, not the run.

``run_child(code)`` returns the finished process; ``assert_child_ok(code)`` also checks that it
exited 0, with stdout/stderr in the failure message.  A child that outlives ``timeout`` is killed
and reported as a hang; a negative return code is a signal (-11 is a segfault).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ChildFailed(AssertionError):
    pass


def run_child(code, timeout=120, env=None, cwd=None):
    """Run ``code`` (dedented) with this interpreter; returns CompletedProcess, never hangs."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.setdefault("NUMBA_NUM_THREADS", "1")
    if env:
        full_env.update(env)
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            cwd=cwd or ROOT,
        )
    except subprocess.TimeoutExpired as e:
        raise ChildFailed(
            f"child process hung (killed after {timeout} s)\n--- stdout\n{e.stdout}\n"
            f"--- stderr\n{e.stderr}"
        ) from None


def assert_child_ok(code, timeout=120, env=None, cwd=None):
    """Run ``code`` in a child; fail with its output unless it exits 0.  Returns its stdout."""
    p = run_child(code, timeout=timeout, env=env, cwd=cwd)
    if p.returncode != 0:
        how = f"killed by signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}"
        raise ChildFailed(f"child {how}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return p.stdout
