"""``numgrad.cuda``: device queries.  The CUDA backend is not built yet (see docs/devices.md),
so no CUDA device is ever available to numgrad, whatever the hardware."""


def is_available():
    return False


def device_count():
    return 0
