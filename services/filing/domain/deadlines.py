"""A persisted deadline has fired 到期处理 (F-10 commitment, F-13 online decision and effect)."""

from __future__ import annotations

from contracts.filing import ChangeKind, DeadlineKind, FilingDeadlineDue, FilingSnapshot, FilingStatus
from services.filing.domain import rules
from services.filing.domain.register import closed_suspensions, decide_pending
from services.filing.domain.work import Work

Result = tuple[FilingSnapshot | None, list[FilingSnapshot]]
NOTHING: Result = (None, [])


def deadline_due(due: FilingDeadlineDue, work: Work) -> Result:
    """Act on a fired deadline; a deadline overtaken by events (filing ended, proof delivered,
    decision made) changes nothing."""
    filing = work.state.find(due.filing_id)
    if filing is None or filing.status.is_final:
        return NOTHING
    if due.kind is DeadlineKind.COMMITMENT_DUE:
        return _commitment_due(due, filing, work)
    if due.kind is DeadlineKind.ONLINE_DECISION_DUE:
        if filing.status is not FilingStatus.PENDING:
            return NOTHING
        return decide_pending(filing, work, True, "approved at the decision deadline (F-13)")
    return _effective_due(filing, work)


def _commitment_due(due: FilingDeadlineDue, filing: FilingSnapshot, work: Work) -> Result:
    """F-10: proof promised and not delivered by the deadline ends the filing at the deadline; what
    follows is the region's: Liaoning cancels it and what was settled on it is to be recovered (004
    第七条 即时取消备案资格); Wuhu's commitment gave the current stay its benefits and nothing is
    recovered (001 三(二) 当次可享受)."""
    commitment = filing.commitment
    if commitment is None or rules.commitment_met(filing):  # no commitment, or it is met
        return NOTHING
    policy = work.policy(filing.insured_region)
    recover = policy.unmet_commitment.value == "revoke_and_recover"
    owed = rules.missing_groups([list(g) for g in commitment.owed], set(filing.proofs_delivered))
    outcome = (
        "benefits settled on it are recoverable"
        if recover
        else "stays admitted before it keep their benefits, nothing is recovered"
    )
    note = (
        f"commitment to deliver {rules.describe(owed)} by {due.due_date} not met: filing revoked, {outcome} "
        f"(F-10; {policy.unmet_commitment.source})"
    )
    return work.evolve(
        filing,
        ChangeKind.REVOKED,
        "F-10",
        note,
        status=FilingStatus.REVOKED,
        ended_at=due.due_at,
        benefits_recoverable=recover,
        suspensions=closed_suspensions(filing, work),
    ), []


def _effective_due(filing: FilingSnapshot, work: Work) -> Result:
    """F-13: announce that a filing dated later (e.g. received on a holiday) is now in force."""
    if filing.status is not FilingStatus.ACTIVE or filing.valid_from > work.today:
        return NOTHING
    return work.evolve(filing, ChangeKind.EFFECTIVE, "F-13", f"in force from {filing.valid_from}"), []
