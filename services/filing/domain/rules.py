"""The filing rules as small checks; each raises :class:`Refuse` naming its rule ID."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from contracts.filing import Commitment, FilingRefusalReason, FilingSnapshot, FilingStatus, ProofKind
from contracts.values import PROVINCIAL_POOLING, FilingCategory, InsuranceType, RegionCode
from kernel.filings import places_overlap, same_pool
from kernel.sanctions import RegionSanctions
from runtime.calendar import WorkingCalendar
from services.filing.domain.clock import add_months, end_of_day
from services.filing.domain.policy import LockedAct, RegionPolicy
from services.filing.domain.work import Refuse

Groups = tuple[tuple[ProofKind, ...], ...]


# ---------------------------------------------------------------- F-06 places
def region(text: str, role: str) -> RegionCode:
    """A syntactically 6-digit code that GB/T 2260 does not know is refused, not crashed on."""
    try:
        return RegionCode(text)
    except ValueError as exc:
        raise Refuse(FilingRefusalReason.UNKNOWN_REGION, "F-06", f"{role} region: {exc}.") from None


def pooling_region(text: str, role: str) -> RegionCode:
    """F-06: a filing names a city, or a province only where pooling is provincial (北京…兵团)."""
    code = region(text, role)
    if code.endswith("0000") and str(code) not in PROVINCIAL_POOLING:
        raise Refuse(
            FilingRefusalReason.NOT_A_POOLING_REGION,
            "F-06",
            f"{role} region {code} is a province without provincial pooling: name its city "
            f"(e.g. {code[:2]}0100), never a single hospital (F-06).",
        )
    return code


def cross_region(insured: RegionCode, treating: RegionCode) -> None:
    """Filing only makes sense across regions: the same pool settles locally (F-06, S-08)."""
    if same_pool(insured, treating):
        raise Refuse(
            FilingRefusalReason.SAME_REGION,
            "F-06",
            f"Treating place {treating} is inside the insured place {insured}: no cross-region "
            "filing is needed or possible.",
        )


# ---------------------------------------------------------------- F-16, F-02
def not_sanctioned(sanctions: RegionSanctions, insured: RegionCode, now: datetime) -> None:
    """F-16: while the insured region's new filings are suspended (P-09), refuse them."""
    period = sanctions.new_filing_suspended(insured, now)
    if period is not None:
        raise Refuse(
            FilingRefusalReason.NEW_FILING_SUSPENDED,
            "F-16",
            f"New filings of insured region {insured} are suspended since {period.imposed_at:%Y-%m-%d} "
            "(prepayment top-up unpaid, P-09); retry once the suspension is lifted.",
        )


def category_allowed(policy: RegionPolicy, insurance: InsuranceType, category: FilingCategory) -> None:
    """F-02: resident-scheme insureds may file only the long-term categories their region allows."""
    allowed = policy.resident_long_term_categories.value
    if insurance is InsuranceType.RESIDENT and category.is_long_term and category not in allowed:
        names = ", ".join(c.value for c in allowed)
        raise Refuse(
            FilingRefusalReason.CATEGORY_NOT_ALLOWED,
            "F-02",
            f"Resident-scheme insureds of {policy.region} may file long-term only as: {names}; "
            f"'{category.value}' is for employees ({policy.resident_long_term_categories.source}).",
        )


# ---------------------------------------------------------------- F-07, F-11, F-13 dates
def effective_floor(policy: RegionPolicy, calendar: WorkingCalendar, today: date) -> date:
    """F-13, region policy: where the region defers it (Liaoning, 004 第九条: "在非工作日收到备案申请后，
    原则上应于上班后第1个工作日办结生效"), a filing received on a non-working day takes effect on the next
    working day; otherwise, and always on a working day, today."""
    if policy.non_working_day_effect.value == "at_once" or calendar.is_working_day(today):
        return today
    return calendar.next_working_day(today)


def retroactive_start(policy: RegionPolicy, today: date, start: date, admission: date | None) -> date:
    """F-11 补办: before discharge, starting no later than the admission, back-dated at most N months."""
    if admission is None:
        raise Refuse(
            FilingRefusalReason.ADMISSION_DATE_REQUIRED,
            "F-11",
            "A retroactive filing must give the admission date it is for.",
        )
    if admission > today:
        raise Refuse(
            FilingRefusalReason.ADMISSION_IN_FUTURE,
            "F-11",
            f"Admission {admission} is in the future; file normally instead.",
        )
    if start > admission:
        raise Refuse(
            FilingRefusalReason.RETROACTIVE_START_AFTER_ADMISSION,
            "F-11",
            f"A retroactive filing must start on or before the admission ({admission}); requested start {start}.",
        )
    earliest = add_months(today, -policy.retroactive_months.value)
    if start < earliest:
        raise Refuse(
            FilingRefusalReason.RETROACTIVE_WINDOW_EXCEEDED,
            "F-11",
            f"Back-dating is allowed {policy.retroactive_months.value} months at most: start on or after "
            f"{earliest} ({policy.retroactive_months.source}).",
            earliest=earliest,
        )
    return start


def normal_start(policy: RegionPolicy, calendar: WorkingCalendar, today: date, start: date) -> date:
    """A normal filing starts today or later, and never before it takes effect (F-13)."""
    if start < today:
        raise Refuse(
            FilingRefusalReason.START_IN_PAST,
            "F-11",
            f"Start {start} is in the past; for an admission already made, file retroactively "
            "with the admission date (F-11).",
            earliest=today,
        )
    return max(start, effective_floor(policy, calendar, today))


def latest_end(policy: RegionPolicy, category: FilingCategory, valid_from: date) -> date | None:
    """F-07: last valid day of a temporary filing; None for long-term (indefinite)."""
    months = policy.validity_months(category)
    return None if months is None else add_months(valid_from, months) - timedelta(days=1)


