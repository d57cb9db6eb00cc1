"""The workloads ``numgrad bench`` times: each is written once against a torch-shaped library
object (``Lib``) and run on numgrad and on torch from the same numpy inputs and weights.

A workload builder ``build(lib, size, dtype)`` returns a ``Prepared``: ``step()`` runs one timed
iteration and ``result()`` returns the numpy arrays that must agree between the two libraries
after the first ``step()`` (outputs and gradients, or the loss and the parameters after one
optimizer step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

QUICK, DEFAULT, FULL = "quick", "default", "full"
SUITES = (QUICK, DEFAULT, FULL)


class Lib:
    """numgrad or torch, seen through the part of their (shared) API the workloads use."""

    def __init__(self, name, device="cpu", compiled=False):
        self.name = name
        self.device = device
        # numgrad with its training step wrapped in numgrad.compile (train-step rows only)
        self.compiled = compiled
        self.key = "compiled" if compiled else name
        if name == "numgrad":
            import numgrad as mod
            import numgrad.nn as nn
            import numgrad.nn.functional as F
            import numgrad.optim as optim
        elif name == "torch":
            import torch as mod
            import torch.nn as nn
            import torch.nn.functional as F
            import torch.optim as optim
        else:
            raise ValueError(f"unknown library {name!r}")
        self.mod, self.nn, self.F, self.optim = mod, nn, F, optim
        self.version = mod.__version__

    def dtype(self, name):
        return getattr(self.mod, name)

    def tensor(self, arr, requires_grad=False):
        return self.mod.tensor(arr, device=self.device, requires_grad=requires_grad)

    def numpy(self, t):
        return t.detach().cpu().numpy()

    def sync(self):
        """Wait for queued device work, so a timer measures it (a no-op on the CPU)."""
        if self.device != "cpu":
            self.mod.cuda.synchronize()


@dataclass
class Prepared:
    step: object  # () -> None: one timed iteration
    result: object  # () -> [(label, numpy array[, label of its gradient])] to compare


@dataclass
class Case:
    """One row of the table: a workload at one size."""

    workload: str  # "tanh", "matmul", "mlp-tiny", ...
    group: str  # "elementwise", "matmul", "softmax+CE", "train step": one plot panel each
    what: str  # what one timed iteration does
    size: str  # the size as printed
    x: int  # the size on the plot's x axis
    x_label: str
    suites: tuple
    build: object = field(repr=False)  # (lib, dtype) -> Prepared
    tick: str = ""  # the size's label on the plot's x axis (default: ``size``)
    compilable: bool = False  # a whole training step: also timed under numgrad.compile
    # the work of one step, for GB/s or TFLOP/s on a GPU: elements read plus written by an
    # unfused implementation (times the itemsize: bytes), and floating-point operations
    moved: int = 0
    flops: float = 0.0

    @property
    def name(self):
        return f"{self.workload} {self.size}"


def _rng(*key):
    # one seed per case, independent of the order cases run in
    return np.random.default_rng(_stable_seed(key))


def _stable_seed(key):
    # hash() of a str changes per process; this does not
    s = 0
    for ch in repr(key):
        s = (s * 131 + ord(ch)) % (2**31 - 1)
    return s


# ---------------------------------------------------------------------------------------------
# elementwise ops: y = op(x[, w]); y.backward(g)
# ---------------------------------------------------------------------------------------------

_UNARY = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "exp": lambda x: x.exp(),
}
_BINARY = {
    "add": lambda x, w: x + w,
    "mul": lambda x, w: x * w,
}


def _elementwise(op, n):
    def build(lib, dtype):
        rng = _rng(op, n)
        # exp's inputs are kept in [-3, 3] so float32 results are comparable in relative terms
        xs = rng.uniform(-3, 3, size=n).astype(dtype)
        gs = rng.standard_normal(n).astype(dtype)
        x = lib.tensor(xs, requires_grad=True)
        g = lib.tensor(gs)
        if op in _BINARY:
            f = _BINARY[op]
            w = lib.tensor(rng.standard_normal(n).astype(dtype), requires_grad=True)
            leaves = (x, w)

            def run():
                return f(x, w)
        else:
            f = _UNARY[op]
            leaves = (x,)

            def run():
                return f(x)

        out = []

        def step():
            for t in leaves:
                t.grad = None
            y = run()
            y.backward(g)
            out[:] = [y]

        def result():
            res = [("y", lib.numpy(out[0]))]
            return res + [(f"grad of {k}", lib.numpy(t.grad)) for k, t in zip("xw", leaves)]

        return Prepared(step, result)

    return build


# ---------------------------------------------------------------------------------------------
# matmul: c = a @ b; c.backward(g)
# ---------------------------------------------------------------------------------------------


def _matmul(n):
    def build(lib, dtype):
        rng = _rng("matmul", n)
        a = lib.tensor(rng.standard_normal((n, n)).astype(dtype), requires_grad=True)
        b = lib.tensor(rng.standard_normal((n, n)).astype(dtype), requires_grad=True)
        g = lib.tensor(rng.standard_normal((n, n)).astype(dtype))
        out = []

        def step():
            a.grad = None
            b.grad = None
            c = a @ b
            c.backward(g)
            out[:] = [c]

        def result():
            c = lib.numpy(out[0])
            return [("c", c), ("grad of a", lib.numpy(a.grad)), ("grad of b", lib.numpy(b.grad))]

        return Prepared(step, result)

    return build


# ---------------------------------------------------------------------------------------------
# softmax + cross-entropy: loss = cross_entropy(logits, target); loss.backward()
# ---------------------------------------------------------------------------------------------


def _softmax_ce(batch, classes):
    def build(lib, dtype):
        rng = _rng("ce", batch, classes)
        z = lib.tensor(rng.standard_normal((batch, classes)).astype(dtype), requires_grad=True)
        t = lib.tensor(rng.integers(0, classes, size=batch).astype(np.int64))
        F = lib.F
        out = []

        def step():
            z.grad = None
            loss = F.cross_entropy(z, t)
            loss.backward()
            out[:] = [loss]

        def result():
            return [("loss", lib.numpy(out[0])), ("grad of z", lib.numpy(z.grad))]

        return Prepared(step, result)

    return build


# ---------------------------------------------------------------------------------------------
# whole training steps: zero_grad, forward, loss, backward, optimizer step
# ---------------------------------------------------------------------------------------------

MLPS = {
    # name: (layer widths, hidden activation, loss, optimizer and its arguments)
    "mlp-tiny": ((2, 32, 1), "Sigmoid", "BCEWithLogitsLoss", ("SGD", {"lr": 0.1})),
    "mlp-medium": ((784, 256, 10), "ReLU", "CrossEntropyLoss", ("Adam", {"lr": 1e-3})),
    "mlp-large": (
        (1024, 1024, 1024, 10),
        "ReLU",
        "CrossEntropyLoss",
        ("SGD", {"lr": 0.01, "momentum": 0.9}),
    ),
}


def mlp_description(name, batch):
    widths, act, loss, (opt, kw) = MLPS[name]
    args = ", ".join(f"{k}={v}" for k, v in kw.items())
    return f"{batch}x{' -> '.join(map(str, widths))}, {act}, {loss}, {opt}({args})"


def _mlp(name, batch):
    widths, act, loss_name, (opt_name, opt_kw) = MLPS[name]

    def build(lib, dtype):
        rng = _rng(name, batch)
        nn = lib.nn
        layers, state = [], {}
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(widths) - 2:
                layers.append(getattr(nn, act)())
            # torch's default Linear init, drawn from numpy so both libraries start equal
            bound = 1 / math.sqrt(fan_in)
            idx = 2 * i
            state[f"{idx}.weight"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype)
            state[f"{idx}.bias"] = rng.uniform(-bound, bound, fan_out).astype(dtype)
        model = nn.Sequential(*layers).to(device=lib.device, dtype=lib.dtype(dtype))
        model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
        x = lib.tensor(rng.standard_normal((batch, widths[0])).astype(dtype))
        if loss_name == "BCEWithLogitsLoss":
            y = lib.tensor((rng.random((batch, 1)) < 0.5).astype(dtype))
        else:
            y = lib.tensor(rng.integers(0, widths[-1], size=batch).astype(np.int64))
        criterion = getattr(nn, loss_name)()
        named = list(model.named_parameters())
        params = [p for _, p in named]
        opt = getattr(lib.optim, opt_name)(params, **opt_kw)
        out = []

        def train(x, y):
            opt.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            opt.step()
            return loss

        if lib.compiled:
            train = lib.mod.compile(train)

        def step():
            out[:] = [train(x, y)]

        def result():
            res = [("loss", lib.numpy(out[0]))]
            res += [(f"grad of {k}", lib.numpy(p.grad)) for k, p in named]
            # the third entry names the gradient that masks this comparison in float32
            res += [(f"{k} after the step", lib.numpy(p), f"grad of {k}") for k, p in named]
            return res

        return Prepared(step, result)

    return build


# ---------------------------------------------------------------------------------------------
# the suite
# ---------------------------------------------------------------------------------------------


def _pow10(n):
    e = round(math.log10(n))
    return f"n=10^{e}" if 10**e == n else f"n={n}"


# elements read + written per element of an elementwise row, forward and backward, unfused:
# unary y = f(x) reads x, writes y; its backward reads g and x (or y), writes the gradient;
# binary ops read two and write one forward; add's backward reads g and writes two gradients,
# mul's reads g and the other operand for each of its two gradients
_MOVED = {"tanh": 5, "sigmoid": 5, "exp": 5, "add": 6, "mul": 9}


def _flops_mlp(name, batch):
    # forward 2 flops per multiply-add of each Linear, backward twice that (input and weight
    # gradients): 6 * batch * fan_in * fan_out; the elementwise work is negligible beside it
    widths = MLPS[name][0]
    return 6.0 * batch * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def _launch():
    # one small op, no gradient: its time is launch latency, and its host time (enqueue_time)
    # the Python cost of one op
    def build(lib, dtype):
        rng = _rng("launch")
        x = lib.tensor(rng.standard_normal(1000).astype(dtype))
        w = lib.tensor(rng.standard_normal(1000).astype(dtype))
        out = []

        def step():
            out[:] = [x + w]

        return Prepared(step, lambda: [("y", lib.numpy(out[0]))])

    return build


def _cuda_cases():
    """The GPU suite: launch cost, then sizes where the GPU is busy (10^6-10^8 elements)."""
    Q, D, F = QUICK, DEFAULT, FULL
    cases = [
        Case(
            "launch",
            "launch",
            "y = x + w (1000 elements, no grad): one op",
            "n=10^3",
            1000,
            "elements",
            (Q, D, F),
            _launch(),
            moved=3,
        )
    ]
    ew_sizes = {10**6: (Q, D, F), 10**7: (D, F), 10**8: (D, F)}
    for op in ("add", "mul", "tanh", "sigmoid", "exp"):
        what = f"y = {'x + w' if op == 'add' else 'x * w' if op == 'mul' else op + '(x)'}; "
        what += "y.backward(g)"
        for n, suites in ew_sizes.items():
            cases.append(
                Case(
                    op,
                    "elementwise",
                    what,
                    _pow10(n),
                    n,
                    "elements",
                    suites,
                    _elementwise(op, n),
                    moved=_MOVED[op] * n,
                )
            )
    for n, suites in {1024: (Q, D, F), 4096: (D, F), 8192: (F,)}.items():
        cases.append(
            Case(
                "matmul",
                "matmul",
                "c = a @ b (n x n); c.backward(g)",
                f"{n}x{n}",
                n,
                "n (n x n matrices)",
                suites,
                _matmul(n),
                moved=6 * n * n,
                flops=6.0 * n**3,
            )
        )
    # cross-entropy forward reads z; backward reads z again and writes its gradient
    for (b, c), suites in {
        (1000, 1000): (Q, D, F),
        (10_000, 1000): (D, F),
        (100_000, 1000): (D, F),
    }.items():
        cases.append(
            Case(
                "softmax+CE",
                "softmax+CE",
                "loss = cross_entropy(z, t); loss.backward()",
                f"{b}x{c}",
                b * c,
                "batch x classes",
                suites,
                _softmax_ce(b, c),
                moved=3 * b * c,
            )
        )
    mlp_sizes = {
        "mlp-tiny": {100: (Q, D, F), 1000: (D, F)},
        "mlp-medium": {64: (Q, D, F), 256: (D, F), 1024: (F,)},
        "mlp-large": {256: (D, F), 1024: (D, F), 4096: (F,)},
    }
    for name, sizes in mlp_sizes.items():
        for batch, suites in sizes.items():
            widths = MLPS[name][0]
            cases.append(
                Case(
                    name,
                    "train step",
                    "train step: " + mlp_description(name, batch),
                    f"{batch}x{'-'.join(map(str, widths))}",
                    batch,
                    "batch",
                    suites,
                    _mlp(name, batch),
                    tick=str(batch),
                    flops=_flops_mlp(name, batch),
                )
            )
    return cases


def all_cases(device="cpu"):
    """Every case of ``device``'s suites, in table order; ``suites`` says which suites include
    it.  The GPU has its own sizes: the CPU's are too small to occupy it."""
    if device == "cuda":
        return _cuda_cases()
    Q, D, F = QUICK, DEFAULT, FULL
    cases = []
    ew_sizes = {100: (D, F), 1_000: (F,), 10_000: (Q, D, F), 100_000: (F,), 1_000_000: (D, F)}
    ew_sizes[10_000_000] = (F,)
    for op in ("add", "mul", "tanh", "sigmoid", "exp"):
        what = f"y = {'x + w' if op == 'add' else 'x * w' if op == 'mul' else op + '(x)'}; "
        what += "y.backward(g)"
        for n, suites in ew_sizes.items():
            cases.append(
                Case(op, "elementwise", what, _pow10(n), n, "elements", suites, _elementwise(op, n))
            )
    for n, suites in {32: (F,), 64: (Q, D, F), 128: (F,), 256: (D, F), 512: (D, F)}.items():
        cases.append(
            Case(
                "matmul",
                "matmul",
                "c = a @ b (n x n); c.backward(g)",
                f"{n}x{n}",
                n,
                "n (n x n matrices)",
                suites,
                _matmul(n),
            )
        )
    ce_sizes = {(64, 10): (Q, D, F), (256, 100): (D, F), (1024, 1000): (D, F), (4096, 1000): (F,)}
    for (b, c), suites in ce_sizes.items():
        cases.append(
            Case(
                "softmax+CE",
                "softmax+CE",
                "loss = cross_entropy(z, t); loss.backward()",
                f"{b}x{c}",
                b * c,
                "batch x classes",
                suites,
                _softmax_ce(b, c),
            )
        )
    mlp_sizes = {
        "mlp-tiny": {100: (Q, D, F), 1000: (D, F), 10_000: (F,)},
        "mlp-medium": {64: (Q, D, F), 256: (D, F), 1024: (F,)},
        "mlp-large": {256: (D, F), 1024: (F,)},
    }
    for name, sizes in mlp_sizes.items():
        for batch, suites in sizes.items():
            widths = MLPS[name][0]
            cases.append(
                Case(
                    name,
                    "train step",
                    "train step: " + mlp_description(name, batch),
                    f"{batch}x{'-'.join(map(str, widths))}",
                    batch,
                    "batch",
                    suites,
                    _mlp(name, batch),
                    tick=str(batch),
                    compilable=True,
                )
            )
    return cases
