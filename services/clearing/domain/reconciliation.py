"""Daily three-party reconciliation 三方对账 (R-01, 000 第五十四条; R-02, 第五十五条).

Three records of one institution's day are matched: the HIS's totals (``his.daily-reconciliation.v1``),
the treating place's record — the settlements it completed, as clearing received and archived them —
and the insured places' records (``clearing.insured-daily-totals.v1``, each insured region for its own
insured at that institution). With lines, the HIS's totals are matched cell by cell: per medical type the
count, per medical type and fund the amount; without, the day's count and fund total. The insured places'
record is matched once every insured region involved has reported (the regions of the treating record's
settlements and those that reported): until then it is pending, not a mismatch.

All equal → matched. The first mismatch arms a due time 5 working days later (R-02, M-02); each cell that
differs is listed with the treating place's settlements in it; a later check that matches (corrected totals
as a new record, a missing settlement reaching clearing, an insured place's report) resolves it; still
mismatched at the due time it is overdue, published once. A day not begun yet cannot be reconciled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.clearing import (
    DailyReconciliation,
    DailyTotalLine,
    InsuredDailyTotals,
    MismatchLine,
    ReconciliationChecked,
    ReconciliationMonthClosed,
    ReconciliationStatus,
    UnreconciledDay,
)
from contracts.settlement_values import FundCode
from contracts.values import MedicalType, Money
from runtime.calendar import WorkingCalendar, business_date, end_of_business_day
from services.outcome import DeadlineRequest, Decision, deadline

SERVICE = "clearing"
RECONCILIATION_DUE = "reconciliation_due"
MONTH_CLOSE = "reconciliation_close"
CLOSE_DAY = 3  # R-01: "每月3日前" read like C-02's "25日前": until the end of the 3rd
RESOLVE_WD = 5
MAX_IDS = 500  # settlements listed per mismatch line (the count is always given)
ZERO = Decimal("0.00")
S = ReconciliationStatus


class ReconciliationRefused(ValueError):
    """R-01/R-02: totals that cannot be reconciled (a day not begun yet, another region)."""


class TypeTotals(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    settlements: int = 0
    funds: dict[FundCode, Money] = Field(default_factory=dict)


class Totals(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    settlements: int = Field(0, ge=0)
    fund_total: Money = ZERO
    by_type: dict[MedicalType, TypeTotals] = Field(default_factory=dict, description="empty: sent without lines")


class Settled(BaseModel):
    """One settlement of the day as the treating place recorded it (an archived clearing line)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    settlement_id: str
    insured_region: str
    medical_type: MedicalType | None = None
    funds: dict[FundCode, Money]


class Reconciliation(BaseModel):
    """One institution's day (the ``reconciliations`` aggregate, keyed ``institution:day``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    institution_code: str
    treating_region: str
    day: date
    status: ReconciliationStatus = S.MATCHED
    his: Totals | None = Field(None, description="null: only insured places have reported yet")
    platform: Totals = Totals()
    insured: dict[str, Totals] = Field(default_factory=dict, description="R-01: each insured region's report")
    insured_regions: tuple[str, ...] = Field((), description="insured regions of the settlements involved")
    lines: tuple[MismatchLine, ...] = Field((), description="the cells that differ now")
    last_mismatch: tuple[MismatchLine, ...] = Field((), description="the cells as they last differed")
    resolve_by: AwareDatetime | None = None
    checked_at: AwareDatetime | None = None
    checks: int = 0
    version: int = 0


def key(institution: str, day: date) -> str:
    return f"{institution}:{day.isoformat()}"


# ---------------------------------------------------------------- the three records
def totals_of_lines(lines: Iterable[DailyTotalLine], count: int | None = None, amount: Decimal | None = None) -> Totals:
    lines = list(lines)
    by_type = {ln.medical_type: TypeTotals(settlements=ln.settlements, funds=dict(ln.funds)) for ln in lines}
    return Totals(
        settlements=count if count is not None else sum(ln.settlements for ln in lines),
        fund_total=amount if amount is not None else sum((a for ln in lines for a in ln.funds.values()), ZERO),
        by_type=by_type,
    )


def totals_of(settled: Iterable[Settled]) -> Totals:
    by_type: dict[MedicalType, dict] = {}
    count, amount = 0, ZERO
    for s in settled:
        count += 1
        amount += sum(s.funds.values(), ZERO)
        if s.medical_type is None:
            continue
        cell = by_type.setdefault(s.medical_type, {"settlements": 0, "funds": {}})
        cell["settlements"] += 1
        for fund, a in s.funds.items():
            cell["funds"][fund] = cell["funds"].get(fund, ZERO) + a
    return Totals(settlements=count, fund_total=amount, by_type={t: TypeTotals(**c) for t, c in by_type.items()})


def settled_lines(archived: list[dict]) -> list[Settled]:
    """The treating place's record from archived settlement lines (``amounts.funds`` stored as yuan text)."""
    return [
        Settled(
            settlement_id=doc["settlement_id"],
            insured_region=doc["insured_region"],
            medical_type=doc.get("medical_type"),
            funds={f: Decimal(v) for f, v in doc["amounts"]["funds"].items()},
        )
        for doc in archived
    ]


