"""The workflow around a flag 疑点 (R-04; 000 第五十七条; 003 六): the treating place's agency reviews it
(dismisses it 排除, hands it to the insured place 移交参保地, or turns it into an audit deduction 审核扣款
through clearing), the institution may appeal 申诉 until the flag's ``appeal_by``, and the agency upholds
or rejects the appeal. Every step is recorded on the flag with who signed it and when. A step the flag's
state does not allow is refused (``ValueError``, with the words the sender hears). Pure: the time is given.

    open ──review──▶ dismissed | lead        open ──deduction──▶ deducted
    open | lead ──appeal (by appeal_by)──▶ appealed ──upheld──▶ upheld
                                                  └──rejected──▶ (the status before)

A deducted flag's money is appealed where it was deducted: clearing's appeal of the deduction
(``his.deduction-appealed.v1``, R-04), which pays it back if withdrawn (R-05)."""

from __future__ import annotations

from datetime import datetime

from contracts.clearing import RecordAuditDeduction
from contracts.supervision import AppealFlag, DecideAppeal, ReviewDecision, ReviewFlag
from services.supervision.domain.audit import Flag, FlagStep

APPEALABLE = ("open", "lead")
REVIEWED = {ReviewDecision.DISMISS: "dismissed", ReviewDecision.LEAD: "lead"}


def _step(flag: Flag, status: str, action: str, by: str, at: datetime, note: str = "", **changes: object) -> Flag:
    steps = [*flag.steps, FlagStep(action=action, by=by, at=at, note=note)]
    return flag.model_copy(update={"status": status, "steps": steps, **changes})


def _of_region(flag: Flag, region: str) -> None:
    if flag.treating_region != region:
        raise ValueError(f"flag {flag.flag_id} is of treating region {flag.treating_region}, not {region} (R-04)")


def review(flag: Flag, c: ReviewFlag, by: str, now: datetime) -> Flag:
    """The treating agency's review of an open flag: dismissed, or handed to the insured place."""
    _of_region(flag, str(c.treating_region))
    if flag.status != "open":
        raise ValueError(f"flag {flag.flag_id} is {flag.status}: only an open flag is reviewed (R-04)")
    status = REVIEWED[c.decision]
    return _step(flag, status, status, by, now, c.note)


def deducted(flag: Flag, d: RecordAuditDeduction, by: str, now: datetime) -> Flag | None:
    """The audit deduction clearing records for the flag (R-04): the flag is closed as deducted. One that does
    not match the flag's settlement and region, or comes for a flag no longer open, changes nothing (None):
    clearing took it, so it is the ledger's, and the flag keeps its own course."""
    if d.settlement_id != flag.settlement_id or str(d.treating_region) != flag.treating_region:
        return None
    if flag.status != "open":
        return None
    return _step(flag, "deducted", "deducted", by, now, d.reason, deduction_id=d.deduction_id)


def appeal(flag: Flag, c: AppealFlag, by: str, now: datetime) -> Flag:
    """申诉: the flag's own institution, while the flag is open or handed over, by ``appeal_by``."""
    if flag.institution_code != str(c.institution_code):
        raise ValueError(f"flag {flag.flag_id} is not on a settlement of {c.institution_code}")
    _of_region(flag, str(c.treating_region))
    if flag.status == "deducted":
        raise ValueError(
            f"flag {flag.flag_id} became audit deduction {flag.deduction_id}: appeal the deduction "
            "(his.deduction-appealed.v1, R-04)"
        )
    if flag.status not in APPEALABLE:
        raise ValueError(f"flag {flag.flag_id} is {flag.status}: it cannot be appealed")
    if now > flag.appeal_by:
        raise ValueError(f"the appeal period of flag {flag.flag_id} ended at {flag.appeal_by.isoformat()} (M-02)")
    return _step(flag, "appealed", "appealed", by, now, c.reason, before_appeal=flag.status)


def decide_appeal(flag: Flag, c: DecideAppeal, by: str, now: datetime) -> Flag:
    """The treating agency upholds the appeal (the flag is withdrawn) or rejects it (back to where it was)."""
    _of_region(flag, str(c.treating_region))
    if flag.status != "appealed":
        raise ValueError(f"flag {flag.flag_id} is {flag.status}: there is no appeal to decide")
    if c.upheld:
        return _step(flag, "upheld", "upheld", by, now, c.note)
    return _step(flag, flag.before_appeal or "open", "rejected", by, now, c.note, before_appeal=None)
