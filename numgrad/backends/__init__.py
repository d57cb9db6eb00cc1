"""Per-device kernel builders.  The CPU backend is always present; CUDA is imported lazily."""
