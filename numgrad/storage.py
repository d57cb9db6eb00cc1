"""The storage layer: what a tensor holds, below everything that computes with it.

:class:`TensorBase` declares a tensor's slots (its array, the Device whose memory holds it, and
its autograd bookkeeping) and nothing else.  The class users see, :class:`numgrad.tensor.Tensor`,
subclasses it and defines every method in one file, above the functions its methods are.  The
layers in between (the tape, dispatch, the public functions, autograd) test
``isinstance(x, TensorBase)`` and make their results with :func:`_wrap`, which builds the class
that :mod:`numgrad.tensor` registers with :func:`set_tensor_class` when it is imported: the hook
by which a lower layer makes objects of a higher one (torch's C++ core makes Python
``torch.Tensor`` objects the same way).

Also here, because every layer above needs them: :class:`Device` (one object per device
string), converting user data to arrays with torch's dtype rules (:func:`_to_array`), and dim
normalisation.  Imports from numgrad only the dtypes and the op table (the registry's device
API and the ``transfer`` op between devices).
"""

from __future__ import annotations

import sys

import numpy as np

from . import dtypes as D
from .capture import CAPTURE, host_read
from .ops.registry import _ARRAYS as _ARRAY_APIS
from .ops.registry import device_arrays
from .ops.transfer import transfer as _transfer


class Device:
    """A device: ``type`` (the name its kernels and array API are registered under, see
    ``numgrad.ops.registry.register_device``), ``index`` and ``arrays`` (its array API).

    One object per device string (``Device("cpu") is CPU``), so dispatch compares the devices
    of an op's inputs by identity.  Compares equal to its string (``t.device == "cpu"``).
    """

    __slots__ = ("type", "index", "arrays")

    def __new__(cls, spec="cpu"):
        if type(spec) is Device:
            return spec
        d = _DEVICE_OBJECTS.get(spec)
        if d is not None:
            return d
        s = str(spec)
        kind, _, idx = s.partition(":")
        arrays = device_arrays(kind)
        if arrays is None and kind != "cuda":  # cuda: a name torch code uses; refused on use
            raise RuntimeError(
                f"unknown device {spec!r}; expected one of {', '.join(sorted(_known_devices()))}"
            )
        try:
            index = int(idx) if idx else None
        except ValueError:
            raise RuntimeError(
                f"invalid device string {spec!r}: the index must be an integer"
            ) from None
        d = _DEVICE_OBJECTS.get(s if index is None else f"{kind}:{index}")
        if d is None:
            d = object.__new__(cls)
            d.type = kind
            d.index = index
            d.arrays = arrays
            _DEVICE_OBJECTS[str(d)] = d
        if isinstance(spec, str):
            _DEVICE_OBJECTS[spec] = d
        return d

    def __eq__(self, other):
        if other is self:
            return True
        try:
            o = Device(other)
        except (RuntimeError, ValueError, TypeError):
            return NotImplemented
        return self.type == o.type and (self.index == o.index or None in (self.index, o.index))

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (Device, (str(self),))


_DEVICE_OBJECTS: dict = {}  # device string -> its one Device object


def _is_dtype_name(s):
    try:
        D.as_dtype(s)
    except TypeError:
        return False
    return True


def _known_devices():
    return {"cuda", *_ARRAY_APIS}


CPU = Device("cpu")


def check_device(device):
    """Resolve a device argument (None: the CPU) to its Device; a device whose package is not
    available (CUDA without a GPU) raises."""
    if device is None:
        return CPU
    d = Device(device)
    if d.arrays is None:
        d.arrays = device_arrays(d.type)  # its package may have registered since
        if d.arrays is None:
            raise RuntimeError(
                f"device {str(d)!r} is not available: numgrad.cuda.is_available() is False (no "
                "NVIDIA GPU or driver, or numba-cuda is not installed: pip install "
                "'numgrad[cuda]'; without a GPU, NUMBA_ENABLE_CUDASIM=1 set before numba is "
                "imported runs the CUDA kernels in Numba's simulator)"
            )
    if d.type == "cuda" and d.index != 0:
        # tensors live on one device object per device (dispatch compares by identity):
        # "cuda" means the current device, cuda:0, as in torch; numgrad drives one GPU
        if d.index is not None:
            raise RuntimeError(
                f"CUDA error: invalid device ordinal: numgrad uses one CUDA device, cuda:0 "
                f"(asked for {d})"
            )
        d = Device("cuda:0")
        if d.arrays is None:
            d.arrays = device_arrays("cuda")
    return d


