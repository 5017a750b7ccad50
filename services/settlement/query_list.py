"""A person's settlements as an agency finds them (S-05..S-07; 003 §5 (三)): every completed
settlement of the person in the ``visits`` aggregate and its archive (``adapters.Items``), filtered
by settlement date, hospital and medical type, newest first, paged, or downloaded (CSV, XLSX).

* ``GET /settlement/settlements?person=<sealed>&from=&to=&institution=&medical_type=&page=&size=&format=&at=``:
  each row names the settlement (its slip: ``/settlement/slip``), the date, the hospital, the places,
  the medical type, the total, the fund's part and the cash part, and whether it was reversed.
  Visible: the settlements whose insured or treating region the asking agency speaks for; none → 404.
"""

from __future__ import annotations

from datetime import date

from contracts.values import MedicalType
from runtime.parties import ParticipantRegistry, Signer
from runtime.query import QueryRefused, SignedQuery, open_person, table_answer
from runtime.sealing import is_sealed, keyring
from runtime.tables import Column
from services.settlement.adapters import VISITS_ITEMS
from services.wiring import Store

SETTLEMENTS_PATH = "/settlement/settlements"
MEDICAL_TYPE_ZH = {
    MedicalType.GENERAL_OUTPATIENT: "普通门诊",
    MedicalType.CHRONIC_OUTPATIENT: "门诊慢特病",
    MedicalType.INPATIENT: "住院",
    MedicalType.PHARMACY: "药店购药",
}
COLUMNS = (
    Column("settlement_id", "结算编号"),
    Column("settled_on", "结算日期", "date"),
    Column("institution_name", "定点医疗机构"),
    Column("institution_code", "机构编码"),
    Column("treating_region_name", "就医地"),
    Column("insured_region_name", "参保地"),
    Column("medical_type_zh", "医疗类别"),
    Column("total", "医疗费总额", "money"),
    Column("fund_total", "基金支付", "money"),
    Column("personal_cash", "个人现金支付", "money"),
    Column("reversed_zh", "状态"),
)
SPEC = dict(
    summary="此人本机构可见的异地结算：按结算日期、定点医疗机构、医疗类别筛选，分页或下载 (S-05..S-07)",
    params={
        "person": "the ID number sealed to the settlement service (runtime.query.seal_person)",
        "from": "first settlement date, YYYY-MM-DD",
        "to": "last settlement date, YYYY-MM-DD",
        "institution": "the institution code",
        "medical_type": "general_outpatient, chronic_outpatient, inpatient or pharmacy",
        "page": "from 1",
        "size": "1..500 (default 20)",
        "format": "json (a page), csv or xlsx (every row)",
    },
    required=("person",),
    formats=("json", "csv", "xlsx"),
)


def _day(q: SignedQuery, name: str) -> date | None:
    raw = q.params.get(name)
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise QueryRefused(400, f"{name} is a date, YYYY-MM-DD") from None


def row(completed: dict, reversed_: bool, parties: ParticipantRegistry) -> dict:
    from contracts.values import POOLING_REGIONS

    slip = completed.get("slip") or {}
    institution = parties.get(completed.get("institution_code", ""))
    medical = completed.get("medical_type", "")
    return {
        "settlement_id": completed["settlement_id"],
        "settled_on": completed.get("settled_on"),
        "institution_code": completed.get("institution_code"),
        "institution_name": getattr(institution, "name", completed.get("institution_code")),
        "treating_region": completed.get("treating_region"),
        "insured_region": completed.get("insured_region"),
        "treating_region_name": POOLING_REGIONS.get(str(completed.get("treating_region")), {}).get("name"),
        "insured_region_name": POOLING_REGIONS.get(str(completed.get("insured_region")), {}).get("name"),
        "medical_type": medical,
        "medical_type_zh": MEDICAL_TYPE_ZH.get(medical, medical),
        "total": slip.get("total"),
        "fund_total": slip.get("fund_total"),
        "personal_cash": slip.get("personal_cash"),
        "reversed": reversed_,
        "reversed_zh": "已撤销" if reversed_ else "已结算",
    }


async def person_records(store: Store, person: str) -> dict[str, dict]:
    """The person's settlement records, the aggregate's and the archived ones (the newer copy wins)."""
    visits = await store.load("visits", person) or {}
    records: dict[str, dict] = {}
    if visits.get("archived"):  # a person who never had an item archived is never looked up there
        owner = store.document_id("visits", person)
        for doc in await store.archive(VISITS_ITEMS.archive).owned(owner):
            item = keyring().open(doc["item"]) if is_sealed(doc.get("item")) else doc.get("item")
            if isinstance(item, dict) and isinstance(item.get("settlements"), dict):  # {field: this item's value}
                records[str(doc["_id"]).removeprefix(f"{owner}:")] = item["settlements"]
    records.update(visits.get("settlements") or {})
    return records


class PersonSettlements:
    def __init__(self, store: Store, *, signer: Signer, parties: ParticipantRegistry) -> None:
        self.store, self.signer, self.parties = store, signer, parties

    async def __call__(self, q: SignedQuery) -> tuple[bytes, str, str]:
        agency = q.agency()
        person = open_person(self.signer, q)
        start, end = _day(q, "from"), _day(q, "to")
        institution, medical = q.params.get("institution", "").strip(), q.params.get("medical_type", "")
        if medical and medical not in {m.value for m in MedicalType}:
            raise QueryRefused(400, f"medical_type is one of {sorted(m.value for m in MedicalType)}")
        seen = [
            (r["completed"], bool(r.get("reversed")))
            for r in (await person_records(self.store, person)).values()
            if r.get("completed")
            and any(
                self.parties.speaks_for(agency.code, str(r["completed"].get(side, "")))
                for side in ("insured_region", "treating_region")
            )
        ]
        if not seen:
            raise QueryRefused(404, f"no settlement of this person that {agency.code} may see")
        rows = [
            row(c, rev, self.parties)
            for c, rev in seen
            if (start is None or date.fromisoformat(c["settled_on"]) >= start)
            and (end is None or date.fromisoformat(c["settled_on"]) <= end)
            and (not institution or c.get("institution_code") == institution)
            and (not medical or c.get("medical_type") == medical)
        ]
        rows.sort(key=lambda r: (r["settled_on"] or "", r["settlement_id"]), reverse=True)
        return table_answer(q, rows, COLUMNS, "settlements", "settlements")
