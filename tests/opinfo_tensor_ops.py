"""Op specs for the issue 11 area 'tensor_ops' (merged into ``opinfo.OP_SPECS``/``NN_SPECS``).

Cases with an empty result are forward-only (the finite-difference check needs an output).

gather/scatter/index_select, scans, sort/topk and selection, prod, data movement (roll, flip,
tril/triu, repeat/tile, diagonal/diag) and einsum, each as a function and as a method where
torch has both.  Scatter indices never repeat a target (torch leaves which write wins
unspecified); ties in sort and the scans appear only in forward-only cases.
"""

from __future__ import annotations

import numpy as np
from opinfo import Case, distinct, randn, spec

OP_SPECS = []
NN_SPECS = []


def _add(*specs):
    OP_SPECS.extend(specs)


def _perm_index(rng, shape, axis, size):
    """An index of ``shape`` whose entries along ``axis`` are distinct values in [0, size)."""
    idx = np.empty(shape, np.int64)
    moved = np.moveaxis(idx, axis, -1)
    for pos in np.ndindex(*moved.shape[:-1]):
        moved[pos] = rng.permutation(size)[: moved.shape[-1]]
    return idx


# gather, scatter, scatter_add, index_select ----------------------------------------------------


def _gather_cases(rng):
    return [
        Case((randn(rng, 3, 4), 1, rng.integers(0, 4, (3, 5))), name="dim1_repeats"),
        Case((randn(rng, 3, 4), 0, rng.integers(0, 3, (2, 4))), name="dim0_fewer_rows"),
        Case((randn(rng, 3, 4), -1, rng.integers(0, 4, (2, 2))), name="dim-1_smaller"),
        Case((randn(rng, 2, 3, 4), 1, rng.integers(0, 3, (2, 3, 4))), name="3d_dim1"),
        Case((randn(rng, 2, 3, 4), -3, rng.integers(0, 2, (1, 2, 3))), name="3d_dim-3_small"),
        Case((randn(rng, 5), 0, rng.integers(0, 5, (7,))), name="1d"),
        Case((randn(rng, 3, 4), 1, np.zeros((3, 0), np.int64)), name="empty_index", grad=False),
        Case((randn(rng, 5), 0, np.array(3)), name="0d_index"),
    ]


def _scatter_cases(rng):
    return [
        Case((randn(rng, 3, 5), 1, _perm_index(rng, (3, 2), 1, 5), randn(rng, 3, 2)), name="dim1"),
        Case((randn(rng, 4, 3), 0, _perm_index(rng, (2, 3), 0, 4), randn(rng, 2, 3)), name="dim0"),
        Case(
            (randn(rng, 4, 3), -2, _perm_index(rng, (2, 2), 0, 4), randn(rng, 3, 3)),
            name="src_larger",
            grad=False,  # torch's own backward rejects a src larger than the index
        ),
        Case(
            (randn(rng, 2, 3, 4), 2, _perm_index(rng, (2, 3, 3), 2, 4), randn(rng, 2, 3, 3)),
            name="3d_dim2",
        ),
        Case((randn(rng, 5), 0, _perm_index(rng, (3,), 0, 5), randn(rng, 3)), name="1d"),
        Case(
            (randn(rng, 3, 5), 1, _perm_index(rng, (3, 2), 1, 5), randn(rng, 3, 2)),
            name="only_src_grad",
            requires_grad=(False, True),
        ),
    ]


def _scatter_add_cases(rng):
    return _scatter_cases(rng) + [
        Case((randn(rng, 3, 4), 1, rng.integers(0, 4, (3, 6)), randn(rng, 3, 6)), name="repeats"),
        Case((randn(rng, 4, 2), 0, rng.integers(0, 4, (5, 2)), randn(rng, 5, 2)), name="rep_dim0"),
    ]


def _scatter_value_cases(rng):
    return [
        Case((randn(rng, 3, 5), 1, _perm_index(rng, (3, 2), 1, 5)), {"value": 2.5}, name="v"),
        Case((randn(rng, 4, 3), 0, _perm_index(rng, (2, 3), 0, 4)), {"value": -1}, name="int_v"),
    ]


