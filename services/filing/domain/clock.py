"""Business time: dates in Asia/Shanghai, the end of a business day, calendar months."""
from __future__ import annotations

import calendar as _months
from datetime import UTC, date, datetime, time

from contracts.filing import BUSINESS_TZ
from contracts.filing_view import business_date, start_of_day

__all__ = ["business_date", "start_of_day", "end_of_day", "add_months"]

_LAST_INSTANT = time(23, 59, 59, 999999)


def end_of_day(day: date) -> datetime:
    """23:59:59.999999 Asia/Shanghai of ``day`` (aware, UTC): a deadline on ``day`` is met by
    anything done up to then — the same convention as ``runtime.calendar``."""
    return datetime.combine(day, _LAST_INSTANT, tzinfo=BUSINESS_TZ).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later (or earlier when negative), clipped to the month's
    last day: 31 Aug + 6 months → 28/29 Feb."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _months.monthrange(year, month)[1]))
