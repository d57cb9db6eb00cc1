"""Random number generators: :class:`Generator` and the global default one.

Every random function (``randn``, ``rand``, ``randint``, ``randperm``, ``normal``,
``multinomial``, ``bernoulli``, ``Tensor.uniform_``..., ``nn.init``, ``Dropout``, the
``DataLoader`` shuffle) draws from a numpy PCG64 stream: the one of the ``generator=`` it is
given, else the global :data:`default_generator` (seeded by :func:`manual_seed`).  Given a seed
the numbers are reproducible, and a Generator's stream is independent of the global one, as in
torch; they are NOT the numbers torch draws for the same seed (torch uses a Mersenne Twister and
its own transforms).  As in torch, the global generator starts from a seed drawn from the
operating system, and a new ``Generator()`` from the fixed seed 67280421310721.
"""

from __future__ import annotations

import contextlib
import importlib
import types

import numpy as np

_DEFAULT_SEED = 67280421310721  # torch.Generator()'s initial seed

# This module is on the ground floor (tests/reliability/test_layers.py): what it needs from
# above (device checks, tensors for get_state/set_state) is registered by numgrad.creation.
_HOOKS = {"check_device": None, "tensor": None, "tensor_type": type(None)}


def _register(check_device, tensor, tensor_type):
    _HOOKS.update(check_device=check_device, tensor=tensor, tensor_type=tensor_type)


_STATE_BYTES = 48  # seed (8 bytes), PCG64 state and increment (16 each), cached half-word (8)


def _seed_value(seed):
    # torch: int(seed) in [-2**63, 2**64); a negative seed is taken modulo 2**64
    seed = int(seed)
    if not -(2**63) <= seed < 2**64:
        raise ValueError(
            f"Overflow when unpacking long long (seed {seed} is outside [-2**63, 2**64))"
        )
    return seed % 2**64


class Generator:
    """``torch.Generator``: a random stream of its own, passed as ``generator=``.

    ``manual_seed(seed)`` (returns the generator), ``seed()`` (a seed from the OS, returned),
    ``initial_seed()``, ``get_state()``/``set_state(state)`` (a uint8 tensor; numgrad's own
    layout, not torch's 5056 bytes) and ``device``.  The stream is numpy's PCG64, not torch's
    Mersenne Twister: the same seed gives the same numbers in numgrad, not torch's numbers.
    """

    def __init__(self, device="cpu"):
        check = _HOOKS["check_device"]
        self._device = check(device) if check is not None else None
        self._seed = _DEFAULT_SEED
        self._rng = np.random.Generator(np.random.PCG64(_DEFAULT_SEED))

    @property
    def device(self):
        if self._device is None:  # the global generator, made before the device module loads
            self._device = _HOOKS["check_device"]("cpu")
        return self._device

    def manual_seed(self, seed):
        self._seed = _seed_value(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self):
        # torch draws a non-deterministic 64-bit seed; its top bit is cleared here so the seed
        # is also a valid (non-negative) int64 for users that store it in a tensor
        s = int(np.random.SeedSequence().generate_state(1, np.uint64)[0]) >> 1
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as a uint8 tensor (seed, PCG64 state and increment, cached half-word)."""
        tensor = _HOOKS["tensor"]
        st = self._rng.bit_generator.state
        parts = (
            self._seed.to_bytes(8, "little"),
            st["state"]["state"].to_bytes(16, "little"),
            st["state"]["inc"].to_bytes(16, "little"),
            int(st["has_uint32"]).to_bytes(4, "little"),
            int(st["uinteger"]).to_bytes(4, "little"),
        )
        return tensor(np.frombuffer(b"".join(parts), dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state returned by :meth:`get_state`; returns the generator."""
        if not isinstance(new_state, _HOOKS["tensor_type"]):
            raise TypeError(
                f"expected a torch.ByteTensor (numgrad uint8 tensor), but got "
                f"{type(new_state).__name__}"
            )
        if new_state.dtype.name != "uint8" or tuple(new_state.shape) != (_STATE_BYTES,):
            raise RuntimeError(
                f"RNG state must be a uint8 tensor of {_STATE_BYTES} bytes (what get_state "
                f"returns), got {new_state.dtype.name} of shape {tuple(new_state.shape)}"
            )
        raw = new_state.numpy().tobytes()
        bits = np.random.PCG64()
        bits.state = {
            "bit_generator": "PCG64",
            "state": {
                "state": int.from_bytes(raw[8:24], "little"),
                "inc": int.from_bytes(raw[24:40], "little"),
            },
            "has_uint32": int.from_bytes(raw[40:44], "little"),
            "uinteger": int.from_bytes(raw[44:48], "little"),
        }
        self._seed = int.from_bytes(raw[0:8], "little")
        self._rng = np.random.Generator(bits)
        return self

    def __repr__(self):
        return f"<numgrad.Generator object at {id(self):#x}>"


def _global_default():
    g = Generator.__new__(Generator)
    g._device = None
    g.seed()
    return g


default_generator = _global_default()


def manual_seed(seed):
    """Seed the global generator (``torch.manual_seed``); returns it."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed the global generator from the operating system; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The seed the global generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """The global generator's state (a uint8 tensor, see :meth:`Generator.get_state`)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the global generator's state from :func:`get_rng_state`."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, device_type="cpu"):
    """Restore the global generator's state on leaving the block (``torch.random.fork_rng``;
    numgrad has one global stream, so ``devices``/``device_type`` are accepted and ignored)."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def generator(gen=None):
    """The numpy generator that ``generator=gen`` draws from (the global one when None)."""
    if gen is None:
        return default_generator._rng
    if not isinstance(gen, Generator):
        raise TypeError(f"generator must be a numgrad.Generator or None, got {type(gen).__name__}")
    return gen._rng


class _LazySubmodule(types.ModuleType):
    """A stand-in for a submodule that imports it on first attribute access (so that
    ``numgrad.distributions`` costs nothing at start-up); importing the submodule replaces
    the stand-in on the package, as any import does."""

    def __getattr__(self, name):
        return getattr(importlib.import_module(self.__name__), name)

    def __dir__(self):
        return dir(importlib.import_module(self.__name__))
