"""Shared setup for the asv benchmarks: libraries, threads, inputs and the three reference MLPs.

Same numbers on both sides
    Every input, target and weight is a numpy array drawn from a fixed seed, and both the numgrad
    and the torch benchmark are built from those same arrays (weights follow ``nn.Linear``'s
    default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and are loaded with ``load_state_dict``).
    The two sides then do the same arithmetic on the same values, so a difference in time is a
    difference in the libraries, not in the work.

One thread
    Every benchmark gets its library through ``library()``, which sets it to one thread, once
    per process: ``numgrad.set_num_threads(1)`` (Numba and, through threadpoolctl, the BLAS
    pools that numpy and scipy load) or ``torch.set_num_threads(1)`` (torch's OpenMP and BLAS).
    Multi-threaded BLAS timings on a small, shared machine swing with whatever else runs on it;
    one thread keeps a commit's numbers comparable with the next commit's, and numgrad's with
    torch's. The README's speed table is taken the same way. For numgrad the BLAS pools are also
    limited here directly: numgrad versions before threadpoolctl became a dependency only set
    Numba's thread count, and asv benchmarks old commits too.

torch is optional and imported late
    asv runs every benchmark (and every parameter combination) in a fresh interpreter. Importing
    torch costs about a second, and constructing its first optimizer another (it imports
    torch._dynamo), so numgrad benchmarks never import it; torch benchmarks call
    ``torch_or_skip()`` in ``setup``, which raises ``NotImplementedError`` when torch is missing:
    that is how asv marks a benchmark as skipped rather than failed.

Warm, reused state
    asv_runner 0.3 runs a benchmark's ``setup`` again before every timed call, one call per
    sample (asv_runner 0.2 runs it once per sample of many calls). Benchmarks whose timed call
    needs no fresh state (an op's inputs, a model for its forward pass or its training step)
    take their objects from ``cached``, built once per process, so that ``setup`` is cheap and
    the timed call runs on warm objects, as in a training loop, under either version. Only
    state that one call consumes (the graph that backward frees) is rebuilt in ``setup``.

Nothing here may be named like a benchmark (``time_*``, ``peakmem_*``, ``Time*``...): asv
imports this module during discovery too.
"""

from __future__ import annotations

import importlib
import zlib
from dataclasses import dataclass, field

import numpy as np

DTYPES = ["float32", "float64"]


@dataclass(frozen=True)
class MLPSpec:
    """One of the reference networks: ``dims[0] -> ... -> dims[-1]``, ``batch`` rows per step."""

    batch: int
    dims: tuple[int, ...]
    activation: str  # a class name in nn: "Sigmoid" or "ReLU"
    loss: str  # a class name in nn: "BCEWithLogitsLoss" or "CrossEntropyLoss"
    optimizer: str  # a class name in optim: "SGD" or "Adam"
    optimizer_kwargs: dict = field(default_factory=dict)


MLPS = {
    "tiny": MLPSpec(100, (2, 32, 1), "Sigmoid", "BCEWithLogitsLoss", "SGD", {"lr": 0.1}),
    "medium": MLPSpec(64, (784, 256, 10), "ReLU", "CrossEntropyLoss", "Adam", {"lr": 1e-3}),
    "large": MLPSpec(
        256,
        (1024, 1024, 1024, 10),
        "ReLU",
        "CrossEntropyLoss",
        "SGD",
        {"lr": 0.01, "momentum": 0.9},
    ),
}


# ---- libraries and threads ------------------------------------------------------------------
def torch_or_skip():
    """torch, or ``NotImplementedError`` (asv's "skipped") when it is not installed."""
    try:
        import torch
    except ImportError as exc:
        raise NotImplementedError(f"torch is not installed: {exc}") from exc
    return torch


_ONE_THREAD = set()


