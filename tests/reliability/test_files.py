"""Files, kernel caches, threads and fork (issue 7, "Files and caches").

* ``numgrad.load`` is safe by default (``weights_only=True``): a pickle naming any global
  outside tensors, arrays, numbers, strings and containers is refused before it runs;
* a damaged kernel cache (generated module, Numba index or data file) is rebuilt with a
  warning naming the file; a read-only cache folder, install or home falls back;
* many threads using a kernel for the first time, and ``fork()`` while a thread compiles;
* ``DataLoader(num_workers=N)``: same batches as ``num_workers=0``, errors, no hangs.

Every cache experiment runs in a child process with private ``NUMGRAD_CACHE_DIR``,
``NUMBA_CACHE_DIR`` and ``TMPDIR``, so the developer's caches are never touched.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import numgrad as ng
import numgrad.nn as nn
from numgrad.utils.data import DataLoader, TensorDataset

from .child import ROOT, ChildFailed, assert_child_ok, run_child

# ---- numgrad.load: safe by default ---------------------------------------------------------


class _RunsCode:
    """A pickle that calls ``fn(*args)`` when loaded: what a malicious checkpoint holds."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class _Trusted:
    """An ordinary user class: plain pickle can load it, weights_only refuses it."""

    def __init__(self, value):
        self.value = value


@pytest.mark.parametrize("weights_only", [None, True])
def test_load_refuses_a_pickle_that_runs_code(tmp_path, weights_only):
    marker = tmp_path / "ran"
    payloads = {
        f"{os.system.__module__}.system": _RunsCode(os.system, f"touch {marker}"),
        "builtins.eval": _RunsCode(eval, f"open({str(marker)!r}, 'w')"),
        "builtins.exec": _RunsCode(exec, f"open({str(marker)!r}, 'w')"),
    }
    for global_name, evil in payloads.items():
        blob = pickle.dumps({"weight": ng.ones(2), "x": evil})
        kwargs = {} if weights_only is None else {"weights_only": weights_only}
        with pytest.raises(pickle.UnpicklingError, match=global_name.replace(".", r"\.")):
            ng.load(io.BytesIO(blob), **kwargs)
        assert not marker.exists(), f"loading ran {global_name}"


def test_weights_only_false_is_the_explicit_opt_in(tmp_path):
    path = tmp_path / "obj.pt"
    ng.save({"obj": _Trusted(3), "t": ng.ones(2)}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"_Trusted.*weights_only=False"):
        ng.load(path)
    assert ng.load(path, weights_only=False)["obj"].value == 3


def test_object_arrays_are_refused():
    # their elements are restricted too, but numba cannot type an object array
    tensor = ng.tensor([1.0])
    tensor._data = np.array([None], dtype=object)
    for obj in (np.array([1, "a"], dtype=object), {"a": [np.array([None])]}, tensor):
        with pytest.raises(pickle.UnpicklingError, match="dtype=object"):
            ng.load(io.BytesIO(pickle.dumps(obj)))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_safe_load_keeps_numpy_numbers_strings_and_containers(protocol):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    obj = {
        "c": base,
        "strided": base[:, ::2],
        "fortran": np.asfortranarray(base),
        "zero_d": np.array(3, np.int32),
        "masks": np.array([True, False]),
        "small": np.arange(5, dtype=np.uint8),
        "np_scalars": [np.float32(1.5), np.int64(-2), np.bool_(True)],
        "dtype": np.dtype("float32"),
        "ng_dtype": ng.float64,
        "py": (1, 2.5, 1 + 2j, "s", b"\x00\xff", bytearray(b"ab"), None, True),
        "set": {1, 2},
        "frozen": frozenset({3}),
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "tensor": ng.tensor([[1.0, 2.0]], requires_grad=True),
        "param": nn.Parameter(ng.ones(3)),
        "int_tensor": ng.tensor([1, 2, 3]),
        "shape": ng.ones(2, 3).shape,
        "device": ng.ones(1).device,
    }
    back = ng.load(io.BytesIO(pickle.dumps(obj, protocol=protocol)))
    assert back.keys() == obj.keys()
    for k in ("c", "strided", "fortran", "zero_d", "masks", "small"):
        assert back[k].dtype == obj[k].dtype and np.array_equal(back[k], obj[k]), k
    assert [type(v) for v in back["np_scalars"]] == [np.float32, np.int64, np.bool_]
    assert back["dtype"] == np.float32 and back["ng_dtype"] is ng.float64
    assert back["py"] == obj["py"] and back["set"] == {1, 2} and back["frozen"] == {3}
    assert list(back["ordered"]) == ["b", "a"] and type(back["ordered"]) is collections.OrderedDict
    assert type(back["param"]) is nn.Parameter and back["param"].requires_grad
    assert back["tensor"].requires_grad and back["tensor"].tolist() == [[1.0, 2.0]]
    assert back["int_tensor"].dtype == ng.int64
    assert back["shape"] == (2, 3) and type(back["shape"]) is type(obj["shape"])
    assert back["device"] == obj["device"]