_PY_DTYPES = {bool: D.bool_, int: D.int64, float: D.DEFAULT_FLOAT}


def _infer_dtype(data):
    """torch's dtype for python data: python bools are bool, ints int64, floats float32; numpy
    scalars, arrays and tensors keep theirs; a sequence promotes its elements' dtypes
    (``[1, 2.5]`` float32, ``[True, 2]`` int64).  None for an empty sequence."""
    d = _PY_DTYPES.get(type(data))
    if d is not None:
        return d
    if isinstance(data, TensorBase):
        return data.dtype
    if isinstance(data, (np.ndarray, np.generic)):
        return D.from_np(data.dtype)
    if isinstance(data, (list, tuple)):
        kinds = set(map(type, data))
        out = None
        if kinds <= _PY_DTYPES.keys():  # the common case, a flat list of python numbers
            for k in kinds:
                out = _PY_DTYPES[k] if out is None else D.promote(out, _PY_DTYPES[k])
            return out
        for v in data:
            d = _infer_dtype(v)
            if d is not None:
                out = d if out is None else D.promote(out, d)
        return out
    raise TypeError(
        f"could not convert data of type {type(data).__name__} to a tensor: expected numbers, "
        "booleans, sequences of them, numpy arrays or tensors"
    )


def _checked_cast(arr, src, dt):
    """Cast python data built as ``arr`` (dtype ``src``) to ``dt``, refusing what torch refuses:
    a value outside an integer type's range (c10::overflows; a float must also be finite)."""
    npt = dt.np
    if npt.kind in "iu" and arr.size and src.np.kind in "iuf":
        info = np.iinfo(npt)
        if src.np.kind == "f":  # truncates toward 0; max + 1 is exact in float64, max is not
            bad = ~((arr >= info.min) & (arr < float(info.max + 1)))  # NaN is bad too
        else:
            bad = (arr > info.max) | (arr < (info.min if npt.kind == "i" else -info.max))
        if bad.any():
            v = arr[bad].reshape(-1)[0]
            raise RuntimeError(
                f"value cannot be converted to type {npt.name} without overflow: "
                f"{v.item()!r} (data of dtype {src.name})"
            )
    with np.errstate(over="ignore"):  # float16/float32 overflow to inf, as in torch
        return arr.astype(npt)


def _to_array(data, dtype=None, copy=True):
    """Convert user data to a numpy array with torch's dtype inference and overflow checks."""
    if isinstance(data, TensorBase):
        arr = data._data
        api = data._device.arrays
        if dtype is not None and D.as_dtype(dtype).np != arr.dtype:
            return api.cast(arr, D.as_dtype(dtype).np)
        return api.copy(arr) if copy else arr
    if isinstance(data, (np.ndarray, np.generic)) or not isinstance(
        data, (bool, int, float, list, tuple)
    ):
        # numpy data keeps its dtype (as torch.tensor does); other array-likes go through numpy
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as e:
            raise TypeError(
                f"could not convert data of type {type(data).__name__} to a tensor: {e}"
            ) from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"could not convert data of type {type(data).__name__} (numpy dtype {arr.dtype}) "
                "to a tensor: expected numbers or booleans"
            )
        if dtype is not None:
            return np.array(arr, dtype=D.as_dtype(dtype).np, copy=True)
        D.from_np(arr.dtype)
        return np.array(arr, copy=True) if copy else arr
    # python numbers and sequences: torch's inference, and no silent wrap-around
    natural = _PY_DTYPES.get(type(data))
    if natural is not None and dtype is None and -(2**63) <= data < 2**63:
        return np.array(data, dtype=natural.np)  # a python number (its own dtype, in range)
    natural = natural or _infer_dtype(data) or D.DEFAULT_FLOAT
    # python floats are doubles: build in float64 so a later cast rounds once, as torch does
    build = np.float64 if natural.is_floating_point else natural.np
    try:
        arr = np.asarray(data, dtype=build)
    except OverflowError:
        raise ValueError(
            f"Overflow when unpacking long long: python integers in the data do not fit in "
            f"int64 (the range of numgrad's integers is [{-(2**63)}, {2**63 - 1}])"
        ) from None
    except (ValueError, TypeError) as e:
        raise TypeError(
            f"could not convert data of type {type(data).__name__} to a tensor: {e}"
        ) from None
    target = natural if dtype is None else D.as_dtype(dtype)
    if arr.dtype != target.np:
        arr = _checked_cast(arr, D.from_np(arr.dtype), target)
    return arr


