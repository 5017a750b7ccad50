"""What the settlement service's two sides need from the outside, in one place: reference data,
the clock, the filing read model, the sanctions projection, the stores, metrics."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from contracts.envelope import Envelope
from contracts.filing_view import PersonFilingView
from contracts.settlement import clearing_month_of
from runtime.calendar import at_business_start
from runtime.outcome import Outcome
from runtime.service import Service
from services.sanctions import SanctionsProjection
from services.settlement.domain.catalogue import CatalogueBook
from services.settlement.domain.policy import PolicyBook
from services.settlement.metrics import SettlementMetrics
from services.settlement.state import InsuredPerson, Visits

FILING_VIEW = "filing_view"
GENERATION_DAY = 21   # C-02: the month after a settlement is cleared from the 21st


@dataclass
class SettlementContext:
    service: Service
    policies: PolicyBook
    catalogues: CatalogueBook
    sanctions: SanctionsProjection
    metrics: SettlementMetrics
    timeout_ms: int

    def now(self) -> datetime:
        return self.service.clock.now()

    async def filing_view(self, person_id: str) -> PersonFilingView | None:
        raw = await self.service.store.load(FILING_VIEW, person_id)
        return PersonFilingView.model_validate(raw) if raw else None

    async def visits(self, env: Envelope, person_id: str, decide: Callable[[Visits], Outcome]) -> str:
        """Apply ``decide`` to the treating place's aggregate of the person."""
        return await self._apply("visits", Visits, env, person_id, decide)

    async def insured(self, env: Envelope, person_id: str, decide: Callable[[InsuredPerson], Outcome]) -> str:
        """Apply ``decide`` to the insured place's aggregate of the person."""
        return await self._apply("insured", InsuredPerson, env, person_id, decide)

    async def _apply(self, collection: str, model, env: Envelope, person_id: str, decide) -> str:
        def run(raw: dict | None) -> Outcome:
            return decide(model.model_validate(raw) if raw else model(person_id=person_id))
        return (await self.service.store.apply(collection, person_id, env, run)).result

    @staticmethod
    def cleared(settled_on: date, now: datetime) -> bool:
        """Cleared between agencies (S-15, 004 第三十四条): the settlement month's clearing data is
        generated on the 21st of the next month (C-02); from then on it cannot be recalled."""
        year, month = map(int, clearing_month_of(settled_on).split("-"))
        return now >= at_business_start(date(year, month, GENERATION_DAY))
