"""Single operations: forward alone, and forward + backward, numgrad against torch.

Each family has a numgrad class and a torch class with the same parameters and the same input
arrays (see ``common``). Inputs require grad, so ``time_forward`` includes the cost of recording
the operation on the tape, as in a training step; ``time_forward_backward`` then also walks it
back with a fixed upstream gradient (or none, for scalar outputs).

Inputs are built once per process (``common.cached``), and each op runs once then, so that no
timed call pays for loading the Numba kernels from the on-disk cache (``bench_startup``
measures that). ``setup`` clears the leaves' gradients, so a timed backward writes fresh
gradients, as after ``zero_grad``; where asv times several calls per ``setup`` (asv_runner 0.2),
the later calls accumulate onto them instead, in both libraries alike.
"""

from .common import DTYPES, cached, library, rng_for, submodules

# The same lambdas drive both libraries: numgrad's Tensor API is torch's.
ELEMENTWISE = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "exp": lambda a, b: a.exp(),
    "relu": lambda a, b: a.relu(),
    "sum": lambda a, b: a.sum(),
}


class _OpBenchmark:
    """Subclasses set ``lib`` and ``params``; their ``setup`` calls ``prepare``."""

    lib = "numgrad"
    # one call per sample under asv_runner 0.3: take more of them, bounded (min, max, seconds)
    repeat = (10, 50, 2.0)

    def prepare(self, key, make):
        """``make(lib)`` returns ``(fn, leaves, constants, grad)``, numpy arrays; built once."""

        def build():
            lib = library(self.lib)
            fn, leaves, constants, grad = make(lib)
            inputs = [lib.tensor(a, requires_grad=True) for a in leaves]
            inputs += [lib.from_numpy(c) for c in constants]
            grad = None if grad is None else lib.from_numpy(grad)
            fn(*inputs).backward(grad)  # loads the kernels before anything is timed
            return fn, inputs, grad

        self.fn, self.inputs, self.grad = cached((type(self).__name__, *key), build)
        # a timed backward writes fresh gradients, as after zero_grad
        for t in self.inputs:
            t.grad = None

    def run_forward(self):
        return self.fn(*self.inputs)

    def run_forward_backward(self):
        self.fn(*self.inputs).backward(self.grad)


class NumgradElementwise(_OpBenchmark):
    # float32 only: each parameter combination costs a process start in asv, and float64
    # kernels are covered by the matmul and training-step benchmarks
    params = (list(ELEMENTWISE), [1_000, 100_000], ["float32"])
    param_names = ["op", "n", "dtype"]

    def setup(self, op, n, dtype):
        def make(lib):
            rng = rng_for("elementwise", n, dtype)
            a, b, g = (rng.standard_normal(n).astype(dtype) for _ in range(3))
            return ELEMENTWISE[op], [a, b], [], None if op == "sum" else g

        self.prepare((op, n, dtype), make)

    def time_forward(self, op, n, dtype):
        self.run_forward()

    def time_forward_backward(self, op, n, dtype):
        self.run_forward_backward()


class TorchElementwise(NumgradElementwise):
    lib = "torch"


class NumgradMatmul(_OpBenchmark):
    """``(n, n) @ (n, n)``: BLAS-bound on both sides."""

    params = ([64, 256], DTYPES)
    param_names = ["n", "dtype"]

    def setup(self, n, dtype):
        def make(lib):
            rng = rng_for("matmul", n, dtype)
            a, b, g = (rng.standard_normal((n, n)).astype(dtype) for _ in range(3))
            return (lambda a, b: a @ b), [a, b], [], g

        self.prepare((n, dtype), make)

    def time_forward(self, n, dtype):
        self.run_forward()

    def time_forward_backward(self, n, dtype):
        self.run_forward_backward()


class TorchMatmul(NumgradMatmul):
    lib = "torch"


class NumgradSoftmax(_OpBenchmark):
    """``softmax(x, dim=1)`` and ``cross_entropy(x, classes)`` on ``rows x classes`` logits."""

    params = (["softmax", "cross_entropy"], ["100x10", "1000x100"], ["float32"])
    param_names = ["op", "shape", "dtype"]

    def setup(self, op, shape, dtype):
        def make(lib):
            rows, classes = map(int, shape.split("x"))
            rng = rng_for("softmax", shape, dtype)
            x, g = (rng.standard_normal((rows, classes)).astype(dtype) for _ in range(2))
            _, F, _ = submodules(lib)
            if op == "softmax":
                return (lambda x: F.softmax(x, dim=1)), [x], [], g
            return F.cross_entropy, [x], [rng.integers(0, classes, rows)], None

        self.prepare((op, shape, dtype), make)

    def time_forward(self, op, shape, dtype):
        self.run_forward()

    def time_forward_backward(self, op, shape, dtype):
        self.run_forward_backward()


class TorchSoftmax(NumgradSoftmax):
    lib = "torch"
