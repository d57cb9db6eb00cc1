"""Sharing tensors with other libraries without copying: DLPack and ``__cuda_array_interface__``.

* ``numgrad.from_dlpack(obj)`` (``numgrad/creation.py``) makes a numgrad tensor over ``obj``'s
  memory: a CUDA array (torch, CuPy, Numba: anything exporting ``__cuda_array_interface__``)
  becomes a tensor on ``cuda:0``; a host array exporting ``__dlpack__`` (numpy, a CPU torch
  tensor) one on the CPU.
* ``Tensor.__dlpack__()`` / ``__dlpack_device__()`` export a tensor: a CPU tensor through
  numpy's exporter, a CUDA tensor through :func:`export_capsule`, a DLPack ``DLManagedTensor``
  built here with ctypes (Numba's device arrays have no exporter of their own), so
  ``torch.from_dlpack(t)`` sees numgrad's device memory.
* ``Tensor.__cuda_array_interface__`` (CUDA tensors only, as torch's) with ``"stream": None``:
  numgrad launches everything on the default stream, so a consumer needs no synchronisation.

The exported memory stays alive while the consumer holds it: the capsule's manager context keeps
the tensor's array referenced until the consumer calls the deleter.
"""

from __future__ import annotations

import ctypes

import numpy as np

# DLPack (https://dmlc.github.io/dlpack/latest/c_api.html), version 0.8 ABI ("dltensor" capsule)
KDL_CPU = 1
KDL_CUDA = 2
_DTYPE_CODES = {"i": 0, "u": 1, "f": 2, "b": 6}  # kDLInt, kDLUInt, kDLFloat, kDLBool


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    pass


_DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [
    ("dl_tensor", DLTensor),
    ("manager_ctx", ctypes.c_void_p),
    ("deleter", _DELETER),
]

_CAPSULE_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_api = ctypes.pythonapi
_PyCapsule_New = ctypes.PYFUNCTYPE(
    ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, _CAPSULE_DESTRUCTOR
)(("PyCapsule_New", _api))
_PyCapsule_GetPointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", _api)
)
# the destructor gets the capsule being destroyed: raw pointers, never a new reference to it
_raw_is_valid = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_IsValid", _api)
)
_raw_get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", _api)
)

# manager context id -> what must live until the consumer calls the deleter
_LIVE: dict = {}


# (what the callbacks use is bound as defaults: they may run after module teardown)
@_DELETER
def _deleter(managed, _live=_LIVE, _address=ctypes.addressof):
    _live.pop(_address(managed.contents), None)


@_CAPSULE_DESTRUCTOR
def _capsule_destructor(capsule, _live=_LIVE, _valid=_raw_is_valid, _get=_raw_get_pointer):
    # an unconsumed capsule ("dltensor", not renamed "used_dltensor") frees its tensor itself
    if _valid(capsule, b"dltensor"):
        _live.pop(_get(capsule, b"dltensor"), None)


# the two callbacks are called by C code that may run at interpreter shutdown (a consumer's
# tensor freed last, a capsule collected late), after this module's globals are gone: one extra
# reference each keeps their trampolines alive for the life of the process
for _callback in (_deleter, _capsule_destructor):
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(_callback))


def export_capsule(data_ptr, shape, strides_bytes, dtype, device_type, device_id, keep):
    """A DLPack capsule over ``data_ptr`` (memory of ``device_type``), keeping ``keep`` alive
    until the consumer is done with it."""
    dtype = np.dtype(dtype)
    itemsize = dtype.itemsize
    ndim = len(shape)
    shape_arr = (ctypes.c_int64 * max(ndim, 1))(*shape)
    strides_arr = (ctypes.c_int64 * max(ndim, 1))(*(s // itemsize for s in strides_bytes))
    managed = DLManagedTensor()
    t = managed.dl_tensor
    t.data = data_ptr
    t.device = DLDevice(device_type, device_id)
    t.ndim = ndim
    t.dtype = DLDataType(_DTYPE_CODES[dtype.kind], itemsize * 8, 1)
    t.shape = shape_arr
    t.strides = strides_arr
    t.byte_offset = 0
    managed.deleter = _deleter
    address = ctypes.addressof(managed)
    _LIVE[address] = (managed, shape_arr, strides_arr, keep)
    return _PyCapsule_New(address, b"dltensor", _capsule_destructor)


def read_capsule(capsule):
    """(data pointer, shape, byte strides, numpy dtype, device type, device id) of an unconsumed
    DLPack capsule (used to check what :func:`export_capsule` wrote)."""
    ptr = _PyCapsule_GetPointer(capsule, b"dltensor")
    t = DLManagedTensor.from_address(ptr).dl_tensor
    code = {v: k for k, v in _DTYPE_CODES.items()}[t.dtype.code]
    dtype = np.dtype("bool" if code == "b" else f"{code}{t.dtype.bits // 8}")
    shape = tuple(t.shape[i] for i in range(t.ndim))
    strides = tuple(t.strides[i] * dtype.itemsize for i in range(t.ndim))
    return t.data, shape, strides, dtype, t.device.device_type, t.device.device_id


def cuda_array_interface(arr):
    """``arr``'s ``__cuda_array_interface__`` with ``"stream": None`` (no sync needed)."""
    cai = dict(arr.__cuda_array_interface__)
    cai["stream"] = None
    return cai


def tensor_dlpack(t, stream=None):
    """``Tensor.__dlpack__``: a CPU tensor through numpy's exporter, a CUDA one through
    :func:`export_capsule`."""
    if t._device.type == "cpu":
        return t._data.__dlpack__()
    if t._device.type != "cuda":
        raise BufferError(f"DLPack export of a tensor on device {t._device} is not supported")
    arr = t._data
    cai = arr.__cuda_array_interface__
    strides = cai.get("strides") or tuple(
        int(np.prod(arr.shape[k + 1 :], dtype=np.int64)) * arr.dtype.itemsize
        for k in range(arr.ndim)
    )
    return export_capsule(cai["data"][0], arr.shape, strides, arr.dtype, KDL_CUDA, 0, arr)


def tensor_dlpack_device(t):
    """``Tensor.__dlpack_device__``: (kDLCPU, 0) or (kDLCUDA, 0)."""
    if t._device.type == "cuda":
        return (KDL_CUDA, 0)
    return (KDL_CPU, 0)
