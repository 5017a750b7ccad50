"""The C-02 monthly calendar and which clearing month an entry belongs to.

A clearing month M clears the settlements of month M−1: they are declared by the 16th (R-03),
the national level generates the data on the 21st of M, provinces confirm by the 25th (silence
= confirmed) and notices go out at the end of M (000 第六十二、六十三条).
"""

from __future__ import annotations

import calendar as _stdcal
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from kernel.clearing_month import clearing_month_of
from runtime.calendar import WorkingCalendar, at_business_start, end_of_business_day

GENERATION_DAY = 21  # C-02 (000 第六十二条)
CONFIRMATION_DAY = 25  # C-02 "于每月25日前确认"; silence counts as confirmed (004 第四十五条)
TO_FINANCE_WD = 5  # C-03 (000 第六十四条)
TRANSFER_WD = 10
RECEIPT_FEEDBACK_WD = 5
INSTITUTIONS_WD = 20  # C-07 (000 第六十九条)


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


def confirmation_due(label: str) -> datetime:
    """C-02: the end of the 25th of the clearing month (receipt time)."""
    year, month = parse_month(label)
    return end_of_business_day(date(year, month, CONFIRMATION_DAY))


def period_calendar(label: str, calendar: WorkingCalendar) -> PeriodCalendar:
    """Generation at 00:00 on the 21st, confirmation until the end of the 25th, notice on the
    last day of the month. These are calendar days in the source, not working days."""
    year, month = parse_month(label)
    last = _stdcal.monthrange(year, month)[1]
    return PeriodCalendar(
        clearing_month=label,
        generation_at=at_business_start(date(year, month, GENERATION_DAY)),
        confirm_by=end_of_business_day(date(year, month, CONFIRMATION_DAY)),
        notice_at=at_business_start(date(year, month, last)),
        calendar=calendar.source,
    )


def notice_deadlines(issued_at: datetime, calendar: WorkingCalendar) -> dict[str, datetime]:
    """C-03 chained on working days: finance gets the notice within 5, transfers within 10 of
    that, receipt is fed back within 5 of the transfer; C-07 institutions within 20."""
    submit = calendar.deadline(issued_at, TO_FINANCE_WD)
    transfer = calendar.deadline(submit, TRANSFER_WD)
    feedback = calendar.deadline(transfer, RECEIPT_FEEDBACK_WD)
    return {
        "submit_to_finance_by": submit,
        "transfer_by": transfer,
        "receipt_feedback_by": feedback,
        "institutions_paid_by": calendar.deadline(issued_at, INSTITUTIONS_WD),
    }
