"""The C-02 monthly calendar and which clearing month an entry belongs to.

A clearing month M clears the settlements of month M−1: they are declared by the 16th (R-03),
the national level generates the data on the 21st of M, provinces confirm by the 25th (silence
= confirmed) and notices go out at the end of M (000 第六十二、六十三条). Those days are the shared
calendar's (``kernel.clearing_calendar``, data files naming their articles): the settlement service's
recall cut-off reads the same generation day, and a region's own text changes its days where it says
so (Wuhu, Liaoning; C-07, C-08).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.clearing import ClearingSide
from kernel.clearing_calendar import calendars
from kernel.clearing_month import clearing_month_of
from runtime.calendar import WorkingCalendar

TO_FINANCE_WD = 5  # C-03 (000 第六十四条), national: no region text changes it
TRANSFER_WD = 10
RECEIPT_FEEDBACK_WD = 5


def parse_month(label: str) -> tuple[int, int]:
    year, month = map(int, label.split("-"))
    return year, month


def next_month(label: str) -> str:
    year, month = parse_month(label)
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def home_month(business_day: date) -> str:
    """The clearing month an entry dated ``business_day`` belongs to: the next month, as the
    settlement service labels it too (one rule, in the shared kernel)."""
    return clearing_month_of(business_day)


class PeriodCalendar(BaseModel):
    """The C-02 dates of one clearing month (Asia/Shanghai)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    clearing_month: str
    generation_at: AwareDatetime
    confirm_by: AwareDatetime
    notice_at: AwareDatetime
    calendar: str


def confirmation_due(label: str, insured: str | None = None, treating: str | None = None, side=None) -> datetime:
    """C-02: the end of the day by which ``side`` of the (insured, treating) pair confirms (receipt time):
    the 25th; a side whose region's text says otherwise, its own day (a Liaoning city its cross-province
    payable by the 24th, 004 第四十六条). Without a pair: the national day."""
    if insured is None or treating is None or side is None:
        return calendars().confirm_by(label)
    if side is ClearingSide.INSURED:
        return calendars().confirm_by(label, insured, payable_cross_province=insured[:2] != treating[:2])
    return calendars().confirm_by(label, treating)


def period_calendar(label: str, calendar: WorkingCalendar) -> PeriodCalendar:
    """Generation at 00:00 on the 21st, confirmation until the end of the 25th, notice on the
    last day of the month. These are calendar days in the source, not working days."""
    days = calendars()
    return PeriodCalendar(
        clearing_month=label,
        generation_at=days.generation_at(label),
        confirm_by=days.confirm_by(label),
        notice_at=days.notice_at(label),
        calendar=calendar.source,
    )


def institutions_paid_days(region: str, label: str) -> int:
    """C-07: the working days ``region`` has to pay its institutions after its notice (000 第六十九条: 20;
    Wuhu 5 after the clearing report, 001 第三十二条)."""
    return calendars().institutions_paid_working_days(region, label)


def notice_deadlines(
    issued_at: datetime, calendar: WorkingCalendar, region: str | None = None, label: str | None = None
) -> dict[str, datetime]:
    """C-03 chained on working days: finance gets the notice within 5, transfers within 10 of
    that, receipt is fed back within 5 of the transfer; C-07 institutions within 20 (the region's own
    number where its text sets one). Where a region's text fixes the upward remittance from the notice
    (C-08, Hunan: 15 working days), the transfer is due then."""
    days = calendars()
    on = days.first_day(label) if label else issued_at.date()
    submit = calendar.deadline(issued_at, TO_FINANCE_WD)
    remit = days.remittance_working_days(region, label) if region and label else None
    transfer = calendar.deadline(issued_at, remit) if remit else calendar.deadline(submit, TRANSFER_WD)
    feedback = calendar.deadline(transfer, RECEIPT_FEEDBACK_WD)
    paid = days.value("institutions_paid_working_days", region, on)
    return {
        "submit_to_finance_by": submit,
        "transfer_by": transfer,
        "receipt_feedback_by": feedback,
        "institutions_paid_by": calendar.deadline(issued_at, paid),
    }
