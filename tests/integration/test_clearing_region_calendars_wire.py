"""Region clearing policy over the real wire (issues 26 and 31): the national calendar beside Wuhu's (001
第三十、三十二条), Liaoning's (004 第四十一、四十四、四十六条) and Hunan's (002 第二十三、三十八条), each read from
``kernel/data/clearing_calendars`` with the dates it is in force, and the C-04 tables laid out as 000
第六十五、六十六条 lays them (附件15-1…16-1 by counterpart province, 附件18-1…19-1 within the province).

Working days (M-02) around National Day 2026 (10-01..10-07 off, Saturday 10-10 worked) and in 2023 (Qingming
04-05 off; Labour Day 04-29..05-03 off, Sunday 04-23 worked) are counted by hand in each docstring."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from support import Bus, ServiceProcess, answer_to, at, completed_settlement, move, new_prefix

from contracts.clearing import (
    ConfirmClearingPeriod,
    DeclaredLine,
    FundAmounts,
    MonthlyDeclaration,
    RecordAuditDeduction,
    RecordClearingObligation,
)
from contracts.values import SHANGHAI

pytestmark = pytest.mark.integration

WUHU, HEFEI, WUHAN, XIAOGAN = "340200", "340100", "420100", "420900"
SHENYANG, CHANGSHA = "210100", "430100"
H_WUHU, H_HEFEI, H_WUHAN = "H34020200001", "H34010400002", "H42010200001"
ENTRY, DEDUCT, NOTICE, REPORT = (
    "clearing.entry.v1",
    "clearing.record-audit-deduction.v1",
    "clearing.notice.v1",
    ("clearing.report.v1"),
)
DECLARE, DECLARED = "his.monthly-declaration.v1", "clearing.declaration.v1"
CONFIRM, CONFIRMED = "clearing.confirm-period.v1", "clearing.period-confirmed.v1"
OBLIGATION, BREACHED = "clearing.record-obligation.v1", "clearing.obligation-breached.v1"


def end_of(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 23, 59, 59, 999999, tzinfo=SHANGHAI)


def when(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


def payloads(messages: list[dict], **fields: str) -> list[dict]:
    return [m["payload"] for m in messages if all(m["payload"].get(k) == v for k, v in fields.items())]


async def entry_of(bus: Bus, settlement_id: str, kind: str = "settlement") -> dict:
    found = await bus.read(ENTRY, lambda m: bool(payloads(m, settlement_id=settlement_id, kind=kind)))
    return payloads(found, settlement_id=settlement_id, kind=kind)[0]


def deduction(bus: Bus, deduction_id: str, settlement_id: str, insured: str, treating: str, amount: str):
    return RecordAuditDeduction(
        deduction_id=deduction_id,
        settlement_id=settlement_id,
        insured_region=insured,
        treating_region=treating,
        reason="超限价收费",
        amounts=FundAmounts(insurance_type="310", funds={"pooling": amount}),
        decided_at=bus.business_now(),
    )


def declaration(bus: Bus, institution: str, region: str) -> MonthlyDeclaration:
    return MonthlyDeclaration(
        institution_code=institution,
        treating_region=region,
        month="2026-08",
        lines=[
            DeclaredLine(medical_type=t, settlements=n, fund_total=total)
            for t, n, total in (
                ("inpatient", 1, "300.00"),
                ("general_outpatient", 0, "0"),
                ("chronic_outpatient", 0, "0"),
            )
        ],
        declared_at=bus.business_now(),
    )


async def test_wuhu_declares_by_the_5th_audits_its_intra_province_costs_and_pays_its_institutions_in_5_days(stack):
    """Wuhu (001 第三十、三十二条) against the national calendar (000 第五十六、五十七、六十五、六十六、六十九条).

    Settlements of 2026-08-20, all employee pooling: Wuhu insured treated in Hefei (S-IN, intra-province) 1000.00,
    in Wuhan (S-WH) 500.00 and Xiaogan (S-XG) 200.00; Hefei insured treated in Wuhu (S-WT) 300.00.

    R-03: declared on 09-10, Wuhu's hospital is late (due by the end of 09-05, "每月 5 日前"), Wuhan's is not
    (due by the end of 09-16).
    R-04 on 09-18: Wuhu's intra-province costs are audited by Wuhu ("由参保地经办机构…审核"): Hefei's deduction is
    refused, Wuhu's 100.00 is taken and — Wuhu audits by the 20th — enters 2026-09. The cross-province stay is
    Wuhan's to audit: Wuhu's deduction refused, Wuhan's 50.00 taken, after Wuhan's 16th: 2026-10.
    Notices of 2026-09 (issued 09-30 10:00): Wuhu pays Hefei 1000.00 − 100.00 = 900.00, Wuhan 500.00, Xiaogan 200.00
    and receives 300.00 from Hefei; it pays its institutions within 5 working days (10-08, 10-09, 10-10, 10-12,
    10-13: the end of 10-13), Hefei within 20 (…10-27 is the 15th, 10-28, 10-29, 10-30, 11-02, 11-03: the end of 11-03).
    Tables: cross-province 附件15-1 has one line 湖北省 500.00 + 200.00 = 700.00; intra-province 附件18-1 合肥市
    900.00 and 附件19-1 合肥市 300.00."""
    prefix = new_prefix(stack, "region-wuhu")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(8, 20))
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            for sid, insured, treating, hospital, amount in (
                ("S-IN", WUHU, HEFEI, H_HEFEI, "1000.00"),
                ("S-WH", WUHU, WUHAN, H_WUHAN, "500.00"),
                ("S-XG", WUHU, XIAOGAN, "H42090200001", "200.00"),
                ("S-WT", HEFEI, WUHU, H_WUHU, "300.00"),
            ):
                await bus.publish(
                    "settlement.completed.v1",
                    completed_settlement(
                        sid,
                        insured_region=insured,
                        treating_region=treating,
                        settled_on=date(2026, 8, 20),
                        funds={"pooling": amount},
                        institution_code=hospital,
                    ),
                )
            await bus.read(ENTRY, lambda m: len(m) >= 4)

            # ---- the declaration day is the treating region's
            await move(bus, clearing, at(9, 10))
            await bus.publish(DECLARE, declaration(bus, H_WUHU, WUHU))
            await bus.publish(DECLARE, declaration(bus, H_WUHAN, WUHAN))
            declared = {
                d["payload"]["institution_code"]: d["payload"] for d in await bus.read(DECLARED, lambda m: len(m) >= 2)
            }
            assert (declared[H_WUHU]["late"], declared[H_WUHU]["due_by"]) == (True, end_of(2026, 9, 5).isoformat())
            assert (declared[H_WUHAN]["late"], declared[H_WUHAN]["due_by"]) == (False, end_of(2026, 9, 16).isoformat())

            # ---- who audits, and by which day
            await move(bus, clearing, at(9, 18))
            refused = await bus.publish(DEDUCT, deduction(bus, "D-1", "S-IN", WUHU, HEFEI, "100.00"), sender="A340100")
            answer = await answer_to(bus, refused)
            assert (answer["reason"], answer["rule"]) == ("UNAUTHORIZED", "R-04")
            assert (
                "intra-province costs of 340200->340100 are audited by the insured place (340200)" in answer["message"]
            )
            await bus.publish(DEDUCT, deduction(bus, "D-2", "S-IN", WUHU, HEFEI, "100.00"), sender="A340200")
            assert (await entry_of(bus, "S-IN", "audit_deduction"))["clearing_month"] == "2026-09"
            refused = await bus.publish(DEDUCT, deduction(bus, "D-3", "S-WH", WUHU, WUHAN, "50.00"), sender="A340200")
            assert (
                "cross-province costs of 340200->420100 are audited by the treating place"
                in (await answer_to(bus, refused))["message"]
            )
            await bus.publish(DEDUCT, deduction(bus, "D-4", "S-WH", WUHU, WUHAN, "50.00"), sender="A420100")
            assert (await entry_of(bus, "S-WH", "audit_deduction"))["clearing_month"] == "2026-10"

            # ---- C-02 / C-07: the month-end notices with each region's payment of its institutions
            await move(bus, clearing, at(9, 30))
            notices = {
                n["payload"]["region"]: n["payload"]
                for n in await bus.read(
                    NOTICE, lambda m: {n["payload"]["region"] for n in m} >= {WUHU, HEFEI}, timeout=60
                )
            }
            wuhu = {
                line["counterpart_region"]: (line["owed"], Decimal(line["amount"]))
                for line in notices[WUHU]["counterparts"]
            }
            assert wuhu == {
                HEFEI: ("payable", Decimal("900.00")),
                WUHAN: ("payable", Decimal("500.00")),
                XIAOGAN: ("payable", Decimal("200.00")),
            }, wuhu
            assert notices[WUHU]["institutions_paid_by"] == end_of(2026, 10, 13).isoformat()
            assert notices[HEFEI]["institutions_paid_by"] == end_of(2026, 11, 3).isoformat()

            # ---- 26 item 7: the tables by counterpart province across provinces, by city within one
            reports = {
                (r["payload"]["region"], r["payload"]["scope"]): {t["code"]: t for t in r["payload"]["tables"]}
                for r in await bus.read(REPORT, lambda m: len(payloads(m, region=WUHU)) >= 2, timeout=60)
            }
            cross, intra = reports[(WUHU, "cross_province")], reports[(WUHU, "intra_province")]
            assert [(row["label"], row["values"][0]) for row in cross["附件15-1"]["rows"]] == [
                ("湖北省", "700.00"),
                ("合  计", "700.00"),
            ]
            assert sorted(intra) == ["附件18-1", "附件18-2", "附件18-3", "附件18-4", "附件18-5", "附件18-6", "附件19-1"]
            assert intra["附件18-1"]["rows"][0]["label"] == "合肥市"
            assert intra["附件18-1"]["rows"][0]["values"][0] == "900.00"
            assert intra["附件19-1"]["rows"][0]["values"][0] == "300.00"
        finally:
            clearing.stop()
