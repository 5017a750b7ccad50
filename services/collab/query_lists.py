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

Each list also takes filters (``status``, ``type``, ``counterpart``, ``due_from``/``due_to``, ``overdue``)
and, with ``page`` or ``format``, answers a page with its totals or a CSV/XLSX file (``listed``).

Only the sides an item names see it: an agency without a region of its own (the national level) has
no inbox. Requests, leads and co-investigations are sealed at rest, so each list opens the
collection's documents (``adapters.py``) and keeps the asking agency's; a region's few hundred items a
month keep this cheap, and no clear index of who asked whom is stored beside the sealed state. The
answers are ``query.CollabQueries``'; this module shapes their rows.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from collections.abc import Callable
from typing import cast

from contracts.values import SHANGHAI
from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, QueryRefused, SignedQuery, table_answer
from runtime.tables import Column
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import leads as lead_rules
from services.collab.domain import requests as req

REQUESTS_PATH = "/collab/requests"
LEADS_PATH = "/collab/leads"
COINVESTIGATIONS_PATH = "/collab/coinvestigations"
BOXES = ("inbox", "outbox")
OVERSEEN = "overseen"  # a province's or the national level's view of the items of the regions below it
# Oversight shows an item's sides, kind, state and deadline, never what it says about a person (the
# request's matter, a co-investigation's stay and discussion stay with the sides it names, K-03).
OVERSEEN_FIELDS = {
    REQUESTS_PATH: (
        "request_id",
        "requester_region",
        "target_region",
        "problem_type",
        "status",
        "opened_at",
        "escalated_from",
    ),
    LEADS_PATH: ("lead_id", "insured_region", "treating_region", "subject", "status", "outcome"),
    COINVESTIGATIONS_PATH: (
        "request_id",
        "insured_region",
        "treating_region",
        "period",
        "status",
        "complete_by",
        "answered_at",
        "late",
    ),
}

SPECS = {
    REQUESTS_PATH: dict(
        summary="协同请求：本机构的收件箱或发件箱，按当前期限排序 (K-03, K-04)",
        params={
            "box": "inbox (addressed to the agency), outbox (opened by it) or overseen (between the regions "
            "below a province or the national level: sides, type, state and deadline only)"
        },
        required=("box",),
    ),
    LEADS_PATH: dict(
        summary="问题线索：移交给本机构或由本机构移交的线索 (K-05)",
        params={"box": "inbox (treating place), outbox (insured place) or overseen (the regions below)"},
        required=("box",),
    ),
    COINVESTIGATIONS_PATH: dict(
        summary="费用协查：本机构作为参保地或就医地的协查事项 (Q-02..Q-05)",
        params={
            "period": "YYYY-MM (optional): the co-investigation period",
            "box": "overseen (optional): those of the regions below a province or the national level",
        },
    ),
}


def own_region(q: SignedQuery) -> str:
    """The region the asking agency handles itself (403 for a party that is not an agency)."""
    agency = q.agency()
    if agency.region is None:
        raise QueryRefused(403, f"UNAUTHORIZED: {agency.code} handles no region of its own: it has no inbox")
    return str(agency.region)


def box_of(q: SignedQuery) -> str:
    box = q.params.get("box", "")
    if box not in (*BOXES, OVERSEEN):
        raise QueryRefused(400, "box is inbox, outbox or overseen")
    return box


def oversees(q: SignedQuery, parties: ParticipantRegistry) -> Callable[[str], bool]:
    """``box=overseen``: the regions below the asking agency (a province's cities, every region for the
    national level), not its own; a city oversees none (``speaks_for``)."""
    agency = q.agency()
    own = str(agency.region) if agency.region else None
    return lambda region: region != own and parties.speaks_for(agency.code, region)


def overseen_row(row: dict, path: str) -> dict:
    """An item as oversight sees it: its sides, kind, state and running deadline; no action."""
    kept = {name: row.get(name) for name in OVERSEEN_FIELDS[path]}
    return {**kept, "due_at": row["due_at"], "overdue": row["overdue"], "actions": []}


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
    return {
        **r.model_dump(mode="json"),
        "due_at": due.isoformat() if due else None,
        "overdue": bool(due and now > due),
        "actions": request_actions(r, region, parties),
        "escalate_to": _parent_region(parties, str(r.target_region)),
    }


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
        actions = (
            ["take_up"]
            if lead.status is lead_rules.LeadStatus.RECEIVED
            else (["report_result"] if lead.outcome is None else [])
        )
    return {
        **lead.model_dump(mode="json"),
        "due_at": due.isoformat() if due else None,
        "overdue": bool(due and now > due),
        "actions": actions,
    }


