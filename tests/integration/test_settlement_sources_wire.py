"""Settlement as the sources write it (issues 26 and 31), over the real wire: the running settlement
service of ``test_settlement_wire`` (its own OS process on the embedded stack, one per module),
fed filing snapshots, asked by a hospital's HIS, answers read from ``settlement.result.v2`` and the
facts from ``settlement.fee-detail.v1``. Each test cites the article it follows; its figures are
computed by hand in its docstring.

Two insured places, one treating hospital (H42010200001, level 3, Wuhan 420100, Hubei catalogue):
Xiaogan 孝感 (420900, Hubei: intra-province, the default policy file, sample numbers) and Wuhu 芜湖
(340200, Anhui: cross-province, its own file). Business time is 2025-03-12 until the last test,
which moves it to April.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from support import move
from test_settlement_wire import (
    CANCEL,
    DISCHARGE,
    FEE_DETAIL,
    HOSPITAL,
    OUTPATIENT,
    ask,
    assert_completed,
    counters,
    discharge,
    ecg_bill,
    feed,
    filing,
    funds,
    m,
    outpatient,
    person,
    stay_bill,
    wire,  # noqa: F401 — the same running settlement service, one per module
)

from contracts.his import SettlementCancelRequested
from contracts.values import SHANGHAI, FilingCategory

pytestmark = pytest.mark.integration

XIAOGAN, WUHU = "420900", "340200"
APRIL_BEFORE_CLEARING = datetime(2025, 4, 10, 10, 0, tzinfo=SHANGHAI)  # March in the month's settlement, not cleared
AFTER_APRIL_CLEARING = datetime(2025, 4, 22, 10, 0, tzinfo=SHANGHAI)  # March cleared on 2025-04-21 (C-02)
STAYS = (
    (date(2025, 1, 2), date(2025, 1, 10)),
    (date(2025, 1, 13), date(2025, 1, 20)),
    (date(2025, 2, 3), date(2025, 2, 10)),
)


async def settle_stays(w, pid: str, insured: str, label: str) -> list[dict]:
    """Three stays of one long-term filer at the hospital, in order (the third is the latest)."""
    await feed(w, filing(pid, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1), insured=insured))
    answers = []
    for n, (admitted, discharged) in enumerate(STAYS, start=1):
        request = discharge(
            pid, f"{label}-{n}", stay_bill(), admitted, discharged, insured=insured, visit_id=f"ZY-{label}-{n}"
        )
        answers.append(await ask(w, DISCHARGE, request))
    return answers


async def cancel(w, pid: str, settled: dict, request_id: str) -> dict:
    return await ask(
        w,
        CANCEL,
        SettlementCancelRequested(
            request_id=request_id, person_id=pid, settlement_id=settled["settlement_id"], institution_code=HOSPITAL
        ),
    )


async def detail_of(w, settlement_id: str) -> dict:
    details = await w.bus.read(FEE_DETAIL, lambda ms: any(x["payload"]["settlement_id"] == settlement_id for x in ms))
    return next(x["payload"] for x in details if x["payload"]["settlement_id"] == settlement_id)


# ================================================================ S-18 (26 item 3)
async def test_S18_an_intra_province_stays_fee_detail_goes_up_in_real_time_and_a_cross_province_ones_in_3_days(wire):
    """S-18. Intra-province: "异地就医定点医药机构应将其费用明细信息数据实时传输至省医疗保障信息平台"
    (000 第四十七条); "省内异地直接结算后实时将医疗费用明细上传省异地就医管理子系统" (001 第二十六条): a
    Xiaogan employee's stay settled on 2025-03-12 has its detail due the same day, 2025-03-12.
    Cross-province: "3日内" (000 第五十三条): a Wuhu employee's, 2025-03-12 + 3 = 2025-03-15.
    The bill (test_settlement_wire.stay_bill): 10 lines, total 6303.00, in-scope 5105.70.
    Xiaogan (default file, sample) employee level 3, long-term: deductible 1000.00, 80%:
    pooling (5105.70 − 1000.00) × 0.80 = 3284.56; cash 6303.00 − 3284.56 = 3018.44."""
    intra_pid, cross_pid = person("420902"), person()
    for pid, insured in ((intra_pid, XIAOGAN), (cross_pid, WUHU)):
        await feed(wire, filing(pid, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1), insured=insured))
    intra = await ask(wire, DISCHARGE, discharge(intra_pid, "S18-IN", stay_bill(), *STAYS[0], insured=XIAOGAN))
    assert_completed(
        intra,
        pooling="3284.56",
        cash="3018.44",
        deductible="1000.00",
        ratio="0.80",
        rate_basis="local",
        basis="long_term",
    )
    cross = await ask(wire, DISCHARGE, discharge(cross_pid, "S18-X", stay_bill(), *STAYS[0]))
    assert cross["outcome"] == "completed", cross

    intra_detail = await detail_of(wire, intra["settlement_id"])
    assert (intra_detail["insured_region"], intra_detail["settled_on"], intra_detail["upload_due"]) == (
        XIAOGAN,
        "2025-03-12",
        "2025-03-12",
    )
    assert len(intra_detail["lines"]) == 10 and m(intra_detail["totals"]["total"]) == m("6303.00")
    assert m(intra_detail["totals"]["in_scope"]) == m("5105.70")
    cross_detail = await detail_of(wire, cross["settlement_id"])
    assert (cross_detail["settled_on"], cross_detail["upload_due"]) == ("2025-03-12", "2025-03-15")


# ================================================================ F-05, S-09 (26 item 8)
async def test_F05_S09_unfiled_general_outpatient_is_cut_only_where_the_regions_text_ties_it(wire):
    """F-05, S-09. General outpatient needs no filing (000 第十一条: "参保人员在异地普通门诊和药店购药时无需
    办理备案"); 003 二(六) cuts "非急诊且未转诊的其他跨省临时外出就医人员". The bill: 常规心电图 310701001
    10 × 100.00 = 1000.00, class A, all in scope.
    Default (Xiaogan, no filing, level 3, sample numbers): annual deductible 800.00, local 50%, no cut:
    pooling (1000.00 − 800.00) × 0.50 = 100.00; cash 1000.00 − 100.00 = 900.00.
    Wuhu: 001 二(二) counts 其他临时外出就医人员 as temporary and 三(三) cuts 职工跨省未办理转诊的 by 20
    points: deductible 600.00, 50% − 20 = 30%: pooling (1000.00 − 600.00) × 0.30 = 120.00; cash 880.00."""
    default_pid, wuhu_pid = person("420902"), person()
    local = await ask(wire, OUTPATIENT, outpatient(default_pid, "F05-DEF", ecg_bill("100.00"), insured=XIAOGAN))
    assert local["outcome"] == "completed", local
    assert (m(local["ratio_applied"]), local["rate_basis"]) == (m("0.50"), "local")
    assert funds(local["slip"]) == [("pooling", m("100.00"))] and m(local["slip"]["personal_cash"]) == m("900.00")
    cut = await ask(wire, OUTPATIENT, outpatient(wuhu_pid, "F05-WUHU", ecg_bill("100.00")))
    assert cut["outcome"] == "completed", cut
    assert (m(cut["ratio_applied"]), cut["rate_basis"]) == (m("0.30"), "other_temporary")
    assert funds(cut["slip"]) == [("pooling", m("120.00"))] and m(cut["slip"]["personal_cash"]) == m("880.00")


# ================================================================ S-15 (26 item 5) — moves the clock: keep last
async def test_S15_recall_is_refused_intra_province_only_once_cleared_and_cross_province_after_the_month_or_skipping(
    wire,
):
    """S-15, 004 第三十四条: "省内异地就医时，经办机构间已完成费用清算的，不予召回重结。跨省异地就医时，
    作为就医地…召回重结的，应在定点医药机构月结算之前完成，但不得隔次召回".
    Each person has three stays settled on 2025-03-12 (clearing period 2025-04, generated 2025-04-21, C-02).
    Xiaogan employee (intra-province, default file): each stay pooling 3284.56 (see the S-18 test);
    Wuhu employee (cross-province), level 3, long-term: deductible 800.00, 85%:
    pooling (5105.70 − 800.00) × 0.85 = 3659.845 → 3659.85 each.
    On 2025-03-12: the first Wuhu stay is not the latest → RECALL_NOT_LATEST; the first Xiaogan stay,
    not the latest either, is recalled: compensation −6303.00, fund −3284.56.
    On 2025-04-10 (March in the hospital's monthly settlement, not cleared): the latest Wuhu stay →
    RECALL_AFTER_MONTHLY_SETTLEMENT; the latest Xiaogan stay is recalled.
    On 2025-04-22 (cleared): the remaining Xiaogan stay → RESETTLE_AFTER_CLEARING.
    Left on the pooling cap: Xiaogan 3 × 3284.56 − 2 × 3284.56 = 3284.56; Wuhu 3 × 3659.85 = 10979.55."""
    intra_pid, cross_pid = person("420902"), person()
    intra = await settle_stays(wire, intra_pid, XIAOGAN, "S15-IN")
    cross = await settle_stays(wire, cross_pid, WUHU, "S15-X")
    assert [a["outcome"] for a in intra + cross] == ["completed"] * 6
    assert {a["clearing_month"] for a in intra + cross} == {"2025-04"}

    skipping = await cancel(wire, cross_pid, cross[0], "S15-X-CX-1")
    assert (skipping["outcome"], skipping["code"], skipping["title_zh"]) == (
        "refused",
        "RECALL_NOT_LATEST",
        "不得隔次召回",
    )
    recalled = await cancel(wire, intra_pid, intra[0], "S15-IN-CX-1")
    assert recalled["outcome"] == "cancelled", recalled
    c = recalled["compensation"]
    assert (m(c["total"]), m(c["fund_total"]), recalled["clearing_month"]) == (m("-6303.00"), m("-3284.56"), "2025-04")

    await move(wire.bus, wire.proc, APRIL_BEFORE_CLEARING)
    month_settled = await cancel(wire, cross_pid, cross[2], "S15-X-CX-3")
    assert (month_settled["outcome"], month_settled["code"]) == ("refused", "RECALL_AFTER_MONTHLY_SETTLEMENT")
    assert month_settled["title_zh"] == "医疗机构已月结，不予召回重结"
    latest = await cancel(wire, intra_pid, intra[2], "S15-IN-CX-3")
    assert (latest["outcome"], latest["reversed_on"]) == ("cancelled", "2025-04-10"), latest

    await move(wire.bus, wire.proc, AFTER_APRIL_CLEARING)
    cleared = await cancel(wire, intra_pid, intra[1], "S15-IN-CX-2")
    assert (cleared["outcome"], cleared["code"]) == ("refused", "RESETTLE_AFTER_CLEARING"), cleared
    assert cleared["title_zh"] == "经办机构间已清算，不予召回重结"

    assert (await counters(wire, intra_pid))["2025"] == {"fund/pooling/annual": m("3284.56")}
    assert (await counters(wire, cross_pid))["2025"] == {"fund/pooling/annual": m("10979.55")}
