"""The clearing query API on the service's HTTP port (C-04; 003 §5 (三)): an agency downloads the clearing
tables of a region it speaks for.

``GET /clearing/report?region=340200&month=2026-09&scope=cross_province&format=xlsx&at=<unix seconds>``
(``format``: ``json`` (default), ``xlsx`` (every table, a sheet each) or ``csv`` with ``table=附件15-2``,
URL-encoded; ``scope``: ``cross_province`` (default) or ``intra_province``).

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
    if not isinstance(q.party, Agency) or not parties.speaks_for(q.party.code, region):
        raise QueryRefused(403, f"UNAUTHORIZED: {q.party.code} does not speak for region {region} "
                                f"(its agency, province or the national level may ask)")
    return ReportQuery(region, month, scope, fmt, table, q.party.code)
