"""Compile numgrad's CUDA kernels for a real GPU (Hopper, sm_90) without one.

The simulator runs kernels as Python and checks no types, so a kernel the simulator suite
passes may still fail to compile on a GPU.  This script compiles them with Numba's CUDA
compiler to PTX (``numba.cuda.compile_ptx(py_func, sig, cc=(9, 0))``, NVVM only, no driver) and
links each PTX to a cubin with ``cuda.core``'s Linker (nvJitLink: ptxas for ``sm_90``), whose
log says how many registers the kernel uses and whether any spilled to local memory::

    NUMGRAD_CUDA_COMPILE_ONLY=1 python tests/cuda/ptx_check.py [--record FILE] [--jobs N]

What it compiles:

* every elementwise kernel of the op table (the ``forward`` and ``backward`` Kernels with a
  scalar rule, of every op in ``numgrad.ops.registry.OPS``): its all-array flat kernel and its
  rank-2 all-array ``nd2`` kernel, for every dtype of the rule's spec;
* every ``(kernel, argument types)`` in ``--record FILE``: the JSON lines
  ``numgrad/devices/cuda/runtime.py`` writes when ``NUMGRAD_CUDA_RECORD`` is set, i.e. exactly
  what a simulator run launched.  A kernel of a generated module (``numgrad_gen_*``) is compiled
  from the file the simulator run wrote to the kernel cache folder (the module name carries a
  hash of the source, which differs between the simulator and a GPU only in its header), or
  else from the module of the same rule that this process generated.

Exit status: 0 when everything compiled and linked with no spill; 1 when a kernel failed to
type, to compile or to link, spilled, or could not be found (each listed with its signature and
the error); 2 when it cannot run here (the simulator is on, or numba-cuda/cuda.core/NVVM missing).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import sys
import time
import types as pytypes
from pathlib import Path

ARCH = "sm_90"
CC = (9, 0)

# one compile job: (label shown on failure, py_func, numba signature tuple, compile options)
JOBS: list = []


# ---- numba type strings (what numba.typeof prints) back to numba types --------------------------


def _split_top(text):
    """Split ``text`` at the commas outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_ARRAY = re.compile(r"((?:unaligned |readonly )*)array\((\w+), (\d+)d, ([CFA])\)")
_UNITUPLE = re.compile(r"UniTuple\((.+) x (\d+)\)")
_TUPLE = re.compile(r"Tuple\((.*)\)")


def parse_type(text):
    """The numba type whose ``str()`` is ``text`` (arrays, scalars, tuples); ValueError else."""
    from numba.core import types

    text = text.strip()
    m = _ARRAY.fullmatch(text)
    if m:
        ty = types.Array(
            parse_type(m[2]),
            int(m[3]),
            m[4],
            readonly="readonly" in m[1],
            aligned="unaligned" not in m[1],
        )
    elif (m := _UNITUPLE.fullmatch(text)) is not None:
        ty = types.UniTuple(parse_type(m[1]), int(m[2]))
    elif (m := _TUPLE.fullmatch(text)) is not None:
        ty = types.Tuple([parse_type(p) for p in _split_top(m[1])])
    elif text == "bool":
        ty = types.boolean
    else:
        ty = getattr(types, text, None)
        if not isinstance(ty, types.Type):
            raise ValueError(f"unknown numba type {text!r}")
    if str(ty) != text:  # anything the patterns above misread
        raise ValueError(f"cannot parse numba type {text!r} (read it as {ty})")
    return ty


def _scalar_type(name):
    from numba.core import types

    return types.boolean if name == "bool" else getattr(types, name)


# ---- (a) every elementwise kernel of the op table ----------------------------------------------


def _generated_module(call):
    """The generated module behind a ``loops.build_cuda`` callable (held in its closures)."""
    todo, seen = [call], set()
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for cell in fn.__closure__ or ():
            try:
                v = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(v, pytypes.ModuleType) and v.__name__.startswith("numgrad_gen_"):
                return v
            if isinstance(v, pytypes.FunctionType):
                todo.append(v)
    return None


def _options(dispatcher):
    """The ``cuda.jit`` options ``compile_ptx`` also takes, as the kernel was declared."""
    opts = getattr(dispatcher, "targetoptions", {}) or {}
    out = {k: opts[k] for k in ("fastmath", "lineinfo", "launch_bounds") if opts.get(k)}
    if opts.get("debug"):
        out["debug"] = True
    return out


