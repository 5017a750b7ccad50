"""What the clearing service reads besides its own aggregates (the runtime's database).

Handlers, queries and gauges read the documents the store writes: the archived ledger lines
of ``entries`` (one document per line, M-03), the pair ledgers of ``ledgers`` and the institution-days
of ``reconciliations`` (and, for the periods view, the ``notices``; for an institution's own queries, its
``appeals``). :class:`ClearingReads` is what the
handlers read (R-01..R-04, C-01/C-02), :class:`PeriodReads` what the query API reads (C-02..C-05, C-07,
R-01/R-02), :class:`GaugeReads` what the gauges count; :class:`MongoClearingReads` answers all three on
the service's database, with the archive's indexes made once per process. The fast handler tests give
an in-memory implementation of the same protocols (``tests/unit/clearing/clearing_support.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from contracts.clearing import EntryKind
from runtime.store import open_document
from services.clearing.domain.appeal import Appeal
from services.clearing.domain.ledger import ClearingLedger
from services.clearing.domain.obligations import NoticeState
from services.clearing.domain.reconciliation import Reconciliation

ENTRIES, LEDGERS, RECONCILIATIONS, NOTICES, APPEALS = "entries", "ledgers", "reconciliations", "notices", "appeals"
SETTLEMENT = EntryKind.SETTLEMENT.value
MISMATCH_STATUSES = ("mismatched", "overdue", "resolved")
ARCHIVE_INDEXES = (
    ["settlement_id"],
    ["kind", "institution_code", "business_day"],
    ["kind", "institution_code", "settled_month"],
    ["kind", "insured_region", "settled_month"],
    ["institution_code", "clearing_month"],
)


class ClearingReads(Protocol):
    """What the clearing handlers read: archived lines (as stored), ledgers and reconciliations."""

    async def lines_of_settlement(self, settlement_id: str) -> list[dict]:
        """R-04: every archived line of one settlement (its settlement, refunds, earlier deductions)."""
        ...

    async def settled_on_day(self, institution: str, day: date) -> list[dict]:
        """R-02: the settlement lines of an institution's day (the treating place's record)."""
        ...

    async def settled_in_month(self, institution: str, month: str) -> list[dict]:
        """R-03: the settlement lines of an institution settled in ``month`` (YYYY-MM)."""
        ...

    async def settled_for_insured(self, region: str, month: str) -> list[dict]:
        """R-01: the settlement lines of an insured region's people settled in ``month``."""
        ...

    async def reconciliations_of_month(self, region: str, month: str) -> list[Reconciliation]:
        """R-01: the institution-days of ``month`` that name ``region`` among their insured regions."""
        ...

    async def ledgers_of(self, month: str) -> list[ClearingLedger]:
        """C-01, C-02, C-04: every pair ledger of a clearing month."""
        ...


class PeriodReads(Protocol):
    """What the clearing query API reads (``query.py``)."""

    async def ledgers_of(self, month: str) -> list[ClearingLedger]: ...

    async def ledgers_of_region(self, region: str, since: str | None) -> list[ClearingLedger]:
        """C-02: the ledgers a region is party to (either side), from clearing month ``since`` if given."""
        ...

    async def notices_of(self, region: str) -> dict[str, NoticeState]:
        """C-03/C-07: a region's notices and the steps after them, by clearing month."""
        ...

    async def mismatches_of(self, region: str) -> list[Reconciliation]:
        """R-01/R-02: institution-days mismatched, overdue or resolved, of a treating or insured region."""
        ...

    async def settled_in_month(self, institution: str, month: str) -> list[dict]:
        """R-01/R-02: the settlement lines of an institution settled in ``month`` (YYYY-MM)."""
        ...

    async def days_of_institution(self, institution: str, month: str) -> list[Reconciliation]:
        """R-01/R-02: an institution's reconciled (or reported) days of ``month``."""
        ...

    async def institution_lines(self, institution: str, clearing_month: str) -> list[dict]:
        """C-07/R-04: an institution's archived lines (settlements, refunds, deductions) of a clearing month."""
        ...

    async def appeals_of(self, *, institution: str | None = None, region: str | None = None) -> list[Appeal]:
        """R-04: the appeals of one institution, or of a treating region's institutions."""
        ...


class GaugeReads(Protocol):
    """What the clearing gauges count (``metrics.py``)."""

    async def reconciliation_states(self, statuses: tuple[str, ...]) -> list[dict]:
        """The stored states of the institution-days in one of ``statuses``."""
        ...

    async def count_ledgers(self, status: str) -> int:
        """How many pair ledgers are in period state ``status``."""
        ...