def _train(model, opt, sched, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resuming_from_a_safely_loaded_checkpoint_matches_training_on(tmp_path, optimizer):
    """Model, optimizer (momentum buffers, Adam's step counts) and lr scheduler state dicts
    survive ``weights_only`` loading: resuming gives bit-identical parameters."""

    def make():
        ng.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
        if optimizer == "sgd":
            opt = ng.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        else:
            opt = ng.optim.Adam(model.parameters(), lr=0.01, amsgrad=True, weight_decay=1e-3)
        sched = ng.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        return model, opt, sched

    x, y = ng.randn(16, 3), ng.randn(16, 2)
    model, opt, sched = make()
    _train(model, opt, sched, x, y, 3)
    path = tmp_path / "ckpt.pt"
    ng.save(
        {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, path
    )
    _train(model, opt, sched, x, y, 3)

    ck = ng.load(path)  # weights_only=True by default
    model2, opt2, sched2 = make()
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    if optimizer == "adam":
        steps = [s["step"].item() for s in opt2.state.values()]
        assert steps and all(s == 3 for s in steps)
    _train(model2, opt2, sched2, x, y, 3)
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), k
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_load_accepts_torchs_map_location():
    t = ng.randn(3)
    buf = io.BytesIO()
    ng.save(t, buf)
    buf.seek(0)
    assert np.array_equal(ng.load(buf, map_location="cpu").numpy(), t.numpy())


# ---- kernel caches: damaged, read-only -------------------------------------------------------

# a first use of a few elementwise kernels (generated modules) and of a package kernel
# (cpu_math.vec_sum, behind sum); prints values torch checks in the parent
_USE_KERNELS = """
import json, numpy as np, numgrad as ng
x = ng.tensor(np.linspace(-2, 2, 7), requires_grad=True)
y = (x.tanh() * 3).sum()
y.backward()
print(json.dumps({"y": y.item(), "grad": x.grad.tolist()}))
"""


def _check_kernel_values(stdout):
    import json

    got = json.loads(stdout.strip().splitlines()[-1])
    x = torch.tensor(np.linspace(-2, 2, 7), requires_grad=True)
    y = (x.tanh() * 3).sum()
    y.backward()
    assert np.isclose(got["y"], y.item()) and np.allclose(got["grad"], x.grad.numpy())


def _cache_env(tmp_path):
    for name in ("g", "numba", "tmp"):
        (tmp_path / name).mkdir(exist_ok=True)
    return {
        "NUMGRAD_CACHE_DIR": str(tmp_path / "g"),
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "TMPDIR": str(tmp_path / "tmp"),
        "PYTHONWARNINGS": "default",
    }


def _run_ok(code, env, timeout=240):
    p = run_child(code, timeout=timeout, env=env)
    if p.returncode != 0:
        raise ChildFailed(
            f"child exit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
        )
    return p


@pytest.fixture
def warm_cache(tmp_path):
    """A kernel cache filled by one child run.  Not shared between tests: Numba files the
    cache of a generated module under a hash of its folder's path, so a copy is cold."""
    _run_ok(_USE_KERNELS, _cache_env(tmp_path))
    return tmp_path


def test_damaged_generated_module_is_rebuilt_with_one_warning(warm_cache):
    root = warm_cache
    (module,) = (root / "g").glob("numgrad_gen_tanh_f_*.py")
    text = module.read_text()
    module.write_text(text[: len(text) // 2])  # a write cut short
    env = _cache_env(root)
    p = _run_ok(_USE_KERNELS, env)
    _check_kernel_values(p.stdout)
    assert p.stderr.count("RuntimeWarning") == 1 and str(module) in p.stderr, p.stderr
    assert module.read_text() == text
    p = _run_ok(_USE_KERNELS, env)  # healed: no warning the next time
    assert "Warning" not in p.stderr, p.stderr


@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
def test_damaged_numba_cache_files_are_rebuilt(warm_cache, suffix):
    """Numba's index (.nbi) and data (.nbc) files, both of a generated kernel and of one
    of numgrad's own ``@njit(cache=True)`` kernels (cpu_math.vec_sum)."""
    root = warm_cache
    numba_dir = root / "numba"
    damaged = [
        *numba_dir.glob(f"*/numgrad_gen_tanh_f_*{suffix}"),
        *numba_dir.glob(f"*/math.vec_sum*{suffix}"),
    ]
    assert len(damaged) >= 2, sorted(str(p) for p in numba_dir.rglob("*"))
    for path in damaged:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    env = _cache_env(root)
    p = _run_ok(_USE_KERNELS, env)
    _check_kernel_values(p.stdout)
    for path in damaged:
        assert str(path) in p.stderr, p.stderr
    assert p.stderr.count("RuntimeWarning") == len(damaged), p.stderr
    p = _run_ok(_USE_KERNELS, env)
    assert "Warning" not in p.stderr, p.stderr


def _obeying_permissions():
    """A command prefix under which root obeys file permissions (chmod a-w binds root only
    without CAP_DAC_OVERRIDE); empty when not root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    caps = "-dac_override,-dac_read_search"
    cmd = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--"] if setpriv else None
    if cmd is None or subprocess.run([*cmd, "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root without setpriv: cannot make a folder read-only")
    return cmd


def _run_as_user(code, env, cwd, timeout=240):
    """Run ``code`` obeying permissions, with exactly ``env`` added (PYTHONPATH not forced)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "NUMGRAD_"))}
    full.pop("XDG_CACHE_HOME", None)
    full.pop("PYTHONPATH", None)
    full["NUMBA_NUM_THREADS"] = "1"
    full.update(env)
    cmd = [*_obeying_permissions(), sys.executable, "-c", textwrap.dedent(code)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise ChildFailed(f"child hung\n{e.stdout}\n{e.stderr}") from None
    if p.returncode != 0:
        raise ChildFailed(
            f"child exit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
        )
    return p


def _read_only(*paths):
    for path in paths:
        for dirpath, _dirnames, filenames in os.walk(path):
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o444)
            os.chmod(dirpath, 0o555)


