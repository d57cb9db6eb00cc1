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
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from .ops.registry import _MISSING, missing_rule_error

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
        "__weakref__",
    )

    def __init__(self, op, parents, needs, attrs, shapes, dtypes):
        self.op = op
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

    @property
    def name(self):
        return self.op.name

    @property
    def next_functions(self):
        if self.parents is None:
            return ()
        return tuple(p if isinstance(p, Node) else None for p in self.parents)

    def __repr__(self):
        return f"<{self.op.name} backward>"


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


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the inverse of numpy broadcasting)."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if g.shape != shape:
        g = np.broadcast_to(g, shape)
    return g


def _scope(node, grad):
    scope = {"grad": grad}
    if node.saved:
        scope.update(node.saved)
    if node.attrs:
        scope.update(node.attrs)
    scope.update(zip(node.op.shape_keys, node.shapes))
    return scope


def _input_grads(node, grad, device):
    """Yield (index, parent, gradient) for each input of ``node`` that needs one."""
    op = node.op
    if node.versions:
        for name, counter, then in node.versions:
            if counter[0] != then:
                raise _version_error(node, name, node.saved[name], counter[0], then)
    scope = _scope(node, grad)
    if getattr(op, "variadic", False):
        rule = op.rules[0]
        grads = rule.on(device, op.name)(*[scope[n] for n in rule.args])
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
        yield i, parent, fn(*[scope[n] for n in rule.args]), rule.fresh


def _fix(g, shape, dtype):
    if not isinstance(g, np.ndarray):
        g = np.array(g, dtype=dtype)
    if g.shape != shape:
        g = unbroadcast(g, shape)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def run_backward(roots, root_grads, retain_graph=False, inputs=None):
    # NaN/inf flow through backward like torch, without numpy's floating-point warnings
    with np.errstate(all="ignore"):
        return _run_backward(roots, root_grads, retain_graph, inputs)


def _run_backward(roots, root_grads, retain_graph=False, inputs=None):
    """Backpropagate ``root_grads`` from ``roots`` (tensors).

    Without ``inputs`` the gradients of leaves land in ``leaf.grad``; otherwise the gradients
    of ``inputs`` (tensors, leaf or not) are returned in order and nothing else is written.
    """
    from .tensor import _wrap

    pending = {}  # node -> gradient array accumulated so far
    heap = []
    captured = {}
    wanted = None
    if inputs is not None:
        wanted = {}
        for k, t in enumerate(inputs):
            wanted.setdefault(id(t._node) if t._node is not None else id(t), []).append(k)

    def deliver_leaf(leaf, g, fresh):
        if wanted is not None:
            ks = wanted.get(id(leaf))
            if ks is not None:
                captured[id(leaf)] = g if id(leaf) not in captured else captured[id(leaf)] + g
            return
        if leaf.grad is None:
            # a fresh kernel result is owned by nobody else; anything else may alias another
            # gradient or the user's array, so it is copied before it becomes .grad
            leaf.grad = _wrap(g if fresh and g.flags.writeable else np.array(g, copy=True))
        else:
            gd = leaf.grad._data
            if gd.shape != g.shape:
                raise RuntimeError(
                    f"cannot accumulate gradient of shape {g.shape} into .grad of shape {gd.shape}"
                )
            np.add(gd, g, out=gd)

    for root, g in zip(roots, root_grads):
        node = root._node
        if node is None:
            if root.requires_grad:
                deliver_leaf(root, g, False)
            continue
        if node in pending:
            pending[node] = pending[node] + g
        else:
            pending[node] = g
            heapq.heappush(heap, (-node.seq, node))

    while heap:
        _, node = heapq.heappop(heap)
        grad = pending.pop(node)
        if node.freed:
            raise _freed_error()
        if wanted is not None and id(node) in wanted:
            captured[id(node)] = grad
        if node.retained is not None:
            t = node.retained()
            if t is not None:
                if t.grad is None:
                    t.grad = _wrap(np.array(grad, copy=True))
                else:
                    t.grad = _wrap(t.grad._data + grad)
        device = "cpu"
        for i, parent, g, fresh in _input_grads(node, grad, device):
            if type(g) is not np.ndarray or g.shape != node.shapes[i] or g.dtype != node.dtypes[i]:
                g2 = _fix(g, node.shapes[i], node.dtypes[i])
                fresh = fresh or g2 is not g
                g = g2
            if type(parent) is Node:
                if parent in pending:
                    pending[parent] = pending[parent] + g
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

    if inputs is not None:
        out = []
        for t in inputs:
            key = id(t._node) if t._node is not None else id(t)
            g = captured.get(key)
            out.append(None if g is None else _wrap(np.array(g, copy=True)))
        return out
    return None
