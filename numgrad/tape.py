"""The tape: recording operations and walking them backwards.

Every op applied to tensors that need gradients records one :class:`Node` (a tape entry) holding
the op, its parents (the input tensors' entries, or the leaf tensors themselves), the arrays its
backward rules need, and a sequence number from one global counter.  Sequence numbers are the
execution order, so the tape *is* the set of live entries sorted by ``seq``.

``backward()`` walks that order in reverse, restricted to the entries the root depends on: a
max-heap keyed by ``seq`` pops the newest pending entry, whose gradient is then complete (every
consumer ran later, so was popped earlier).  No recursion and no separate topological sort, so
chains of 100,000 ops are fine.  Entries hang off the tensors they produced rather than off a
global list, so a graph that is never differentiated (a validation pass outside ``no_grad``) is
freed by reference counting like any Python object.

After a backward without ``retain_graph=True`` each visited entry drops its saved arrays and
parent links and is marked freed; a second backward through it raises.  Saved inputs carry the
version of their tensor at save time; an in-place change before backward raises (as torch).

:func:`record` is the only place a :class:`Node` is made: ``dispatch.apply``, variadic ops,
custom ``Function``s, device copies and in-place/view rebasing all go through it.  The walk
reaches gradient arrays only through their device's array API (``device.arrays``: accumulate,
sum-to-shape, cast, copy, error state), never numpy directly.

Beside it, the capture hook (:mod:`numgrad.capture`): inside ``with numgrad.autograd.trace()
as t`` every op executed (recorded for gradients or not), every backward rule call, the
engine's own array work and every optimizer update is appended to ``t``.  With no trace open
anywhere the cost is one check of ``CAPTURE.active`` per op.
"""

from __future__ import annotations

import heapq
import itertools
import traceback
import weakref

import numpy as np

from .capture import CAPTURE, capture_update, current_trace  # noqa: F401  (re-exported)
from .grad_mode import ANOMALY
from .ops.registry import _MISSING, missing_rule_error
from .printing import grad_fn_name
from .storage import TensorBase, _wrap

# Tensor hooks (Tensor.register_hook / register_post_accumulate_grad_hook): keyed by
# id(leaf tensor), or id(node) for a non-leaf tensor, -> (weak reference, hooks); plain dicts
# (a tensor's == is elementwise, and an empty dict's truth test is what the walk pays when no
# hook exists anywhere).  Each ``hooks`` is an ordered {id: hook} dict (numgrad/hooks.py).
LEAF_HOOKS: dict = {}
POST_ACCUMULATE_HOOKS: dict = {}
NODE_HOOKS: dict = {}


def leaf_hooks(table, tensor, create=False):
    """The hooks dict of ``tensor`` (a leaf, or a node for NODE_HOOKS) in ``table``."""
    key = id(tensor)
    entry = table.get(key)
    if entry is not None and entry[0]() is tensor:
        return entry[1]
    if not create:
        return None

    def gone(_ref, key=key):
        e = table.get(key)
        if e is not None and e[0] is _ref:
            del table[key]

    hooks = {}
    table[key] = (weakref.ref(tensor, gone), hooks)
    return hooks


_next_seq = itertools.count().__next__


class Node:
    """One tape entry; ``tensor.grad_fn`` returns it.  ``name`` is the op's name."""

    __slots__ = (
        "op",
        "seq",
        "parents",
        "needs",
        "saved",
        "versions",
        "attrs",
        "shapes",
        "dtypes",
        "retained",
        "freed",
        "device",
        "stack",
        "__weakref__",
    )

    def __init__(self, op, parents, needs, attrs, shapes, dtypes, device):
        self.op = op
        self.device = device  # the Device the op ran on: backward runs its rules there
        self.seq = _next_seq()
        self.parents = parents
        self.needs = needs
        self.attrs = attrs
        self.shapes = shapes
        self.dtypes = dtypes
        self.saved = None
        self.versions = None
        self.retained = None
        self.freed = False
        self.stack = None  # anomaly mode: the forward call's traceback

    @property
    def name(self):
        return self.op.name

    @property
    def next_functions(self):
        """torch's ``((node, 0), ...)``, one pair per input: the input's node, an
        ``AccumulateGrad`` for a leaf that requires grad (``.variable`` is the leaf), or None."""
        if self.parents is None:
            return ()
        return tuple(
            (p if isinstance(p, Node) else AccumulateGrad(p) if p is not None else None, 0)
            for p in self.parents
        )

    def __repr__(self):
        return f"<{self.op.name} backward>"


