"""Data-dependent indices never reach a kernel out of bounds or stale (issue 7).

Numba does not bounds-check, and backward kernels scatter gradients through indices the user
still holds after forward: an index tensor, a numpy index array, the ``indices`` of
``max(dim)``, a cross-entropy target.  Each case below changes one of them between forward and
backward and must behave as torch does: torch raises ``RuntimeError`` when a saved tensor was
modified in place (version counters) and re-checks bounds when it was changed behind autograd's
back (``.data``).  A numpy index is copied at forward (torch shares it; see ``NUMPY``).  Empty
indices and empty batches give torch's results.

Each case is the source of ``case(L)``, run with ``L = numgrad`` and with ``L = torch``, each in
child processes (a segfault fails that case, not the run; torch itself crashes on some misuses,
see ``NO_TORCH``); the outcomes must agree: the same exception class, or the same values.
"""

import json
import textwrap

import numpy as np
import pytest

from .child import assert_child_ok, run_child

# x: float64 so the gradients compare exactly; the index checked in forward is valid
_X = "x = L.tensor(np.arange(15.0).reshape(5, 3), requires_grad=True)\n"

CASES = {
    # ---- getitem / setitem -----------------------------------------------------------------
    "index_tensor_add_": _X + "i = L.tensor([0, 2, 2]); y = x[i]; i.add_(1)",
    "index_tensor_setitem": _X + "i = L.tensor([0, 2, 2]); y = x[i]; i[0] = 4",
    "index_tensor_fill_huge": _X + "i = L.tensor([0, 2, 2]); y = x[i]; i.fill_(10**8)",
    # .data is not version-tracked (in torch either): backward must re-check bounds
    "index_data_huge": _X + "i = L.tensor([0, 2, 2]); y = x[i]; i.data.fill_(10**8)",
    "index_data_one_past": _X + "i = L.tensor([0, 2, 2]); y = x[i]; i.data[1] = 5",
    "index_data_negative_past": _X + "i = L.tensor([0, 2, 2]); y = x[i]; i.data[0] = -6",
    "index_data_in_bounds": _X + "i = L.tensor([0, 2, 2]); y = x[i]; i.data.fill_(1)",
    "index_data_negative_in_bounds": _X + "i = L.tensor([0, 2, 2]); y = x[i]; i.data[0] = -1",
    "index_tensor_in_tuple": _X + "i = L.tensor([2, 0]); y = x[:, i[:1]]; i.fill_(7)",
    "index_tensor_two": _X + "i = L.tensor([1, 4]); j = L.tensor([0, 2]); y = x[i, j]; j.add_(5)",
    "index_tensor_two_data": _X
    + "i = L.tensor([1, 4]); j = L.tensor([0, 2]); y = x[i, j]; j.data.add_(5)",
    "index_int_then_tensor": (
        "x = L.tensor(np.arange(30.0).reshape(2, 5, 3), requires_grad=True)\n"
        "i = L.tensor([4, 1]); y = x[1, i]; i.fill_(9)"
    ),
    "index_mask_fill_": _X + "m = L.tensor([1, 0, 1, 0, 1]).bool(); y = x[m]; m.fill_(True)",
    "setitem_index_fill_": (
        _X + "v = L.ones(2, 3, dtype=L.float64, requires_grad=True)\n"
        "y = x * 1; i = L.tensor([0, 2]); y[i] = v; i.fill_(1)"
    ),
    # ---- max / min along a dim -------------------------------------------------------------
    "max_indices_add_": _X + "y, i = x.max(1); i.add_(1)",
    "max_indices_fill_huge": _X + "y, i = x.max(1); i.fill_(10**8)",
    "min_indices_keepdim_fill_": _X + "y, i = x.min(0, keepdim=True); i.fill_(1)",
    "max_indices_data_huge": _X + "y, i = x.max(1); i.data.fill_(10**8)",
    "max_indices_data_negative": _X + "y, i = x.max(1); i.data.fill_(-1)",
    "max_indices_data_in_bounds": _X + "y, i = x.max(1); i.data.fill_(0)",
    # ---- nll / cross-entropy targets -------------------------------------------------------
    "ce_target_fill_": _X
    + "t = L.tensor([0, 1, 2, 1, 0]); y = L.nn.functional.cross_entropy(x, t); t.fill_(10**8)",
    "ce_target_data_huge": _X
    + "t = L.tensor([0, 1, 2, 1, 0]); y = L.nn.functional.cross_entropy(x, t)\n"
    "t.data.fill_(10**8)",
    "ce_target_data_in_bounds": _X
    + "t = L.tensor([0, 1, 2, 1, 0]); y = L.nn.functional.cross_entropy(x, t)\n"
    "t.data.fill_(2)",
    "ce_weighted_target_data_one_past": _X
    + "t = L.tensor([0, 1, 2, 1, 0]); w = L.tensor([1.0, 2.0, 3.0], dtype=L.float64)\n"
    "y = L.nn.functional.cross_entropy(x, t, weight=w); t.data[3] = 3",
    # ---- empties ---------------------------------------------------------------------------
    "empty_int_index": _X + "y = x[L.tensor([], dtype=L.int64)]",
    "empty_list_index": _X + "y = x[[]]",
    "empty_index_in_tuple": _X + "y = x[:, L.tensor([], dtype=L.int64)]",
    "empty_index_of_empty": (
        "x = L.zeros(0, 3, dtype=L.float64, requires_grad=True)\ny = x[L.tensor([], dtype=L.int64)]"
    ),
    "amax_empty_batch": "x = L.zeros(0, 5, requires_grad=True); y = L.amax(x, 1)",
    "amin_empty_batch_keepdim": "x = L.zeros(0, 5, requires_grad=True); y = L.amin(x, 1, True)",
    "amax_empty_dim": "x = L.zeros(0, 5, requires_grad=True); y = L.amax(x, 0)",
    "amax_empty_all": "x = L.zeros(0, 5, requires_grad=True); y = L.amax(x, (0, 1))",
    "amin_empty_dim": "x = L.zeros(0, 5, requires_grad=True); y = L.amin(x, 0)",
    "logsumexp_empty_batch": "x = L.zeros(0, 5, requires_grad=True); y = L.logsumexp(x, 1)",
    "logsumexp_empty_dim": "x = L.zeros(0, 5, requires_grad=True); y = L.logsumexp(x, 0)",
    "logsumexp_empty_all_keepdim": (
        "x = L.zeros(0, 5, requires_grad=True); y = L.logsumexp(x, (0, 1), keepdim=True)"
    ),
    "max_dim_empty_batch": "x = L.zeros(0, 5, requires_grad=True); y = x.max(1)[0]",
    "max_dim_empty_dim": "x = L.zeros(0, 5, requires_grad=True); y = x.max(0)[0]",
}

