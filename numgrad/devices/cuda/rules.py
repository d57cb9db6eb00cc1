"""Scalar rules as CUDA device code.

A rule is an ``@scalar`` function (``numba.njit(inline="always")``, a CPU dispatcher): Numba's
CUDA target cannot call a CPU dispatcher, so each rule is re-created from its Python function
with every other rule it calls swapped for that rule's CUDA version, recursively, and the math
seam left as it is (``math.py`` overloads it for CUDA).

* on a GPU the re-created function becomes a ``target="cuda"`` overload of a stub named after
  the rule: overloads are compiled inline into the calling kernel, so a rule costs no call and
  compiling a kernel needs no device function of its own (``compile_ptx`` works without a GPU);
* in the simulator it stays plain Python (kernels run as Python there).
"""

from __future__ import annotations

import inspect
import types

from .runtime import SIM

_CUDA: dict = {}  # a rule's py_func -> its CUDA callable


def _is_compiled(v):
    return callable(v) and hasattr(v, "py_func")  # a Numba dispatcher


def cuda_rule(rule):
    """The CUDA version of scalar rule ``rule`` (see the module docstring)."""
    py = getattr(rule, "py_func", rule)
    got = _CUDA.get(py)
    if got is not None:
        return got
    code = py.__code__
    env = dict(py.__globals__)
    for name in code.co_names:
        v = env.get(name)
        if _is_compiled(v):
            env[name] = cuda_rule(v)
    cells = None
    if py.__closure__:
        cells = tuple(
            types.CellType(
                cuda_rule(c.cell_contents) if _is_compiled(c.cell_contents) else c.cell_contents
            )
            for c in py.__closure__
        )
    fn = types.FunctionType(code, env, py.__name__, py.__defaults__, cells)
    fn.__qualname__ = py.__qualname__
    if SIM:
        _CUDA[py] = fn
        return fn
    from numba.cuda.extending import overload

    params = ", ".join(inspect.signature(py).parameters)
    ns = {"fn": fn}
    exec(  # noqa: S102  (a stub and its typer with the rule's own parameter names)
        f"def {py.__name__}({params}):\n    raise NotImplementedError('CUDA device code')\n"
        f"def typer({params}):\n    return fn\n",
        ns,
    )
    stub = ns[py.__name__]
    stub.__qualname__ = f"cuda_rule.{py.__qualname__}"
    overload(stub, target="cuda", inline="always")(ns["typer"])
    _CUDA[py] = stub
    return stub
