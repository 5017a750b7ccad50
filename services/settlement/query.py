"""The settlement query API on the service's HTTP port (S-05, S-07, S-14; 000 第五十二条 附件13; 003 §5 (三)).

* ``GET /settlement/slip?person=<sealed>&settlement=<id>&at=``: one settlement's slip with every field of
  000 附件13 (湖北省异地就医住院结算单): the patient (sex and age read from the ID number, GB 11643), the
  places, the hospital and its level, the stay, the diagnoses, the four-way split (附件13 note 2: 总费用 =
  范围内 + 乙类先行自付 + 超限价自付 + 自费), each fund of the insured place by its own name, the cash part (note
  3: 总费用 = 基金支付合计 + 个人现金支付), the deductible applied and the personal account after it, and what the
  HIS sent with the bill (the patient's name, the social security card number, the departments, the invoice
  number, the amount the hospital bears: ``contracts.his.BillFacts``); what it did not send is answered as
  ``null`` and printed as not reported, never invented.
  Visible to an agency that speaks for the settlement's insured or treating region.
* ``GET /settlement/accumulations?person=<sealed>&year=YYYY&at=``: the person's year-to-date counters at
  the insured place (S-05, S-14: deductibles used, each fund against its cap, thresholds, the personal
  account spent) and the personal account balance. Visible to an agency that speaks for the insured
  region (the region whose data key seals the person's document there).

* ``GET /settlement/settlements?person=<sealed>&from=&to=&institution=&medical_type=&page=&size=&format=``:
  the person's settlements this agency may see, filtered, paged or downloaded (``query_list.py``).

``person`` is the ID number sealed to the settlement service (``runtime.query.seal_person``): never in
clear in a URL or a log. Answers: 200, 400, 401, 403 (not an agency), 404 (nothing this agency may see).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from contracts.values import mask_person_id
from runtime.parties import ParticipantRegistry, Signer
from runtime.query import FORMATS, QueryRefused, SignedQuery, open_person
from runtime.sealing import region_of_kid
from runtime.store import SEALED_BY
from services.settlement.adapters import VISITS_ITEMS, archived_item
from services.settlement.domain.accumulations import counter_rows
from services.settlement.query_list import SETTLEMENTS_PATH, SPEC, PersonSettlements
from services.wiring import Store

SLIP_PATH = "/settlement/slip"
ACCUMULATIONS_PATH = "/settlement/accumulations"
PERSON = "the ID number sealed to the settlement service (runtime.query.seal_person): never in clear"
SPECS = {
    SLIP_PATH: dict(
        summary="结算单：一笔结算的附件13全部栏目 (S-04..S-07, 000 第五十二条)",
        params={"person": PERSON, "settlement": "the settlement id"},
        required=("person", "settlement"),
    ),
    ACCUMULATIONS_PATH: dict(
        summary="参保地年度累计：起付线、各基金封顶、大病起付累计、个人账户 (S-05, S-14)",
        params={"person": PERSON, "year": "YYYY (default: the current business year)"},
        required=("person",),
    ),
}
INSURANCE_ZH = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
LEVEL_ZH = {"1": "一级", "2": "二级", "3": "三级"}


def sex_and_age(person_id: str, on: date) -> tuple[str, int]:
    """性别 and 年龄 as the ID number encodes them (GB 11643: birth date, the 17th digit odd for men)."""
    born = date(int(person_id[6:10]), int(person_id[10:12]), int(person_id[12:14]))
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return ("男" if int(person_id[16]) % 2 else "女"), age


def slip_fields(
    record: dict, request: dict, person_id: str, institution_name: str, account_after: Decimal | None
) -> dict:
    """附件13, field by field, from the completed settlement and the HIS request it settled."""
    done, slip = record["completed"], record["completed"]["slip"]
    sex, age = sex_and_age(person_id, date.fromisoformat(done["settled_on"]))
    diagnoses = request.get("diagnoses") or []
    admitted, discharged = done.get("admission_date"), done.get("discharge_date")
    days = (date.fromisoformat(discharged) - date.fromisoformat(admitted)).days if admitted and discharged else None
    return {
        "settlement_id": done["settlement_id"],
        "settled_on": done["settled_on"],
        "reversed": record.get("reversed", False),
        "patient_name": request.get("patient_name"),
        "sex": sex,
        "age": age,
        "social_security_number": mask_person_id(person_id),
        "social_security_card": request.get("social_security_card"),
        "department": request.get("department"),
        "invoice_no": done.get("invoice_no") or request.get("invoice_no"),
        "treating_region": done["treating_region"],
        "institution_code": done["institution_code"],
        "institution_name": institution_name,
        "insured_region": done["insured_region"],
        "insurance_type": done["insurance_type"],
        "insurance_type_zh": INSURANCE_ZH.get(done["insurance_type"], ""),
        "hospital_level": done["hospital_level"],
        "hospital_level_zh": LEVEL_ZH.get(str(done["hospital_level"]), ""),
        "medical_type": done["medical_type"],
        "admission_way": "急诊" if request.get("emergency") else "普通",
        "visit_id": done["visit_id"],
        "discharge_department": request.get("discharge_department"),
        "main_diagnosis": diagnoses[0] if diagnoses else None,
        "other_diagnoses": diagnoses[1:],
        "admission_date": admitted,
        "discharge_date": discharged,
        "stay_days": days,
        "total": slip["total"],
        "in_scope": slip["in_scope"],
        "b_class_self_pay": slip["b_class_self_pay"],
        "over_limit_self_pay": slip["over_limit_self_pay"],
        "self_paid": slip["self_paid"],
        "fund_total": slip["fund_total"],
        "hospital_borne": request.get("hospital_borne"),
        "funds": slip["funds"],
        "personal_cash": slip["personal_cash"],
        "deductible_applied": slip["deductible_applied"],
        "personal_account": slip["personal_account"],
        "personal_account_after": str(account_after) if account_after is not None else None,
    }


async def load_settlement(store: Store, person: str, settlement: str) -> tuple[dict | None, dict]:
    """One settlement record of the person (the ``visits`` aggregate's, or archived), with the aggregate's
    fields as they held it; None when the person has no such settlement."""
    visits = await store.load("visits", person) or {}
    if settlement not in (visits.get("settlements") or {}):  # an older one: in the archive (adapters.Items)
        item = await archived_item(store, VISITS_ITEMS.archive, store.document_id("visits", person), settlement) or {}
        visits = {field: {settlement: value} for field, value in item.items()}  # as the aggregate held it
    return (visits.get("settlements") or {}).get(settlement), visits


async def slip_of(
    store: Store, parties: ParticipantRegistry, person: str, settlement: str, record: dict, visits: dict
) -> dict:
    """The 附件13 slip of one loaded settlement record (``load_settlement``)."""
    regions = record.get("completed", {})
    request = record.get("request") or ((visits.get("requests") or {}).get(settlement) or {}).get("request") or {}
    institution = parties.get(regions["institution_code"])
    insured = await store.load("insured", person) or {}
    balance = insured.get("personal_account_balance")
    return slip_fields(
        record,
        request,
        person,
        getattr(institution, "name", regions["institution_code"]),
        Decimal(str(balance)) if balance is not None and insured.get("applied") else None,
    )


class SettlementQueries:
    """The slip and the accumulations of a person, read from the stored ``visits`` and ``insured``
    aggregates, the person opened with the service's own key (``signer``); :meth:`register` adds
    them to the service's port."""

    def __init__(
        self, store: Store, *, signer: Signer, parties: ParticipantRegistry, now: Callable[[], datetime]
    ) -> None:
        self.store, self.signer, self.parties, self.now = store, signer, parties, now

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(SLIP_PATH, self.slip, **SPECS[SLIP_PATH])
        add_query(ACCUMULATIONS_PATH, self.accumulations, **SPECS[ACCUMULATIONS_PATH])
        add_query(SETTLEMENTS_PATH, PersonSettlements(self.store, signer=self.signer, parties=self.parties), **SPEC)

    async def slip(self, q: SignedQuery) -> tuple[bytes, str, str]:
        agency = q.agency()
        person, settlement = open_person(self.signer, q), q.params.get("settlement", "")
        if not settlement:
            raise QueryRefused(400, "settlement (the settlement id) is required")
        record, visits = await load_settlement(self.store, person, settlement)
        regions = (record or {}).get("completed", {})
        if record is None or not any(
            self.parties.speaks_for(agency.code, str(regions.get(side, "")))
            for side in ("insured_region", "treating_region")
        ):
            raise QueryRefused(404, f"no settlement {settlement} of this person that {agency.code} may see")
        body = await slip_of(self.store, self.parties, person, settlement, record, visits)
        return json.dumps(body, ensure_ascii=False).encode(), FORMATS["json"], f"slip-{settlement}.json"

    async def accumulations(self, q: SignedQuery) -> tuple[bytes, str, str]:
        agency = q.agency()
        person = open_person(self.signer, q)
        year = q.params.get("year") or str(self.now().year)
        if not re.fullmatch(r"\d{4}", year):
            raise QueryRefused(400, "year is YYYY")
        doc = await self.store.load_document("insured", person)
        region = region_of_kid(doc[SEALED_BY]) if doc and doc.get(SEALED_BY) else None
        if doc is None or region is None or not self.parties.speaks_for(agency.code, region):
            raise QueryRefused(404, f"no accumulations of this person that {agency.code} may see")
        state = doc["state"]
        counters = (state.get("counters") or {}).get(year) or (state.get("counters") or {}).get(int(year)) or {}
        body = {
            "insured_region": region,
            "year": int(year),
            "counters": counter_rows(counters),
            "personal_account_balance": str(state.get("personal_account_balance", "0.00")),
        }
        return json.dumps(body, ensure_ascii=False).encode(), FORMATS["json"], f"accumulations-{year}.json"
