"""Op specs for the issue 11 area 'layers' (merged into ``opinfo.OP_SPECS``/``NN_SPECS``).

Activations get inputs kept away from their kinks (hardtanh's bounds, hardswish's +-3...), so
finite differences see a smooth function.  The normalisations are checked with and without their
affine parameters; batch_norm in training mode (the batch's statistics: the ``batch_norm`` op)
and in eval mode (running statistics, a composite).  embedding repeats indices so the backward's
scatter-add accumulates.
"""

from __future__ import annotations

import numpy as np
from opinfo import Case, _nnf, _unary_cases, away, pos, randn, spec


def _away(points, lo=-4.0, hi=4.0):
    def gen(rng, *shape):
        return away(rng, *shape, points=points, margin=0.1, lo=lo, hi=hi)

    return gen


def _softmax_np(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _layer_norm_cases(rng):
    return [
        Case((randn(rng, 3, 5), randn(rng, 5), randn(rng, 5)), {"shape": (5,)}, name="affine"),
        Case((randn(rng, 2, 3, 4), None, None), {"shape": (3, 4)}, name="no_affine_2d"),
        Case((randn(rng, 2, 3, 4), randn(rng, 4), None), {"shape": (4,)}, name="weight_only"),
        Case((randn(rng, 6), randn(rng, 6), randn(rng, 6)), {"shape": (6,)}, name="1d"),
        Case(
            (randn(rng, 3, 5), randn(rng, 5), randn(rng, 5)),
            {"shape": (5,), "eps": 1e-3},
            name="eps",
            requires_grad=(True, False, True),
        ),
    ]


def _layer_norm(m, x, w, b, shape, eps=1e-5):
    return _nnf(m).layer_norm(x, shape, w, b, eps)


def _bn_train_cases(rng):
    return [
        Case((randn(rng, 4, 3), randn(rng, 3), randn(rng, 3)), name="2d"),
        Case((randn(rng, 2, 3, 5), pos(rng, 3), randn(rng, 3)), name="3d"),
        Case((randn(rng, 2, 3, 2, 2), None, None), name="4d_no_affine"),
        Case((randn(rng, 3, 2, 4), randn(rng, 2), None), {"eps": 1e-3}, name="weight_only_eps"),
    ]


def _bn_train(m, x, w, b, eps=1e-5):
    c = x.shape[1]
    rm = m.zeros(c, dtype=x.dtype, device=x.device)
    rv = m.ones(c, dtype=x.dtype, device=x.device)
    return _nnf(m).batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=eps)


def _bn_eval_cases(rng):
    return [
        Case(
            (randn(rng, 4, 3), randn(rng, 3), pos(rng, 3), randn(rng, 3), randn(rng, 3)),
            name="2d",
            requires_grad=(True, False, False, True, True),
        ),
        Case(
            (randn(rng, 2, 3, 2, 2), randn(rng, 3), pos(rng, 3), None, None),
            name="4d_no_affine",
            requires_grad=(True, False, False),
        ),
    ]


def _bn_eval(m, x, rm, rv, w, b):
    return _nnf(m).batch_norm(x, rm, rv, w, b, training=False)


def _embedding_cases(rng):
    return [
        Case((np.array([[0, 2, 0], [4, 2, 2]]), randn(rng, 5, 3)), name="repeats"),
        Case((np.array(2), randn(rng, 3, 4)), name="0d_index"),
        Case((np.array([1, 0, 1], dtype=np.int32), randn(rng, 2, 3)), name="int32"),
    ]


def _pad_cases(rng):
    return [
        Case((randn(rng, 2, 3, 4),), {"pad": (1, 2)}, name="last_dim"),
        Case((randn(rng, 2, 3, 4),), {"pad": (1, 0, 2, 1), "value": 1.5}, name="two_dims_value"),
        Case((randn(rng, 2, 3, 4),), {"pad": (-1, 2, 0, -1)}, name="negative"),
        Case((randn(rng, 2, 3, 4),), {"pad": (0, 0, 0, 0, 1, 1)}, name="all_dims"),
        Case((randn(rng, 2, 3, 5),), {"pad": (2, 3), "mode": "reflect"}, name="reflect_1d"),
        Case(
            (randn(rng, 1, 2, 3, 4),), {"pad": (1, 2, 2, 1), "mode": "reflect"}, name="reflect_2d"
        ),
        Case((randn(rng, 2, 3, 4),), {"pad": (2, 3), "mode": "replicate"}, name="replicate_1d"),
        Case(
            (randn(rng, 1, 2, 3, 4),),
            {"pad": (1, 3, 2, 1), "mode": "replicate"},
            name="replicate_2d",
        ),
        Case((randn(rng, 1, 2, 4),), {"pad": (2, 1), "mode": "circular"}, name="circular_1d"),
    ]


def _kl_cases(rng):
    out = []
    for n, kw in [
        ("mean", {}),
        ("batchmean", {"reduction": "batchmean"}),
        ("sum", {"reduction": "sum"}),
        ("none", {"reduction": "none"}),
    ]:
        x = np.log(_softmax_np(randn(rng, 3, 4)))
        y = _softmax_np(randn(rng, 3, 4))
        out.append(Case((x, y), kw, name=n))
    x = np.log(_softmax_np(randn(rng, 3, 4)))
    y = np.log(_softmax_np(randn(rng, 3, 4)))
    out.append(Case((x, y), {"reduction": "batchmean", "log_target": True}, name="log_target"))
    y0 = _softmax_np(randn(rng, 3, 4))
    y0[0, 1] = 0.0
    out.append(Case((x, y0), {"reduction": "sum"}, name="zero_target", requires_grad=(True, False)))
    return out


