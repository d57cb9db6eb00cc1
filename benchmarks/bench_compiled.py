"""A whole training step under ``numgrad.compile`` (``Numgrad*``) and ``torch.compile``
(``Torch*``), beside the eager steps of ``bench_phases``.

Same networks, weights and batches as ``bench_phases`` (``common.MLPS``).  The compiled step is
called three times before timing (the first call runs eagerly, the second traces, later calls
replay: docs/compile.md), so what is timed is the replay.  Compare ``time_train_step`` here with
``NumgradTiny.time_train_step`` / ``TorchTiny.time_train_step`` there: the ratio to torch is the
number ``numgrad bench`` prints in its ``torch/compiled`` column.  ``torch.compile`` needs a C++
compiler on the CPU; where it fails, the torch benchmarks are skipped (NotImplementedError from
``setup``), as asv does for any benchmark whose setup raises it.
"""

from .common import DTYPES, build_training, cached


def _compiled(lib, mlp, batch, dtype):
    training = build_training(lib, mlp, batch, dtype)
    if lib == "numgrad":
        import numgrad

        compiled = numgrad.compile(lambda x, y: _step(training, x, y))
    else:
        import torch

        compiled = torch.compile(lambda x, y: _step(training, x, y))
    try:
        for _ in range(3):
            compiled(training.x, training.y)
    except Exception as exc:  # torch.compile without a C++ compiler
        raise NotImplementedError(f"{lib} compile unavailable here: {exc}") from None
    return training, compiled


def _step(training, x, y):
    training.optimizer.zero_grad()
    loss = training.criterion(training.model(x), y)
    loss.backward()
    training.optimizer.step()
    return loss


class _Compiled:
    lib = "numgrad"
    mlp = "tiny"
    param_names = ["batch", "dtype"]
    repeat = (10, 50, 2.0)

    def setup(self, batch, dtype):
        key = (type(self).__name__, batch, dtype)
        self.training, self.compiled = cached(
            key, lambda: _compiled(self.lib, self.mlp, batch, dtype)
        )

    def time_train_step(self, batch, dtype):
        self.compiled(self.training.x, self.training.y)


class NumgradCompiledTiny(_Compiled):
    mlp = "tiny"
    params = ([100, 1000], DTYPES)


class TorchCompiledTiny(NumgradCompiledTiny):
    lib = "torch"


class NumgradCompiledMedium(_Compiled):
    mlp = "medium"
    params = ([64], DTYPES)


class TorchCompiledMedium(NumgradCompiledMedium):
    lib = "torch"


class NumgradCompiledLarge(_Compiled):
    mlp = "large"
    params = ([256], ["float32"])


class TorchCompiledLarge(NumgradCompiledLarge):
    lib = "torch"
