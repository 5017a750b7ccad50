"""The collab query API on the service's HTTP port (K-06, Q-03; 003 §5 (三)).

* ``GET /collab/notices?at=<unix seconds>``: every notice published (K-06), newest first, as JSON,
  for any registry agency (000 第八十三条: shared with all).
* ``GET /collab/request?id=<request id>&at=<unix seconds>``: one collaboration request (K-03), for
  the agencies it names: its requester, its target and the other agencies the target listed.
* ``GET /collab/statistics?period=2026-09&format=json|csv|xlsx&at=<unix seconds>``: a period's
  co-investigation statistics (Q-03), the rows of the regions the asking agency speaks for (its
  own, its province's cities, all for the national level: ``ParticipantRegistry.speaks_for``).

Requests are signed as every signed query is (``runtime.query``). Answers: 200, 400 bad query, 401
not signed by a registry party (or stale ``at``), 403 not an agency, 404 no statistics for that period
yet (published when its completion deadline passes), or no such request (also answered to an agency
it does not name, which must not learn that it exists)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from contracts.parties import Agency
from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, QueryRefused, SignedQuery, read_signed, sign_request  # noqa: F401 (re-exported)

NOTICES_PATH = "/collab/notices"
STATISTICS_PATH = "/collab/statistics"
REQUEST_PATH = "/collab/request"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Query:
    agency: str
    params: dict[str, str]


def authorize(parties: ParticipantRegistry, path: str, query: str, signature: str | None, now: datetime,
              max_skew_seconds: float) -> Query:
    """Who asks (an agency of the registry) and with what parameters, or ``QueryRefused``."""
    return checked(read_signed(parties, path, query, signature, now, max_skew_seconds))


def checked(q: SignedQuery) -> Query:
    """The parameters each path needs (K-06, K-03, Q-03), asked by an agency."""
    agency, params = q.agency(), dict(q.params)
    if q.path == STATISTICS_PATH:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", params.get("period", "")):
            raise QueryRefused(400, "period (YYYY-MM) is required")
        if params.setdefault("format", "json") not in FORMATS:
            raise QueryRefused(400, f"format is one of {sorted(FORMATS)}")
    if q.path == REQUEST_PATH and not re.fullmatch(_UUID, params.get("id", "")):
        raise QueryRefused(400, "id (the request id, a UUID) is required")
    return Query(agency.code, params)


def may_see_request(parties: ParticipantRegistry, agency: str, request) -> bool:
    """K-03: the agencies a request names see it, each itself (``request``: a ``CollabRequest``)."""
    party = parties.get(agency)
    named = {str(request.requester_region), str(request.target_region), *map(str, request.other_agencies)}
    return isinstance(party, Agency) and party.region is not None and party.region in named


def visible_rows(parties: ParticipantRegistry, agency: str, rows: list) -> list:
    """Q-03: an agency sees the statistics of the regions it speaks for."""
    return [r for r in rows if parties.speaks_for(agency, str(r.agency_region))]