def test_read_only_cache_folder_falls_back_with_one_warning(tmp_path):
    env = _cache_env(tmp_path)
    env["PYTHONPATH"] = str(ROOT)
    _read_only(tmp_path / "g")
    p = _run_as_user(_USE_KERNELS, env, cwd=tmp_path)
    _check_kernel_values(p.stdout)
    assert p.stderr.count("RuntimeWarning") == 1 and str(tmp_path / "g") in p.stderr, p.stderr
    assert list((tmp_path / "tmp").glob("numgrad-cache-*/kernels/numgrad_gen_tanh_f_*.py"))


@pytest.fixture
def read_only_install(tmp_path):
    """numgrad copied into a read-only folder, a read-only home, a private writable TMPDIR."""
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "numgrad", site / "numgrad", ignore=shutil.ignore_patterns("__pycache__")
    )
    home = tmp_path / "home"
    (home / ".cache").mkdir(parents=True)
    (tmp_path / "tmp").mkdir()
    _read_only(site, home)
    yield site, {"PYTHONPATH": str(site), "HOME": str(home), "TMPDIR": str(tmp_path / "tmp")}
    for dirpath, _, _ in os.walk(tmp_path):
        os.chmod(dirpath, 0o755)  # so pytest can clean up


def test_read_only_install_and_home_import_and_run(read_only_install, tmp_path):
    """Numba's cache locators (next to the sources, then the user cache folder) both fail:
    ``@njit(cache=True)`` raised at import; now the kernels cache in a private temp folder."""
    site, env = read_only_install
    code = f"import numgrad; assert numgrad.__file__.startswith({str(site)!r})\n"
    p = _run_as_user(code + _USE_KERNELS, {**env, "PYTHONWARNINGS": "default"}, cwd=tmp_path)
    _check_kernel_values(p.stdout)
    assert p.stderr.count("RuntimeWarning") == 1, p.stderr
    cache = list((tmp_path / "tmp").glob("numgrad-cache-*"))
    assert cache and list(cache[0].rglob("*.nbi")), "the fallback cache was not used"


