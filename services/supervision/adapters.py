"""What the supervision query API reads of the stored aggregates: :class:`SupervisionReads`, through the
aggregate store (the runtime's, or the in-memory one in the handler tests).

The indicator cells hold no person and are stored in clear; the flags name a person's pseudonym and
their amounts and are sealed at rest, so a list opens every flag (``Store.states``) and the query keeps
what the asking party may see."""

from __future__ import annotations

from services.supervision.domain.audit import Flag
from services.supervision.domain.indicators import Cell
from services.wiring import Store

CELLS, FLAGS, HISTORIES, PEERS, COUNTED = "cells", "flags", "histories", "peers", "counted"
# the fee details audited once (S-18); where each settlement's reversals go (S-15)
DETAILS, REVERSALS = "fee_details", "reversals"


class SupervisionReads:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def cells(self) -> list[Cell]:
        return [Cell.model_validate(s) for s in await self.store.states(CELLS)]

    async def flags(self) -> list[Flag]:
        return [Flag.model_validate(s) for s in await self.store.states(FLAGS)]

    async def flag(self, flag_id: str) -> Flag | None:
        raw = await self.store.load(FLAGS, flag_id)
        return Flag.model_validate(raw) if raw else None