class AccumulateGrad:
    """The sink of a leaf's gradient in ``next_functions`` (torch's ``AccumulateGrad``)."""

    __slots__ = ("variable",)
    name = "AccumulateGrad"

    def __init__(self, variable):
        self.variable = variable

    next_functions = ()

    def __repr__(self):
        return "<AccumulateGrad>"


def _run_hooks(hooks, g, device):
    """Call each tensor hook with the gradient (a tensor); one may return a replacement."""
    for hook in list(hooks.values()):
        r = hook(_wrap(g, device))
        if r is not None:
            arr = getattr(r, "_data", r)
            if getattr(arr, "shape", None) != g.shape:
                raise RuntimeError(
                    f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                    f"{tuple(getattr(arr, 'shape', ()))}, expected {tuple(g.shape)}"
                )
            g = arr
    return g


def _checked(node, grads):
    for item in grads:
        _check_finite(node, item[0], item[2])
        yield item


def _check_finite(node, i, g):
    """Anomaly mode: a rule's result holding NaN or inf raises, naming the op and where its
    forward ran (torch: "Function 'XBackward0' returned nan values in its 0th output")."""
    host = np.asarray(node.device.arrays.to_host(g))
    if host.dtype.kind not in "fc" or np.isfinite(host).all():
        return
    what = "nan" if np.isnan(host).any() else "inf"
    where = ""
    if node.stack:
        where = "\nTraceback of the forward call that caused the error:\n" + "".join(
            traceback.format_list(node.stack)
        )
    raise RuntimeError(
        f"Function '{grad_fn_name(node)}' returned {what} values in its {i}th output." + where
    )


def _freed_error():
    return RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved tensors "
        "after they have already been freed). Saved intermediate values of the graph are freed "
        "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
        "backward through the graph a second time."
    )


def _version_error(node, name, arr, now, then):
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: '{name}' of op '{node.op.name}' (shape {tuple(arr.shape)}, dtype "
        f"{arr.dtype}) is at version {now}; expected version {then} instead."
    )


def _scope(node, grad):
    scope = {"grad": grad}
    if node.saved:
        scope.update(node.saved)
    if node.attrs:
        scope.update(node.attrs)
    scope.update(zip(node.op.shape_keys, node.shapes))
    return scope


def _input_grads(node, grad, device, trace=None):
    """Yield (index, parent, gradient) for each input of ``node`` that needs one."""
    op = node.op
    if node.versions:
        for name, counter, then in node.versions:
            if counter[0] != then:
                raise _version_error(node, name, node.saved[name], counter[0], then)
    scope = _scope(node, grad)
    if getattr(op, "variadic", False):
        rule = op.rules[0]
        if rule.plan is not None:
            scope["plan"] = rule.plan_for(scope)
        args = [scope[n] for n in rule.args]
        grads = rule.on(device, op.name)(*args)
        if trace is not None:
            trace.call("backward", op, rule, args, grads, node.attrs, node.device, op.inputs[0])
        for i, (parent, g) in enumerate(zip(node.parents, grads)):
            if parent is not None and node.needs[i] and g is not None:
                yield i, parent, g, rule.fresh
        return
    for i, parent in enumerate(node.parents):
        if parent is None or not node.needs[i]:
            continue
        rule = op.rules[i]
        if rule is _MISSING:
            raise missing_rule_error(op, op.inputs[i])
        fn = rule.impls.get(device) or rule.on(device, op.name)
        if rule.plan is not None:  # shapes and attrs -> the rule's plan (cached by them)
            scope["plan"] = rule.plan_for(scope)
        args = [scope[n] for n in rule.args]
        g = fn(*args)
        if trace is not None:
            trace.call("backward", op, rule, args, (g,), node.attrs, node.device, op.inputs[i])
        yield i, parent, g, rule.fresh