class TensorBase:
    """The slots of a tensor, without methods (see :class:`numgrad.tensor.Tensor`).

    ``_data``: the array, held in the memory of ``_device`` (the Device, whose array API and
    kernels run on it); ``_rg``: requires grad; ``_node``: the tape entry that made it (None for
    a leaf); ``_version``: a one-element list shared by views of one storage, bumped by every
    in-place write; ``_base``/``_viewfn``: for views, the tensor viewed and the chain of
    (op, attrs) producing the view, so an in-place op on the view can rewrite the base's
    history (torch's CopySlices).
    """

    __slots__ = (
        "_data",
        "_device",
        "_rg",
        "grad",
        "_node",
        "_version",
        "_base",
        "_viewfn",
        "__weakref__",
    )


_new = object.__new__
_TENSOR_CLASS = None  # numgrad.tensor.Tensor, registered by set_tensor_class at its import


def set_tensor_class(cls):
    """Called once by :mod:`numgrad.tensor`: the class :func:`_wrap` makes (the layers below
    it cannot import it without an import cycle)."""
    global _TENSOR_CLASS
    _TENSOR_CLASS = cls


def _wrap(arr, device=CPU):
    """Fast constructor for op results: a tensor of the registered class (``Tensor._init``
    inlined because this runs once per op).  ``arr`` lives on ``device``, or is a numpy array
    computed on the host for a tensor of another device (a host utility's result: ``nonzero``,
    ``unique``...), which is copied there."""
    if device is not CPU and type(arr) is np.ndarray:
        arr = device.arrays.from_host(arr)
    t = _new(_TENSOR_CLASS)
    t._data = arr
    t._device = device
    t._rg = False
    t.grad = None
    t._node = None
    t._version = [0]
    t._base = None
    t._viewfn = None
    return t


def host_data(t, check_only=False):
    """``t``'s values as a numpy array: its own array on the CPU (and on numpy-backed devices),
    a copy from a GPU.  For the host-side utilities (``nonzero``, ``unique``, loss validation),
    which torch also runs with a device-to-host copy.

    Inside a step ``numgrad.compile`` is tracing, a read whose values decide a result (its
    shape, a branch) raises ``HostSyncError``, as ``.item()`` does: the compiled step would
    replay it frozen.  ``check_only=True`` marks a read that only decides whether to raise
    (input validation): allowed there, and not repeated by the compiled step."""
    if CAPTURE.active and not check_only:
        host_read(f"{sys._getframe(1).f_code.co_name}() (its result depends on the values)")
    if t._device is CPU:
        return t._data
    return np.asarray(t._device.arrays.to_host(t._data))


def move_to_device(t, device):
    """Move ``t``'s storage to ``device`` in place (``Module.to``: parameters stay the same
    objects, so optimizers and state dicts keep referring to them)."""
    if t._device is not device:
        t._data = _transfer(t._data, t._device, device)
        t._device = device
        t._version[0] += 1  # as an in-place write: views and saved copies see it


def tensor_from(data, dtype=None, device=CPU):
    """A new tensor on ``device`` (a Device) holding a copy of python or numpy ``data``:
    ``Tensor(data)`` for the layers below the Tensor class."""
    return _wrap(device.arrays.from_host(_to_array(data, dtype)), device)


def _norm_dim(dim, ndim):
    d = int(dim)
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return d + n if d < 0 else d
