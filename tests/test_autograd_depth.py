"""Issue 12 beyond second derivatives: tensor and module hooks, anomaly mode, checkpointing
and graph inspection, each against torch where torch defines the behaviour."""

import numpy as np
import pytest
import torch

import numgrad as ng


def _both(fn):
    return {m.__name__: fn(m) for m in (ng, torch)}


def _eq(res, rtol=1e-6, atol=0.0):
    a, b = res["numgrad"], res["torch"]
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


# ---- tensor hooks ---------------------------------------------------------------------------


def test_tensor_hooks_replace_observe_and_remove_as_torch():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        seen, post = [], []
        h = x.register_hook(lambda g: g * g)  # non-linear: sees the leaf's whole gradient
        y = x * x
        y.register_hook(lambda g: seen.append(g.tolist()))
        z = y.exp()
        z.register_hook(lambda g: g + 1)  # replaces the gradient flowing into z's node
        x.register_post_accumulate_grad_hook(lambda t: post.append(t.grad.tolist()))
        (z * 0.5).sum().backward()
        out = [x.grad.tolist(), seen[0], post[0]]
        h.remove()
        x.grad = None
        (x * x).sum().backward()
        return out + [x.grad.tolist()]

    _eq(_both(run))


def test_hook_errors_as_torch():
    x = ng.tensor([1.0])
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        x.register_hook(lambda g: g)
    y = ng.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.register_post_accumulate_grad_hook(lambda t: None)
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).sum().backward()


# ---- module hooks -------------------------------------------------------------------------------


def test_module_hooks_order_replacement_and_removal_as_torch():
    def run(m):
        m.manual_seed(0)
        lin = m.nn.Linear(3, 2)
        w = np.arange(6.0).reshape(2, 3) / 5
        lin.load_state_dict({"weight": m.tensor(w), "bias": m.tensor([0.1, -0.2])})
        log = []
        hs = [
            lin.register_forward_pre_hook(lambda mod, a: (a[0] * 2,)),
            lin.register_forward_hook(lambda mod, a, out: out + 1),
            lin.register_full_backward_hook(
                lambda mod, gi, go: (gi[0] * 3,) if gi[0] is not None else None
            ),
            lin.register_full_backward_hook(
                lambda mod, gi, go: log.append([g.tolist() for g in gi + go])
            ),
        ]
        x = m.ones(1, 3, requires_grad=True)
        y = lin(x)
        y.sum().backward()
        out = [y.tolist(), x.grad.tolist(), log[0][0], log[0][1]]
        for h in hs:
            h.remove()
        return out + [lin(m.ones(1, 3)).tolist()]

    _eq(_both(run))


# ---- anomaly mode ---------------------------------------------------------------------------


def test_anomaly_mode_names_the_op_and_the_forward_line():
    x = ng.tensor([0.0, 1.0], requires_grad=True)
    with ng.autograd.detect_anomaly():
        y = x.sqrt()  # the forward line the error points at
        with pytest.raises(RuntimeError, match="SqrtBackward0.* inf values") as e:
            y.sum().backward()
    assert "test_autograd_depth.py" in str(e.value) and "x.sqrt()" in str(e.value)
    # off again: backward lets the inf through, as torch does
    x.grad = None
    x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()[0])
    assert not ng.autograd.is_anomaly_enabled()
    ng.autograd.set_detect_anomaly(True)
    assert ng.autograd.is_anomaly_enabled()
    ng.autograd.set_detect_anomaly(False)


# ---- checkpointing ------------------------------------------------------------------------------


def _deep(m, rng, width=8, depth=4):
    layers = []
    for _ in range(depth):
        layers += [m.nn.Linear(width, width), m.nn.Tanh()]
    net = m.nn.Sequential(*layers)
    state = {
        k: m.tensor(rng.standard_normal(tuple(v.shape)).astype(np.float32) * 0.5)
        for k, v in net.state_dict().items()
    }
    net.load_state_dict(state)
    return net


@pytest.mark.parametrize("segments", [1, 2, 4])
def test_checkpoint_gives_torchs_gradients(segments):
    from numgrad.utils.checkpoint import checkpoint, checkpoint_sequential

    def run(m):
        rng = np.random.default_rng(segments)
        net = _deep(m, rng)
        x = m.tensor(rng.standard_normal((5, 8)).astype(np.float32), requires_grad=True)
        if m is ng:
            ck, seq = checkpoint, checkpoint_sequential
        else:
            import torch.utils.checkpoint as tc

            ck, seq = tc.checkpoint, tc.checkpoint_sequential
        y = seq(net, segments, x, use_reentrant=False)
        y = ck(lambda a: (a * a).tanh(), y, use_reentrant=False)
        y.sum().backward()
        return [p.grad.numpy().copy() for p in net.parameters()] + [x.grad.numpy().copy()]

    _eq(_both(run), rtol=1e-5, atol=1e-6)  # float32: the two libraries round differently


def test_checkpoint_replays_dropout_with_the_same_mask():
    from numgrad.utils.checkpoint import checkpoint

    ng.manual_seed(3)
    x = ng.ones(1000, requires_grad=True)
    y = checkpoint(lambda a: ng.nn.functional.dropout(a, 0.5, training=True) * 3, x)
    y.sum().backward()
    # the recomputation drew the same mask: the gradient is 3 * 2 exactly where y kept a value
    np.testing.assert_array_equal(x.grad.numpy() != 0, y.detach().numpy() != 0)


def test_checkpoint_saves_fewer_intermediates():
    # what checkpointing is for: the graph after forward holds the segments' inputs only.
    # (Peak resident memory is the asv benchmark bench_memory.CheckpointMemory: a 48-layer
    # MLP measured 58 MB plain against 31 MB with 6 segments here.)
    from numgrad.autograd.graph import walk
    from numgrad.utils.checkpoint import checkpoint_sequential

    def saved_bytes(y):
        return sum(
            a.nbytes for n in walk(y) for a in (n.saved or {}).values() if hasattr(a, "nbytes")
        )

    rng = np.random.default_rng(0)
    net = _deep(ng, rng, width=64, depth=12)
    x = ng.tensor(rng.standard_normal((32, 64)).astype(np.float32), requires_grad=True)
    plain = saved_bytes(net(x))
    checkpointed = saved_bytes(checkpoint_sequential(net, 4, x))
    assert checkpointed < 0.35 * plain, (plain, checkpointed)


# ---- graph inspection ---------------------------------------------------------------------------


def test_next_functions_and_dot_export():
    from numgrad.autograd.graph import to_dot

    x = ng.tensor([[1.0, 2.0]], requires_grad=True)
    w = ng.tensor(np.ones((3, 2)), requires_grad=True, dtype=ng.float32)
    y = (x @ w.T).tanh().sum()
    ((nxt, idx),) = y.grad_fn.next_functions
    assert idx == 0 and nxt is not None
    mm = nxt.next_functions[0][0]
    leaf = [f for f, _ in mm.next_functions if f is not None and f.name == "AccumulateGrad"]
    assert leaf and leaf[0].variable is x
    dot = to_dot(y, params={"w": w})
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for name in ("SumBackward0", "TanhBackward0", "MmBackward0", 'label="w\\n3x2"', "1x2"):
        assert name in dot
