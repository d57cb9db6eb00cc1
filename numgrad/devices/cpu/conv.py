"""Issue 11 area (conv): CPU compute kernels - filled in by its owner."""
