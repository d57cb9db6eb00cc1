"""The reference device's implementations for the issue 11 area 'tensor_ops' (numpy, plain)."""

IMPLS = {}
