"""The clearing service's handlers on the in-memory store (``runtime.memory``), for the fast handler tests.

:class:`MemoryClearingReads` answers ``services.clearing.adapters``' read protocols from the in-memory
store's own documents and archive, with the same matches as the Mongo queries, so what a handler stored is
what the next one reads. :class:`Clearing` builds the service's real ``registry(...)`` on them, with a clock a
test moves.
"""

from __future__ import annotations

import copy
from datetime import date, datetime

from prometheus_client import CollectorRegistry

from contracts.registry import ALL_TOPICS
from runtime.calendar import default_calendar
from runtime.memory import MemoryStore
from services.clearing.adapters import (
    APPEALS,
    ENTRIES,
    LEDGERS,
    MISMATCH_STATUSES,
    NOTICES,
    RECONCILIATIONS,
    SETTLEMENT,
)
from services.clearing.domain.appeal import Appeal
from services.clearing.domain.ledger import ClearingLedger
from services.clearing.domain.obligations import NoticeState
from services.clearing.domain.reconciliation import Reconciliation
from services.clearing.handlers import registry
from services.clearing.metrics import ClearingMetrics

TOPIC_OF_TYPE = {spec.type: name for name, spec in ALL_TOPICS.items()}


class MemoryClearingReads:
    """``ClearingReads``, ``PeriodReads`` and ``GaugeReads`` over a :class:`MemoryStore`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _states(self, collection: str) -> list[dict]:
        return [
            copy.deepcopy(doc["state"])
            for (name, _), doc in self.store.documents.items()
            if name == collection and doc.get("state") is not None
        ]

    def _lines(self, **match: str) -> list[dict]:
        return [
            copy.deepcopy(doc)
            for doc in self.store.archives.get(ENTRIES, {}).values()
            if all(doc.get(k) == v for k, v in match.items())
        ]

    async def lines_of_settlement(self, settlement_id: str) -> list[dict]:
        return self._lines(settlement_id=settlement_id)

    async def settled_on_day(self, institution: str, day: date) -> list[dict]:
        return self._lines(kind=SETTLEMENT, institution_code=institution, business_day=day.isoformat())

    async def settled_in_month(self, institution: str, month: str) -> list[dict]:
        return self._lines(kind=SETTLEMENT, institution_code=institution, settled_month=month)

    async def settled_for_insured(self, region: str, month: str) -> list[dict]:
        return self._lines(kind=SETTLEMENT, insured_region=region, settled_month=month)

    async def reconciliations_of_month(self, region: str, month: str) -> list[Reconciliation]:
        return [
            Reconciliation.model_validate(s)
            for s in self._states(RECONCILIATIONS)
            if region in s.get("insured_regions", ()) and f"{month}-01" <= s["day"] <= f"{month}-31"
        ]

    async def ledgers_of(self, month: str) -> list[ClearingLedger]:
        return [ClearingLedger.model_validate(s) for s in self._states(LEDGERS) if s["clearing_month"] == month]

    async def ledgers_of_region(self, region: str, since: str | None) -> list[ClearingLedger]:
        return [
            ClearingLedger.model_validate(s)
            for s in self._states(LEDGERS)
            if region in (s["insured_region"], s["treating_region"]) and (not since or s["clearing_month"] >= since)
        ]

    async def notices_of(self, region: str) -> dict[str, NoticeState]:
        return {
            s["notice"]["clearing_month"]: NoticeState.model_validate(s)
            for s in self._states(NOTICES)
            if s["notice"]["region"] == region
        }

    async def mismatches_of(self, region: str) -> list[Reconciliation]:
        return [
            Reconciliation.model_validate(s)
            for s in self._states(RECONCILIATIONS)
            if s["status"] in MISMATCH_STATUSES
            and (s["treating_region"] == region or region in s.get("insured_regions", ()))
        ]

    async def days_of_institution(self, institution: str, month: str) -> list[Reconciliation]:
        return [
            Reconciliation.model_validate(s)
            for s in self._states(RECONCILIATIONS)
            if s["institution_code"] == institution and f"{month}-01" <= s["day"] <= f"{month}-31"
        ]

    async def institution_lines(self, institution: str, clearing_month: str) -> list[dict]:
        return self._lines(institution_code=institution, clearing_month=clearing_month)

    async def appeals_of(self, *, institution: str | None = None, region: str | None = None) -> list[Appeal]:
        return [
            Appeal.model_validate(s)
            for s in self._states(APPEALS)
            if (s["institution_code"] == institution if institution else s["treating_region"] == region)
        ]

    async def reconciliation_states(self, statuses: tuple[str, ...]) -> list[dict]:
        return [s for s in self._states(RECONCILIATIONS) if s["status"] in statuses]

    async def count_ledgers(self, status: str) -> int:
        return sum(1 for s in self._states(LEDGERS) if s["status"] == status)


class Clock:
    """The business time the handlers read (``now``); a test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Clearing:
    """The clearing service's own handlers (``handlers.registry``) on the in-memory store and reads."""

    def __init__(self, at: datetime) -> None:
        self.clock = Clock(at)
        self.store = MemoryStore(producer="clearing", now=self.clock)
        self.reads = MemoryClearingReads(self.store)
        self.metrics = ClearingMetrics(CollectorRegistry(), self.clock, self.reads)
        self.handlers = registry(
            self.store, now=self.clock, calendar=default_calendar(), reads=self.reads, metrics=self.metrics
        )

    def published(self, since: int = 0) -> list[tuple[str, dict]]:
        """(topic, payload) of what the handlers' decisions emitted, in order."""
        return [(TOPIC_OF_TYPE[env.type], env.payload.model_dump(mode="json")) for env in self.store.published[since:]]

    def state(self, collection: str, key: str) -> dict:
        found = self.store.state(collection, key)
        assert found is not None, (collection, key)
        return found

    def armed(self) -> dict[tuple[str, str], datetime]:
        """(kind, subject) → due time of every deadline armed and not cancelled."""
        return {(env.payload.kind, env.payload.subject): env.payload.due_at for env in self.store.due()}
