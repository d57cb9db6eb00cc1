"""The reference device's implementations for the issue 11 area 'layers' (numpy, plain)."""

IMPLS = {}
