"""Issue 11 area (index): CPU compute kernels - filled in by its owner."""
