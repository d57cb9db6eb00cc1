"""``torch.utils.data`` for numgrad: datasets, samplers, ``default_collate``, ``DataLoader``,
``random_split``.

Batches are gathered with one fancy-index per tensor (no per-sample Python loop) when the
dataset is a :class:`TensorDataset` with the default collate; other datasets are fetched sample
by sample (or with ``dataset.__getitems__(indices)`` when they define it) and collated.  With
``num_workers > 0`` batches are loaded in worker processes and handed back in torch's order; a
worker's failure is raised in the parent, a dead or stuck worker is an error, never a hang.
Random choices (shuffles, samplers, splits) take ``generator=`` (a :class:`numgrad.Generator`)
or draw from the global stream: reproducible for a seed, not torch's numbers.
"""

from __future__ import annotations

import bisect
import collections.abc
import hashlib
import itertools
import math
import multiprocessing
import numbers
import pickle
import queue
import random as py_random
import traceback
import warnings

import numpy as np

from ..random import Generator
from ..random import generator as _np_gen
from ..tensor import Tensor, _wrap


class Dataset:
    """Base class of map-style datasets: implement ``__getitem__`` and ``__len__``
    (``dataset_a + dataset_b`` is their :class:`ConcatDataset`)."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    # (no __len__ here, as in torch: a dataset without one has no length, a TypeError)

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of stream datasets: implement ``__iter__``.  With ``num_workers > 0`` every
    worker iterates its own copy (split the work with :func:`get_worker_info`, as in torch);
    the loader takes batches from the workers in turn."""

    def __iter__(self):
        raise NotImplementedError

    def __add__(self, other):
        return ChainDataset([self, other])


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
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices if isinstance(indices, (list, range)) else list(indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        inner = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """The datasets one after another (``torch.utils.data.ConcatDataset``)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another (``torch.utils.data.ChainDataset``)."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


# ---- samplers --------------------------------------------------------------------------------


class Sampler:
    """Base class: ``__iter__`` yields dataset indices (or, for a batch sampler, lists)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _order(self):
        return np.arange(len(self.data_source))

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _check_bool(name, value, error=ValueError):
    if not isinstance(value, bool):
        raise error(f"{name} should be a boolean value, but got {name}={value}")


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")


def _epoch_rng(generator):
    # torch: without a generator each epoch draws a seed from the global stream and uses a
    # fresh generator seeded with it (so a sampler is reproducible under manual_seed)
    if generator is not None:
        return _np_gen(generator)
    seed = int(_np_gen(None).integers(0, 2**63))
    return np.random.Generator(np.random.PCG64(seed))


class RandomSampler(Sampler):
    """Random order (``torch.utils.data.RandomSampler``): a permutation per pass, or
    ``num_samples`` draws with ``replacement``; ``generator=`` or the global stream."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_bool("replacement", replacement, TypeError)  # (torch: a TypeError here only)
        _check_positive("num_samples", self.num_samples)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _order(self):
        n, k = len(self.data_source), self.num_samples
        rng = _epoch_rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, k)
        perms = [rng.permutation(n) for _ in range(-(-k // n))] if n else [np.arange(0)]
        return np.concatenate(perms)[:k]

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in random order, without replacement."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in _epoch_rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (with
    ``replacement`` by default), as ``numgrad.multinomial`` draws them."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_positive("num_samples", num_samples)
        _check_bool("replacement", replacement)
        from ..creation import as_tensor

        weights_t = as_tensor(weights if isinstance(weights, Tensor) else np.asarray(weights))
        weights_t = weights_t.double()
        if weights_t.ndim != 1:
            raise ValueError(
                f"weights should be a 1d sequence but given weights have shape "
                f"{tuple(weights_t.shape)}"
            )
        self.weights = weights_t
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        from ..functional import multinomial

        drawn = multinomial(
            self.weights, self.num_samples, self.replacement, generator=self.generator
        )
        return iter(drawn.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        _check_positive("batch_size", batch_size)
        _check_bool("drop_last", drop_last)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def random_split(dataset, lengths, generator=None):
    """Split into non-overlapping :class:`Subset` s of the given lengths, or fractions summing
    to 1 (the remainder goes round-robin to the first splits, as torch); ``generator=`` or the
    global stream shuffles."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            counts.append(int(math.floor(n * frac)))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, length in enumerate(counts):
            if length == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=2,
                )
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset! "
            f"({sum(lengths)} vs {n})"
        )
    perm = _np_gen(generator).permutation(n).tolist()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start : start + length]))
        start += length
    return out


# ---- collation -------------------------------------------------------------------------------

_COLLATE_TYPES = "tensors, numpy arrays, numbers, dicts or lists"


def _tensor_of(array):
    if array.dtype.kind in "OSUV":
        raise TypeError(
            f"default_collate: batch must contain {_COLLATE_TYPES}; found {array.dtype}"
        )
    return _wrap(np.asarray(array, order="C"))


