"""What a hospital asks before treating and before discharge 待遇检查、预结算、住院明细上传 (S-01..S-14,
S-20; national interface 1101, 2206, 2301, 2303). Pure, and without effect: each function decides on
copies of what the handler read (the filing read model, the sanctions, the person's two aggregates)
by the very rules a settlement runs, and returns the answer; nothing it computes is stored.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contracts.his import DischargeSettlementRequested
from contracts.his_inquiry import (
    AccumulationRow,
    DischargePreSettlementRequested,
    EligibilityAnswered,
    EligibilityRequested,
    FeeDetailChecked,
    InStayFeeDetail,
    OutpatientPreSettlementRequested,
    PreSettled,
    PreSettlementBasis,
    Suspension,
)
from contracts.his_result import SettlementResult
from contracts.settlement_hops import InsuredDecided, TreatingAssessed
from contracts.settlement_values import RefusalCode
from contracts.values import MedicalType
from kernel.eligibility import eligibility
from runtime.calendar import business_date
from services.settlement.domain import treating
from services.settlement.domain.accumulations import counter_rows
from services.settlement.domain.decision import ASSESSED, DECIDED, RESULT, SettlementDecision
from services.settlement.domain.insured_place import InsuredPlace, InsuredRecord
from services.settlement.domain.refusal import Refused
from services.settlement.domain.treating_place import Received, Reference, TreatingPlace
from services.settlement.domain.visits import Visits

PreSettlementRequested = OutpatientPreSettlementRequested | DischargePreSettlementRequested

# what a pre-settlement's figures rest on: if none changes, the settlement that follows is the same (S-05)
CHANGES_IF = [
    "another settlement, cancel or refund of the person changes their year-to-date accumulations (S-05, S-14)",
    "the person's filing changes, ends or is suspended (F-07, F-12, F-14)",
    "the insured region's new admissions are suspended or the suspension is lifted (S-20)",
    "the insured place's policy or the treating place's catalogue in force changes (S-02, S-03, S-05)",
    "the bill itself changes (lines, dates, flags)",
]


def _rows(person: InsuredRecord, year: int) -> list[AccumulationRow]:
    return [AccumulationRow(**row) for row in counter_rows(person.counters.get(year, {}))]


def eligibility_answered(req: EligibilityRequested, got: Received, person: InsuredRecord) -> EligibilityAnswered:
    """人员待遇享受检查: the same eligibility function the settlement applies (F-04, F-05, F-12, S-11), the
    chronic qualification the insured place recorded (S-13), the suspension of S-20, the accumulations (S-05)."""
    qualified = req.chronic_disease_code in person.chronic_qualifications if req.chronic_disease_code else None
    answer = eligibility(
        got.filings.current() if got.filings else [],
        req.person_id,
        req.insured_region,
        req.treating_region,
        req.medical_type,
        req.on,
        emergency_flag=req.emergency,
        chronic_qualified=bool(qualified),
    )
    filing = next((f for f in (got.filings.current() if got.filings else []) if f.filing_id == answer.filing_id), None)
    suspended = (
        got.sanctions.admission_suspended(req.insured_region, got.now)
        if req.medical_type is MedicalType.INPATIENT
        else None
    )
    return EligibilityAnswered(
        request_id=req.request_id,
        person_id=req.person_id,
        institution_code=req.institution_code,
        eligible=answer.eligible and suspended is None,
        basis=answer.basis if suspended is None else None,
        reason_code="admission_suspended" if suspended else answer.reason_code.value,
        rule="S-20" if suspended else answer.rule,
        message=(
            "New admissions of insureds of this region are suspended for unpaid clearing funds (S-20, P-09)."
            if suspended
            else answer.message
        ),
        filing_id=answer.filing_id,
        filing_category=filing.category if filing else answer.category,
        filing_status=filing.status.value if filing else None,
        filing_valid_from=filing.valid_from if filing else None,
        filing_valid_until=filing.valid_until if filing else None,
        admission_suspended=Suspension(since=suspended.imposed_at.isoformat())
        if suspended and suspended.imposed_at
        else None,
        chronic_qualifications=sorted(person.chronic_qualifications),
        chronic_qualified=qualified,
        accumulations_year=req.on.year,
        accumulations=_rows(person, req.on.year),
        personal_account_balance=str(person.personal_account_balance.quantize(Decimal("0.01")))
        if person.person_recorded_at
        else None,
    )


def _only(decided: SettlementDecision, topic: str):
    return next((m.payload for m in decided.messages if m.topic == topic), None)


def pre_settled(
    req: PreSettlementRequested, got: Received, visits: Visits, person: InsuredRecord, reference: Reference
) -> PreSettled:
    """预结算: the request run through the treating place, the insured place and back (S-01..S-14) on copies
    of the person's aggregates, at the moment of receipt; the result the HIS would hear, nothing kept."""
    year_before = _rows(person, treating.service_date(req).year)
    assessed = TreatingPlace(visits, reference).settlement_requested(req, got)
    result = _only(assessed, RESULT)
    assessment: TreatingAssessed | None = _only(assessed, ASSESSED)
    if assessment is not None:
        answer: InsuredDecided = _only(InsuredPlace(person, reference.policies).assessed(assessment, got.now), DECIDED)
        result = _only(TreatingPlace(visits, reference).insured_decided(answer, got.now), RESULT)
    assert isinstance(result, SettlementResult), "every request is answered completed or refused"
    day = treating.service_date(req)
    catalogue = reference.catalogue(req)
    policy = reference.policies.select(req.insured_region, day)
    basis = PreSettlementBasis(
        computed_at=got.now.isoformat(),
        accumulations=year_before,
        filing_id=_filing_of(got, req),
        eligibility_basis=assessment.eligibility_basis if assessment else None,
        catalogue=f"{catalogue.id} from {catalogue.valid_from}",
        policy=f"{req.insured_region} from {policy.effective_from}",
        admission_suspended=bool(got.sanctions.admission_suspended(req.insured_region, got.now)),
        changes_if=CHANGES_IF,
    )
    return PreSettled(
        request_id=req.request_id,
        person_id=req.person_id,
        institution_code=req.institution_code,
        result=result,
        basis=basis,
    )


