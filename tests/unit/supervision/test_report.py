"""The monthly analysis report of a region (000 第七十八条): its parts, the outliers called out with their
reasons by the sample settings (``data/report.yaml``), and the workbook downloaded."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from supervision_support import settlement

from contracts.values import make_person_id
from runtime.query import QueryRefused, SignedQuery

from .supervision_support import PARTIES, Supervision

DAY = date(2026, 10, 12)


def ask(party: str, **params: str) -> SignedQuery:
    return SignedQuery(PARTIES.get(party), "/supervision/report", params)  # type: ignore[arg-type]


async def a_month() -> Supervision:
    """Wuhan, October: H42010200001 three visits of 100.00; H42010200002 one of 200.00 (the region's
    outpatient cost per visit is (300 + 200) / 4 = 125.00, and 200.00 is 60.00 % above it: an outlier
    over the sample 30 %); a Wuhu stay of 29 990.00 flagged SV-03."""
    sv = Supervision()
    for i in range(3):
        await sv.send(
            settlement(f"S-{i}", total="100.00", fund="70.00", person_id=make_person_id(f"11010519491231{i:03d}"))
        )
    await sv.send(settlement("S-x", total="200.00", fund="140.00", institution="H42010200002"))
    await sv.send(settlement("S-9", total="29990.00", fund="20993.00", stay=(DAY - timedelta(days=8), DAY)))
    return sv


async def test_the_report_calls_out_the_dear_hospital_and_counts_the_flags() -> None:
    sv = await a_month()
    body, kind, name = await sv.queries.report(ask("A420100", region="420100", month="2026-10"))
    report = json.loads(body)
    assert name == "supervision-report-420100-2026-10.json"
    [outpatient] = [r for r in report["treating_by_type"] if r["medical_type"] == "general_outpatient"]
    assert (outpatient["visits"], outpatient["cost_per_visit"]) == (4, "125.00")
    [outlier] = report["outliers"]
    assert outlier["institution_code"] == "H42010200002"
    assert outlier["reasons"] == "次均费用 200.00 元，高于本地区同类 125.00 元的 60.00%"
    assert report["flags_by_rule"] == [{"rule_id": "SV-03", "rule_name": "单次住院费用贴近协查起点", "hits": 1}]
    assert report["insured_by_place"] == []  # nobody insured in Wuhan travelled
    wuhu, *_ = await sv.queries.report(ask("A340200", region="340200", month="2026-10"))
    assert {r["treating_region"] for r in json.loads(wuhu)["insured_by_place"]} == {"420100"}


async def test_the_report_downloads_as_a_workbook_of_its_parts() -> None:
    sv = await a_month()
    body, kind, name = await sv.queries.report(ask("A420100", region="420100", month="2026-10", format="xlsx"))
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["就医地概况", "就医地机构明细", "异常提示", "参保地视角", "疑点统计"]
    assert book["异常提示"].cell(2, 3).value.startswith("次均费用 200.00 元")
    assert name.endswith(".xlsx")


@pytest.mark.parametrize(
    "party, params, status",
    [
        ("A430100", {"region": "420100", "month": "2026-10"}, 403),
        ("A420100", {"region": "4201", "month": "2026-10"}, 400),
        ("A420100", {"region": "420100", "month": "2026-10", "format": "csv"}, 400),
        ("H42010200001", {"region": "420100", "month": "2026-10"}, 403),
    ],
)
async def test_a_report_of_a_region_one_does_not_speak_for_or_badly_asked_is_refused(party, params, status) -> None:
    with pytest.raises(QueryRefused) as refused:
        await Supervision().queries.report(ask(party, **params))
    assert refused.value.status == status
