"""The directory of networked institutions 定点医疗机构查询 on the filing service's port (002 第十二条:
统一备案、统一公布; 001 五(四)):

``GET /filing/institutions?region=&level=&type=&open=inpatient|outpatient|chronic&on=&page=&size=&format=&at=``

answers the institutions opened for cross-region direct settlement on ``on`` (default: today's business
date) that match every filter given, a page at a time, in a stable order (region, code), as JSON (with
the total and the number of pages) or as CSV (UTF-8 with a byte-order mark, so a spreadsheet opens the
Chinese right). Read from the participant registry as this instance holds it, so a change on
``parties.change.v2`` shows as soon as the instance has applied it.

Who may ask: the directory holds no personal data — institutions' codes, names, levels, categories,
registered addresses and opening dates, published anyway (002 第十二条) — so any party of the registry
may: an institution (to send a patient on), an agency, a service. Not the operator, which signs clock
commands only. Every parameter is checked: an unknown one, a region outside GB/T 2260's pooling
regions, a level, category or settlement that does not exist, a malformed date or page is a 400 that
says which and what is allowed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from contracts.directory import InstitutionCategory, SettlementKind
from contracts.parties import Institution, Operator
from contracts.values import HospitalLevel, RegionCode, UnknownRegion, business_date
from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, QueryRefused, SignedQuery
from services.filing.domain.directory import MAX_PAGE_SIZE, DirectoryFilter, DirectoryPage, directory

E = TypeVar("E", bound=StrEnum)
INSTITUTIONS_PATH = "/filing/institutions"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE = 100_000
PARAMS = {
    "region": "a pooling region (6 digits, GB/T 2260): a city, or a province for all its regions",
    "level": f"registered hospital level: {', '.join(level.value for level in HospitalLevel)}",
    "type": f"category 类别: {', '.join(c.value for c in InstitutionCategory)}",
    "open": "opened for this cross-region settlement: inpatient 住院, outpatient 普通门诊, chronic 门诊慢特病",
    "on": "the day the openings are read at, YYYY-MM-DD (default: today's business date)",
    "page": "page number, from 1 (default 1)",
    "size": f"institutions per page, 1..{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})",
    "format": "json (default) or csv (UTF-8 with a byte-order mark)",
}
SPEC = dict(
    summary="定点医疗机构查询：已开通异地就医直接结算的定点医药机构，按统筹区、等级、类别、开通的结算类型筛选，分页 "
    "(002 第十二条)",
    params=PARAMS,
    required=(),
    formats=("json", "csv"),
)
ALLOWED = frozenset({*PARAMS, "at"})
CSV_HEADER = (
    "机构编码",
    "机构名称",
    "统筹区",
    "统筹区名称",
    "医院等级",
    "机构类别",
    "注册地址",
    *(f"{kind.zh}开通日期" for kind in SettlementKind),
)


def _shown(value: str) -> str:
    """A parameter as an error message may echo it: short, so a hostile value is not mirrored back."""
    return value if len(value) <= 24 else value[:24] + "…"


def _choice(q: SignedQuery, name: str, kinds: type[E]) -> E | None:
    value = q.params.get(name, "")
    if value == "":
        return None
    try:
        return kinds(value)
    except ValueError:
        raise QueryRefused(
            400, f"{name} '{_shown(value)}' is not one of: {', '.join(k.value for k in kinds)}"
        ) from None


def _number(q: SignedQuery, name: str, default: int, top: int) -> int:
    value = q.params.get(name, "")
    if value == "":
        return default
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= top:
        raise QueryRefused(400, f"{name} '{_shown(value)}' must be a whole number from 1 to {top}")
    return int(value)


def read_filter(q: SignedQuery, today: date) -> tuple[DirectoryFilter, int, int, str]:
    """The filter, page, size and format a query asks for, or a 400 naming the parameter at fault."""
    unknown = sorted(set(q.params) - ALLOWED)
    if unknown:
        raise QueryRefused(400, f"unknown parameter {_shown(unknown[0])}; allowed: {', '.join(sorted(ALLOWED))}")
    region = None
    if q.params.get("region", ""):
        text = q.params["region"]
        try:
            region = RegionCode(text)
        except UnknownRegion:
            raise QueryRefused(
                400, f"region {_shown(text)} is not a pooling region of GB/T 2260 (UNKNOWN_REGION)"
            ) from None
        except ValueError:
            raise QueryRefused(
                400,
                f"region {_shown(text)} is no pooling region code: 6 digits of GB/T 2260, a "
                "city (ending 00) or a province (ending 0000), e.g. 420100",
            ) from None
    on = today
    if q.params.get("on", ""):
        try:  # YYYY-MM-DD only: fromisoformat also takes 20250312 and 2025-W11-3
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", q.params["on"]):
                raise ValueError
            on = date.fromisoformat(q.params["on"])
        except ValueError:
            raise QueryRefused(400, f"on '{_shown(q.params['on'])}' must be a date, YYYY-MM-DD") from None
    fmt = q.params.get("format", "") or "json"
    if fmt not in SPEC["formats"]:
        raise QueryRefused(400, f"format '{_shown(fmt)}' is not one of: json, csv")
    wanted = DirectoryFilter(
        on=on,
        region=region,
        level=_choice(q, "level", HospitalLevel),
        category=_choice(q, "type", InstitutionCategory),
        open=_choice(q, "open", SettlementKind),
    )
    return (wanted, _number(q, "page", 1, MAX_PAGE), _number(q, "size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), fmt)


def as_json(found: DirectoryPage, wanted: DirectoryFilter) -> bytes:
    filters = {"region": wanted.region, "level": wanted.level, "type": wanted.category, "open": wanted.open}
    body = {
        "on": wanted.on.isoformat(),
        "filters": {k: (str(v) if v is not None else None) for k, v in filters.items()},
        "total": found.total,
        "page": found.page,
        "size": found.size,
        "pages": found.pages,
        "institutions": [entry.model_dump(mode="json") for entry in found.entries],
    }
    return json.dumps(body, ensure_ascii=False).encode()


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ would run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(found: DirectoryPage) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in found.entries:
        opened = [e.opened.get(kind) for kind in SettlementKind]
        writer.writerow(
            [
                _cell(v)
                for v in (
                    e.code,
                    e.name,
                    e.region,
                    e.region_name,
                    e.hospital_level.value,
                    e.category_zh,
                    e.address,
                    *opened,
                )
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


class DirectoryQuery:
    """The directory over the live participant registry (``parties``) at the service's business time."""

    def __init__(self, parties: ParticipantRegistry, now: Callable[[], datetime]) -> None:
        self.parties, self.now = parties, now

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(INSTITUTIONS_PATH, self.institutions, **SPEC)

    async def institutions(self, q: SignedQuery) -> tuple[bytes, str, str]:
        if isinstance(q.party, Operator):
            raise QueryRefused(403, f"UNAUTHORIZED: {q.party.code} is the operator, which signs clock commands only")
        wanted, page, size, fmt = read_filter(q, business_date(self.now()))
        listed = [p for p in list(self.parties.parties.values()) if isinstance(p, Institution)]
        found = directory(listed, wanted, page=page, size=size)
        if found.total and page > found.pages:
            raise QueryRefused(404, f"page {page} of {found.pages}: {found.total} institutions match")
        name = f"institutions-{wanted.on.isoformat()}-{page}.{fmt}"
        if fmt == "csv":
            return as_csv(found), FORMATS["csv"], name
        return as_json(found, wanted), FORMATS["json"], name
