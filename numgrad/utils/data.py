"""Minimal ``torch.utils.data``: Dataset, TensorDataset, DataLoader, random_split.

Batches are gathered with one fancy-index per tensor (no per-sample Python loop) when the
dataset is a :class:`TensorDataset`; other datasets are collated sample by sample.  With
``num_workers > 0`` batches are loaded in worker processes and handed back in order; a
worker's failure is raised in the parent, a dead or stuck worker is an error, never a hang.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import pickle
import queue
import random as py_random
import traceback

import numpy as np

from ..random import generator
from ..tensor import Tensor, _wrap


class Dataset:
    """Base class: implement ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the rows (first dim) of the given tensors, which must agree in length."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = tensors[0].shape[0]
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset expects tensors, got {type(t).__name__}")
            if t.shape[0] != n:
                raise ValueError(
                    "Size mismatch between tensors: first dims "
                    f"{[tuple(x.shape)[0] for x in tensors]}"
                )
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = list(indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths):
    """Split into non-overlapping subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-9:
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(
            f"sum of input lengths {sum(lengths)} does not equal the length of the dataset ({n})"
        )
    perm = generator().permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start : start + length].tolist()))
        start += length
    return out


def default_collate(samples):
    first = samples[0]
    if isinstance(first, tuple | list):
        return type(first)(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, Tensor):
        return _wrap(np.stack([s._data for s in samples]))
    return _wrap(np.asarray(samples))


class DataLoader:
    """Iterate over a dataset in batches, like ``torch.utils.data.DataLoader``.

    ``batch_size``, ``shuffle``, ``drop_last`` and ``collate_fn`` as torch.  ``num_workers > 0``
    loads batches in that many worker processes (``worker_init_fn(worker_id)`` runs first in
    each, :func:`get_worker_info` tells a dataset where it runs); batches come back in the
    same order, with the same shuffle for the same seed, as with ``num_workers=0``.
    ``persistent_workers`` keeps the workers between epochs, ``prefetch_factor`` (default 2)
    is the number of batches each worker loads ahead, ``timeout`` (seconds, 0: none) bounds
    the wait for one batch.  Workers start with ``multiprocessing_context`` (a name or a
    context; default: the platform's default start method, ``fork`` on Linux).  Forking is
    safe while numgrad compiles kernels in another thread: numgrad holds ``fork()`` until the
    compile is done (see docs/reliability.md).  ``pin_memory`` is accepted and does nothing
    (there is no GPU memory to stage for).
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=False,
        drop_last=False,
        collate_fn=None,
        *,
        num_workers=0,
        worker_init_fn=None,
        persistent_workers=False,
        prefetch_factor=None,
        timeout=0,
        multiprocessing_context=None,
        pin_memory=False,
    ):
        if batch_size is None or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer, got {batch_size}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                f"multiprocessing (got {num_workers!r})"
            )
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing: let "
                "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"prefetch_factor should be a positive integer, got {prefetch_factor}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn or default_collate
        self.num_workers = num_workers
        self.worker_init_fn = worker_init_fn
        self.persistent_workers = bool(persistent_workers)
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.timeout = timeout
        self.pin_memory = pin_memory
        self.multiprocessing_context = _mp_context(multiprocessing_context)
        self._pool = None

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batches(self):
        n = len(self.dataset)
        order = generator().permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            yield idx

    def __iter__(self):
        if self.num_workers == 0:
            for idx in self._batches():
                yield _wrap_batch(_fetch(self.dataset, self.collate_fn, idx))
            return
        # the shuffle is drawn here in the parent, exactly as without workers; the workers'
        # seeds are derived from the generator's state without drawing from it, so the
        # random stream after the epoch is the same too
        batches = self._batches()
        pool = self._pool
        if pool is None or not pool.alive():
            pool = _WorkerPool(self, _derived_seed())
            if self.persistent_workers:
                self._pool = pool
        try:
            yield from pool.run(batches)
        finally:
            if not self.persistent_workers:
                pool.shutdown()

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()


# ---- worker processes ------------------------------------------------------------------------


class WorkerInfo:
    """What :func:`get_worker_info` returns inside a worker: ``id``, ``num_workers``,
    ``seed`` (numgrad's and Python's ``random`` generators are seeded with it) and
    ``dataset`` (this worker's copy)."""

    def __init__(self, id, num_workers, seed, dataset):  # noqa: A002  (torch's name)
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """The :class:`WorkerInfo` of the current DataLoader worker process; None in the parent."""
    return _worker_info


def _mp_context(ctx):
    if ctx is None:
        return multiprocessing.get_context()
    if isinstance(ctx, str):
        try:
            return multiprocessing.get_context(ctx)
        except ValueError:
            raise ValueError(
                f"multiprocessing_context option should specify a valid start method in "
                f"{multiprocessing.get_all_start_methods()!r}, but got "
                f"multiprocessing_context={ctx!r}"
            ) from None
    if not hasattr(ctx, "Process"):
        raise TypeError(
            "multiprocessing_context option should be a valid context object or a string "
            f"specifying the start method, but got multiprocessing_context={ctx!r}"
        )
    return ctx


_POOLS_STARTED = itertools.count()


def _derived_seed():
    # from the generator's state and a count of worker pools started, so each epoch's
    # workers get new seeds (random augmentations differ between epochs) and the parent's
    # random stream is left as num_workers=0 leaves it
    state = f"{generator().bit_generator.state!r} {next(_POOLS_STARTED)}".encode()
    return int.from_bytes(hashlib.sha256(state).digest()[:8], "little") >> 1


