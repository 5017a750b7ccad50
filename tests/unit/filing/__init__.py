"""The filing service's unit tests (F-01..F-16)."""
