"""How tensors print: ``repr``/``str``/``format`` text as torch writes it.

A port of torch's ``torch/_tensor_str.py`` (BSD licence) onto numpy arrays: the same options
(``set_printoptions``: 4 digits, summarising above 1000 elements with 3 edge items, 80
columns), the same choice between fixed, integer-valued (``1.``) and scientific notation (all
from the non-zero finite values: scientific when max/min > 1000, max > 1e8 or min < 1e-4), the
same column widths, line wrapping and suffixes (``device=``, ``size=``, ``dtype=`` for
non-default dtypes, ``grad_fn=<MulBackward0>``, ``requires_grad=True``).  Values are formatted
as torch formats them, through python floats (a float32 element is widened exactly to a
double first).  dtypes and sizes print with numgrad's names (``dtype=numgrad.float64``).

``grad_fn`` prints torch's autograd node class name, derived from numgrad's op name and the
node's attributes (:func:`grad_fn_name`).  Imports nothing from numgrad (the ground floor of
docs/architecture.md's layers), so the Tensor class can use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re

import numpy as np


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    """Set how tensors print (torch.set_printoptions): digits after the point (``precision``,
    4), element count above which a tensor is summarised with ``...`` (``threshold``, 1000),
    items kept at each end of a summarised dim (``edgeitems``, 3), characters per line
    (``linewidth``, 80), ``sci_mode`` (True/False forces scientific notation on or off; None
    chooses per tensor); ``profile`` is "default", "short" or "full".  As in torch,
    ``sci_mode`` is reset to None by any call that does not pass it."""
    if profile is not None:
        presets = {
            "default": (4, 1000, 3, 80),
            "short": (2, 1000, 2, 80),
            "full": (4, math.inf, 3, 80),
        }
        if profile not in presets:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}")
        p = presets[profile]
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems = p[:3]
        PRINT_OPTS.linewidth = p[3]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    """The current print options, as a dict ``set_printoptions(**d)`` accepts."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Change the print options inside a ``with`` block (torch._tensor_str.printoptions)."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


# ---- formatting values --------------------------------------------------------------------


class _Formatter:
    """Chooses notation and column width from the values a tensor prints (torch's
    ``_Formatter``)."""

    def __init__(self, arr):
        self.floating = arr.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = arr.reshape(-1)
        prec = PRINT_OPTS.precision
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(f"{v}"))
            return
        wide = flat.astype(np.float64)
        vals = wide[np.isfinite(wide) & (wide != 0)]
        if vals.size == 0:
            return
        absv = np.abs(vals)
        vmin, vmax = float(absv.min()), float(absv.max())
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        values = vals.tolist()
        if self.sci_mode:
            widths = (len(f"{v:.{prec}e}") for v in values)
        elif self.int_mode:
            widths = (len(f"{v:.0f}") + 1 for v in values)  # + 1: the trailing "."
        else:
            widths = (len(f"{v:.{prec}f}") for v in values)
        self.max_width = max(self.max_width, *widths)

    def format(self, value):
        if self.floating:
            prec = PRINT_OPTS.precision
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{prec}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{prec}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _vector_str(arr, indent, summarize, fmt):
    element_length = fmt.max_width + 2
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * edge:
        data = (
            [fmt.format(v) for v in arr[:edge].tolist()]
            + [" ..."]
            + [fmt.format(v) for v in arr[-edge:].tolist()]
        )
    else:
        data = [fmt.format(v) for v in arr.tolist()]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(arr, indent, summarize, fmt):
    dim = arr.ndim
    if dim == 0:
        return fmt.format(arr.item())
    if dim == 1:
        return _vector_str(arr, indent, summarize, fmt)
    edge = PRINT_OPTS.edgeitems
    n = arr.shape[0]
    if summarize and n > 2 * edge:
        slices = (
            [_tensor_str_with_formatter(arr[i], indent + 1, summarize, fmt) for i in range(edge)]
            + ["..."]
            + [
                _tensor_str_with_formatter(arr[i], indent + 1, summarize, fmt)
                for i in range(n - edge, n)
            ]
        )
    else:
        slices = [_tensor_str_with_formatter(arr[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _summarized_data(arr):
    """The elements a summarised print shows (torch's ``get_summarized_data``)."""
    dim = arr.ndim
    edge = PRINT_OPTS.edgeitems
    if dim == 0:
        return arr
    if dim == 1:
        if arr.shape[0] > 2 * edge:
            return np.concatenate((arr[:edge], arr[-edge:]))
        return arr
    if not edge:
        return np.empty((0,) * dim, arr.dtype)
    if arr.shape[0] > 2 * edge:
        rows = [arr[i] for i in range(edge)] + [
            arr[i] for i in range(arr.shape[0] - edge, arr.shape[0])
        ]
    else:
        rows = list(arr)
    return np.stack([_summarized_data(r) for r in rows])


def array_str(arr, indent):
    """The bracketed body of a tensor's print, for the host array ``arr``."""
    if arr.size == 0:
        return "[]"
    summarize = arr.size > PRINT_OPTS.threshold
    fmt = _Formatter(_summarized_data(arr) if summarize else arr)
    return _tensor_str_with_formatter(arr, indent, summarize, fmt)


def _add_suffixes(tensor_str, suffixes, indent):
    parts = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t, default_dtype):
    """``repr(t)`` / ``str(t)``: torch's text for tensor ``t``; ``default_dtype`` is the
    current default dtype (``numgrad.get_default_dtype()``), which prints no ``dtype=``."""
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    dev = t._device
    if dev.type != "cpu":
        index = dev.index if dev.index is not None else 0
        suffixes.append(f"device='{dev.type}:{index}'" if dev.type == "cuda" else f"device='{dev}'")
    arr = np.asarray(dev.arrays.to_host(t._data))
    dtype = t.dtype
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if dtype is not default_dtype:
            suffixes.append(f"dtype={dtype!r}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(arr.shape)}")
        if dtype is not default_dtype and dtype.name not in ("int64", "bool"):
            suffixes.append(f"dtype={dtype!r}")
        body = array_str(arr, indent)
    node = t._node
    if node is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name(node)}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)


