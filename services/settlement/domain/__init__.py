"""Pure settlement rules: no I/O. Every function takes data and returns data or raises :class:`Refused`."""
