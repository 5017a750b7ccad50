"""The P-09 sanctions projection, kept by each service that enforces a sanction in its own store
(filing: F-16, settlement: S-20), fed by ``prepayment.sanction.v1``."""
from __future__ import annotations

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.prepayment import PrepaymentSanction
from contracts.sanctions_view import RegionSanctions, SanctionNotice
from runtime.outcome import Outcome
from runtime.service import Service

COLLECTION, DOC_ID = "sanctions", "region-sanctions"


class _State(BaseModel):
    sanctions: RegionSanctions = RegionSanctions()


class SanctionsProjection:
    def __init__(self, service: Service) -> None:
        self.svc = service

    async def current(self) -> RegionSanctions:
        raw = await self.svc.store.load(COLLECTION, DOC_ID)
        return _State.model_validate(raw).sanctions if raw else RegionSanctions()

    async def apply(self, env: Envelope[PrepaymentSanction]) -> str:
        s = env.payload
        notice = SanctionNotice(sanction_id=str(s.sanction_id), insured_region=str(s.insured_region),
                                kind=s.kind, action=s.action.value, effective_at=s.effective_at)

        def run(raw: dict | None) -> Outcome:
            state = _State.model_validate(raw) if raw else _State()
            return Outcome(state=_State(sanctions=state.sanctions.apply(notice)).model_dump(mode="json"))
        outcome = await self.svc.store.apply(COLLECTION, DOC_ID, env, run)
        return "duplicate" if outcome.duplicate else "applied"
