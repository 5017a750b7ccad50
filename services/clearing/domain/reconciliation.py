"""Daily reconciliation of an institution with the platform (R-02, 000 第五十五条: 定点医药机构每日与平台对账,
mismatches resolved within 5 working days; R-01's insured-place side is the same comparison made on the
platform's own records, which here are one archive).

The HIS sends its totals of one day (how many settlements were completed, their fund payment); clearing
compares them with the settlement lines it archived for that institution and day. Equal → matched. The
first mismatch arms a due time 5 working days later (M-02); a later check that matches (the HIS sends
corrected totals as a new record, or the missing settlement reached clearing) resolves it; still
mismatched at the due time it is overdue, published once. A day not begun yet cannot be reconciled.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.clearing import DailyReconciliation, ReconciliationChecked, ReconciliationStatus
from contracts.values import Money
from runtime.calendar import WorkingCalendar, business_date
from services.outcome import DeadlineRequest, Outcome, deadline

SERVICE = "clearing"
RECONCILIATION_DUE = "reconciliation_due"
RESOLVE_WD = 5
S = ReconciliationStatus


class ReconciliationRefused(ValueError):
    """R-02: totals that cannot be reconciled (a day not begun yet, another region)."""


class Totals(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    settlements: int = Field(0, ge=0)
    fund_total: Money = Decimal("0.00")


class Reconciliation(BaseModel):
    """One institution's day (the ``reconciliations`` aggregate, keyed ``institution:day``)."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    institution_code: str
    treating_region: str
    day: date
    status: ReconciliationStatus
    his: Totals
    platform: Totals
    resolve_by: AwareDatetime | None = None
    checks: int = 0
    version: int = 0


def key(institution: str, day: date) -> str:
    return f"{institution}:{day.isoformat()}"


def check(state: Reconciliation | None, cmd: DailyReconciliation, platform: Totals, calendar: WorkingCalendar,
          now: datetime) -> Outcome[Reconciliation]:
    """R-02: the HIS's totals (a new record each time: the latest counts) against the platform's."""
    if cmd.day > business_date(now):
        raise ReconciliationRefused(f"R-02: {cmd.day.isoformat()} has not begun (today is "
                                    f"{business_date(now).isoformat()})")
    if state is not None and state.treating_region != cmd.treating_region:
        raise ReconciliationRefused(f"R-02: {cmd.institution_code} reconciles in {state.treating_region}")
    his = Totals(settlements=cmd.settlements, fund_total=cmd.fund_total)
    base = state or Reconciliation(institution_code=cmd.institution_code, treating_region=cmd.treating_region,
                                   day=cmd.day, status=S.MATCHED, his=his, platform=platform)
    return _judge(base.model_copy(update={"his": his}), platform, calendar, now)


def fell_due(state: Reconciliation, request: DeadlineRequest, platform: Totals, calendar: WorkingCalendar,
             now: datetime) -> Outcome[Reconciliation]:
    """R-02: at the due time, checked once more against the platform's current lines."""
    if now < request.due_at:
        return Outcome(state, [], [request])
    if state.status is not S.MISMATCHED:
        return Outcome(state, [], [])
    return _judge(state, platform, calendar, now, due=True)


def _judge(state: Reconciliation, platform: Totals, calendar: WorkingCalendar, now: datetime,
           due: bool = False) -> Outcome[Reconciliation]:
    equal = state.his == platform
    was_open = state.status in (S.MISMATCHED, S.OVERDUE)
    deadlines: list[DeadlineRequest] = []
    resolve_by = state.resolve_by
    if equal:
        status = S.RESOLVED if was_open or state.status is S.RESOLVED else S.MATCHED
    elif due:
        status = S.OVERDUE
    elif was_open:
        status = state.status                    # still open: the first mismatch's due time stands
    else:                                        # a first mismatch (or a new one after a resolution)
        status, resolve_by = S.MISMATCHED, calendar.deadline(now, RESOLVE_WD)
        deadlines.append(deadline(SERVICE, RECONCILIATION_DUE, key(state.institution_code, state.day), resolve_by,
                                  "R-02", calendar.source))
    new = state.model_copy(update={"status": status, "platform": platform, "resolve_by": resolve_by,
                                   "checks": state.checks + 1, "version": state.version + 1})
    event = ReconciliationChecked(
        institution_code=state.institution_code, treating_region=state.treating_region, day=state.day, status=status,
        his_settlements=state.his.settlements, his_fund_total=state.his.fund_total,
        platform_settlements=platform.settlements, platform_fund_total=platform.fund_total,
        resolve_by=resolve_by if status is not S.MATCHED else None, checked_at=now, calendar=calendar.source)
    return Outcome(new, [event], deadlines)


def platform_totals(lines: list[dict]) -> Totals:
    """The platform's side from archived settlement lines (``amounts.funds`` as stored, in yuan text)."""
    total = sum((Decimal(v) for line in lines for v in line["amounts"]["funds"].values()), Decimal("0.00"))
    return Totals(settlements=len(lines), fund_total=total)


__all__ = ["RECONCILIATION_DUE", "RESOLVE_WD", "Reconciliation", "ReconciliationRefused", "Totals", "check",
           "fell_due", "key", "platform_totals"]
