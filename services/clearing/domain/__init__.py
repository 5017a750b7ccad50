"""Clearing domain 清算 (C-01..C-05, C-07, R-04/R-05): pure decisions on a month's ledger of one
(insured, treating) pair and the month-end notices built from them.

Entry points: ``record_entry``, ``generate``, ``confirm``, ``deadline_fired`` on a
``ClearingLedger``; ``entry_month`` to route an entry; ``issue_notice`` for a region's notice;
``period_calendar`` / ``notice_deadlines`` for the C-02 / C-03 dates.
"""
from .ledger import (
    GENERATE, SILENT_CONFIRMATION, ClearingLedger, LedgerEntry, LedgerLine, PeriodClosed, PeriodStatus, confirm,
    deadline_fired, fund_totals, generate, ledger_key, new_ledger, pending_sides, record_entry, sum_totals,
)
from .notice import counterpart_line, entry_month, issue_notice
from .period import PeriodCalendar, home_month, next_month, notice_deadlines, period_calendar

__all__ = ["GENERATE", "SILENT_CONFIRMATION", "ClearingLedger", "LedgerEntry", "LedgerLine", "PeriodClosed",
           "PeriodStatus", "confirm", "deadline_fired", "fund_totals", "generate", "ledger_key", "new_ledger",
           "pending_sides", "record_entry", "sum_totals", "counterpart_line", "entry_month", "issue_notice", "PeriodCalendar",
           "home_month", "next_month", "notice_deadlines", "period_calendar"]