def elementwise_jobs(errors):
    """Jobs for the flat and nd2 all-array kernels of every elementwise rule, every dtype."""
    from numba.core import types

    from numgrad.devices.cuda import loops
    from numgrad.ops.registry import OPS

    done = set()
    for op_name, op in OPS.items():
        kernels = [("forward", op.forward)] + [
            (f"backward[{k}]", v) for k, v in op.backward.items() if v is not None
        ]
        for role, kern in kernels:
            if getattr(kern, "scalar", None) is None or id(kern) in done:
                continue
            done.add(id(kern))
            spec = kern.spec
            try:
                mod = _generated_module(loops.build_kernel(kern))
                if mod is None:
                    raise LookupError("no generated module in the builder's closure")
            except Exception as e:
                errors.append(f"op {op_name} {role} ({kern.name}): build failed: {e!r}")
                continue
            nargs = len(kern.args)
            pattern = "A" * nargs
            flat = getattr(mod, f"flat_{pattern}_kernel")
            nd2 = getattr(mod, f"nd2_{pattern}_kernel")
            for t in spec["types"]:
                names = [t if a is None else a for a in (spec["arg_types"] or [None] * nargs)]
                out = _scalar_type(spec["out"] or t)
                args = [_scalar_type(n) for n in names]
                label = f"{mod.__name__} (op {op_name} {role}, {t})"
                sig = (types.Array(out, 1, "C"), *[types.Array(a, 1, "C") for a in args])
                JOBS.append(
                    (f"{label}.{flat.__name__}", flat.py_func, sig + (types.int64,), _options(flat))
                )
                sig = (types.Array(out, 2, "C"), *[types.Array(a, 2, "A") for a in args])
                JOBS.append(
                    (
                        f"{label}.{nd2.__name__}",
                        nd2.py_func,
                        sig + (types.int64, types.int64),
                        _options(nd2),
                    )
                )


# ---- (b) what a simulator run launched ---------------------------------------------------------


def _source_key(mod):
    """Identity of a generated module's kernels: its source with the header's simulator flag
    dropped, so the simulator's and this process's modules of one rule compare equal."""
    path = getattr(mod, "__file__", None)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, TypeError):
        return mod.__name__
    head, _, body = text.partition("\n")
    head = re.sub(r", sim (True|False)\)", ")", head)
    return hashlib.sha1(f"{head}\n{body}".encode()).hexdigest()


def _load_generated_file(modname):
    """Import the generated module the simulator run wrote to the kernel cache folder."""
    from numgrad.devices import kernel_cache

    folder = kernel_cache.cache_dir()
    if folder is None or not (folder / f"{modname}.py").is_file():
        return None
    path = folder / f"{modname}.py"
    mod = pytypes.ModuleType(modname)
    mod.__file__ = str(path)
    sys.modules[modname] = mod  # Numba finds a kernel's globals through its module name
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), mod.__dict__)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return mod


def _resolve_module(modname, by_stem):
    if not modname.startswith("numgrad_gen_"):
        return importlib.import_module(modname)
    mod = sys.modules.get(modname)
    if mod is None:
        mod = _load_generated_file(modname)
    if mod is None:
        # same rule, generated by this process (its name differs only by the source hash)
        stem = modname.rsplit("_", 1)[0]
        found = by_stem.get(stem, [])
        if len(found) == 1:
            mod = found[0]
    if mod is None:
        raise LookupError(
            f"generated module {modname} is neither in the kernel cache folder nor built here "
            "(run this check with the simulator run's NUMGRAD_CACHE_DIR)"
        )
    return mod


def record_jobs(path, errors, seen_keys):
    by_stem = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("numgrad_gen_") and mod is not None:
            by_stem.setdefault(name.rsplit("_", 1)[0], []).append(mod)
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    records = {(r["module"], r["kernel"], tuple(r["types"])) for r in lines}
    added = 0
    for modname, qualname, type_names in sorted(records):
        label = f"{modname}.{qualname}({', '.join(type_names)})"
        try:
            mod = _resolve_module(modname, by_stem)
            obj = mod
            for part in qualname.split("."):
                obj = getattr(obj, part)
            sig = tuple(parse_type(t) for t in type_names)
        except Exception as e:
            errors.append(f"{label}: {type(e).__name__}: {e}")
            continue
        key = (_source_key(mod), qualname, str(sig))
        if key in seen_keys:
            continue
        seen_keys.add(key)
        JOBS.append((f"{modname}.{qualname}", obj.py_func, sig, _options(obj)))
        added += 1
    return len(records), added


# ---- compile and link --------------------------------------------------------------------------

_SPILL = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")
_REGS = re.compile(r"Used (\d+) registers")
_LMEM = re.compile(r"(\d+) bytes lmem")


