"""Peak memory of a whole training step of the medium and the large MLP, numgrad against torch.

``peakmem_*`` reports the peak resident set size of the benchmark's process, which asv starts
fresh for each benchmark and parameter combination: interpreter, imported libraries, model,
optimizer state, batch, and the graph and gradients of the steps. It is the whole process, so
the numgrad and torch numbers also differ by what each library's import alone costs (torch's is
larger); a change from one commit to the next is what this benchmark is for.

``setup`` builds the model; the benchmark runs two steps, the second one with the optimizer's
state already allocated (Adam's moments, SGD's momentum buffers), as in a training loop.
"""

from .common import build_training


class _TrainStepMemory:
    lib = "numgrad"
    mlp = "medium"
    param_names = ["dtype"]

    def setup(self, dtype):
        self.training = build_training(self.lib, self.mlp, dtype=dtype)

    def peakmem_train_step(self, dtype):
        self.training.step()
        self.training.step()


class NumgradMemoryMedium(_TrainStepMemory):
    mlp = "medium"
    params = ["float32", "float64"]


class TorchMemoryMedium(NumgradMemoryMedium):
    lib = "torch"


class NumgradMemoryLarge(_TrainStepMemory):
    mlp = "large"
    params = ["float32"]


class TorchMemoryLarge(NumgradMemoryLarge):
    lib = "torch"
