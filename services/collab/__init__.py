"""Collaboration 业务协同 and cost co-investigation 费用协查 service (K-01..K-04, Q-01..Q-05)."""
