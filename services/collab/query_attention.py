"""Overdue collaboration by agency (K-02..K-05, Q-04, Q-05; 003 §5 (三)): for a province or the national
level, how many items each region it oversees lets run past their deadline, counts only.

* ``GET /collab/overdue?at=``: ``{"regions": [{"region", "requests", "leads", "coinvestigations", "total"}]}``,
  one row per region that owes an overdue step — the side that must act now: a request's target while it
  is open, its requester once replied (K-04 confirmation); a lead's treating place; a co-investigation's
  treating place until answered, its insured place after — among the regions the asking agency speaks for
  (its own; a province's cities; every region for the national level). No item's content is shown.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, SignedQuery
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import leads as lead_rules
from services.collab.domain import requests as req
from services.collab.query_lists import coinvestigation_row, lead_row, request_row

OVERDUE_PATH = "/collab/overdue"
SPEC = dict(
    summary="逾期未办的协同事项：本机构所辖各地区应办而逾期的请求、线索、协查件数 (K-02..K-05, Q-04, Q-05)", params={}
)


def owing(item: req.CollabRequest | lead_rules.Lead | coinv.CoInvestigation) -> str:
    """The region whose step the item waits for."""
    if isinstance(item, req.CollabRequest):
        return str(item.requester_region if item.status is req.RequestStatus.REPLIED else item.target_region)
    if isinstance(item, lead_rules.Lead):
        return str(item.treating_region)
    return str(item.insured_region if item.answered_at else item.treating_region)


def overdue_by_region(
    parties: ParticipantRegistry,
    now: datetime,
    requests,
    leads,
    coinvestigations,
    among: Callable[[str], bool] = lambda region: True,
) -> dict[str, Counter]:
    """Overdue items by the region that owes the step, and kind (requests, leads, coinvestigations),
    among the regions ``among`` accepts (also the collab service's ``yidi_collab_overdue`` gauge)."""
    counts: dict[str, Counter] = {}
    for kind, items, row in (
        ("requests", requests, lambda i, r: request_row(i, r, parties, now)),
        ("leads", leads, lambda i, r: lead_row(i, r, now)),
        ("coinvestigations", coinvestigations, lambda i, r: coinvestigation_row(i, r, now)),
    ):
        for item in items:
            region = owing(item)
            if among(region) and row(item, region)["overdue"]:
                counts.setdefault(region, Counter())[kind] += 1
    return counts


def overdue_counts(
    agency: str, parties: ParticipantRegistry, now: datetime, requests, leads, coinvestigations
) -> list[dict]:
    counts = overdue_by_region(
        parties, now, requests, leads, coinvestigations, among=lambda region: parties.speaks_for(agency, region)
    )
    return [
        {
            "region": region,
            "requests": c["requests"],
            "leads": c["leads"],
            "coinvestigations": c["coinvestigations"],
            "total": sum(c.values()),
        }
        for region, c in sorted(counts.items())
    ]


class OverdueByAgency:
    def __init__(self, reads, parties: ParticipantRegistry, now) -> None:
        self.reads, self.parties, self.now = reads, parties, now

    async def __call__(self, q: SignedQuery) -> tuple[bytes, str, str]:
        agency = q.agency()
        rows = overdue_counts(
            agency.code,
            self.parties,
            self.now(),
            await self.reads.requests(),
            await self.reads.leads(),
            await self.reads.coinvestigations(),
        )
        return json.dumps({"regions": rows}, ensure_ascii=False).encode(), FORMATS["json"], "collab-overdue.json"
