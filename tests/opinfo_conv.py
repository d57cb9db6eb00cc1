"""Op specs for the issue 11 area 'conv' (merged into ``opinfo.OP_SPECS``/``NN_SPECS``).

Convolutions over stride, padding (ints, pairs, 'same' with even kernels, 'valid'),
dilation, groups (depthwise too), bias or none, batched and unbatched inputs; pooling over
kernel/stride/padding/dilation/ceil_mode and its options.  Max pooling draws distinct values
(no ties: finite differences and torch agree only away from them; test_conv.py checks ties).
"""

from __future__ import annotations

from opinfo import Case, _nnf, distinct, randn, spec

OP_SPECS = []


def _conv2d_cases(rng):
    def xw(x_shape, w_shape, bias=True):
        args = (randn(rng, *x_shape), randn(rng, *w_shape))
        return args + (randn(rng, w_shape[0]),) if bias else args

    return [
        Case(xw((2, 3, 6, 5), (4, 3, 3, 3)), name="basic"),
        Case(xw((2, 3, 6, 5), (4, 3, 3, 3), bias=False), name="no_bias"),
        Case(xw((2, 3, 7, 6), (4, 3, 3, 2)), {"stride": 2, "padding": 1}, name="stride2_pad1"),
        Case(
            xw((1, 2, 7, 7), (3, 2, 3, 2)),
            {"stride": (1, 2), "padding": (2, 1), "dilation": (2, 1)},
            name="rect_dilated",
        ),
        Case(xw((2, 4, 5, 5), (6, 2, 3, 3)), {"groups": 2, "padding": 1}, name="groups2"),
        Case(xw((2, 3, 5, 4), (6, 1, 3, 3)), {"groups": 3}, name="depthwise"),
        Case(xw((1, 2, 6, 5), (3, 2, 2, 4)), {"padding": "same"}, name="same_even"),
        Case(
            xw((1, 2, 7, 6), (3, 2, 3, 2)),
            {"padding": "same", "dilation": 2},
            name="same_dilated",
        ),
        Case(xw((2, 2, 5, 5), (3, 2, 3, 3)), {"padding": "valid"}, name="valid"),
        Case(xw((3, 5, 4), (2, 3, 2, 2)), {"padding": 1}, name="unbatched"),
        Case(xw((2, 3, 4, 4), (5, 3, 1, 1)), name="pointwise"),
        Case(
            xw((2, 2, 5, 5), (3, 2, 3, 3)), name="only_x_grad", requires_grad=(True, False, False)
        ),
        Case(
            xw((2, 2, 5, 5), (3, 2, 3, 3)), name="only_w_grad", requires_grad=(False, True, False)
        ),
    ]


def _conv1d_cases(rng):
    def xw(x_shape, w_shape, bias=True):
        args = (randn(rng, *x_shape), randn(rng, *w_shape))
        return args + (randn(rng, w_shape[0]),) if bias else args

    return [
        Case(xw((2, 3, 8), (4, 3, 3)), name="basic"),
        Case(xw((2, 3, 8), (4, 3, 3), bias=False), {"stride": 2, "padding": 2}, name="stride_pad"),
        Case(xw((2, 4, 9), (6, 2, 3)), {"groups": 2, "dilation": 2}, name="groups_dilated"),
        Case(xw((1, 2, 7), (3, 2, 4)), {"padding": "same"}, name="same_even"),
        Case(xw((3, 6), (2, 3, 2)), name="unbatched"),
    ]


def _conv_transpose2d_cases(rng):
    def xw(x_shape, w_shape, groups=1, bias=True):
        args = (randn(rng, *x_shape), randn(rng, *w_shape))
        return args + (randn(rng, w_shape[1] * groups),) if bias else args

    return [
        Case(xw((2, 3, 4, 5), (3, 2, 3, 3)), name="basic"),
        Case(xw((2, 3, 4, 4), (3, 2, 3, 2), bias=False), {"stride": 2, "padding": 1}, name="s2"),
        Case(
            xw((1, 2, 4, 3), (2, 3, 3, 3)),
            {"stride": 2, "padding": 1, "output_padding": 1},
            name="output_padding",
        ),
        Case(
            xw((2, 4, 4, 4), (4, 1, 3, 3), groups=2),
            {"groups": 2, "dilation": 2, "padding": 1},
            name="groups_dilated",
        ),
        Case(
            xw((1, 2, 3, 4), (2, 2, 2, 3)),
            {"dilation": 2, "output_padding": 1},
            name="stride1_output_padding",
        ),
        Case(xw((3, 4, 4), (3, 2, 3, 3)), {"stride": (2, 1), "padding": (1, 0)}, name="unbatched"),
    ]


