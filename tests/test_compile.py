"""numgrad.compile: the replayed step gives eager's numbers bit for bit, the guards re-trace
when they must, and the documented limits raise or fall back as docs/compile.md says."""

import numpy as np
import pytest
from test_training import OPTIMS, _build, _cases, _loss_fns

import numgrad as ng
import numgrad.nn as nn
from numgrad.compiler import HostSyncError


def _setup(kind, dtype):
    ng.manual_seed(0)
    if kind == "tiny":
        model = nn.Sequential(nn.Linear(2, 32), nn.Sigmoid(), nn.Linear(32, 1))
        opt = ng.optim.SGD(model.parameters(), lr=0.1)
        x, y = ng.randn(100, 2), ng.rand(100, 1)
        lossf = nn.BCEWithLogitsLoss()
    elif kind == "medium":
        model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        opt = ng.optim.Adam(model.parameters(), lr=1e-3)
        x, y = ng.randn(32, 784), ng.tensor(np.arange(32) % 10)
        lossf = nn.CrossEntropyLoss()
    elif kind == "momentum":
        model = nn.Sequential(
            nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 3)
        )
        opt = ng.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
        x, y = ng.randn(20, 8), ng.randn(20, 3)
        lossf = nn.MSELoss()
    else:  # adamw
        model = nn.Sequential(nn.Linear(5, 7), nn.SiLU(), nn.Linear(7, 4), nn.LogSoftmax(dim=1))
        opt = ng.optim.AdamW(model.parameters(), lr=1e-2, amsgrad=True)
        x, y = ng.randn(9, 5), ng.tensor(np.arange(9) % 4)
        lossf = nn.NLLLoss()
    model.to(dtype)
    x = x.to(dtype)
    if y.dtype.is_floating_point:
        y = y.to(dtype)

    def step(x, y):
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, step, x, y


