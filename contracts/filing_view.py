"""Who is filed where, and may this visit settle directly? — the shared read side of filing.

Pure, no I/O, imports only from ``contracts``. Used by the filing service itself and by every
consumer of ``filing.changed.v1`` (settlement F-04, F-05, F-12, S-11, S-12; collab).

* :class:`PersonFilingView` / :class:`FilingView` fold :class:`~contracts.filing.FilingChanged`
  events idempotently: a re-delivered or older snapshot never overwrites a newer one, and
  every version is kept as history (M-03).
* :func:`in_force_at` says whether one filing covers a moment (F-07, F-12, F-14).
* :func:`eligibility` answers the settlement question for one visit or admission.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from enum import StrEnum

from pydantic import BaseModel, Field

from contracts.envelope import Contract
from contracts.filing import FilingChanged, FilingSnapshot, FilingStatus
from contracts.values import SHANGHAI, FilingCategory, MedicalType, RegionCode


# ---------------------------------------------------------------- time and place
def business_date(moment: datetime) -> date:
    """The date an agency in China sees at ``moment`` (Asia/Shanghai)."""
    return moment.astimezone(SHANGHAI).date()


def start_of_day(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, as an aware UTC moment."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def as_moment(when: date | datetime) -> datetime:
    """An admission given as a date is read at the start of that day: a filing ended later that
    day still counts, one that starts that day counts too."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("admission moment must be timezone-aware")
        return when.astimezone(UTC)
    return start_of_day(when)


def same_pool(insured_region: str, treating_region: str) -> bool:
    """True when care happens inside the insured pooling region: not cross-region at all (S-08).
    A provincial pool (F-06) contains every city of its province."""
    insured = RegionCode(insured_region)
    return str(insured) == str(treating_region) or (
        insured.is_provincial_pool and str(treating_region)[:2] == insured[:2])


def place_covers(filed_region: str, treating_region: str) -> bool:
    """F-06: a filing to a provincial pool (e.g. 460000 Hainan) covers every city in it; a filing
    to a city covers that city only. Never a single hospital."""
    filed = RegionCode(filed_region)
    if str(filed) == str(treating_region):
        return True
    return filed.is_provincial_pool and str(treating_region)[:2] == filed[:2]


def places_overlap(a: str, b: str) -> bool:
    """Two filing targets name the same treating place (F-09 uniqueness per place)."""
    return place_covers(a, b) or place_covers(b, a)


# ---------------------------------------------------------------- one filing at one moment
class CoverageGap(StrEnum):
    """Why a filing does not cover a moment."""
    PENDING = "filing_pending"
    REJECTED = "filing_rejected"
    NOT_YET_VALID = "filing_not_yet_valid"
    EXPIRED = "filing_expired"
    ENDED = "filing_ended"
    SUSPENDED = "filing_suspended"


def coverage_gap(filing: FilingSnapshot, moment: datetime) -> CoverageGap | None:
    """None when ``filing`` is in force at ``moment``; otherwise why not.

    F-07 validity window by business date; F-14 suspensions and endings count from their
    effective moment; F-12 is the caller's part: ask about the admission, not the discharge."""
    if filing.status is FilingStatus.PENDING:
        return CoverageGap.PENDING
    if filing.status is FilingStatus.REJECTED:
        return CoverageGap.REJECTED
    day = business_date(moment)
    if day < filing.valid_from:
        return CoverageGap.NOT_YET_VALID
    if filing.valid_until is not None and day > filing.valid_until:
        return CoverageGap.EXPIRED
    if filing.ended_at is not None and moment >= filing.ended_at:
        return CoverageGap.ENDED
    if any(s.start <= moment and (s.end is None or moment < s.end) for s in filing.suspensions):
        return CoverageGap.SUSPENDED
    return None


def in_force_at(filing: FilingSnapshot, when: date | datetime) -> bool:
    return coverage_gap(filing, as_moment(when)) is None


# ---------------------------------------------------------------- projection
class PersonFilingView(BaseModel):
    """All filings of one person as the consumer has seen them: every version kept (M-03).

    Serialise with ``model_dump(mode="json")``; one document per person."""
    person_id: str
    filings: dict[str, list[FilingSnapshot]] = Field(default_factory=dict,
                                                     description="filing_id → versions, ascending")

    def apply(self, event: FilingChanged) -> bool:
        """Fold one event. Returns False for a re-delivery (same version already held); an older
        version arriving late joins the history without replacing the newer current one."""
        if event.person_id != self.person_id:
            raise ValueError("event belongs to another person")
        versions = self.filings.setdefault(str(event.filing_id), [])
        if any(v.version == event.version for v in versions):
            return False
        versions.append(event.snapshot)
        versions.sort(key=lambda v: v.version)
        return True

    def current(self) -> list[FilingSnapshot]:
        """The newest known version of every filing."""
        return [versions[-1] for versions in self.filings.values() if versions]

    def history(self, filing_id: uuid.UUID | str) -> list[FilingSnapshot]:
        return list(self.filings.get(str(filing_id), []))

    def as_recorded_at(self, moment: datetime) -> list[FilingSnapshot]:
        """What was on record at ``moment`` (audit: what could a hospital have known then)."""
        seen = ([v for v in versions if v.recorded_at <= moment] for versions in self.filings.values())
        return [versions[-1] for versions in seen if versions]


class FilingView(BaseModel):
    """Read model of many persons (a cache or a test); production keeps one
    :class:`PersonFilingView` document per person."""
    persons: dict[str, PersonFilingView] = Field(default_factory=dict)

    def apply(self, event: FilingChanged) -> bool:
        person = self.persons.setdefault(event.person_id, PersonFilingView(person_id=event.person_id))
        return person.apply(event)

    def person(self, person_id: str) -> PersonFilingView | None:
        return self.persons.get(person_id)

    def filings(self, person_id: str) -> list[FilingSnapshot]:
        person = self.persons.get(person_id)
        return person.current() if person else []


