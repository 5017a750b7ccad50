"""May this visit settle directly across regions? (F-04, F-05, F-06, F-12, S-08, S-11, S-12, S-13)

Shared kernel 共享内核: pure, no I/O. The settlement service asks it for every admission and
visit (treating place, S-01); the filing tests ask it what a hospital would be told.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from contracts.envelope import Contract
from contracts.filing import FilingSnapshot
from contracts.values import EligibilityBasis, FilingCategory, MedicalType
from kernel.filings import CoverageGap, FilingView, PersonFilingView, as_moment, coverage_gap, place_covers, same_pool


class EligibilityReason(StrEnum):
    COVERED = "covered"
    DEEMED_EMERGENCY = "deemed_emergency"
    NO_FILING_NEEDED = "no_filing_needed"
    NOT_CROSS_REGION = "not_cross_region"
    NO_FILING = "no_filing"
    FILED_ELSEWHERE = "filed_elsewhere"
    CHRONIC_NOT_QUALIFIED = "chronic_not_qualified"
    FILING_PENDING = "filing_pending"
    FILING_REJECTED = "filing_rejected"
    FILING_NOT_YET_VALID = "filing_not_yet_valid"
    FILING_EXPIRED = "filing_expired"
    FILING_ENDED = "filing_ended"
    FILING_SUSPENDED = "filing_suspended"


class Eligibility(Contract):
    """Answer to "may this visit settle directly across regions?" (F-04, F-05, F-12, S-11, S-12)."""

    eligible: bool
    basis: EligibilityBasis | None = Field(default=None, description="Why it may settle; None when not.")
    category: FilingCategory | None = Field(default=None, description="Category of the filing used.")
    filing_id: uuid.UUID | None = Field(default=None, description="Filing used or found, if any.")
    reason_code: EligibilityReason
    rule: str = Field(description="Rule ID behind the answer.", examples=["F-12"])
    message: str = Field(description="Short text the hospital can show the patient (S-19).")


_GAP_RULE = {
    CoverageGap.PENDING: "F-13",
    CoverageGap.REJECTED: "F-13",
    CoverageGap.NOT_YET_VALID: "F-13",
    CoverageGap.EXPIRED: "F-07",
    CoverageGap.ENDED: "F-14",
    CoverageGap.SUSPENDED: "F-14",
}

_GAP_TEXT = {
    CoverageGap.PENDING: "the online filing is still awaiting its decision (F-13)",
    CoverageGap.REJECTED: "the filing application was rejected",
    CoverageGap.NOT_YET_VALID: "the filing is not yet in force on that date (F-07, F-13)",
    CoverageGap.EXPIRED: "the filing had expired before that date (F-07)",
    CoverageGap.ENDED: "the filing was ended (superseded, cancelled, revoked or terminated) before that date",
    CoverageGap.SUSPENDED: "the filing was suspended on that date (F-14)",
}


def _snapshots(
    source: FilingView | PersonFilingView | Iterable[FilingSnapshot], person_id: str
) -> list[FilingSnapshot]:
    if isinstance(source, FilingView):
        return source.filings(person_id)
    if isinstance(source, PersonFilingView):
        return source.current() if source.person_id == person_id else []
    return [f for f in source if f.person_id == person_id]


def _covering(
    filings: list[FilingSnapshot], treating_region: str, moment: datetime
) -> tuple[FilingSnapshot | None, FilingSnapshot | None, CoverageGap | None]:
    """(filing in force, else the best near-miss at that place and why it misses)."""
    here = [f for f in filings if place_covers(f.treating_region, treating_region)]
    in_force = [f for f in here if coverage_gap(f, moment) is None]
    if in_force:
        # long-term first: it carries the better (local) rates, S-08
        return sorted(in_force, key=lambda f: (not f.is_long_term, -f.version))[0], None, None
    if not here:
        return None, None, None
    near = max(here, key=lambda f: f.recorded_at)
    return None, near, coverage_gap(near, moment)


def _yes(filing: FilingSnapshot, rule: str, text: str) -> Eligibility:
    basis = EligibilityBasis.LONG_TERM if filing.is_long_term else EligibilityBasis.TEMPORARY
    return Eligibility(
        eligible=True,
        basis=basis,
        category=filing.category,
        filing_id=filing.filing_id,
        reason_code=EligibilityReason.COVERED,
        rule=rule,
        message=f"{text}: {filing.category.value} filing {filing.filing_id} to {filing.treating_region}",
    )


def _emergency() -> Eligibility:
    return Eligibility(
        eligible=True,
        basis=EligibilityBasis.DEEMED_EMERGENCY,
        reason_code=EligibilityReason.DEEMED_EMERGENCY,
        rule="F-04",
        message="Emergency: deemed filed (视同已备案), settles at emergency rates (F-04, S-11).",
    )


def _no(
    filings: list[FilingSnapshot], near: FilingSnapshot | None, gap: CoverageGap | None, treating_region: str
) -> Eligibility:
    tail = (
        " A filing may still be made retroactively before discharge (F-11, S-12); otherwise the "
        "patient pays and claims at the insured place (S-17)."
    )
    if near is not None and gap is not None:
        return Eligibility(
            eligible=False,
            category=near.category,
            filing_id=near.filing_id,
            reason_code=EligibilityReason(gap.value),
            rule=_GAP_RULE[gap],
            message=f"No valid filing: {_GAP_TEXT[gap]}." + tail,
        )
    live_elsewhere = [f for f in filings if not f.status.is_final]
    if live_elsewhere:
        places = ", ".join(sorted({str(f.treating_region) for f in live_elsewhere}))
        return Eligibility(
            eligible=False,
            reason_code=EligibilityReason.FILED_ELSEWHERE,
            rule="F-06",
            message=f"Filed for {places}, not for {treating_region} (F-06)." + tail,
        )
    return Eligibility(
        eligible=False,
        reason_code=EligibilityReason.NO_FILING,
        rule="F-06",
        message=f"No filing for {treating_region}." + tail,
    )


def eligibility(
    source: FilingView | PersonFilingView | Iterable[FilingSnapshot],
    person_id: str,
    insured_region: str,
    treating_region: str,
    medical_type: MedicalType,
    admission_date: date | datetime,
    emergency_flag: bool = False,
    chronic_qualified: bool = False,
) -> Eligibility:
    """May this visit or admission settle directly across regions?

    * same pooling region → not cross-region (local settlement; long-term filers may settle back
      home at local rates, S-08);
    * a filing in force on the admission (or visit) date at that place → long-term / temporary;
      an admission inside validity stays eligible whatever the discharge date (F-12);
    * else the emergency flag → deemed filed (F-04, S-11);
    * general outpatient and pharmacy need no filing (F-05);
    * chronic outpatient needs a filing and the insured place's qualification (F-05, S-13);
    * inpatient needs a filing (F-06), else refused with a reason the patient can read (S-12).
    Only filings made under ``insured_region`` count: a new insured place needs a new filing (F-09).
    """
    if same_pool(insured_region, treating_region):
        return Eligibility(
            eligible=False,
            reason_code=EligibilityReason.NOT_CROSS_REGION,
            rule="S-08",
            message="Treating place is the insured place: settle locally, not across regions "
            "(long-term filers keep local rates at home, S-08).",
        )
    filings = [f for f in _snapshots(source, person_id) if str(f.insured_region) == str(insured_region)]
    moment = as_moment(admission_date)
    filing, near, gap = _covering(filings, treating_region, moment)
    if medical_type is MedicalType.CHRONIC_OUTPATIENT and not chronic_qualified:
        return Eligibility(
            eligible=False,
            reason_code=EligibilityReason.CHRONIC_NOT_QUALIFIED,
            rule="F-05",
            filing_id=filing.filing_id if filing else None,
            message="Chronic/special outpatient needs the insured place's chronic-disease "
            "qualification (门诊慢特病资格认定) (F-05, S-13).",
        )
    if filing is not None:
        return _yes(filing, "F-12" if medical_type is MedicalType.INPATIENT else "F-06", "Filed")
    if emergency_flag:
        return _emergency()
    if medical_type in (MedicalType.GENERAL_OUTPATIENT, MedicalType.PHARMACY):
        return Eligibility(
            eligible=True,
            basis=EligibilityBasis.NO_FILING_NEEDED,
            reason_code=EligibilityReason.NO_FILING_NEEDED,
            rule="F-05",
            message="General outpatient and pharmacy purchases need no filing (F-05).",
        )
    return _no(filings, near, gap, treating_region)
