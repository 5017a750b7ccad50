"""The agency's own lists on the collab service's port (K-03..K-05, Q-02..Q-05; 003 §5 (三)): what the
console shows as an inbox and an outbox.

* ``GET /collab/requests?box=inbox|outbox&at=``: the collaboration requests addressed to the asking
  agency's region (inbox: it is the target, or an agency the target listed, K-03) or opened by it
  (outbox), ordered by the deadline that runs now (the reply deadline while open, the K-04
  confirmation deadline once replied), each with ``due_at``, ``overdue`` and the ``actions`` the
  rules let this agency take on it (reply, propose_extension, accept_extension, confirm, dispute,
  escalate).
* ``GET /collab/leads?box=inbox|outbox&at=``: leads handed to the agency's region as treating place
  (inbox) or handed over by it as insured place (outbox), by their running deadline (K-05).
* ``GET /collab/coinvestigations?period=YYYY-MM&at=``: the co-investigations where the agency's region
  is the insured or the treating side, of one period (optional), by completion deadline (Q-02..Q-05).

Only the sides an item names see it: an agency without a region of its own (the national level) has
no inbox. Requests, leads and co-investigations are sealed at rest, so each list opens the
collection's documents (``adapters.py``) and keeps the asking agency's; a region's few hundred items a
month keep this cheap, and no clear index of who asked whom is stored beside the sealed state. The
answers are ``query.CollabQueries``'; this module shapes their rows.
"""
from __future__ import annotations

import json
import re
from datetime import datetime

from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, QueryRefused, SignedQuery
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import leads as lead_rules
from services.collab.domain import requests as req

REQUESTS_PATH = "/collab/requests"
LEADS_PATH = "/collab/leads"
COINVESTIGATIONS_PATH = "/collab/coinvestigations"
BOXES = ("inbox", "outbox")

SPECS = {
    REQUESTS_PATH: dict(summary="协同请求：本机构的收件箱或发件箱，按当前期限排序 (K-03, K-04)",
                        params={"box": "inbox (addressed to the agency) or outbox (opened by it)"}, required=("box",)),
    LEADS_PATH: dict(summary="问题线索：移交给本机构或由本机构移交的线索 (K-05)",
                     params={"box": "inbox (treating place) or outbox (insured place)"}, required=("box",)),
    COINVESTIGATIONS_PATH: dict(summary="费用协查：本机构作为参保地或就医地的协查事项 (Q-02..Q-05)",
                                params={"period": "YYYY-MM (optional): the co-investigation period"}),
}


def own_region(q: SignedQuery) -> str:
    """The region the asking agency handles itself (403 for a party that is not an agency)."""
    agency = q.agency()
    if agency.region is None:
        raise QueryRefused(403, f"UNAUTHORIZED: {agency.code} handles no region of its own: it has no inbox")
    return str(agency.region)


def box_of(q: SignedQuery) -> str:
    box = q.params.get("box", "")
    if box not in BOXES:
        raise QueryRefused(400, "box is inbox or outbox")
    return box


def request_due(r: req.CollabRequest) -> datetime | None:
    """The deadline that runs now: the reply's while open, the confirmation's once replied."""
    if r.status is req.RequestStatus.OPEN:
        return r.reply_by
    if r.status is req.RequestStatus.REPLIED:
        return r.confirm_by
    return None


def request_actions(r: req.CollabRequest, region: str, parties: ParticipantRegistry) -> list[str]:
    """What the rules let ``region``'s agency do with the request now (K-03, K-04)."""
    target, requester = str(r.target_region), str(r.requester_region)
    if region == target and r.status is req.RequestStatus.OPEN:
        return ["reply", "propose_extension"]
    if region != requester:
        return []
    if r.status is req.RequestStatus.OPEN and r.proposed_extension is not None:
        return ["accept_extension"]
    if r.status is req.RequestStatus.REPLIED:
        return ["confirm", "dispute"]
    if r.status is req.RequestStatus.DISPUTED and _parent_region(parties, target):
        return ["escalate"]
    return []


def _parent_region(parties: ParticipantRegistry, region: str) -> str | None:
    agency = parties.agency_of(region)
    parent = parties.parent_of(agency.code) if agency else None
    return str(parent.region) if parent and parent.region else None


def request_row(r: req.CollabRequest, region: str, parties: ParticipantRegistry, now: datetime) -> dict:
    due = request_due(r)
    return {**r.model_dump(mode="json"), "due_at": due.isoformat() if due else None,
            "overdue": bool(due and now > due), "actions": request_actions(r, region, parties),
            "escalate_to": _parent_region(parties, str(r.target_region))}


def in_box(r: req.CollabRequest, region: str, box: str) -> bool:
    if box == "outbox":
        return str(r.requester_region) == region
    return str(r.target_region) == region or region in map(str, r.other_agencies)


def lead_due(lead: lead_rules.Lead) -> datetime | None:
    if lead.status is lead_rules.LeadStatus.RECEIVED:
        return lead.take_up_by
    return lead.result_by if lead.outcome is None else None


def lead_row(lead: lead_rules.Lead, region: str, now: datetime) -> dict:
    due = lead_due(lead)
    actions = []
    if region == str(lead.treating_region):
        actions = ["take_up"] if lead.status is lead_rules.LeadStatus.RECEIVED else (
            ["report_result"] if lead.outcome is None else [])
    return {**lead.model_dump(mode="json"), "due_at": due.isoformat() if due else None,
            "overdue": bool(due and now > due), "actions": actions}


def coinvestigation_row(item: coinv.CoInvestigation, region: str, now: datetime) -> dict:
    done = item.status.value in ("confirmed", "withdrawn")
    due = item.confirm_by if item.answered_at and not done else (None if done else item.complete_by)
    side = "insured" if region == str(item.insured_region) else "treating"
    return {**item.model_dump(mode="json", exclude={"discussion"}),
            "discussion": [d.model_dump(mode="json") for d in item.discussion], "side": side,
            "due_at": due.isoformat() if due else None, "overdue": bool(due and now > due),
            "actions": coinvestigation_actions(item, side)}


def coinvestigation_actions(item: coinv.CoInvestigation, side: str) -> list[str]:
    """Q-04: the treating place answers a requested item; Q-05: the insured place confirms or disputes
    the answer, and while disputed either side adds to the discussion."""
    status = item.status
    if status is coinv.CoInvestigationStatus.REQUESTED and side == "treating":
        return ["submit_result"]
    if status is coinv.CoInvestigationStatus.ANSWERED and side == "insured":
        return ["confirm_coinvestigation"]
    if status is coinv.CoInvestigationStatus.DISPUTED:
        return ["discuss", "confirm_coinvestigation"] if side == "insured" else ["discuss"]
    return []


def period_of(q: SignedQuery) -> str | None:
    period = q.params.get("period") or None
    if period is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise QueryRefused(400, "period is YYYY-MM")
    return period


def by_due(rows: list[dict]) -> list[dict]:
    """Earliest running deadline first; items with none (done) last, newest first among them."""
    return sorted(rows, key=lambda r: (r["due_at"] is None, r["due_at"] or ""))


def as_json(body: list[dict] | dict, name: str) -> tuple[bytes, str, str]:
    """A list's rows, or one row, as the JSON answer named ``name``."""
    return json.dumps(body, ensure_ascii=False).encode(), FORMATS["json"], name

