"""Changes after registration 变更、暂停、恢复、取消、补齐材料、终止 (F-07, F-08, F-09, F-10, F-14).

F-14: each takes effect at the moment it is recorded; an ended filing is never reopened (M-03).
"""

from __future__ import annotations

import uuid
from datetime import date

from contracts.filing import (
    CancelFiling,
    ChangeFiling,
    ChangeKind,
    DeliverProof,
    FilingRefusalReason,
    FilingSnapshot,
    FilingStatus,
    Interval,
    ResumeFiling,
    SuspendFiling,
    TerminateInsurance,
)
from services.filing.domain import rules
from services.filing.domain.register import closed_suspensions
from services.filing.domain.work import Refuse, Work, stable_id

Result = tuple[FilingSnapshot | None, list[FilingSnapshot]]


def open_filing(work: Work, filing_id: uuid.UUID) -> FilingSnapshot:
    """The filing to act on: it must exist and not be ended for good."""
    filing = work.state.find(filing_id)
    if filing is None:
        raise Refuse(
            FilingRefusalReason.FILING_NOT_FOUND, "F-15", f"No filing {filing_id} for this person.", filing_id=filing_id
        )
    if filing.status.is_final:
        raise Refuse(
            FilingRefusalReason.FILING_ENDED,
            "M-03",
            f"Filing {filing_id} is {filing.status.value}; an ended filing is never reopened — register a new one.",
            filing_id=filing_id,
        )
    return filing


# ---------------------------------------------------------------- change (F-07, F-08, F-14)
def change(cmd: ChangeFiling, work: Work) -> Result:
    filing = open_filing(work, cmd.filing_id)
    updates: dict = {}
    if cmd.address is not None and cmd.address != filing.address:
        updates["address"] = cmd.address
    if cmd.phone is not None and cmd.phone != filing.phone:
        updates["phone"] = cmd.phone
    if cmd.end_date is not None and cmd.end_date != filing.valid_until:
        updates["valid_until"] = _new_end(work, filing, cmd.end_date)
    place = cmd.treating_region if cmd.treating_region != str(filing.treating_region) else None  # moving to it
    if not updates and place is None:
        raise Refuse(
            FilingRefusalReason.NOTHING_TO_CHANGE,
            "F-14",
            "The change names no field that differs from the filing.",
            filing_id=filing.filing_id,
        )
    note = cmd.reason or "information changed"
    if place is not None and filing.status is not FilingStatus.PENDING:
        return _move(cmd, work, filing, updates, note, place)
    if place is not None:  # still undecided: the application itself is corrected
        treating = rules.pooling_region(place, "treating")
        rules.cross_region(filing.insured_region, treating)
        updates["treating_region"] = treating
    return work.evolve(filing, ChangeKind.CHANGED, "F-14", note, **updates), []


def _new_end(work: Work, filing: FilingSnapshot, end: date) -> date | None:
    """F-07 bounds for a new last day; the past is not rewritten (M-03)."""
    if end < work.today:
        raise Refuse(
            FilingRefusalReason.END_IN_PAST,
            "M-03",
            f"New end {end} is in the past; a filing can end today at the earliest.",
            filing_id=filing.filing_id,
            earliest=work.today,
        )
    return rules.end_date(work.policy(filing.insured_region), filing.category, filing.valid_from, end)


def _move(cmd: ChangeFiling, work: Work, filing: FilingSnapshot, updates: dict, note: str, place: str) -> Result:
    """A new treating place ``place`` (F-08 after the lock): the old filing is superseded by a new one
    from today, so admissions at the old place before now keep their filing (M-03, F-09)."""
    treating = rules.pooling_region(place, "treating")
    rules.cross_region(filing.insured_region, treating)
    rules.unlocked(work.policy(filing.insured_region), filing, work.today, "moved to another place", "change_region")
    data = filing.model_dump()
    data.update(
        updates,
        filing_id=stable_id(filing.person_id, "change", cmd.request_id),
        version=1,
        treating_region=treating,
        place_since=work.today,
        valid_from=max(filing.valid_from, work.today),
        status=FilingStatus.ACTIVE,
        suspensions=(),
        supersedes=filing.filing_id,
        superseded_by=None,
        decided_at=work.now,
        change_kind=ChangeKind.CHANGED,
        rule="F-08",
        note=note,
        recorded_at=work.now,
        cause=work.cause,
    )
    new = FilingSnapshot.model_validate(data)
    others = [
        f for f in rules.supersession_targets(work.state.live(), new, work.today) if f.filing_id != filing.filing_id
    ]
    for other in others:
        rules.unlocked(
            work.policy(other.insured_region), other, work.today, "replaced by a new filing", "change_region"
        )
    ended = [
        work.evolve(
            old,
            ChangeKind.SUPERSEDED,
            "F-09",
            f"replaced by filing {new.filing_id}",
            status=FilingStatus.SUPERSEDED,
            ended_at=work.now,
            superseded_by=new.filing_id,
            suspensions=closed_suspensions(old, work),
        )
        for old in (filing, *others)
    ]
    return work.record(new), ended


