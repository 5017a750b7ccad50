"""What the settlement service's two sides need from the outside, in one place: reference data,
the clock, the filing read model, the sanctions projection, the participant registry, the stores,
metrics."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from contracts.envelope import Envelope
from contracts.filing_view import PersonFilingView
from contracts.parties import Institution
from contracts.settlement import PartyRefusalCode, clearing_month_of
from runtime.calendar import at_business_start
from runtime.outcome import Outcome
from runtime.parties import ParticipantRegistry
from runtime.service import Service
from services.sanctions import SanctionsProjection
from services.settlement.domain.catalogue import CatalogueBook
from services.settlement.domain.policy import PolicyBook
from services.settlement.domain.refusal import Refused
from services.settlement.flow import sealed_results
from services.settlement.metrics import SettlementMetrics
from services.settlement.state import InsuredPerson, Visits

FILING_VIEW = "filing_view"
MANUAL_CLAIMS = "manual_claims"
GENERATION_DAY = 21   # C-02: the month after a settlement is cleared from the 21st


@dataclass
class SettlementContext:
    service: Service
    policies: PolicyBook
    catalogues: CatalogueBook
    sanctions: SanctionsProjection
    metrics: SettlementMetrics
    timeout_ms: int

    def __post_init__(self) -> None:
        # a person's documents are stored under their pseudonym and sealed with the data key of
        # their insured region (003 §5 (三)); the insured place's state names no region, so the
        # region of the first message that wrote it (an assessment, an agency record) is kept
        store = getattr(self.service, "store", None)
        if store is None:   # an in-memory context (unit tests) stores nothing
            return
        store.protect("visits", visits_region)
        store.protect("insured")
        store.protect(FILING_VIEW, view_region)
        store.protect(MANUAL_CLAIMS, lambda s: (s.get("claim") or {}).get("insured_region"), keyed_by_person=False)

    def now(self) -> datetime:
        return self.service.clock.now()

    async def filing_view(self, person_id: str) -> PersonFilingView | None:
        raw = await self.service.store.load(FILING_VIEW, person_id)
        return PersonFilingView.model_validate(raw) if raw else None

    @property
    def parties(self) -> ParticipantRegistry:
        """The participant registry as this instance follows it (003 §5 (三))."""
        return self.service.parties

    def institution(self, code: str) -> Institution:
        """The registry's entry of institution ``code``: its registered level, never the HIS's word, sets
        deductible and ratio (S-05). The authority table already refused a sender that is none."""
        party = self.parties.get(code)
        if not isinstance(party, Institution):
            raise Refused(PartyRefusalCode.NOT_AN_INSTITUTION, f"{code} is no institution of the participant registry")
        return party

    async def visits(self, env: Envelope, person_id: str, decide: Callable[[Visits], Outcome]) -> str:
        """Apply ``decide`` to the treating place's aggregate of the person; the results it sends the HIS
        leave sealed to their institution (003 §5 (三))."""
        return await self._apply("visits", Visits, env, person_id,
                                 lambda visits: sealed_results(self.parties, decide(visits)))

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


def visits_region(state: dict) -> str | None:
    """The insured region the person's first stored HIS request names."""
    for request in (state.get("requests") or {}).values():
        return (request.get("request") or {}).get("insured_region")
    return None


def view_region(state: dict) -> str | None:
    """The insured region of a filing in the person's read model (its newest version)."""
    for versions in (state.get("filings") or {}).values():
        if versions:
            return versions[-1].get("insured_region")
    return None