# A numpy index is the user's array, kept by reference.  torch wraps it without a copy
# (torch.from_numpy), so changing it after forward silently misroutes torch's gradient too;
# numgrad copies it at forward instead.  The reference is torch without the change: the
# gradient of the forward that actually ran.  (body, change made between forward and backward)
NUMPY = {
    "index_numpy_huge": (_X + "i = np.array([0, 2, 2]); y = x[i]", "i[:] = 10**8"),
    "index_numpy_one_past": (_X + "i = np.array([0, 2, 2]); y = x[i]", "i[:] = 5"),
    "index_numpy_in_bounds": (_X + "i = np.array([0, 2, 2]); y = x[i]", "i[:] = 1"),
    "index_numpy_in_tuple": (_X + "i = np.array([2, 0]); y = x[i, 1:]", "i[:] = 10**8"),
    "index_numpy_mask": (
        _X + "m = np.array([1, 0, 1, 0, 1], dtype=bool); y = x[m]",
        "m[:] = True",
    ),
    "setitem_index_numpy": (
        _X + "v = L.ones(2, 3, dtype=L.float64, requires_grad=True)\n"
        "y = x * 1; i = np.array([0, 2]); y[i] = v",
        "i[:] = 10**8\ny.sum().backward(); return x.grad, v.grad",
    ),
}

