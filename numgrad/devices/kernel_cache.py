"""On-disk kernel caches that survive damage, read-only folders, threads and ``fork()``.

numgrad keeps two caches: the generated kernel modules (``.py`` files in :func:`cache_dir`,
see :mod:`numgrad.devices.cpu.loops`) and Numba's compiled code for every ``@njit(cache=True)``
function (``.nbi`` index and ``.nbc`` data files, next to the sources in ``__pycache__``, in
Numba's user cache folder or in ``NUMBA_CACHE_DIR``).  A cache is only ever a speed-up, so:

* **damaged entries are rebuilt**: a generated module whose text is not what numgrad would
  write (truncated, edited) is rewritten before it is imported, and a Numba index or data file
  of a numgrad kernel that cannot be read is deleted and the kernel recompiled.  Either way a
  warning names the file, once per process.  numgrad writes its files to a temporary name and
  ``os.replace``\\s them, as Numba does, so a crash mid-write never leaves half a file.
* **unwritable folders fall back** to a private per-user folder under the system temporary
  directory (or to no cache at all), with one warning: a read-only install with a read-only
  home still imports and runs, only slower on its first calls.
* **one thread builds at a time**: :data:`BUILD_LOCK` serialises generating and importing a
  kernel module, so a second thread never sees a half-initialised one.
* **fork waits for compiles**: a child forked while another thread holds Numba's compiler
  lock would inherit it locked and hang at its first compile.  ``os.register_at_fork`` takes
  both locks before ``fork()`` and releases them on both sides after.

The Numba hooks act only for functions defined by numgrad (modules ``numgrad.*`` and the
generated ``numgrad_gen_*``); other libraries' caches behave as Numba made them.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import stat
import sys
import tempfile
import threading
import types
import warnings
from pathlib import Path

# Numba's argument typing imports numpy.ma on the first call of any kernel, outside its
# compiler lock: a fork() while another thread is inside that import leaves the child a
# half-imported module whose lock nobody will release (the child hangs at its first kernel
# call).  Importing it here, with numgrad, takes it off that path.
import numpy.ma  # noqa: F401, I001

# generating + importing a kernel module, and the first build of a lazy Kernel slot
from ..locks import BUILD_LOCK  # noqa: E402  (shared with the registry's lazy builds)

_LOADED = {}  # module name -> fully initialised generated module
_CACHE_DIRS = {}  # folder asked for -> folder used (None: no cache on disk)
_WARNED = set()
_FALLBACK_WARNED = []
_TEMP_ROOT = []  # [Path | None] once looked up


def _warn_once(key, message):
    if key in _WARNED:
        return
    _WARNED.add(key)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _is_numgrad(py_func):
    mod = getattr(py_func, "__module__", None) or ""
    return mod == "numgrad" or mod.startswith(("numgrad.", "numgrad_gen_"))


def _writable(path):
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


def temp_root():
    """A private (0700, owned by this user) folder for caches under the system temp dir.

    Shared across this user's processes so the fallback cache still saves work between runs;
    a folder of that name owned by someone else or writable by others is never used (code
    is loaded from it), a fresh ``mkdtemp`` is.  None when nothing is writable.
    """
    if _TEMP_ROOT:
        return _TEMP_ROOT[0]
    root = None
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        candidate = (
            Path(tempfile.gettempdir()) / f"numgrad-cache-{uid if uid is not None else 'user'}"
        )
        candidate.mkdir(mode=0o700, exist_ok=True)
        st = candidate.lstat()
        private = stat.S_ISDIR(st.st_mode) and not st.st_mode & 0o022
        if uid is not None:
            private = private and st.st_uid == uid
        if private and _writable(candidate):
            root = candidate
    except OSError:
        pass
    if root is None:
        try:
            root = Path(tempfile.mkdtemp(prefix="numgrad-cache-"))
        except OSError:
            root = None
    _TEMP_ROOT.append(root)
    return root


def _warn_fallback(where, fallback):
    # one warning per process whichever cache hit it first: the cause (a read-only home or
    # install) is usually the same for both
    if _FALLBACK_WARNED:
        return
    _FALLBACK_WARNED.append(True)
    to = f"caching them in {fallback} instead" if fallback else "compiling them in every process"
    warnings.warn(
        f"numgrad: cannot write compiled kernels to {where} (not writable); {to}.  Set "
        "NUMGRAD_CACHE_DIR and NUMBA_CACHE_DIR to a writable folder to choose the cache.",
        RuntimeWarning,
        stacklevel=4,
    )


def _wanted_dir():
    env = os.environ.get("NUMGRAD_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "numgrad" / "kernels"


def cache_dir() -> Path | None:
    """Folder for generated kernel modules (``NUMGRAD_CACHE_DIR`` overrides).

    Falls back to a private temporary folder when the chosen one is not writable, and to
    None (modules compiled in memory, Numba cache off for them) when nothing is.
    """
    wanted = _wanted_dir()
    try:
        return _CACHE_DIRS[wanted]
    except KeyError:
        pass
    with BUILD_LOCK:
        if wanted not in _CACHE_DIRS:
            _CACHE_DIRS[wanted] = wanted if _writable(wanted) else _fallback_dir(wanted)
        return _CACHE_DIRS[wanted]


def _fallback_dir(wanted):
    root = temp_root()
    path = root / "kernels" if root is not None else None
    if path is not None and not _writable(path):
        path = None
    _warn_fallback(wanted, path)
    return path


def _write_atomic(path, text):
    # a reader (another process) sees the old file or the whole new one, never a part
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _ensure_file(path, source):
    """Make ``path`` hold exactly ``source``; False when the folder cannot be written."""
    source = source.encode("utf-8")
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        current = None
    except OSError:
        current = b""
    if current == source:
        return True
    if current is not None:
        # the name carries a hash of the source, so different text means damage (a truncated
        # write from an older numgrad, a disk error, an edit), not a newer version
        _warn_once(
            ("damaged", str(path)),
            f"numgrad: kernel cache file {path} was damaged (its text does not match what "
            "numgrad generates); rewriting it and recompiling its kernels",
        )
    try:
        _write_atomic(path, source)
        return True
    except OSError:
        return False


_FILE_HASHES = {}  # file path -> short hash of its bytes


def file_hash(path):
    """A short hash of the bytes of file ``path`` (read once per process), for generated
    kernels to name the versions of the files whose code Numba compiles into them (its cache
    only notices edits to a cached function's own file)."""
    got = _FILE_HASHES.get(path)
    if got is None:
        try:
            data = Path(path).read_bytes()
        except (OSError, TypeError):
            data = str(path).encode()
        got = _FILE_HASHES[path] = hashlib.sha1(data).hexdigest()[:12]
    return got


def _code_bytes(code):
    # what a function computes, without its line numbers or comments; nested code objects
    # (comprehensions) recursively, since their repr holds a memory address
    parts = [code.co_code, repr((code.co_names, code.co_varnames, code.co_freevars)).encode()]
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            parts.append(_code_bytes(c))
        elif isinstance(c, frozenset):  # set order varies between processes
            parts.append(repr(sorted(map(repr, c))).encode())
        else:
            parts.append(repr(c).encode())
    return b"\0".join(parts)


def source_hash(fn):
    """A short hash naming the version of function ``fn``'s code.

    Generated kernels embed it in their source, so editing a rule renames (rebuilds) the
    kernels built from it.  It hashes the compiled code (bytecode, names, constants, defaults),
    which is cheaper at a first call than ``inspect.getsource`` (that tokenizes the file) and
    ignores edits that change nothing (comments, other functions in the file).  Functions a rule
    calls are not covered: the builders add the hashes of the files those live in.
    """
    data = _code_bytes(fn.__code__) + repr(fn.__defaults__).encode()
    return hashlib.sha1(data).hexdigest()[:12]


def load_generated(stem, source):
    """Import generated ``source`` as a module cached on disk under a content hash.

    The module is compiled from ``source`` itself, never from the file's text: the file only
    exists because Numba caches a function by its source file.  Thread-safe: the module is
    published (returned to other threads) only once fully executed.
    """
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    modname = f"numgrad_gen_{stem}_{digest}"
    mod = _LOADED.get(modname)
    if mod is not None:
        return mod
    with BUILD_LOCK:
        mod = _LOADED.get(modname)
        if mod is not None:
            return mod
        folder = cache_dir()
        path = folder / f"{modname}.py" if folder is not None else None
        if path is not None and not _ensure_file(path, source):
            # the folder turned read-only since cache_dir() checked it
            _CACHE_DIRS[_wanted_dir()] = None
            _warn_fallback(folder, None)
            path = None
        if path is None:
            # no file to cache against: Numba would refuse cache=True for it
            source = source.replace("cache=True", "cache=False")
            filename = f"<numgrad generated {modname}>"
        else:
            filename = str(path)
        mod = types.ModuleType(modname)
        mod.__file__ = filename
        code = compile(source, filename, "exec")
        # in sys.modules while it runs, as an import would: Numba finds a cached function's
        # globals through its module name
        sys.modules[modname] = mod
        try:
            exec(code, mod.__dict__)
        except BaseException:
            sys.modules.pop(modname, None)
            raise
        _LOADED[modname] = mod
        return mod


# ---- Numba's cache: damaged entries, unwritable folders -------------------------------------


def _numba_caching():
    try:
        return importlib.import_module("numba.core.caching")
    except ImportError:  # pragma: no cover - numba always has it since 0.50
        return None


def _discard_damaged(path, err):
    try:
        os.unlink(path)
        what = "deleted it"
    except FileNotFoundError:
        what = "it is gone"
    except OSError:
        what = "could not delete it (ignoring it)"
    _warn_once(
        ("damaged", str(path)),
        f"numgrad: Numba cache file {path} is damaged ({type(err).__name__}: {err}); {what} "
        "and recompiling the kernel",
    )


def _install_numba_hooks():
    caching = _numba_caching()
    if caching is None or getattr(caching, "_numgrad_hooks", False):
        return
    caching._numgrad_hooks = True
    index_file = caching.IndexDataCacheFile
    cache = caching.Cache
    orig_load_index = index_file._load_index
    orig_load_data = index_file._load_data
    orig_load_overload = cache.load_overload
    orig_save_overload = cache.save_overload

    # tag read errors with the file they came from, so the handler below can name and
    # delete it; OSError from _load_data is already a cache miss for Numba
    def _load_index(self):
        try:
            return orig_load_index(self)
        except FileNotFoundError:
            raise
        except Exception as e:
            e.numgrad_cache_file = self._index_path
            raise

    def _load_data(self, name):
        try:
            return orig_load_data(self, name)
        except OSError:
            raise
        except Exception as e:
            e.numgrad_cache_file = self._data_path(name)
            raise

    def load_overload(self, sig, target_context):
        try:
            return orig_load_overload(self, sig, target_context)
        except Exception as e:
            if not _is_numgrad(getattr(self, "_py_func", None)):
                raise
            path = getattr(e, "numgrad_cache_file", None)
            if path is not None:
                _discard_damaged(path, e)
            else:
                # read fine but could not be rebuilt: a miss; the save after compiling
                # overwrites the entry
                _warn_once(
                    ("unloadable", self.cache_path),
                    f"numgrad: could not load a cached kernel of {self._name} from "
                    f"{self.cache_path} ({type(e).__name__}: {e}); recompiling it",
                )
            return None

    def save_overload(self, sig, data):
        try:
            return orig_save_overload(self, sig, data)
        except Exception as e:
            if not _is_numgrad(getattr(self, "_py_func", None)):
                raise
            # the kernel is compiled and works; only the next process pays for the miss
            if _FALLBACK_WARNED:
                return None  # the user was told already that the cache cannot be written
            _warn_once(
                ("unsaved",),
                f"numgrad: could not save a compiled kernel to {self.cache_path} "
                f"({type(e).__name__}: {e}); it will be compiled again in the next process",
            )

    index_file._load_index = _load_index
    index_file._load_data = _load_data
    cache.load_overload = load_overload
    cache.save_overload = save_overload
    _install_fallback_locator(caching)


def _install_fallback_locator(caching):
    """Append a last-resort locator for numgrad's kernels to Numba's list.

    Numba looks for a writable cache folder next to the source, then in the user cache
    folder; with neither (a read-only install and a read-only home) ``@njit(cache=True)``
    raises at decoration time, which would make ``import numgrad`` fail.  This locator
    is tried only after Numba's own and only for numgrad's functions.
    """
    base = (caching._SourceFileBackedLocatorMixin, caching._CacheLocator)

    class NumgradTempLocator(*base):
        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            root = temp_root()
            if root is not None:
                sub = self.get_suitable_cache_subpath(py_file)
                self._cache_path = os.path.join(root, "numba", sub)
            else:
                # no writable temp folder either: read what the install shipped in its
                # __pycache__, if anything; saves fail quietly (save_overload above)
                self._cache_path = os.path.join(os.path.dirname(py_file), "__pycache__")

        def get_cache_path(self):
            return self._cache_path

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _is_numgrad(py_func) or not os.path.exists(py_file):
                return None
            self = cls(py_func, py_file)
            where = f"{os.path.dirname(py_file)}/__pycache__ or Numba's user cache folder"
            try:
                self.ensure_cache_path()
                _warn_fallback(where, temp_root() / "numba")
            except OSError:
                _warn_fallback(where, None)
            return self

    locators = caching.CacheImpl._locator_classes
    if not any(c.__name__ == "NumgradTempLocator" for c in locators):
        locators.append(NumgradTempLocator)


# ---- fork: never inherit a lock another thread holds ----------------------------------------

try:
    from numba.core.compiler_lock import global_compiler_lock as _COMPILER_LOCK
except ImportError:  # pragma: no cover - present in every supported numba
    _COMPILER_LOCK = threading.RLock()


def _before_fork():
    # same order as a build (BUILD_LOCK, then Numba's lock inside it): no lock-order deadlock
    BUILD_LOCK.acquire()
    _COMPILER_LOCK.acquire()


def _after_fork():
    _COMPILER_LOCK.release()
    BUILD_LOCK.release()


_install_numba_hooks()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork
    )