class MongoClearingReads:
    """:class:`ClearingReads`, :class:`PeriodReads` and :class:`GaugeReads` on the service's database."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self._archive_indexed = False

    # ------------------------------------------------------------ archived lines (R-01..R-04)
    async def lines_of_settlement(self, settlement_id: str) -> list[dict]:
        return await self._lines({"settlement_id": settlement_id})

    async def settled_on_day(self, institution: str, day: date) -> list[dict]:
        return await self._lines({"kind": SETTLEMENT, "institution_code": institution, "business_day": day.isoformat()})

    async def settled_in_month(self, institution: str, month: str) -> list[dict]:
        return await self._lines({"kind": SETTLEMENT, "institution_code": institution, "settled_month": month})

    async def settled_for_insured(self, region: str, month: str) -> list[dict]:
        return await self._lines({"kind": SETTLEMENT, "insured_region": region, "settled_month": month})

    async def _lines(self, query: dict) -> list[dict]:
        """Archived lines matching ``query``, on indexes made once per process."""
        entries = self.db[ENTRIES]
        if not self._archive_indexed:
            for keys in ARCHIVE_INDEXES:
                await entries.create_index([(k, 1) for k in keys])
            self._archive_indexed = True
        return [doc async for doc in entries.find(query)]

    # ------------------------------------------------------------ ledgers, reconciliations, notices
    async def reconciliations_of_month(self, region: str, month: str) -> list[Reconciliation]:
        found = self.db[RECONCILIATIONS].find(
            {"state.insured_regions": region, "state.day": {"$gte": f"{month}-01", "$lte": f"{month}-31"}}
        )
        return [Reconciliation.model_validate(doc["state"]) async for doc in found]

    async def ledgers_of(self, month: str) -> list[ClearingLedger]:
        return [
            ClearingLedger.model_validate(doc["state"])
            async for doc in self.db[LEDGERS].find({"state.clearing_month": month})
        ]

    async def ledgers_of_region(self, region: str, since: str | None) -> list[ClearingLedger]:
        where: dict = {"$or": [{"state.insured_region": region}, {"state.treating_region": region}]}
        if since:
            where["state.clearing_month"] = {"$gte": since}
        return [ClearingLedger.model_validate(doc["state"]) async for doc in self.db[LEDGERS].find(where)]

    async def notices_of(self, region: str) -> dict[str, NoticeState]:
        return {
            doc["state"]["notice"]["clearing_month"]: NoticeState.model_validate(doc["state"])
            async for doc in self.db[NOTICES].find({"state.notice.region": region})
        }

    async def days_of_institution(self, institution: str, month: str) -> list[Reconciliation]:
        found = self.db[RECONCILIATIONS].find(
            {"state.institution_code": institution, "state.day": {"$gte": f"{month}-01", "$lte": f"{month}-31"}}
        )
        return [Reconciliation.model_validate(doc["state"]) async for doc in found]

    async def institution_lines(self, institution: str, clearing_month: str) -> list[dict]:
        return await self._lines({"institution_code": institution, "clearing_month": clearing_month})

    async def appeals_of(self, *, institution: str | None = None, region: str | None = None) -> list[Appeal]:
        where: dict[str, str | None] = (
            {"state.institution_code": institution} if institution else {"state.treating_region": region}
        )
        return [Appeal.model_validate(doc["state"]) async for doc in self.db[APPEALS].find(where)]

    async def mismatches_of(self, region: str) -> list[Reconciliation]:
        found = self.db[RECONCILIATIONS].find(
            {
                "state.status": {"$in": list(MISMATCH_STATUSES)},
                "$or": [{"state.treating_region": region}, {"state.insured_regions": region}],
            }
        )
        return [Reconciliation.model_validate(doc["state"]) async for doc in found]

    # ------------------------------------------------------------ gauges
    async def reconciliation_states(self, statuses: tuple[str, ...]) -> list[dict]:
        return [doc["state"] async for doc in self.db[RECONCILIATIONS].find({"state.status": {"$in": list(statuses)}})]

    async def count_ledgers(self, status: str) -> int:
        return await self.db[LEDGERS].count_documents({"state.status": status})

    # ------------------------------------------------------------ replay (M-03)
    async def month_archived(self, month: str) -> tuple[list[dict], list[ClearingLedger], list[dict]]:
        """A clearing month as ``domain.replay`` takes it: its archived lines, its ledgers and its notices."""
        lines = [doc async for doc in self.db[ENTRIES].find({"clearing_month": month})]
        ledgers = [
            ClearingLedger.model_validate(open_document(doc)["state"])
            async for doc in self.db[LEDGERS].find({"state.clearing_month": month})
        ]
        notices = [
            open_document(doc)["state"]["notice"]
            async for doc in self.db[NOTICES].find({"state.notice.clearing_month": month})
        ]
        return lines, ledgers, notices


__all__ = ["ClearingReads", "GaugeReads", "MongoClearingReads", "PeriodReads"]
