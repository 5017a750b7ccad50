"""The clearing query API on the service's HTTP port (003 §5 (三)), for the agencies' console and adapters.

* ``GET /clearing/report?region=340200&month=2026-09&scope=cross_province&format=xlsx&at=<unix seconds>``
  (C-04): the clearing tables of a region (``format``: ``json`` (default), ``xlsx`` (every table, a sheet
  each) or ``csv`` with ``table=附件15-2``, URL-encoded; ``scope``: ``cross_province`` (default) or
  ``intra_province``).
* ``GET /clearing/periods?region=340200&since=2026-09&at=…`` (C-02..C-05, C-07): every clearing period of the
  region (from ``since``, optional),
  newest first, as ``contracts.clearing.ClearingPeriodsAnswer``: month, scope, state on the calendar, its
  deadlines, totals receivable and payable, each pair's confirmations and objections per side, and after
  the notice the C-03/C-07 steps.
* ``GET /clearing/mismatches?region=420100&status=open|resolved|all&at=…`` (R-01, R-02): reconciliation
  mismatches of the institutions of a treating region, or of the settlements of an insured region, line by
  line with the settlements involved, their due date and status (``MismatchesAnswer``).

Requests are signed as every signed query is (``runtime.query``). Authority: the agency
of the region, its province or the national level (``ParticipantRegistry.speaks_for``): an agency sees the
tables of the regions it speaks for, and each region's tables hold only that region's own receivable and
payable lines. Answers: 200 with the file, 400 bad query, 401 not signed by a registry party (or stale
``at``), 403 not an agency that speaks for the region, 404 no generated period of the region that month.

:class:`ClearingQueries` answers the three paths (registered on the service by ``app.py``), reading the
ledgers, notices and reconciliations through ``adapters.PeriodReads``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from contracts.clearing import ClearingPeriodsAnswer, MismatchesAnswer
from contracts.parties import Agency
from runtime.calendar import WorkingCalendar
from runtime.parties import ParticipantRegistry, Signer
from runtime.query import FORMATS, QueryRefused, SignedQuery, read_signed  # noqa: F401 (re-exported)
from runtime.query import sign_request as _sign
from runtime.tables import csv_bytes
from services.clearing import domain
from services.clearing.adapters import PeriodReads
from services.clearing.domain import views

PATH = "/clearing/report"
PERIODS_PATH = "/clearing/periods"
MISMATCHES_PATH = "/clearing/mismatches"
MISMATCH_STATUSES = ("open", "resolved", "all")

REPORT_PARAMS = {
    "region": "the region (6 digits, GB/T 2260) whose tables are asked for",
    "month": "the clearing month, YYYY-MM",
    "scope": "cross_province (default) or intra_province (C-01)",
    "format": "json (default), xlsx (every table, a sheet each) or csv (one table)",
    "table": "with format=csv: the table, e.g. 附件15-2 (URL-encoded)",
    "at": "Unix seconds of the request (within the clock-skew limit)",
}
PERIODS_PARAMS = {
    "region": "the region (6 digits) whose clearing periods are asked for",
    "since": "optional: the first clearing month to show, YYYY-MM (default: every period)",
    "at": "Unix seconds of the request (within the clock-skew limit)",
}
MISMATCHES_PARAMS = {
    "region": "the region (6 digits): the treating place of the institutions, or an insured place of their settlements",
    "status": "open (default: mismatched or overdue), resolved or all",
    "at": "Unix seconds of the request (within the clock-skew limit)",
}


@dataclass(frozen=True)
class ReportQuery:
    region: str
    month: str
    scope: str
    format: str
    table: str | None
    agency: str


def sign_request(
    signer: Signer,
    region: str,
    month: str,
    *,
    at: datetime,
    scope: str = "cross_province",
    format: str = "json",
    table: str | None = None,
) -> tuple[str, dict[str, str]]:
    """The request target and header an agency's client sends (for the console, tests and adapters)."""
    return _sign(signer, PATH, at=at, region=region, month=month, scope=scope, format=format, table=table)


def authorize(
    parties: ParticipantRegistry, path: str, query: str, signature: str | None, now: datetime, max_skew_seconds: float
) -> ReportQuery:
    """Who asks and for what, or ``QueryRefused`` with the HTTP status and why."""
    return checked(read_signed(parties, path, query, signature, now, max_skew_seconds), parties)


def checked(q: SignedQuery, parties: ParticipantRegistry) -> ReportQuery:
    """C-04: the report's parameters, asked by an agency that speaks for the region."""
    params = q.params
    region, month = params.get("region", ""), params.get("month", "")
    scope, fmt, table = params.get("scope", "cross_province"), params.get("format", "json"), params.get("table")
    if not re.fullmatch(r"\d{6}", region) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise QueryRefused(400, "region (6 digits) and month (YYYY-MM) are required")
    if scope not in ("cross_province", "intra_province") or fmt not in FORMATS:
        raise QueryRefused(400, f"scope is cross_province or intra_province, format one of {sorted(FORMATS)}")
    if fmt == "csv" and not table:
        raise QueryRefused(
            400,
            "a CSV is one table: give table=附件15-1 … 附件16-1 (cross_province) or 附件18-1 … 附件19-1 (intra_province)",
        )
    return ReportQuery(region, month, scope, fmt, table, _speaking_for(q, parties, region))


@dataclass(frozen=True)
class RegionQuery:
    """``/clearing/periods`` and ``/clearing/mismatches``: a region, for an agency that speaks for it."""

    region: str
    status: str
    agency: str
    since: str | None = None


