"""What the supervision rules read of a completed settlement (``contracts.settlement.SettlementCompleted``):
the indicators' :class:`SettledVisit` (no person at all) and the rules' :class:`AuditedSettlement` (the
person only as the pseudonym the caller gives)."""

from __future__ import annotations

from contracts.settlement import FeeDetailUploaded, SettlementCompleted, SettlementReversed
from contracts.values import MedicalType
from services.supervision.domain.audit import AuditedSettlement
from services.supervision.domain.fee_lines import FeeDetail
from services.supervision.domain.indicators import Reversal, SettledVisit, length_of_stay, month_of


def settled_visit(s: SettlementCompleted) -> SettledVisit:
    stay = s.admission_date is not None and s.discharge_date is not None
    return SettledVisit(
        settlement_id=s.settlement_id,
        month=month_of(s.settled_on),
        insured_region=str(s.insured_region),
        treating_region=str(s.treating_region),
        institution_code=str(s.institution_code),
        medical_type=s.medical_type,
        total=s.slip.total,
        fund_paid=s.slip.fund_total,
        self_paid=s.slip.self_paid,
        bed_days=length_of_stay(s.admission_date, s.discharge_date) if stay else None,  # type: ignore[arg-type]
    )


def audited_settlement(s: SettlementCompleted, person_ref: str) -> AuditedSettlement:
    return AuditedSettlement(
        settlement_id=s.settlement_id,
        person_ref=person_ref,
        institution_code=str(s.institution_code),
        insured_region=str(s.insured_region),
        treating_region=str(s.treating_region),
        medical_type=s.medical_type,
        settled_on=s.settled_on,
        total=s.slip.total,
        fund_paid=s.slip.fund_total,
        admission_date=s.admission_date,
        discharge_date=s.discharge_date,
    )


def audited_fee_detail(d: FeeDetailUploaded, person_ref: str) -> FeeDetail:
    """A stay's fee detail (S-18, inpatient only) as the fee-line rules read it: no funds on it, and the
    person only as the pseudonym the caller gives."""
    stay = AuditedSettlement(
        settlement_id=d.settlement_id,
        person_ref=person_ref,
        institution_code=str(d.institution_code),
        insured_region=str(d.insured_region),
        treating_region=str(d.treating_region),
        medical_type=MedicalType.INPATIENT,
        settled_on=d.settled_on,
        total=d.totals.total,
        fund_paid=None,
    )
    return FeeDetail(settlement=stay, lines=tuple(d.lines))


def reversal(event: SettlementReversed) -> Reversal:
    """A cancel takes the whole slip back; a refund its signed difference, the whole visit only when no
    replacement slip is left of it (S-15)."""
    r = event.root
    c = r.compensation
    whole = r.outcome == "cancelled" or getattr(r, "replacement", None) is None
    return Reversal(
        reversal_id=r.reversal_id,
        settlement_id=r.settlement_id,
        total=c.total,
        fund_paid=c.fund_total,
        self_paid=c.self_paid,
        whole=whole,
    )