def _fetch(dataset, collate_fn, idx):
    """One batch; a TensorDataset with the default collate is gathered with one fancy index
    per tensor and returned as numpy arrays (``_ARRAYS``), which the parent wraps."""
    if isinstance(dataset, TensorDataset) and collate_fn is default_collate:
        return _ARRAYS, tuple(t._data[idx] for t in dataset.tensors)
    return None, collate_fn([dataset[int(i)] for i in idx])


_ARRAYS = "arrays"


def _wrap_batch(fetched):
    kind, data = fetched
    return tuple(_wrap(a) for a in data) if kind == _ARRAYS else data


class _KeyErrorMessage(str):
    def __repr__(self):
        return str(self)


class _WorkerError:
    """An exception raised in a worker, re-raised in the parent with the worker's traceback."""

    def __init__(self, worker_id, exc):
        self.exc_type = type(exc)
        self.message = (
            f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\n"
            f"Original {traceback.format_exc()}"
        )

    def reraise(self):
        message = self.message
        if self.exc_type is KeyError:
            message = _KeyErrorMessage(message)  # KeyError's str() is the repr of its argument
        try:
            err = self.exc_type(message)
        except Exception:
            # an exception class whose constructor takes other arguments
            err = RuntimeError(self.message)
        raise err


def _worker_loop(dataset, collate_fn, tasks, results, worker_id, num_workers, seed, init_fn):
    global _worker_info
    from .. import random as ng_random

    seed = (seed + worker_id) % 2**63
    # a forked worker starts with the parent's generator state: without a seed of its own
    # every worker would draw the same "random" numbers
    ng_random.manual_seed(seed)
    py_random.seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as e:
            init_error = _WorkerError(worker_id, e)
    parent = multiprocessing.parent_process()
    while True:
        try:
            task = tasks.get(timeout=_POLL_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return  # the parent died without shutting us down
            continue
        if task is None:
            return
        epoch, batch, idx = task
        out = init_error
        if out is None:
            try:
                out = _fetch(dataset, collate_fn, idx)
            except Exception as e:
                out = _WorkerError(worker_id, e)
        try:
            payload = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            # pickled here, not in the queue's feeder thread, where a failure would only be
            # printed and the parent would wait for a batch that never comes
            payload = pickle.dumps(_WorkerError(worker_id, e), protocol=pickle.HIGHEST_PROTOCOL)
        results.put((epoch, batch, payload))


_POLL_S = 0.5


class _WorkerPool:
    """Worker processes with one task queue each and a shared result queue."""

    def __init__(self, loader, seed):
        ctx = loader.multiprocessing_context
        self.timeout = loader.timeout
        self.prefetch = loader.prefetch_factor * loader.num_workers
        self.results = ctx.Queue()
        self.tasks = []
        self.workers = []
        self.epoch = 0
        self.closed = False
        try:
            self._start(ctx, loader, seed)
        except BaseException:
            self.shutdown()  # the workers started before a failing one (unpicklable dataset)
            raise

    def _start(self, ctx, loader, seed):
        for i in range(loader.num_workers):
            q = ctx.Queue()
            w = ctx.Process(
                target=_worker_loop,
                args=(
                    loader.dataset,
                    loader.collate_fn,
                    q,
                    self.results,
                    i,
                    loader.num_workers,
                    seed,
                    loader.worker_init_fn,
                ),
                daemon=True,
            )
            w.start()
            self.tasks.append(q)
            self.workers.append(w)

    def alive(self):
        return not self.closed and all(w.is_alive() for w in self.workers)

    def run(self, batches):
        """Yield the batches of one epoch in order, ``prefetch`` of them in flight."""
        self.epoch += 1
        epoch = self.epoch
        pending = {}  # batch number -> result that arrived before its turn
        sent = received = 0
        batches = iter(batches)
        exhausted = False
        while True:
            while not exhausted and sent - received < self.prefetch:
                idx = next(batches, None)
                if idx is None:
                    exhausted = True
                    break
                self.tasks[sent % len(self.tasks)].put((epoch, sent, idx))
                sent += 1
            if received == sent:
                return
            while received not in pending:
                ep, batch, payload = self._get()
                if ep == epoch:  # results of an abandoned epoch (persistent workers) are dropped
                    pending[batch] = payload
            out = pickle.loads(pending.pop(received))
            received += 1
            if isinstance(out, _WorkerError):
                out.reraise()
            yield _wrap_batch(out)

    def _get(self):
        waited = 0.0
        while True:
            try:
                return self.results.get(timeout=_POLL_S)
            except queue.Empty:
                waited += _POLL_S
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                self.shutdown()
                pids = ", ".join(f"{w.pid} (exit code {w.exitcode})" for w in dead)
                raise RuntimeError(f"DataLoader worker (pid {pids}) exited unexpectedly")
            if self.timeout and waited >= self.timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")

    def shutdown(self):
        if self.closed:
            return
        self.closed = True
        for q, w in zip(self.tasks, self.workers, strict=True):
            if w.is_alive():
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
        for w in self.workers:
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
                w.join(timeout=5)
        for q in (*self.tasks, self.results):
            # never block interpreter exit on data nobody will read
            q.cancel_join_thread()
            q.close()
