"""Device packages: how each op of the device-neutral table (``numgrad/ops``) runs on a device.

``devices/cpu`` is always present; a device package registers its implementations with the op
registry (``numgrad.ops.registry.impl`` / ``register_device``) when it is imported, and never
imports from ``numgrad.ops`` beyond that registry API.  ``devices/kernel_cache.py`` is the
on-disk cache every device's generated code shares.
"""
