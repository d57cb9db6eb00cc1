"""The Tensor: every method and operator of ``numgrad.Tensor``, in one class body.

The class sits above the functions its methods are: the math methods and operators (``+``,
``exp``, ``sum`` ...) are the public functions of :mod:`numgrad.functional` themselves, the
in-place ones come from :mod:`numgrad.inplace`, ``backward`` from :mod:`numgrad.autograd`.
Its slots are declared by :class:`numgrad.storage.TensorBase`, which is all the layers below
(tape, dispatch, the functions) know of it; they make op results of this class through the
hook ``storage.set_tensor_class``, called at the end of this module.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import dlpack as _dlpack
from . import dtypes as D
from . import functional as F
from . import hooks as _hooks
from . import inplace
from . import tape as _tape
from .autograd.engine import backward as _backward
from .capture import CAPTURE, capture, host_read
from .grad_mode import GRAD_MODE
from .ops.transfer import transfer as _transfer
from .printing import tensor_format, tensor_repr
from .random import generator as _np_gen
from .storage import (  # noqa: F401  (move_to_device: for nn.Module, as numgrad.tensor's)
    CPU,
    Device,
    TensorBase,
    _is_dtype_name,
    _norm_dim,
    _to_array,
    _wrap,
    check_device,
    move_to_device,
    set_tensor_class,
)


def parse_to_args(args, dtype=None, device=None):
    """Split ``.to(...)`` positional arguments into (dtype, device), as torch accepts them."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
            device = a._device
        elif isinstance(a, Device) or (isinstance(a, str) and not _is_dtype_name(a)):
            device = a  # checked by check_device: an unknown name raises naming the devices
        else:
            dtype = a
    return dtype, device