def _index_select_cases(rng):
    return [
        Case((randn(rng, 3, 4), 1, np.array([0, 3, 3, 1])), name="dim1_repeats"),
        Case((randn(rng, 3, 4), 0, np.array([2, 0])), name="dim0"),
        Case((randn(rng, 2, 3, 4), -2, np.array([1, 1, 2, 0, 2])), name="3d_dim-2"),
        Case((randn(rng, 5), 0, np.array([4, 0, 4])), name="1d"),
        Case((randn(rng, 3, 4), 1, np.zeros(0, np.int64)), name="empty_index", grad=False),
        Case((randn(rng, 3, 4), 1, np.array(2)), name="0d_index"),
        Case((randn(rng, 3, 4), 0, np.array([2, 0], np.int32)), name="int32_index"),
    ]


_add(
    spec("gather", lambda m, x, d, i: m.gather(x, d, i), _gather_cases),
    spec("gather_method", lambda m, x, d, i: x.gather(d, i), lambda rng: _gather_cases(rng)[:3]),
    spec("scatter", lambda m, x, d, i, s: m.scatter(x, d, i, s), _scatter_cases),
    spec(
        "scatter_method", lambda m, x, d, i, s: x.scatter(d, i, s), lambda r: _scatter_cases(r)[:2]
    ),
    spec("scatter_value", lambda m, x, d, i, **kw: x.scatter(d, i, **kw), _scatter_value_cases),
    spec("scatter_add", lambda m, x, d, i, s: m.scatter_add(x, d, i, s), _scatter_add_cases),
    spec(
        "scatter_add_method",
        lambda m, x, d, i, s: x.scatter_add(d, i, s),
        lambda rng: _scatter_add_cases(rng)[-2:],
    ),
    spec(
        "scatter_inplace",
        lambda m, x, d, i, s: (x * 1).scatter_(d, i, s),
        lambda rng: _scatter_cases(rng)[:2],
    ),
    spec(
        "scatter_add_inplace",
        lambda m, x, d, i, s: (x * 1).scatter_add_(d, i, s),
        lambda rng: _scatter_add_cases(rng)[-2:],
    ),
    spec("index_select", lambda m, x, d, i: m.index_select(x, d, i), _index_select_cases),
    spec(
        "index_select_method",
        lambda m, x, d, i: x.index_select(d, i),
        lambda rng: _index_select_cases(rng)[:2],
    ),
)


def _mask_cases(rng):
    return [
        Case((randn(rng, 3, 4), rng.random((3, 4)) < 0.5), name="same"),
        Case((randn(rng, 3, 4), rng.random(4) < 0.5), name="bcast_mask"),
        Case((randn(rng, 4), rng.random((3, 4)) < 0.5), name="bcast_x"),
        Case((randn(rng, 3, 4), np.zeros((3, 4), bool)), name="none", grad=False),
    ]


def _take_cases(rng):
    return [
        Case((randn(rng, 3, 4), np.array([0, 11, -1, 5, 5])), name="flat"),
        Case((randn(rng, 3, 4), np.array([[1, 2], [3, 2]])), name="2d_index"),
    ]


_add(
    spec("masked_select", lambda m, x, k: m.masked_select(x, k), _mask_cases),
    spec("masked_select_method", lambda m, x, k: x.masked_select(k), lambda r: _mask_cases(r)[:1]),
    spec("take", lambda m, x, i: m.take(x, i), _take_cases),
    spec(
        "narrow",
        lambda m, x, **kw: x.narrow(**kw),
        lambda rng: [
            Case((randn(rng, 3, 5),), {"dim": 1, "start": 1, "length": 3}, name="dim1"),
            Case((randn(rng, 3, 5),), {"dim": -2, "start": -2, "length": 2}, name="neg"),
        ],
    ),
    spec(
        "select",
        lambda m, x, d, i: m.select(x, d, i),
        lambda rng: [
            Case((randn(rng, 3, 5), 1, 2), name="dim1"),
            Case((randn(rng, 2, 3, 4), -1, -1), name="neg"),
        ],
    ),
    spec(
        "movedim",
        lambda m, x, s, d: m.movedim(x, s, d),
        lambda rng: [
            Case((randn(rng, 2, 3, 4), 0, -1), name="one"),
            Case((randn(rng, 2, 3, 4), (0, 1), (2, 0)), name="two"),
        ],
    ),
)

# scans, prod -----------------------------------------------------------------------------------