def _cos_cases(rng):
    return [
        Case((randn(rng, 3, 4), randn(rng, 3, 4)), {}, name="dim1"),
        Case((randn(rng, 2, 3, 4), randn(rng, 2, 3, 4)), {"dim": -1}, name="dim-1"),
        Case((randn(rng, 3, 4), randn(rng, 4)), {"dim": -1}, name="broadcast"),
    ]


def _prelu_cases(rng):
    return [
        Case((_away((0.0,))(rng, 2, 3, 4), pos(rng, 3, lo=0.1, hi=0.5)), name="per_channel"),
        Case((_away((0.0,))(rng, 3, 4), np.array([0.25])), name="shared"),
    ]


def _glu_cases(rng):
    return [
        Case((randn(rng, 3, 4),), {}, name="last"),
        Case((randn(rng, 4, 3),), {"dim": 0}, name="dim0"),
    ]


def _bilinear_cases(rng):
    return [
        Case((randn(rng, 3, 2), randn(rng, 3, 4), randn(rng, 5, 2, 4), randn(rng, 5)), name="bias"),
        Case(
            (randn(rng, 2, 3, 2), randn(rng, 2, 3, 4), randn(rng, 5, 2, 4)), name="batched_no_bias"
        ),
    ]


def _act(name, gen, **kw):
    return spec(f"F.{name}", lambda m, x: getattr(_nnf(m), name)(x, **kw), _unary_cases(gen))


OP_SPECS = []
NN_SPECS = [
    _act("elu", _away((0.0,))),
    spec("F.elu_alpha", lambda m, x: _nnf(m).elu(x, alpha=0.5), _unary_cases(_away((0.0,)))),
    spec("F.celu", lambda m, x: _nnf(m).celu(x, alpha=2.0), _unary_cases(_away((0.0,)))),
    _act("selu", _away((0.0,))),
    _act("logsigmoid", lambda rng, *s: randn(rng, *s) * 4),
    spec(
        "F.hardtanh",
        lambda m, x: _nnf(m).hardtanh(x, -0.5, 1.5),
        _unary_cases(_away((-0.5, 1.5), lo=-3.0, hi=3.0)),
    ),
    _act("relu6", _away((0.0, 6.0), lo=-2.0, hi=8.0)),
    spec(
        "F.threshold",
        lambda m, x: _nnf(m).threshold(x, 0.3, -2.0),
        _unary_cases(_away((0.3,))),
    ),
    _act("hardsigmoid", _away((-3.0, 3.0), lo=-5.0, hi=5.0)),
    _act("hardswish", _away((-3.0, 3.0), lo=-5.0, hi=5.0)),
    _act("softsign", _away((0.0,))),
    _act("tanhshrink", randn),
    _act("mish", lambda rng, *s: randn(rng, *s) * 3),
    spec("F.prelu", lambda m, x, w: _nnf(m).prelu(x, w), _prelu_cases),
    spec("F.glu", lambda m, x, **kw: _nnf(m).glu(x, **kw), _glu_cases),
    spec("F.layer_norm", _layer_norm, _layer_norm_cases),
    spec("F.batch_norm_train", _bn_train, _bn_train_cases),
    spec("F.batch_norm_eval", _bn_eval, _bn_eval_cases),
    spec(
        "F.embedding",
        lambda m, i, w, **kw: _nnf(m).embedding(i, w, **kw),
        _embedding_cases,
    ),
    # the padding row gets no gradient by design, which finite differences do not know
    spec(
        "F.embedding_padding_idx",
        lambda m, i, w, **kw: _nnf(m).embedding(i, w, **kw),
        lambda rng: [
            Case((np.array([1, 3, 3, 0]), randn(rng, 4, 2)), {"padding_idx": 3}, name="pos"),
            Case((np.array([[1, 3], [3, 0]]), randn(rng, 4, 2)), {"padding_idx": -1}, name="neg"),
        ],
        gradcheck=False,
    ),
    spec("F.pad", lambda m, x, **kw: _nnf(m).pad(x, **kw), _pad_cases),
    spec("F.kl_div", lambda m, x, y, **kw: _nnf(m).kl_div(x, y, **kw), _kl_cases),
    spec(
        "F.cosine_similarity",
        lambda m, x, y, **kw: _nnf(m).cosine_similarity(x, y, **kw),
        _cos_cases,
    ),
    spec(
        "F.pairwise_distance",
        lambda m, x, y, **kw: _nnf(m).pairwise_distance(x, y, **kw),
        lambda rng: [
            Case((randn(rng, 3, 4), randn(rng, 3, 4)), {}, name="p2"),
            Case((randn(rng, 3, 4), randn(rng, 4)), {"p": 1.0, "keepdim": True}, name="p1_bcast"),
        ],
    ),
    spec("F.bilinear", lambda m, *a: _nnf(m).bilinear(*a), _bilinear_cases),
    spec(
        "F.dropout2d_eval",
        lambda m, x: _nnf(m).dropout2d(x, 0.5, training=False),
        lambda rng: [Case((randn(rng, 2, 3, 4, 4),), name="4d")],
    ),
    spec(
        "F.dropout1d_p0",
        lambda m, x: _nnf(m).dropout1d(x, 0.0),
        lambda rng: [Case((randn(rng, 2, 3, 4),), name="3d")],
    ),
    spec(
        "F.alpha_dropout_eval",
        lambda m, x: _nnf(m).alpha_dropout(x, 0.5),
        lambda rng: [Case((randn(rng, 3, 4),), name="2d")],
    ),
]