class Tensor(TensorBase):
    """An n-dimensional array that records operations for automatic differentiation.

    Mirrors ``torch.Tensor``: ``shape``, ``dtype``, ``device``, ``grad``, ``requires_grad``,
    ``backward()``, and the math methods and operators listed in the README.  The slots (the
    array, its device, the autograd bookkeeping) are declared by ``TensorBase``.
    """

    __slots__ = ()
    __array_priority__ = 1000  # numpy defers to our reflected operators

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        """torch's legacy constructor: ``Tensor(d0, d1, ...)`` (or a ``Size``) is a zero-filled
        tensor of that size, ``Tensor()`` an empty one, ``Tensor(sequence)`` the data in the
        default dtype (float32); ``dtype=`` overrides it.  A numpy array or a tensor keeps its
        dtype (torch.Tensor converts numpy data to float32).  ``numgrad.tensor`` infers."""
        if len(args) == 1 and isinstance(args[0], (TensorBase, np.ndarray)):
            data = args[0]
        else:
            dt = D.DEFAULT_FLOAT if dtype is None else D.as_dtype(dtype)
            data = Tensor._legacy_array(args, dt, "Tensor")
        self._init_data(data, dtype, device, requires_grad)

    def _init_data(self, data, dtype=None, device=None, requires_grad=False):
        """Fill this new tensor from ``data`` with ``numgrad.tensor``'s dtype inference."""
        dev = check_device(device)
        if isinstance(data, Tensor):
            if device is None:
                dev = data._device
            arr = _to_array(data, dtype)  # a new array on data's device
            if data._device is not dev:
                arr = _transfer(arr, data._device, dev)
        else:
            arr = dev.arrays.from_host(_to_array(data, dtype))
        self._init(arr, requires_grad, dev)

    def _init(self, arr, requires_grad, device=None):
        self._data = arr
        self._device = CPU if device is None else device
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
        return self._device

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    def element_size(self):
        return self._data.itemsize

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_contiguous(self):
        if self._device is CPU:
            return bool(self._data.flags.c_contiguous)
        return bool(self._device.arrays.is_contiguous(self._data))

    def _host(self):
        """This tensor's values as a numpy array (its own array on the CPU; a copy from a GPU)."""
        if self._device is CPU:
            return self._data
        return self._device.arrays.to_host(self._data)

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

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed in
        backward; a returned tensor replaces the gradient.  Returns a handle (``.remove()``)."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._node is None:
            hooks = _tape.leaf_hooks(_tape.LEAF_HOOKS, self, create=True)
        else:
            hooks = _tape.leaf_hooks(_tape.NODE_HOOKS, self._node, create=True)
        return _hooks.add(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after backward has accumulated into this leaf's ``.grad``."""
        if self._node is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = _tape.leaf_hooks(_tape.POST_ACCUMULATE_HOOKS, self, create=True)
        return _hooks.add(hooks, hook)

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
        _backward(
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
        return _wrap(self._data, self._device)

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            self._data = value._data
            self._device = value._device
        else:
            self._data = self._device.arrays.from_host(np.asarray(value))

    def item(self):
        if CAPTURE.active:  # numgrad.compile: a host read would freeze a value into code
            host_read(".item()")
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to a scalar "
                f"(shape {tuple(self._data.shape)})"
            )
        return self._host().reshape(()).item()

    def numpy(self, force=False):
        if CAPTURE.active:
            host_read(".numpy()")
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if self._device is not CPU and self._device.type == "cuda":
            self._refuse_numpy()
        return self._data

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        """Export for ``torch.from_dlpack`` / ``np.from_dlpack`` (no copy; numgrad.dlpack)."""
        if self._rg:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return _dlpack.tensor_dlpack(self, stream)

    def __dlpack_device__(self):
        return _dlpack.tensor_dlpack_device(self)

    @property
    def __cuda_array_interface__(self):
        """The CUDA array interface of a CUDA tensor (torch's: an AttributeError on the CPU);
        ``"stream": None``, as numgrad's work is ordered on the default stream."""
        if self._device.type != "cuda":
            raise AttributeError(
                f"Can't get __cuda_array_interface__ on non-CUDA tensor type: {self._device}"
            )
        if self._rg:
            raise RuntimeError(
                "Can't get __cuda_array_interface__ on Variable that requires grad. If gradients "
                "aren't required, use var.detach() to get Variable that doesn't require grad."
            )
        return _dlpack.cuda_array_interface(self._data)

    def _refuse_numpy(self):
        raise TypeError(
            f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() to "
            "copy the tensor to host memory first."
        )

    def tolist(self):
        if CAPTURE.active:
            host_read(".tolist()")
        return self._host().tolist()

    def __array__(self, dtype=None, copy=None):
        if CAPTURE.active:
            host_read("numpy conversion (np.asarray)")
        if self._device is not CPU and self._device.type == "cuda":
            self._refuse_numpy()
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
        if CAPTURE.active:
            host_read("bool()")
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(shape {tuple(self._data.shape)})"
            )
        return bool(self._host().reshape(()).item())

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    def __reduce__(self):
        # pickling keeps values, dtype, requires_grad and the device; the graph and .grad are
        # not saved (a CPU tensor pickles as it always did)
        host = self._device.arrays.to_host(self._data)
        if self._device is CPU:
            return (_rebuild, (type(self), host.copy(), self._rg))
        return (_rebuild, (type(self), np.array(host, copy=True), self._rg, str(self._device)))

    # ---- detaching, copying, conversion ----------------------------------------------------
    def detach(self):
        t = _wrap(self._data, self._device)
        t._version = self._version
        return t

    def detach_(self):
        if self._node is not None:
            self._node = None
        self._rg = False
        return self

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        dtype, device = parse_to_args(args, dtype, device)
        dev = self._device if device is None else check_device(device)
        out = self
        if dtype is not None:
            dt = D.as_dtype(dtype)
            if dt.np != self._data.dtype:
                out = F._cast(self, dt)
        if dev is not self._device:
            return F._to_device(out, dev)
        if copy and out is self:
            return self.clone()
        return out

    def cpu(self):
        return self if self._device is CPU else F._to_device(self, CPU)

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

    def type(self, dtype=None, non_blocking=False):
        """No argument: the legacy type name (``'numgrad.FloatTensor'``, torch's form);
        otherwise a dtype, a legacy type (``numgrad.LongTensor``) or its name to convert to."""
        if dtype is None:
            return f"numgrad.{Tensor._LEGACY_NAMES[self.dtype.name]}"
        if isinstance(dtype, type) and isinstance(getattr(dtype, "dtype", None), D.DType):
            return self.to(dtype.dtype)  # a legacy type: FloatTensor's dtype is float32
        if isinstance(dtype, str):
            name = dtype.removeprefix("numgrad.").removeprefix("torch.")
            for dt_name, legacy in Tensor._LEGACY_NAMES.items():
                if legacy == name:
                    return self.to(D.as_dtype(dt_name))
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
        self._device.arrays.fill(self._data, 0)
        self._bump()
        if CAPTURE.active:
            capture("inplace", "zero_", (), (self,))
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        value = value.item() if isinstance(value, Tensor) else value
        self._device.arrays.fill(self._data, value)
        self._bump()
        if CAPTURE.active:
            capture("inplace", "fill_", (), (self,), {"value": value})
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
        if isinstance(src, Tensor) and src._device is not self._device:
            src = src.to(self._device)  # copy_ crosses devices, as torch's does
            arr = src._data
        if GRAD_MODE.enabled and isinstance(src, Tensor) and src._rg:
            return inplace.binary_inplace(self, "copy", src)
        if not isinstance(src, Tensor):
            arr = self._device.arrays.from_host(arr)
        self._device.arrays.assign(self._data, arr)
        self._bump()
        if CAPTURE.active:
            capture("inplace", "copy_", (src if isinstance(src, Tensor) else arr,), (self,))
        return self

    def _check_random_fill(self, fname):
        if self._data.dtype.kind != "f":
            raise NotImplementedError(
                f"\"{fname}\" not implemented for '{D.torch_name(self._data.dtype)}' (random "
                f"floats cannot be stored in a tensor of dtype {self.dtype.name})"
            )

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
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
        self._fill_from_host(_np_gen(generator).uniform(a, b, self._data.shape))
        if CAPTURE.active:
            capture("inplace", "uniform_", (), (self,), {"from": a, "to": b})
        return self

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        self._check_random_fill("normal_")
        if not std >= 0.0:  # also NaN, which numpy would accept and spread
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        self._check_inplace("normal_")
        self._fill_from_host(_np_gen(generator).normal(mean, std, self._data.shape))
        if CAPTURE.active:
            capture("inplace", "normal_", (), (self,), {"mean": mean, "std": std})
        return self

    def _fill_from_host(self, values):
        # random numbers come from the one numpy generator (manual_seed), on every device
        api = self._device.arrays
        api.assign(self._data, api.from_host(values))
        self._bump()

    def contiguous(self):
        if self.is_contiguous():
            return self
        return self.clone()

    # ---- math: the methods are the public functions of numgrad.functional themselves --------
    # (``x.exp()`` calls ``functional.exp(x)`` with no extra frame); in-place forms run through
    # numgrad.inplace, which rewrites history on graph tensors and views
    __add__ = F.add
    __sub__ = F.sub
    __mul__ = F.mul
    __truediv__ = F.div
    __pow__ = F.pow
    __floordiv__ = F.floor_divide
    __mod__ = F.remainder
    __matmul__ = F.matmul
    __neg__ = F.neg
    __abs__ = F.abs
    __lt__ = F.lt
    __le__ = F.le
    __gt__ = F.gt
    __ge__ = F.ge
    __eq__ = F.eq  # elementwise, as torch's; __hash__ above keeps tensors usable as dict keys
    __ne__ = F.ne
    __invert__ = F.bitwise_not
    __and__ = F.bitwise_and
    __or__ = F.bitwise_or
    __xor__ = F.bitwise_xor
    __getitem__ = F.getitem
    __setitem__ = inplace.setitem

    def __radd__(self, other):
        return F.add(other, self)

    def __rsub__(self, other):
        return F.sub(other, self)

    def __rmul__(self, other):
        return F.mul(other, self)

    def __rtruediv__(self, other):
        return F.div(other, self)

    def __rpow__(self, other):
        return F.pow(other, self)

    def __rfloordiv__(self, other):
        return F.floor_divide(other, self)

    def __rmod__(self, other):
        return F.remainder(other, self)

    def __rmatmul__(self, other):
        return F.matmul(other, self)

    def __pos__(self):
        return self

    def __iadd__(self, other):
        return inplace.binary_inplace(self, "add", other)

    def __isub__(self, other):
        return inplace.binary_inplace(self, "sub", other)

    def __imul__(self, other):
        return inplace.binary_inplace(self, "mul", other)

    def __itruediv__(self, other):
        return inplace.binary_inplace(self, "div", other)

    def add_(self, other):
        return inplace.binary_inplace(self, "add", other)

    def sub_(self, other):
        return inplace.binary_inplace(self, "sub", other)

    def mul_(self, other):
        return inplace.binary_inplace(self, "mul", other)

    def div_(self, other):
        return inplace.binary_inplace(self, "div", other)

    def pow_(self, other):
        return inplace.binary_inplace(self, "pow", other)

    masked_fill_ = inplace.masked_fill_
    clamp_ = inplace.clamp_

    # arithmetic and comparisons
    add = F.add
    sub = F.sub
    mul = F.mul
    div = true_divide = F.div
    pow = F.pow
    floor_divide = F.floor_divide
    remainder = F.remainder
    neg = F.neg
    maximum = F.maximum
    minimum = F.minimum
    square = F.square
    lt = F.lt
    le = F.le
    gt = F.gt
    ge = F.ge
    eq = F.eq
    ne = F.ne
    logical_not = F.logical_not
    # elementwise math
    exp = F.exp
    log = F.log
    sqrt = F.sqrt
    rsqrt = F.rsqrt
    abs = F.abs
    tanh = F.tanh
    sigmoid = F.sigmoid
    relu = F.relu
    sign = F.sign
    round = F.round
    floor = F.floor
    ceil = F.ceil
    trunc = F.trunc
    clamp = clip = F.clamp
    clamp_min = F.clamp_min
    clamp_max = F.clamp_max
    masked_fill = F.masked_fill
    clone = F.clone
    # reductions
    all = F.all
    any = F.any
    sum = F.sum
    mean = F.mean
    max = F.max
    min = F.min
    amax = F.amax
    amin = F.amin
    argmax = F.argmax
    argmin = F.argmin
    var = F.var
    std = F.std
    norm = F.norm
    softmax = F.softmax
    log_softmax = F.log_softmax
    logsumexp = F.logsumexp
    # linear algebra
    matmul = F.matmul
    mm = F.mm
    bmm = F.bmm
    dot = F.dot
    mv = F.mv
    outer = F.outer
    # shapes
    reshape = F.reshape
    view = F.view
    flatten = F.flatten
    unflatten = F.unflatten
    squeeze = F.squeeze
    unsqueeze = F.unsqueeze
    permute = F.permute
    transpose = swapaxes = F.transpose
    t = F.t
    expand = F.expand
    split = F.split
    chunk = F.chunk
    unbind = F.unbind

    @property
    def T(self):
        return F.permute(self, *reversed(range(self._data.ndim)))

    @property
    def mT(self):
        return F.transpose(self, -2, -1)

    def view_as(self, other):
        return F.reshape(self, tuple(other.shape))

    reshape_as = view_as

    def expand_as(self, other):
        return F.expand(self, *other.shape)

    def type_as(self, other):
        return self.to(other.dtype)

    # ---- issue 11 section: math ----
    sin = F.sin
    cos = F.cos
    tan = F.tan
    asin = F.asin
    acos = F.acos
    atan = F.atan
    atan2 = F.atan2
    sinh = F.sinh
    cosh = F.cosh
    asinh = F.asinh
    acosh = F.acosh
    atanh = F.atanh
    erf = F.erf
    erfc = F.erfc
    erfinv = F.erfinv
    log10 = F.log10
    log2 = F.log2
    log1p = F.log1p
    expm1 = F.expm1
    exp2 = F.exp2
    sinc = F.sinc
    hypot = F.hypot
    arcsin = F.arcsin
    arccos = F.arccos
    arctan = F.arctan
    arctan2 = F.arctan2
    arcsinh = F.arcsinh
    arccosh = F.arccosh
    arctanh = F.arctanh
    isnan = F.isnan
    isinf = F.isinf
    isfinite = F.isfinite
    isposinf = F.isposinf
    isneginf = F.isneginf
    nan_to_num = F.nan_to_num
    isclose = F.isclose
    allclose = F.allclose
    signbit = F.signbit
    logical_and = F.logical_and
    logical_or = F.logical_or
    logical_xor = F.logical_xor
    reciprocal = F.reciprocal
    lerp = F.lerp

    def _inplace_form(fn, name):  # noqa: N805  (runs in this class body: makes the methods)
        """``x.<name>(...)``: ``fn``'s result written into ``x`` (numgrad.inplace.rebase)."""

        def method(self, *args, **kwargs):
            self._check_inplace(name)
            out = fn(self, *args, **kwargs)
            if out._data.dtype.kind == "f" and self._data.dtype.kind != "f":
                raise RuntimeError(
                    f"{name}: result type {out.dtype.name} can't be cast to the desired output "
                    f"type {self.dtype.name}"
                )
            if tuple(out._data.shape) != tuple(self._data.shape):
                raise RuntimeError(
                    f"{name}: output with shape {tuple(self._data.shape)} doesn't match the "
                    f"broadcast shape {tuple(out._data.shape)}"
                )
            inplace.rebase(self, out)
            return self

        method.__name__ = method.__qualname__ = name
        method.__doc__ = f"In-place ``{fn.__name__}`` (``torch.Tensor.{name}``)."
        return method

    sin_ = _inplace_form(F.sin, "sin_")
    cos_ = _inplace_form(F.cos, "cos_")
    tan_ = _inplace_form(F.tan, "tan_")
    asin_ = _inplace_form(F.asin, "asin_")
    acos_ = _inplace_form(F.acos, "acos_")
    atan_ = _inplace_form(F.atan, "atan_")
    atan2_ = _inplace_form(F.atan2, "atan2_")
    sinh_ = _inplace_form(F.sinh, "sinh_")
    cosh_ = _inplace_form(F.cosh, "cosh_")
    asinh_ = _inplace_form(F.asinh, "asinh_")
    acosh_ = _inplace_form(F.acosh, "acosh_")
    atanh_ = _inplace_form(F.atanh, "atanh_")
    erf_ = _inplace_form(F.erf, "erf_")
    erfc_ = _inplace_form(F.erfc, "erfc_")
    erfinv_ = _inplace_form(F.erfinv, "erfinv_")
    log10_ = _inplace_form(F.log10, "log10_")
    log2_ = _inplace_form(F.log2, "log2_")
    log1p_ = _inplace_form(F.log1p, "log1p_")
    expm1_ = _inplace_form(F.expm1, "expm1_")
    exp2_ = _inplace_form(F.exp2, "exp2_")
    sinc_ = _inplace_form(F.sinc, "sinc_")
    hypot_ = _inplace_form(F.hypot, "hypot_")
    rsqrt_ = _inplace_form(F.rsqrt, "rsqrt_")
    sigmoid_ = _inplace_form(F.sigmoid, "sigmoid_")
    tanh_ = _inplace_form(F.tanh, "tanh_")
    arcsin_ = _inplace_form(F.arcsin, "arcsin_")
    arccos_ = _inplace_form(F.arccos, "arccos_")
    arctan_ = _inplace_form(F.arctan, "arctan_")
    arctan2_ = _inplace_form(F.arctan2, "arctan2_")
    arcsinh_ = _inplace_form(F.arcsinh, "arcsinh_")
    arccosh_ = _inplace_form(F.arccosh, "arccosh_")
    arctanh_ = _inplace_form(F.arctanh, "arctanh_")
    nan_to_num_ = _inplace_form(F.nan_to_num, "nan_to_num_")
    logical_and_ = _inplace_form(F.logical_and, "logical_and_")
    logical_or_ = _inplace_form(F.logical_or, "logical_or_")
    logical_xor_ = _inplace_form(F.logical_xor, "logical_xor_")
    reciprocal_ = _inplace_form(F.reciprocal, "reciprocal_")
    lerp_ = _inplace_form(F.lerp, "lerp_")
    del _inplace_form

    # ---- end section: math ----
    # ---- issue 11 section: habits ----
    def __repr__(self):
        """torch's text (numgrad/printing.py): ``tensor([1.5000, 2.0000], requires_grad=True)``."""
        if CAPTURE.active:
            host_read("printing a tensor")
        return tensor_repr(self, D.DEFAULT_FLOAT)

    def __format__(self, spec):
        """``f"{loss:.4f}"`` formats a 0-d tensor as its number (numgrad/printing.py)."""
        if CAPTURE.active:
            host_read("formatting a tensor")
        return tensor_format(self, spec)

    def __new__(cls, *args, **kwargs):
        # a new tensor of the class op results are made as: inside inference_mode that is the
        # inference form of Tensor (numgrad.legacy), so Tensor(...) and tensor(...) are too
        if cls is Tensor:
            return _wrap(None)
        return TensorBase.__new__(cls)

    # torch's legacy type names, by dtype name (t.type(), numgrad.FloatTensor ...)
    _LEGACY_NAMES = {
        "float32": "FloatTensor",
        "float64": "DoubleTensor",
        "float16": "HalfTensor",
        "int64": "LongTensor",
        "int32": "IntTensor",
        "uint8": "ByteTensor",
        "bool": "BoolTensor",
    }

    @staticmethod
    def _legacy_array(args, dt, ctor):
        """The array of a legacy constructor call ``ctor(*args)`` of dtype ``dt`` (``Tensor``,
        ``FloatTensor`` ...): no argument is an empty tensor; integers (or one ``Size``) a
        shape, zero-filled (torch leaves it uninitialised); one sequence or numpy array the
        data, converted to ``dt`` as torch does (floats truncate into integer types,
        out-of-range values raise, negatives wrap into unsigned types)."""
        if not args:
            return np.zeros((0,), dt.np)
        if len(args) == 1 and isinstance(args[0], Size):
            args = tuple(args[0])
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            for s in args:
                if s < 0:
                    raise RuntimeError(
                        f"Trying to create tensor with negative dimension {s}: {list(args)}"
                    )
            return np.zeros(tuple(int(s) for s in args), dt.np)
        if len(args) > 1:
            raise TypeError(
                f"{ctor}(): expected sizes (ints) or one sequence of data, got "
                f"({', '.join(type(a).__name__ for a in args)})"
            )
        data = args[0]
        if isinstance(data, np.ndarray):
            with np.errstate(invalid="ignore", over="ignore"):
                return np.array(data, dtype=dt.np, copy=True)
        if isinstance(data, (list, tuple)):
            return _to_array(data, dt)
        raise TypeError(f"{ctor}(): data must be a sequence (got {type(data).__name__})")

    def is_inference(self):
        """True for tensors made inside ``numgrad.inference_mode()``."""
        return False

    @property
    def is_sparse(self):
        """False: numgrad's tensors are dense."""
        return False

    @property
    def is_mps(self):
        """False: numgrad has no MPS device."""
        return False

    def to_sparse(self, *args, **kwargs):
        """Raises NotImplementedError: numgrad has no sparse tensors."""
        raise NotImplementedError(
            "numgrad has no sparse tensors: Tensor.to_sparse() is not supported (numgrad's "
            "tensors are dense and strided)"
        )

    def to_sparse_csr(self, *args, **kwargs):
        """Raises NotImplementedError: numgrad has no sparse tensors."""
        raise NotImplementedError(
            "numgrad has no sparse tensors: Tensor.to_sparse_csr() is not supported (numgrad's "
            "tensors are dense and strided)"
        )

    def to_dense(self):
        """The tensor itself: every numgrad tensor is dense."""
        return self

    # ---- end section: habits ----
    # ---- issue 11 section: random ----
    # (uniform_ and normal_ are above, with the other in-place fills; every random method takes
    # generator=, see numgrad.random)
    bernoulli = F.bernoulli
    multinomial = F.multinomial

    def _random_fill(self, fname, draw, attrs):
        self._check_inplace(fname)
        self._fill_from_host(draw)
        if CAPTURE.active:
            capture("inplace", fname, (), (self,), attrs)
        return self

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 0/1 drawn with probability ``p`` (a float or a tensor broadcast to this
        one), as ``torch.Tensor.bernoulli_``."""
        if isinstance(p, Tensor):
            probs = p._device.arrays.to_host(p._data)
            if not ((probs >= 0) & (probs <= 1)).all():
                raise RuntimeError(
                    "Expected p_in >= 0 && p_in <= 1 to be true, but got false (bernoulli_: "
                    "every probability must be in [0, 1])"
                )
            probs = np.broadcast_to(probs, self._data.shape)
        elif not 0.0 <= p <= 1.0:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        else:
            probs = p
        draw = _np_gen(generator).random(self._data.shape) < probs
        return self._random_fill("bernoulli_", draw.astype(self._data.dtype), {"p": p})

    def random_(self, from_=0, to=None, *, generator=None):
        """Fill with integers uniform in ``[from, to)`` (``random_(to)``: ``[0, to)``;
        ``random_()``: ``[0, 2**mantissa]`` for floats, the type's range for integers), as
        ``torch.Tensor.random_``."""
        dt = self._data.dtype
        if to is None and from_ != 0:
            from_, to = 0, from_
        if to is None:
            if dt.kind == "f":
                to = 2 ** (np.finfo(dt).nmant + 1) + 1
            elif dt.kind == "b":
                to = 2
            else:
                to = int(np.iinfo(dt).max) + 1
        if from_ >= to:
            raise RuntimeError(
                f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}"
            )
        if dt.kind in "iu" and not (np.iinfo(dt).min <= from_ and to - 1 <= np.iinfo(dt).max):
            raise RuntimeError(f"to - 1 is out of bounds for {self.dtype.name} (to={to})")
        draw = _np_gen(generator).integers(from_, to, self._data.shape)
        return self._random_fill("random_", draw.astype(dt), {"from": from_, "to": to})

    def exponential_(self, lambd=1.0, *, generator=None):
        """Fill with exponential samples of rate ``lambd`` (``torch.Tensor.exponential_``)."""
        self._check_random_fill("exponential_")
        if not lambd > 0.0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
        draw = _np_gen(generator).standard_exponential(self._data.shape) / lambd
        return self._random_fill("exponential_", draw, {"lambd": lambd})

    def geometric_(self, p, *, generator=None):
        """Fill with geometric samples (trials to the first success, >= 1)."""
        if not 0.0 < p < 1.0:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
        draw = _np_gen(generator).geometric(p, self._data.shape).astype(self._data.dtype)
        return self._random_fill("geometric_", draw, {"p": p})

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        """Fill with ``exp(N(mean, std))`` samples (``torch.Tensor.log_normal_``)."""
        self._check_random_fill("log_normal_")
        if not std > 0.0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
        draw = _np_gen(generator).lognormal(mean, std, self._data.shape)
        return self._random_fill("log_normal_", draw, {"mean": mean, "std": std})

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        """Fill with Cauchy samples (``torch.Tensor.cauchy_``)."""
        self._check_random_fill("cauchy_")
        draw = median + sigma * _np_gen(generator).standard_cauchy(self._data.shape)
        return self._random_fill("cauchy_", draw, {"median": median, "sigma": sigma})

    # ---- end section: random ----
    # ---- issue 11 section: tensor_ops ----
    gather = F.gather
    scatter = F.scatter
    scatter_add = F.scatter_add
    scatter_ = inplace.scatter_
    scatter_add_ = inplace.scatter_add_
    index_select = F.index_select
    masked_select = F.masked_select
    take = F.take
    narrow = F.narrow
    select = F.select
    movedim = moveaxis = F.movedim
    cumsum = F.cumsum
    cumprod = F.cumprod
    cummax = F.cummax
    cummin = F.cummin
    prod = F.prod
    sort = F.sort
    argsort = F.argsort
    topk = F.topk
    kthvalue = F.kthvalue
    median = F.median
    mode = F.mode
    roll = F.roll
    flip = F.flip
    fliplr = F.fliplr
    flipud = F.flipud
    tril = F.tril
    triu = F.triu
    diagonal = F.diagonal
    diag = F.diag
    repeat = F.repeat
    tile = F.tile
    count_nonzero = F.count_nonzero
    nonzero = F.nonzero
    argwhere = F.argwhere
    bincount = F.bincount
    histc = F.histc
    histogram = F.histogram
    unique = F.unique
    new_zeros = F.new_zeros
    new_ones = F.new_ones
    new_empty = F.new_empty
    new_full = F.new_full
    new_tensor = F.new_tensor
    ravel = F.ravel
    trace = F.trace
    take_along_dim = F.take_along_dim
    index_add = F.index_add
    index_add_ = inplace.index_add_

    tril_ = inplace.tril_
    triu_ = inplace.triu_

    equal = F.equal
    # ---- end section: tensor_ops ----
    # ---- issue 11 section: layers ----
    # ---- end section: layers ----
    # ---- issue 11 section: conv ----
    # ---- end section: conv ----


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


def _rebuild(cls, arr, requires_grad, device=None):
    t = cls.__new__(cls)
    dev = check_device(device)
    t._init(dev.arrays.from_host(arr), requires_grad, dev)
    return t


set_tensor_class(Tensor)  # op results (storage._wrap) are made as this class