def compile_one(i):
    """Compile and link job ``i``: ``(i, error or None, registers, lmem bytes, seconds)``."""
    from cuda.core import Linker, LinkerOptions, ObjectCode
    from numba import cuda

    label, py_func, sig, opts = JOBS[i]
    t0 = time.perf_counter()
    try:
        ptx, _ = cuda.compile_ptx(py_func, sig, cc=CC, **opts)
    except Exception as e:
        msg = str(e).strip().splitlines()
        return i, f"compile: {type(e).__name__}: " + "\n    ".join(msg[:12]), 0, 0, 0.0
    linker = None
    try:
        linker = Linker(
            ObjectCode.from_ptx(ptx.encode()), options=LinkerOptions(arch=ARCH, verbose=True)
        )
        linker.link("cubin")
        log = linker.get_info_log() or ""
    except Exception as e:
        # the linker's own log says why (an undefined symbol: a CPU-only helper in the kernel)
        why = ""
        if linker is not None:
            try:
                errs = [ln.strip() for ln in (linker.get_error_log() or "").splitlines()]
                why = "; ".join(ln for ln in errs if ln.startswith("error"))[:400]
            except Exception:
                pass
        msg = f"link: {type(e).__name__}: {e}" + (f" ({why})" if why else "")
        return i, msg, 0, 0, time.perf_counter() - t0
    regs = max((int(r) for r in _REGS.findall(log)), default=0)
    lmem = max((int(r) for r in _LMEM.findall(log)), default=0)
    spills = [(int(a), int(b)) for a, b in _SPILL.findall(log)]
    err = None
    if any(a or b for a, b in spills):
        a, b = max(spills)
        err = f"register spill: {a} bytes spill stores, {b} bytes spill loads ({regs} registers)"
    return i, err, regs, lmem, time.perf_counter() - t0


def _run(jobs, n_workers):
    if n_workers <= 1 or len(jobs) < 8:
        return [compile_one(i) for i in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # fork: the workers inherit JOBS (generated modules cannot be pickled)
    ctx = mp.get_context("fork")
    with ProcessPoolExecutor(n_workers, mp_context=ctx) as pool:
        return list(pool.map(compile_one, jobs, chunksize=max(1, len(jobs) // (8 * n_workers))))


def _sig_text(sig):
    return "(" + ", ".join(str(t) for t in sig) + ")"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--record", metavar="FILE", help="JSON lines of launches (NUMGRAD_CUDA_RECORD)")
    p.add_argument(
        "--jobs",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        help="compiler processes (default: the cores, at most 8)",
    )
    p.add_argument(
        "--no-elementwise",
        action="store_true",
        help="compile only the recorded launches that the elementwise pass does not cover "
        "(for running that pass separately, e.g. while the simulator suite runs)",
    )
    p.add_argument("--filter", metavar="REGEX", help="only jobs whose label matches")
    args = p.parse_args(argv)

    from numba import config

    if config.ENABLE_CUDASIM:
        print("ptx_check: NUMBA_ENABLE_CUDASIM is set; unset it to compile for a GPU")
        return 2
    try:
        import cuda.core  # noqa: F401
        from numba import cuda  # noqa: F401

        # before numgrad.devices.cuda is imported: kernels compile for Hopper without a GPU
        # (set here, not at import: a test imports this module for parse_type, and the
        # variable would make its whole pytest process see a compile-only CUDA device)
        os.environ.setdefault("NUMGRAD_CUDA_COMPILE_ONLY", "1")
        import numgrad.devices.cuda  # noqa: F401
    except ImportError as e:
        print(f"ptx_check: cannot compile CUDA kernels here: {e} (pip install -e '.[cuda]')")
        return 2

    t0 = time.perf_counter()
    errors: list = []
    # built even with --no-elementwise (building is cheap, compiling is not): the recorded
    # launches it covers are then left to the elementwise pass
    elementwise_jobs(errors)
    n_elementwise = len(JOBS)
    seen = set()
    for _label, fn, sig, _ in JOBS:
        mod = sys.modules.get(fn.__module__)
        key = _source_key(mod) if mod is not None else fn.__module__
        seen.add((key, fn.__name__, str(sig)))
    n_records = n_new = 0
    if args.record:
        if not os.path.exists(args.record):
            errors.append(f"record file {args.record} does not exist (did the simulator run?)")
        else:
            n_records, n_new = record_jobs(args.record, errors, seen)
    order = range(n_elementwise if args.no_elementwise else 0, len(JOBS))
    if args.filter:
        pat = re.compile(args.filter)
        order = [i for i in order if pat.search(JOBS[i][0])]
    results = _run(list(order), args.jobs)
    max_regs, max_at, lmem_kernels = 0, "-", 0
    for i, err, regs, lmem, _ in results:
        label, _, sig, _ = JOBS[i]
        if err:
            errors.append(f"{label}{_sig_text(sig)}: {err}")
        if regs > max_regs:
            max_regs, max_at = regs, f"{label}{_sig_text(sig)}"
        lmem_kernels += lmem > 0
    seconds = time.perf_counter() - t0
    for e in errors:
        print(f"FAIL {e}")
    print(
        f"ptx_check: {len(results)} kernels compiled to PTX for {ARCH} and linked "
        f"({0 if args.no_elementwise else n_elementwise} elementwise; {n_new} more from "
        f"{n_records} recorded launches) in "
        f"{seconds:.1f} s with {args.jobs} process(es); max {max_regs} registers ({max_at}); "
        f"{lmem_kernels} use local memory (no spill); {len(errors)} failure(s)"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