def coinvestigation_row(item: coinv.CoInvestigation, region: str, now: datetime) -> dict:
    done = item.status.value in ("confirmed", "withdrawn")
    due = item.confirm_by if item.answered_at and not done else (None if done else item.complete_by)
    side = "insured" if region == str(item.insured_region) else "treating"
    return {
        **item.model_dump(mode="json", exclude={"discussion"}),
        "discussion": [d.model_dump(mode="json") for d in item.discussion],
        "side": side,
        "due_at": due.isoformat() if due else None,
        "overdue": bool(due and now > due),
        "actions": coinvestigation_actions(item, side),
    }


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


FILTERS = {
    "status": "the item's state",
    "type": "requests: the problem type (K-03)",
    "counterpart": "the other side's region (6 digits)",
    "due_from": "running deadline on or after, YYYY-MM-DD (Beijing)",
    "due_to": "running deadline on or before, YYYY-MM-DD (Beijing)",
    "overdue": "1: only the overdue",
    "page": "from 1 (with page or format: a page with totals)",
    "size": "1..500 (default 20)",
    "format": "json, csv or xlsx (every matching row)",
}
for _spec in SPECS.values():
    _spec["params"] = {**cast(dict[str, str], _spec["params"]), **FILTERS}
    _spec["formats"] = ("json", "csv", "xlsx")
TYPE_FIELD = {REQUESTS_PATH: "problem_type"}
STATUS_ZH = {
    "open": "待答复",
    "replied": "已答复待确认",
    "confirmed": "已确认",
    "disputed": "有异议",
    "escalated": "已提请上级",
    "received": "待受理",
    "investigating": "核查中",
    "result": "已反馈",
    "requested": "待协查",
    "withdrawn": "已撤回",
    "answered": "已反馈待确认",
    "closed": "已办结",
}
TYPE_ZH = {"filing": "备案类", "system_fault": "系统故障类", "other": "其他类"}
_COMMON = (
    Column("status_zh", "状态"),
    Column("counterpart", "对方区划"),
    Column("due_at", "当前期限", "moment"),
    Column("overdue", "已超期"),
)
COLUMNS = {
    REQUESTS_PATH: (
        Column("request_id", "请求编号"),
        Column("type_zh", "问题类型"),
        Column("requester_region", "发起地"),
        Column("target_region", "协同地"),
        Column("matter", "事项"),
        Column("opened_at", "发起时间", "moment"),
        *_COMMON,
    ),
    LEADS_PATH: (
        Column("lead_id", "线索编号"),
        Column("insured_region", "参保地"),
        Column("treating_region", "就医地"),
        *_COMMON,
    ),
    COINVESTIGATIONS_PATH: (
        Column("request_id", "协查编号"),
        Column("period", "协查期"),
        Column("insured_region", "参保地"),
        Column("treating_region", "就医地"),
        Column("complete_by", "完成期限", "moment"),
        *_COMMON,
    ),
}


def _day(q: SignedQuery, name: str) -> date | None:
    raw = q.params.get(name)
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise QueryRefused(400, f"{name} is a date, YYYY-MM-DD") from None


def counterpart(row: dict, region: str) -> str:
    """The other side of an item, seen from ``region``."""
    for a, b in (("requester_region", "target_region"), ("insured_region", "treating_region")):
        if a in row and b in row:
            return str(row[b] if str(row[a]) == region else row[a])
    return ""


def filtered(q: SignedQuery, rows: list[dict], region: str) -> list[dict]:
    """The rows matching the query's filters (state, type, counterpart, running deadline, overdue),
    each with its counterpart and its state and type in words."""
    status, kind, other = q.params.get("status", ""), q.params.get("type", ""), q.params.get("counterpart", "")
    if other and not re.fullmatch(r"\d{6}", other):
        raise QueryRefused(400, "counterpart is a region code, 6 digits")
    start, end = _day(q, "due_from"), _day(q, "due_to")
    only_overdue = q.params.get("overdue") in ("1", "true")
    type_field = TYPE_FIELD.get(q.path, "")
    out = []
    for row in rows:
        row = {
            **row,
            "counterpart": counterpart(row, region),
            "status_zh": STATUS_ZH.get(row.get("status", ""), ""),
            "type_zh": TYPE_ZH.get(str(row.get(type_field, "")), ""),
        }
        due = datetime.fromisoformat(row["due_at"]).astimezone(SHANGHAI).date() if row.get("due_at") else None
        if (
            (status and row.get("status") != status)
            or (kind and str(row.get(type_field, "")) != kind)
            or (other and row["counterpart"] != other)
            or (only_overdue and not row.get("overdue"))
            or (start and (due is None or due < start))
            or (end and (due is None or due > end))
        ):
            continue
        out.append(row)
    return out


def listed(q: SignedQuery, rows: list[dict], region: str, stem: str) -> tuple[bytes, str, str]:
    """A list as asked: the rows (a JSON array) as before, or with ``page``/``format`` a page with its
    totals or a file (``runtime.query.table_answer``); filtered either way."""
    rows = filtered(q, rows, region)
    if q.params.get("page") or q.params.get("format", "json") != "json":
        return table_answer(q, rows, COLUMNS[q.path], stem)
    return as_json(rows, f"{stem}.json")