def _fix(g, shape, dtype, device, trace):
    """A rule's result as its input's gradient: an array of the input's shape and dtype."""
    api = device.arrays
    if not isinstance(g, api.array_type):
        g = api.asarray(g, dtype)
        if trace is not None:
            trace.array("asarray", (), (g,), {"dtype": dtype}, device)
    if g.shape != shape:
        g2 = api.sum_to_shape(g, shape)
        if trace is not None:
            trace.array("sum_to_shape", (g,), (g2,), {"shape": shape}, device)
        g = g2
    if g.dtype != dtype:
        g2 = api.cast(g, dtype)
        if trace is not None:
            trace.array("cast", (g,), (g2,), {"dtype": dtype}, device)
        g = g2
    return g


def run_backward(roots, root_grads, retain_graph=False, inputs=None):
    if not roots:
        return [None] * len(inputs) if inputs is not None else None
    # NaN/inf flow through backward like torch, without floating-point warnings
    with roots[0]._device.arrays.errstate():
        return _run_backward(roots, root_grads, retain_graph, inputs)


def _run_backward(roots, root_grads, retain_graph=False, inputs=None):
    """Backpropagate ``root_grads`` from ``roots`` (tensors).

    Without ``inputs`` the gradients of leaves land in ``leaf.grad``; otherwise the gradients
    of ``inputs`` (tensors, leaf or not) are returned in order and nothing else is written.
    """
    trace = current_trace() if CAPTURE.active else None
    pending = {}  # node -> gradient array accumulated so far
    heap = []
    captured = {}
    wanted = None
    if inputs is not None:
        wanted = {}
        for k, t in enumerate(inputs):
            wanted.setdefault(id(t._node) if t._node is not None else id(t), []).append(k)

    def add(device, a, b):  # out of place: a pending gradient may alias another or the user's
        c = device.arrays.add(a, b)
        if trace is not None:
            trace.array("add", (a, b), (c,), None, device)
        return c

    # read once per backward: with no hook anywhere and anomaly mode off, the walk below is
    # what it was before either existed (the hooked delivery is a wrapper, chosen here)
    any_hooks = bool(LEAF_HOOKS or POST_ACCUMULATE_HOOKS or NODE_HOOKS)
    anomaly = ANOMALY.enabled and ANOMALY.check_nan
    deferred = None  # leaves with hooks: their gradient is summed first, then delivered once

    def deliver_leaf(leaf, g, fresh):
        api = leaf._device.arrays
        if wanted is not None:
            ks = wanted.get(id(leaf))
            if ks is not None:
                old = captured.get(id(leaf))
                captured[id(leaf)] = g if old is None else add(leaf._device, old, g)
            return
        if leaf.grad is None:
            # a fresh kernel result is owned by nobody else; anything else may alias another
            # gradient or the user's array, so it is copied before it becomes .grad
            if not (fresh and api.writeable(g)):
                g2 = api.copy(g)
                if trace is not None:
                    trace.array("copy", (g,), (g2,), None, leaf._device)
                g = g2
            leaf.grad = _wrap(g, leaf._device)
            if trace is not None:
                of = {"of": trace.slot(leaf._data, leaf)}
                trace.array("set_grad", (g,), (), of, leaf._device)
        else:
            gd = leaf.grad._data
            if gd.shape != g.shape:
                raise RuntimeError(
                    f"cannot accumulate gradient of shape {g.shape} into .grad of shape {gd.shape}"
                )
            api.accumulate(gd, g)
            if trace is not None:
                trace.array("accumulate", (gd, g), (gd,), None, leaf._device)

    if any_hooks:
        plain_deliver = deliver_leaf
        deferred = {}

        def deliver_leaf(leaf, g, fresh):  # noqa: F811  (the hooked form)
            if leaf_hooks(LEAF_HOOKS, leaf) or leaf_hooks(POST_ACCUMULATE_HOOKS, leaf):
                # as torch's AccumulateGrad: the hooks see the leaf's whole gradient, once
                prev = deferred.get(id(leaf))
                deferred[id(leaf)] = (leaf, g if prev is None else add(leaf._device, prev[1], g))
                return
            plain_deliver(leaf, g, fresh)

        def deliver_hooked(leaf, g):
            hooks = leaf_hooks(LEAF_HOOKS, leaf)
            if hooks:
                g = _run_hooks(hooks, g, leaf._device)
            plain_deliver(leaf, g, False)
            for hook in list((leaf_hooks(POST_ACCUMULATE_HOOKS, leaf) or {}).values()):
                hook(leaf)  # after .grad is set or accumulated into

    for root, g in zip(roots, root_grads):
        node = root._node
        if node is None:
            if root.requires_grad:
                deliver_leaf(root, g, False)
            continue
        if node in pending:
            pending[node] = add(node.device, pending[node], g)
        else:
            pending[node] = g
            heapq.heappush(heap, (-node.seq, node))

    while heap:
        _, node = heapq.heappop(heap)
        grad = pending.pop(node)
        if any_hooks:
            hooks = leaf_hooks(NODE_HOOKS, node)
            if hooks:
                grad = _run_hooks(hooks, grad, node.device)
        if node.freed:
            raise _freed_error()
        if wanted is not None and id(node) in wanted:
            captured[id(node)] = grad
        if node.retained is not None:
            t = node.retained()
            if t is not None:
                api = t._device.arrays
                if t.grad is None:
                    t.grad = _wrap(api.copy(grad), t._device)
                else:
                    t.grad = _wrap(api.add(t.grad._data, grad), t._device)
        device = node.device
        array_type = device.arrays.array_type
        grads = _input_grads(node, grad, device.type, trace)
        for i, parent, g, fresh in _checked(node, grads) if anomaly else grads:
            if type(g) is not array_type or g.shape != node.shapes[i] or g.dtype != node.dtypes[i]:
                # the gradient lives on the input's device (a device copy's differs from its own)
                g2 = _fix(g, node.shapes[i], node.dtypes[i], parent.device, trace)
                fresh = fresh or g2 is not g
                g = g2
            if type(parent) is Node:
                if parent in pending:
                    pending[parent] = add(parent.device, pending[parent], g)
                else:
                    pending[parent] = g
                    heapq.heappush(heap, (-parent.seq, parent))
            else:
                deliver_leaf(parent, g, fresh)
        if not retain_graph:
            node.saved = None
            node.versions = None
            node.parents = None
            node.freed = True

    if deferred:
        for leaf, g in deferred.values():
            deliver_hooked(leaf, g)

    if inputs is not None:
        out = []
        for t in inputs:
            key = id(t._node) if t._node is not None else id(t)
            g = captured.get(key)
            if g is not None:
                g2 = t._device.arrays.copy(g)
                if trace is not None:
                    trace.array("copy", (g,), (g2,), None, t._device)
                g = _wrap(g2, t._device)
            out.append(g)
        return out
    return None


