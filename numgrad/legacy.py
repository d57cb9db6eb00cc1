"""torch habits that real code still uses: the legacy typed constructors (``FloatTensor``,
``LongTensor`` ...; ``Tensor(2, 3)`` itself is in the Tensor class), ``out=`` on functions,
the default dtype and device, ``inference_mode`` and ``no_grad`` as decorators, a few global
switches, and the clear refusal of sparse tensors.  (numpy's ``axis=``/``keepdims=`` are in
numgrad.functional, ``autograd.Variable`` in numgrad/autograd/variable.py.)

Each adapter is one small wrapper applied once at import to the public functions it serves
(never to the operators, so ``a + b`` pays nothing for them).
"""

from __future__ import annotations

import functools
import warnings

from . import dtypes as D
from .grad_mode import GRAD_MODE
from .grad_mode import no_grad as _no_grad
from .storage import _PY_DTYPES, CPU, TensorBase, check_device, set_tensor_class
from .tensor import Tensor

# ---- default dtype and device -----------------------------------------------------------------


def get_default_dtype():
    """The dtype python floats become (``tensor([1.0])``, ``zeros(2)``): float32 unless
    changed by :func:`set_default_dtype`."""
    return D.DEFAULT_FLOAT


def set_default_dtype(d):
    """Make ``d`` (a floating dtype) the dtype of python floats and of the float creation
    functions, as torch.set_default_dtype; integer dtypes raise TypeError as in torch."""
    dt = D.as_dtype(d)
    if not dt.is_floating_point:
        raise TypeError(
            f"only floating-point types are supported as the default type (got {dt.name})"
        )
    D.set_default_float(dt)
    _PY_DTYPES[float] = dt  # the inference table of python data (``tensor([1.0])``)


def get_default_device():
    """The device creation functions use without ``device=``: the CPU."""
    return CPU


def set_default_device(device):
    """torch.set_default_device.  numgrad's tensors live on the CPU until another backend is
    built: ``None`` and ``"cpu"`` are accepted, ``"cuda"`` raises the error every CUDA
    tensor raises (docs/devices.md), any other device NotImplementedError."""
    if device is None:
        return
    dev = check_device(device)
    if dev is not CPU:
        raise NotImplementedError(
            f"set_default_device({device!r}): numgrad creates tensors on the CPU by default; "
            f"pass device={str(dev)!r} to the creation function instead"
        )


# ---- inference mode ---------------------------------------------------------------------------

# Tensors made inside inference_mode are of a subclass of Tensor whose is_inference() is True:
# entering the mode registers it as the class op results are made as (storage's
# set_tensor_class hook, the one _wrap reads), leaving it restores Tensor.  Nothing is added to
# the per-op path.


def _inference_class(tensor_cls):
    """The inference form of ``tensor_cls``: a subclass whose ``is_inference()`` is True."""

    def is_inference(self):
        return True

    def __reduce__(self):  # pickles as a plain Tensor
        fn, args = tensor_cls.__reduce__(self)
        return fn, (tensor_cls, *args[1:])

    inference_cls = type(
        "Tensor",
        (tensor_cls,),
        {
            "__slots__": (),
            "__module__": tensor_cls.__module__,
            "__qualname__": "Tensor",
            "__doc__": "A tensor made inside ``inference_mode`` (``is_inference()`` is True).",
            "is_inference": is_inference,
            "__reduce__": __reduce__,
        },
    )
    return inference_cls


_TENSOR_CLASSES = {False: Tensor, True: _inference_class(Tensor)}


class _InferenceState:
    depth = 0


class inference_mode(_no_grad):
    """torch.inference_mode: no recording (like ``no_grad``), and tensors made inside report
    ``is_inference()``.  A context manager and a decorator, with or without parentheses;
    ``inference_mode(False)`` changes nothing.  Differences from torch: numgrad does not
    forbid using inference tensors in autograd later, and while any thread is inside the mode
    the tensors other threads make report ``is_inference()`` too (their recording is not
    affected: grad mode is per thread)."""

    def __new__(cls, mode=True):
        if callable(mode):  # @inference_mode without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.enabled = bool(mode)

    def __enter__(self):
        self.prev = GRAD_MODE.enabled
        if self.enabled:
            GRAD_MODE.enabled = False
            _InferenceState.depth += 1
            if _InferenceState.depth == 1:
                set_tensor_class(_TENSOR_CLASSES[True])
        return self

    def __exit__(self, *exc):
        GRAD_MODE.enabled = self.prev
        if self.enabled:
            _InferenceState.depth -= 1
            if _InferenceState.depth == 0:
                set_tensor_class(_TENSOR_CLASSES[False])
        return False

    def __call__(self, fn):
        mode = self.enabled

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with inference_mode(mode):
                return fn(*a, **k)

        return wrapper


def is_inference_mode_enabled():
    """True inside an ``inference_mode()`` block."""
    return _InferenceState.depth > 0


class no_grad(_no_grad):
    """torch.no_grad: a context manager and a decorator, with or without parentheses."""

    def __new__(cls, fn=None):
        if fn is not None and callable(fn):
            return cls()(fn)
        return super().__new__(cls)

    def __init__(self, fn=None):
        pass


# ---- out= -------------------------------------------------------------------------------------


def _category(npd):
    return 0 if npd.kind == "b" else (1 if npd.kind in "iu" else 2)


