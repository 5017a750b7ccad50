"""Manual claims 手工报销 (S-17): when direct settlement failed, the hospital uploads the fee details;
they are kept for the insured place with the upload deadline counted on working days (000 第八十四条: 10
working days). The 20 working days of the decision run from the day the person's materials are complete,
a verification letter's reply included (004 第三十三条), not from this upload: ``person_claims.py`` counts them."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.his import ManualClaimUploaded
from runtime.calendar import WorkingCalendar
from services.settlement.domain.decision import SettlementDecision

UPLOAD_WORKING_DAYS = 10  # S-17: within 10 working days of the failed settlement


class ManualClaim(BaseModel):
    """One uploaded claim (the ``manual_claims`` document, keyed ``<institution>:<request id>``)."""

    claim: ManualClaimUploaded
    upload_due: str
    uploaded_late: bool
    decide_by: str | None = None  # once counted from the upload; S-17 counts from complete materials (person_claims)
    calendar: str


def claim_key(claim: ManualClaimUploaded) -> str:
    return f"{claim.institution_code}:{claim.request_id}"


def uploaded(
    known: ManualClaim | None, claim: ManualClaimUploaded, calendar: WorkingCalendar
) -> SettlementDecision[ManualClaim]:
    """S-17: kept once, with whether it came late and when it must be decided; a repeat changes nothing."""
    if known is not None:
        return SettlementDecision()
    due = calendar.add_working_days(claim.end_date, UPLOAD_WORKING_DAYS)
    return SettlementDecision(
        ManualClaim(
            claim=claim,
            upload_due=due.isoformat(),
            uploaded_late=claim.uploaded_on > due,
            calendar=calendar.source,
        )
    )
