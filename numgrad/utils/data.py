"""Minimal ``torch.utils.data``: Dataset, TensorDataset, DataLoader, random_split.

Batches are gathered with one fancy-index per tensor (no per-sample Python loop) when the
dataset is a :class:`TensorDataset`; other datasets are collated sample by sample.
"""

from __future__ import annotations

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
    """Iterate over a dataset in batches (``batch_size``, ``shuffle``, ``drop_last``)."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None):
        if batch_size is None or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn or default_collate

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = generator().permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            if isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate:
                yield tuple(_wrap(t._data[idx]) for t in self.dataset.tensors)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in idx])