def write_out(result, out, fname, exact=False):
    """Store ``result`` into the tensor ``out`` as torch's ``out=`` does: the result's dtype
    must cast to ``out``'s without changing category (float into int raises), or equal it
    for ``exact`` functions (matmul); a wrong shape resizes ``out`` (with torch's warning
    when it held elements); no autograd through ``out=``."""
    if not isinstance(out, TensorBase):
        raise TypeError(f"{fname}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if not isinstance(result, TensorBase):
        raise TypeError(f"{fname}(): out= is not supported for a result of several tensors")
    r, o = result._data.dtype, out._data.dtype
    if exact and r != o:
        raise RuntimeError(
            f"Expected out tensor to have dtype {D.torch_name(r).lower()}, but got "
            f"{D.torch_name(o).lower()} instead ({fname}: result {tuple(result.shape)}, out "
            f"{tuple(out.shape)})"
        )
    if _category(r) > _category(o):
        raise RuntimeError(
            f"result type {D.torch_name(r)} can't be cast to the desired output type "
            f"{D.torch_name(o)} ({fname}(..., out=) with out of dtype {out.dtype.name})"
        )
    if result._device is not out._device:
        raise RuntimeError(
            f"{fname}(): expected out tensor on device {result._device}, but got {out._device}"
        )
    if out._data.shape != result._data.shape:
        if out._data.size:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out._data.shape)}, which does not match the required output shape "
                f"{list(result._data.shape)}. This behavior is deprecated, and in a future "
                f"PyTorch release outputs will not be resized unless they have zero elements. "
                f"You can explicitly reuse an out tensor t by resizing it, inplace, to zero "
                f"elements with t.resize_(0). ({fname})",
                UserWarning,
                stacklevel=3,
            )
        api = out._device.arrays
        out._data = api.cast(result._data, o) if r != o else api.copy(result._data)
        out._version[0] += 1
        return out
    out._device.arrays.assign(out._data, result._data)
    out._version[0] += 1
    return out


def _needs_grad(args, kw):
    for a in (*args, *kw.values()):
        if isinstance(a, TensorBase) and a._rg:
            return True
        if isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, TensorBase) and b._rg:
                    return True
    return False


def accepts_out(fn, exact=False):
    """``fn`` also taking ``out=`` (a tensor the result is written into, and returned)."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kw):
        if out is None:
            return fn(*args, **kw)
        if GRAD_MODE.enabled and (out._rg or _needs_grad(args, kw)):
            raise RuntimeError(
                f"{name}(): functions with out=... arguments don't support automatic "
                "differentiation, but one of the arguments requires grad."
            )
        return write_out(fn(*args, **kw), out, name, exact)

    return wrapper


# ---- legacy typed constructors ----------------------------------------------------------------


class _LegacyType(type):
    """Metaclass of ``FloatTensor`` & co: calling one makes a tensor of its dtype (sizes, a
    sequence or a numpy array, as ``Tensor._legacy_array`` reads them), and
    ``isinstance(t, FloatTensor)`` tests ``t``'s dtype, as torch's legacy types do."""

    def __call__(cls, *args, device=None):
        if len(args) == 1 and isinstance(args[0], TensorBase):
            t = args[0]
            if t._data.dtype != cls.dtype.np:
                raise TypeError(
                    f"{cls.__name__}(): expected a tensor of dtype {cls.dtype.name}, got "
                    f"{t.dtype.name}"
                )
            return t
        return Tensor(Tensor._legacy_array(args, cls.dtype, cls.__name__), device=device)

    def __instancecheck__(cls, obj):
        return isinstance(obj, TensorBase) and obj._data.dtype == cls.dtype.np

    def __repr__(cls):
        return f"<class 'numgrad.{cls.__name__}'>"


def _legacy(dt):
    name = Tensor._LEGACY_NAMES[dt.name]
    return _LegacyType(
        name, (), {"dtype": dt, "__doc__": f"torch.{name}: a {dt.name} tensor (legacy form)."}
    )


FloatTensor = _legacy(D.float32)
DoubleTensor = _legacy(D.float64)
HalfTensor = _legacy(D.float16)
LongTensor = _legacy(D.int64)
IntTensor = _legacy(D.int32)
ByteTensor = _legacy(D.uint8)
BoolTensor = _legacy(D.bool_)


# ---- sparse tensors: out of scope --------------------------------------------------------------


def _no_sparse(call):
    """The error for every sparse-tensor entry point: numgrad's tensors are dense."""
    return NotImplementedError(
        f"numgrad has no sparse tensors: {call} is not supported (numgrad's tensors are dense "
        "and strided; use a dense tensor, e.g. numgrad.zeros(size) filled by index)"
    )


def sparse_coo_tensor(indices, values, size=None, **kwargs):
    """torch.sparse_coo_tensor: raises, numgrad has no sparse tensors."""
    raise _no_sparse("sparse_coo_tensor()")


def sparse_csr_tensor(*args, **kwargs):
    """torch.sparse_csr_tensor: raises, numgrad has no sparse tensors."""
    raise _no_sparse("sparse_csr_tensor()")


# ---- global switches torch code sets -----------------------------------------------------------

_SWITCHES = {"matmul_precision": "highest", "deterministic": False}


def set_float32_matmul_precision(precision):
    """torch.set_float32_matmul_precision: accepted and kept; numgrad's float32 matrix
    products always compute in full float32 ("highest")."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(
            f"Invalid precision {precision!r}: expected 'highest', 'high' or 'medium'"
        )
    _SWITCHES["matmul_precision"] = precision


def get_float32_matmul_precision():
    """The value last given to :func:`set_float32_matmul_precision` ("highest" by default)."""
    return _SWITCHES["matmul_precision"]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """torch.use_deterministic_algorithms: kept; numgrad's CPU kernels are deterministic
    already (same inputs, same threads: same bits)."""
    _SWITCHES["deterministic"] = bool(mode)


def are_deterministic_algorithms_enabled():
    """The value last given to :func:`use_deterministic_algorithms`."""
    return _SWITCHES["deterministic"]
