"""Issue 11 area (index): op declarations (plans) - filled in by its owner."""
