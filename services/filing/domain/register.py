"""Registering a filing 办理备案 and deciding an online application (F-01..F-03, F-06, F-07,
F-09..F-11, F-13, F-16)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts.filing import (
    ChangeKind,
    DeadlineKind,
    FilingChannel,
    FilingSnapshot,
    FilingStatus,
    RegisterFiling,
)
from contracts.values import SHANGHAI
from kernel.filings import places_overlap
from services.filing.domain import rules
from services.filing.domain.clock import end_of_day, start_of_day
from services.filing.domain.policy import RegionPolicy
from services.filing.domain.work import Refuse, Work, stable_id


def register(cmd: RegisterFiling, work: Work) -> tuple[FilingSnapshot, list[FilingSnapshot]]:
    """Validate and record a new filing; returns it and the filings it superseded."""
    insured = rules.pooling_region(cmd.insured_region, "insured")
    treating = rules.pooling_region(cmd.treating_region, "treating")
    rules.cross_region(insured, treating)
    rules.not_sanctioned(work.sanctions, insured, work.now)  # F-16
    policy = work.policy(insured)
    rules.category_allowed(policy, cmd.insurance_type, cmd.category)  # F-02
    if cmd.end_date is not None and cmd.end_date < cmd.start_date:
        raise Refuse(
            rules.FilingRefusalReason.END_BEFORE_START, "F-07", f"End {cmd.end_date} is before start {cmd.start_date}."
        )
    instant = _self_service(cmd, policy)  # F-13: decided and effective at once
    if cmd.retroactive:  # F-11
        valid_from = rules.retroactive_start(policy, work.today, cmd.start_date, cmd.admission_date)
    elif instant and cmd.start_date >= work.today:  # 即时生效 (000 第九条): from the day asked, a holiday too
        valid_from = cmd.start_date
    else:
        valid_from = rules.normal_start(policy, work.calendar, work.today, cmd.start_date)  # F-13
    valid_until = rules.end_date(policy, cmd.category, valid_from, cmd.end_date)  # F-07
    commitment = rules.commitment_for(
        policy, cmd.category, set(cmd.proofs), cmd.personal_commitment, work.state.current(), work.now, work.today
    )  # F-03, F-10
    online = cmd.channel is FilingChannel.ONLINE and not instant
    decision_due = _decision_due(work, policy) if online else None
    snapshot = FilingSnapshot(
        filing_id=stable_id(cmd.person_id, "register", cmd.request_id),
        version=1,
        person_id=cmd.person_id,
        name=cmd.name,
        insurance_type=cmd.insurance_type,
        insured_region=insured,
        treating_region=treating,
        category=cmd.category,
        channel=cmd.channel,
        status=FilingStatus.PENDING if online else FilingStatus.ACTIVE,
        valid_from=valid_from,
        valid_until=valid_until,
        place_since=valid_from,
        retroactive=cmd.retroactive,
        admission_date=cmd.admission_date if cmd.retroactive else None,
        proofs_delivered=tuple(dict.fromkeys(cmd.proofs)),
        commitment=commitment,
        address=cmd.address,
        phone=cmd.phone,
        submitted_at=work.now,
        decided_at=None if online else work.now,
        decision_due_at=decision_due,
        policy_region=policy.region,
        change_kind=ChangeKind.REGISTERED,
        rule="F-13" if instant else "F-01",
        note=_note(cmd, policy, instant, decision_due),
        recorded_at=work.now,
        cause=work.cause,
        applied_through=cmd.authentication.channel if cmd.authentication else None,
    )
    # F-09/F-08 conflicts refuse at once, even online; an online filing supersedes only when decided.
    targets = _targets(work, snapshot)
    if online:
        targets = []
    snapshot = snapshot.model_copy(update={"supersedes": _main_target(snapshot, targets)})
    work.record(snapshot)
    if commitment is not None:
        work.schedule(snapshot, DeadlineKind.COMMITMENT_DUE, commitment.due_at)  # F-10
    if decision_due is not None:  # online
        work.schedule(snapshot, DeadlineKind.ONLINE_DECISION_DUE, decision_due)  # F-13
        return snapshot, []
    return snapshot, _come_into_force(work, snapshot, targets)


def _self_service(cmd: RegisterFiling, policy: RegionPolicy) -> bool:
    """F-13: a person's own online application (through a channel, with its authentication) of a category
    the insured region decides at once; a retroactive filing always waits for the agency (F-11: the
    admission it covers is checked)."""
    return (
        cmd.authentication is not None
        and cmd.channel is FilingChannel.ONLINE
        and not cmd.retroactive
        and cmd.category in policy.self_service_categories.value
    )


def _note(cmd: RegisterFiling, policy: RegionPolicy, instant: bool, due: datetime | None) -> str:
    """What was decided and why, in words for the person and the archive (004 第六条: results with reasons)."""
    if instant:
        return (
            f"self-service filing decided and effective at once in {policy.region}: the materials the region "
            f"requires are on file or promised (F-03, F-10) ({policy.self_service_categories.source}) (F-13)"
        )
    if due is None:
        return ""
    if cmd.retroactive:
        why = "a retroactive filing is checked against the admission it covers (F-11)"
    elif cmd.authentication is not None:
        why = f"{cmd.category.value} is not decided at once in {policy.region}"
    else:
        why = "online application"
    return f"awaiting the insured agency's review by the end of {due.astimezone(SHANGHAI).date()}: {why} (F-13)"


def _main_target(new: FilingSnapshot, targets: list[FilingSnapshot]) -> UUID | None:
    """The filing ``new`` replaces: the one at the same place first (F-09)."""
    ordered = sorted(targets, key=lambda f: not places_overlap(f.treating_region, new.treating_region))
    return ordered[0].filing_id if ordered else None


def _decision_due(work: Work, policy: RegionPolicy) -> datetime:
    """F-13: the online decision is due by the end of the N-th working day after receipt."""
    return end_of_day(work.calendar.add_working_days(work.today, policy.online_decision_working_days.value))


def _targets(work: Work, new: FilingSnapshot) -> list[FilingSnapshot]:
    """F-09 filings the new one replaces; refused if one is a long-term filing still locked (F-08)."""
    targets = rules.supersession_targets(work.state.live(), new, work.today)
    for old in targets:
        rules.unlocked(work.policy(old.insured_region), old, work.today, "replaced by a new filing", "change_region")
    return targets


def _come_into_force(work: Work, new: FilingSnapshot, targets: list[FilingSnapshot]) -> list[FilingSnapshot]:
    """Supersede the replaced filings now (F-09) and, for a later first day, ask to announce it (F-13)."""
    superseded = [
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
        for old in targets
    ]
    if new.valid_from > work.today:
        work.schedule(new, DeadlineKind.EFFECTIVE_DUE, start_of_day(new.valid_from))
    return superseded


def closed_suspensions(filing: FilingSnapshot, work: Work) -> tuple:
    """Close an open suspension when the filing ends, so the record reads cleanly."""
    return tuple(s if s.end is not None else s.model_copy(update={"end": work.now}) for s in filing.suspensions)


def decide_pending(
    filing: FilingSnapshot, work: Work, approve: bool, note: str
) -> tuple[FilingSnapshot, list[FilingSnapshot]]:
    """F-13: approve (after re-checking F-09/F-08 against today's state) or reject a pending filing."""
    if approve:
        try:
            targets = _targets(work, filing)
        except Refuse as refusal:
            approve, note = False, refusal.message
    if not approve:
        return work.evolve(
            filing, ChangeKind.DECIDED, "F-13", note or "rejected", status=FilingStatus.REJECTED, decided_at=work.now
        ), []
    decided = work.evolve(
        filing,
        ChangeKind.DECIDED,
        "F-13",
        note or "approved",
        status=FilingStatus.ACTIVE,
        decided_at=work.now,
        supersedes=_main_target(filing, targets),
    )
    return decided, _come_into_force(work, decided, targets)