def _scan_cases(rng):
    return [
        Case((randn(rng, 3, 4), 1), name="dim1"),
        Case((randn(rng, 3, 4), 0), name="dim0"),
        Case((randn(rng, 2, 3, 4), -2), name="3d_dim-2"),
        Case((randn(rng, 5), 0), name="1d"),
        Case((np.array(rng.standard_normal()), 0), name="0d"),
        Case((randn(rng, 3, 0), 1), name="empty", grad=False),
    ]


def _cumprod_cases(rng):
    one_zero = randn(rng, 3, 5)
    one_zero[0, 2] = one_zero[1, 0] = one_zero[2, 4] = 0.0
    two_zeros = randn(rng, 2, 6)
    two_zeros[0, 1] = two_zeros[0, 4] = two_zeros[1, 3] = two_zeros[1, 5] = 0.0
    return _scan_cases(rng) + [
        Case((one_zero, 1), name="zeros"),
        Case((two_zeros, 1), name="two_zeros"),
        Case((two_zeros.T.copy(), 0), name="two_zeros_dim0"),
    ]


def _cummax_cases(rng):
    ties = np.array([[1.0, 3.0, 3.0, 2.0, 5.0], [0.0, 0.0, -1.0, -1.0, 0.0]])
    nan = np.array([1.0, 3.0, np.nan, 2.0, 5.0])
    return [
        Case((distinct(rng, 3, 4), 1), name="dim1"),
        Case((distinct(rng, 2, 3, 4), 0), name="3d_dim0"),
        Case((distinct(rng, 5), -1), name="1d"),
        Case((ties, 1), name="ties", grad=False),
        Case((nan, 0), name="nan", grad=False),
    ]


def _prod_cases(rng):
    x = randn(rng, 3, 4)
    z1 = randn(rng, 3, 4)
    z1[1, 2] = 0.0
    z2 = randn(rng, 3, 4)
    z2[0, 1] = z2[0, 3] = z2[2, 0] = 0.0
    return [
        Case((x,), {}, name="all"),
        Case((randn(rng, 3, 4),), {"dim": 1}, name="dim1"),
        Case((randn(rng, 2, 3, 4),), {"dim": -2, "keepdim": True}, name="dim-2_keepdim"),
        Case((z1,), {}, name="all_one_zero"),
        Case((z2,), {}, name="all_two_zeros"),
        Case((z1,), {"dim": 1}, name="dim1_one_zero"),
        Case((z2,), {"dim": 1}, name="dim1_zeros"),
        Case((z2,), {"dim": 0, "keepdim": True}, name="dim0_zeros"),
        Case((np.array(rng.standard_normal()),), {}, name="0d"),
        Case((randn(rng, 3, 0),), {"dim": 1}, name="empty_dim", grad=False),
    ]


_add(
    spec("cumsum", lambda m, x, d: m.cumsum(x, d), _scan_cases),
    spec("cumsum_method", lambda m, x, d: x.cumsum(d), lambda rng: _scan_cases(rng)[:2]),
    spec(
        "cumsum_dtype",
        lambda m, x, d: m.cumsum(x, d, dtype=m.float64),
        lambda r: _scan_cases(r)[:1],
    ),
    spec("cumprod", lambda m, x, d: m.cumprod(x, d), _cumprod_cases),
    spec("cumprod_method", lambda m, x, d: x.cumprod(dim=d), lambda rng: _cumprod_cases(rng)[-3:]),
    spec("cummax", lambda m, x, d: tuple(m.cummax(x, d)), _cummax_cases),
    spec("cummin", lambda m, x, d: tuple(m.cummin(x, d)), _cummax_cases),
    spec("cummax_method", lambda m, x, d: x.cummax(d).values, lambda rng: _cummax_cases(rng)[:2]),
    spec("prod", lambda m, x, **kw: m.prod(x, **kw), _prod_cases),
    spec("prod_method", lambda m, x, **kw: x.prod(**kw), lambda rng: _prod_cases(rng)[3:7]),
)

# sort, topk, selection --------------------------------------------------------------------------


