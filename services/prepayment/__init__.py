"""Prepayment service 预付金 (P-01..P-09)."""
