"""The five services; each ``services/<name>/domain`` is pure (no I/O)."""
