"""The asv suite in benchmarks/ runs: every benchmark once, at its first parameter combination.

This follows asv's conventions closely enough to catch what would make a benchmark fail under
``asv run``: discovery (public classes and functions, benchmark name prefixes), ``params`` and
``param_names``, ``setup``/``teardown`` looked up on the function, the instance and the module,
``setup_cache``, and ``NotImplementedError`` from a setup meaning "skipped". ``timeraw_*`` code
runs once in a fresh interpreter. Nothing here looks at timings.
"""

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import benchmarks  # noqa: E402

# asv_runner's name patterns (benchmarks/*.py there), applied to function and method names
BENCHMARK_NAME = re.compile(
    r"^((Time|Timeraw|PeakMem|Mem|Track)[A-Z_].+|(time|timeraw|peakmem|mem|track)_.+)$"
)
TIMERAW_NAME = re.compile(r"^(Timeraw[A-Z_].+|timeraw_.+)$")


def _modules():
    return [
        importlib.import_module(f"benchmarks.{info.name}")
        for info in pkgutil.iter_modules(benchmarks.__path__)
    ]


def _attr_sources(case):
    module, klass, name = case
    if klass is None:
        return [getattr(module, name), module]
    instance = klass()
    return [getattr(instance, name), instance, module]


def _first_attr(sources, attr, default):
    for source in sources:
        if hasattr(source, attr):
            return getattr(source, attr)
    return default


def _params(sources):
    params = _first_attr(sources, "params", [])
    if params and not isinstance(params[0], (list, tuple)):
        params = [params]  # asv's shorthand for a single parameter
    return [list(p) for p in params]


def _discover():
    cases = {}
    for module in _modules():
        short = module.__name__.split(".", 1)[1]
        for attr, obj in vars(module).items():
            if attr.startswith("_"):
                continue
            if inspect.isclass(obj) and not inspect.isabstract(obj):
                for name, member in inspect.getmembers(obj):
                    if inspect.isfunction(member) and BENCHMARK_NAME.match(name):
                        cases[f"{short}.{attr}.{name}"] = (module, obj, name)
            elif inspect.isfunction(obj) and BENCHMARK_NAME.match(attr):
                cases[f"{short}.{attr}"] = (module, None, attr)
    return cases


CASES = _discover()


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    """The benchmarks set numgrad, torch and BLAS to one thread; the rest of the suite gets its
    thread counts back."""
    import numba
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS now, so that its limit is restored too)
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:
        torch = None
    numba_threads = numba.get_num_threads()
    torch_threads = torch.get_num_threads() if torch else None
    with threadpool_limits(limits=None):  # restores the BLAS pools' limits on exit
        yield
    numba.set_num_threads(numba_threads)
    if torch:
        torch.set_num_threads(torch_threads)


def _run_code(code):
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_runs_once(name):
    module, klass, attr = CASES[name]
    sources = _attr_sources(CASES[name])
    func = sources[0]
    args = [values[0] for values in _params(sources)]

    setup_cache = _first_attr(sources, "setup_cache", None)
    if setup_cache is not None:
        args.insert(0, setup_cache())
    # asv runs the module's setup first, then the instance's, then the function's own
    setups = [s.setup for s in reversed(sources) if hasattr(s, "setup")]
    teardowns = [s.teardown for s in sources if hasattr(s, "teardown")]
    try:
        for setup in setups:
            setup(*args)
    except NotImplementedError as exc:
        pytest.skip(f"skipped by its setup: {exc}")
    try:
        result = func(*args)
        if TIMERAW_NAME.match(attr):
            stmt, setup_code = result if isinstance(result, tuple) else (result, "")
            _run_code(textwrap.dedent(setup_code) + "\n" + textwrap.dedent(stmt))
    finally:
        for teardown in teardowns:
            teardown(*args)


def test_every_module_has_benchmarks():
    names = {n.split(".", 1)[0] for n in CASES}
    modules = {m.__name__.split(".", 1)[1] for m in _modules()} - {"common"}
    assert modules and names == modules


def test_every_numgrad_benchmark_has_a_torch_counterpart():
    numgrad = [n for n in CASES if "numgrad" in n.lower()]
    assert numgrad
    for name in numgrad:
        twin = name.replace("Numgrad", "Torch").replace("numgrad", "torch")
        assert twin in CASES, f"{name} has no torch counterpart {twin}"
        assert _params(_attr_sources(CASES[name])) == _params(_attr_sources(CASES[twin]))
    # and nothing else: every benchmark is one side of a pair
    for name in CASES:
        assert "numgrad" in name.lower() or "torch" in name.lower(), name


def _pairs(module_name):
    module = importlib.import_module(f"benchmarks.{module_name}")
    for attr, obj in vars(module).items():
        if attr.startswith("Numgrad") and inspect.isclass(obj):
            yield obj, getattr(module, attr.replace("Numgrad", "Torch"))


def test_op_benchmarks_see_the_same_inputs():
    pytest.importorskip("torch")
    for numgrad_cls, torch_cls in _pairs("bench_ops"):
        params = _params([numgrad_cls])
        # every value of the first parameter (the op, or the size), the rest at their first
        for first in params[0]:
            args = [first] + [p[0] for p in params[1:]]
            ours, theirs = numgrad_cls(), torch_cls()
            ours.setup(*args)
            theirs.setup(*args)
            for a, b in zip(ours.inputs, theirs.inputs):
                np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
            got = ours.run_forward().detach().numpy()
            want = theirs.run_forward().detach().numpy()
            # float32 sums in another order (BLAS) differ in the last bits, relative to the scale
            scale = float(np.abs(want).max())
            np.testing.assert_allclose(
                got, want, rtol=1e-4, atol=1e-5 * scale, err_msg=f"{numgrad_cls.__name__}{args}"
            )


def test_phase_benchmarks_train_the_same_network():
    pytest.importorskip("torch")
    from benchmarks.common import MLPS, build_training

    for mlp, spec in MLPS.items():
        losses = []
        for lib in ("numgrad", "torch"):
            training = build_training(lib, mlp, spec.batch, "float32")
            losses.append([training.step().item(), training.step().item()])
        # the second loss comes after an optimizer step: weights and updates agree too
        np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4, err_msg=mlp)


def test_asv_config():
    text = (ROOT / "asv.conf.json").read_text()
    # asv reads JSON with comments; this file keeps its comments on lines of their own
    conf = json.loads(
        "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
    )
    assert conf["environment_type"] == "existing"
    assert (ROOT / conf["benchmark_dir"] / "__init__.py").exists()
    reqs = conf["matrix"]["req"]
    assert {"numba", "numpy", "scipy", "threadpoolctl", "torch"} <= set(reqs)
    # an unpinned torch resolves to a multi-GB CUDA build
    assert all(re.fullmatch(r"\d+(\.\d+)+", v) for v in reqs["torch"]), reqs["torch"]
    for key in ("env_dir", "results_dir", "html_dir"):
        assert conf[key].startswith(".asv/")
    assert ".asv/" in (ROOT / ".gitignore").read_text().split()


def test_param_names_match_params():
    for name, case in CASES.items():
        sources = _attr_sources(case)
        params = _params(sources)
        names = _first_attr(sources, "param_names", [])
        assert len(names) == len(params), name
        assert all(params), name
