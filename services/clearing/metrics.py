"""Clearing's business metrics (issue: ledger lag behind settlement, unreconciled items by age, period state,
deadline breaches, lines recorded, deductions refused, appeals, C-06 late clearings), on the service's registry beside
the runtime's.

Gauges that count stored state are recounted shortly after a change (a reconciliation, a generation, a
confirmation, a deadline), one recount at a time, so a burst of messages costs one round of counts; what
they count is read through ``adapters.GaugeReads``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from runtime.calendar import business_date
from services.clearing.adapters import GaugeReads

log = logging.getLogger(__name__)
AGES = ((5, "0-5d"), (30, "6-30d"), (None, "31d+"))  # days since the reconciled day
OPEN = ("mismatched", "overdue")
STATES = ("open", "generated", "confirmed")


class ClearingMetrics:
    def __init__(self, registry: CollectorRegistry, now: Callable[[], datetime], reads: GaugeReads) -> None:
        self.now, self.reads = now, reads
        self.ledger_lag = Histogram(
            "yidi_clearing_ledger_lag_seconds",
            "From a settlement or reversal (its envelope's time) to its ledger line",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=registry,
        )
        self.unreconciled = Gauge(
            "yidi_clearing_unreconciled",
            "R-01/R-02: institution-days not reconciled, by age (days since the day) and status",
            ["age", "status"],
            registry=registry,
        )
        self.periods = Gauge(
            "yidi_clearing_periods", "C-02: pair ledgers by period state", ["state"], registry=registry
        )
        self.breaches = Counter(
            "yidi_clearing_breaches_total",
            "C-03/C-07 steps and R-02 mismatches past their due time",
            ["what"],
            registry=registry,
        )
        self.refused_deductions = Counter(
            "yidi_clearing_deductions_refused_total", "Audit deductions refused by R-04 checks", registry=registry
        )
        self.after_year_close = Counter(
            "yidi_clearing_after_year_close_total",
            "C-06: settlements and refunds cleared after their year's first quarter",
            registry=registry,
        )
        self.entries = Counter(
            "yidi_clearing_entries_total", "Ledger lines recorded, by kind", ["kind"], registry=registry
        )
        self.appeals = Counter(
            "yidi_clearing_appeals_total",
            "R-04: appeals of audit deductions lodged and answered (upheld, withdrawn)",
            ["status"],
            registry=registry,
        )
        self._recount: asyncio.Task | None = None
        self._dirty = False

    def observe_lag(self, occurred_at: datetime) -> None:
        self.ledger_lag.observe(max((self.now() - occurred_at).total_seconds(), 0.0))

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
            except Exception:  # a metric must never fail a message; the next change counts again
                log.exception("clearing gauges not recounted")

    async def recount(self) -> None:
        today = business_date(self.now())
        counts = {(age, status): 0 for _, age in AGES for status in OPEN}
        for rec in await self.reads.reconciliation_states(OPEN):
            days = (today - datetime.fromisoformat(rec["day"]).date()).days
            age = next(label for limit, label in AGES if limit is None or days <= limit)
            counts[(age, rec["status"])] += 1
        for (age, status), n in counts.items():
            self.unreconciled.labels(age, status).set(n)
        for state in STATES:
            self.periods.labels(state).set(await self.reads.count_ledgers(state))


__all__ = ["ClearingMetrics"]
