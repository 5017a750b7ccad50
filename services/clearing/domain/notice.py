"""C-02/C-03/C-04: the month-end receivable/payable notice of one region, built from the
generated ledgers it is party to (as insured: payable; as treating: receivable)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from contracts.clearing import ClearingNoticeIssued, CounterpartAmounts
from contracts.values import RegionCode
from runtime.calendar import WorkingCalendar
from services.outcome import stable_id

from .ledger import ZERO, ClearingLedger, PeriodStatus, fund_totals, sum_totals
from .period import home_month, next_month, notice_deadlines


def entry_month(business_day, is_closed: Callable[[str], bool]) -> str:
    """The clearing month of an entry: its home month (the month after it), or the first later
    month not generated yet — late declarations (R-03), post-clearing refunds (S-15) and
    deductions found after clearing (R-05) join the next period."""
    month = home_month(business_day)
    while is_closed(month):
        month = next_month(month)
    return month


def owed(region: str, ledger: ClearingLedger, net) -> tuple[str, bool]:
    """C-05 (004 第五十一条): which way a pair's net moves for ``region``, and whether it is reverse clearing.
    The insured side pays a positive net; a negative one is money it receives back (marked *)."""
    payer = str(ledger.insured_region) == region
    if net < ZERO:
        return ("receivable" if payer else "payable"), True
    return ("payable" if payer else "receivable"), False


def counterpart_line(region: str, ledger: ClearingLedger) -> CounterpartAmounts:
    totals = fund_totals(ledger)
    settled, deducted, net = sum_totals(totals)
    payer = str(ledger.insured_region) == region
    other = ledger.treating_region if payer else ledger.insured_region
    way, reverse = owed(region, ledger, net)
    return CounterpartAmounts(
        counterpart_region=other,
        direction="payable" if payer else "receivable",
        cross_province=RegionCode(region).is_cross_province(other),
        totals=totals,
        settled=settled,
        deducted=deducted,
        net=net,
        owed=way,
        amount=abs(net),
        reverse_clearing=reverse,
    )


def generation_pending(month: str, ledgers: Iterable[ClearingLedger]) -> list[str]:
    """The ledgers of ``month`` not generated yet. At the month-end notices and roll-ups they all are
    (every one is generated at 00:00 on the 21st, and none opens in a generated month, C-02), unless
    those deadlines fell due together (after an outage) and the generation is still being applied:
    what is made of the month waits for it."""
    return [lg.key for lg in ledgers if lg.clearing_month == month and lg.status is PeriodStatus.OPEN]


def issue_notice(
    region: str, month: str, ledgers: Iterable[ClearingLedger], calendar: WorkingCalendar, now: datetime
) -> ClearingNoticeIssued:
    """The notice of ``region`` for ``month`` over every generated ledger it is party to.
    Deterministic id: re-issuing for the same region and month gives the same notice id."""
    mine = [
        lg
        for lg in ledgers
        if lg.clearing_month == month
        and region in (lg.insured_region, lg.treating_region)
        and lg.status is not PeriodStatus.OPEN
    ]
    lines = [counterpart_line(region, lg) for lg in sorted(mine, key=lambda lg: lg.key)]
    payable = sum((_moved(ln) for ln in lines if ln.owed == "payable"), ZERO)  # C-05: never negative
    receivable = sum((_moved(ln) for ln in lines if ln.owed == "receivable"), ZERO)
    return ClearingNoticeIssued(
        notice_id=stable_id("clearing", "notice", region, month),
        clearing_month=month,
        region=region,
        counterparts=lines,
        payable_total=payable,
        receivable_total=receivable,
        net_payable=payable - receivable,
        issued_at=now,
        calendar=calendar.source,
        **notice_deadlines(now, calendar, region, month),
    )


def _moved(line: CounterpartAmounts) -> Decimal:
    """C-05: what moves on a line ``counterpart_line`` built (its ``amount``, always set there;
    only notices from before the field lack it)."""
    if line.amount is None:
        raise ValueError(f"C-05: the line of {line.counterpart_region} has no amount")
    return line.amount
