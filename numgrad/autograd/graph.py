"""``numgrad.autograd.graph``: look at the recorded graph of a result.

``to_dot(loss)`` returns Graphviz DOT text of everything ``loss`` depends on: one box per op
(torch's node name, e.g. ``MmBackward0``, with its input shapes), one ellipse per leaf tensor
that requires grad (its shape, and its name when ``params`` maps names to tensors, e.g.
``dict(model.named_parameters())``), edges from inputs to the ops that used them.  Render it
with ``dot -Tpng``.  ``walk(loss)`` yields the nodes in reverse order of recording.
"""

from __future__ import annotations

from ..printing import grad_fn_name
from ..storage import TensorBase

__all__ = ["to_dot", "walk"]


def walk(*tensors):
    """The nodes the tensors' gradients flow through, latest recorded first."""
    seen, stack, out = set(), [t._node for t in tensors if t._node is not None], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        for p in node.parents or ():
            if p is not None and not isinstance(p, TensorBase):
                stack.append(p)
    out.sort(key=lambda n: -n.seq)
    return out


def _shape(s):
    return "x".join(map(str, s)) if s else "scalar"


def to_dot(*tensors, params=None):
    """Graphviz DOT text of the graph behind ``tensors`` (see the module docstring)."""
    names = {id(t): n for n, t in (params or {}).items()}
    lines = ["digraph numgrad {", '  node [fontname="monospace"];']
    leaves = {}
    for node in walk(*tensors):
        shapes = ", ".join(_shape(s) for s in node.shapes if s is not None)
        lines.append(f'  n{node.seq} [shape=box, label="{grad_fn_name(node)}\\n({shapes})"];')
        for p in node.parents or ():
            if p is None:
                continue
            if isinstance(p, TensorBase):
                key = f"l{id(p)}"
                if key not in leaves:
                    label = names.get(id(p), "leaf")
                    leaves[key] = f'  {key} [shape=ellipse, label="{label}\\n{_shape(p.shape)}"];'
                lines.append(f"  {key} -> n{node.seq};")
            else:
                lines.append(f"  n{p.seq} -> n{node.seq};")
    for t in tensors:
        if t._node is not None:
            lines.append(f'  out{id(t)} [shape=doublecircle, label="{_shape(t.shape)}"];')
            lines.append(f"  n{t._node.seq} -> out{id(t)};")
    lines[2:2] = leaves.values()
    lines.append("}")
    return "\n".join(lines)
