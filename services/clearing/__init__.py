"""Clearing service 清算 (C-01..C-05, R-04/R-05)."""
