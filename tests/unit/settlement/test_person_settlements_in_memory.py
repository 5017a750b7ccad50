"""A person's settlements as an agency finds them (``/settlement/settlements``, S-05..S-07): the ones the
aggregate holds and the archived ones alike, each once, newest first, filtered by date, hospital and
medical type, paged with totals, downloaded with money as numbers; only an agency that speaks for the
insured or the treating place sees them."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from runtime.parties import signer_for
from runtime.query import QueryRefused, SignedQuery, seal_person
from services.settlement.adapters import VISITS_ITEMS
from services.settlement.query_list import SETTLEMENTS_PATH, PersonSettlements

from .test_archive_in_memory import MANY, _many
from .test_saga_in_memory import HOSPITAL, KEYS, MARCH, PARTIES, PID, Service


async def _ask(svc: Service, agency: str = "A420100", **params: str) -> tuple[bytes, str, str]:
    find = PersonSettlements(svc.store, signer=signer_for(KEYS, "settlement"), parties=PARTIES)
    return await find(
        SignedQuery(
            PARTIES.get(agency), SETTLEMENTS_PATH, {"person": seal_person(PARTIES, "settlement", PID), **params}
        )
    )


async def test_every_settlement_archived_or_not_is_listed_once_with_totals_and_pages():
    svc = Service()
    answers = await _many(svc)
    assert svc.store.archives[VISITS_ITEMS.archive]  # some of them live in the archive now
    first = json.loads((await _ask(svc, size="3"))[0])
    assert (first["total"], first["pages"], len(first["settlements"])) == (MANY, -(-MANY // 3), 3)
    everything = json.loads((await _ask(svc, size="500"))[0])["settlements"]
    assert sorted(r["settlement_id"] for r in everything) == sorted(a["settlement_id"] for a in answers)
    row = everything[0]
    assert (row["institution_code"], row["medical_type_zh"], row["reversed_zh"]) == (HOSPITAL, "普通门诊", "已结算")
    assert Decimal(row["total"]) == Decimal(answers[0]["slip"]["total"])


async def test_filters_by_date_hospital_and_medical_type():
    svc = Service()
    await _many(svc)
    day = MARCH.date().isoformat()
    assert json.loads((await _ask(svc, **{"from": day, "to": day}))[0])["total"] == MANY
    for miss in ({"to": "2025-03-11"}, {"institution": "H34020200001"}, {"medical_type": "inpatient"}):
        assert json.loads((await _ask(svc, **miss))[0])["total"] == 0
    assert json.loads((await _ask(svc, institution=HOSPITAL, medical_type="general_outpatient"))[0])["total"] == MANY


async def test_a_bad_filter_is_refused_and_an_agency_of_neither_place_sees_nothing():
    svc = Service()
    await _many(svc)
    for bad in ({"medical_type": "spa"}, {"from": "yesterday"}, {"page": "x"}, {"format": "doc"}):
        with pytest.raises(QueryRefused) as refused:
            await _ask(svc, **bad)
        assert refused.value.status == 400
    with pytest.raises(QueryRefused) as hidden:
        await _ask(svc, agency="A110000")  # Beijing neither insures nor treats this person
    assert hidden.value.status == 404
    assert json.loads((await _ask(svc, agency="A340000"))[0])["total"] == MANY  # the insured city's province


async def test_the_download_has_money_as_numbers_and_dates_as_dates():
    svc = Service()
    answers = await _many(svc)
    csv_body, _, name = await _ask(svc, format="csv")
    assert csv_body.startswith("\ufeff".encode()) and name == "settlements.csv"
    assert "结算编号,结算日期,定点医疗机构" in csv_body.decode("utf-8-sig").splitlines()[0]
    sheet = load_workbook(io.BytesIO((await _ask(svc, format="xlsx"))[0])).active
    header = [c.value for c in sheet[1]]
    total = sheet.cell(row=2, column=header.index("医疗费总额") + 1)
    assert isinstance(total.value, (int, float, Decimal)) and total.number_format == "#,##0.00"
    assert Decimal(str(total.value)) == Decimal(answers[-1]["slip"]["total"])
    assert sheet.cell(row=2, column=header.index("结算日期") + 1).is_date
