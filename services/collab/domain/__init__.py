"""Collaboration domain: requests 业务协同 (K-01..K-04, module ``requests``) and cost
co-investigation 费用协查 (Q-01..Q-05, module ``coinvestigation``). Pure functions
``(state, input, calendar, now) -> Outcome``, ``now`` being the receipt time; who may act on a
stored item (``may_*``, raising ``addressing.Misaddressed``) is module ``addressing``."""
from . import addressing, coinvestigation, requests

__all__ = ["addressing", "coinvestigation", "requests"]
