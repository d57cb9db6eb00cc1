"""Convolution and pooling layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``,
``ConvTranspose2d``, ``MaxPool1d``, ``MaxPool2d``,
``AvgPool1d``, ``AvgPool2d``, ``AdaptiveAvgPool1d``, ``AdaptiveAvgPool2d``, ``AdaptiveMaxPool1d``,
``AdaptiveMaxPool2d`` (torch's
arguments, attributes, default init and ``repr``; the math is in ``nn.functional``)."""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from . import functional as NF
from . import init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


def _ntuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n


def _reversed_pads(padding, kernel_size, dilation):
    if isinstance(padding, str):
        if padding == "valid":
            return [0, 0] * len(kernel_size)
        pads = []
        for k, d in zip(kernel_size, dilation):  # 'same': torch pads the extra one after
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
    else:
        pads = [(p, p) for p in padding]
    return [e for lo_hi in reversed(pads) for e in lo_hi]


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
        output_padding=0,
    ):
        super().__init__()
        nd = self._nd
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
                )
            if padding == "same" and any(s != 1 for s in _ntuple(stride, nd)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {_PADDING_MODES}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, nd)
        self.stride = _ntuple(stride, nd)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, nd)
        self.dilation = _ntuple(dilation, nd)
        self.transposed = self._transposed
        self.output_padding = _ntuple(output_padding, nd)
        self.groups = groups
        self.padding_mode = padding_mode
        # torch's F.pad argument for the other padding modes: (left, right) per dim, last first
        self._reversed_padding_repeated_twice = _reversed_pads(
            self.padding, self.kernel_size, self.dilation
        )
        dt = D.DEFAULT_FLOAT.np if dtype is None else D.as_dtype(dtype).np
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # torch's: kaiming-uniform with a=sqrt(5) (bound 1/sqrt(fan_in)); fan_in is the weight's
        # dim 1 times the kernel size (in/groups * k; out/groups * k for transposed convs)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _pad(self, input):  # noqa: A002
        """The input and the padding to convolve it with: torch pads with ``F.pad`` first for
        the padding modes other than zeros, then convolves without padding."""
        if self.padding_mode == "zeros":
            return input, self.padding
        pads = self._reversed_padding_repeated_twice
        return NF.pad(input, pads, mode=self.padding_mode), 0

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """torch's ``Conv1d``: ``(N, C_in, L)`` or ``(C_in, L)`` -> ``(N, C_out, L_out)``; weight
    ``(out_channels, in_channels / groups, kernel_size)``; any ``padding_mode`` (other than
    ``'zeros'``: ``F.pad`` first, as torch)."""

    _nd = 1

    def forward(self, input):  # noqa: A002
        input, padding = self._pad(input)  # noqa: A001
        return NF.conv1d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class Conv2d(_ConvNd):
    """torch's ``Conv2d``: ``(N, C_in, H, W)`` or ``(C_in, H, W)`` -> ``(N, C_out, H_out,
    W_out)``; weight ``(out_channels, in_channels / groups, kH, kW)``, torch's default init.
    Any ``padding_mode`` (other than ``'zeros'``: ``F.pad`` first, as torch)."""

    _nd = 2

    def forward(self, input):  # noqa: A002
        input, padding = self._pad(input)  # noqa: A001
        return NF.conv2d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {self.__class__.__name__}'
            )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
            output_padding,
        )

    def _check_output_size(self, output_size):
        if output_size is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: forward(output_size=...) is not supported by numgrad; "
                f"pass output_padding to the constructor"
            )


class ConvTranspose1d(_ConvTransposeNd):
    """torch's ``ConvTranspose1d``: weight ``(in_channels, out_channels / groups, kernel_size)``,
    torch's default init; ``forward(input)`` (no ``output_size``)."""

    _nd = 1

    def forward(self, input, output_size=None):  # noqa: A002
        self._check_output_size(output_size)
        return NF.conv_transpose1d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose2d(_ConvTransposeNd):
    """torch's ``ConvTranspose2d``: weight ``(in_channels, out_channels / groups, kH, kW)``,
    torch's default init; ``forward(input)`` (no ``output_size``)."""

    _nd = 2

    def forward(self, input, output_size=None):  # noqa: A002
        self._check_output_size(output_size)
        return NF.conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


# ---- pooling --------------------------------------------------------------------------------


class _MaxPoolNd(Module):
    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """torch's ``MaxPool1d`` (``stride`` defaults to ``kernel_size``)."""

    def forward(self, input):  # noqa: A002
        return NF.max_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


class MaxPool2d(_MaxPoolNd):
    """torch's ``MaxPool2d`` (``stride`` defaults to ``kernel_size``); the first maximum of a
    window gets the gradient."""

    def forward(self, input):  # noqa: A002
        return NF.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


class AvgPool1d(Module):
    """torch's ``AvgPool1d`` (its attributes are 1-tuples, as torch's are)."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
    ):
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):  # noqa: A002
        return NF.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """torch's ``AvgPool2d`` (``count_include_pad``, ``ceil_mode``, ``divisor_override``)."""

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):  # noqa: A002
        return NF.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvgPoolNd(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """torch's ``AdaptiveAvgPool1d``."""

    def forward(self, input):  # noqa: A002
        return NF.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """torch's ``AdaptiveAvgPool2d`` (``output_size`` an int or a pair; ``None`` keeps the
    input's size on that axis)."""

    def forward(self, input):  # noqa: A002
        return NF.adaptive_avg_pool2d(input, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptiveAvgPoolNd):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """torch's ``AdaptiveMaxPool1d``."""

    def forward(self, input):  # noqa: A002
        return NF.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """torch's ``AdaptiveMaxPool2d`` (``output_size`` an int or a pair; ``None`` keeps the
    input's size on that axis)."""

    def forward(self, input):  # noqa: A002
        return NF.adaptive_max_pool2d(input, self.output_size, self.return_indices)