def test_nothing_writable_at_all_still_runs(read_only_install, tmp_path):
    """No writable temp folder either: kernels compile in memory, every process."""
    _, env = read_only_install
    code = (
        "import tempfile\n"
        "tempfile.gettempdir = lambda: '/nonexistent-numgrad-test'\n"
        "tempfile.tempdir = '/nonexistent-numgrad-test'\n"
    )
    broadcast = "\nassert (ng.ones(3, 1) + ng.ones(1, 4)).sum().item() == 24\n"
    p = _run_as_user(
        code + _USE_KERNELS + broadcast, {**env, "PYTHONWARNINGS": "default"}, cwd=tmp_path
    )
    _check_kernel_values(p.stdout.splitlines()[-1])
    assert p.stderr.count("RuntimeWarning") == 1 and "every process" in p.stderr, p.stderr


# ---- threads and fork ------------------------------------------------------------------------


def test_threads_using_kernels_for_the_first_time(tmp_path):
    """8 threads start at once on a cold cache; before the build lock some died with
    AttributeError (a half-initialised generated module in sys.modules)."""
    code = """
    import threading, numpy as np, torch, numgrad as ng
    data = np.linspace(0.1, 2.5, 33)
    ops = ["tanh", "sigmoid", "exp", "abs", "sqrt", "log", "relu", "neg"]
    barrier = threading.Barrier(8)
    errors, results = [], {}

    def work(i):
        try:
            barrier.wait()
            for name in ops[i:] + ops[:i]:
                results[i, name] = getattr(ng.tensor(data), name)().numpy()
                # the broadcasting fallback (a ufunc module) on its first use too
                results[i, name + "+"] = (getattr(ng.tensor(data)[:, None], name)()
                                          + ng.ones(1, 2)).numpy()
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert not errors, errors
    for (i, name), got in results.items():
        ref = getattr(torch.tensor(data), name.rstrip("+"))()
        if name.endswith("+"):
            ref = ref[:, None] + torch.ones(1, 2, dtype=torch.float64)
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-12, err_msg=name)
    """
    assert_child_ok(code, timeout=300, env=_cache_env(tmp_path))


def test_fork_while_another_thread_compiles_does_not_hang(tmp_path):
    """The child used to inherit Numba's compiler lock held by the compiling thread and hang
    at its first compile; fork now waits for the compile to finish."""
    code = """
    import os, sys, threading, time
    import numgrad as ng
    x = ng.randn(16)
    started = threading.Event()

    def compile_many():
        started.set()
        for op in ("tanh", "sigmoid", "exp", "neg", "abs", "relu"):
            getattr(x, op)()

    t = threading.Thread(target=compile_many)
    t.start()
    started.wait()
    time.sleep(0.2)
    pid = os.fork()
    if pid == 0:
        ok = abs((ng.ones(8) * 2 + 1).sqrt().sum().item() - 8 * 3**0.5) < 1e-5
        os._exit(0 if ok else 3)
    deadline = time.time() + 90
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0, status
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        sys.exit("the forked child hung")
    t.join()
    """
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    assert_child_ok(code, timeout=300, env=_cache_env(tmp_path))


