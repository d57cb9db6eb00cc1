"""The reference device's implementations for the issue 11 area 'habits' (numpy, plain)."""

IMPLS = {}
