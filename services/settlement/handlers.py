"""Real-time settlement 直接结算: which topic is handled by which function (``registry``, at the bottom).

Every handler reads what the rules need (the filing read model, the sanctions, the participant
registry, the time), then has the person's aggregate decide once in ``domain/`` (pure) and the
store keep the decision (``adapters.py``); the metrics count the stored decision afterwards. A
HIS request, for example: :meth:`TreatingPlaceHandlers.settlement_requested` → ``filing_view.py``
and the sanctions projection (read) → ``domain/treating_place.py`` (decide) → ``adapters.py``
(store) → ``metrics.py`` (count).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from contracts.envelope import Envelope
from contracts.his import (
    AdmissionRegistered,
    DischargeSettlementRequested,
    ManualClaimUploaded,
    OutpatientVisitRequested,
    RefundRequested,
    SettlementCancelRequested,
)
from contracts.his_inquiry import EligibilityRequested, InStayFeeDetail
from contracts.ops import DeadlineDue
from contracts.parties import Institution
from contracts.settlement import ChronicQualificationRecorded, InsuredPersonRecorded, SettlementReversed
from contracts.settlement_hops import InsuredDecided, InsuredRollback, RefundAssessed, RefundDecided, TreatingAssessed
from runtime.calendar import WorkingCalendar
from runtime.outcome import Outcome
from runtime.parties import ParticipantRegistry
from services.sanctions import SanctionsProjection
from services.settlement.adapters import INSURED_ITEMS, VISITS_ITEMS, Answer, PersonAggregates, Stored, visits_region
from services.settlement.claim_decision_handlers import ClaimDecisionHandlers
from services.settlement.claim_handlers import PersonClaimHandlers
from services.settlement.domain import inquiries, manual_claims
from services.settlement.domain.person_claims import load_materials
from services.settlement.domain.catalogue import CatalogueBook
from services.settlement.domain.decision import REFUND_TIMEOUT, SettlementDecision
from services.settlement.domain.inquiries import PreSettlementRequested
from services.settlement.domain.insured_place import InsuredPlace, InsuredRecord
from services.settlement.domain.policy import PolicyBook
from services.settlement.domain.reversals import Reversals
from services.settlement.domain.treating import settlement_id_for
from services.settlement.domain.treating_place import Received, Reference, TreatingPlace
from services.settlement.domain.visits import Visits
from services.settlement.filing_view import FilingViews
from services.settlement.metrics import SettlementMetrics
from services.wiring import Handler, Now, Store

SettlementRequest = DischargeSettlementRequested | OutpatientVisitRequested
MANUAL_CLAIMS = "manual_claims"


class TreatingPlaceHandlers:
    """The treating place's aggregate of a person (``visits``): HIS requests, the insured place's
    answers, the answer deadlines, cancels and refunds."""

    def __init__(
        self,
        visits: PersonAggregates[Visits],
        filings: FilingViews,
        sanctions: SanctionsProjection,
        parties: ParticipantRegistry,
        reference: Reference,
        now: Now,
        metrics: SettlementMetrics,
    ) -> None:
        self.visits, self.filings, self.sanctions, self.parties = visits, filings, sanctions, parties
        self.reference, self.now, self.metrics = reference, now, metrics

    async def _received(self, person_id: str, institution_code: str) -> Received:
        """What the rules read of a HIS command: the person's filings, the sanctions, the registry's
        level of the institution (S-05: never the HIS's word) and the time of receipt."""
        party = self.parties.get(institution_code)
        return Received(
            now=self.now(),
            filings=await self.filings.load(person_id),
            sanctions=await self.sanctions.current(),
            registered_level=party.hospital_level if isinstance(party, Institution) else None,
            received_wall=time.time(),
        )

    def _counted(self, stored: Stored) -> str:
        self.metrics.count(stored.decision)
        return stored.result

    async def admission(self, env: Envelope[AdmissionRegistered]) -> str:
        req = env.payload
        got = await self._received(req.person_id, req.institution_code)
        return self._counted(
            await self.visits.apply(
                env, req.person_id, lambda visits: TreatingPlace(visits, self.reference).admission(req, got)
            )
        )

    async def settlement_requested(self, env: Envelope[SettlementRequest]) -> str:
        req = env.payload
        got = await self._received(req.person_id, req.institution_code)
        sid = settlement_id_for(req.institution_code, req.request_id)
        return self._counted(
            await self.visits.apply(
                env,
                req.person_id,
                lambda visits: TreatingPlace(visits, self.reference).settlement_requested(req, got),
                names=[sid],
            )
        )

    async def insured_decided(self, env: Envelope[InsuredDecided]) -> str:
        answer, now = env.payload, self.now()
        return self._counted(
            await self.visits.apply(
                env,
                answer.person_id,
                lambda visits: TreatingPlace(visits, self.reference).insured_decided(answer, now),
                names=[answer.settlement_id],
            )
        )

    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        """The two answer deadlines of S-01: a settlement's, a partial refund's."""
        due = env.payload

        def decide(visits: Visits) -> SettlementDecision:
            if due.kind == REFUND_TIMEOUT:
                return Reversals(visits, self.reference).refund_deadline(due)
            return TreatingPlace(visits, self.reference).answer_deadline(due)

        return self._counted(await self.visits.apply(env, due.subject, decide, names=[due.ref.split("|")[0]]))

    async def cancel_requested(self, env: Envelope[SettlementCancelRequested]) -> str:
        return await self._reverse(env)

    async def refund_requested(self, env: Envelope[RefundRequested]) -> str:
        return await self._reverse(env)

    async def _reverse(self, env: Envelope[SettlementCancelRequested] | Envelope[RefundRequested]) -> str:
        cmd, now = env.payload, self.now()
        return self._counted(
            await self.visits.apply(
                env,
                cmd.person_id,
                lambda visits: Reversals(visits, self.reference).reverse(cmd, env.sender, now),
                names=[cmd.settlement_id],
            )
        )

    async def refund_decided(self, env: Envelope[RefundDecided]) -> str:
        answer = env.payload
        return self._counted(
            await self.visits.apply(
                env,
                answer.person_id,
                lambda visits: Reversals(visits, self.reference).refund_decided(answer),
                names=[answer.settlement_id],
            )
        )


class InsuredPlaceHandlers:
    """The insured place's aggregate of a person (``insured``): decisions, rollbacks, the agency's records."""

    def __init__(self, people: PersonAggregates[InsuredRecord], policies: PolicyBook, now: Now) -> None:
        self.people, self.policies, self.now = people, policies, now

    async def _apply(
        self,
        env: Envelope,
        person_id: str,
        decide: Callable[[InsuredPlace], SettlementDecision],
        names: tuple[str | None, ...] = (),
    ) -> str:
        return (
            await self.people.apply(env, person_id, lambda person: decide(InsuredPlace(person, self.policies)), names)
        ).result

    async def assessed(self, env: Envelope[TreatingAssessed]) -> str:
        assessment, now = env.payload, self.now()
        return await self._apply(
            env, assessment.person_id, lambda place: place.assessed(assessment, now), (assessment.settlement_id,)
        )

    async def rollback(self, env: Envelope[InsuredRollback]) -> str:
        cmd = env.payload
        return await self._apply(
            env, cmd.person_id, lambda place: place.rollback(cmd), (cmd.settlement_id, cmd.reversal_id)
        )

    async def reversed(self, env: Envelope[SettlementReversed]) -> str:
        return await self._apply(env, env.payload.root.person_id, lambda place: place.reversed(env.payload))

    async def refund_assessed(self, env: Envelope[RefundAssessed]) -> str:
        cmd, now = env.payload, self.now()
        return await self._apply(
            env, cmd.person_id, lambda place: place.refund_assessed(cmd, now), (cmd.settlement_id, cmd.reversal_id)
        )

    async def chronic_qualification(self, env: Envelope[ChronicQualificationRecorded]) -> str:
        return await self._apply(env, env.payload.person_id, lambda place: place.chronic_qualification(env.payload))

    async def person_recorded(self, env: Envelope[InsuredPersonRecorded]) -> str:
        return await self._apply(env, env.payload.person_id, lambda place: place.person_recorded(env.payload))


class InquiryHandlers:
    """What a hospital asks before treating and before discharge (contracts.his_inquiry): read what a
    settlement would read, decide with its rules (``domain/inquiries.py``), answer the institution
    sealed. Nothing is stored: no accumulation, settlement, clearing line or prepayment movement."""

    def __init__(
        self, treating: TreatingPlaceHandlers, people: PersonAggregates[InsuredRecord], answer: Answer
    ) -> None:
        self.treating, self.people, self.answer = treating, people, answer

    async def eligibility(self, env: Envelope[EligibilityRequested]) -> str:
        req = env.payload
        got = await self.treating._received(req.person_id, req.institution_code)
        return await self.answer(env, inquiries.eligibility_answered(req, got, await self.people.peek(req.person_id)))

    async def pre_settlement(self, env: Envelope[PreSettlementRequested]) -> str:
        req = env.payload
        got = await self.treating._received(req.person_id, req.institution_code)
        sid = settlement_id_for(req.institution_code, req.request_id)
        visits, person = await asyncio.gather(
            self.treating.visits.peek(req.person_id, [sid]), self.people.peek(req.person_id, [sid])
        )
        return await self.answer(env, inquiries.pre_settled(req, got, visits, person, self.treating.reference))

    async def fee_detail(self, env: Envelope[InStayFeeDetail]) -> str:
        return await self.answer(
            env, inquiries.fee_detail_checked(env.payload, self.treating.now(), self.treating.reference)
        )


class ManualClaimHandlers:
    """Manual claims (S-17), one document each, sealed for the claim's insured region."""

    def __init__(self, store: Store, calendar: WorkingCalendar) -> None:
        self.store, self.calendar = store, calendar
        store.protect(MANUAL_CLAIMS, lambda s: (s.get("claim") or {}).get("insured_region"), keyed_by_person=False)

    async def uploaded(self, env: Envelope[ManualClaimUploaded]) -> str:
        claim = env.payload

        def run(raw: dict | None) -> Outcome:
            known = manual_claims.ManualClaim.model_validate(raw) if raw else None
            decided = manual_claims.uploaded(known, claim, self.calendar)
            return Outcome(state=decided.state.model_dump(mode="json") if decided.state is not None else None)

        return (await self.store.apply(MANUAL_CLAIMS, manual_claims.claim_key(claim), env, run)).result


def registry(
    store: Store,
    *,
    now: Now,
    parties: ParticipantRegistry,
    policies: PolicyBook,
    catalogues: CatalogueBook,
    sanctions: SanctionsProjection,
    metrics: SettlementMetrics,
    answer_ms: int,
    calendar: WorkingCalendar,
    answer: Answer,
    max_skew_seconds: float = 300,
) -> dict[str, Handler]:
    """The settlement service's handlers, each given what it needs (``app.py`` passes the runtime's)."""
    reference = Reference(policies, catalogues, answer_ms, timedelta(seconds=max_skew_seconds))
    filings = FilingViews(store)
    treating = TreatingPlaceHandlers(
        PersonAggregates(store, "visits", Visits, region=visits_region, parties=parties, items=VISITS_ITEMS),
        filings,
        sanctions,
        parties,
        reference,
        now,
        metrics,
    )
    people = PersonAggregates(store, "insured", InsuredRecord, items=INSURED_ITEMS)
    insured = InsuredPlaceHandlers(people, policies, now)
    inquiries = InquiryHandlers(treating, people, answer)
    claims = ManualClaimHandlers(store, calendar)
    person_claims = PersonClaimHandlers(store, now=now, calendar=calendar, materials=load_materials())  # S-17
    claim_decisions = ClaimDecisionHandlers(person_claims, people, filings, policies, catalogues, parties)
    return {
        # HIS → treating place
        "his.admission.v1": treating.admission,
        "his.settlement-requested.v1": treating.settlement_requested,
        "his.outpatient-requested.v1": treating.settlement_requested,
        "his.cancel-requested.v1": treating.cancel_requested,
        "his.refund-requested.v1": treating.refund_requested,
        "his.manual-claim.v1": claims.uploaded,
        # the person's own manual claims (S-17; claim_handlers.py)
        "settlement.manual-claim-submit.v1": person_claims.submit,
        "settlement.manual-claim-documents.v1": person_claims.documents,
        "settlement.manual-claim-verify.v1": person_claims.verify,
        "settlement.manual-claim-decide.v1": claim_decisions.decide,  # 经办 then 复核 (S-05..S-09)
        "settlement.manual-claim-pay.v1": claim_decisions.pay,  # paid at home, never cleared
        # HIS → treating place, answered without effect (contracts.his_inquiry)
        "his.eligibility-requested.v1": inquiries.eligibility,
        "his.outpatient-pre-settlement.v1": inquiries.pre_settlement,
        "his.discharge-pre-settlement.v1": inquiries.pre_settlement,
        "his.fee-detail-uploaded.v1": inquiries.fee_detail,
        # treating place ⇄ insured place (S-01)
        "settlement.treating-assessed.v1": insured.assessed,
        "settlement.insured-decided.v1": treating.insured_decided,
        "settlement.insured-rollback.v1": insured.rollback,
        "settlement.refund-assessed.v1": insured.refund_assessed,  # partial refund (S-15)
        "settlement.refund-decided.v1": treating.refund_decided,
        "settlement.reversed.v1": insured.reversed,
        "settlement.deadline-due.v1": treating.deadline_due,
        "settlement.chronic-qualification.v1": insured.chronic_qualification,
        "settlement.insured-person.v1": insured.person_recorded,  # groups, account balance (S-06)
        # read models
        "filing.changed.v1": filings.changed,
        "prepayment.sanction.v1": sanctions.apply,
    }
