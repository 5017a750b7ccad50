"""Clearing's business metrics (issue: ledger lag behind settlement, unreconciled items by age, period state,
deadline breaches), on the service's registry beside the runtime's.

Gauges that count stored state are recounted shortly after a change (a reconciliation, a generation, a
confirmation, a deadline), one recount at a time, so a burst of messages costs one round of counts."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from runtime.calendar import business_date
from runtime.service import Service

log = logging.getLogger(__name__)
AGES = ((5, "0-5d"), (30, "6-30d"), (None, "31d+"))     # days since the reconciled day
OPEN = ("mismatched", "overdue")
STATES = ("open", "generated", "confirmed")


class ClearingMetrics:
    def __init__(self, service: Service) -> None:
        self.svc = service
        registry = service.registry
        self.ledger_lag = Histogram(
            "yidi_clearing_ledger_lag_seconds", "From a settlement or reversal (its envelope's time) to its ledger line",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600), registry=registry)
        self.unreconciled = Gauge("yidi_clearing_unreconciled", "R-01/R-02: institution-days not reconciled, by age "
                                  "(days since the day) and status", ["age", "status"], registry=registry)
        self.periods = Gauge("yidi_clearing_periods", "C-02: pair ledgers by period state", ["state"], registry=registry)
        self.breaches = Counter("yidi_clearing_breaches_total", "C-03/C-07 steps and R-02 mismatches past their due "
                                "time", ["what"], registry=registry)
        self._recount: asyncio.Task | None = None
        self._dirty = False

    def observe_lag(self, occurred_at: datetime) -> None:
        self.ledger_lag.observe(max((self.svc.clock.now() - occurred_at).total_seconds(), 0.0))

    def changed(self) -> None:
        """Recount soon (once for a burst of changes; again if one came while counting)."""
        self._dirty = True
        if self._recount is None or self._recount.done():
            self._recount = asyncio.get_running_loop().create_task(self._recount_later())

    async def _recount_later(self) -> None:
        while self._dirty:
            await asyncio.sleep(0.5)
            self._dirty = False
            try:
                await self.recount()
            except Exception:     # a metric must never fail a message; the next change counts again
                log.exception("clearing gauges not recounted")

    async def recount(self) -> None:
        db, today = self.svc.db, business_date(self.svc.clock.now())
        counts = {(age, status): 0 for _, age in AGES for status in OPEN}
        async for doc in db["reconciliations"].find({"state.status": {"$in": list(OPEN)}}):
            days = (today - datetime.fromisoformat(doc["state"]["day"]).date()).days
            age = next(label for limit, label in AGES if limit is None or days <= limit)
            counts[(age, doc["state"]["status"])] += 1
        for (age, status), n in counts.items():
            self.unreconciled.labels(age, status).set(n)
        for state in STATES:
            self.periods.labels(state).set(await db["ledgers"].count_documents({"state.status": state}))


__all__ = ["ClearingMetrics"]
