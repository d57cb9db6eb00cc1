"""The capture hook (``numgrad.autograd.trace``) and the one recording point (``tape.record``)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import torch

import numgrad as ng
from numgrad import capture as C


def _mlp():
    ng.manual_seed(0)
    w1 = ng.randn(4, 8, requires_grad=True)
    b1 = ng.zeros(8, requires_grad=True)
    w2 = ng.randn(8, 1, requires_grad=True)
    b2 = ng.zeros(1, requires_grad=True)
    return [w1, b1, w2, b2]


def _step(params, opt, x, y):
    w1, b1, w2, b2 = params
    opt.zero_grad()
    h = ng.tanh(x @ w1 + b1)
    loss = ((h @ w2 + b2 - y) ** 2).mean()
    loss.backward()
    opt.step()
    return loss


def test_mlp_step_gives_forward_ops_backward_rules_and_updates_in_order():
    params = _mlp()
    opt = ng.optim.SGD(params, lr=0.1, momentum=0.9)
    x, y = ng.randn(5, 4), ng.randn(5, 1)
    _step(params, opt, x, y)  # momentum buffers exist: the traced step is a steady one
    with ng.autograd.trace() as t:
        loss = _step(params, opt, x, y)

    assert t.ops("forward") == ["matmul", "add", "tanh", "matmul", "add", "sub", "pow", "mean"]
    backward = [(e.op, e.wrt) for e in t if e.kind == "backward"]
    ma, mb = ng.ops.OPS["matmul"].inputs  # (input, weight)
    assert backward == [
        ("mean", "x"),
        ("pow", "x"),
        ("sub", "x"),  # y needs no gradient: no rule runs for it
        ("add", "x"),
        ("add", "y"),
        ("matmul", ma),
        ("matmul", mb),
        ("tanh", "x"),
        ("add", "x"),
        ("add", "y"),
        ("matmul", mb),  # x is data: only the weight's rule
    ]
    # the backward pass starts from d(loss)/d(loss) = 1, made by the engine
    first_backward = next(k for k, e in enumerate(t) if e.kind == "backward")
    assert t[first_backward - 1].op == "full" and t[first_backward - 1].kind == "array"
    # parameters are distinguishable inputs; the data is an input; results are new
    slot_of = {id(s.array): s for s in t.slots}
    assert [slot_of[id(p._data)].origin for p in params] == ["param"] * 4
    assert slot_of[id(x._data)].origin == "input"
    assert slot_of[id(loss._data)].origin == "new"
    # each .grad is the slot a set_grad entry named, and the update reads and writes them
    set_grad = {e.attrs["of"].index: e.inputs[0] for e in t if e.op == "set_grad"}
    updates = [e for e in t if e.kind == "update"]
    assert updates and updates[-1] is t[len(t) - 1]
    written = {s.index for e in updates for v in e.outputs.values() for s in _flat(v)}
    read = {s.index for e in updates for v in e.inputs.values() for s in _flat(v)}
    for p in params:
        ps = slot_of[id(p._data)]
        assert set_grad[ps.index].array is p.grad._data  # the gradient the update used
        assert ps.index in written and set_grad[ps.index].index in read
    # slots describe their buffers
    for s in t.slots:
        assert s.shape == tuple(s.array.shape) and s.dtype == s.array.dtype and s.device == "cpu"


def _flat(v):
    return v if isinstance(v, tuple) else (v,)


def test_entries_name_the_kernel_arguments_and_replay_to_the_same_numbers():
    """Every forward/backward entry is a kernel call: running ``kernel`` on its inputs again
    gives its outputs, which is what numgrad.compile relies on."""
    params = _mlp()
    x = ng.randn(5, 4, dtype=ng.float64)
    w = ng.randn(4, 3, dtype=ng.float64, requires_grad=True)
    with ng.autograd.trace() as t:
        (ng.tanh(x @ w) * 3.0).sum().backward()
    assert params  # (seeded above)
    for e in t:
        if e.kind not in ("forward", "backward"):
            continue
        assert len(e.inputs) == len(e.kernel.args)
        args = [v.array if isinstance(v, C.Slot) else v for v in e.inputs]
        again = e.kernel.on("cpu", e.op)(*args)
        np.testing.assert_array_equal(np.asarray(again), e.outputs[0].array)
    tx, tw = torch.tensor(x.numpy()), torch.tensor(w.detach().numpy(), requires_grad=True)
    (torch.tanh(tx @ tw) * 3.0).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_ops_that_record_nothing_are_captured_too():
    x = ng.randn(3, requires_grad=True)
    with ng.autograd.trace() as t:
        with ng.no_grad():
            y = x * 2
        z = ng.ones(3) + 1
        z.zero_()
    assert y.grad_fn is None
    assert t.ops() == ["mul", "ones", "add", "zero_"]
    assert [e.kind for e in t] == ["forward", "create", "forward", "inplace"]
    assert t[3].outputs[0] is t[2].outputs[0]  # zero_ writes z's slot in place


def test_inplace_rebasing_is_captured_as_copy_into_the_same_buffer():
    x = ng.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with ng.autograd.trace() as t:
        b = x * 2
        v = b[0:2]
        v *= 3  # (b[0:2] *= 3 would also run Python's setitem of the result)
    kinds = [(e.kind, e.op) for e in t]
    assert kinds.count(("inplace", "copy_")) == 1 and ("forward", "view_scatter") in kinds
    view = next(e for e in t if e.op == "getitem").outputs[0]
    assert view.view_of is next(e for e in t if e.op == "mul").outputs[0]  # b[0:2] views b
    copy = next(e for e in t if e.op == "copy_")
    assert copy.outputs[0] is view  # the in-place result is written into the view's buffer
    np.testing.assert_array_equal(b.detach().numpy(), [6.0, 12.0, 6.0])


def test_no_trace_is_one_flag_and_traces_are_per_thread():
    assert C.CAPTURE.active == 0
    seen = []

    def other():
        for _ in range(50):
            ng.ones(2) * 3  # must not land in the main thread's trace

    with ng.autograd.trace() as t:
        assert C.CAPTURE.active == 1
        th = threading.Thread(target=other)
        th.start()
        th.join()
        with ng.autograd.trace() as inner:
            ng.ones(1) + 1
        seen.append(len(t))
        ng.ones(1) - 1
    assert C.CAPTURE.active == 0
    assert inner.ops() == ["ones", "add"]  # the innermost trace captures
    assert seen == [0] and t.ops() == ["ones", "sub"]


def test_record_is_the_only_place_a_node_is_made():
    root = Path(ng.__file__).parent
    makers = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        for m in re.finditer(r"(?<![\w.])Node\(", text):
            makers.append(f"{path.relative_to(root)}:{text[: m.start()].count(chr(10)) + 1}")
    assert makers == [f"tape.py:{_line_of(root / 'tape.py', 'node = Node(')}"], makers


def _line_of(path, needle):
    text = path.read_text()
    return text[: text.index(needle)].count("\n") + 1