def _filing_of(got: Received, req: PreSettlementRequested):
    when = req.admission_date if isinstance(req, DischargeSettlementRequested) else req.visit_date
    return eligibility(
        got.filings.current() if got.filings else [],
        req.person_id,
        req.insured_region,
        req.treating_region,
        req.medical_type,
        when,
        emergency_flag=req.emergency,
        chronic_qualified=True,
    ).filing_id


def fee_detail_checked(req: InStayFeeDetail, now: datetime, reference: Reference) -> FeeDetailChecked:
    """住院费用明细上传: the stay's lines so far, each checked and split as the discharge settlement will
    (S-02..S-04, S-16, S-19: the line at fault named); a stay still going is dated up to today."""
    today = business_date(now)
    stay = DischargeSettlementRequested.model_validate(
        {**req.model_dump(), "medical_type": MedicalType.INPATIENT, "discharge_date": max(today, req.admission_date)}
    )
    answer = dict(request_id=req.request_id, person_id=req.person_id, institution_code=req.institution_code)
    try:
        if req.medical_type is not MedicalType.INPATIENT:
            raise Refused(RefusalCode.INVALID_REQUEST, "fee detail is uploaded during an inpatient stay")
        if req.admission_date > today:
            raise Refused(
                RefusalCode.DATE_IN_FUTURE,
                f"admission_date {req.admission_date} is after the day of receipt {today} (S-12)",
            )
        treating.check_request(stay)
        lines = treating.split_lines(stay, reference.catalogue(stay))
    except Refused as refusal:
        return FeeDetailChecked(
            **answer,
            accepted=False,
            code=refusal.code.value,
            message=refusal.message,
            line_no=refusal.line_no,
            title_zh=refusal.title_zh,
        )
    return FeeDetailChecked(**answer, accepted=True, lines=lines, totals=treating.sum_splits(lines))