def _sort_cases(rng):
    ties = np.array([[2.0, 1.0, 2.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]])
    nan = np.array([2.0, np.nan, 1.0, np.nan, -1.0])
    return [
        Case((distinct(rng, 3, 5),), {}, name="default"),
        Case((distinct(rng, 3, 5),), {"dim": 0}, name="dim0"),
        Case((distinct(rng, 3, 5),), {"descending": True}, name="desc"),
        Case((distinct(rng, 2, 3, 4),), {"dim": -2, "descending": True}, name="3d_desc"),
        Case((distinct(rng, 6),), {"stable": True}, name="1d_stable"),
        Case((np.array(rng.standard_normal()),), {}, name="0d"),
        Case((randn(rng, 3, 0),), {}, name="empty", grad=False),
        Case((ties,), {"stable": True}, name="ties_stable", grad=False),
        Case((ties,), {"stable": True, "descending": True}, name="ties_stable_desc", grad=False),
        Case((ties.T.copy(),), {"dim": 0, "stable": True}, name="ties_dim0", grad=False),
        Case((nan,), {}, name="nan", grad=False),
        Case((nan,), {"descending": True}, name="nan_desc", grad=False),
    ]


def _topk_cases(rng):
    return [
        Case((distinct(rng, 3, 6), 2), {}, name="default"),
        Case((distinct(rng, 3, 6), 3), {"dim": 0}, name="dim0"),
        Case((distinct(rng, 3, 6), 2), {"largest": False}, name="smallest"),
        Case((distinct(rng, 2, 3, 4), 4), {"dim": -1, "largest": False}, name="3d_all"),
        Case((distinct(rng, 6), 0), {}, name="k0", grad=False),
    ]


def _kth_cases(rng):
    return [
        Case((distinct(rng, 3, 5), 2), {}, name="default"),
        Case((distinct(rng, 3, 5), 3), {"dim": 0, "keepdim": True}, name="dim0_keepdim"),
        Case((distinct(rng, 2, 3, 4), 4), {"dim": -1}, name="3d_last"),
    ]


def _median_cases(rng):
    return [
        Case((distinct(rng, 3, 5),), {"dim": 1}, name="odd"),
        Case((distinct(rng, 4, 4),), {"dim": 0, "keepdim": True}, name="even_keepdim"),
        Case((distinct(rng, 2, 3, 4),), {"dim": -2}, name="3d"),
        Case(
            (np.array([[1.0, np.nan, 3.0], [2.0, 0.0, 1.0]]),), {"dim": 1}, name="nan", grad=False
        ),
    ]


def _mode_cases(rng):
    rows = np.array([[1.0, 3.0, 3.0, 2.0, 2.0, 1.0], [0.5, 2.0, 0.5, 4.0, 2.0, 0.5]])
    return [
        Case((rows,), {"dim": 1}, name="dim1"),
        Case((rows.T.copy(),), {"dim": 0, "keepdim": True}, name="dim0_keepdim"),
    ]


_add(
    spec("sort", lambda m, x, **kw: tuple(m.sort(x, **kw)), _sort_cases),
    spec("sort_method", lambda m, x, **kw: x.sort(**kw).values, lambda rng: _sort_cases(rng)[:4]),
    spec(
        "argsort",
        lambda m, x, **kw: m.argsort(x, **kw),
        lambda rng: _sort_cases(rng)[:4] + _sort_cases(rng)[7:],
        differentiable=False,
    ),
    spec("topk", lambda m, x, k, **kw: tuple(m.topk(x, k, **kw)), _topk_cases),
    spec("topk_method", lambda m, x, k, **kw: x.topk(k, **kw).values, lambda r: _topk_cases(r)[:2]),
    spec("kthvalue", lambda m, x, k, **kw: tuple(m.kthvalue(x, k, **kw)), _kth_cases),
    spec("median_dim", lambda m, x, **kw: tuple(m.median(x, **kw)), _median_cases),
    spec(
        "median_all",
        lambda m, x: m.median(x),
        lambda rng: [
            Case((distinct(rng, 3, 5),), name="odd"),
            Case((distinct(rng, 4),), name="even"),
        ],
    ),
    # mode needs ties, which finite differences break: compared with torch's gradient only
    spec("mode", lambda m, x, **kw: tuple(m.mode(x, **kw)), _mode_cases, gradcheck=False),
)

# data movement ----------------------------------------------------------------------------------


