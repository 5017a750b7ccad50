"""What the prepayment service reads and writes besides its own aggregates: the ledger 预付金台账
(``domain/ledger.py``), one document per movement in the ``movements`` collection, id
``<account key>:<seq>``, with the account key in ``account``, never edited (M-03).

:class:`MovementLedger` is what the handlers and the query API need of it: keep an account's
movements (idempotent upserts), find them all, up to a business day, or those that move one ledger
account (P-10). :class:`MongoMovements` answers it on the service's database, with the
``(account, on)`` index made once per process. The fast handler tests give an in-memory
implementation of the same protocol (``tests/unit/prepayment/prepayment_support.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.prepayment.domain.ledger import LedgerAccount, Movement

MOVEMENTS = "movements"


class MovementLedger(Protocol):
    async def keep(self, key: str, movements: list[Movement]) -> None:
        """Archive ``movements`` of account ``key``, each once however often it is kept."""
        ...

    async def find(self, key: str) -> list[Movement]:
        """Every archived movement of account ``key``."""
        ...

    async def upto(self, key: str, on: date) -> list[Movement]:
        """The archived movements of account ``key`` up to the end of business day ``on``."""
        ...

    async def touching(self, key: str, account: LedgerAccount, on: date) -> list[Movement]:
        """The archived movements of ``key`` up to ``on`` that move ledger account ``account``."""
        ...


class MongoMovements:
    """The ledger in the ``movements`` collection, written by idempotent upserts (``$setOnInsert``,
    an unordered bulk write)."""

    def __init__(self, db: AsyncDatabase, collection: str = MOVEMENTS) -> None:
        self.db, self.collection = db, collection
        self._indexed = False

    @property
    def col(self) -> AsyncCollection:
        return self.db[self.collection]

    async def keep(self, key: str, movements: list[Movement]) -> None:
        if not movements:
            return
        ops = [
            UpdateOne(
                {"_id": f"{key}:{m.seq}"}, {"$setOnInsert": {**m.model_dump(mode="json"), "account": key}}, upsert=True
            )
            for m in movements
        ]
        await self.col.bulk_write(ops, ordered=False)

    async def _find(self, key: str, **query: Any) -> list[Movement]:
        if not self._indexed:
            await self.col.create_index([("account", 1), ("on", 1)])
            self._indexed = True
        fields = {name: 0 for name in ("_id", "account")}
        return [Movement.model_validate(doc) async for doc in self.col.find({"account": key, **query}, fields)]

    async def find(self, key: str) -> list[Movement]:
        return await self._find(key)

    async def upto(self, key: str, on: date) -> list[Movement]:
        return await self._find(key, on={"$lte": on.isoformat()})

    async def touching(self, key: str, account: LedgerAccount, on: date) -> list[Movement]:
        return await self._find(
            key, on={"$lte": on.isoformat()}, **{"$or": [{"debit": account.value}, {"credit": account.value}]}
        )
