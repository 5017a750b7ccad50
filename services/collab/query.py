"""The collab query API on the service's HTTP port (K-06, Q-03; 003 §5 (三)).

* ``GET /collab/notices?at=<unix seconds>``: every notice published (K-06), newest first, as JSON,
  for any registry agency (000 第八十三条: shared with all).
* ``GET /collab/request?id=<request id>&at=<unix seconds>``: one collaboration request (K-03), for
  the agencies it names: its requester, its target and the other agencies the target listed.
* ``GET /collab/statistics?period=2026-09&format=json|csv|xlsx&at=<unix seconds>``: a period's
  co-investigation statistics (Q-03), the rows of the regions the asking agency speaks for (its
  own, its province's cities, all for the national level: ``ParticipantRegistry.speaks_for``).

Authentication: the header ``yidi-signature`` is a detached JWS (Ed25519, ``kid``
``<party>/<key>``, the format of every Kafka record) over the request target exactly as sent — the
path, ``?`` and the raw query string — signed by a registry agency; ``at`` must lie within the
clock-skew limit of the service's business time, so a captured request cannot be replayed later.
Answers: 200, 400 bad query, 401 not signed by a registry party (or stale ``at``), 403 not an agency,
404 no statistics for that period yet (published when its completion deadline passes), or no such
request (also answered to an agency it does not name, which must not learn that it exists)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

from contracts.parties import Agency
from runtime.parties import ParticipantRegistry, Signer, Unauthenticated, authenticate

NOTICES_PATH = "/collab/notices"
STATISTICS_PATH = "/collab/statistics"
REQUEST_PATH = "/collab/request"
FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Query:
    agency: str
    params: dict[str, str]


class QueryRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _target(path: str, query: str) -> bytes:
    return f"{path}?{query}".encode()


def sign_request(signer: Signer, path: str, *, at: datetime, **params: str) -> tuple[str, dict[str, str]]:
    """The request target and header an agency's client sends (tests, console, adapters)."""
    query = "&".join([*(f"{k}={v}" for k, v in params.items()), f"at={int(at.timestamp())}"])
    return f"{path}?{query}", signer.headers(_target(path, query))


def authorize(parties: ParticipantRegistry, path: str, query: str, signature: str | None, now: datetime,
              max_skew_seconds: float) -> Query:
    """Who asks (an agency of the registry) and with what parameters, or ``QueryRefused``."""
    try:
        party = authenticate(parties, _target(path, query), signature, now)
    except Unauthenticated as exc:
        raise QueryRefused(401, f"UNAUTHENTICATED: {exc}") from None
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    try:
        at = datetime.fromtimestamp(int(params.get("at", "")), UTC)
    except ValueError:
        raise QueryRefused(400, "at (unix seconds of the request) is required") from None
    if abs((now - at).total_seconds()) > max_skew_seconds:
        raise QueryRefused(401, f"CLOCK_SKEW: at {at.isoformat()} is more than {max_skew_seconds:.0f} s from "
                                f"{now.isoformat()}")
    if not isinstance(party, Agency):
        raise QueryRefused(403, f"UNAUTHORIZED: {party.code} is not an agency")
    if path == STATISTICS_PATH:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", params.get("period", "")):
            raise QueryRefused(400, "period (YYYY-MM) is required")
        if params.setdefault("format", "json") not in FORMATS:
            raise QueryRefused(400, f"format is one of {sorted(FORMATS)}")
    if path == REQUEST_PATH and not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                                 params.get("id", "")):
        raise QueryRefused(400, "id (the request id, a UUID) is required")
    return Query(party.code, params)


def may_see_request(parties: ParticipantRegistry, agency: str, request) -> bool:
    """K-03: the agencies a request names see it, each itself (``request``: a ``CollabRequest``)."""
    party = parties.get(agency)
    named = {str(request.requester_region), str(request.target_region), *map(str, request.other_agencies)}
    return isinstance(party, Agency) and party.region is not None and party.region in named


def visible_rows(parties: ParticipantRegistry, agency: str, rows: list) -> list:
    """Q-03: an agency sees the statistics of the regions it speaks for."""
    return [r for r in rows if parties.speaks_for(agency, str(r.agency_region))]


def header(scope: dict, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"status": status, "message": message}, ensure_ascii=False).encode()
