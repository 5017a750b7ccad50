"""What the collab query API reads of the stored aggregates (K-03..K-06, Q-02..Q-05):
:class:`CollabReads`, the few reads ``query.py`` makes, through the aggregate store (the runtime's,
or the in-memory one in the handler tests).

Requests, leads and co-investigations are sealed at rest: a list opens every document of its
collection (``AggregateStore.states``) and the query keeps the asking agency's items; no
clear index of who asked whom is stored beside the sealed state. Notices are public (K-06) and
stored in clear. One request or one period is read through the aggregate store, as the handlers
read them."""

from __future__ import annotations

from services.collab.domain import coinvestigation as coinv
from services.collab.domain import leads as lead_rules
from services.collab.domain import notices as notice_rules
from services.collab.domain import periods
from services.collab.domain import requests as req
from services.wiring import Store


class CollabReads:
    """The stored items the query API answers from (``query.CollabQueries``), read through the
    aggregate store as the handlers read them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def notices(self) -> list[notice_rules.Notice]:
        """K-06: every notice stored (public: kept in clear)."""
        return [notice_rules.Notice.model_validate(s) for s in await self.store.states("notices")]

    async def request(self, request_id: str) -> req.CollabRequest | None:
        raw = await self.store.load("requests", request_id)
        return req.CollabRequest.model_validate(raw) if raw else None

    async def period(self, period_key: str) -> periods.Period | None:
        raw = await self.store.load("periods", period_key)
        return periods.Period.model_validate(raw) if raw else None

    async def requests(self) -> list[req.CollabRequest]:
        return [req.CollabRequest.model_validate(s) for s in await self.store.states("requests")]

    async def leads(self) -> list[lead_rules.Lead]:
        return [lead_rules.Lead.model_validate(s) for s in await self.store.states("leads")]

    async def coinvestigations(self) -> list[coinv.CoInvestigation]:
        return [coinv.CoInvestigation.model_validate(s) for s in await self.store.states("coinvestigations")]
