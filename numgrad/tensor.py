"""The Tensor: a numpy array (on the CPU) plus autograd bookkeeping.

Operators and math methods (``+``, ``exp``, ``sum`` ...) are attached by
:mod:`numgrad.functional`, which routes every one of them through the op table.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import dtypes as D
from .grad_mode import GRAD_MODE


class Device:
    """A device name; compares equal to its string (``t.device == "cpu"``)."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu"):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        s = str(spec)
        kind, _, idx = s.partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"unknown device {spec!r}; expected 'cpu' or 'cuda'")
        self.type = kind
        self.index = int(idx) if idx else None

    def __eq__(self, other):
        try:
            o = Device(other)
        except (RuntimeError, ValueError):
            return NotImplemented
        return self.type == o.type and (self.index == o.index or None in (self.index, o.index))

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')"


CPU = Device("cpu")


def check_device(device):
    """Resolve a device argument; CUDA raises until the CUDA backend exists."""
    if device is None:
        return CPU
    d = Device(device)
    if d.type == "cuda":
        raise RuntimeError(
            "numgrad's CUDA backend is not built yet: every op has a CUDA slot in the op table "
            "but no CUDA kernels are registered, so tensors can only live on device 'cpu'"
        )
    return d


def parse_to_args(args, dtype=None, device=None):
    """Split ``.to(...)`` positional arguments into (dtype, device), as torch accepts them."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, Device)) and str(a).split(":")[0] in ("cpu", "cuda"):
            device = a
        else:
            dtype = a
    return dtype, device


_PY_DTYPES = {bool: D.bool_, int: D.int64, float: D.DEFAULT_FLOAT}


def _infer_dtype(data):
    """torch's dtype for python data: python bools are bool, ints int64, floats float32; numpy
    scalars, arrays and tensors keep theirs; a sequence promotes its elements' dtypes
    (``[1, 2.5]`` float32, ``[True, 2]`` int64).  None for an empty sequence."""
    d = _PY_DTYPES.get(type(data))
    if d is not None:
        return d
    if isinstance(data, Tensor):
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
    if isinstance(data, Tensor):
        arr = data._data
        if dtype is not None:
            return arr.astype(D.as_dtype(dtype).np, copy=True)
        return arr.copy() if copy else arr
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


class Tensor:
    """An n-dimensional array that records operations for automatic differentiation.

    Mirrors ``torch.Tensor``: ``shape``, ``dtype``, ``device``, ``grad``, ``requires_grad``,
    ``backward()``, and the math methods and operators listed in the README.
    """

    # _base/_viewfn: for views, the tensor viewed and the chain of (op, attrs) producing the
    # view, so an in-place op on the view can rewrite the base's history (torch's CopySlices)
    __slots__ = ("_data", "_rg", "grad", "_node", "_version", "_base", "_viewfn", "__weakref__")
    __array_priority__ = 1000  # numpy defers to our reflected operators

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        check_device(device)
        self._init(_to_array(data, dtype), requires_grad)

    def _init(self, arr, requires_grad):
        self._data = arr
        self._rg = False
        self.grad = None
        self._node = None
        self._version = [0]
        self._base = None
        self._viewfn = None
        if requires_grad:
            self.requires_grad_(True)

    # ---- metadata --------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_norm_dim(dim, self._data.ndim)]

    def dim(self):
        return self._data.ndim

    @property
    def ndim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self):
        return D.from_np(self._data.dtype)

    @property
    def device(self):
        return CPU

    @property
    def is_cuda(self):
        return False

    def element_size(self):
        return self._data.itemsize

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ---- autograd state --------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, got dtype "
                f"{self.dtype.name} (shape {tuple(self._data.shape)})"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables; use detach() to get "
                "a tensor that does not require grad"
            )
        self._rg = bool(requires_grad)
        return self

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if self._node is None:
            if not self._rg:
                raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
            return
        self._node.retained = weakref.ref(self)

    @property
    def retains_grad(self):
        return self._node is not None and self._node.retained is not None

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``numgrad.autograd``)."""
        from .autograd import backward

        backward(
            [self],
            None if gradient is None else [gradient],
            retain_graph=retain_graph,
            create_graph=create_graph,
            inputs=inputs,
        )

    # ---- data access -----------------------------------------------------------------------
    @property
    def data(self):
        """The same storage, detached from the graph and from version tracking (as torch)."""
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._data = arr

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to a scalar "
                f"(shape {tuple(self._data.shape)})"
            )
        return self._data.reshape(()).item()

    def numpy(self, force=False):
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._data

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(shape {tuple(self._data.shape)})"
            )
        return bool(self._data.reshape(()).item())

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    def __reduce__(self):
        # pickling keeps values, dtype and requires_grad; the graph and .grad are not saved
        return (_rebuild, (type(self), self._data.copy(), self._rg))

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", precision=4, prefix="tensor(")
        extra = []
        if self._data.dtype not in (np.float32, np.int64, np.bool_):
            extra.append(f"dtype={self.dtype!r}")
        if self._node is not None:
            extra.append(f"grad_fn={self._node!r}")
        elif self._rg:
            extra.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extra)})"

    # ---- detaching, copying, conversion ----------------------------------------------------
    def detach(self):
        t = _wrap(self._data)
        t._version = self._version
        return t

    def detach_(self):
        if self._node is not None:
            self._node = None
        self._rg = False
        return self

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        dtype, device = parse_to_args(args, dtype, device)
        check_device(device)
        if dtype is not None:
            dt = D.as_dtype(dtype)
            if dt.np != self._data.dtype:
                from .functional import _cast

                return _cast(self, dt)
        if copy:
            return self.clone()
        return self

    def cpu(self):
        return self

    def cuda(self, device=None):
        return self.to("cuda")

    def float(self):
        return self.to(D.float32)

    def double(self):
        return self.to(D.float64)

    def half(self):
        """float16: stored in half precision, computed in float32 by every op (as torch's
        CPU kernels do); gradients are float16 too."""
        return self.to(D.float16)

    def long(self):
        return self.to(D.int64)

    def int(self):
        return self.to(D.int32)

    def bool(self):
        return self.to(D.bool_)

    def type(self, dtype=None):
        if dtype is None:
            return f"numgrad.{self.dtype.name}"
        return self.to(dtype)

    # ---- in-place data ops (no graph) --------------------------------------------------------
    def _check_inplace(self, what):
        if not GRAD_MODE.enabled:
            return
        if self._rg and self._node is None:
            raise RuntimeError(
                f"a leaf Variable that requires grad is being used in an in-place operation "
                f"({what}); wrap it in numgrad.no_grad() or use an out-of-place op"
            )
        base = self._base
        if base is not None and base._rg and base._node is None:
            raise RuntimeError(
                f"a view of a leaf Variable that requires grad is being used in an in-place "
                f"operation ({what}); wrap it in numgrad.no_grad()"
            )

    def _bump(self):
        self._version[0] += 1

    def zero_(self):
        self._check_inplace("zero_")
        self._data[...] = 0
        self._bump()
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self._data[...] = value.item() if isinstance(value, Tensor) else value
        self._bump()
        return self

    def copy_(self, src):
        """Copy ``src`` (broadcastable) into this tensor's storage, in place."""
        self._check_inplace("copy_")
        arr = src._data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.broadcast_shapes(arr.shape, self._data.shape)
            if np.broadcast_shapes(arr.shape, self._data.shape) != self._data.shape:
                raise ValueError
        except ValueError:
            raise RuntimeError(
                f"copy_: source shape {tuple(arr.shape)} cannot be broadcast to destination "
                f"shape {tuple(self._data.shape)}"
            ) from None
        if GRAD_MODE.enabled and isinstance(src, Tensor) and src._rg:
            from .functional import _inplace

            return _inplace(self, "copy", src)
        np.copyto(self._data, arr, casting="unsafe")
        self._bump()
        return self

    def _check_random_fill(self, fname):
        if self._data.dtype.kind != "f":
            raise NotImplementedError(
                f"\"{fname}\" not implemented for '{D.torch_name(self._data.dtype)}' (random "
                f"floats cannot be stored in a tensor of dtype {self.dtype.name})"
            )

    def uniform_(self, a=0.0, b=1.0):
        from .random import generator

        self._check_random_fill("uniform_")
        # torch's checks: finite bounds in the tensor's range, from <= to (numpy would
        # silently fill with inf/NaN or swap the bounds)
        fmax = float(np.finfo(self._data.dtype).max)
        for name, v in (("from", a), ("to", b)):
            if not -fmax <= v <= fmax:
                raise RuntimeError(
                    f"{name} is out of bounds for {self.dtype.name}: {v} (uniform_({a}, {b}))"
                )
        if a > b:
            raise RuntimeError(
                f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}"
            )
        self._check_inplace("uniform_")
        self._data[...] = generator().uniform(a, b, self._data.shape)
        self._bump()
        return self

    def normal_(self, mean=0.0, std=1.0):
        from .random import generator

        self._check_random_fill("normal_")
        if not std >= 0.0:  # also NaN, which numpy would accept and spread
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        self._check_inplace("normal_")
        self._data[...] = generator().normal(mean, std, self._data.shape)
        self._bump()
        return self

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return self.clone()


class Size(tuple):
    """``tensor.shape``: a tuple that prints like torch.Size and has ``numel()``."""

    __slots__ = ()

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"numgrad.Size({list(self)})"


def _norm_dim(dim, ndim):
    d = int(dim)
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return d + n if d < 0 else d


def _rebuild(cls, arr, requires_grad):
    t = cls.__new__(cls)
    t._init(arr, requires_grad)
    return t


def _wrap(arr):
    """Fast constructor for op results (no conversion, no checks; ``Tensor._init`` inlined
    because this runs once per op)."""
    t = Tensor.__new__(Tensor)
    t._data = arr
    t._rg = False
    t.grad = None
    t._node = None
    t._version = [0]
    t._base = None
    t._viewfn = None
    return t
