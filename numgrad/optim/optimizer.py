"""The :class:`Optimizer` base class: param groups, per-parameter state, state dicts.

Subclasses implement ``step`` by computing a step's scalars in Python and calling one fused
kernel from :mod:`numgrad.optim.kernels` per parameter, on flat views of ``p._data``, the
gradient and the state arrays.  Updates write the parameter's storage directly (no tape entry,
as torch's optimizers run under ``no_grad``) and bump its version counter like any in-place op.
"""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict

import numpy as np

from ..creation import from_numpy
from ..grad_mode import enable_grad
from ..tensor import Tensor

# numba has no float16 arithmetic; torch's CPU optimizers would upcast, we refuse instead
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_EMPTY = {dt: np.empty(0, dt) for dt in _FLOAT_DTYPES}


class _RequiredParameter:
    """Marker for a hyperparameter without a default (every group must give one)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class for all optimizers (``torch.optim.Optimizer``).

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each holding
            ``"params"`` and, optionally, hyperparameters overriding ``defaults``.
        defaults: the hyperparameters used by groups that do not set them.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of tensors) and every
            hyperparameter.
        state: dict mapping a parameter to its per-parameter state (a dict of tensors).
    """

    def __init__(self, params, defaults):
        self._check_hparams(defaults, "")
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got a Tensor"
            )
        _check_ordered(params)
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- hyperparameters ---------------------------------------------------------------------
    def _check_hparams(self, hp, where):
        """Raise ``ValueError`` for invalid hyperparameters in ``hp`` (defaults or a group).

        ``where`` is prefixed to the message ("" for the constructor, "param group 1: ").
        Subclasses override this; the base class accepts anything.
        """

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"

    # ---- param groups ------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a parameter group (a dict with ``"params"`` and optional hyperparameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        else:
            _check_ordered(params)
        params = list(params)
        index = len(self.param_groups)
        for j, p in enumerate(params):
            _check_param(p, f"param group {index}, parameter {j}")
        if not params:
            raise ValueError(f"param group {index} has an empty parameter list")
        seen = set()
        for j, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(
                    f"param group {index} contains parameter {j} (shape {tuple(p.shape)}) more "
                    "than once; each parameter may appear only once"
                )
            seen.add(id(p))
        for g in self.param_groups:
            if any(id(q) in seen for q in g["params"]):
                raise ValueError("some parameters appear in more than one parameter group")

        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            group.setdefault(name, default)
        self._check_hparams(group, f"param group {index}: ")
        self.param_groups.append(group)

    # ---- gradients ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors: to ``None`` (default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    def _run_closure(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- state dicts -------------------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state as a dict in torch's format.

        ``"state"`` maps a parameter's index (its position counted across all groups) to its
        state dict of tensors; ``"param_groups"`` holds each group's hyperparameters with
        ``"params"`` replaced by those indices.  State tensors are references, not copies (as
        torch): copy or serialize the result before stepping again if you need a snapshot.
        """
        mapping = {}
        start = 0

        def pack(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Load a state dict produced by :meth:`state_dict` (of an optimizer of the same kind).

        Groups are matched by position and must hold as many parameters as this optimizer's.
        State tensors are copied, cast to their parameter's dtype (except ``"step"``), and must
        match their parameter's shape.  Array-likes (numpy arrays, CPU torch tensors) are
        accepted wherever a tensor is.
        """
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups; this optimizer "
                f"has {len(groups)}"
            )
        for i, (g, s) in enumerate(zip(groups, saved_groups, strict=True)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"loaded state dict's parameter group {i} has {len(s['params'])} parameters; "
                    f"this optimizer's has {len(g['params'])}"
                )
        id_map = dict(
            zip(
                itertools.chain.from_iterable(g["params"] for g in saved_groups),
                itertools.chain.from_iterable(g["params"] for g in groups),
                strict=True,
            )
        )
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = {key: _cast_state(param, key, val, k) for key, val in v.items()}
            else:
                state[k] = copy.deepcopy(v)
        new_groups = []
        for i, (g, s) in enumerate(zip(groups, saved_groups, strict=True)):
            s["params"] = g["params"]
            self._check_hparams(s, f"param group {i}: ")
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups

    # ---- helpers for step() ------------------------------------------------------------------
    def _flat_param_grad(self, p):
        """Flat views of ``p._data`` and ``p.grad._data`` after checking they can be updated."""
        name = type(self).__name__
        data = p._data
        if data.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"{name}: parameter of shape {tuple(data.shape)} has dtype {data.dtype}; the "
                "optimizer kernels support float32 and float64"
            )
        if not data.flags.c_contiguous or not data.flags.writeable:
            raise RuntimeError(
                f"{name}: parameter of shape {tuple(data.shape)} is not a contiguous writeable "
                "array; the optimizer updates its storage in place through a flat view "
                "(make the parameter contiguous, e.g. p.data = p.data.contiguous())"
            )
        grad = p.grad
        if not isinstance(grad, Tensor):
            raise TypeError(
                f"{name}: parameter .grad must be a Tensor or None, got {type(grad).__name__}"
            )
        g = grad._data
        if g.shape != data.shape:
            raise RuntimeError(
                f"{name}: gradient of shape {tuple(g.shape)} does not match its parameter's "
                f"shape {tuple(data.shape)}"
            )
        if g.dtype != data.dtype:
            raise TypeError(
                f"{name}: gradient dtype {g.dtype} does not match its parameter's dtype "
                f"{data.dtype}"
            )
        # a non-contiguous gradient is only read, so reshape's copy is harmless
        return data.reshape(-1), g.reshape(-1)

    def _flat_state(self, p, state, key):
        """Flat view of ``state[key]``, checked against ``p`` (kernels don't bounds-check)."""
        arr = state[key]._data
        data = p._data
        if arr.shape != data.shape or arr.dtype != data.dtype or not arr.flags.c_contiguous:
            raise RuntimeError(
                f"{type(self).__name__}: state {key!r} (shape {tuple(arr.shape)}, dtype "
                f"{arr.dtype}) does not match its parameter (shape {tuple(data.shape)}, dtype "
                f"{data.dtype}) or is not contiguous"
            )
        return arr.reshape(-1)


def _check_ordered(params):
    if isinstance(params, (set, frozenset)):
        raise TypeError(
            "optimizer parameters need to be organized in ordered collections, but the "
            "ordering of tensors in sets will change between runs. Please use a list instead."
        )


def _check_param(p, where):
    if not isinstance(p, Tensor):
        raise TypeError(f"optimizer can only optimize Tensors, but {where} is {type(p).__name__}")
    if p._data.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"optimizer can only optimize float32 or float64 tensors, but {where} (shape "
            f"{tuple(p.shape)}) has dtype {p._data.dtype}"
        )
    if not (p.is_leaf or p.retains_grad):
        raise ValueError(f"can't optimize a non-leaf Tensor ({where})")


def _check_number(value, message, where, lo=0.0, hi=None):
    """Raise ``ValueError(where + message + value)`` unless ``lo <= value`` (and ``< hi``)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        ok = lo <= value and (hi is None or value < hi)  # also rejects NaN
    if not ok:
        raise ValueError(f"{where}{message}: {value!r}")


def _zeros_state(p):
    return from_numpy(np.zeros(p._data.shape, p._data.dtype))


def _empty_state(p):
    return from_numpy(np.empty(p._data.shape, p._data.dtype))


def _cast_state(param, key, value, index):
    """Copy one loaded state value; tensors become numgrad Tensors of the parameter's dtype."""
    if isinstance(value, (bool, int, float, complex, str)) or value is None:
        return value
    if isinstance(value, Tensor):
        arr = value._data
    elif hasattr(value, "__array__"):
        arr = np.asarray(value.detach() if hasattr(value, "detach") else value)
    else:
        return copy.deepcopy(value)
    if key == "step":
        # the step count keeps its own dtype (torch: float32), never the parameter's
        return from_numpy(np.array(arr, copy=True))
    if arr.shape != param._data.shape:
        raise ValueError(
            f"loaded state {key!r} of parameter {index} has shape {tuple(arr.shape)}; the "
            f"parameter has shape {tuple(param._data.shape)}"
        )
    return from_numpy(np.array(arr, dtype=param._data.dtype, order="C", copy=True))