def end_date(policy: RegionPolicy, category: FilingCategory, valid_from: date, requested: date | None) -> date | None:
    """F-07: long-term filings run until cancelled; temporary ones for the region's months, or less."""
    latest = latest_end(policy, category, valid_from)
    if requested is None:
        return latest
    if latest is None:
        raise Refuse(
            FilingRefusalReason.END_DATE_NOT_ALLOWED,
            "F-07",
            f"A {category.value} filing is valid until cancelled; give no end date and cancel it "
            "when it is no longer needed (F-07, F-08).",
        )
    if requested < valid_from:
        raise Refuse(
            FilingRefusalReason.END_BEFORE_START, "F-07", f"End {requested} is before the first valid day {valid_from}."
        )
    if requested > latest:
        raise Refuse(
            FilingRefusalReason.END_BEYOND_VALIDITY,
            "F-07",
            f"A {category.value} filing is valid {policy.validity_months(category)} months at most: "
            f"last day {latest} ({_validity_source(policy, category)}).",
        )
    return requested


def _validity_source(policy: RegionPolicy, category: FilingCategory) -> str:
    sourced = (
        policy.referral_validity_months if category is FilingCategory.REFERRAL else policy.temporary_validity_months
    )
    return sourced.source


# ---------------------------------------------------------------- F-03, F-10 proofs
def missing_groups(groups: list[list[ProofKind]], delivered: set[ProofKind]) -> Groups:
    """Requirements no delivered proof satisfies (each requirement is a set of alternatives)."""
    return tuple(tuple(g) for g in groups if not set(g) & delivered)


def describe(groups: Groups) -> str:
    return "; ".join(" or ".join(p.value for p in g) for g in groups)


def commitments_this_year(filings: list[FilingSnapshot], today: date) -> int:
    """F-10 'at most once a year': commitments made in the current calendar year."""
    made = {(f.filing_id, f.commitment.made_at) for f in filings if f.commitment is not None}
    return sum(1 for _, at in made if at.year == today.year)


def commitment_for(
    policy: RegionPolicy,
    category: FilingCategory,
    delivered: set[ProofKind],
    promised: bool,
    filings: list[FilingSnapshot],
    now: datetime,
    today: date,
) -> Commitment | None:
    """F-03: every requirement met, or the missing ones promised by a personal commitment (F-10)."""
    missing = missing_groups(policy.proofs_for(category), delivered)
    if not missing:
        return None
    replaceable = set(policy.commitment_replaces.value)
    if not promised:
        hint = [g for g in missing if set(g) & replaceable]
        tail = f" A personal commitment may stand in for: {describe(tuple(hint))} (F-10)." if hint else ""
        raise Refuse(
            FilingRefusalReason.MISSING_PROOFS,
            "F-03",
            f"Missing proof for {category.value}: {describe(missing)}.{tail}",
            missing=missing,
        )
    hard = tuple(g for g in missing if not set(g) & replaceable)
    if hard:
        raise Refuse(
            FilingRefusalReason.MISSING_PROOFS,
            "F-03",
            f"Missing proof for {category.value} that no personal commitment can replace: "
            f"{describe(hard)} ({policy.commitment_replaces.source}).",
            missing=hard,
        )
    if commitments_this_year(filings, today) >= policy.commitments_per_year.value:
        raise Refuse(
            FilingRefusalReason.COMMITMENT_LIMIT,
            "F-10",
            f"A personal commitment was already used this year (limit "
            f"{policy.commitments_per_year.value}); deliver: {describe(missing)}.",
            missing=missing,
            earliest=date(today.year + 1, 1, 1),
        )
    due = end_of_day(add_months(today, policy.commitment_months.value))
    return Commitment(owed=missing, made_at=now, due_at=due)


def commitment_met(filing: FilingSnapshot) -> bool:
    commitment = filing.commitment
    return commitment is None or not missing_groups([list(g) for g in commitment.owed], set(filing.proofs_delivered))


# ---------------------------------------------------------------- F-08, F-09
def lock_until(policy: RegionPolicy, filing: FilingSnapshot) -> date:
    """F-08: first day a long-term filing may change place or be cancelled."""
    return add_months(filing.place_since, policy.change_lock_months.value)


def unlocked(policy: RegionPolicy, filing: FilingSnapshot, today: date, act: str, locks: LockedAct) -> None:
    """F-08: a decided long-term filing is locked for the region's months after its place took effect,
    for the acts the region locks (003 二(三): 变更或取消; Liaoning only 变更备案统筹区, 004 第十条(二))."""
    if not filing.is_long_term or filing.status is FilingStatus.PENDING:
        return
    if locks not in policy.change_lock_covers.value:
        return
    until = lock_until(policy, filing)
    if today < until:
        raise Refuse(
            FilingRefusalReason.CHANGE_LOCKED,
            "F-08",
            f"Long-term filing {filing.filing_id} to {filing.treating_region} took effect "
            f"{filing.place_since}; it cannot be {act} before {until} "
            f"({policy.change_lock_months.source}).",
            filing_id=filing.filing_id,
            earliest=until,
        )


def supersession_targets(live: list[FilingSnapshot], new: FilingSnapshot, today: date) -> list[FilingSnapshot]:
    """F-09: one filing per treating place, and across places one long-term and one temporary.
    An expired temporary filing no longer counts."""

    def counts(f: FilingSnapshot) -> bool:
        return f.filing_id != new.filing_id and (f.valid_until is None or f.valid_until >= today)

    return [
        f
        for f in live
        if counts(f) and (places_overlap(f.treating_region, new.treating_region) or f.is_long_term == new.is_long_term)
    ]