def _same(m1, m2):
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
        assert np.array_equal(p.grad.numpy(), q.grad.numpy())


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "replay"])
@pytest.mark.parametrize("dtype", [ng.float32, ng.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind", ["tiny", "medium", "momentum", "adamw"])
def test_compiled_training_equals_eager_bit_for_bit(kind, dtype, fuse):
    m1, _, eager, x, y = _setup(kind, dtype)
    m2, _, step, _, _ = _setup(kind, dtype)
    compiled = ng.compile(step, check=True, options={"fuse": fuse})
    for _ in range(6):
        a, b = eager(x, y), compiled(x, y)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.item() == b.item()
    _same(m1, m2)
    (entry,) = compiled._entries.values()
    assert entry.program is not None and "def step(" in entry.program.source
    # these steps fuse into one njit function (docs/compile.md); others run the replay
    assert (entry.program.fused is not None) == fuse, entry.program.fused_reason


def test_a_new_input_shape_is_a_new_entry():
    m1, _, eager, x, y = _setup("tiny", ng.float64)
    m2, _, step, _, _ = _setup("tiny", ng.float64)
    compiled = ng.compile(step)
    for n in (100, 100, 100, 50, 50, 50, 100):
        assert eager(x[:n], y[:n]).item() == compiled(x[:n], y[:n]).item()
    assert len(compiled._entries) == 2
    _same(m1, m2)


def test_learning_rate_changes_take_effect_without_retracing():
    m1, o1, eager, x, y = _setup("medium", ng.float64)
    m2, o2, step, _, _ = _setup("medium", ng.float64)
    compiled = ng.compile(step)
    s1 = ng.optim.lr_scheduler.StepLR(o1, step_size=2, gamma=0.5)
    s2 = ng.optim.lr_scheduler.StepLR(o2, step_size=2, gamma=0.5)
    for _ in range(8):
        assert eager(x, y).item() == compiled(x, y).item()
        s1.step()
        s2.step()
    (entry,) = compiled._entries.values()
    _same(m1, m2)
    # a static flag changing (weight decay switched on) makes the program trace again
    for o in (o1, o2):
        o.param_groups[0]["weight_decay"] = 0.1
    for _ in range(4):
        assert eager(x, y).item() == compiled(x, y).item()
    _same(m1, m2)


def test_replacing_a_parameter_array_retraces():
    m1, _, eager, x, y = _setup("tiny", ng.float64)
    m2, _, step, _, _ = _setup("tiny", ng.float64)
    compiled = ng.compile(step)
    for _ in range(3):
        eager(x, y), compiled(x, y)
    for m in (m1, m2):
        w = m[0].weight
        w.data = w.detach() * 0.5  # a new array: the program's binding is stale
    for _ in range(3):
        assert eager(x, y).item() == compiled(x, y).item()
    _same(m1, m2)


def test_train_eval_switch_and_grad_mode_are_guarded():
    ng.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    forward = ng.compile(model)
    x = ng.randn(5, 3)
    with ng.no_grad():
        for _ in range(3):
            out = forward(x)
        assert np.array_equal(out.numpy(), model(x).numpy())
        model.eval()
        for _ in range(3):
            out = forward(x)
        assert np.array_equal(out.numpy(), model(x).numpy())
    assert len(forward._entries) == 2
    forward(x)  # grad mode on: another entry
    assert len(forward._entries) == 3


def test_a_host_read_inside_the_step_names_the_line():
    model, opt, _, x, y = _setup("tiny", ng.float32)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        if loss.item() > 1e9:  # a host read: frozen control flow
            return loss
        loss.backward()
        opt.step()
        return loss

    compiled = ng.compile(step)
    compiled(x, y)  # eager
    with pytest.raises(HostSyncError, match=r"\.item\(\).*test_compile\.py:\d+"):
        compiled(x, y)


def test_random_numbers_inside_the_step_fall_back_to_eager_with_a_warning():
    def make():
        ng.manual_seed(1)
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
        opt = ng.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return model, step

    x, y = ng.randn(6, 4), ng.randn(6, 1)
    m1, eager = make()
    m2, step = make()
    compiled = ng.compile(step)
    gen = ng.random.generator().bit_generator
    with pytest.warns(RuntimeWarning, match="random numbers are drawn inside the step"):
        for _ in range(5):  # each side draws the same dropout masks: eager results, exactly
            state = gen.state
            a = eager(x, y).item()
            gen.state = state
            assert compiled(x, y).item() == a
    _same(m1, m2)


def test_check_raises_when_the_replay_differs():
    _, _, step, x, y = _setup("tiny", ng.float64)
    compiled = ng.compile(step, check=True)
    compiled(x, y), compiled(x, y)  # eager, then trace
    (entry,) = compiled._entries.values()
    prog = entry.program
    assert prog.fused is not None  # this step takes the fused path; perturb what it returns
    fn = prog.fused.fn

    def wrong(*args):
        res = fn(*args)
        res[0][...] += 1.0
        return res

    prog.fused.fn = wrong
    with pytest.raises(RuntimeError, match="differs from eager: returned tensor 0"):
        compiled(x, y)


def test_forms_and_returned_structures():
    _, _, step, x, y = _setup("tiny", ng.float64)

    @ng.compile
    def both(x, y):
        return {"loss": step(x, y), "pair": (x * 2, None)}

    for _ in range(3):
        out = both(x, y)
    assert set(out) == {"loss", "pair"} and out["pair"][1] is None
    assert np.array_equal(out["pair"][0].numpy(), (x * 2).numpy())
    assert ng.compile(disable=True)(step) is step
    assert ng.compile(check=True)(step).check
    with pytest.raises(ValueError, match="unknown options"):
        ng.compile(step, options={"max_autotune": True})

    with pytest.raises(TypeError, match="not numpy arrays"):
        ng.compile(step)(np.zeros((2, 2)), y)

    @ng.compile
    def number(x):
        return 1.5

    with pytest.raises(TypeError, match="returned a float"):
        number(x), number(x)


def test_constants_and_keyword_arguments_are_part_of_the_key():
    @ng.compile
    def scaled(x, k=2.0):
        return x * k

    x = ng.randn(3)
    for k in (2.0, 2.0, 2.0, 3.0, 3.0, 3.0):
        assert np.array_equal(scaled(x, k=k).numpy(), (x * k).numpy())
    assert len(scaled._entries) == 2


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['optim']}-{c['loss']}-{c['act']}")
def test_training_parity_models_compiled_equal_eager(case):
    # the training-parity suite's models (tests/test_training.py): eager matches torch there,
    # and the compiled step matches eager bit for bit here
    import torch

    rng = np.random.default_rng(case["seed"])
    torch.manual_seed(case["seed"])
    loss = case["loss"]
    classes = loss in ("cross_entropy", "nll")
    out_dim = int(rng.integers(2, 6)) if classes else int(rng.integers(1, 4))
    nets = []
    init = None
    for _ in range(2):
        net, t_net = _build(
            case["depth"], case["widths"], case["act"], out_dim, loss == "bce", loss == "nll"
        )
        net.to(case["dtype"])
        init = init or t_net.to(getattr(torch, case["dtype"])).state_dict()  # one init for both
        net.load_state_dict(init)
        nets.append(net)
    np_dt = np.dtype(case["dtype"])
    x = ng.tensor(rng.standard_normal((case["batch"], case["widths"][0])).astype(np_dt))
    if classes:
        y = ng.tensor(rng.integers(0, out_dim, case["batch"]))
    elif loss in ("bce", "bce_logits"):
        y = ng.tensor((rng.random((case["batch"], out_dim)) > 0.5).astype(np_dt))
    else:
        y = ng.tensor(rng.standard_normal((case["batch"], out_dim)).astype(np_dt))
    kw, cls = OPTIMS[case["optim"]]
    steps = []
    for net in nets:
        opt = getattr(ng.optim, cls)(net.parameters(), **kw)
        lossf = _loss_fns(loss)[0]

        def step(x, y, net=net, opt=opt, lossf=lossf):
            opt.zero_grad()
            lv = lossf(net(x), y)
            lv.backward()
            opt.step()
            return lv

        steps.append(step)
    compiled = ng.compile(steps[1])
    for _ in range(6):
        assert steps[0](x, y).item() == compiled(x, y).item()
    _same(*nets)
    assert next(iter(compiled._entries.values())).program is not None


def test_steady_state_calls_keep_results_and_bind_grad_once():
    # the fused step's memory plan: gradients live in buffers of the program (.grad is bound
    # once and rewritten in place, as after zero_grad(set_to_none=False) + backward), every
    # returned tensor is new, and nothing else is allocated per call
    m1, o1, eager, x, y = _setup("tiny", ng.float32)
    m2, o2, step, _, _ = _setup("tiny", ng.float32)
    compiled = ng.compile(step)
    kept_eager, kept_compiled, grads = [], [], []
    for _ in range(6):
        kept_eager.append(eager(x, y))
        kept_compiled.append(compiled(x, y))
        grads.append(m2[0].weight.grad)
    assert [a.item() for a in kept_eager] == [b.item() for b in kept_compiled]
    assert len({id(b._data) for b in kept_compiled}) == 6
    assert grads[3] is grads[4] is grads[5]
    _same(m1, m2)
    (entry,) = compiled._entries.values()
    assert entry.program.fused_source.count("np.empty(") == 1  # the returned loss
    # eager code in between (zero_grad sets .grad to None): the next call binds it again
    for o in (o1, o2):
        o.zero_grad()
    assert eager(x, y).item() == compiled(x, y).item()
    _same(m1, m2)


def test_fast_path_guards_new_batches_shapes_and_requires_grad():
    m1, _, eager, x, y = _setup("tiny", ng.float64)
    m2, _, step, _, _ = _setup("tiny", ng.float64)
    compiled = ng.compile(step)
    ng.manual_seed(3)
    batches = [(ng.randn(100, 2, dtype=ng.float64), ng.rand(100, 1, dtype=ng.float64))]
    batches += [(ng.randn(100, 2, dtype=ng.float64), ng.rand(100, 1, dtype=ng.float64))]
    batches += [(x[:40], y[:40]), (x.T.contiguous().T, y)]  # another shape, another layout
    for k in range(12):
        bx, by = batches[min(k // 2, 3)] if k < 8 else batches[k % 2]
        assert eager(bx, by).item() == compiled(bx, by).item()
    _same(m1, m2)
    assert len(compiled._entries) == 3
    xr = x.detach().requires_grad_()
    for _ in range(3):
        assert eager(xr, y).item() == compiled(xr, y).item()
    assert len(compiled._entries) == 4
    _same(m1, m2)


@pytest.mark.parametrize("dtype", [ng.float32, ng.float64], ids=["float32", "float64"])
def test_fused_elementwise_chains_equal_eager_bit_for_bit(dtype):
    # chains of multiplies feeding adds (where an FMA across two ops would skip a rounding
    # eager does) run as one loop each, forward and backward, and still give eager's bits
    def make():
        ng.manual_seed(3)
        lin = nn.Linear(7, 33).to(dtype)
        a, b = (ng.randn(5, 33, dtype=dtype).requires_grad_() for _ in range(2))
        params = [*lin.parameters(), a, b]
        opt = ng.optim.SGD(params, lr=0.1, momentum=0.9)

        def step(x):
            opt.zero_grad()
            h = ng.tanh(lin(x))  # bias add + tanh: one loop
            u = h * a + b
            v = u * u - a * h
            w = ng.sigmoid(v * 0.5 + u) * b - h * 0.25
            loss = (w * w).mean()
            loss.backward()
            opt.step()
            return loss, w

        return params, step

    p1, eager = make()
    p2, step = make()
    compiled = ng.compile(step)
    x = ng.randn(5, 7, dtype=dtype)
    for _ in range(5):
        (l1, w1), (l2, w2) = eager(x), compiled(x)
        assert l1.item() == l2.item()
        assert np.array_equal(w1.detach().numpy(), w2.detach().numpy())
    for p, q in zip(p1, p2, strict=True):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
        assert np.array_equal(p.grad.numpy(), q.grad.numpy())
    (entry,) = compiled._entries.values()
    src = entry.program.fused_source
    assert src is not None, entry.program.fused_reason
    # the forward's nine elementwise ops and the linear layer's bias add: one loop in all
    first_loop = src.split("for i in range(5):", 1)[1].split("\n    v", 1)[0]
    assert first_loop.count("= _f") >= 10, first_loop


def test_fuse_loops_option_keeps_one_loop_per_rule():
    m1, o1, s1, x, y = _setup("momentum", ng.float32)
    m2, o2, s2, _, _ = _setup("momentum", ng.float32)
    fused = ng.compile(s1)
    apart = ng.compile(s2, options={"fuse_loops": False})
    for _ in range(4):
        assert fused(x, y).item() == apart(x, y).item()
    _same(m1, m2)
    (e1,) = fused._entries.values()
    (e2,) = apart._entries.values()
    assert e1.program.fused_source.count("for ") < e2.program.fused_source.count("for ")
    with pytest.raises(ValueError, match="fuse_loops"):
        ng.compile(s1, options={"fusion": 1})


@pytest.mark.parametrize("kind", ["tiny", "medium", "momentum", "adamw"])
def test_steady_state_calls_allocate_only_the_returned_loss(kind):
    # Numba's allocation counters: a fused call allocates the loss it returns and nothing
    # else (each array argument costs Numba one small record when unboxed: counted apart)
    from numba.core.runtime import _nrt_python, rtsys

    _, _, step, x, y = _setup(kind, ng.float32)
    compiled = ng.compile(step)
    for _ in range(4):
        compiled(x, y)
    (entry,) = compiled._entries.values()
    fused = entry.program.fused
    assert fused is not None, entry.program.fused_reason
    arrays = 2 + sum(isinstance(v, np.ndarray) for v in fused.fixed)
    _nrt_python.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats()
        for _ in range(5):
            compiled(x, y)
        after = rtsys.get_allocation_stats()
    finally:
        _nrt_python.memsys_disable_stats()
    assert (after.alloc - before.alloc) == 5 * (arrays + 1)


def test_fused_loops_store_bool_and_integer_results_as_eager():
    # a comparison's bool result and an integer op run inside the fused step, stored with the
    # conversion eager's loop store makes
    def make():
        ng.manual_seed(5)
        lin = nn.Linear(3, 6)
        opt = ng.optim.SGD(lin.parameters(), lr=0.1)

        def step(x, k):
            opt.zero_grad()
            y = ng.sigmoid(lin(x))
            mask = y > 0.5
            kk = k * 3 + 1
            loss = (y * y).mean()
            loss.backward()
            opt.step()
            return loss, mask, kk

        return step

    eager, compiled = make(), ng.compile(make())
    x = ng.randn(7, 3)
    k = ng.tensor(np.arange(42).reshape(7, 6))
    for _ in range(4):
        (l1, m1, k1), (l2, m2, k2) = eager(x, k), compiled(x, k)
        assert l1.item() == l2.item()
        assert m2.dtype == ng.bool and np.array_equal(m1.numpy(), m2.numpy())
        assert k2.dtype == ng.int64 and np.array_equal(k1.numpy(), k2.numpy())
    (entry,) = compiled._entries.values()
    assert entry.program.fused is not None, entry.program.fused_reason
