"""``numgrad.compile`` over the op-spec list: every differentiable op of ``tests/opinfo.py``,
compiled inside a step that runs it, weights its outputs into a loss and backpropagates, gives
eager's outputs and gradients bit for bit (float64 and float32, one case per spec), in the
fused form where the step fuses and in the replay program everywhere else.

Ops whose step needs a value on the host to go on (a result's size from a count of nonzeros,
say) raise ``HostSyncError`` under the trace, as docs/compile.md says; the set of those specs is
checked to be exactly ``HOST_READS`` (spec-case), so an op that stops reading the host must
leave it."""

import warnings

import numpy as np
import pytest
from test_higher_order import _params  # one case per differentiable spec
from test_ops import _make_inputs, _outputs, _seed

import numgrad
from numgrad.compiler import HostSyncError

# spec-case ids whose step reads a value on the host under the trace (filled from a run over
# the list)
HOST_READS = {
    "getitem_tensor-bool_mask_full": "the count of True values sizes the result",
    "masked_select-same": "as a boolean mask",
    "masked_select_method-same": "as a boolean mask",
    "median_dim-odd": "NaN rows are found on the host",
    "median_all-odd": "as median_dim",
    "mode-dim1": "counted on the host",
}


def _step(spec, case, args, leaf_positions, weights):
    def step(*leaves):
        full = list(args)
        for pos, t in zip(leaf_positions, leaves, strict=True):
            full[pos] = t
        for t in leaves:
            t.grad = None
        outs = _outputs(spec.ng_fn(*full, **case.kwargs))
        loss = None
        for o, w in zip(outs, weights, strict=False):
            if isinstance(o, numgrad.Tensor) and o.requires_grad:
                term = (o * w).sum()
                loss = term if loss is None else loss + term
        if loss is not None:
            loss.backward()
        return [o for o in outs if isinstance(o, numgrad.Tensor)], [t.grad for t in leaves]

    return step


def _values(ts):
    return [None if t is None else t.detach().numpy() for t in ts]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("spec,case", _params())
def test_compiled_op_equals_eager(spec, case, dtype):
    who = f"{spec.name}-{case.name}"
    runs = []
    for compiled in (False, True):
        args, _, leaves = _make_inputs(case, dtype, "cpu", requires_grad=True, lib="numgrad")
        leaf_ts = [n for n, _ in leaves]
        positions = [next(i for i, a in enumerate(args) if a is t) for t in leaf_ts]
        rng = np.random.default_rng(_seed(spec.name, case.name, "compile"))
        outs = _outputs(spec.ng_fn(*args, **case.kwargs))
        weights = [
            numgrad.tensor(rng.standard_normal(tuple(o.shape)).astype(dtype))
            if isinstance(o, numgrad.Tensor) and o.dtype.is_floating_point
            else None
            for o in outs
        ]
        step = _step(spec, case, args, positions, weights)
        if compiled:
            step = numgrad.compile(step)
        results = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # documented eager fallbacks
                for _ in range(4):
                    o, g = step(*leaf_ts)
                    results.append((_values(o), _values(g)))
        except HostSyncError:
            assert compiled
            assert who in HOST_READS, f"{who}: reads the host under the trace"
            return
        runs.append(results)
    assert who not in HOST_READS, f"{who} compiled: take it out of HOST_READS"
    for k, ((o1, g1), (o2, g2)) in enumerate(zip(*runs, strict=True)):
        for i, (a, b) in enumerate(zip(o1 + g1, o2 + g2, strict=True)):
            what = f"call {k}, {'output' if i < len(o1) else 'gradient'} {i}"
            if a is None or b is None:
                assert a is None and b is None, what
            else:
                assert a.dtype == b.dtype and a.shape == b.shape, what
                np.testing.assert_array_equal(a, b, err_msg=what)
