"""What the agencies' console reads (003 §5 (三)): a region's clearing periods and its reconciliation
mismatches, built from the stored ledgers, notices and reconciliations (no I/O here).

A period is one clearing month and scope (C-01: cross-province and intra-province apart) of one region: the
ledgers of every pair the region is party to, each seen from the region (C-04; C-05: a payer's negative net
is a receivable, marked reverse), the C-02 dates, and after the notice the C-03/C-07 steps."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.clearing import (
    ClearingPeriodView,
    ClearingSide,
    ObligationState,
    PeriodCounterpart,
    PeriodDeadlines,
    PeriodSide,
    ReconciliationMismatch,
    ReconciliationStatus,
)
from runtime.calendar import WorkingCalendar

from .ledger import ZERO, ClearingLedger, PeriodStatus, fund_totals, sum_totals
from .notice import owed
from .obligations import CHAIN, NoticeState
from .period import notice_deadlines, period_calendar
from .reconciliation import Reconciliation
from .report import scope_of

OPEN_MISMATCH = (ReconciliationStatus.MISMATCHED, ReconciliationStatus.OVERDUE)


def _sides(ledger: ClearingLedger) -> list[PeriodSide]:
    return [
        PeriodSide(
            side=side,
            region=getattr(ledger, side.region_field),
            confirmed=ledger.confirmations.get(side),
            objections=[o for o in ledger.objections if o.side is side],
        )
        for side in ClearingSide
    ]


def counterpart(region: str, ledger: ClearingLedger) -> PeriodCounterpart:
    settled, deducted, net = sum_totals(fund_totals(ledger))
    direction, reverse = owed(region, ledger, net)
    other = ledger.treating_region if str(ledger.insured_region) == region else ledger.insured_region
    return PeriodCounterpart(
        insured_region=ledger.insured_region,
        treating_region=ledger.treating_region,
        counterpart_region=other,
        direction=direction,
        reverse_clearing=reverse,
        status=ledger.status.value,
        entry_count=ledger.entry_count,
        settled=settled,
        deducted=deducted,
        net=net,
        amount=abs(net),
        sides=_sides(ledger),
    )


def _state(ledgers: list[ClearingLedger], notice: NoticeState | None) -> str:
    if notice is not None:
        return "notified"
    if any(lg.status is PeriodStatus.OPEN for lg in ledgers):
        return "open"
    return "confirmed" if all(lg.status is PeriodStatus.CONFIRMED for lg in ledgers) else "generated"


def _deadlines(region: str, month: str, notice: NoticeState | None, calendar: WorkingCalendar) -> PeriodDeadlines:
    """C-02's dates; C-03/C-07's as printed on the notice, or (before it) as they will be from notice day."""
    dates = period_calendar(month, calendar)
    if notice is not None:
        printed = {
            k: notice.notice[k]
            for k in ("submit_to_finance_by", "transfer_by", "receipt_feedback_by", "institutions_paid_by")
        }
    else:
        printed = notice_deadlines(dates.notice_at, calendar, region, month)
    return PeriodDeadlines(
        generation_at=dates.generation_at,
        confirm_by=dates.confirm_by,
        notice_at=dates.notice_at,
        calendar=calendar.source,
        **printed,
    )


def _obligations(notice: NoticeState | None) -> list[ObligationState]:
    if notice is None:
        return []
    return [
        ObligationState(
            obligation=step,
            due_at=notice.due.get(step),
            done_at=notice.done.get(step),
            breached=step in notice.breached,
        )
        for step in CHAIN
        if step in notice.due or step in notice.done
    ]


def period_views(
    region: str, ledgers: Iterable[ClearingLedger], notices: dict[str, NoticeState], calendar: WorkingCalendar
) -> list[ClearingPeriodView]:
    """Every period of ``region`` (ledgers it is party to), newest month first; ``notices`` by month."""
    groups: dict[tuple[str, str], list[ClearingLedger]] = {}
    for lg in ledgers:
        if region in (lg.insured_region, lg.treating_region):
            groups.setdefault((lg.clearing_month, scope_of(lg)), []).append(lg)
    views = []
    for (month, scope), mine in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1]), reverse=True):
        lines = [counterpart(region, lg) for lg in sorted(mine, key=lambda lg: lg.key)]
        payable = sum((ln.amount for ln in lines if ln.direction == "payable"), ZERO)
        receivable = sum((ln.amount for ln in lines if ln.direction == "receivable"), ZERO)
        notice = notices.get(month)
        views.append(
            ClearingPeriodView(
                region=region,
                clearing_month=month,
                scope=scope,
                state=_state(mine, notice),
                deadlines=_deadlines(region, month, notice, calendar),
                payable_total=payable,
                receivable_total=receivable,
                net_payable=payable - receivable,
                counterparts=lines,
                obligations=_obligations(notice),
            )
        )
    return views


def concerns(region: str, rec: Reconciliation) -> bool:
    """A mismatch concerns the treating place of the institution and the insured places of its settlements."""
    return region == rec.treating_region or region in rec.insured_regions


def mismatch_views(region: str, recs: Iterable[Reconciliation], status: str) -> list[ReconciliationMismatch]:
    """R-01/R-02: the mismatches of ``region``: open (mismatched or overdue), resolved, or all of them."""
    wanted = {
        "open": OPEN_MISMATCH,
        "resolved": (ReconciliationStatus.RESOLVED,),
        "all": (*OPEN_MISMATCH, ReconciliationStatus.RESOLVED),
    }[status]
    picked = sorted(
        (r for r in recs if r.status in wanted and concerns(region, r)), key=lambda r: (r.day, r.institution_code)
    )
    return [
        ReconciliationMismatch(
            institution_code=r.institution_code,
            treating_region=r.treating_region,
            day=r.day,
            status=r.status,
            resolve_by=r.resolve_by,
            overdue=r.status is ReconciliationStatus.OVERDUE,
            insured_regions=sorted(r.insured_regions),
            lines=list(r.lines),
            last_mismatch=list(r.last_mismatch),
            checked_at=r.checked_at,
        )
        for r in picked
    ]


__all__ = ["concerns", "counterpart", "mismatch_views", "owed", "period_views"]