def checked_region(q: SignedQuery, parties: ParticipantRegistry) -> RegionQuery:
    """C-02 / R-01 / R-02: the region asked for (and, for mismatches, which ones), by an agency that speaks
    for it."""
    region = q.params.get("region", "")
    if not re.fullmatch(r"\d{6}", region):
        raise QueryRefused(400, "region (6 digits) is required")
    status = q.params.get("status", "open") if q.path == MISMATCHES_PATH else "all"
    if status not in MISMATCH_STATUSES:
        raise QueryRefused(400, f"status is one of {list(MISMATCH_STATUSES)}")
    since = q.params.get("since") if q.path == PERIODS_PATH else None
    if since is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", since):
        raise QueryRefused(400, "since is a month, YYYY-MM")
    return RegionQuery(region, status, _speaking_for(q, parties, region), since)


def _speaking_for(q: SignedQuery, parties: ParticipantRegistry, region: str) -> str:
    if not isinstance(q.party, Agency) or not parties.speaks_for(q.party.code, region):
        raise QueryRefused(
            403,
            f"UNAUTHORIZED: {q.party.code} does not speak for region {region} "
            f"(its agency, province or the national level may ask)",
        )
    return q.party.code


def sign_region_request(
    signer: Signer, path: str, region: str, *, at: datetime, status: str | None = None, since: str | None = None
) -> tuple[str, dict[str, str]]:
    """The request target and header for ``/clearing/periods`` or ``/clearing/mismatches``."""
    return _sign(signer, path, at=at, region=region, status=status, since=since)


class ClearingQueries:
    """The signed reads of the clearing service: its tables (C-04), its periods (C-02..C-05, C-07) and its
    reconciliation mismatches (R-01/R-02), each for an agency that speaks for the region asked for."""

    def __init__(
        self,
        reads: PeriodReads,
        calendar: WorkingCalendar,
        *,
        now: Callable[[], datetime],
        parties: ParticipantRegistry,
    ) -> None:
        self.reads, self.calendar, self.now, self.parties = reads, calendar, now, parties

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(
            PATH,
            self.report,
            summary="C-04: a region's clearing tables (附件15-1..16-1 cross-province, 附件18-1..19-1 intra-province)",
            params=REPORT_PARAMS,
            required=("region", "month", "at"),
            formats=("json", "xlsx", "csv"),
        )
        add_query(
            PERIODS_PATH,
            self.periods,
            summary=(
                "C-02..C-05, C-07: every clearing period of a region: state, deadlines, receivable and payable, "
                "confirmations and objections per side"
            ),
            params=PERIODS_PARAMS,
            required=("region", "at"),
        )
        add_query(
            MISMATCHES_PATH,
            self.mismatches,
            summary=("R-01/R-02: a region's reconciliation mismatches, line by line with the settlements involved"),
            params=MISMATCHES_PARAMS,
            required=("region", "at"),
        )

    async def periods(self, signed: SignedQuery) -> tuple[bytes, str, str]:
        """C-02..C-05, C-07: every period of a region, for an agency that speaks for it."""
        q = checked_region(signed, self.parties)
        ledgers = await self.reads.ledgers_of_region(q.region, q.since)
        notices = await self.reads.notices_of(q.region)
        answer = ClearingPeriodsAnswer(
            region=q.region, as_of=self.now(), periods=views.period_views(q.region, ledgers, notices, self.calendar)
        )
        return answer.model_dump_json().encode(), FORMATS["json"], f"clearing-periods-{q.region}.json"

    async def mismatches(self, signed: SignedQuery) -> tuple[bytes, str, str]:
        """R-01/R-02: the region's reconciliation mismatches, for an agency that speaks for it."""
        q = checked_region(signed, self.parties)
        recs = await self.reads.mismatches_of(q.region)
        answer = MismatchesAnswer(
            region=q.region,
            status=q.status,
            as_of=self.now(),
            mismatches=views.mismatch_views(q.region, recs, q.status),
        )
        return answer.model_dump_json().encode(), FORMATS["json"], f"clearing-mismatches-{q.region}.json"

    async def report(self, signed: SignedQuery) -> tuple[bytes, str, str]:
        """C-04: a region's clearing tables (JSON, XLSX, one table as CSV) for an agency that speaks
        for it, the request signed with the agency's key."""
        q = checked(signed, self.parties)
        reports = [
            r
            for r in domain.issue_reports(q.region, q.month, await self.reads.ledgers_of(q.month), self.now())
            if r.scope == q.scope
        ]
        if not reports:
            raise QueryRefused(404, f"no generated {q.scope} clearing of {q.region} in {q.month}")
        body, name = _rendered(reports[0], q)
        return body, FORMATS[q.format], name


def _rendered(report, q: ReportQuery) -> tuple[bytes, str]:
    stem = f"clearing-{q.region}-{q.month}-{q.scope}"
    if q.format == "xlsx":
        return domain.to_xlsx(report), f"{stem}.xlsx"
    if q.format == "csv":
        table = next((t for t in report.tables if t.code == q.table), None)
        if table is None:
            raise QueryRefused(404, f"no table {q.table}: {[t.code for t in report.tables]}")
        return csv_bytes(domain.to_csv(table)), f"{stem}-{table.code.removeprefix('附件')}.csv"
    return report.model_dump_json().encode(), f"{stem}.json"
