"""The P-09 sanctions projection, kept by each service that enforces a sanction in its own store
(filing: F-16, settlement: S-20), fed by ``prepayment.sanction.v1``."""

from __future__ import annotations

import time

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.prepayment import PrepaymentSanction
from kernel.sanctions import RegionSanctions, SanctionNotice
from runtime.outcome import Outcome

COLLECTION, DOC_ID = "sanctions", "region-sanctions"


class _State(BaseModel):
    sanctions: RegionSanctions = RegionSanctions()


class SanctionsProjection:
    """Read on every request of the hot path, so kept for ``max_age`` seconds in memory: a
    sanction takes effect within that much of its arrival (the store is shared by all the
    service's instances, each of which receives only some partitions of the sanction topic)."""

    def __init__(self, store, max_age: float = 1.0) -> None:
        self.store, self.max_age = store, max_age  # runtime.store.AggregateStore (or runtime.memory's)
        self._cached: tuple[float, RegionSanctions] | None = None
        store.declare(COLLECTION)

    async def current(self) -> RegionSanctions:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < self.max_age:
            return self._cached[1]
        raw = await self.store.load(COLLECTION, DOC_ID)
        sanctions = _State.model_validate(raw).sanctions if raw else RegionSanctions()
        self._cached = (now, sanctions)
        return sanctions

    async def apply(self, env: Envelope[PrepaymentSanction]) -> str:
        s = env.payload
        notice = SanctionNotice(
            sanction_id=str(s.sanction_id),
            insured_region=str(s.insured_region),
            kind=s.kind,
            action=s.action.value,
            effective_at=s.effective_at,
        )

        def run(raw: dict | None) -> Outcome:
            state = _State.model_validate(raw) if raw else _State()
            return Outcome(state=_State(sanctions=state.sanctions.apply(notice)).model_dump(mode="json"))

        outcome = await self.store.apply(COLLECTION, DOC_ID, env, run)
        self._cached = None
        return outcome.result
