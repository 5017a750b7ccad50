"""Finding collaboration items (K-03..K-05, Q-02..Q-05): the agency's requests, leads and
co-investigations by state, type, counterpart and running deadline, paged, downloadable — the collab
service's lists with their filters (``services/collab/query_lists.py``). Nothing personal is asked, so
the filters are a GET form and a page is a link."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from contracts.values import POOLING_REGIONS
from services.console.backend import QueryFailed
from services.console.pages.common import download, refused_page
from services.console.users import Session

KINDS = {
    "requests-inbox": ("/collab/requests", "inbox", "协同请求（收到）"),
    "requests-outbox": ("/collab/requests", "outbox", "协同请求（发出）"),
    "leads-inbox": ("/collab/leads", "inbox", "问题线索（收到）"),
    "leads-outbox": ("/collab/leads", "outbox", "问题线索（移交）"),
    "coinvestigations": ("/collab/coinvestigations", None, "费用协查"),
}
STATES = {
    "open": "待答复",
    "replied": "已答复待确认",
    "confirmed": "已确认",
    "disputed": "有异议",
    "received": "待受理",
    "investigating": "核查中",
    "result": "已反馈",
    "requested": "待协查",
    "answered": "已反馈待确认",
    "withdrawn": "已撤回",
}
TYPES = {"filing": "备案类", "system_fault": "系统故障类", "other": "其他类"}
FIELDS = ("kind", "status", "type", "counterpart", "due_from", "due_to", "overdue", "size")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _asked(request: Request) -> dict[str, str] | None:
    q = request.query_params
    asked = {k: q.get(k, "").strip() for k in FIELDS}
    asked["kind"] = asked["kind"] or "requests-inbox"
    asked["size"] = asked["size"] if asked["size"] in ("10", "20", "50", "100") else "20"
    if (
        asked["kind"] not in KINDS
        or (asked["status"] and asked["status"] not in STATES)
        or (asked["type"] and asked["type"] not in TYPES)
        or (asked["counterpart"] and not re.fullmatch(r"\d{6}", asked["counterpart"]))
        or any(asked[d] and not DATE.fullmatch(asked[d]) for d in ("due_from", "due_to"))
    ):
        return None
    return asked


def _params(asked: dict[str, str]) -> dict[str, str | None]:
    path, box, _ = KINDS[asked["kind"]]
    return {
        "box": box,
        "status": asked["status"] or None,
        "type": asked["type"] or None,
        "counterpart": asked["counterpart"] or None,
        "due_from": asked["due_from"] or None,
        "due_to": asked["due_to"] or None,
        "overdue": "1" if asked["overdue"] else None,
    }


async def collab_find(console, request: Request, session: Session) -> Response:
    asked = _asked(request)
    if asked is None:
        return console.render(request, "error.html", status=400, title="查询有误", message="筛选条件无效")
    page = request.query_params.get("page", "1")
    page = page if page.isdigit() and int(page) >= 1 else "1"
    try:
        found = await console.reader.get_json(
            "collab", session.user.agency, KINDS[asked["kind"]][0], page=page, size=asked["size"], **_params(asked)
        )
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    base = "/find/collab?" + urlencode({k: v for k, v in asked.items() if v})
    regions = sorted((code, r.get("name", code)) for code, r in POOLING_REGIONS.items())
    return console.render(
        request,
        "find_collab.html",
        asked=asked,
        found=found,
        base=base,
        kinds=KINDS,
        states=STATES,
        types=TYPES,
        regions=regions,
    )


async def collab_download(console, request: Request, session: Session) -> Response:
    asked = _asked(request)
    fmt = request.query_params.get("format", "xlsx")
    if asked is None or fmt not in ("csv", "xlsx"):
        return console.render(request, "error.html", status=400, title="无法下载", message="筛选条件或格式无效")
    return download(
        console,
        request,
        await console.reader.get("collab", session.user.agency, KINDS[asked["kind"]][0], format=fmt, **_params(asked)),
    )