# ---- recording ---------------------------------------------------------------------------------


def record(op, rules, args, arrays, attrs, out, out_arr, extras, device):
    """Record ``op`` applied to ``args`` (giving tensor ``out``) on the tape: the only place a
    :class:`Node` is made.

    ``rules`` is ``op.rules`` (one backward rule per input), or for a variadic op one rule
    per argument; ``arrays`` the inputs' arrays as the kernel received them (after dtype
    promotion); ``out_arr``/``extras`` the kernel's results; ``device`` the Device it ran on.
    Nothing is recorded when no input that has a rule needs a gradient.  The caller checks
    grad mode.
    """
    if len(args) == 1:  # unrolled: most ops have one tensor input
        a = args[0]
        rule = rules[0]
        if rule is None:
            return
        if rule is _MISSING:
            raise missing_rule_error(op, op.inputs[0])
        prev = a._node
        parents = (a if prev is None else prev,)
        needs = (True,)
        shapes = (arrays[0].shape,)
        dtypes = (a._data.dtype,)
    elif len(args) == 2:  # unrolled: binary elementwise ops and linear without bias dominate
        a, b = args
        ra, rb = rules
        na = ra is not None and isinstance(a, TensorBase) and a._rg
        nb = rb is not None and isinstance(b, TensorBase) and b._rg
        if not (na or nb):
            return
        if (na and ra is _MISSING) or (nb and rb is _MISSING):
            raise missing_rule_error(op, op.inputs[0 if na and ra is _MISSING else 1])
        pa = (a if a._node is None else a._node) if na else None
        pb = (b if b._node is None else b._node) if nb else None
        parents = (pa, pb)
        needs = (na, nb)
        xa, xb = arrays
        shapes = (getattr(xa, "shape", ()), getattr(xb, "shape", ()))
        dtypes = (
            a._data.dtype if isinstance(a, TensorBase) else None,
            b._data.dtype if isinstance(b, TensorBase) else None,
        )
    else:
        parents = []
        needs = []
        any_need = False
        for a, rule in zip(args, rules):
            if rule is not None and isinstance(a, TensorBase) and a._rg:
                if rule is _MISSING:
                    raise missing_rule_error(op, op.inputs[len(parents)])
                prev = a._node
                parents.append(a if prev is None else prev)
                needs.append(True)
                any_need = True
            else:
                parents.append(None)
                needs.append(False)
        if not any_need:
            return
        parents = tuple(parents)
        needs = tuple(needs)
        shapes = tuple([getattr(x, "shape", ()) for x in arrays])
        dtypes = tuple([a._data.dtype if isinstance(a, TensorBase) else None for a in args])
    node = Node(op, parents, needs, attrs, shapes, dtypes, device)
    plan = op._save_plan.get(needs)
    if plan is None:
        plan = op.save_plan(needs)
    if plan:
        saved = {}
        versions = []
        index_of = op.index_of
        for name in plan:
            idx = index_of.get(name)
            if idx is not None:
                saved[name] = arrays[idx]
                a = args[idx]
                if isinstance(a, TensorBase):
                    versions.append((name, a._version, a._version[0]))
            elif name == op.outputs[0]:
                saved[name] = out_arr
                versions.append((name, out._version, out._version[0]))
            else:
                saved[name] = extras[op.outputs.index(name) - 1]
        node.saved = saved
        node.versions = versions
    if ANOMALY.enabled:
        node.stack = traceback.extract_stack()[:-3]
    out._node = node
    out._rg = True
    return node


def keep(node, name, arr, tensor):
    """Save ``arr`` (``tensor``'s data) on an already recorded ``node`` under ``name``,
    version-checked like a saved input: the indices a getitem's backward scatters through,
    the arrays a custom Function saves, an extra output backward reads."""
    if node.saved is None:
        node.saved = {}
    if node.versions is None:
        node.versions = []
    node.saved[name] = arr
    node.versions.append((name, tensor._version, tensor._version[0]))


def copy_saved(node, arr, device):
    """Before ``arr`` is overwritten in place: ``node``'s saved copies of it become private
    copies (backward needs the pre-mutation value), no longer version-checked."""
    if not node.saved:
        return
    for name, v in list(node.saved.items()):
        if v is arr:
            node.saved[name] = device.arrays.copy(v)
            node.versions = [e for e in node.versions if e[0] != name]


def adopt(tensor, node):
    """``tensor`` takes ``node`` as its history (an in-place op rebased it onto a new op)."""
    tensor._node = node
    tensor._rg = True
