"""Start-up: a fresh interpreter importing the library, and running its first training step.

``timeraw_*`` benchmarks return code that asv times in a new Python process, one process per
sample: ``(stmt, setup)``, of which only ``stmt`` is timed.

* ``timeraw_import_*``: ``import numgrad`` / ``import torch`` alone (numpy, scipy and Numba
  included: that is what importing numgrad costs).
* ``timeraw_train_step_tiny_*``: import, build the tiny MLP from given weights and run one
  whole training step (zero_grad, forward, loss, backward, SGD step). For numgrad this is
  dominated by loading each kernel from Numba's on-disk cache on first use. The cache is warm:
  ``setup`` runs the same step in the benchmarking process first, which compiles and caches any
  kernel missing from it, so a cold cache (a first-ever run, or a new numgrad version) does not
  show up as a start-up regression.

The untimed ``setup`` code draws the batch and the weights with numpy, the same arrays for both
libraries, and points the timed interpreter at the numgrad that asv is benchmarking; the timed
code sets one thread, like every other benchmark (see ``common``).
"""

import importlib.util
import os

from .common import build_training, torch_or_skip

_ARRAYS = """
import numpy as np
rng = np.random.default_rng(0)
x = rng.standard_normal((100, 2)).astype(np.float32)
y = (rng.random((100, 1)) < 0.5).astype(np.float32)
state = {}
for i, (fan_in, fan_out) in enumerate([(2, 32), (32, 1)]):
    bound = 1.0 / np.sqrt(fan_in)
    state[f"{2 * i}.weight"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
    state[f"{2 * i}.bias"] = rng.uniform(-bound, bound, fan_out).astype(np.float32)
"""

# the same code for both libraries: numgrad's API is torch's
_TRAIN_STEP = """
import {lib} as lib
import {lib}.nn as nn
import {lib}.optim as optim
lib.set_num_threads(1)
model = nn.Sequential(nn.Linear(2, 32), nn.Sigmoid(), nn.Linear(32, 1))
model.load_state_dict({{k: lib.from_numpy(v) for k, v in state.items()}})
criterion = nn.BCEWithLogitsLoss()
optimizer = optim.SGD(model.parameters(), lr=0.1)
optimizer.zero_grad()
loss = criterion(model(lib.from_numpy(x)), lib.from_numpy(y))
loss.backward()
optimizer.step()
loss.item()
"""


def _same_numgrad():
    """Setup code that makes the timed interpreter import the numgrad this process imports.

    The timed interpreter inherits the environment but not ``sys.path``, and asv drops
    ``PYTHONPATH`` from the benchmark process's path: without this, a run against another
    checkout (``ASV_PYTHONPATH``) would time the installed numgrad here instead.
    """
    spec = importlib.util.find_spec("numgrad")
    root = os.path.dirname(os.path.dirname(spec.origin))
    return f"import sys\nsys.path.insert(0, {root!r})\n"


def _warm_kernel_cache():
    build_training("numgrad", "tiny").step()


def timeraw_import_numgrad():
    return "import numgrad", _same_numgrad()


def timeraw_import_torch():
    return "import torch"


timeraw_import_torch.setup = torch_or_skip


def timeraw_train_step_tiny_numgrad():
    return _TRAIN_STEP.format(lib="numgrad"), _same_numgrad() + _ARRAYS


timeraw_train_step_tiny_numgrad.setup = _warm_kernel_cache


def timeraw_train_step_tiny_torch():
    return _TRAIN_STEP.format(lib="torch"), _ARRAYS


timeraw_train_step_tiny_torch.setup = torch_or_skip
