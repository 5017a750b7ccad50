"""What the collab query API reads of the stored aggregates (K-03..K-06, Q-02..Q-05): a
:class:`CollabReads` protocol with the few reads ``query.py`` makes, and :class:`MongoCollabReads`,
its implementation on the service's database (``app.py`` wires it with ``service.db`` and the
service's aggregate store).

Requests, leads and co-investigations are sealed at rest: a list opens every document of its
collection (``runtime.store.open_document``) and the query keeps the asking agency's items; no
clear index of who asked whom is stored beside the sealed state. Notices are public (K-06) and
stored in clear. One request or one period is read through the aggregate store, as the handlers
read them."""
from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from runtime.store import open_document
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import leads as lead_rules
from services.collab.domain import notices as notice_rules
from services.collab.domain import periods
from services.collab.domain import requests as req
from services.wiring import Store


class CollabReads(Protocol):
    """The stored items the query API answers from (``query.CollabQueries``)."""

    async def notices(self) -> list[notice_rules.Notice]: ...

    async def request(self, request_id: str) -> req.CollabRequest | None: ...

    async def period(self, period_key: str) -> periods.Period | None: ...

    async def requests(self) -> list[req.CollabRequest]: ...

    async def leads(self) -> list[lead_rules.Lead]: ...

    async def coinvestigations(self) -> list[coinv.CoInvestigation]: ...


class MongoCollabReads:
    """:class:`CollabReads` on the service's database: the collections the handlers' aggregates keep."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], store: Store) -> None:
        self.db, self.store = db, store

    async def notices(self) -> list[notice_rules.Notice]:
        """K-06: every notice stored (public: kept in clear)."""
        return [notice_rules.Notice.model_validate(doc["state"]) async for doc in self.db["notices"].find({})]

    async def request(self, request_id: str) -> req.CollabRequest | None:
        raw = await self.store.load("requests", request_id)
        return req.CollabRequest.model_validate(raw) if raw else None

    async def period(self, period_key: str) -> periods.Period | None:
        raw = await self.store.load("periods", period_key)
        return periods.Period.model_validate(raw) if raw else None

    async def requests(self) -> list[req.CollabRequest]:
        return [req.CollabRequest.model_validate(s) for s in await self._opened("requests")]

    async def leads(self) -> list[lead_rules.Lead]:
        return [lead_rules.Lead.model_validate(s) for s in await self._opened("leads")]

    async def coinvestigations(self) -> list[coinv.CoInvestigation]:
        return [coinv.CoInvestigation.model_validate(s) for s in await self._opened("coinvestigations")]

    async def _opened(self, collection: str) -> list[dict]:
        """Every state of a sealed collection, opened (runtime.store.open_document)."""
        return [open_document(doc)["state"] async for doc in self.db[collection].find({}, {"state": 1})]
