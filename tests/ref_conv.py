"""The reference device's implementations for the issue 11 area 'conv' (numpy, plain)."""

IMPLS = {}
