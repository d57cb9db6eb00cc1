"""Issue 11 area (conv): op declarations (plans) - filled in by its owner."""
