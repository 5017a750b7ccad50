"""Who is filed where, and does a filing cover a moment? — the shared read side of filing.

Shared kernel 共享内核: pure, no I/O. The filing service folds its own events with it and every
consumer of ``filing.changed.v1`` too (settlement F-04, F-05, F-12, S-11, S-12; collab).

* :class:`PersonFilingView` / :class:`FilingView` fold :class:`~contracts.filing.FilingChanged`
  events idempotently: a re-delivered or older snapshot never overwrites a newer one, and
  every version is kept as history (M-03).
* :func:`coverage_gap` / :func:`in_force_at` say whether one filing covers a moment (F-07, F-12, F-14).
* :func:`place_covers`, :func:`same_pool` and :func:`places_overlap`: which places a filing names (F-06, F-09, S-08).

May a visit settle directly? is :func:`kernel.eligibility.eligibility`, built on these.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from contracts.filing import FilingChanged, FilingSnapshot, FilingStatus
from contracts.values import RegionCode, at_business_start
from contracts.values import business_date as business_date  # the one business date (contracts.values)


# ---------------------------------------------------------------- time and place
def start_of_day(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, as an aware UTC moment (how filings store their bounds)."""
    return at_business_start(day).astimezone(UTC)


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
        insured.is_provincial_pool and str(treating_region)[:2] == insured[:2]
    )


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
    filings: dict[str, list[FilingSnapshot]] = Field(
        default_factory=dict, description="filing_id → versions, ascending"
    )

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