# Torch itself crashes on these (a segfault for the (N, C, d) target, heap corruption, "double
# free", for a negative one), so it cannot be the reference; each target is out of bounds
# exactly as in ce_target_data_huge, for which torch raises IndexError.
NO_TORCH = {
    "nll_3d_none_target_data_huge": (
        "x = L.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)\n"
        "t = L.tensor([[0, 1, 2, 0], [2, 2, 1, 0]])\n"
        "y = L.nn.functional.nll_loss(x, t, reduction='none'); t.data[1, 3] = 10**8",
        {"raise": "IndexError"},
    ),
    "nll_target_data_negative": (
        _X + "t = L.tensor([0, 1, 2, 1, 0]); y = L.nn.functional.nll_loss(x, t)\nt.data[2] = -5",
        {"raise": "IndexError"},
    ),
}

# A custom Function's saved index, changed in place before backward: the user's kernel must
# not see it (torch raises RuntimeError from ctx.saved_tensors).  numgrad's Function receives
# numpy arrays (KernelFunction), torch's receives tensors, so the sources differ.
_GATHER_NG = """
class Gather(L.autograd.KernelFunction):
    @staticmethod
    def forward(ctx, x, i):
        ctx.save_for_backward(i)
        ctx.n = x.shape[0]
        return x[i]

    @staticmethod
    def backward(ctx, grad):
        (i,) = ctx.saved_tensors
        out = np.zeros((ctx.n,) + grad.shape[1:])
        np.add.at(out, i, grad)
        return out, None
"""
_GATHER_TORCH = _GATHER_NG.replace(
    "np.zeros((ctx.n,) + grad.shape[1:])", "grad.new_zeros(ctx.n, 3)"
).replace("KernelFunction", "Function")
_GATHER_TORCH = _GATHER_TORCH.replace("np.add.at(out, i, grad)", "out.index_add_(0, i, grad)")
_GATHER_USE = (
    _X + "i = L.tensor([0, 2, 2]); y = Gather.apply(x, i); i.add_(10**8)\n"
    "y.sum().backward()\nreturn y, x.grad"
)
CUSTOM = {
    "custom_function_saved_index_add_": (_GATHER_NG + _GATHER_USE, _GATHER_TORCH + _GATHER_USE)
}


def _source(body):
    """``case(L)``: run ``body``; unless it returns, backward from ``y`` and return (y, x.grad)."""
    if "return" not in body:
        body += "\ny.sum().backward()\nreturn y, x.grad"
    return "def case(L):\n" + textwrap.indent(body, "    ") + "\n"


def _numgrad_sources():
    out = {n: _source(b) for n, b in CASES.items()}
    out.update({n: _source(b + "\n" + change) for n, (b, change) in NUMPY.items()})
    out.update({n: _source(b) for n, (b, _) in NO_TORCH.items()})
    out.update({n: _source(b) for n, (b, _) in CUSTOM.items()})
    return out


def _torch_sources():
    out = {n: _source(b) for n, b in CASES.items()}
    for n, (body, change) in NUMPY.items():
        # the reference runs without the change, but still needs its backward part if any
        if "return" in change:
            body += "\n" + change.split("\n", 1)[1]
        out[n] = _source(body)
    out.update({n: _source(b) for n, (_, b) in CUSTOM.items()})
    return out


