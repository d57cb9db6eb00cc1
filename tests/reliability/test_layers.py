"""The engine is layered: each module imports only modules below it, and every method of
``Tensor`` is defined in the class body in ``numgrad/tensor.py`` (issue 8, "open the circle").

Layers, bottom to top (a module may import only from layers below its own; the autograd
package's modules may import each other):

  0  ground floor: grad_mode, dtypes, capture, random, the op table (ops/), devices/, and
     any module that imports nothing from numgrad (locks)
  1  storage      TensorBase (a tensor's slots), Device, data conversion, ``_wrap``
  2  tape         recording and the backward walk
  3  dispatch     ``apply``: run one op from the table
  4  functional   the public math (``numgrad.exp`` ...)
  5  inplace      in-place ops and view history (rebasing)
  6  autograd     backward/grad, custom Functions, gradcheck
  7  tensor       the Tensor class: its methods are the functions above
  8  the rest     creation, nn, optim, serialization, utils, the package itself

Before this layering, ``tensor.py`` imported ``tape``, ``functional`` and ``autograd`` inside
its methods and ``functional.py`` attached ~90 methods onto ``Tensor`` in a loop: a circle.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
from pathlib import Path

import pytest

import numgrad
from numgrad.storage import TensorBase
from numgrad.tensor import Tensor

from .child import ROOT, assert_child_ok

PACKAGE = ROOT / "numgrad"

CORE = {
    "numgrad.storage": 1,
    "numgrad.tape": 2,
    "numgrad.dispatch": 3,
    "numgrad.functional": 4,
    "numgrad.inplace": 5,
    "numgrad.autograd": 6,
    "numgrad.autograd.engine": 6,
    "numgrad.autograd.function": 6,
    "numgrad.autograd.gradcheck": 6,
    "numgrad.autograd.higher": 6,
    "numgrad.tensor": 7,
}
GROUND = (
    "numgrad.grad_mode",
    "numgrad.dtypes",
    "numgrad.capture",
    "numgrad.random",
    "numgrad.ops",
    "numgrad.devices",
)


def layer(mod):
    if mod in CORE:
        return CORE[mod]
    if mod in GROUND or mod.startswith(tuple(g + "." for g in GROUND)):
        return 0
    if mod not in _importers():  # imports nothing from numgrad: the ground floor by definition
        return 0
    return 8


@functools.cache
def _importers():
    return frozenset(a for a, *_ in import_edges())


def _modules(package=PACKAGE):
    out = {}
    for p in package.rglob("*.py"):
        parts = list(p.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def import_edges(package=PACKAGE):
    """(importer, imported, line, at_top_level) for every import of a numgrad module anywhere in
    the package: inside functions too (a function-level import is still a dependency)."""
    mods = _modules(package)
    edges = []
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
                targets = subs or [target]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                if t in mods and t != mod:
                    edges.append((mod, t, node.lineno, id(node) in top))
    return edges


def find_cycle(edges):
    graph = {}
    for a, b, *_ in edges:
        graph.setdefault(a, set()).add(b)
    state = {}
    for start in sorted(graph):
        if start in state:
            continue
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        path = [start]
        state[start] = "open"
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = "open"
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
                path.append(nxt)
    return None


def layering_violations(edges):
    bad = []
    for a, b, line, _ in edges:
        la, lb = layer(a), layer(b)
        same_package = a.startswith("numgrad.autograd") and b.startswith("numgrad.autograd")
        if lb > la or (lb == la and la in CORE.values() and not same_package):
            bad.append(f"{a} (layer {la}) imports {b} (layer {lb}) at line {line}")
    return bad


def test_the_package_import_graph_has_no_cycle():
    cycle = find_cycle(import_edges())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_import_goes_to_a_lower_layer():
    assert layering_violations(import_edges()) == []


def test_core_modules_import_nothing_inside_functions():
    # a lower layer reaches a higher one through a hook set at import (storage._wrap makes the
    # Tensor class registered by numgrad.tensor), never through an import in a hot function
    lazy = [
        f"{a} imports {b} inside a function (line {line})"
        for a, b, line, at_top in import_edges()
        if a in CORE and not at_top
    ]
    assert lazy == []


@pytest.mark.parametrize("mod", sorted(CORE))
def test_each_core_module_imports_alone_and_loads_only_lower_layers(mod, tmp_path):
    # a fresh interpreter with a bare ``numgrad`` package object, so the package's __init__
    # (which imports everything) does not run: only what ``mod`` itself needs is loaded
    out = assert_child_ok(
        f"""
        import importlib, json, sys, types
        pkg = types.ModuleType("numgrad")
        pkg.__path__ = [{str(PACKAGE)!r}]
        sys.modules["numgrad"] = pkg
        importlib.import_module("numgrad.devices.kernel_cache")  # as numgrad/__init__ does
        importlib.import_module({mod!r})
        if {mod!r} == "numgrad.tensor":  # the top of the core works on its own
            t = sys.modules["numgrad.tensor"].Tensor([1.0, 2.0], requires_grad=True)
            (t * 3).exp().sum().backward()
            assert t.grad is not None and type(t + 1) is type(t)
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("numgrad."))))
        """,
        timeout=300,
        env={"NUMGRAD_CACHE_DIR": str(tmp_path / "cache")},
    )
    loaded = json.loads(out.strip().splitlines()[-1])
    mine = layer(mod)
    above = [m for m in loaded if layer(m) > mine]
    assert above == [], f"importing {mod} (layer {mine}) loaded higher layers: {above}"


def test_numgrad_tensor_is_the_creation_function():
    # numgrad.tensor (the submodule) is imported while the package loads, before
    # ``from .creation import tensor`` binds the name to the function, as torch.tensor is
    assert numgrad.tensor is numgrad.creation.tensor


# ---- Tensor's methods: one class body, the same API -----------------------------------------

# every public name and operator of numgrad.Tensor before its methods moved into the class body
# (captured from the code at that time, less what ``object`` itself defines)
PROPERTIES = set(
    "T data device dtype grad_fn is_cuda is_leaf mT ndim requires_grad retains_grad shape".split()
)
OTHER_ATTRIBUTES = set(
    """
