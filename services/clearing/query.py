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
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from contracts.parties import Agency
from runtime.parties import ParticipantRegistry, Signer
from runtime.query import FORMATS, QueryRefused, SignedQuery, read_signed  # noqa: F401 (re-exported)
from runtime.query import sign_request as _sign

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
    "region": "the region (6 digits): the treating place of the institutions, or an insured place of their "
              "settlements",
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


def sign_request(signer: Signer, region: str, month: str, *, at: datetime, scope: str = "cross_province",
                 format: str = "json", table: str | None = None) -> tuple[str, dict[str, str]]:
    """The request target and header an agency's client sends (for the console, tests and adapters)."""
    return _sign(signer, PATH, at=at, region=region, month=month, scope=scope, format=format, table=table)


def authorize(parties: ParticipantRegistry, path: str, query: str, signature: str | None, now: datetime,
              max_skew_seconds: float) -> ReportQuery:
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
        raise QueryRefused(400, "a CSV is one table: give table=附件15-1 … 附件16-1")
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
        raise QueryRefused(403, f"UNAUTHORIZED: {q.party.code} does not speak for region {region} "
                                f"(its agency, province or the national level may ask)")
    return q.party.code


def sign_region_request(signer: Signer, path: str, region: str, *, at: datetime, status: str | None = None,
                        since: str | None = None) -> tuple[str, dict[str, str]]:
    """The request target and header for ``/clearing/periods`` or ``/clearing/mismatches``."""
    return _sign(signer, path, at=at, region=region, status=status, since=since)