Cell = tuple[MedicalType | None, FundCode | None, str]


def cells(t: Totals, detailed: bool) -> dict[Cell, Decimal]:
    if not detailed:
        return {(None, None, "settlements"): Decimal(t.settlements), (None, None, "amount"): t.fund_total}
    out: dict[Cell, Decimal] = {}
    for mt, tt in t.by_type.items():
        out[(mt, None, "settlements")] = Decimal(tt.settlements)
        for fund, a in tt.funds.items():
            out[(mt, fund, "amount")] = a
    return out


def _in_cell(s: Settled, cell: Cell) -> bool:
    mt, fund, _ = cell
    return (mt is None or s.medical_type is mt) and (fund is None or s.funds.get(fund, ZERO) != ZERO)


def _sum(reports: Iterable[Totals]) -> Totals:
    lines: dict[MedicalType, DailyTotalLine] = {}
    count, amount = 0, ZERO
    for t in reports:
        count, amount = count + t.settlements, amount + t.fund_total
        for mt, tt in t.by_type.items():
            old = lines.get(mt)
            funds = dict(old.funds) if old else {}
            for f, a in tt.funds.items():
                funds[f] = funds.get(f, ZERO) + a
            lines[mt] = DailyTotalLine(
                medical_type=mt, settlements=(old.settlements if old else 0) + tt.settlements, funds=funds
            )
    return totals_of_lines(lines.values(), count, amount)


def compare(his: Totals, settled: list[Settled], insured: dict[str, Totals]) -> tuple[list[MismatchLine], list[str]]:
    """R-01: the cells where the HIS, the treating place and (once complete) the insured places differ,
    each with the treating place's settlements in it; and the insured regions involved."""
    platform = totals_of(settled)
    regions = sorted({s.insured_region for s in settled} | set(insured))
    complete = bool(insured) and all(r in insured for r in regions)
    detailed = bool(his.by_type)
    his_c, ours = cells(his, detailed), cells(platform, detailed)
    theirs = cells(_sum(insured.values()), detailed) if complete else {}
    lines = []
    for cell in sorted(set(his_c) | set(ours) | set(theirs), key=lambda c: (c[0] or "", c[1] or "", c[2])):
        h, t = his_c.get(cell, ZERO), ours.get(cell, ZERO)
        i = theirs.get(cell, ZERO) if complete else None
        if h == t and (i is None or i == t):
            continue
        ids = [s.settlement_id for s in settled if _in_cell(s, cell)]
        lines.append(
            MismatchLine(
                medical_type=cell[0],
                fund=cell[1],
                measure=cell[2],
                his=h,
                treating=t,
                insured=i,
                settlement_ids=ids[:MAX_IDS],
                settlement_count=len(ids),
            )
        )
    return lines, regions


# ---------------------------------------------------------------- decisions
def check(
    state: Reconciliation | None,
    cmd: DailyReconciliation,
    settled: list[Settled],
    calendar: WorkingCalendar,
    now: datetime,
) -> Decision[Reconciliation]:
    """R-02: the HIS's totals (a new record each time: the latest counts) against the other records."""
    base = _base(state, cmd.institution_code, cmd.treating_region, cmd.day, now)
    his = totals_of_lines(cmd.lines, cmd.settlements, cmd.fund_total)
    return _judge(base.model_copy(update={"his": his}), settled, calendar, now)


def insured_reported(
    state: Reconciliation | None,
    cmd: InsuredDailyTotals,
    settled: list[Settled],
    calendar: WorkingCalendar,
    now: datetime,
) -> Decision[Reconciliation]:
    """R-01: an insured place's record of the day (a new record replaces its earlier one)."""
    base = _base(state, cmd.institution_code, cmd.treating_region, cmd.day, now)
    new = base.model_copy(update={"insured": {**base.insured, str(cmd.insured_region): totals_of_lines(cmd.lines)}})
    if new.his is None:  # judged when the HIS reports; kept until then
        regions = sorted({s.insured_region for s in settled} | set(new.insured))
        return Decision(new.model_copy(update={"insured_regions": tuple(regions), "version": new.version + 1}), [], [])
    return _judge(new, settled, calendar, now)


def fell_due(
    state: Reconciliation, request: DeadlineRequest, settled: list[Settled], calendar: WorkingCalendar, now: datetime
) -> Decision[Reconciliation]:
    """R-02: at the due time, checked once more against the current records."""
    if now < request.due_at:
        return Decision(state, [], [request])
    if state.status is not S.MISMATCHED or state.his is None:
        return Decision(state, [], [])
    if state.resolve_by is not None and request.due_at < state.resolve_by:
        # the due time of an earlier mismatch, resolved since, fired late: the day's new mismatch has
        # its own due time (armed under the same id), and is not overdue before it
        return Decision(state, [], [])
    return _judge(state, settled, calendar, now, due=True)


