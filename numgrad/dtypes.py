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
DEFAULT_FLOAT = float32


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
    return DEFAULT_FLOAT if c == 2 else int64