def _conv_transpose1d_cases(rng):
    return [
        Case((randn(rng, 2, 3, 5), randn(rng, 3, 2, 3), randn(rng, 2)), name="basic"),
        Case(
            (randn(rng, 2, 4, 5), randn(rng, 4, 1, 3)),
            {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
            name="strided_groups",
        ),
    ]


def _max_pool2d_cases(rng):
    def x(*shape):
        return (distinct(rng, *shape),)

    return [
        Case(x(2, 3, 6, 6) + (2,), name="k2"),
        Case(x(2, 2, 7, 6) + (3,), {"stride": 2, "padding": 1}, name="k3_s2_p1"),
        Case(x(1, 2, 7, 6) + (3,), {"stride": 2, "ceil_mode": True}, name="ceil"),
        Case(x(1, 2, 6, 7) + (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, name="ceil_pad"),
        Case(x(1, 2, 7, 7) + ((2, 3),), {"stride": 1, "dilation": 2}, name="dilated_rect"),
        Case(x(2, 5, 5) + (2,), {"stride": 1}, name="unbatched"),
        Case(x(1, 3, 5, 6) + (2,), {"return_indices": True}, name="return_indices"),
    ]


def _max_pool1d_cases(rng):
    return [
        Case((distinct(rng, 2, 3, 8), 2), name="k2"),
        Case((distinct(rng, 2, 3, 9), 3), {"stride": 2, "padding": 1}, name="k3_s2_p1"),
        Case((distinct(rng, 2, 9), 2), {"dilation": 2, "ceil_mode": True}, name="dilated_ceil"),
        Case((distinct(rng, 1, 2, 7), 3), {"return_indices": True}, name="return_indices"),
    ]


def _avg_pool2d_cases(rng):
    return [
        Case((randn(rng, 2, 3, 6, 6), 2), name="k2"),
        Case((randn(rng, 2, 2, 7, 6), 3), {"stride": 2, "padding": 1}, name="pad_include"),
        Case(
            (randn(rng, 2, 2, 7, 6), 3),
            {"stride": 2, "padding": 1, "count_include_pad": False},
            name="pad_exclude",
        ),
        Case(
            (randn(rng, 1, 2, 6, 7), (3, 2)),
            {"stride": 2, "padding": 1, "ceil_mode": True},
            name="ceil_pad",
        ),
        Case((randn(rng, 1, 2, 5, 5), 2), {"divisor_override": 3}, name="divisor"),
        Case((randn(rng, 2, 5, 5), 3), {"stride": 1}, name="unbatched"),
    ]


def _avg_pool1d_cases(rng):
    return [
        Case((randn(rng, 2, 3, 8), 2), name="k2"),
        Case(
            (randn(rng, 2, 3, 9), 3),
            {"stride": 2, "padding": 1, "count_include_pad": False, "ceil_mode": True},
            name="pad_exclude_ceil",
        ),
        Case((randn(rng, 3, 7), 3), {"stride": 1, "padding": 1}, name="unbatched"),
    ]


def _adaptive2d_cases(rng):
    return [
        Case((randn(rng, 2, 3, 7, 5), (3, 2)), name="down"),
        Case((randn(rng, 2, 3, 6, 6), 1), name="global"),
        Case((randn(rng, 1, 2, 3, 4), (5, 6)), name="up"),
        Case((randn(rng, 1, 2, 5, 4), (None, 3)), name="none_keeps"),
        Case((randn(rng, 2, 5, 7), 3), name="unbatched"),
    ]


def _adaptive_max2d_cases(rng):
    return [
        Case((distinct(rng, 2, 3, 7, 5), (3, 2)), name="down"),
        Case((distinct(rng, 1, 2, 3, 4), (5, 6)), name="up"),
        Case((distinct(rng, 2, 5, 7), (None, 3)), name="unbatched_none"),
        Case((distinct(rng, 1, 2, 5, 4), 2, True), name="return_indices"),
    ]


def _adaptive1d_cases(rng):
    return [
        Case((randn(rng, 2, 3, 7), 3), name="down"),
        Case((randn(rng, 2, 3), 5), name="up_unbatched"),
    ]


NN_SPECS = [
    spec("F.conv2d", lambda m, *a, **kw: _nnf(m).conv2d(*a, **kw), _conv2d_cases),
    spec("F.conv1d", lambda m, *a, **kw: _nnf(m).conv1d(*a, **kw), _conv1d_cases),
    spec(
        "F.conv_transpose2d",
        lambda m, *a, **kw: _nnf(m).conv_transpose2d(*a, **kw),
        _conv_transpose2d_cases,
    ),
    spec(
        "F.conv_transpose1d",
        lambda m, *a, **kw: _nnf(m).conv_transpose1d(*a, **kw),
        _conv_transpose1d_cases,
    ),
    spec("F.max_pool2d", lambda m, *a, **kw: _nnf(m).max_pool2d(*a, **kw), _max_pool2d_cases),
    spec("F.max_pool1d", lambda m, *a, **kw: _nnf(m).max_pool1d(*a, **kw), _max_pool1d_cases),
    spec("F.avg_pool2d", lambda m, *a, **kw: _nnf(m).avg_pool2d(*a, **kw), _avg_pool2d_cases),
    spec("F.avg_pool1d", lambda m, *a, **kw: _nnf(m).avg_pool1d(*a, **kw), _avg_pool1d_cases),
    spec(
        "F.adaptive_avg_pool2d",
        lambda m, *a: _nnf(m).adaptive_avg_pool2d(*a),
        _adaptive2d_cases,
    ),
    spec(
        "F.adaptive_max_pool2d",
        lambda m, *a: _nnf(m).adaptive_max_pool2d(*a),
        _adaptive_max2d_cases,
    ),
    spec(
        "F.adaptive_max_pool1d",
        lambda m, *a: _nnf(m).adaptive_max_pool1d(*a),
        lambda rng: [
            Case((distinct(rng, 2, 3, 7), 3), name="down"),
            Case((distinct(rng, 2, 4), 6, True), name="up_indices"),
        ],
    ),
    spec(
        "F.adaptive_avg_pool1d",
        lambda m, *a: _nnf(m).adaptive_avg_pool1d(*a),
        _adaptive1d_cases,
    ),
]
