"""Issue 11 area (layers): op declarations (plans) - filled in by its owner."""
