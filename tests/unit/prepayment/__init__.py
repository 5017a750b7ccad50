"""The prepayment service's unit tests (P-01..P-10, M-03)."""