# ---- DataLoader(num_workers=N) ----------------------------------------------------------------


def test_dataloader_validates_worker_options_as_torch():
    ds = TensorDataset(ng.arange(4))
    for kwargs, torch_kwargs in [
        ({"num_workers": -1}, {"num_workers": -1}),
        ({"persistent_workers": True}, {"persistent_workers": True}),
        ({"prefetch_factor": 2}, {"prefetch_factor": 2}),
        ({"timeout": -1}, {"timeout": -1}),
        ({"num_workers": 1, "multiprocessing_context": "nope"}, None),
    ]:
        with pytest.raises(ValueError):
            DataLoader(ds, **kwargs)
        if torch_kwargs:
            with pytest.raises(ValueError):
                torch.utils.data.DataLoader(torch.arange(4), **torch_kwargs)


# the dataset is a Subset (not a TensorDataset) so samples go through __getitem__ and
# default_collate, and every class is importable, so it also runs with "spawn"
_LOADER_EQUALITY = """
import json, os, numpy as np, numgrad as ng
from numgrad.utils.data import DataLoader, Subset, TensorDataset

def epochs(dataset, **kw):
    ng.manual_seed(7)
    loader = DataLoader(dataset, batch_size=4, shuffle=True, drop_last=False, **kw)
    out = [[[t.tolist() for t in b] for b in loader] for _ in range(2)]
    return out, ng.randn(3).tolist()  # the random stream after the epochs

if __name__ == "__main__":
    full = TensorDataset(ng.arange(30).float().reshape(15, 2), ng.arange(15))
    for dataset in (full, Subset(full, list(range(2, 13)))):
        ref = epochs(dataset)
        for kw in (%s):
            got = epochs(dataset, **kw)
            assert got == ref, (type(dataset).__name__, kw, got, ref)
    print("OK")
"""


def _run_script(tmp_path, text, timeout=300):
    # a script file, not -c: "spawn" workers re-import the parent's __main__ from its path
    script = tmp_path / "loader.py"
    script.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    try:
        p = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired as e:
        raise ChildFailed(f"child hung\n{e.stdout}\n{e.stderr}") from None
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr


def test_dataloader_workers_give_the_batches_of_num_workers_0(tmp_path):
    variants = (
        "dict(num_workers=2), dict(num_workers=3, prefetch_factor=1), "
        "dict(num_workers=2, persistent_workers=True)"
    )
    _run_script(tmp_path, _LOADER_EQUALITY % variants)


def test_dataloader_spawn_workers_give_the_same_batches(tmp_path):
    _run_script(
        tmp_path, _LOADER_EQUALITY % "dict(num_workers=2, multiprocessing_context='spawn'),"
    )


def test_dataloader_worker_info_init_fn_and_seeds():
    code = """
    import os, numgrad as ng
    from numgrad.utils.data import DataLoader, Dataset, get_worker_info

    class Samples(Dataset):
        def __len__(self):
            return 8
        def __getitem__(self, i):
            info = get_worker_info()
            # per-worker seeds: workers must not all draw the same "random" numbers
            return ng.tensor([float(info.id), os.getpid(), ng.rand(1).item(), INIT[0]])

    INIT = [-1]
    def init(worker_id):
        INIT[0] = worker_id

    assert get_worker_info() is None
    rows = [r.tolist() for b in DataLoader(Samples(), batch_size=2, num_workers=2,
                                           worker_init_fn=init) for r in b]
    ids = [int(r[0]) for r in rows]
    assert ids == [0, 0, 1, 1, 0, 0, 1, 1], ids          # round robin, in order
    assert all(int(r[3]) == int(r[0]) for r in rows)      # worker_init_fn(worker_id) ran
    assert len({r[1] for r in rows}) == 2 and os.getpid() not in {r[1] for r in rows}
    assert len({r[2] for r in rows}) == len(rows)         # different random draws
    again = [r.tolist() for b in DataLoader(Samples(), batch_size=2, num_workers=2) for r in b]
    assert not {r[2] for r in rows} & {r[2] for r in again}  # and new ones each epoch
    """
    assert_child_ok(code, timeout=120)