def tensor_format(t, spec):
    """``format(t, spec)``: a 0-d tensor formats as its python number (``f"{loss:.4f}"``);
    any other tensor formats as ``str`` with an empty spec and raises TypeError otherwise,
    as torch's ``Tensor.__format__`` does (a one-element 1-d tensor is not 0-d)."""
    if t._data.ndim == 0:
        return t._device.arrays.to_host(t._data).item().__format__(spec)
    if spec:
        raise TypeError(
            f"unsupported format string passed to Tensor.__format__ (format spec {spec!r} on a "
            f"tensor of shape {tuple(t._data.shape)}; only 0-d tensors take one: use .item())"
        )
    return str(t)


# ---- grad_fn names ------------------------------------------------------------------------

# numgrad op -> torch's node class, where the name does not follow from the op's own name
_NODE_NAMES = {
    "cast": "ToCopyBackward0",
    "to_device": "ToCopyBackward0",
    "clamp": "ClampBackward1",
    "clamp_tensor": "ClampBackward0",
    "norm": "LinalgVectorNormBackward0",
    "reshape": "ViewBackward0",
    "setitem": "CopySlices",
    "view_scatter": "CopySlices",
    "nll": "NllLossBackward0",
    "mse": "MseLossBackward0",
    "l1": "AbsBackward0",
    "huber": "HuberLossBackward0",
    "bce": "BinaryCrossEntropyBackward0",
    "bce_logits": "BinaryCrossEntropyWithLogitsBackward0",
    "gelu_tanh": "GeluBackward0",
    "logsigmoid": "LogSigmoidBackward0",
    "prelu": "PreluKernelBackward0",
    "conv": "ConvolutionBackward0",
    "layer_norm": "NativeLayerNormBackward0",
    "batch_norm": "NativeBatchNormBackward0",
}


def _shapes(node):
    return node.shapes or ()


def _all_dims(node):
    a = node.attrs or {}
    shp = _shapes(node)
    ndim = len(shp[0]) if shp else 0
    return not a.get("keepdim") and len(tuple(a.get("axes", ()))) == ndim


def _pow(node):
    xs, ys = _shapes(node)[:2]
    if ys == ():
        return "PowBackward0"
    return "PowBackward2" if xs == () and node.parents[0] is None else "PowBackward1"


def _sub(node):
    return "RsubBackward1" if _shapes(node)[0] == () and node.parents[0] is None else "SubBackward0"


def _matmul(node):
    a, b = (len(s) for s in _shapes(node)[:2])
    if a == 2 and b == 2:
        return "MmBackward0"
    if a == 2 and b == 1:
        return "MvBackward0"
    if a == 1 and b == 1:
        return "DotBackward0"
    return "UnsafeViewBackward0"


