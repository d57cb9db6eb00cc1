"""``Module``: torch's container protocol (attribute registration, state_dict, train/eval)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import dtypes as D
from .. import hooks as _hooks
from ..autograd.function import Function
from ..grad_mode import GRAD_MODE, no_grad
from ..storage import host_data
from ..tensor import Tensor, check_device, move_to_device, parse_to_args
from .parameter import Parameter


class Module:
    """Base class for layers and models; subclasses define ``forward``.

    Assigning a :class:`Parameter` or a ``Module`` to an attribute registers it, so
    ``parameters()``, ``state_dict()``, ``to()`` and ``zero_grad()`` find it, with torch's names.
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    # ---- registration ----------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign attributes before Module.__init__() is called")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        for d in (params, modules, buffers):
            if name in d and not (d is params and value is None):
                if d is buffers and (value is None or isinstance(value, Tensor)):
                    buffers[name] = value
                    return
                del d[name]
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        elif name in params and value is None:
            params[name] = None
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_modules", "_buffers"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._modules, self._buffers):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' as parameter '{name}' "
                "(numgrad.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (BatchNorm's running statistics);
        ``persistent=False`` keeps it out of ``state_dict``, as torch's."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(torch Tensor or None required)"
            )
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    # ---- traversal -------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            pre, m = stack.pop(0)
            if m is None or id(m) in memo:
                continue
            memo.add(id(m))
            yield pre, m
            stack[0:0] = [(f"{pre}.{n}" if pre else n, c) for n, c in m._modules.items()]

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for n, m in self._modules.items():
            if m is not None:
                yield n, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for pre, m in mods:
            for n, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{pre}.{n}" if pre else n), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for pre, m in mods:
            for n, b in m._buffers.items():
                if b is not None:
                    yield (f"{pre}.{n}" if pre else n), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- state -----------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and buffers by torch's dotted names (``0.weight``, ``fc1.bias``)."""
        out = OrderedDict() if destination is None else destination
        for pre, m in self.named_modules(prefix=prefix.rstrip(".")):
            skip = m.__dict__.get("_non_persistent", ())
            for n, p in list(m._parameters.items()) + list(m._buffers.items()):
                if p is None or (n in skip and n in m._buffers):
                    continue
                key = f"{pre}.{n}" if pre else n
                out[key] = p if keep_vars else p.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values in; accepts numgrad tensors, numpy arrays or anything with ``numpy()``."""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and (missing or unexpected):
            errors.append(f"missing keys {missing}, unexpected keys {unexpected}")
        for k, target in own.items():
            if k not in state_dict:
                continue
            arr = _as_array(state_dict[k])
            if arr.shape != target._data.shape:
                errors.append(
                    f"size mismatch for {k}: copying a param with shape "
                    f"{tuple(arr.shape)}, the shape in current model is "
                    f"{tuple(target._data.shape)}"
                )
                continue
            with no_grad():
                target._device.arrays.assign(target._data, arr)
                target._bump()
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        return _Keys(missing, unexpected)

    # ---- modes, devices, grads -------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._device.arrays.fill(p.grad._data, 0)

    def to(self, *args, dtype=None, device=None):
        dtype, device = parse_to_args(args, dtype, device)
        dev = None if device is None else check_device(device)
        if dtype is not None:
            dt = D.as_dtype(dtype)
            for p in list(self.parameters()) + list(self.buffers()):
                if p._data.dtype.kind == "f" and p._data.dtype != dt.np:
                    p._data = p._device.arrays.cast(p._data, dt.np)
                    if p.grad is not None:
                        p.grad._data = p.grad._device.arrays.cast(p.grad._data, dt.np)
        if dev is not None:
            # parameters stay the same objects (optimizers hold them), moved in place as torch's
            for p in list(self.parameters()) + list(self.buffers()):
                move_to_device(p, dev)
                if p.grad is not None:
                    move_to_device(p.grad, dev)
        return self

    def float(self):
        return self.to(D.float32)

    def double(self):
        return self.to(D.float64)

    def half(self):
        """float16 parameters (every op computes them in float32, as torch does on the CPU)."""
        return self.to(D.float16)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda")

    def apply(self, fn):
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # ---- calling ---------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        if "_hooks" not in self.__dict__:  # no hook was ever registered: the plain call
            return self.forward(*args, **kwargs)
        return _call_with_hooks(self, args, kwargs)

    # ---- hooks (torch's Module hooks; numgrad/hooks.py handles) ----------------------------
    def _hook_dict(self, kind):
        hooks = self.__dict__.get("_hooks")
        if hooks is None:
            hooks = {"forward_pre": {}, "forward": {}, "backward": {}}
            object.__setattr__(self, "_hooks", hooks)
        return hooks[kind]

    def register_forward_pre_hook(self, hook):
        """``hook(module, args) -> None or new args`` before each forward; returns a handle."""
        return _hooks.add(self._hook_dict("forward_pre"), hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output) -> None or a new output`` after each forward."""
        return _hooks.add(self._hook_dict("forward"), hook)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output) -> None or new grad_input``, called when the
        gradients with respect to the module's inputs are computed (``None`` for inputs that
        need no gradient), as torch's."""
        return _hooks.add(self._hook_dict("backward"), hook)

    def extra_repr(self):
        """The text between the parentheses of this module's repr (torch's hook: a layer
        returns its arguments, ``in_features=2, out_features=3, bias=True``)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        # torch's layout: a one-line extra_repr stays on the head line; children (and a
        # multi-line extra_repr) go one per line, indented two spaces per level
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({n}): " + _addindent(repr(m), 2) for n, m in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._modules)


class _Keys(tuple):
    def __new__(cls, missing, unexpected):
        self = super().__new__(cls, (missing, unexpected))
        self.missing_keys = missing
        self.unexpected_keys = unexpected
        return self


def _addindent(text, spaces):
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _as_array(v):
    if isinstance(v, Tensor):
        return host_data(v)  # a host copy of a GPU tensor: loading crosses devices freely
    if isinstance(v, np.ndarray):
        return v
    if hasattr(v, "detach"):  # a torch tensor
        return v.detach().cpu().numpy()
    return np.asarray(v)


# ---- module hooks ---------------------------------------------------------------------------


def _call_with_hooks(module, args, kwargs):
    hooks = module._hooks
    for hook in list(hooks["forward_pre"].values()):
        r = hook(module, args)
        if r is not None:
            args = r if isinstance(r, tuple) else (r,)
    backward = list(hooks["backward"].values())
    state = None
    if backward and GRAD_MODE.enabled:
        state = {"module": module, "hooks": backward, "grad_output": None, "n_in": 0}
        args = _BackwardHookIn.wrap(state, args)
    out = module.forward(*args, **kwargs)
    for hook in list(hooks["forward"].values()):
        r = hook(module, args, out)
        if r is not None:
            out = r
    if state is not None:
        out = _BackwardHookOut.wrap(state, out)
    return out


def _call_backward_hooks(state, grad_input):
    for hook in state["hooks"]:
        r = hook(state["module"], grad_input, state["grad_output"])
        if r is not None:
            grad_input = tuple(r) if isinstance(r, (tuple, list)) else (r,)
    return grad_input


class _BackwardHookOut(Function):
    """Identity on the module's outputs: its backward sees grad_output (and, when no input
    needs a gradient, is where the hooks run, with grad_input all None, as torch does)."""

    @staticmethod
    def forward(ctx, state, *outs):
        ctx.state = state
        return outs if len(outs) > 1 else outs[0]

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        state["grad_output"] = grads
        if state["n_in"] == 0:
            _call_backward_hooks(state, (None,))
        return (None, *grads)

    @staticmethod
    def wrap(state, out):
        if isinstance(out, Tensor) and out.requires_grad:
            return _BackwardHookOut.apply(state, out)
        if isinstance(out, tuple) and any(isinstance(o, Tensor) for o in out):
            res = _BackwardHookOut.apply(state, *out)
            return res if isinstance(res, tuple) else (res,)
        return out


class _BackwardHookIn(Function):
    """Identity on the module's tensor inputs that need a gradient: its backward runs last
    in the module and calls the hooks with grad_input."""

    @staticmethod
    def forward(ctx, state, *xs):
        ctx.state = state
        return xs if len(xs) > 1 else xs[0]

    @staticmethod
    def backward(ctx, *grads):
        grads = _call_backward_hooks(ctx.state, grads)
        return (None, *grads)

    @staticmethod
    def wrap(state, args):
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        state["n_in"] = len(idx)
        if not idx:
            return args
        res = _BackwardHookIn.apply(state, *[args[i] for i in idx])
        res = res if isinstance(res, tuple) else (res,)
        args = list(args)
        for i, r in zip(idx, res):
            args[i] = r
        return tuple(args)
