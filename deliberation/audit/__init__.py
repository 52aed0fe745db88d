"""Hash-chained, append-only transparency log."""
