"""Copying a tensor between devices: ``t.to(device)``, ``t.cpu()``.

One op, ``to_device``, whose kernels are generic (the same callable on every device): they
move an array through the two devices' array APIs (``source.arrays.to_host``, then
``device.arrays.from_host``), so any pair of registered devices works without either knowing
the other.  The gradient goes back the same way, as torch's ``ToCopyBackward``.
"""

from __future__ import annotations

from .registry import Kernel, Op, register


def transfer(x, source, device):
    """``x`` (an array of Device ``source``) copied into a new array of Device ``device``."""
    out = device.arrays.from_host(source.arrays.to_host(x))
    return device.arrays.copy(out) if out is x else out


def to_device_f(x, source, device):
    return transfer(x, source, device)


def to_device_dx(grad, source, device):
    return transfer(grad, device, source)


register(
    Op(
        "to_device",
        inputs=("x",),
        attrs=("source", "device"),
        forward=Kernel(generic=to_device_f),
        backward={"x": Kernel(generic=to_device_dx)},
        promote=None,
        half="native",
    )
)
