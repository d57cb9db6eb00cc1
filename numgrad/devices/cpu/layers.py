"""Issue 11 area (layers): CPU compute kernels - filled in by its owner."""
