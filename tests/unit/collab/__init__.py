"""The collab service's unit tests (K-01..K-06, Q-01..Q-05)."""
