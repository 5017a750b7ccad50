"""Collaboration domain: requests 业务协同 (K-01..K-04, module ``requests``), leads 问题线索 (K-05,
``leads``), notices 公告 (K-06, ``notices``), cost co-investigation 费用协查 (Q-01..Q-05,
``coinvestigation``) and its periods' summary and statistics (Q-02, Q-03, ``periods``). Pure
functions ``(state, input, calendar, now) -> Decision``, ``now`` being the receipt time; who may act
on a stored item (``may_*``, raising ``addressing.Misaddressed``) is module ``addressing``."""

from . import addressing, coinvestigation, leads, notices, periods, requests

__all__ = ["addressing", "coinvestigation", "leads", "notices", "periods", "requests"]
