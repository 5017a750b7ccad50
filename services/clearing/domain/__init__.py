"""Clearing domain 清算 (C-01..C-05, C-07, R-04/R-05): pure decisions on a month's ledger of one
(insured, treating) pair and the month-end notices built from them.

Entry points: ``record_entry``, ``generate``, ``confirm``, ``deadline_fired`` on a
``ClearingLedger``; ``entry_month`` to route an entry; ``issue_notice`` for a region's notice;
``period_calendar`` / ``notice_deadlines`` for the C-02 / C-03 dates; ``open_for_entries`` for where a
late entry goes; ``check_deduction`` / ``audit_month`` for audit deductions (R-04, R-05);
``issue_reports`` / ``to_csv`` / ``to_xlsx`` for the C-04 tables (with the C-01 province roll-up); the
modules ``obligations`` (C-03, C-07), ``reconciliation`` (R-02), ``declaration`` (R-03) and
``replay`` (a period rebuilt from its archived lines and compared with what was issued).
"""

from .audit import AuditRefused, audit_month, auditor_region, check_deduction
from .ledger import (
    GENERATE,
    SILENT_CONFIRMATION,
    ClearingLedger,
    LateConfirmation,
    LedgerEntry,
    LedgerLine,
    PeriodClosed,
    PeriodStatus,
    confirm,
    deadline_fired,
    fund_totals,
    generate,
    ledger_key,
    new_ledger,
    open_for_entries,
    pending_sides,
    record_entry,
    sum_totals,
)
from .notice import counterpart_line, entry_month, generation_pending, issue_notice
from .period import PeriodCalendar, home_month, next_month, notice_deadlines, period_calendar
from .report import issue_reports, report_tables, scope_of, to_csv, to_xlsx

__all__ = [
    "GENERATE",
    "SILENT_CONFIRMATION",
    "ClearingLedger",
    "LateConfirmation",
    "LedgerEntry",
    "LedgerLine",
    "PeriodClosed",
    "PeriodStatus",
    "confirm",
    "deadline_fired",
    "fund_totals",
    "generate",
    "ledger_key",
    "new_ledger",
    "open_for_entries",
    "pending_sides",
    "record_entry",
    "sum_totals",
    "counterpart_line",
    "entry_month",
    "generation_pending",
    "issue_notice",
    "PeriodCalendar",
    "home_month",
    "next_month",
    "notice_deadlines",
    "period_calendar",
    "auditor_region",
    "AuditRefused",
    "audit_month",
    "check_deduction",
    "issue_reports",
    "report_tables",
    "scope_of",
    "to_csv",
    "to_xlsx",
]
