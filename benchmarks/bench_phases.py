"""The phases of one training step of the three reference MLPs, numgrad against torch.

Networks (``common.MLPS``):

* tiny: batch 100, 2 -> 32 -> 1, sigmoid, BCEWithLogitsLoss, SGD(lr=0.1)
* medium: batch 64, 784 -> 256 -> 10, ReLU, CrossEntropyLoss, Adam(lr=1e-3)
* large: batch 256, 1024 -> 1024 -> 1024 -> 10, ReLU, CrossEntropyLoss, SGD(lr=0.01,
  momentum=0.9)

Parameters: batch size and dtype for tiny (whose cost is per-op overhead, so batch size shows
how much of it there is), dtype for medium, float32 only for large: every parameter
combination of every benchmark is a process start in asv (two seconds and more with torch),
and a whole quick run should stay within about five minutes on two cores.

Phases: ``time_forward`` (model and loss, recording the graph), ``time_backward``,
``time_optimizer_step`` and ``time_train_step`` (zero_grad, forward, loss, backward, step).

Each class builds its model once per process (``common.cached``) and runs one whole training
step on it straight away, so what is timed is the steady state of a training loop: warm
objects, the optimizer's state (momentum buffers, Adam's moments) allocated, the Numba kernels
loaded, and the gradients populated, which ``time_optimizer_step`` needs. The weights move a
little with every timed step; the cost of a step does not depend on their values.

Backward is timed alone in its own classes (``*Backward``), whose ``setup`` clears the
gradients (as ``zero_grad`` does) and runs a forward pass: each timed call needs a graph of its
own, because backward frees the graph it walks. So these classes take one call per sample
(``number = 1``) and no warm-up calls (``warmup_time = 0``): asv re-runs ``setup`` between
samples, but not between the calls of one sample, nor, in asv_runner 0.2, between warm-up
calls (asv_runner 0.3 re-runs it before every timed call). ``retain_graph=True`` would allow
repeated calls, but it would time something else: gradients accumulating onto the previous
call's, and no freeing of the graph.
"""

from .common import DTYPES, build_training, cached


class _Model:
    lib = "numgrad"
    mlp = "tiny"
    param_names = ["batch", "dtype"]
    # one call per sample under asv_runner 0.3: take more of them, bounded (min, max, seconds)
    repeat = (10, 50, 2.0)

    def setup(self, batch, dtype):
        key = (type(self).__name__, batch, dtype)
        self.training = cached(key, lambda: _trained_once(self.lib, self.mlp, batch, dtype))


class _Phases(_Model):
    def time_forward(self, batch, dtype):
        self.training.loss()

    def time_optimizer_step(self, batch, dtype):
        self.training.optimizer.step()

    def time_train_step(self, batch, dtype):
        self.training.step()


class _Backward(_Model):
    # a fresh graph for every timed call (see the module docstring)
    number = 1
    warmup_time = 0

    def setup(self, batch, dtype):
        super().setup(batch, dtype)
        self.training.optimizer.zero_grad()
        self.loss = self.training.loss()

    def time_backward(self, batch, dtype):
        self.loss.backward()


def _trained_once(lib, mlp, batch, dtype):
    training = build_training(lib, mlp, batch, dtype)
    training.step()
    return training


TINY = ([100, 1000], DTYPES)
MEDIUM = ([64], DTYPES)
LARGE = ([256], ["float32"])


class NumgradTiny(_Phases):
    mlp = "tiny"
    params = TINY


class TorchTiny(NumgradTiny):
    lib = "torch"


class NumgradTinyBackward(_Backward):
    mlp = "tiny"
    params = TINY


class TorchTinyBackward(NumgradTinyBackward):
    lib = "torch"


class NumgradMedium(_Phases):
    mlp = "medium"
    params = MEDIUM


class TorchMedium(NumgradMedium):
    lib = "torch"


class NumgradMediumBackward(_Backward):
    mlp = "medium"
    params = MEDIUM


class TorchMediumBackward(NumgradMediumBackward):
    lib = "torch"


class NumgradLarge(_Phases):
    mlp = "large"
    params = LARGE


class TorchLarge(NumgradLarge):
    lib = "torch"


class NumgradLargeBackward(_Backward):
    mlp = "large"
    params = LARGE


class TorchLargeBackward(NumgradLargeBackward):
    lib = "torch"