def library(name):
    """The top-level module of ``"numgrad"`` or ``"torch"``, with its threads set to one."""
    if name == "torch":
        lib = torch_or_skip()
    elif name == "numgrad":
        lib = importlib.import_module("numgrad")
    else:
        raise ValueError(f"unknown library {name!r}")
    # once per process: setup may run before every timed call, and threadpoolctl is slow
    if name not in _ONE_THREAD:
        use_one_thread(lib)
        _ONE_THREAD.add(name)
    return lib


def use_one_thread(lib):
    lib.set_num_threads(1)
    if lib.__name__ != "numgrad":
        return  # torch.set_num_threads covers torch's own BLAS and OpenMP pools
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    # scipy's BLAS (numgrad's matrix products) is loaded lazily; load it so it is limited too
    import scipy.linalg  # noqa: F401

    threadpool_limits(limits=1, user_api="blas")


_CACHE = {}


def cached(key, build):
    """``build()``, once per process and ``key``; later calls return the same object."""
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


def submodules(lib):
    """``(nn, functional, optim)`` of a library, imported the same way for both."""
    name = lib.__name__
    return (
        importlib.import_module(f"{name}.nn"),
        importlib.import_module(f"{name}.nn.functional"),
        importlib.import_module(f"{name}.optim"),
    )


# ---- inputs ---------------------------------------------------------------------------------
def rng_for(*key):
    """A generator seeded from ``key``, so every benchmark's arrays are fixed and reproducible."""
    # not hash(): str hashes are salted per process, and each benchmark runs in its own process
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def linear_weights(rng, dims, dtype):
    """``Sequential(Linear, act, Linear, ...)`` state dict as numpy arrays, torch's init."""
    state = {}
    for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:])):
        bound = 1.0 / np.sqrt(fan_in)
        # a Linear is every other module of the Sequential (activations in between)
        state[f"{2 * i}.weight"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype)
        state[f"{2 * i}.bias"] = rng.uniform(-bound, bound, fan_out).astype(dtype)
    return state


def mlp_arrays(name, batch, dtype):
    """``(state, x, y)`` for MLP ``name``: weights, one input batch and its targets."""
    spec = MLPS[name]
    rng = rng_for("mlp", name, batch, dtype)
    state = linear_weights(rng, spec.dims, dtype)
    x = normal(rng, (batch, spec.dims[0]), dtype)
    if spec.loss == "BCEWithLogitsLoss":
        y = (rng.random((batch, spec.dims[-1])) < 0.5).astype(dtype)
    else:
        y = rng.integers(0, spec.dims[-1], batch).astype(np.int64)
    return state, x, y


# ---- the training step ----------------------------------------------------------------------
@dataclass
class Training:
    """A model with its loss, optimizer and one batch, in either library."""

    lib: object
    model: object
    criterion: object
    optimizer: object
    x: object
    y: object

    def loss(self):
        return self.criterion(self.model(self.x), self.y)

    def step(self):
        self.optimizer.zero_grad()
        loss = self.loss()
        loss.backward()
        self.optimizer.step()
        return loss


def build_training(lib_name, mlp, batch=None, dtype="float32"):
    """MLP ``mlp`` in library ``lib_name`` with the shared weights and batch loaded."""
    spec = MLPS[mlp]
    batch = spec.batch if batch is None else batch
    lib = library(lib_name)
    nn, _, optim = submodules(lib)
    state, x, y = mlp_arrays(mlp, batch, dtype)

    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(spec.dims[:-1], spec.dims[1:])):
        if i:
            layers.append(getattr(nn, spec.activation)())
        layers.append(nn.Linear(fan_in, fan_out))
    model = nn.Sequential(*layers).to(getattr(lib, dtype))
    model.load_state_dict({k: lib.from_numpy(v) for k, v in state.items()})

    optimizer = getattr(optim, spec.optimizer)(model.parameters(), **spec.optimizer_kwargs)
    return Training(
        lib, model, getattr(nn, spec.loss)(), optimizer, lib.from_numpy(x), lib.from_numpy(y)
    )
