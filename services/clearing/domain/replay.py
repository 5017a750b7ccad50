"""Replay 重放: a period's ledgers and tables rebuilt from its archived lines alone, and compared with
what was issued (M-03: every line is archived, one document each; the ledgers keep only sums).

Pure: the archived line documents, the stored ledgers and the stored notices go in; the rebuilt
ledgers, notices and tables and the differences come out. A ledger's sums are rebuilt by adding each
line with the same ``ClearingLedger.plus`` the service used; its status and confirmations (which
no line carries) are those stored. Each region's notice and C-04 tables are then issued again from
the rebuilt ledgers and compared, figure by figure, with the stored notice and with the tables the
stored ledgers give (the tables are published with the notice and not kept apart)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from runtime.calendar import WorkingCalendar

from .ledger import ClearingLedger, LedgerEntry, LedgerLine, new_ledger
from .notice import issue_notice
from .report import issue_reports

_ENTRY_FIELDS = set(LedgerEntry.model_fields)
NOTICE_FIGURES = ("counterparts", "payable_total", "receivable_total", "net_payable")


def entry_of(line: dict) -> LedgerEntry:
    """An archived line document (``entries``) as the entry it recorded."""
    return LedgerEntry.model_validate({k: v for k, v in line.items() if k in _ENTRY_FIELDS})


def rebuild_ledgers(month: str, lines: Iterable[dict], stored: Iterable[ClearingLedger]) -> dict[str, ClearingLedger]:
    """The month's ledgers from its archived lines, keyed as stored; the stored ledger lends its
    status, generation time and confirmations (no line carries them)."""
    by_key = {lg.key: lg for lg in stored}
    rebuilt: dict[str, ClearingLedger] = {}
    for line in sorted(
        (ln for ln in lines if ln.get("clearing_month") == month),
        key=lambda ln: (str(ln.get("recorded_at", "")), str(ln.get("_id", ""))),
    ):
        entry = entry_of(line)
        key = line["ledger"]
        ledger = rebuilt.get(key)
        if ledger is None:
            base = by_key.get(key)
            ledger = new_ledger(month, entry.insured_region, entry.treating_region)
            if base is not None:
                ledger = ledger.model_copy(
                    update={
                        "status": base.status,
                        "generated_at": base.generated_at,
                        "confirmations": base.confirmations,
                        "confirmed_by": base.confirmed_by,
                        "objections": base.objections,
                    }
                )
        rebuilt[key] = ledger.plus(
            LedgerLine(
                settlement_id=entry.settlement_id, kind=entry.kind, amounts=entry.amounts, replaces=entry.replaces
            ),
            str(entry.entry_id),
        )
    return rebuilt


def _ledger_figures(lg: ClearingLedger) -> dict:
    return {
        "entry_count": lg.entry_count,
        "settled": {k: str(v) for k, v in sorted(lg.settled.items())},
        "deducted": {k: str(v) for k, v in sorted(lg.deducted.items())},
    }


def _differ(where: str, issued, rebuilt, out: list[dict]) -> None:
    if issued != rebuilt:
        out.append({"where": where, "issued": issued, "rebuilt": rebuilt})


def replay(
    month: str,
    lines: Iterable[dict],
    stored: Iterable[ClearingLedger],
    notices: Iterable[dict],
    calendar: WorkingCalendar,
) -> dict:
    """Rebuild ``month`` and compare. ``notices`` are the stored notices (``ClearingNoticeIssued`` as
    JSON). Returns ``{"month", "identical", "ledgers", "notices", "tables", "differences"}``."""
    stored = [lg for lg in stored if lg.clearing_month == month]
    rebuilt = rebuild_ledgers(month, lines, stored)
    differences: list[dict] = []
    issued_by_key = {lg.key: lg for lg in stored}
    for key in sorted(set(issued_by_key) | set(rebuilt)):
        issued, again = issued_by_key.get(key), rebuilt.get(key)
        _differ(f"ledger {key}", issued and _ledger_figures(issued), again and _ledger_figures(again), differences)
    tables = 0
    notices = [n for n in notices if n.get("clearing_month") == month]
    for notice in sorted(notices, key=lambda n: n["region"]):
        region, at = notice["region"], datetime.fromisoformat(notice["issued_at"])
        reissued = issue_notice(region, month, rebuilt.values(), calendar, at).model_dump(mode="json")
        for field in NOTICE_FIGURES:
            _differ(f"notice {region}:{month} {field}", notice[field], reissued[field], differences)
        want = {
            r.scope: [t.model_dump(mode="json") for t in r.tables] for r in issue_reports(region, month, stored, at)
        }
        got = {
            r.scope: [t.model_dump(mode="json") for t in r.tables]
            for r in issue_reports(region, month, rebuilt.values(), at)
        }
        for scope in sorted(set(want) | set(got)):
            tables += len(want.get(scope, []))
            _differ(f"tables {region}:{month} {scope}", want.get(scope), got.get(scope), differences)
    return {
        "month": month,
        "identical": not differences,
        "ledgers": len(rebuilt),
        "notices": len(notices),
        "tables": tables,
        "differences": differences,
    }


__all__ = ["entry_of", "rebuild_ledgers", "replay"]