def _roll_cases(rng):
    return [
        Case((randn(rng, 3, 4), 1), {"dims": 1}, name="dim1"),
        Case((randn(rng, 3, 4), (2, -1)), {"dims": (0, 1)}, name="two"),
        Case((randn(rng, 3, 4), 5), {}, name="flat"),
        Case((randn(rng, 2, 3, 4), -7), {"dims": -1}, name="big_neg"),
    ]


def _flip_cases(rng):
    return [
        Case((randn(rng, 3, 4), (0,)), name="dim0"),
        Case((randn(rng, 2, 3, 4), (0, -1)), name="two"),
        Case((randn(rng, 3, 4), ()), name="none", grad=False),
    ]


def _tri_cases(rng):
    return [
        Case((randn(rng, 4, 4),), {}, name="square"),
        Case((randn(rng, 3, 5),), {"diagonal": 1}, name="wide_k1"),
        Case((randn(rng, 5, 3),), {"diagonal": -2}, name="tall_k-2"),
        Case((randn(rng, 2, 3, 4),), {"diagonal": -1}, name="batched"),
    ]


def _repeat_cases(rng):
    return [
        Case((randn(rng, 3, 4), (2, 1)), name="2d"),
        Case((randn(rng, 3), (2, 3)), name="new_dim"),
        Case((randn(rng, 2, 3), (1, 2, 2)), name="lead"),
        Case((randn(rng, 2, 3), (0, 2)), name="zero", grad=False),
        Case((np.array(rng.standard_normal()), (3,)), name="0d"),
    ]


def _diagonal_cases(rng):
    return [
        Case((randn(rng, 4, 4),), {}, name="main"),
        Case((randn(rng, 3, 5),), {"offset": 2}, name="upper"),
        Case((randn(rng, 5, 3),), {"offset": -1}, name="lower"),
        Case((randn(rng, 2, 3, 4),), {"dim1": 1, "dim2": -1}, name="batched"),
        Case((randn(rng, 2, 3, 4),), {"offset": 1, "dim1": 2, "dim2": 0}, name="swapped"),
        Case((randn(rng, 2, 3),), {"offset": 4}, name="empty", grad=False),
    ]


def _diag_cases(rng):
    return [
        Case((randn(rng, 4),), {}, name="1d"),
        Case((randn(rng, 3),), {"diagonal": 2}, name="1d_upper"),
        Case((randn(rng, 3),), {"diagonal": -1}, name="1d_lower"),
        Case((randn(rng, 3, 4),), {}, name="2d"),
        Case((randn(rng, 4, 3),), {"diagonal": -2}, name="2d_lower"),
    ]


_add(
    spec("roll", lambda m, x, s, **kw: m.roll(x, s, **kw), _roll_cases),
    spec("roll_method", lambda m, x, s, **kw: x.roll(s, **kw), lambda rng: _roll_cases(rng)[:2]),
    spec("flip", lambda m, x, d: m.flip(x, d), _flip_cases),
    spec("flip_method", lambda m, x, d: x.flip(*d), lambda rng: _flip_cases(rng)[:2]),
    spec("fliplr", lambda m, x: m.fliplr(x), lambda rng: [Case((randn(rng, 3, 4),))]),
    spec("flipud", lambda m, x: m.flipud(x), lambda rng: [Case((randn(rng, 3, 4),))]),
    spec("tril", lambda m, x, **kw: m.tril(x, **kw), _tri_cases),
    spec("triu", lambda m, x, **kw: m.triu(x, **kw), _tri_cases),
    spec("triu_method", lambda m, x, **kw: x.triu(**kw), lambda rng: _tri_cases(rng)[1:2]),
    spec("tril_inplace", lambda m, x, **kw: (x * 1).tril_(**kw), lambda rng: _tri_cases(rng)[:2]),
    spec("repeat", lambda m, x, r: x.repeat(*r), _repeat_cases),
    spec("tile", lambda m, x, r: m.tile(x, r), lambda rng: _repeat_cases(rng)[:3]),
    spec(
        "tile_short",
        lambda m, x, r: x.tile(r),
        lambda rng: [Case((randn(rng, 2, 3), (2,)), name="pad")],
    ),
    spec("diagonal", lambda m, x, **kw: m.diagonal(x, **kw), _diagonal_cases),
    spec("diagonal_method", lambda m, x, **kw: x.diagonal(**kw), lambda r: _diagonal_cases(r)[:2]),
    spec("diag", lambda m, x, **kw: m.diag(x, **kw), _diag_cases),
)

