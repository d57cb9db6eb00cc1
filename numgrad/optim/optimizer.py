"""The :class:`Optimizer` base class: param groups, per-parameter state, state dicts.

Subclasses implement ``step`` as one :meth:`Optimizer._update` per param group: an update op of
the op table (``numgrad/ops/optim.py``: a scalar rule per element, scalars planned from the
group's hyperparameters) that the parameter's device runs over every parameter of the group in
one call.  Updates write the parameters' storage directly (no tape entry, as torch's optimizers
run under ``no_grad``), bump their version counters like any in-place op, and are reported to
the tape's capture hook (``numgrad.compile``).
"""

from __future__ import annotations

import copy
import itertools
import operator
from collections import defaultdict

import numpy as np

from .. import tape as _tape
from ..creation import from_numpy
from ..grad_mode import enable_grad
from ..ops.registry import OPS
from ..storage import _wrap, host_data
from ..tensor import Tensor

# numba has no float16 arithmetic; torch's CPU optimizers would upcast, we refuse instead
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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

    # state tensors have their parameter's shape (checked when a state dict is loaded)...
    _param_shaped_state = True
    # ...except these per-parameter float32 0-d states, which keep their own dtype
    _per_tensor_keys = ("step",)

    def __init__(self, params, defaults):
        self._check_hparams(defaults, "")
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._bound = {}  # id(group) -> _Bound: the group's update kernel bound to its arrays
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

    def __getstate__(self):
        # bound kernels hold compiled functions and raw addresses: never copied or pickled
        d = dict(self.__dict__)
        d["_bound"] = {}
        return d

    def __setstate__(self, d):
        d.setdefault("_bound", {})
        self.__dict__.update(d)

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

    def _step_groups(self, op_name, init_state, closure):
        """The body of every update-op optimizer's ``step``: run ``closure``, then update op
        ``op_name`` (numgrad/ops/optim.py) once over each param group's parameters."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            self._update(op_name, group, init_state)
        return loss

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
                state[param] = {
                    key: _cast_state(
                        param, key, val, k, self._param_shaped_state, self._per_tensor_keys
                    )
                    for key, val in v.items()
                }
            else:
                state[k] = copy.deepcopy(v)
        new_groups = []
        for i, (g, s) in enumerate(zip(groups, saved_groups, strict=True)):
            s["params"] = g["params"]
            self._check_hparams(s, f"param group {i}: ")
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups
        self._bound = {}

    # ---- the update call ---------------------------------------------------------------------
    def _update(self, op_name, group, init_state=None):
        """Run update op ``op_name`` (``numgrad/ops/optim.py``) on every parameter of ``group``
        that has a gradient: one device call per dtype, in place, skipping ``grad is None``.

        The op's device kernel is bound to the group's arrays once (a table of pointers on the
        CPU) and reused while the parameters, their state arrays and the flags are the same
        objects as at the last step; only the gradients, new after each ``zero_grad``, are
        checked and passed per step.  ``init_state(p, state, flags)`` creates missing state
        (``flags``: the op's static flags by name) and returns True when it created state the
        op's ``first`` flag applies to.
        """
        spec = OPS[op_name].forward.spec
        cache = self._bound.get(id(group))
        if cache is not None and cache.group is not group:
            cache = None
        if cache is not None:
            dtype0 = cache.batches[0].dtype
        else:
            dtype0 = next((p._data.dtype for p in group["params"] if p.grad is not None), None)
            if dtype0 is None:
                return
        # the plan per dtype (scalars are cast to it; a flag may depend on the cast value)
        plans = {dtype0: spec["plan"](group, dtype0.type)}
        keys = _state_keys(spec, plans[dtype0])
        state = self.state
        get_state = _getter(keys)
        ncount = len(spec["counters"])
        active = []  # parameters with a gradient
        garrays = []  # their gradient arrays, checked
        ids = []  # identities of the arrays a bound kernel points to
        counters = []
        # the per-parameter Python work of a step: keep it to attribute reads and C-level calls
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            pd = p._data
            try:
                gd = g._data
            except AttributeError:
                gd = None
            # gradients are new arrays after every zero_grad, so they are checked every step
            if gd is None or gd.shape != pd.shape or gd.dtype is not pd.dtype:
                gd = _checked_grad(self, p, g)
            if type(gd) is np.ndarray:
                if not gd.flags.c_contiguous:
                    gd = np.ascontiguousarray(gd)  # only read, so a copy is harmless
            elif not p._device.arrays.is_contiguous(gd):
                gd = p._device.arrays.contiguous(gd)
            active.append(p)
            garrays.append(gd)
            ids.append(id(pd))
            if get_state is not None:
                try:
                    ts = get_state(state[p])
                    for t in ts:  # a plain loop: faster here than map or a comprehension
                        ids.append(id(t._data))
                except (KeyError, AttributeError):
                    ids.append(None)  # missing or not a tensor: bound again below
                    continue
                if ncount:
                    counters += ts[-ncount:]
        if not active:
            return
        if cache is None or cache.ids != ids or not cache.valid_for(group, plans):
            cache = self._bind(spec, op_name, group, plans, keys, active, init_state)
            counters = [state[p][k] for p in active for k in spec["counters"]]
        hook = _update_hook()
        for batch in cache.batches:
            values = plans[batch.dtype]
            scalars = [values[k] for k in cache.scalar_names]
            if batch.rows is None:  # the whole group in one call (the usual case)
                batch.bound(garrays, *scalars)
            else:
                batch.bound([garrays[j] for j in batch.rows], *scalars)
            if hook is not None:
                self._capture(hook, op_name, spec, batch, group, active, keys, values)
        for p in active:
            p._version[0] += 1
        for t in counters:
            t._version[0] += 1
        if cache.once:
            del self._bound[id(group)]

    def _bind(self, spec, op_name, group, plans, keys, active, init_state):
        """Check the parameters and their state, create missing state, bind the device kernel."""
        name = type(self).__name__
        state = self.state
        flags = next(iter(plans.values()))  # the flags init_state reads are dtype-independent
        rows = []
        kinds = []  # per row: (device, dtype, first) - one device call per kind
        ids = []
        for p in active:
            data = p._data
            if data.dtype not in _FLOAT_DTYPES:
                raise TypeError(
                    f"{name}: parameter of shape {tuple(data.shape)} has dtype {data.dtype}; "
                    "the optimizer kernels support float32 and float64"
                )
            if not _contiguous_writeable(p, data):
                raise RuntimeError(
                    f"{name}: parameter of shape {tuple(data.shape)} is not a contiguous "
                    "writeable array; the optimizer updates its storage in place "
                    "(make the parameter contiguous, e.g. p.data = p.data.contiguous())"
                )
            created = False
            arrays = []
            if keys:
                st = state[p]
                created = bool(init_state(p, st, flags)) and spec["first"] is not None
                arrays = [_checked_state(name, p, st, k, k in spec["counters"]) for k in keys]
            rows.append((data, None, *arrays))
            kinds.append((p.device.type, data.dtype, created))
            ids.append(id(data))
            ids += [id(a) for a in arrays]
        batches = []
        for kind in dict.fromkeys(kinds):
            device, dtype, first = kind
            sel = [j for j, k in enumerate(kinds) if k == kind]
            if dtype not in plans:
                plans[dtype] = spec["plan"](group, dtype.type)
            base = tuple(plans[dtype][f] for f in spec["static"])
            static = base
            if first:
                static = tuple(
                    True if n == spec["first"] else v for n, v in zip(spec["static"], base)
                )
            kernel = OPS[op_name].forward.on(device, op_name)
            bound = kernel([rows[j] for j in sel], static, dtype)
            rows_of = None if len(sel) == len(rows) else sel
            batches.append(_Batch(bound, dtype, base, static, rows_of))
        once = any(k[2] for k in kinds)
        cache = _Bound(group, spec, ids, batches, once)
        # groups no longer in param_groups (replaced by the user) release their arrays
        live = {id(g) for g in self.param_groups}
        for k in [k for k in self._bound if k not in live]:
            del self._bound[k]
        self._bound[id(group)] = cache
        return cache

    def _capture(self, hook, op_name, spec, batch, group, active, keys, values):
        """Report one update call to the tape's capture hook (``numgrad.compile`` reads it)."""
        sel = range(len(active)) if batch.rows is None else batch.rows
        params = [active[j] for j in sel]
        inputs = {"param": params, "grad": [p.grad for p in params]}
        for k in keys:
            inputs[k] = [self.state[p][k] for p in params]
        outputs = {k: inputs[k] for k in spec["writes"] + spec["counters"] if k in inputs}
        attrs = dict(values)
        attrs.update(zip(spec["static"], batch.static))  # the first flag is the call's own
        attrs["group"] = group  # live: a replay re-plans from it (lr schedulers)
        hook(op_name, inputs, outputs, attrs)


class _Batch:
    """One device call of a step: the bound kernel, its dtype, the static flags planned for
    the group (``base``) and those it runs with (``static``: the first flag may be on), and its
    rows (indices into the step's parameters with a gradient; None: all of them)."""

    __slots__ = ("bound", "dtype", "base", "static", "rows")

    def __init__(self, bound, dtype, base, static, rows):
        self.bound = bound
        self.dtype = dtype
        self.base = base
        self.static = static
        self.rows = rows


class _Bound:
    """A group's update as bound at its last step: valid while ``ids`` (of the parameter and
    state arrays, in order) and the planned static flags are unchanged."""

    __slots__ = ("group", "ids", "batches", "once", "scalar_names", "plan", "static_names")

    def __init__(self, group, spec, ids, batches, once):
        self.group = group  # held, so id(group) cannot be reused while this is cached
        self.ids = ids
        self.batches = batches
        self.once = once  # state was created: bind again next step, without the first flag
        self.scalar_names = spec["scalars"] + spec["per_tensor_scalars"]
        self.plan = spec["plan"]
        self.static_names = spec["static"]

    def valid_for(self, group, plans):
        """Plan every batch's dtype into ``plans``; False when a static flag changed."""
        for batch in self.batches:
            values = plans.get(batch.dtype)
            if values is None:
                values = plans[batch.dtype] = self.plan(group, batch.dtype.type)
            if tuple(values[f] for f in self.static_names) != batch.base:
                return False
        return True


def _getter(keys):
    """``state -> tuple of state[k] for k in keys`` in C (None without keys)."""
    if not keys:
        return None
    if len(keys) == 1:
        key = keys[0]
        return lambda st: (st[key],)
    return operator.itemgetter(*keys)


def _checked_grad(opt, p, g):
    """``g._data`` after checking it can update ``p``; raises naming the mismatch."""
    name = type(opt).__name__
    if not isinstance(g, Tensor):
        raise TypeError(f"{name}: parameter .grad must be a Tensor or None, got {type(g).__name__}")
    gd, pd = g._data, p._data
    if gd.shape != pd.shape:
        raise RuntimeError(
            f"{name}: gradient of shape {tuple(gd.shape)} does not match its parameter's shape "
            f"{tuple(pd.shape)}"
        )
    if gd.dtype != pd.dtype:
        raise TypeError(
            f"{name}: gradient dtype {gd.dtype} does not match its parameter's dtype {pd.dtype}"
        )
    return gd


def _state_keys(spec, flags):
    """The state entries a step reads: the present optional slots, then the counters."""
    slots = [
        s
        for s in spec["slots"]
        if s not in ("param", "grad") and flags.get(spec["optional"].get(s), True)
    ]
    return tuple(slots) + spec["counters"]


def _checked_state(name, p, st, key, counter):
    """The array of state ``key`` of ``p`` after checking it (kernels don't bounds-check)."""
    t = st[key]
    if counter:
        arr = t._data if isinstance(t, Tensor) else None
        if (
            arr is None
            or arr.dtype != np.float32
            or arr.shape != ()
            or t._device is not p._device
            or not _contiguous_writeable(t, arr)
        ):
            # a plain number (an old or hand-made state dict), another dtype or device: stored
            # the way torch stores it, a float32 0-d tensor (on the parameter's device, where
            # the update kernel reads and increments it)
            value = t.item() if arr is not None else float(t)
            t = st[key] = _state_like(p, np.array(value, np.float32))
            arr = t._data
        return arr
    arr = t._data
    data = p._data
    if (
        arr.shape != data.shape
        or arr.dtype != data.dtype
        or t._device is not p._device
        or not _contiguous_writeable(t, arr)
    ):
        raise RuntimeError(
            f"{name}: state {key!r} (shape {tuple(arr.shape)}, dtype {arr.dtype}) does not "
            f"match its parameter (shape {tuple(data.shape)}, dtype {data.dtype}) or is not a "
            "contiguous writeable array"
        )
    return arr


def _update_hook():
    """The tape's capture hook for optimizer updates, when a trace may be recording."""
    hook = getattr(_tape, "capture_update", None)
    if hook is None:
        return None
    capture = getattr(_tape, "CAPTURE", None)
    if capture is not None and not getattr(capture, "active", True):
        return None
    return hook


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


def _contiguous_writeable(t, arr):
    if type(arr) is np.ndarray:
        return arr.flags.c_contiguous and arr.flags.writeable
    api = t._device.arrays
    return api.is_contiguous(arr) and api.writeable(arr)


def _state_like(p, arr):
    """A state tensor holding numpy array ``arr`` on ``p``'s device (optimizer state lives
    where its parameter does: the update kernels read it there)."""
    if p._device.type == "cpu":
        return from_numpy(arr)
    return _wrap(p._device.arrays.from_host(arr), p._device)


def _zeros_state(p):
    if p._device.type == "cpu":
        return from_numpy(np.zeros(p._data.shape, p._data.dtype))
    return _wrap(p._device.arrays.zeros(p._data.shape, p._data.dtype), p._device)


def _counted_zeros(p, state, keys):
    """Missing state of a counted update: the float32 ``"step"`` counter (as torch's) and a
    zero tensor like ``p`` for each of ``keys``."""
    if "step" not in state:
        state["step"] = _state_like(p, np.zeros((), np.float32))
    for key in keys:
        if key not in state:
            state[key] = _zeros_state(p)


def _empty_state(p):
    if p._device.type == "cpu":
        return from_numpy(np.empty(p._data.shape, p._data.dtype))
    return _wrap(p._device.arrays.empty(p._data.shape, p._data.dtype), p._device)


def _cast_state(param, key, value, index, shaped=True, per_tensor_keys=("step",)):
    """Copy one loaded state value; tensors become numgrad Tensors of the parameter's dtype
    (those in lists and tuples too, as torch casts them).  ``shaped``: state tensors must have
    the parameter's shape (update ops index them per element; LBFGS's are flat vectors).
    ``per_tensor_keys`` keep their dtype (the update makes them float32 0-d tensors; torch
    casts NAdam's ``mu_product`` to the parameter's dtype on load, a quirk not copied)."""
    if isinstance(value, (bool, int, float, complex, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(
            _cast_state(param, key, v, index, shaped, per_tensor_keys) for v in value
        )
    if isinstance(value, Tensor):
        arr = host_data(value)
    elif hasattr(value, "__array__"):
        arr = np.asarray(value.detach() if hasattr(value, "detach") else value)
    else:
        return copy.deepcopy(value)
    if key in per_tensor_keys:
        # the step count keeps its own dtype (torch: float32), never the parameter's
        return _state_like(param, np.array(arr, copy=True))
    if shaped and arr.shape != param._data.shape:
        raise ValueError(
            f"loaded state {key!r} of parameter {index} has shape {tuple(arr.shape)}; the "
            f"parameter has shape {tuple(param._data.shape)}"
        )
    return _state_like(param, np.array(arr, dtype=param._data.dtype, order="C", copy=True))