def _base(state: Reconciliation | None, institution: str, region: str, day: date, now: datetime) -> Reconciliation:
    if day > business_date(now):
        raise ReconciliationRefused(
            f"R-02: {day.isoformat()} has not begun (today is {business_date(now).isoformat()})"
        )
    if state is not None and state.treating_region != region:
        raise ReconciliationRefused(f"R-02: {institution} reconciles in {state.treating_region}")
    return state or Reconciliation(institution_code=institution, treating_region=region, day=day)


def _judge(
    state: Reconciliation, settled: list[Settled], calendar: WorkingCalendar, now: datetime, due: bool = False
) -> Decision[Reconciliation]:
    assert state.his is not None
    lines, regions = compare(state.his, settled, state.insured)
    was_open = state.status in (S.MISMATCHED, S.OVERDUE)
    deadlines: list[DeadlineRequest] = []
    resolve_by = state.resolve_by
    if not lines:
        status = S.RESOLVED if was_open or state.status is S.RESOLVED else S.MATCHED
    elif due:
        status = S.OVERDUE
    elif was_open:
        status = state.status  # still open: the first mismatch's due time stands
    else:  # a first mismatch (or a new one after a resolution)
        status, resolve_by = S.MISMATCHED, calendar.deadline(now, RESOLVE_WD)
        deadlines.append(
            deadline(
                SERVICE, RECONCILIATION_DUE, key(state.institution_code, state.day), resolve_by, "R-02", calendar.source
            )
        )
    platform = totals_of(settled)
    new = state.model_copy(
        update={
            "status": status,
            "platform": platform,
            "resolve_by": resolve_by,
            "insured_regions": tuple(regions),
            "lines": tuple(lines),
            "last_mismatch": tuple(lines) or state.last_mismatch,
            "checked_at": now,
            "checks": state.checks + 1,
            "version": state.version + 1,
        }
    )
    event = ReconciliationChecked(
        institution_code=state.institution_code,
        treating_region=state.treating_region,
        day=state.day,
        status=status,
        his_settlements=state.his.settlements,
        his_fund_total=state.his.fund_total,
        platform_settlements=platform.settlements,
        platform_fund_total=platform.fund_total,
        resolve_by=resolve_by if status is not S.MATCHED else None,
        checked_at=now,
        calendar=calendar.source,
        lines=lines,
    )
    return Decision(new, [event], deadlines)


# ---------------------------------------------------------------- the month's close
class MonthClose(BaseModel):
    """An insured region's closed month (the ``reconciliation_closes`` aggregate, keyed ``region:month``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    closed: ReconciliationMonthClosed


def close_key(region: str, month: str) -> str:
    return f"{region}:{month}"


def close_due(month: str) -> datetime:
    """The end of the 3rd of the month after ``month`` (Asia/Shanghai)."""
    year, m = map(int, month.split("-"))
    return end_of_business_day(date(year + m // 12, m % 12 + 1, CLOSE_DAY))


def close_deadline(region: str, month: str, calendar: WorkingCalendar) -> DeadlineRequest:
    return deadline(SERVICE, MONTH_CLOSE, close_key(region, month), close_due(month), "R-01", calendar.source)


def close_month(
    state: MonthClose | None,
    region: str,
    month: str,
    days: Iterable[tuple[str, date]],
    recs: Iterable[Reconciliation],
    request: DeadlineRequest,
    now: datetime,
) -> Decision[MonthClose] | None:
    """R-01: at the end of the 3rd, the insured region's last month: each institution-day with settlements of
    its insured (``days``) and its reconciliation, if any (``recs``); closed once."""
    if state is not None:  # early copies never get here: the runtime re-arms a deadline read before its time
        return None
    by_day = {(r.institution_code, r.day): r for r in recs}
    wanted = sorted(set(days) | {k for k, r in by_day.items() if region in r.insured_regions})
    open_: list[UnreconciledDay] = []
    for institution, day in wanted:
        rec = by_day.get((institution, day))
        if rec is None or rec.his is None:
            open_.append(UnreconciledDay(institution_code=institution, day=day))
        elif rec.status in (S.MISMATCHED, S.OVERDUE):
            open_.append(
                UnreconciledDay(institution_code=institution, day=day, status=rec.status, resolve_by=rec.resolve_by)
            )
    closed = ReconciliationMonthClosed(
        insured_region=region,
        month=month,
        due_by=request.due_at,
        closed_at=now,
        institution_days=len(wanted),
        reconciled=len(wanted) - len(open_),
        open=open_,
        complete=not open_,
    )
    return Decision(MonthClose(closed=closed), [closed], [])


__all__ = [
    "MONTH_CLOSE",
    "MonthClose",
    "close_deadline",
    "close_due",
    "close_key",
    "close_month",
    "RECONCILIATION_DUE",
    "RESOLVE_WD",
    "Reconciliation",
    "ReconciliationRefused",
    "Settled",
    "Totals",
    "check",
    "compare",
    "fell_due",
    "insured_reported",
    "key",
    "settled_lines",
    "totals_of",
]
