"""An in-memory ledger of movements for the prepayment service's fast handler tests: the
``MovementLedger`` protocol of ``services/prepayment/adapters.py`` over a dict, with the answers of
``MongoMovements`` (each movement kept once by its id ``<account key>:<seq>``, M-03)."""

from __future__ import annotations

from datetime import date

from services.prepayment.domain.ledger import LedgerAccount, Movement


class MemoryMovements:
    def __init__(self) -> None:
        self.documents: dict[str, tuple[str, Movement]] = {}  # "<account key>:<seq>" → (account key, movement)

    async def keep(self, key: str, movements: list[Movement]) -> None:
        for m in movements:
            self.documents.setdefault(f"{key}:{m.seq}", (key, m))  # $setOnInsert: never edited

    async def find(self, key: str) -> list[Movement]:
        return [m for account, m in self.documents.values() if account == key]

    async def upto(self, key: str, on: date) -> list[Movement]:
        return [m for m in await self.find(key) if m.on <= on]

    async def touching(self, key: str, account: LedgerAccount, on: date) -> list[Movement]:
        return [m for m in await self.upto(key, on) if account in (m.debit, m.credit)]
