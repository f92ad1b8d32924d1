"""Signal kinds and strategy building blocks (pure functions, no I/O)."""