__abs__ __add__ __and__ __array__ __array_priority__ __bool__ __doc__ __eq__ __float__
__floordiv__ __ge__ __getitem__ __gt__ __iadd__ __imul__ __index__ __init__ __int__ __invert__
__isub__ __iter__ __itruediv__ __le__ __len__ __lt__ __matmul__ __mod__ __module__ __mul__
__ne__ __neg__ __or__ __pos__ __pow__ __radd__ __reduce__ __repr__ __rfloordiv__ __rmatmul__
__rmod__ __rmul__ __rpow__ __rsub__ __rtruediv__ __setitem__ __slots__ __sub__ __truediv__
__weakref__ __xor__ abs add add_ all amax amin any argmax argmin backward bmm bool ceil chunk
clamp clamp_ clamp_max clamp_min clip clone contiguous copy_ cpu cuda detach detach_ dim div
div_ dot double element_size eq exp expand expand_as fill_ flatten float floor floor_divide ge
grad gt half int is_contiguous is_floating_point item le log log_softmax logical_not logsumexp
long lt masked_fill masked_fill_ matmul max maximum mean min minimum mm mul mul_ mv ne neg
nelement norm normal_ numel numpy outer permute pow pow_ relu remainder requires_grad_ reshape
reshape_as retain_grad round rsqrt sigmoid sign size softmax split sqrt square squeeze std sub
sub_ sum swapaxes t tanh to tolist transpose true_divide trunc type type_as unbind unflatten
uniform_ unsqueeze var view view_as zero_
""".split()
)


def test_tensor_keeps_every_method_and_operator_it_had():
    have = set(dir(Tensor))
    assert sorted((PROPERTIES | OTHER_ATTRIBUTES) - have) == []
    for name in PROPERTIES:
        assert isinstance(inspect.getattr_static(Tensor, name), property), name
    for name in OTHER_ATTRIBUTES:
        assert not isinstance(inspect.getattr_static(Tensor, name), property), name
    assert Tensor.__hash__ is object.__hash__  # __eq__ is elementwise; tensors stay hashable


def _class_body_names(path, cls):
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls).body
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_tensor_method_is_defined_in_the_class_body():
    defined = _class_body_names(PACKAGE / "tensor.py", "Tensor") | set(Tensor.__slots__)
    implicit = {"__module__", "__qualname__", "__doc__", "__firstlineno__", "__static_attributes__"}
    attached = sorted(set(vars(Tensor)) - defined - implicit)
    assert attached == [], f"set on Tensor outside its class body: {attached}"
    # the base holds the slots and nothing callable, so no method hides one floor down
    base = [k for k, v in vars(TensorBase).items() if callable(v) and not k.startswith("__")]
    assert base == []


def test_no_module_assigns_attributes_onto_the_tensor_classes():
    offenders = []
    for mod, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {"Tensor", "TensorBase"}
        for node in ast.walk(tree):  # ``T = Tensor`` then ``T.exp = ...`` counts too
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
                if node.value.id in aliases:
                    aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and getattr(t.value, "id", None) in aliases:
                    offenders.append(f"{mod}:{node.lineno} {ast.unparse(t)} = ...")
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "setattr"
                and getattr(node.args[0], "id", None) in aliases
            ):
                offenders.append(f"{mod}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []


def test_math_methods_are_the_public_functions_themselves():
    # no wrapper frame between ``x + y`` and numgrad.add: the hot methods cost what the
    # functions cost
    from numgrad import functional as F

    for method, fn in [
        ("__add__", F.add),
        ("__mul__", F.mul),
        ("__getitem__", F.getitem),
        ("exp", F.exp),
        ("sum", F.sum),
        ("reshape", F.reshape),
    ]:
        assert vars(Tensor)[method] is fn, method