def default_collate(batch):
    """Stack a list of samples into a batch, as ``torch.utils.data.default_collate``: tensors
    and numpy arrays are stacked, python floats become float64, ints int64, bools bool;
    dicts, namedtuples and sequences are collated field by field (a tuple gives a list, as in
    torch); strings stay a list."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        from ..functional import stack

        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        return _tensor_of(np.stack(batch))
    if isinstance(elem, np.generic):
        return _tensor_of(np.asarray(batch))
    if isinstance(elem, bool):
        return _wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return _wrap(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return _wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(s)) for s in zip(*batch, strict=True)]
        if isinstance(elem, tuple):
            return columns  # torch: a list, for backward compatibility
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(f"default_collate: batch must contain {_COLLATE_TYPES}; found {type(elem)}")


def default_convert(data):
    """numpy arrays (not of strings) to tensors, inside dicts/sequences too; the rest as is
    (``torch.utils.data.default_convert``, the collate of ``batch_size=None``)."""
    if isinstance(data, np.ndarray) or (isinstance(data, np.generic) and data.ndim == 0):
        arr = np.asarray(data)
        return data if arr.dtype.kind in "OSUV" else _wrap(np.array(arr))
    if isinstance(data, collections.abc.Mapping):
        out = {key: default_convert(data[key]) for key in data}
        try:
            return type(data)(out)
        except TypeError:
            return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


# ---- the loader ------------------------------------------------------------------------------


class _FetchSpec:
    """How a batch is made (picklable, sent to the workers): the auto-batching settings of an
    iterable dataset, and whether samples are collated as a batch."""

    def __init__(self, iterable, auto_collation, batch_size, drop_last):
        self.iterable = iterable
        self.auto_collation = auto_collation
        self.batch_size = batch_size
        self.drop_last = drop_last


class DataLoader:
    """Iterate over a dataset in batches, like ``torch.utils.data.DataLoader`` (same arguments,
    same order, same checks).

    ``batch_size`` (``None``: no batching, each sample goes through ``collate_fn``, default
    :func:`default_convert`), ``shuffle`` (a :class:`RandomSampler` with ``generator``),
    ``sampler``, ``batch_sampler``, ``drop_last``, ``collate_fn`` as torch; an
    :class:`IterableDataset` is iterated.  ``num_workers > 0`` loads batches in that many worker
    processes (``worker_init_fn(worker_id)`` runs first in each, :func:`get_worker_info` tells
    a dataset where it runs); the indices are drawn in the parent, so batches come back in the
    same order, with the same shuffle for the same seed, as with ``num_workers=0``.
    ``persistent_workers`` keeps the workers between epochs, ``prefetch_factor`` (default 2)
    is the number of batches each worker loads ahead, ``timeout`` (seconds, 0: none) bounds
    the wait for one batch.  Workers start with ``multiprocessing_context`` (a name or a
    context; default: the platform's default start method, ``fork`` on Linux).  Forking is
    safe while numgrad compiles kernels in another thread: numgrad holds ``fork()`` until the
    compile is done (see docs/reliability.md).  ``pin_memory``/``pin_memory_device`` are
    accepted and do nothing (there is no GPU memory to stage for); ``in_order=False`` is
    accepted and batches still come in order.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
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
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"prefetch_factor should be a positive integer, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(
                f"generator must be a numgrad.Generator, got {type(generator).__name__}"
            )
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler)):
                if value not in (None, False):
                    raise ValueError(
                        f"DataLoader with IterableDataset: expected unspecified {name} option, "
                        f"but got {name}={value}"
                    )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
            shuffle = False
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )
        if sampler is None and not iterable:
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif iterable and batch_size is not None:
            _check_positive("batch_size", batch_size)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self._auto_collation = batch_sampler is not None or (iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._spec = _FetchSpec(iterable, self._auto_collation, batch_size, drop_last)
        self.num_workers = num_workers
        self.worker_init_fn = worker_init_fn
        self.persistent_workers = bool(persistent_workers)
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.timeout = timeout
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order
        self.multiprocessing_context = _mp_context(multiprocessing_context)
        self._pool = None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._spec.iterable:
            n = len(self.dataset)  # a TypeError when the dataset has no length, as torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def _batches(self):
        """The index batches of one epoch (numpy arrays on the common paths)."""
        if self._spec.iterable:
            return itertools.repeat(_NEXT)
        bs = self.batch_sampler
        if (
            type(bs) is BatchSampler
            and type(bs.sampler) in (SequentialSampler, RandomSampler)
            and bs.sampler.data_source is self.dataset
        ):
            # the default samplers: one index array per epoch, sliced (no per-index Python)
            return _slices(bs.sampler._order(), bs.batch_size, bs.drop_last)
        return iter(self._index_sampler)

    def __iter__(self):
        if self.num_workers == 0:
            if self._spec.iterable:
                yield from _iterate(self.dataset, self.collate_fn, self._spec)
                return
            for idx in self._batches():
                yield _wrap_batch(_fetch(self.dataset, self.collate_fn, self._spec, idx))
            return
        # the indices are drawn here in the parent, exactly as without workers; the workers'
        # seeds are derived from the generator's state without drawing from it, so the
        # random stream after the epoch is the same too
        batches = self._batches()
        pool = self._pool
        if pool is None or not pool.alive():
            pool = _WorkerPool(self, _derived_seed(self.generator))
            if self.persistent_workers:
                self._pool = pool
        try:
            yield from pool.run(batches, self._spec.iterable)
        finally:
            if not self.persistent_workers:
                pool.shutdown()

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            try:
                pool.shutdown()
            except Exception:
                pass  # at interpreter exit, multiprocessing may already be torn down


def _slices(order, batch_size, drop_last):
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if drop_last and len(idx) < batch_size:
            return
        yield idx


class _NextBatch:
    """The task of an iterable dataset's worker: its next batch."""


class _Exhausted:
    """A worker's answer when its copy of an iterable dataset is done."""


_NEXT = _NextBatch()
_EXHAUSTED = _Exhausted()
_DONE = object()


def _iterate(dataset, collate_fn, spec):
    """One epoch over an iterable dataset (in the parent, or in one worker over its copy)."""
    it = iter(dataset)
    if not spec.auto_collation:
        for item in it:
            yield collate_fn(item)
        return
    while True:
        batch = list(itertools.islice(it, spec.batch_size))
        if not batch or (spec.drop_last and len(batch) < spec.batch_size):
            return
        yield collate_fn(batch)


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


def _derived_seed(gen=None):
    # from the generator's state and a count of worker pools started, so each epoch's
    # workers get new seeds (random augmentations differ between epochs) and the parent's
    # random stream is left as num_workers=0 leaves it
    state = f"{_np_gen(gen).bit_generator.state!r} {next(_POOLS_STARTED)}".encode()
    return int.from_bytes(hashlib.sha256(state).digest()[:8], "little") >> 1


def _fetch(dataset, collate_fn, spec, idx):
    """One batch of a map-style dataset; a TensorDataset with the default collate is gathered
    with one fancy index per tensor and returned as numpy arrays (``_ARRAYS``), which the
    parent wraps."""
    if not spec.auto_collation:
        return None, collate_fn(dataset[idx])
    if type(dataset) is TensorDataset and collate_fn is default_collate:
        return _ARRAYS, tuple(t._data[np.asarray(idx, dtype=np.int64)] for t in dataset.tensors)
    if isinstance(idx, np.ndarray):
        idx = idx.tolist()
    getitems = getattr(dataset, "__getitems__", None)
    samples = getitems(idx) if callable(getitems) else [dataset[i] for i in idx]
    return None, collate_fn(samples)


_ARRAYS = "arrays"


def _wrap_batch(fetched):
    kind, data = fetched
    # a list, as torch's default_collate makes of tuple samples
    return [_wrap(a) for a in data] if kind == _ARRAYS else data


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


def _worker_loop(dataset, collate_fn, spec, tasks, results, worker_id, num_workers, seed, init_fn):
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
    stream, stream_epoch = None, None
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
                if isinstance(
                    idx, _NextBatch
                ):  # an iterable dataset: this worker's copy, its next batch
                    if stream_epoch != epoch:
                        stream, stream_epoch = _iterate(dataset, collate_fn, spec), epoch
                    out = next(stream, _EXHAUSTED)
                    if not isinstance(out, _Exhausted):
                        out = (None, out)
                else:
                    out = _fetch(dataset, collate_fn, spec, idx)
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
                    loader._spec,
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

    def run(self, batches, iterable=False):
        """Yield the batches of one epoch in order, ``prefetch`` of them in flight.

        Map-style: task k goes to worker ``k % num_workers``.  Iterable: each task asks a
        worker for its next batch, in turn among the workers not yet exhausted (torch's
        order); an exhausted worker's answers are skipped."""
        self.epoch += 1
        epoch = self.epoch
        pending = {}  # batch number -> result that arrived before its turn
        assigned = {}  # batch number -> worker (iterable datasets)
        active = [True] * len(self.tasks)
        turn = itertools.cycle(range(len(self.tasks)))
        sent = received = 0
        batches = iter(batches)
        exhausted = False
        while True:
            while not exhausted and sent - received < self.prefetch:
                idx = next(batches, _DONE)
                if idx is _DONE or not any(active):
                    exhausted = True
                    break
                worker = sent % len(self.tasks)
                if iterable:
                    worker = next(turn)
                    while not active[worker]:
                        worker = next(turn)
                    assigned[sent] = worker
                self.tasks[worker].put((epoch, sent, idx))
                sent += 1
            if received == sent:
                return
            while received not in pending:
                ep, batch, payload = self._get()
                if ep == epoch:  # results of an abandoned epoch (persistent workers) are dropped
                    pending[batch] = payload
            out = pickle.loads(pending.pop(received))
            if isinstance(out, _Exhausted):
                active[assigned.pop(received)] = False
                received += 1
                continue
            assigned.pop(received, None)
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
