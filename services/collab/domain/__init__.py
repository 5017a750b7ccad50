"""Collaboration domain: requests 业务协同 (K-01..K-04, module ``requests``) and cost
co-investigation 费用协查 (Q-01..Q-05, module ``coinvestigation``). Pure functions
``(state, input, calendar, now) -> Outcome``."""
from . import coinvestigation, requests

__all__ = ["coinvestigation", "requests"]
