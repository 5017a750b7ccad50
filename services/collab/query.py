"""The collab query API on the service's HTTP port (K-03..K-06, Q-02..Q-05; 003 §5 (三)).

* ``GET /collab/notices?at=<unix seconds>``: every notice published (K-06), newest first, as JSON,
  for any registry agency (000 第八十三条: shared with all).
* ``GET /collab/request?id=<request id>&at=<unix seconds>``: one collaboration request (K-03), for
  the agencies it names: its requester, its target and the other agencies the target listed.
* ``GET /collab/statistics?period=2026-09&format=json|csv|xlsx&at=<unix seconds>``: a period's
  co-investigation statistics (Q-03), the rows of the regions the asking agency speaks for (its
  own, its province's cities, all for the national level: ``ParticipantRegistry.speaks_for``).
* ``GET /collab/overdue?at=``: overdue items by region, counts only, for the regions the agency speaks
  for (``query_attention.py``).
* the agency's inbox and outbox, ``/collab/requests``, ``/collab/leads`` and
  ``/collab/coinvestigations`` (K-03..K-05, Q-02..Q-05): their rows are ``query_lists.py``'s.

:class:`CollabQueries` answers them from what ``adapters.CollabReads`` reads of the stored items;
``app.py`` registers it on the service's port.

Requests are signed as every signed query is (``runtime.query``). Answers: 200, 400 bad query, 401
not signed by a registry party (or stale ``at``), 403 not an agency, 404 no statistics for that period
yet (published when its completion deadline passes), or no such request (also answered to an agency
it does not name, which must not learn that it exists)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from contracts.parties import Agency
from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, QueryRefused, SignedQuery, read_signed, sign_request  # noqa: F401 (re-exported)
from services.collab import export
from services.collab import query_attention as attention
from services.collab import query_lists as lists
from services.collab.adapters import CollabReads
from services.collab.domain import periods

Answered = tuple[bytes, str, str]  # body, content type, file name

NOTICES_PATH = "/collab/notices"
STATISTICS_PATH = "/collab/statistics"
REQUEST_PATH = "/collab/request"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Query:
    agency: str
    params: dict[str, str]


def authorize(
    parties: ParticipantRegistry, path: str, query: str, signature: str | None, now: datetime, max_skew_seconds: float
) -> Query:
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


class CollabQueries:
    """The collab service's signed reads (K-03..K-06, Q-02..Q-05): each answers from ``reads`` at the
    business time ``now``; :meth:`register` adds them to the service's port (``Service.add_query``)."""

    def __init__(self, reads: CollabReads, *, now: Callable[[], datetime], parties: ParticipantRegistry) -> None:
        self.reads, self.now, self.parties = reads, now, parties

    def register(self, add_query: Callable[..., None]) -> None:
        # K-06, Q-03, K-03: the notices, the period statistics and one request
        add_query(NOTICES_PATH, self._checked(self.notices), summary="公告：全部已发布的公告，最新在前 (K-06)")
        add_query(
            STATISTICS_PATH,
            self._checked(self.statistics),
            summary="费用协查统计：一个周期中本机构可见地区的统计 (Q-03)",
            params={"period": "YYYY-MM", "format": "json, csv or xlsx"},
            required=("period",),
            formats=("json", "csv", "xlsx"),
        )
        add_query(
            REQUEST_PATH,
            self._checked(self.request),
            summary="一条协同请求（含当前期限与本机构可执行的操作），仅其所涉机构可见 (K-03)",
            params={"id": "the request id (UUID)"},
            required=("id",),
        )
        # K-03..K-05, Q-02..Q-05: the agency's inbox and outbox (query_lists.py)
        add_query(lists.REQUESTS_PATH, self.requests, **lists.SPECS[lists.REQUESTS_PATH])
        add_query(lists.LEADS_PATH, self.leads, **lists.SPECS[lists.LEADS_PATH])
        add_query(lists.COINVESTIGATIONS_PATH, self.coinvestigations, **lists.SPECS[lists.COINVESTIGATIONS_PATH])
        # for a province or the national level: overdue items by region (query_attention.py)
        add_query(
            attention.OVERDUE_PATH, attention.OverdueByAgency(self.reads, self.parties, self.now), **attention.SPEC
        )

    @staticmethod
    def _checked(answer: Callable[[Query], Awaitable[Answered]]) -> Callable[[SignedQuery], Awaitable[Answered]]:
        """A path's answer, given the checked query (:func:`checked`)."""

        async def answered(signed: SignedQuery) -> Answered:
            return await answer(checked(signed))

        return answered

    async def notices(self, q: Query) -> Answered:
        """K-06: every notice, newest first, for any agency."""
        listed = [n.published() for n in await self.reads.notices()]
        listed.sort(key=lambda n: n.received_at, reverse=True)
        body = json.dumps([n.model_dump(mode="json") for n in listed], ensure_ascii=False).encode()
        return body, FORMATS["json"], "notices.json"

    async def request(self, q: Query) -> Answered:
        """K-03: a request, for the agencies it names (requester, target, the agencies listed), as a
        row of their lists: with its running deadline and the actions the asking agency may take."""
        found = await self.reads.request(q.params["id"])
        if found is None or not may_see_request(self.parties, q.agency, found):
            raise QueryRefused(404, f"no request {q.params['id']} addressed to {q.agency}")
        party = self.parties.get(q.agency)
        region = str(getattr(party, "region", None) or "")
        return lists.as_json(
            lists.request_row(found, region, self.parties, self.now()), f"request-{found.request_id}.json"
        )

    async def statistics(self, q: Query) -> Answered:
        """Q-03: a closed period's statistics, the rows of the regions the agency speaks for."""
        period_label, fmt = q.params["period"], q.params["format"]
        p = await self.reads.period(periods.period_key(period_label))
        if p is None or not p.closed:
            raise QueryRefused(
                404,
                f"no statistics of period {period_label} yet: they are published when "
                "its completion deadline passes (Q-03)",
            )
        stats = periods.published_statistics(p)
        stats = stats.model_copy(update={"rows": visible_rows(self.parties, q.agency, stats.rows)})
        name = f"coinvestigation-statistics-{period_label}-{q.agency}.{fmt}"
        if fmt == "csv":
            return export.to_csv(stats), FORMATS[fmt], name
        if fmt == "xlsx":
            return export.to_xlsx(stats), FORMATS[fmt], name
        return stats.model_dump_json().encode(), FORMATS[fmt], name

    async def requests(self, q: SignedQuery) -> Answered:
        """K-03/K-04: the agency's requests in one box, by running deadline, with its allowed actions."""
        box, now = lists.box_of(q), self.now()
        found = await self.reads.requests()
        if box == lists.OVERSEEN:
            sees = lists.oversees(q, self.parties)
            rows = [
                lists.request_row(r, "", self.parties, now)
                for r in found
                if sees(str(r.requester_region)) or sees(str(r.target_region))
            ]
            return self._overseen(q, rows, "requests-overseen")
        region = lists.own_region(q)
        rows = [lists.request_row(r, region, self.parties, now) for r in found if lists.in_box(r, region, box)]
        return lists.listed(q, lists.by_due(rows), region, f"requests-{box}")

    async def leads(self, q: SignedQuery) -> Answered:
        """K-05: leads handed to the region (inbox) or by it (outbox)."""
        box, now = lists.box_of(q), self.now()
        found = await self.reads.leads()
        if box == lists.OVERSEEN:
            sees = lists.oversees(q, self.parties)
            rows = [
                lists.lead_row(item, "", now)
                for item in found
                if sees(str(item.insured_region)) or sees(str(item.treating_region))
            ]
            return self._overseen(q, rows, "leads-overseen")
        region = lists.own_region(q)
        side = "treating_region" if box == "inbox" else "insured_region"
        rows = [lists.lead_row(item, region, now) for item in found if str(getattr(item, side)) == region]
        return lists.listed(q, lists.by_due(rows), region, f"leads-{box}")

    async def coinvestigations(self, q: SignedQuery) -> Answered:
        """Q-02..Q-05: the region's co-investigations (either side), of a period when given."""
        period, now = lists.period_of(q), self.now()
        found = [c for c in await self.reads.coinvestigations() if period is None or c.period == period]
        if q.params.get("box") == lists.OVERSEEN:
            sees = lists.oversees(q, self.parties)
            rows = [
                lists.coinvestigation_row(c, "", now)
                for c in found
                if sees(str(c.insured_region)) or sees(str(c.treating_region))
            ]
            return self._overseen(q, rows, f"coinvestigations-{period or 'all'}-overseen")
        region = lists.own_region(q)
        rows = [
            lists.coinvestigation_row(c, region, now)
            for c in found
            if region in (str(c.insured_region), str(c.treating_region))
        ]
        return lists.listed(q, lists.by_due(rows), region, f"coinvestigations-{period or 'all'}")

    @staticmethod
    def _overseen(q: SignedQuery, rows: list[dict], stem: str) -> Answered:
        """The items of the regions below, as oversight sees them (``lists.overseen_row``), filtered and
        paged like the agency's own lists; the counterpart column is the requester or insured side."""
        shown = [lists.overseen_row(row, q.path) for row in lists.by_due(rows)]
        return lists.listed(q, shown, "", stem)
