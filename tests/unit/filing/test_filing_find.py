"""Finding a person's filings (F-15, M-03): by category, state and the days they are in force, paged,
or downloaded as CSV (UTF-8 with a BOM) and XLSX; only the places a filing names see it."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from openpyxl import load_workbook

from runtime.parties import signer_for
from runtime.query import QueryRefused, SignedQuery, seal_person
from services.filing.handlers import PEOPLE
from services.filing.query import FILINGS_PATH, FilingQueries

from .filing_support import PID, reg
from .test_handlers_in_memory import PARTIES, Service


async def _filed() -> FilingQueries:
    import os

    svc = Service()
    assert await svc.send("filing.register.v1", reg(start_date=date(2026, 9, 29))) == "applied"
    return FilingQueries(svc.store, PEOPLE, signer=signer_for(os.environ["YIDI_KEYS_DIR"], "filing"), parties=PARTIES)


async def _ask(queries: FilingQueries, agency: str = "A420100", **params: str) -> tuple[bytes, str, str]:
    return await queries.filings(
        SignedQuery(PARTIES.get(agency), FILINGS_PATH, {"person": seal_person(PARTIES, "filing", PID), **params})
    )


async def test_F15_filters_by_category_state_and_days_in_force_with_totals():
    queries = await _filed()
    body = json.loads((await _ask(queries, category="other_temporary", status="active", **{"from": "2026-10-01"}))[0])
    assert (body["total"], body["page"], body["pages"]) == (1, 1, 1)
    [row] = body["filings"]
    assert row["category_zh"] == "其他临时外出就医人员" and row["status_zh"] == "有效"
    assert "*" in row["person_id"] and row["person_id"] != PID
    for miss in ({"category": "referral"}, {"status": "suspended"}, {"to": "2026-09-28"}):
        assert json.loads((await _ask(queries, **miss))[0])["total"] == 0
    paged = json.loads((await _ask(queries, page="2", size="1"))[0])
    assert (paged["filings"], paged["total"], paged["page"]) == ([], 1, 2)


async def test_F15_a_bad_filter_is_refused_and_a_place_the_filing_does_not_name_sees_nothing():
    queries = await _filed()
    for bad in (
        {"category": "tourist"},
        {"status": "x"},
        {"from": "2026-13-01"},
        {"page": "0"},
        {"size": "501"},
        {"format": "pdf"},
    ):
        with pytest.raises(QueryRefused) as refused:
            await _ask(queries, **bad)
        assert refused.value.status == 400
    with pytest.raises(QueryRefused) as hidden:
        await _ask(queries, agency="A340200")
    assert hidden.value.status == 404


async def test_F15_the_download_is_csv_with_a_bom_and_xlsx_with_date_cells():
    queries = await _filed()
    body, content_type, name = await _ask(queries, format="csv")
    assert body.startswith("\ufeff".encode()) and content_type.startswith("text/csv") and name == "filings.csv"
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("备案编号,身份证号码（部分隐藏）,姓名,备案类别") and PID not in text
    book, _, _ = await _ask(queries, format="xlsx")
    sheet = load_workbook(io.BytesIO(book)).active
    header = [c.value for c in sheet[1]]
    start = sheet.cell(row=2, column=header.index("开始日期") + 1)
    assert start.is_date and start.value.date() == date(2026, 9, 29) and start.number_format == "yyyy-mm-dd"
