"""The filing query API on the service's HTTP port (F-15; 003 §5 (三)): may a treating place or an insured
place see whether a person is filed, and how.

* ``GET /filing/status?person=<sealed>&region=<treating region>&on=YYYY-MM-DD&at=``: is the person filed
  for that place on that date, and in which category (F-06 a provincial pool covers its cities, F-07 the
  validity, F-12/F-14 suspended or ended filings do not count): ``covered``, the covering filing and its
  category, with the person's filings this agency may see.
* ``GET /filing/filings?person=<sealed>&category=&status=&from=&to=&page=&size=&format=&at=``: the person's
  filings this agency may see, newest version of each (M-03: every version is kept; ``versions`` says how
  many), by category, state, and in force at some day of ``from``..``to``; paged, or downloaded (CSV, XLSX).

The person is named by ID number, which must appear in clear in no URL and no log: ``person`` is the
number sealed to the filing service's encryption key (JWE ECDH-ES + A256GCM, ``runtime.query.seal_person``),
opened here with the service's private key; a fresh ephemeral key per request keeps the parameter from
being a stable identifier too. Visibility: a filing is shown to an agency that speaks for its insured
region or its treating place (``ParticipantRegistry.speaks_for``); the ID number comes back masked (the
asker knows it), and the contact fields (address, phone) only to the insured side. Answers: 200, 400
(bad parameters, a ``person`` not sealed to this service), 401, 403 (not an agency), 404 (no filing this
agency may see; also when the person has filings only elsewhere, which it must not learn).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

from contracts.filing import FilingSnapshot, FilingStatus
from contracts.values import FilingCategory, mask_person_id
from kernel.filings import in_force_at, place_covers
from runtime.parties import ParticipantRegistry, Signer
from runtime.query import FORMATS, QueryRefused, SignedQuery, open_person, table_answer
from runtime.tables import Column
from services.filing.domain import PersonFilings
from services.wiring import Store

STATUS_PATH = "/filing/status"
FILINGS_PATH = "/filing/filings"
PERSON = "the ID number sealed to the filing service (runtime.query.seal_person): never in clear"
SPECS = {
    STATUS_PATH: dict(
        summary="备案状态：此人于该日在该就医地是否已备案、备案类别 (F-06, F-07, F-12, F-15)",
        params={"person": PERSON, "region": "the treating region (6 digits)", "on": "the date, YYYY-MM-DD"},
        required=("person", "region", "on"),
    ),
    FILINGS_PATH: dict(
        summary="此人本机构可见的备案（每项的最新版本），按类别、状态、有效期筛选，分页或下载 (F-15, M-03)",
        params={
            "person": PERSON,
            "category": "the filing category (F-01)",
            "status": "the filing status",
            "from": "in force on or after, YYYY-MM-DD",
            "to": "in force on or before, YYYY-MM-DD",
            "page": "from 1",
            "size": "1..500 (default 20)",
            "format": "json (a page), csv or xlsx (every row)",
        },
        required=("person",),
        formats=("json", "csv", "xlsx"),
    ),
}
CATEGORY_ZH = {
    FilingCategory.RESETTLED_RETIREE: "异地安置退休人员",
    FilingCategory.LONG_TERM_RESIDENT: "异地长期居住人员",
    FilingCategory.POSTED_WORKER: "常驻异地工作人员",
    FilingCategory.REFERRAL: "异地转诊人员",
    FilingCategory.EMERGENCY: "异地急诊抢救人员",
    FilingCategory.OTHER_TEMPORARY: "其他临时外出就医人员",
}


def shown(snapshot, insured_side: bool, versions: int) -> dict:
    """A filing as the asking agency sees it: the ID number masked, contacts for the insured side only."""
    data = snapshot.model_dump(mode="json")
    data["person_id"] = mask_person_id(data["person_id"])
    if not insured_side:
        data["address"] = data["phone"] = None
    return {**data, "category_zh": CATEGORY_ZH[snapshot.category], "versions": versions}


STATUS_ZH = {
    "pending": "待审核",
    "active": "有效",
    "suspended": "暂停",
    "superseded": "已变更",
    "cancelled": "已取消",
    "revoked": "已撤销",
    "terminated": "已终止",
    "rejected": "未通过",
}
COLUMNS = (
    Column("filing_id", "备案编号"),
    Column("person_id", "身份证号码（部分隐藏）"),
    Column("name", "姓名"),
    Column("category_zh", "备案类别"),
    Column("status_zh", "状态"),
    Column("insured_region", "参保地"),
    Column("treating_region", "就医地"),
    Column("valid_from", "开始日期", "date"),
    Column("valid_until", "截止日期", "date"),
    Column("submitted_at", "申请时间", "moment"),
    Column("versions", "版本数", "count"),
)


def _day(q: SignedQuery, name: str) -> date | None:
    raw = q.params.get(name)
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise QueryRefused(400, f"{name} is a date, YYYY-MM-DD") from None


class FilingQueries:
    """F-15's signed reads over the stored filings of a person (``collection``), opened with the
    service's own key (``signer``); :meth:`register` adds them to the service's port."""

    def __init__(self, store: Store, collection: str, *, signer: Signer, parties: ParticipantRegistry) -> None:
        self.store, self.collection, self.signer, self.parties = store, collection, signer, parties

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(STATUS_PATH, self.status, **SPECS[STATUS_PATH])
        add_query(FILINGS_PATH, self.filings, **SPECS[FILINGS_PATH])

    async def _visible(self, q: SignedQuery) -> list[tuple[FilingSnapshot, bool, int]]:
        agency = q.agency()
        person = open_person(self.signer, q)
        raw = await self.store.load(self.collection, person)
        if raw is None:
            raise QueryRefused(404, "no filing of this person that this agency may see")
        found = PersonFilings.model_validate(raw)
        out: list[tuple[FilingSnapshot, bool, int]] = []
        for record in found.filings:
            current = record.current
            insured = self.parties.speaks_for(agency.code, str(current.insured_region))
            if insured or self.parties.speaks_for(agency.code, str(current.treating_region)):
                out.append((current, insured, len(record.versions)))
        if not out:
            raise QueryRefused(404, "no filing of this person that this agency may see")
        return out

    async def filings(self, q: SignedQuery) -> tuple[bytes, str, str]:
        category, status = q.params.get("category", ""), q.params.get("status", "")
        if category and category not in {c.value for c in FilingCategory}:
            raise QueryRefused(400, f"category is one of {sorted(c.value for c in FilingCategory)}")
        if status and status not in {s.value for s in FilingStatus}:
            raise QueryRefused(400, f"status is one of {sorted(s.value for s in FilingStatus)}")
        start, end = _day(q, "from"), _day(q, "to")
        visible = [
            (s, insured, n)
            for s, insured, n in await self._visible(q)
            if (not category or s.category.value == category)
            and (not status or s.status.value == status)
            and (end is None or s.valid_from <= end)
            and (start is None or s.valid_until is None or s.valid_until >= start)
        ]
        rows = [
            shown(s, insured, n) | {"status_zh": STATUS_ZH.get(s.status.value, s.status.value)}
            for s, insured, n in sorted(visible, key=lambda v: v[0].submitted_at, reverse=True)
        ]
        return table_answer(q, rows, COLUMNS, "filings", "filings")

    async def status(self, q: SignedQuery) -> tuple[bytes, str, str]:
        region, on = q.params.get("region", ""), q.params.get("on", "")
        if not re.fullmatch(r"\d{6}", region):
            raise QueryRefused(400, "region (the treating region, 6 digits) is required")
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise QueryRefused(400, "on (YYYY-MM-DD) is required") from None
        visible = await self._visible(q)
        covering = next(
            (
                (s, insured, n)
                for s, insured, n in visible
                if place_covers(str(s.treating_region), region) and in_force_at(s, day)
            ),
            None,
        )
        body = {
            "region": region,
            "on": day.isoformat(),
            "covered": covering is not None,
            "filing": shown(*covering) if covering else None,
            "category": covering[0].category.value if covering else None,
            "category_zh": CATEGORY_ZH[covering[0].category] if covering else None,
            "filings": [shown(s, insured, n) for s, insured, n in visible],
        }
        return json.dumps(body, ensure_ascii=False).encode(), FORMATS["json"], "filing-status.json"