def test_dataloader_worker_errors_are_raised_in_the_parent():
    code = """
    import os, time, numgrad as ng
    from numgrad.utils.data import DataLoader, Dataset

    class Broken(Dataset):
        def __init__(self, how):
            self.how = how
        def __len__(self):
            return 6
        def __getitem__(self, i):
            if i == 3:
                if self.how == "raise":
                    raise KeyError("no sample 3")
                if self.how == "die":
                    os._exit(7)
                time.sleep(60)
            return ng.tensor([float(i)])

    try:
        list(DataLoader(Broken("raise"), batch_size=2, num_workers=2))
    except KeyError as e:
        assert "no sample 3" in str(e) and "DataLoader worker process" in str(e), str(e)
    else:
        raise AssertionError("no KeyError")

    t = time.time()
    try:
        list(DataLoader(Broken("die"), batch_size=2, num_workers=2))
    except RuntimeError as e:
        assert "exited unexpectedly" in str(e) and "exit code 7" in str(e), str(e)
    else:
        raise AssertionError("no RuntimeError for a dead worker")

    try:
        list(DataLoader(Broken("hang"), batch_size=2, num_workers=2, timeout=1))
    except RuntimeError as e:
        assert "timed out after 1 seconds" in str(e), str(e)
    else:
        raise AssertionError("no timeout")
    assert time.time() - t < 30
    import multiprocessing
    assert not multiprocessing.active_children(), multiprocessing.active_children()
    """
    assert_child_ok(code, timeout=120)


def test_dataloader_stopped_early_leaves_no_workers():
    code = """
    import gc, multiprocessing, numgrad as ng
    from numgrad.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(ng.arange(100)), batch_size=2, num_workers=3)
    for i, batch in enumerate(loader):
        if i == 2:
            break
    gc.collect()
    assert not multiprocessing.active_children(), multiprocessing.active_children()
    persistent = DataLoader(TensorDataset(ng.arange(10)), batch_size=2, num_workers=2,
                            persistent_workers=True)
    first = [b[0].tolist() for b in persistent]
    workers = {p.pid for p in multiprocessing.active_children()}
    assert len(workers) == 2
    assert [b[0].tolist() for b in persistent] == first
    assert {p.pid for p in multiprocessing.active_children()} == workers  # kept, not restarted
    del persistent
    gc.collect()
    assert not multiprocessing.active_children()
    """
    assert_child_ok(code, timeout=120)


def test_dataloader_fork_workers_while_a_thread_compiles(tmp_path):
    """Workers forked while another thread compiles kernels run numgrad ops (Numba code)."""
    code = """
    import threading, numpy as np, numgrad as ng
    from numgrad.utils.data import DataLoader, Dataset

    class Ops(Dataset):
        def __len__(self):
            return 12
        def __getitem__(self, i):
            return (ng.tensor([float(i)]).sigmoid() * 2 + 1).log()

    x = ng.randn(8)
    def compile_many():
        for op in ("tanh", "exp", "sigmoid", "neg", "abs", "relu", "sqrt"):
            getattr(x.abs(), op)()
    t = threading.Thread(target=compile_many)
    t.start()
    got = [b.numpy() for b in DataLoader(Ops(), batch_size=3, num_workers=2,
                                         multiprocessing_context="fork", timeout=120)]
    t.join()
    ref = np.log(2 / (1 + np.exp(-np.arange(12.0))) + 1).reshape(4, 3, 1)
    np.testing.assert_allclose(np.stack(got), ref, rtol=1e-6)
    """
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    assert_child_ok(code, timeout=300, env=_cache_env(tmp_path))
