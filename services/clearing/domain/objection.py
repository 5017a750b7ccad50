"""Objections to a generated period (C-02; 004 第四十六条: "如有确认不通过的，…立即沟通…协调解决").

A side that does not accept its figures objects, with its reasons, by the end of the 25th (receipt time,
as a confirmation): later it is refused, and silence has confirmed it. An open objection holds its side —
no explicit confirmation, and the 25th's silence passes it by — until the level that coordinates the pair
resolves it: the national agency between provinces (004 第四十六条 "沟通国家经办机构协调解决"), the province
within one ("沟通省经办机构协调解决"). Resolved by the 25th, the side confirms (or objects again, or stays
silent) as any other; resolved later, the resolution confirms it (the month-end notice waits for no one:
an upheld objection's correction is a deduction or correction of a later period, R-04/R-05)."""

from __future__ import annotations

from datetime import datetime

from contracts.clearing import (
    ClearingObjectionRecorded,
    ClearingObjectionResolved,
    ObjectClearingPeriod,
    ObjectionView,
    PeriodConfirmedBy,
    ResolveClearingObjection,
)
from contracts.values import RegionCode
from services.outcome import Decision

from .ledger import ClearingLedger, LateConfirmation, PeriodStatus, _confirmed, ordinal, side_due


class ObjectionRefused(ValueError):
    """An objection or resolution a rule refuses (answered to its sender, REFUSED_BY_RULE)."""


def coordinator(insured: str, treating: str) -> str | None:
    """Who resolves: the province within one (its code), the national level (None) across provinces."""
    return None if insured[:2] != treating[:2] else RegionCode(insured).province


def object_to(
    ledger: ClearingLedger, cmd: ObjectClearingPeriod, objector: str, now: datetime
) -> Decision[ClearingLedger]:
    if ledger.status is PeriodStatus.OPEN:
        raise ObjectionRefused(f"C-02: clearing period {ledger.key} is not generated yet (the 21st)")
    due = side_due(ledger, cmd.side)
    if now > due:
        raise LateConfirmation(
            f"C-02: the objection {cmd.objection_id} to {ledger.key} was received at "
            f"{now.isoformat()}, after the end of the {ordinal(due.day)} ({due.isoformat()}); the "
            f"{cmd.side.value} side is confirmed"
        )
    if cmd.side in ledger.confirmations:
        raise ObjectionRefused(
            f"C-02: the {cmd.side.value} side of {ledger.key} is already confirmed "
            f"({ledger.confirmations[cmd.side].value})"
        )
    if any(o.objection_id == cmd.objection_id for o in ledger.objections):
        raise ObjectionRefused(f"C-02: objection {cmd.objection_id} is already recorded on {ledger.key}")
    objection = ObjectionView(
        objection_id=cmd.objection_id, side=cmd.side, objector=objector, reasons=cmd.reasons, received_at=now
    )
    new = ledger.model_copy(update={"objections": (*ledger.objections, objection), "version": ledger.version + 1})
    event = ClearingObjectionRecorded(
        clearing_month=ledger.clearing_month,
        insured_region=ledger.insured_region,
        treating_region=ledger.treating_region,
        objection=objection,
        coordinator_region=coordinator(ledger.insured_region, ledger.treating_region),
    )
    return Decision(new, [event], [])


def resolve(
    ledger: ClearingLedger, cmd: ResolveClearingObjection, resolver: str, now: datetime
) -> Decision[ClearingLedger]:
    found = next((o for o in ledger.objections if o.objection_id == cmd.objection_id), None)
    if found is None:
        raise ObjectionRefused(f"C-02: no objection {cmd.objection_id} on {ledger.key}")
    if found.outcome is not None:
        raise ObjectionRefused(
            f"C-02: objection {cmd.objection_id} was resolved ({found.outcome.value}) at "
            f"{found.resolved_at.isoformat() if found.resolved_at else ''}"
        )
    done = found.model_copy(
        update={"outcome": cmd.outcome, "resolution": cmd.resolution, "resolver": resolver, "resolved_at": now}
    )
    new = ledger.model_copy(
        update={
            "objections": tuple(done if o is found else o for o in ledger.objections),
            "version": ledger.version + 1,
        }
    )
    confirms = now > side_due(ledger, found.side) and not any(
        o.side is found.side and o.outcome is None for o in new.objections
    )
    confirmed = _confirmed(new, (found.side,), PeriodConfirmedBy.RESOLUTION, now) if confirms else Decision(new, [], [])
    event = ClearingObjectionResolved(
        clearing_month=ledger.clearing_month,
        insured_region=ledger.insured_region,
        treating_region=ledger.treating_region,
        objection=done,
        side_confirmed=bool(confirmed.events),
    )
    return Decision(confirmed.state, [event, *confirmed.events], [])


__all__ = ["ObjectionRefused", "coordinator", "object_to", "resolve"]
