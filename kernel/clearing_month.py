"""The clearing period 清算月份 of an amount (C-02). Shared kernel 共享内核: the settlement service
labels every settlement, cancel and refund with it; the clearing service labels its periods the
same way."""

from __future__ import annotations

from datetime import date


def clearing_month_of(day: date) -> str:
    """The clearing period 清算月份 an amount dated ``day`` belongs to: the next month, whose 21st
    generates the clearing data of this month's settlements (C-02), as ``YYYY-MM``."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return f"{year:04d}-{month:02d}"
