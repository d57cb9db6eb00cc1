"""``numgrad.save`` / ``numgrad.load``: pickle objects holding tensors (state dicts...).

A pickle can name any importable callable and call it while loading, so a plain
``pickle.load`` of a downloaded checkpoint can run any code.  As in torch (2.6 and later),
:func:`load` therefore defaults to ``weights_only=True``: a restricted unpickler that resolves
only the globals a checkpoint of tensors needs (numgrad tensors, Parameters, dtypes, shapes
and devices; numpy arrays, dtypes and scalars through the exact reconstructors numpy's pickles
name; numbers, strings, bytes and the standard containers) and refuses any other with an
``UnpicklingError`` naming it, before anything is called.  ``weights_only=False`` is the
explicit opt-in to plain pickle, for files you trust.
"""

from __future__ import annotations

import builtins
import codecs
import collections
import pickle

import numpy as np

from .dtypes import as_dtype
from .nn.parameter import Parameter
from .tensor import Device, Size, Tensor, _rebuild

_UNSAFE_HINT = (
    "numgrad.load defaults to weights_only=True, which only loads tensors, numpy arrays, "
    "numbers, strings and containers.  If you trust where this file came from, load it with "
    "numgrad.load(f, weights_only=False): that runs any code the file names."
)


def _safe_rebuild(cls, arr, requires_grad, device=None):
    # _rebuild receives the class from the file: only the two tensor classes, holding a plain
    # (non-object) numpy array, may be built
    if cls not in (Tensor, Parameter):
        raise pickle.UnpicklingError(
            f"Weights only load failed: cannot rebuild a tensor as {cls!r}"
        )
    if type(arr) is not np.ndarray or arr.dtype.hasobject:
        raise pickle.UnpicklingError(
            f"Weights only load failed: tensor data must be a numpy array of numbers, got "
            f"{type(arr).__name__}{' of objects' if isinstance(arr, np.ndarray) else ''}"
        )
    if device is not None and type(device) is not str:
        raise pickle.UnpicklingError(
            f"Weights only load failed: a tensor's device must be a string, got {device!r}"
        )
    return _rebuild(cls, arr, bool(requires_grad), device)


def _safe_dtype(*args):
    dt = np.dtype(*args)
    if dt.hasobject:
        raise pickle.UnpicklingError(
            "Weights only load failed: numpy arrays of Python objects (dtype=object) are not "
            "allowed; " + _UNSAFE_HINT
        )
    return dt


def _safe_encode(obj, encoding="utf-8", errors="strict"):
    # protocol-2 pickles spell bytes as _codecs.encode(str, "latin1"); nothing else needs it
    if encoding != "latin1" or not isinstance(obj, str):
        raise pickle.UnpicklingError(
            f"Weights only load failed: _codecs.encode is only allowed with 'latin1', got "
            f"{encoding!r}"
        )
    return codecs.encode(obj, encoding, errors)


def _numpy_globals():
    try:  # numpy 2 (numpy.core is a deprecated alias there)
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1
        from numpy.core import multiarray, numeric

    out = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _safe_dtype}
    # numpy 2 pickles name numpy._core, numpy 1 pickles numpy.core: files from either load
    for core in ("numpy.core", "numpy._core"):
        out[(core + ".multiarray", "_reconstruct")] = multiarray._reconstruct
        out[(core + ".multiarray", "scalar")] = multiarray.scalar
        out[(core + ".numeric", "_frombuffer")] = numeric._frombuffer
    return out


def _allowed_globals():
    allowed = {
        ("numgrad.tensor", "_rebuild"): _safe_rebuild,
        ("numgrad.tensor", "Tensor"): Tensor,
        ("numgrad.tensor", "Size"): Size,  # a shape kept in a checkpoint, as torch.Size
        ("numgrad.tensor", "Device"): Device,  # where Device lived before numgrad.storage
        ("numgrad.storage", "Device"): Device,
        ("numgrad.nn.parameter", "Parameter"): Parameter,
        ("numgrad.dtypes", "as_dtype"): as_dtype,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _safe_encode,
    }
    for name in ("set", "frozenset", "complex", "bytearray", "slice", "range"):
        allowed[("builtins", name)] = getattr(builtins, name)
        allowed[("__builtin__", name)] = getattr(builtins, name)  # protocol < 3 spelling
    allowed.update(_numpy_globals())
    return allowed


_ALLOWED = None


class _WeightsOnlyUnpickler(pickle.Unpickler):
    """Resolves only the globals in :func:`_allowed_globals`; everything else is refused."""

    def find_class(self, module, name):
        global _ALLOWED
        if _ALLOWED is None:
            _ALLOWED = _allowed_globals()
        fn = _ALLOWED.get((module, name))
        if fn is None:
            raise pickle.UnpicklingError(
                f"Weights only load failed: unsupported global {module}.{name} (it is not a "
                f"tensor, array, number, string or container; nothing from the file was run).  "
                + _UNSAFE_HINT
            )
        return fn

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(
            f"Weights only load failed: unsupported persistent id {pid!r}.  " + _UNSAFE_HINT
        )


def _check_no_objects(obj):
    # numpy's BUILD step (ndarray.__setstate__) sets an array's dtype after _reconstruct made
    # it, so an object array can only be caught once the load is done; its elements went
    # through find_class too, so this check is about handing numba data it cannot type
    stack, seen = [obj], set()
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, Tensor):
            o = o._data
        if isinstance(o, np.ndarray):
            if o.dtype.hasobject:
                raise pickle.UnpicklingError(
                    "Weights only load failed: numpy arrays of Python objects (dtype=object) "
                    "are not allowed; " + _UNSAFE_HINT
                )
        elif isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            stack.extend(o)


def save(obj, f):
    """Pickle ``obj`` (tensors, state dicts, optimizer state) to a path or open binary file."""
    if hasattr(f, "write"):
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        return
    with open(f, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _load(fh, weights_only):
    if not weights_only:
        return pickle.load(fh)
    obj = _WeightsOnlyUnpickler(fh).load()
    _check_no_objects(obj)
    return obj


def load(f, map_location=None, *, weights_only=None):
    """Load what :func:`save` wrote, from a path or an open binary file.

    ``weights_only`` (default True, as torch): only tensors, Parameters, numpy arrays, numbers,
    strings, bytes and containers (dict, OrderedDict, list, tuple, set) are rebuilt; any other
    global raises ``pickle.UnpicklingError`` naming it.  ``weights_only=False`` runs plain
    pickle: only use it on files you trust, since a pickle can run arbitrary code.
    ``map_location`` is accepted for torch compatibility; numgrad tensors load to the CPU.
    """
    weights_only = True if weights_only is None else bool(weights_only)
    if hasattr(f, "read"):
        return _load(f, weights_only)
    with open(f, "rb") as fh:
        return _load(fh, weights_only)
