"""numgrad dtypes: thin names over numpy dtypes, with torch's type-promotion rules."""

from __future__ import annotations

import builtins

import numpy as np


class DType:
    """A tensor element type (``numgrad.float32`` ...); ``.np`` is the numpy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_cat")

    def __init__(self, name, np_dtype, cat):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = cat == 2
        self.is_signed = cat != 0
        self.itemsize = self.np.itemsize
        self._cat = cat  # 0 bool, 1 integer, 2 floating: torch promotes by category first

    def __repr__(self):
        return f"numgrad.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


float32 = DType("float32", np.float32, 2)
float64 = DType("float64", np.float64, 2)
float16 = DType("float16", np.float16, 2)
int64 = DType("int64", np.int64, 1)
int32 = DType("int32", np.int32, 1)
uint8 = DType("uint8", np.uint8, 1)
bool_ = DType("bool", np.bool_, 0)

ALL = (float32, float64, float16, int64, int32, uint8, bool_)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(
    {
        "float": float32,
        "double": float64,
        "half": float16,
        "long": int64,
        "int": int32,
        "bool_": bool_,
    }
)
DEFAULT_FLOAT = float32  # python floats' dtype; read at call time, set by set_default_float


def set_default_float(dt):
    """Make ``dt`` the dtype of python floats (``numgrad.set_default_dtype``; the caller checks
    that it is floating).  Everything reads ``dtypes.DEFAULT_FLOAT`` when it runs."""
    global DEFAULT_FLOAT
    DEFAULT_FLOAT = dt


def as_dtype(d) -> DType:
    """Accept a numgrad dtype, a name (``"float64"``), a numpy dtype/type, or python type."""
    if isinstance(d, DType):
        return d
    if isinstance(d, str):
        name = d.removeprefix("numgrad.").removeprefix("torch.")
        if name in _BY_NAME:
            return _BY_NAME[name]
        raise TypeError(f"unknown dtype {d!r}; expected one of {sorted(_BY_NAME)}")
    if d is builtins.float:
        return DEFAULT_FLOAT
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool_
    name = getattr(d, "name", None) if not isinstance(d, type) else None
    if name is not None and type(d).__module__.startswith("torch"):
        return as_dtype(str(d))
    try:
        npd = np.dtype(d)
    except TypeError:
        raise TypeError(f"cannot interpret {d!r} as a numgrad dtype") from None
    return from_np(npd)


def from_np(npd) -> DType:
    try:
        return _BY_NP[npd]
    except KeyError:
        raise TypeError(
            f"unsupported dtype {npd}; numgrad supports {', '.join(x.name for x in ALL)}"
        ) from None


def promote(a: DType, b: DType) -> DType:
    """torch.promote_types for two tensors: higher category wins, then the wider type."""
    if a is b:
        return a
    if a._cat != b._cat:
        return a if a._cat > b._cat else b
    return from_np(np.promote_types(a.np, b.np))


def scalar_category(x) -> int:
    if isinstance(x, (builtins.bool, np.bool_)):
        return 0
    if isinstance(x, (builtins.int, np.integer)):
        return 1
    if isinstance(x, (builtins.float, np.floating)):
        return 2
    raise TypeError(f"expected a number, got {type(x).__name__}")


def promote_scalar(t: DType, x) -> DType:
    """Result dtype of ``tensor <op> python_scalar``: a scalar only lifts the category."""
    c = scalar_category(x)
    if c <= t._cat:
        return t
    if c == 1 and x > _INT64_MAX:
        # torch types such a python int as uint64, which it cannot promote with bool
        raise RuntimeError(
            f"Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
            f"{_TORCH_NAMES[t.name]} and UInt64 (the python int {x} does not fit in int64)"
        )
    return DEFAULT_FLOAT if c == 2 else int64


_INT64_MAX = (1 << 63) - 1


# torch's names in its dtype errors ('"abs_cpu" not implemented for 'Bool'')
_TORCH_NAMES = {
    "bool": "Bool",
    "uint8": "Byte",
    "int32": "Int",
    "int64": "Long",
    "float16": "Half",
    "float32": "Float",
    "float64": "Double",
}


def torch_name(npd) -> str:
    """torch's short name of a numpy dtype (``'Long'``), for error messages."""
    return _TORCH_NAMES.get(np.dtype(npd).name, str(npd))


def wrap_int(value, npd):
    """A python int as a numpy scalar of integer dtype ``npd``, wrapping modulo 2**bits.

    torch converts a python number used with an integer tensor this way (``uint8 - 1`` subtracts
    255, ``int32 + 2**40`` adds 0); only a number beyond 64 bits overflows.
    """
    v = int(value)
    if not -(1 << 63) <= v < (1 << 64):
        raise OverflowError(f"int too big to convert: {v} does not fit in 64 bits")
    bits = npd.itemsize * 8
    v &= (1 << bits) - 1
    if npd.kind == "i" and v >> (bits - 1):
        v -= 1 << bits
    return npd.type(v)


def checked_int(value, npd, what="value"):
    """``value`` (a python int) converted to integer dtype ``npd`` with torch's overflow check.

    torch (c10::overflows) accepts ``[min, max]`` and, for unsigned types, negatives down to
    ``-max`` (which wrap: ``tensor(-1, dtype=uint8)`` is 255); anything else raises.
    """
    v = int(value)
    info = np.iinfo(npd)
    if v > info.max or v < (info.min if npd.kind == "i" else -info.max):
        raise RuntimeError(
            f"{what} cannot be converted to type {np.dtype(npd).name} without overflow: {v}"
        )
    return wrap_int(v, np.dtype(npd))


def scalar_as(value, npd):
    """A python number operand of an op computing in ``npd``, as a numpy scalar (torch's rules:
    integer dtypes wrap, see :func:`wrap_int`; the rest convert as numpy does)."""
    if npd.kind in "iu" and not isinstance(value, (float, np.floating)):
        return wrap_int(value, npd)
    return npd.type(value)
