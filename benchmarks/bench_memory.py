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


class NumgradCheckpointMemory:
    """Peak memory of forward + backward of a 48-layer MLP (512 wide, batch 1024: 2 MB an
    activation), plain or with ``checkpoint_sequential`` over 6 segments."""

    lib = "numgrad"
    params = [False, True]
    param_names = ["checkpointed"]

    def setup(self, checkpointed):
        from .common import library, submodules

        lib = library(self.lib)
        nn, _, _ = submodules(lib)
        layers = []
        for _ in range(24):
            layers += [nn.Linear(512, 512), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.x = lib.randn(1024, 512, requires_grad=True)
        if self.lib == "numgrad":
            from numgrad.utils.checkpoint import checkpoint_sequential
        else:
            from torch.utils.checkpoint import checkpoint_sequential
        self.seq = checkpoint_sequential
        self.net(self.x[:2]).sum().backward()  # kernels loaded before the measurement

    def peakmem_forward_backward(self, checkpointed):
        if checkpointed:
            y = self.seq(self.net, 6, self.x, use_reentrant=False)
        else:
            y = self.net(self.x)
        y.sum().backward()


class TorchCheckpointMemory(NumgradCheckpointMemory):
    lib = "torch"