def _linear(node):
    shp = _shapes(node)
    bias = len(shp) > 2 and shp[2] != ()
    nd = len(shp[0])
    if nd == 2:
        return "AddmmBackward0" if bias else "MmBackward0"
    return "ViewBackward0" if bias else "UnsafeViewBackward0"


def _getitem(node):
    index = (node.attrs or {}).get("index")
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, (np.ndarray, list)) for i in items):
        return "IndexBackward0"
    name = "AliasBackward0"
    for i in items:
        if i is None:
            name = "UnsqueezeBackward0"
        elif isinstance(i, slice):
            if i != slice(None):
                name = "SliceBackward0"
        elif i is not Ellipsis:
            name = "SelectBackward0"
    return name


def _amax(node):
    return "AmaxBackward0" if (node.attrs or {}).get("sign", 1) > 0 else "AminBackward0"


def _max_all(node):
    return "MaxBackward1" if (node.attrs or {}).get("sign", 1) > 0 else "MinBackward1"


def _max_dim(node):
    return "MaxBackward0" if (node.attrs or {}).get("sign", 1) > 0 else "MinBackward0"


# losses numgrad computes per element then reduces: torch's node is the loss itself (known
# while the graph lives: a backward frees the parent links, and the reduction's name remains)
_REDUCED_LOSSES = ("mse", "bce", "bce_logits", "huber")


def _reduction(full, partial):
    def rule(node):
        if not _all_dims(node):
            return partial
        parent = node.parents[0] if node.parents else None
        op = getattr(parent, "op", None)
        if op is not None and op.name in _REDUCED_LOSSES:
            return _NODE_NAMES[op.name]
        return full

    return rule


def _pool(name2d, name3d):
    # torch runs 1-d pooling as 2-d on an unsqueezed input, so its node is the squeeze
    def rule(node):
        nd = (node.attrs or {}).get("nd", 2)
        return {1: "SqueezeBackward1", 2: name2d, 3: name3d}[nd]

    return rule


def _pad(node):
    a = node.attrs or {}
    mode, k = a.get("mode", "constant"), len(a.get("pad", ())) // 2
    if mode == "reflect":
        return f"ReflectionPad{k}DBackward0"
    if mode == "replicate":
        return f"ReplicationPad{k}DBackward0"
    return "ConstantPadNdBackward0" if mode == "constant" else "PadBackward0"


def _lerp(node):
    return "LerpBackward0" if _shapes(node)[2] == () else "LerpBackward1"


def _kl_div(node):
    return "MulBackward0" if (node.attrs or {}).get("log_target") else "SubBackward0"


_NODE_RULES = {
    "pow": _pow,
    "sub": _sub,
    "matmul": _matmul,
    "linear": _linear,
    "getitem": _getitem,
    "amax": _amax,
    "max_all": _max_all,
    "max_dim": _max_dim,
    "sum": _reduction("SumBackward0", "SumBackward1"),
    "mean": _reduction("MeanBackward0", "MeanBackward1"),
    "prod": _reduction("ProdBackward0", "ProdBackward1"),
    "adaptive_avg_pool": _pool("AdaptiveAvgPool2DBackward0", "AdaptiveAvgPool3DBackward0"),
    "avg_pool": _pool("AvgPool2DBackward0", "AvgPool3DBackward0"),
    "max_pool": _pool("MaxPool2DWithIndicesBackward0", "MaxPool3DWithIndicesBackward0"),
    "pad": _pad,
    "lerp": _lerp,
    "kl_div": _kl_div,
}

_DIGIT_LETTER = re.compile(r"(\d)([a-z])")


def grad_fn_name(node):
    """torch's class name of the autograd node for numgrad tape entry ``node`` (what a tensor
    prints as ``grad_fn=<...>``): ``add`` -> ``AddBackward0``, ``sum`` over every dim ->
    ``SumBackward0``; a custom ``autograd.Function`` ``MyFn`` -> ``MyFnBackward``."""
    name = node.op.name
    if name.startswith("custom."):
        return name.rsplit(".", 1)[-1] + "Backward"
    rule = _NODE_RULES.get(name)
    if rule is not None:
        try:
            return rule(node)
        except (TypeError, ValueError, IndexError, KeyError):  # unexpected attrs: generic name
            pass
    fixed = _NODE_NAMES.get(name)
    if fixed is not None:
        return fixed
    # torch's codegen: snake_case -> CamelCase, a letter after a digit capitalised (Log1P)
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    return _DIGIT_LETTER.sub(lambda m: m.group(1) + m.group(2).upper(), camel) + "Backward0"
