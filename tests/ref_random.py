"""The reference device's implementations for the issue 11 area 'random' (numpy, plain)."""

IMPLS = {}
