"""Business time: dates in Asia/Shanghai, the end of a business day, calendar months."""

from __future__ import annotations

import calendar as _months
from datetime import UTC, date, datetime

from kernel.filings import business_date, start_of_day
from runtime.calendar import end_of_business_day

__all__ = ["business_date", "start_of_day", "end_of_day", "add_months"]


def end_of_day(day: date) -> datetime:
    """``runtime.calendar``'s end of the business day ``day``, in UTC as filings record moments."""
    return end_of_business_day(day).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later (or earlier when negative), clipped to the month's
    last day: 31 Aug + 6 months → 28/29 Feb."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _months.monthrange(year, month)[1]))