# ---------------------------------------------------------------- eligibility
class EligibilityBasis(StrEnum):
    LONG_TERM = "long_term"                # F-01 long-term filing (S-08 local rates)
    TEMPORARY = "temporary"                # F-01 temporary filing (S-09 reduced rates)
    DEEMED_EMERGENCY = "deemed_emergency"  # F-04 / S-11 视同已备案
    NO_FILING_NEEDED = "no_filing_needed"  # F-05 general outpatient, pharmacy


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


_GAP_RULE = {CoverageGap.PENDING: "F-13", CoverageGap.REJECTED: "F-13", CoverageGap.NOT_YET_VALID: "F-13",
             CoverageGap.EXPIRED: "F-07", CoverageGap.ENDED: "F-14", CoverageGap.SUSPENDED: "F-14"}

_GAP_TEXT = {
    CoverageGap.PENDING: "the online filing is still awaiting its decision (F-13)",
    CoverageGap.REJECTED: "the filing application was rejected",
    CoverageGap.NOT_YET_VALID: "the filing is not yet in force on that date (F-07, F-13)",
    CoverageGap.EXPIRED: "the filing had expired before that date (F-07)",
    CoverageGap.ENDED: "the filing was ended (superseded, cancelled, revoked or terminated) before that date",
    CoverageGap.SUSPENDED: "the filing was suspended on that date (F-14)",
}


def _snapshots(source: FilingView | PersonFilingView | Iterable[FilingSnapshot],
               person_id: str) -> list[FilingSnapshot]:
    if isinstance(source, FilingView):
        return source.filings(person_id)
    if isinstance(source, PersonFilingView):
        return source.current() if source.person_id == person_id else []
    return [f for f in source if f.person_id == person_id]


def _covering(filings: list[FilingSnapshot], treating_region: str,
              moment: datetime) -> tuple[FilingSnapshot | None, FilingSnapshot | None, CoverageGap | None]:
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
    return Eligibility(eligible=True, basis=basis, category=filing.category, filing_id=filing.filing_id,
                       reason_code=EligibilityReason.COVERED, rule=rule,
                       message=f"{text}: {filing.category.value} filing {filing.filing_id} to "
                               f"{filing.treating_region}")


def _emergency() -> Eligibility:
    return Eligibility(eligible=True, basis=EligibilityBasis.DEEMED_EMERGENCY,
                       reason_code=EligibilityReason.DEEMED_EMERGENCY, rule="F-04",
                       message="Emergency: deemed filed (视同已备案), settles at emergency rates (F-04, S-11).")


def _no(filings: list[FilingSnapshot], near: FilingSnapshot | None, gap: CoverageGap | None,
        treating_region: str) -> Eligibility:
    tail = (" A filing may still be made retroactively before discharge (F-11, S-12); otherwise the "
            "patient pays and claims at the insured place (S-17).")
    if near is not None and gap is not None:
        return Eligibility(eligible=False, category=near.category, filing_id=near.filing_id,
                           reason_code=EligibilityReason(gap.value), rule=_GAP_RULE[gap],
                           message=f"No valid filing: {_GAP_TEXT[gap]}." + tail)
    live_elsewhere = [f for f in filings if not f.status.is_final]
    if live_elsewhere:
        places = ", ".join(sorted({str(f.treating_region) for f in live_elsewhere}))
        return Eligibility(eligible=False, reason_code=EligibilityReason.FILED_ELSEWHERE, rule="F-06",
                           message=f"Filed for {places}, not for {treating_region} (F-06)." + tail)
    return Eligibility(eligible=False, reason_code=EligibilityReason.NO_FILING, rule="F-06",
                       message=f"No filing for {treating_region}." + tail)


def eligibility(source: FilingView | PersonFilingView | Iterable[FilingSnapshot], person_id: str,
                insured_region: str, treating_region: str, medical_type: MedicalType,
                admission_date: date | datetime, emergency_flag: bool = False,
                chronic_qualified: bool = False) -> Eligibility:
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
        return Eligibility(eligible=False, reason_code=EligibilityReason.NOT_CROSS_REGION, rule="S-08",
                           message="Treating place is the insured place: settle locally, not across regions "
                                   "(long-term filers keep local rates at home, S-08).")
    filings = [f for f in _snapshots(source, person_id) if str(f.insured_region) == str(insured_region)]
    moment = as_moment(admission_date)
    filing, near, gap = _covering(filings, treating_region, moment)
    if medical_type is MedicalType.CHRONIC_OUTPATIENT and not chronic_qualified:
        return Eligibility(eligible=False, reason_code=EligibilityReason.CHRONIC_NOT_QUALIFIED, rule="F-05",
                           filing_id=filing.filing_id if filing else None,
                           message="Chronic/special outpatient needs the insured place's chronic-disease "
                                   "qualification (门诊慢特病资格认定) (F-05, S-13).")
    if filing is not None:
        return _yes(filing, "F-12" if medical_type is MedicalType.INPATIENT else "F-06", "Filed")
    if emergency_flag:
        return _emergency()
    if medical_type in (MedicalType.GENERAL_OUTPATIENT, MedicalType.PHARMACY):
        return Eligibility(eligible=True, basis=EligibilityBasis.NO_FILING_NEEDED,
                           reason_code=EligibilityReason.NO_FILING_NEEDED, rule="F-05",
                           message="General outpatient and pharmacy purchases need no filing (F-05).")
    return _no(filings, near, gap, treating_region)
