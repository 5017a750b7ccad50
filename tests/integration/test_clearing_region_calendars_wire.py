"""Region clearing policy over the real wire (issues 26 and 31): the national calendar beside Wuhu's (001
第三十、三十二条), Liaoning's (004 第四十一、四十四、四十六条) and Hunan's (002 第二十三、三十八条), each read from
``contracts/data/clearing_calendars`` with the dates it is in force, and the C-04 tables laid out as 000
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


async def test_liaoning_cities_confirm_their_payable_by_the_24th_and_fix_receivables_on_the_1st(stack):
    """Liaoning (004 第四十四、四十六条) for every city of the province, Shenyang here, against Wuhan's national days.

    Shenyang insured, treated in Wuhan: S-SY of 2026-08-20, 800.00. Arriving late, on 09-02 10:00, two settlements
    of 08-31: S-L1, Wuhan insured treated in Shenyang, 120.00 — Liaoning fixes last month's receivable applications
    on the 1st ("每月 1 日前固化"), so it waits for 2026-10 — and S-L2, Wuhu insured treated in Wuhan, 60.00, which
    joins 2026-09 (national: until the 21st).
    Generated on 09-21; silence confirms Shenyang's payable at the end of 09-24 ("于当月 24 日前确认…过期未确认的…默认
    该市完成清算应付信息确认"), so its confirmation on 09-25 is refused as after the end of the 24th, while Wuhan's
    confirmation of its receivable that day is taken (national: the 25th) and completes the period."""
    prefix = new_prefix(stack, "region-liaoning")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(8, 20))
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            await bus.publish(
                "settlement.completed.v1",
                completed_settlement(
                    "S-SY",
                    insured_region=SHENYANG,
                    treating_region=WUHAN,
                    settled_on=date(2026, 8, 20),
                    funds={"pooling": "800.00"},
                    institution_code=H_WUHAN,
                ),
            )
            await entry_of(bus, "S-SY")
            await move(bus, clearing, at(9, 2))
            for sid, insured, treating, hospital, amount in (
                ("S-L1", WUHAN, SHENYANG, "H21010200001", "120.00"),
                ("S-L2", WUHU, WUHAN, H_WUHAN, "60.00"),
            ):
                await bus.publish(
                    "settlement.completed.v1",
                    completed_settlement(
                        sid,
                        insured_region=insured,
                        treating_region=treating,
                        settled_on=date(2026, 8, 31),
                        funds={"pooling": amount},
                        institution_code=hospital,
                    ),
                )
            assert (await entry_of(bus, "S-L1"))["clearing_month"] == "2026-10"
            assert (await entry_of(bus, "S-L2"))["clearing_month"] == "2026-09"

            await move(bus, clearing, at(9, 25))
            silent = await bus.read(CONFIRMED, lambda m: bool(payloads(m, insured_region=SHENYANG, side="insured")))
            [by_silence] = payloads(silent, insured_region=SHENYANG, side="insured")
            assert (by_silence["by"], by_silence["pending_sides"]) == ("silence", ["treating"])
            late = await bus.publish(
                CONFIRM,
                ConfirmClearingPeriod(
                    clearing_month="2026-09",
                    insured_region=SHENYANG,
                    treating_region=WUHAN,
                    side="insured",
                    confirmed_at=bus.business_now(),
                ),
                sender="A210100",
            )
            answer = await answer_to(bus, late)
            assert answer["reason"] == "REFUSED_BY_RULE" and "after the end of the 24th" in answer["message"]
            await bus.publish(
                CONFIRM,
                ConfirmClearingPeriod(
                    clearing_month="2026-09",
                    insured_region=SHENYANG,
                    treating_region=WUHAN,
                    side="treating",
                    confirmed_at=bus.business_now(),
                ),
                sender="A420100",
            )
            done = await bus.read(CONFIRMED, lambda m: bool(payloads(m, insured_region=SHENYANG, side="treating")))
            [treating] = payloads(done, insured_region=SHENYANG, side="treating")
            assert (treating["by"], treating["pending_sides"]) == ("province", [])
        finally:
            clearing.stop()


async def test_hunan_remits_within_15_working_days_of_the_notice_while_002_is_in_force(stack):
    """C-08 (002 第二十三条: "各市（州）经办机构应在收到…清算通知书 15 个工作日内，完成…上解和清算"), in force only
    from 2021-05-14 for two years (002 第三十八条); Changsha insured, treated in Wuhan.

    2023: S-CS1 of 2023-02-10, 400.00, cleared in 2023-03; notice 03-31 10:00. The transfer is due 15 working days
    after the notice: 04-03, 04, 06, 07, 10 (5), 11, 12, 13, 14, 17 (10), 18, 19, 20, 21, and Sunday 04-23, worked
    for Labour Day (15): the end of 04-23. Changsha submits to finance on 04-03; under the national chain (C-03)
    its transfer would then be due 10 working days later, the end of 04-18 — under 002 it stays 04-23: nothing is
    breached on 04-19, and on 04-24 the transfer is breached under C-08.
    2026, 002 no longer in force: S-CS2 of 2026-08-20, 400.00; notice 09-30 10:00; submitted on 10-08, so the
    transfer is due 10 working days later (10-09, 10-10, 10-12, 13, 14, 15, 16, 19, 20, 21): the end of 10-21,
    breached on 10-22 under C-03."""
    prefix = new_prefix(stack, "region-hunan")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(when(2023, 2, 10))
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            # ---- 2023: 002 in force
            await settle_changsha(bus, "S-CS1", date(2023, 2, 10))
            await move(bus, clearing, when(2023, 3, 31))
            notice = await notice_of(bus, CHANGSHA, "2023-03")
            assert notice["transfer_by"] == end_of(2023, 4, 23).isoformat()
            await move(bus, clearing, when(2023, 4, 3))
            await submitted(bus, CHANGSHA, "2023-03")
            await move(bus, clearing, when(2023, 4, 19))  # the national chain's 04-18 has passed
            await move(bus, clearing, when(2023, 4, 24))
            transfer = await breach_of(bus, "2023-03", "transferred")
            assert (transfer["rule"], transfer["due_at"]) == ("C-08", end_of(2023, 4, 23).isoformat())
            assert datetime.fromisoformat(transfer["breached_at"]) >= when(2023, 4, 24)  # not on 04-19

            # ---- 2026: 002 no longer in force, the national chain
            await move(bus, clearing, when(2026, 8, 20))
            await settle_changsha(bus, "S-CS2", date(2026, 8, 20))
            await move(bus, clearing, when(2026, 9, 30))
            notice = await notice_of(bus, CHANGSHA, "2026-09")
            assert notice["transfer_by"] == end_of(2026, 10, 27).isoformat()  # 5 + 10 working days, as printed
            await move(bus, clearing, when(2026, 10, 8))
            await submitted(bus, CHANGSHA, "2026-09")
            await move(bus, clearing, when(2026, 10, 22))
            transfer = await breach_of(bus, "2026-09", "transferred")
            assert (transfer["rule"], transfer["due_at"]) == ("C-03", end_of(2026, 10, 21).isoformat())
        finally:
            clearing.stop()


async def settle_changsha(bus: Bus, settlement_id: str, day: date) -> None:
    await bus.publish(
        "settlement.completed.v1",
        completed_settlement(
            settlement_id,
            insured_region=CHANGSHA,
            treating_region=WUHAN,
            settled_on=day,
            funds={"pooling": "400.00"},
            institution_code=H_WUHAN,
        ),
    )
    await entry_of(bus, settlement_id)


async def notice_of(bus: Bus, region: str, month: str) -> dict:
    found = await bus.read(NOTICE, lambda m: bool(payloads(m, region=region, clearing_month=month)), timeout=60)
    return payloads(found, region=region, clearing_month=month)[0]


async def submitted(bus: Bus, region: str, month: str) -> None:
    await bus.publish(
        OBLIGATION,
        RecordClearingObligation(
            region=region, clearing_month=month, obligation="submitted_to_finance", done_at=bus.business_now()
        ),
        sender=f"A{region}",
    )
    await bus.read("clearing.obligation-recorded.v1", lambda m: bool(payloads(m, clearing_month=month)))


async def breach_of(bus: Bus, month: str, obligation: str, region: str = CHANGSHA) -> dict:
    """``region``'s breach: Wuhan, the treating side, has a notice of the same month under the national
    chain, and its breaches may come first on the topic."""
    wanted = {"clearing_month": month, "obligation": obligation, "region": region}
    found = await bus.read(BREACHED, lambda m: bool(payloads(m, **wanted)))
    return payloads(found, **wanted)[0]