# ---------------------------------------------------------------- suspend / resume (F-14)
def suspend(cmd: SuspendFiling, work: Work) -> Result:
    targets = _person_wide(work, cmd.filing_id, FilingStatus.ACTIVE, "suspended")
    done = [
        work.evolve(
            f,
            ChangeKind.SUSPENDED,
            "F-14",
            cmd.reason,
            status=FilingStatus.SUSPENDED,
            suspensions=(*f.suspensions, Interval(start=work.now)),
        )
        for f in targets
    ]
    return done[0], done[1:]


def resume(cmd: ResumeFiling, work: Work) -> Result:
    targets = _person_wide(work, cmd.filing_id, FilingStatus.SUSPENDED, "resumed")
    done = [
        work.evolve(
            f,
            ChangeKind.RESUMED,
            "F-14",
            cmd.reason,
            status=FilingStatus.ACTIVE,
            suspensions=closed_suspensions(f, work),
        )
        for f in targets
    ]
    return done[0], done[1:]


def _person_wide(work: Work, filing_id: uuid.UUID | None, needed: FilingStatus, act: str) -> list[FilingSnapshot]:
    """The named filing, or every filing of the person in ``needed`` status (F-14 treatment status)."""
    if filing_id is not None:
        filing = open_filing(work, filing_id)
        if filing.status is not needed:
            raise Refuse(
                FilingRefusalReason.INVALID_STATE,
                "F-14",
                f"Filing {filing_id} is {filing.status.value}; only a {needed.value} filing can be {act}.",
                filing_id=filing_id,
            )
        return [filing]
    targets = [f for f in work.state.live() if f.status is needed]
    if not targets:
        raise Refuse(
            FilingRefusalReason.NOTHING_TO_CHANGE, "F-14", f"The person has no {needed.value} filing to be {act}."
        )
    return targets


# ---------------------------------------------------------------- cancel (F-08)
def cancel(cmd: CancelFiling, work: Work) -> Result:
    filing = open_filing(work, cmd.filing_id)
    rules.unlocked(work.policy(filing.insured_region), filing, work.today, "cancelled", "cancel")
    return work.evolve(
        filing,
        ChangeKind.CANCELLED,
        "F-08",
        cmd.reason,
        status=FilingStatus.CANCELLED,
        ended_at=work.now,
        suspensions=closed_suspensions(filing, work),
    ), []


# ---------------------------------------------------------------- deliver proof (F-10)
def deliver_proof(cmd: DeliverProof, work: Work) -> Result:
    filing = open_filing(work, cmd.filing_id)
    new = [p for p in dict.fromkeys(cmd.proofs) if p not in filing.proofs_delivered]
    if not new:
        raise Refuse(
            FilingRefusalReason.NOTHING_TO_CHANGE,
            "F-10",
            "Every proof named is already on file.",
            filing_id=filing.filing_id,
        )
    delivered = (*filing.proofs_delivered, *new)
    commitment = filing.commitment
    probe = filing.model_copy(update={"proofs_delivered": delivered})
    note = "proof delivered: " + ", ".join(p.value for p in new)
    if commitment is not None and commitment.met_at is None and rules.commitment_met(probe):
        commitment = commitment.model_copy(update={"met_at": work.now})
        note += "; commitment met (F-10)"
    return work.evolve(filing, ChangeKind.CHANGED, "F-10", note, proofs_delivered=delivered, commitment=commitment), []


# ---------------------------------------------------------------- terminate (F-14)
def terminate(cmd: TerminateInsurance, work: Work) -> Result:
    """Insurance stopped: every filing still alive ends now (002 第十条(二); 004 第十条(四))."""
    done = [
        work.evolve(
            f,
            ChangeKind.TERMINATED,
            "F-14",
            cmd.reason,
            status=FilingStatus.TERMINATED,
            ended_at=work.now,
            suspensions=closed_suspensions(f, work),
        )
        for f in work.state.live()
    ]
    return (done[0] if done else None), done[1:]