_CHILD = r"""
import json
import numpy as np
import {lib}

def outcome(case):
    try:
        r = case({lib})
        rs = r if isinstance(r, tuple) else (r,)
        return {{"values": [np.asarray(t.detach().numpy(), dtype=np.float64).tolist() for t in rs],
                "shapes": [list(t.shape) for t in rs]}}
    except Exception as e:
        return {{"raise": type(e).__name__, "message": str(e)}}

for name, src in json.loads({sources!r}).items():
    ns = {{"np": np}}
    exec(src, ns)
    print("CASE " + json.dumps([name, outcome(ns["case"])]), flush=True)
"""


def _outcomes(lib, todo):
    """Run every case with ``lib`` in child processes: one child for all, restarted after a
    crash, which is reported for the case that caused it.  (torch too: it segfaults on some
    of these misuses itself.)"""
    results = {}
    while todo:
        p = run_child(_CHILD.format(lib=lib, sources=json.dumps(todo)), timeout=300)
        for line in p.stdout.splitlines():
            if line.startswith("CASE "):
                name, res = json.loads(line[5:])
                results[name] = res
        left = {n: s for n, s in todo.items() if n not in results}
        if left:
            first = next(iter(left))  # the first unfinished case killed the child
            how = f"signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}"
            results[first] = {"crash": f"{lib} died ({how}) in this case:\n{p.stderr[-2000:]}"}
            del left[first]
        todo = left
    return results


@pytest.fixture(scope="module")
def outcomes():
    return _outcomes("numgrad", _numgrad_sources()), _outcomes("torch", _torch_sources())


def _check(got, want):
    assert "crash" not in want, f"no torch reference: {want['crash']}"
    assert "crash" not in got, got["crash"]
    if "raise" in want:
        # a harness mistake (a NameError in a case) must not pass as agreement
        assert want["raise"] in ("RuntimeError", "IndexError"), want
        assert got.get("raise") == want["raise"], (
            f"torch raises {want['raise']}: {want.get('message', '')!r}; numgrad gave {got}"
        )
        return
    assert "raise" not in got, f"torch succeeds, numgrad raised {got['raise']}: {got['message']}"
    assert got["shapes"] == want["shapes"]
    for g, w in zip(got["values"], want["values"]):
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_index_misuse_matches_torch(name, outcomes):
    ng_res, torch_res = outcomes
    _check(ng_res[name], torch_res[name])


@pytest.mark.parametrize("name", list(NUMPY))
def test_numpy_index_changed_after_forward_gives_the_forward_gradient(name, outcomes):
    ng_res, torch_res = outcomes
    _check(ng_res[name], torch_res[name])


@pytest.mark.parametrize("name", list(NO_TORCH))
def test_index_misuse_where_torch_crashes(name, outcomes):
    _check(outcomes[0][name], NO_TORCH[name][1])


@pytest.mark.parametrize("name", list(CUSTOM))
def test_custom_function_saved_tensor_is_version_checked(name, outcomes):
    ng_res, torch_res = outcomes
    _check(ng_res[name], torch_res[name])


def test_errors_name_the_index_and_size():
    # messages say which value broke which bound, like torch's
    assert_child_ok(
        """
        import numpy as np
        import pytest
        import numgrad as ng

        x = ng.tensor(np.arange(15.0).reshape(5, 3), requires_grad=True)
        i = ng.tensor([0, 2, 2])
        y = x[i]
        i.data.fill_(10**8)
        with pytest.raises(IndexError, match="index 100000000 is out of bounds for dimension 0"):
            y.sum().backward()
        v, k = x.max(1)
        k.add_(1)
        with pytest.raises(RuntimeError, match="inplace .*'indices' of op 'max_dim'"):
            v.sum().backward()
        t = ng.tensor([0, 1, 2, 1, 0])
        loss = ng.nn.functional.cross_entropy(x, t)
        t.data[3] = 7
        with pytest.raises(IndexError, match="Target 7 is out of bounds"):
            loss.backward()
        with pytest.raises(IndexError, match=r"amax\\(\\): Expected reduction dim 0 to have"):
            ng.amax(ng.zeros(0, 5), 0)
        """
    )
