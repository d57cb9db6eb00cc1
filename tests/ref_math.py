"""The reference device's implementations for the issue 11 area 'math' (numpy, plain)."""

IMPLS = {}