# einsum ----------------------------------------------------------------------------------------


def _einsum_cases(rng):
    def c(eq, *shapes, name):
        return Case((eq, *[randn(rng, *s) for s in shapes]), name=name)

    return [
        c("ij,jk->ik", (3, 4), (4, 5), name="matmul"),
        c("ij,kj->ik", (3, 4), (5, 4), name="matmul_bt"),
        c("bij,bjk->bik", (2, 3, 4), (2, 4, 5), name="bmm"),
        c("i,i->", (4,), (4,), name="dot"),
        c("i,j->ij", (3,), (4,), name="outer"),
        c("ij,ij->i", (3, 4), (3, 4), name="rowdot"),
        c("ij,ij->ij", (3, 4), (3, 4), name="hadamard"),
        c("ii->", (4, 4), name="trace"),
        c("ii->i", (4, 4), name="diag"),
        c("ij->ji", (3, 4), name="transpose"),
        c("ij->", (3, 4), name="sum"),
        c("ijk->kj", (2, 3, 4), name="sum_permute"),
        c("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4), name="attention"),
        c("ij,jk", (3, 4), (4, 5), name="implicit"),
        c("...ij,...jk->...ik", (2, 3, 4), (4, 5), name="ellipsis_bcast"),
        c("bn,anm,bm->ba", (2, 3), (4, 3, 5), (2, 5), name="bilinear"),
        c("iij,jk->ik", (3, 3, 4), (4, 2), name="diag_then_contract"),
        c("ij,jk,kl->il", (2, 3), (3, 4), (4, 5), name="chain"),
        c("ab,cd->abcd", (2, 3), (1, 2), name="outer_2d"),
        c("ij,kj->", (3, 4), (2, 4), name="full_contract"),
        c("bij,bjk->bik", (1, 2, 3), (4, 3, 5), name="broadcast_batch"),
        c("...i,...i->...", (2, 1, 3), (4, 3), name="ellipsis_expand"),
    ]


_add(
    spec("einsum", lambda m, eq, *xs: m.einsum(eq, *xs), _einsum_cases),
    spec(
        "einsum_list",
        lambda m, eq, *xs: m.einsum(eq, list(xs)),
        lambda rng: _einsum_cases(rng)[:1],
    ),
)


# composites: index_add, take_along_dim, trace, ravel --------------------------------------------


def _index_add_cases(rng):
    return [
        Case((randn(rng, 3, 4), 1, np.array([0, 3, 3]), randn(rng, 3, 3)), name="dim1_repeats"),
        Case((randn(rng, 4, 2), 0, np.array([2, 0]), randn(rng, 2, 2)), {"alpha": 2.0}, name="a"),
        Case((randn(rng, 5), 0, np.array([4, 4, 1]), randn(rng, 3)), name="1d"),
    ]


def _take_along_dim_cases(rng):
    return [
        Case((randn(rng, 3, 4), rng.integers(0, 4, (3, 2))), {"dim": 1}, name="dim1"),
        Case((randn(rng, 3, 4), rng.integers(0, 3, (2, 1))), {"dim": 0}, name="bcast"),
        Case((randn(rng, 3, 4), rng.integers(0, 12, (5,))), {}, name="flat"),
    ]


_add(
    spec("index_add", lambda m, x, d, i, s, **kw: m.index_add(x, d, i, s, **kw), _index_add_cases),
    spec(
        "index_add_inplace",
        lambda m, x, d, i, s, **kw: (x * 1).index_add_(d, i, s, **kw),
        lambda rng: _index_add_cases(rng)[:1],
    ),
    spec(
        "take_along_dim", lambda m, x, i, **kw: m.take_along_dim(x, i, **kw), _take_along_dim_cases
    ),
    spec(
        "trace",
        lambda m, x: m.trace(x),
        lambda rng: [
            Case((randn(rng, 3, 3),), name="square"),
            Case((randn(rng, 2, 4),), name="wide"),
        ],
    ),
    spec("ravel", lambda m, x: x.ravel(), lambda rng: [Case((randn(rng, 2, 3),), name="2d")]),
)
