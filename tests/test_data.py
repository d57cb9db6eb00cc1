"""numgrad.utils.data against torch.utils.data: samplers, datasets, default_collate,
DataLoader arguments/checks/batches (also with worker processes and iterable datasets, in a
child process), random_split; shuffles are numgrad's own stream (not torch's numbers), so they
are checked for being permutations, reproducible with a seed and statistically sound."""

import collections
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import numgrad as ng
import numgrad.utils.data as ndata

ROOT = Path(__file__).resolve().parents[1]


def _same_error(fn):
    with pytest.raises(Exception) as th:
        fn(tdata, torch)
    with pytest.raises(th.type):
        fn(ndata, ng)


def _plain(x):
    """A batch as nested python values, with each tensor's dtype (to compare with torch)."""
    if isinstance(x, (ng.Tensor, torch.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, dict):
        return ("dict", {k: _plain(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [_plain(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return x


# ---- samplers ------------------------------------------------------------------------------------


def test_sequential_and_batch_samplers_as_torch():
    data = list(range(7))
    assert list(ndata.SequentialSampler(data)) == list(tdata.SequentialSampler(data))
    for bs, drop in [(1, False), (3, False), (3, True), (7, True), (10, False), (10, True)]:
        ours = ndata.BatchSampler(ndata.SequentialSampler(data), bs, drop)
        theirs = tdata.BatchSampler(tdata.SequentialSampler(data), bs, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert list(ndata.BatchSampler([5, 1, 3], 2, False)) == [[5, 1], [3]]


def test_random_sampler():
    data = list(range(20))
    g = ng.Generator().manual_seed(3)
    a = list(ndata.RandomSampler(data, generator=g))
    assert sorted(a) == data and a != data
    assert list(ndata.RandomSampler(data, generator=ng.Generator().manual_seed(3))) == a
    ng.manual_seed(1)
    b = list(ndata.RandomSampler(data))
    ng.manual_seed(1)
    assert list(ndata.RandomSampler(data)) == b
    s = ndata.RandomSampler(data, num_samples=45)
    drawn = list(s)
    assert len(s) == len(drawn) == 45 and all(drawn.count(i) in (2, 3) for i in data)
    r = ndata.RandomSampler(range(3), replacement=True, num_samples=3000, generator=g)
    counts = np.bincount(list(r), minlength=3)
    assert len(r) == 3000 and counts.min() > 900
    sub = list(ndata.SubsetRandomSampler([10, 20, 30, 40], generator=g))
    assert sorted(sub) == [10, 20, 30, 40] and len(ndata.SubsetRandomSampler([1, 2])) == 2


def test_weighted_random_sampler():
    g = ng.Generator().manual_seed(0)
    s = ndata.WeightedRandomSampler([1.0, 0.0, 3.0], 8000, generator=g)
    counts = np.bincount(list(s), minlength=3) / 8000
    assert len(s) == 8000 and counts[1] == 0 and abs(counts[2] - 0.75) < 0.02
    once = list(ndata.WeightedRandomSampler([1.0, 1.0, 5.0, 1.0], 4, replacement=False))
    assert sorted(once) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "fn",
    [
        lambda d, m: d.RandomSampler(range(3), replacement=1),
        lambda d, m: d.RandomSampler(range(3), num_samples=0),
        lambda d, m: d.BatchSampler(range(3), 0, False),
        lambda d, m: d.BatchSampler(range(3), 2, 1),
        lambda d, m: d.WeightedRandomSampler([1.0, 2.0], 0),
        lambda d, m: d.WeightedRandomSampler([[1.0, 2.0]], 2),
        lambda d, m: d.WeightedRandomSampler([1.0, 2.0], 2, replacement=3),
        lambda d, m: list(d.WeightedRandomSampler([1.0, 2.0], 3, replacement=False)),
    ],
)
def test_sampler_errors_as_torch(fn):
    _same_error(fn)


# ---- datasets ------------------------------------------------------------------------------------


def test_subset_concat_chain():
    base = list(range(10, 20))
    sub = ndata.Subset(base, [3, 1, 4])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [13, 11, 14]
    cat = ndata.ConcatDataset([base, [1, 2, 3]])
    tcat = tdata.ConcatDataset([base, [1, 2, 3]])
    assert len(cat) == len(tcat) == 13 and cat.cumulative_sizes == tcat.cumulative_sizes
    assert [cat[i] for i in range(-13, 13)] == [tcat[i] for i in range(-13, 13)]

    class Items(ndata.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return i * 10

    both = Items() + Items()
    assert isinstance(both, ndata.ConcatDataset) and [both[i] for i in range(4)] == [0, 10, 0, 10]

    class Stream(ndata.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    assert list(Stream(2) + Stream(3)) == [0, 1, 0, 1, 2]
    _same_error(lambda d, m: d.ConcatDataset([]))
    _same_error(lambda d, m: d.ConcatDataset([range(3)])[-5])


def test_random_split():
    data = list(range(10))
    for lengths in ([7, 3], [0.3, 0.7], [0.33, 0.33, 0.34], [0.5, 0.5, 0.0], [1.0]):
        with pytest.warns(UserWarning) if 0.0 in lengths else _nothing():
            ours = ndata.random_split(data, lengths, generator=ng.Generator().manual_seed(1))
        with pytest.warns(UserWarning) if 0.0 in lengths else _nothing():
            theirs = tdata.random_split(data, lengths)
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        got = [x for s in ours for x in (s[i] for i in range(len(s)))]
        assert sorted(got) == data
    a = ndata.random_split(data, [5, 5], generator=ng.Generator().manual_seed(4))
    b = ndata.random_split(data, [5, 5], generator=ng.Generator().manual_seed(4))
    assert a[0].indices == b[0].indices
    for bad in ([5, 6], [0.5, 0.6], [1.5, -0.5]):
        _same_error(lambda d, m, bad=bad: d.random_split(range(10), bad))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---- collation -----------------------------------------------------------------------------------

Point = collections.namedtuple("Point", "x y")

_SAMPLES = {
    "ints": lambda m: [1, 2, 3],
    "bools": lambda m: [True, False],
    "floats": lambda m: [1.0, 2.5],
    "strings": lambda m: ["a", "b"],
    "np_scalars": lambda m: [np.float32(1), np.float32(2)],
    "np_arrays": lambda m: [np.array([1, 2]), np.array([3, 4])],
    "tensors": lambda m: [m.tensor([1.0, 2.0]), m.tensor([3.0, 4.0])],
    "tuples": lambda m: [(1, 2.0), (3, 4.0)],
    "lists": lambda m: [[1, 2], [3, 4]],
    "dicts": lambda m: [{"a": 1, "b": [1, 2]}, {"a": 2, "b": [3, 4]}],
    "namedtuples": lambda m: [Point(1, m.tensor(2.0)), Point(3, m.tensor(4.0))],
    "nested": lambda m: [({"x": m.zeros(2)}, 1), ({"x": m.ones(2)}, 0)],
}


@pytest.mark.parametrize("name", sorted(_SAMPLES))
def test_default_collate_as_torch(name):
    ours = ndata.default_collate(_SAMPLES[name](ng))
    theirs = tdata.default_collate(_SAMPLES[name](torch))
    assert _plain(ours) == _plain(theirs)


def test_default_collate_and_convert_errors_and_convert():
    _same_error(lambda d, m: d.default_collate([object()]))
    _same_error(lambda d, m: d.default_collate([[1, 2], [1]]))
    _same_error(lambda d, m: d.default_collate([np.array(["a"])]))
    for value in (np.array([1, 2]), 3, (np.array(1.0), 2), {"k": np.zeros(2)}, "text"):
        assert _plain(ndata.default_convert(value)) == _plain(tdata.default_convert(value))


# ---- DataLoader ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda d, m: d.DataLoader(range(4), batch_size=None, drop_last=True),
        lambda d, m: d.DataLoader(range(4), sampler=[0, 1], shuffle=True),
        lambda d, m: d.DataLoader(range(4), batch_sampler=[[0, 1]], batch_size=2),
        lambda d, m: d.DataLoader(range(4), batch_sampler=[[0, 1]], shuffle=True),
        lambda d, m: d.DataLoader(range(4), batch_sampler=[[0, 1]], drop_last=True),
        lambda d, m: d.DataLoader(range(4), batch_size=0),
        lambda d, m: d.DataLoader(range(4), num_workers=-1),
        lambda d, m: d.DataLoader(range(4), prefetch_factor=2),
        lambda d, m: d.DataLoader(range(4), persistent_workers=True),
        lambda d, m: d.DataLoader(range(4), timeout=-1),
        lambda d, m: d.DataLoader(_stream(d)(3), shuffle=True),
        lambda d, m: d.DataLoader(_stream(d)(3), sampler=[0]),
        lambda d, m: d.DataLoader(_stream(d)(3), batch_sampler=[[0]]),
    ],
)
def test_dataloader_checks_as_torch(fn):
    _same_error(fn)


def _stream(d):
    class Stream(d.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    return Stream


_LOADERS = {
    "default": lambda d, m: d.DataLoader(range(7)),
    "batched": lambda d, m: d.DataLoader(range(7), batch_size=3),
    "drop_last": lambda d, m: d.DataLoader(range(7), batch_size=3, drop_last=True),
    "no_batching": lambda d, m: d.DataLoader(range(5), batch_size=None),
    "sampler": lambda d, m: d.DataLoader(range(7), batch_size=2, sampler=[6, 0, 3, 3]),
    "batch_sampler": lambda d, m: d.DataLoader(range(7), batch_sampler=[[4, 0], [1], [2, 2]]),
    "collate_fn": lambda d, m: d.DataLoader(range(7), batch_size=3, collate_fn=lambda b: sum(b)),
    "tensor_dataset": lambda d, m: d.DataLoader(
        d.TensorDataset(m.arange(10.0).reshape(5, 2), m.arange(5)), batch_size=2
    ),
    "tensor_dataset_sampler": lambda d, m: d.DataLoader(
        d.TensorDataset(m.arange(10).reshape(5, 2)), batch_size=2, sampler=[4, 1, 0]
    ),
    "dicts": lambda d, m: d.DataLoader([{"x": float(i), "y": [i, -i]} for i in range(5)], 2),
    "subset": lambda d, m: d.DataLoader(d.Subset(list(range(10)), [9, 8, 1]), batch_size=2),
    "iterable": lambda d, m: d.DataLoader(_stream(d)(7), batch_size=3),
    "iterable_drop_last": lambda d, m: d.DataLoader(_stream(d)(7), batch_size=3, drop_last=True),
    "iterable_unbatched": lambda d, m: d.DataLoader(_stream(d)(4), batch_size=None),
    "all_options": lambda d, m: d.DataLoader(
        range(6),
        2,
        False,
        None,
        None,
        0,
        None,
        True,
        True,
        0,
        None,
        None,
        None,
        pin_memory_device="",
        in_order=True,
    ),
}


@pytest.mark.parametrize("name", sorted(_LOADERS))
def test_dataloader_batches_as_torch(name):
    ours, theirs = _LOADERS[name](ndata, ng), _LOADERS[name](tdata, torch)
    assert len(ours) == len(theirs)
    assert _plain(list(ours)) == _plain(list(theirs))
    assert _plain(list(ours)) == _plain(list(theirs))  # a second epoch


def test_dataloader_shuffle_and_generator():
    ds = ndata.TensorDataset(ng.arange(40))
    g = ng.Generator().manual_seed(5)
    first = [b[0].tolist() for b in ndata.DataLoader(ds, batch_size=8, shuffle=True, generator=g)]
    flat = sum(first, [])
    assert sorted(flat) == list(range(40)) and flat != list(range(40))
    second = [b[0].tolist() for b in ndata.DataLoader(ds, batch_size=8, shuffle=True, generator=g)]
    assert second != first  # the generator moved on
    ng.manual_seed(0)
    again = ndata.DataLoader(ds, 8, shuffle=True, generator=ng.Generator().manual_seed(5))
    assert [b[0].tolist() for b in again] == first  # independent of the global stream
    ng.manual_seed(3)
    a = [b[0].tolist() for b in ndata.DataLoader(ds, batch_size=8, shuffle=True)]
    ng.manual_seed(3)
    assert [b[0].tolist() for b in ndata.DataLoader(ds, batch_size=8, shuffle=True)] == a
    loader = ndata.DataLoader(ds, batch_size=8, shuffle=True)
    assert isinstance(loader.sampler, ndata.RandomSampler)
    assert isinstance(loader.batch_sampler, ndata.BatchSampler)
    batch = next(iter(loader))
    assert isinstance(batch, list) and isinstance(batch[0], ng.Tensor)  # torch: a list


# workers (fork and spawn), iterable datasets split with get_worker_info, torch side by side
_WORKERS = """
import numpy as np, torch, numgrad as ng
import numgrad.utils.data as nd, torch.utils.data as td

def _stream_iter(self, d):
    info = d.get_worker_info()
    if info is None:
        return iter(range(self.n))
    # uneven shares: worker k yields the numbers = k mod num_workers, then markers
    mine = [i for i in range(self.n) if i % info.num_workers == info.id]
    return iter(mine + [100 + info.id] * (info.id + 1))

class NStream(nd.IterableDataset):
    def __init__(self, n):
        self.n = n
    def __iter__(self):
        return _stream_iter(self, nd)

class TStream(td.IterableDataset):
    def __init__(self, n):
        self.n = n
    def __iter__(self):
        return _stream_iter(self, td)

def stream(d, m):
    return NStream if d is nd else TStream

class Squares:
    def __len__(self):
        return 11
    def __getitem__(self, i):
        return {"i": i, "sq": float(i * i)}

def plain(x):
    if isinstance(x, (ng.Tensor, torch.Tensor)):
        return str(x.dtype).split(".")[-1], x.tolist()
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x

if __name__ == "__main__":
    # the full matrix with fork; spawn (slow to start: each worker imports numgrad and torch)
    # once per kind of dataset
    for ctx in ("fork", "spawn"):
        kws = [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None),
               dict(batch_size=2, prefetch_factor=1)]
        for kw in kws if ctx == "fork" else kws[:1]:
            for n_workers in (1, 2, 3) if ctx == "fork" else (3,):
                ours = nd.DataLoader(stream(nd, ng)(10), num_workers=n_workers,
                                     multiprocessing_context=ctx, **kw)
                # (spawned torch workers would import torch again: compared with fork instead)
                theirs = td.DataLoader(stream(td, torch)(10), num_workers=n_workers,
                                       multiprocessing_context="fork", **kw)
                a, b = plain(list(ours)), plain(list(theirs))
                assert a == b, (ctx, kw, n_workers, a, b)
        if ctx == "fork":
            persistent = nd.DataLoader(stream(nd, ng)(9), batch_size=2, num_workers=2,
                                       persistent_workers=True, multiprocessing_context=ctx)
            assert plain(list(persistent)) == plain(list(persistent))  # each epoch afresh
            del persistent
        theirs = td.DataLoader(Squares(), batch_size=4, num_workers=2,
                               multiprocessing_context="fork")
        ours = nd.DataLoader(Squares(), batch_size=4, num_workers=2, multiprocessing_context=ctx)
        assert plain(list(ours)) == plain(list(theirs))
        if ctx == "spawn":
            continue
        ours = nd.DataLoader(Squares(), batch_sampler=[[3, 1], [10], [0, 0, 2]], num_workers=2,
                             multiprocessing_context=ctx)
        theirs = td.DataLoader(Squares(), batch_sampler=[[3, 1], [10], [0, 0, 2]],
                               num_workers=2, multiprocessing_context=ctx)
        assert plain(list(ours)) == plain(list(theirs))
        g = ng.Generator().manual_seed(2)
        ds = nd.TensorDataset(ng.arange(20))
        with_workers = [b[0].tolist() for b in nd.DataLoader(
            ds, batch_size=6, shuffle=True, generator=g, num_workers=2,
            multiprocessing_context=ctx)]
        ref = [b[0].tolist() for b in nd.DataLoader(
            ds, batch_size=6, shuffle=True, generator=ng.Generator().manual_seed(2))]
        assert with_workers == ref, (with_workers, ref)
    print("OK")
"""


def test_dataloader_workers_as_torch(tmp_path):
    script = tmp_path / "workers.py"
    script.write_text(_WORKERS)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env
    )
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr
