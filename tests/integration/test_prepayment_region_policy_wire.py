"""Prepayment region policy over the real wire (the prepayment service as its own process): each region's
text, in force on the date, decides P-02/P-11 (how the quota is sized), P-04 (what the usage rate
measures) and P-10 (whether and how soon interest is shared). The worked figures are in each docstring."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from privacy_support import find_aggregate
from support import Bus, ServiceProcess, answer_to, completed_settlement, eventually, move, new_prefix

from contracts.clearing import ClearingNoticeIssued, CounterpartAmounts
from contracts.prepayment import (
    PrepaymentScope,
    RecordPrepaymentPayment,
    RecordProactiveTopUp,
    RecordReturn,
    SetAnnualQuota,
    ShareInterest,
)
from contracts.values import SHANGHAI as SH
from contracts.values import MedicalType
from runtime.calendar import end_of_business_day

pytestmark = pytest.mark.integration

CROSS = PrepaymentScope.CROSS_PROVINCE
CHANGSHA, WUHU, WUHAN, XIAOGAN, SHENYANG, DALIAN, BEIJING = (
    "430100",
    "340200",
    "420100",
    "420900",
    "210100",
    "210200",
    "110000",
)
KEEPER = {CHANGSHA: "A430000", WUHU: "A340000", WUHAN: "A420000", XIAOGAN: "A420000", SHENYANG: "A210000"}
KEEPER[DALIAN] = "A210000"
TOP_UP, RETURN = "prepayment.record-top-up.v1", "prepayment.record-return.v1"


def moment(y: int, m: int, d: int, hour: int = 10) -> datetime:
    return datetime(y, m, d, hour, 0, tzinfo=SH)


async def state(proc: ServiceProcess, region: str) -> dict | None:
    client, db = await proc.db()
    try:
        doc = await find_aggregate(db, "accounts", f"{region}:{CROSS.value}")
        return doc and doc["state"]
    finally:
        await client.close()


def settlement(sid: str, region: str, on: date, fund: str, cash: str, medical_type: str = "inpatient"):
    done = completed_settlement(
        sid, insured_region=region, treating_region=BEIJING, settled_on=on, funds={"pooling": fund}, cash=cash
    )
    return done.model_copy(update={"medical_type": MedicalType(medical_type)})


async def usage_of(bus: Bus, region: str, cause: str) -> dict:
    found = await bus.read(
        "prepayment.usage.v1",
        lambda m: any(u["payload"]["insured_region"] == region and u["payload"]["cause"] == cause for u in m),
    )
    return next(
        u["payload"] for u in found if u["payload"]["insured_region"] == region and u["payload"]["cause"] == cause
    )


async def quota_of(bus: Bus, region: str, year: int) -> dict:
    found = await bus.read(
        "prepayment.quota.v1",
        lambda m: any(q["payload"]["insured_region"] == region and q["payload"]["year"] == year for q in m),
    )
    return next(
        q["payload"] for q in found if q["payload"]["insured_region"] == region and q["payload"]["year"] == year
    )


async def test_hunan_sizes_its_prepayment_at_two_months_of_last_years_actual_costs_outpatient_with_inpatient(stack):
    """P-11 (002 第五条: 跨省门诊费用预付金并入跨省异地住院费用预付金统一测算及管理; 第二十四条: 以上年度平均两个月
    本市州跨省异地就医实际发生费用为标准; 002 in force 2021-05-14 for two years, 第三十八条).

    Changsha (430100) and, as the national default's control, Wuhu (340200), each insured, treated in
    Beijing, the same two settlements of 2022: on 07-15 a stay (fund 6,300.00 + cash 2,700.00 = 9,000.00)
    and on 11-15 an outpatient visit (fund 420.00 + cash 180.00 = 600.00). Both count in the one
    cross-province account: uncleared 6,300.00 + 420.00 = 6,720.00.

    The 2023 quota, set on 2023-01-10:
    * Changsha (002, in force): 2022's actual costs 9,600.00 ÷ 12 = 800.00 a month × 2 = 1,600.00;
    * Wuhu (003 四(一), the default): Q4 fund 420.00 ÷ 3 × 2 = 280.00.
    Both are new accounts (last year's quota 0.00), so the adjustment is the quota. Its notice, issued
    2023-01-10 (Tue), runs over the Spring Festival (01-21..01-27 off, Sat 01-28 and Sun 01-29 worked):
    to finance by 5 working days → 01-17; finance pays 10 working days later → 02-03 (01-18, 19, 20, 28,
    29, 30, 31, 02-01, 02, 03); unpaid 20 working days after the notice → 02-10 (P-09)."""
    prefix = new_prefix(stack, "pp-p11")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(moment(2022, 7, 15))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move(bus, proc, moment(2022, 7, 15))
            for region in (CHANGSHA, WUHU):
                await bus.publish(
                    "settlement.completed.v1",
                    settlement(f"S-{region}-1", region, date(2022, 7, 15), "6300.00", "2700.00"),
                )
            await move(bus, proc, moment(2022, 11, 15))
            for region in (CHANGSHA, WUHU):
                visit = settlement(
                    f"S-{region}-2", region, date(2022, 11, 15), "420.00", "180.00", "general_outpatient"
                )
                await bus.publish("settlement.completed.v1", visit)
            for region in (CHANGSHA, WUHU):
                used = await usage_of(bus, region, f"settlement:S-{region}-2:completed")
                assert used["uncleared_payable"] == "6720.00"  # outpatient and inpatient in one account

            await move(bus, proc, moment(2023, 1, 10))
            for region in (CHANGSHA, WUHU):
                cmd = SetAnnualQuota(insured_region=region, scope=CROSS, year=2023, issued_at=bus.business_now())
                await bus.publish("prepayment.set-annual-quota.v1", cmd, sender=KEEPER[region])
            hunan, default = await quota_of(bus, CHANGSHA, 2023), await quota_of(bus, WUHU, 2023)
            assert (hunan["quota"], hunan["quota_measure"], hunan["quota_months"], hunan["quota_basis"]) == (
                "1600.00",
                "total_cost",
                2,
                "year",
            )
            assert (
                hunan["recorded_monthly_funds"]["7"] == "9000.00" and hunan["recorded_monthly_funds"]["11"] == "600.00"
            )
            assert "002" in hunan["policy_source"] and hunan["adjustment"] == "1600.00" and hunan["overridden"] == []
            assert (default["quota"], default["quota_measure"], default["quota_basis"]) == ("280.00", "fund", "q4")

            notice = (await state(proc, CHANGSHA))["notices"][hunan["notice_id"]]
            assert datetime.fromisoformat(notice["submit_by"]) == end_of_business_day(date(2023, 1, 17))
            assert datetime.fromisoformat(notice["finance_pay_by"]) == end_of_business_day(date(2023, 2, 3))
            assert datetime.fromisoformat(notice["sanction_due_at"]) == end_of_business_day(date(2023, 2, 10))
        finally:
            proc.stop()


def clearing_notice(region: str, month: str, amount: str, issued_at: datetime) -> ClearingNoticeIssued:
    """A month's clearing notice of ``region`` as the clearing service issues it: one payable line to Beijing."""
    return ClearingNoticeIssued(
        notice_id=uuid.uuid5(uuid.NAMESPACE_URL, f"notice:{region}:{month}"),
        clearing_month=month,
        region=region,
        counterparts=[
            CounterpartAmounts(
                counterpart_region=BEIJING,
                direction="payable",
                cross_province=True,
                totals=[],
                settled=amount,
                deducted="0.00",
                net=amount,
                owed="payable",
                amount=amount,
            )
        ],
        payable_total=amount,
        receivable_total="0.00",
        net_payable=amount,
        issued_at=issued_at,
        submit_to_finance_by=issued_at,
        transfer_by=issued_at,
        receipt_feedback_by=issued_at,
        institutions_paid_by=issued_at,
        calendar="test",
    )


async def set_quota(bus: Bus, region: str, year: int, monthly: dict[int, str]) -> dict:
    cmd = SetAnnualQuota(
        insured_region=region,
        scope=CROSS,
        year=year,
        last_year_quota="0.00",
        last_year_monthly_funds=monthly,
        issued_at=bus.business_now(),
    )
    await bus.publish("prepayment.set-annual-quota.v1", cmd, sender=KEEPER[region])
    return await quota_of(bus, region, year)


async def test_usage_is_the_months_clearing_in_hubei_and_the_payables_in_liaoning(stack):
    """P-04: Liaoning (004 第二十三条) measures (uncleared + cleared unpaid payable) ÷ (quota + top-ups);
    Hubei (000 第二十八条, in force from 2023-01-01) the month's clearing funds 月度清算资金 ÷ the prepayment.

    2026 quotas, both 200,000.00: Wuhan (Hubei, the national P-02: 2 × Q4 average 100,000.00) and Shenyang
    (Liaoning 第十九条: 4 × last year's monthly average 50,000.00). Each then settles 150,000.00 (fund):
    * Shenyang 150,000 ÷ 200,000 = 75.00 % yellow; Wuhan: no month cleared yet, 0.00 % none.
    The 2026-09 notice clears 150,000.00 for each:
    * Shenyang 0 + 150,000 cleared unpaid → 75.00 %; Wuhan 150,000 of the month ÷ 200,000 → 75.00 % yellow.
    Then 40,000.00 more is settled by each:
    * Shenyang (150,000 + 40,000) ÷ 200,000 = 95.00 % red, and its emergency top-up: |200,000 − 190,000| =
      10,000.00 under the P-07 cap 2 × 150,000 − 200,000 = 100,000.00;
    * Wuhan still 75.00 %: a settlement is not the month's clearing."""
    prefix = new_prefix(stack, "pp-p04")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(moment(2026, 9, 1))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move(bus, proc, moment(2026, 9, 1))
            assert (await set_quota(bus, WUHAN, 2026, dict.fromkeys((10, 11, 12), "100000.00")))["quota"] == "200000.00"
            liaoning = await set_quota(bus, SHENYANG, 2026, dict.fromkeys(range(1, 13), "50000.00"))
            assert liaoning["quota"] == "200000.00"
            for region in (WUHAN, SHENYANG):
                await bus.publish(
                    "settlement.completed.v1",
                    settlement(f"S-{region}-a", region, date(2026, 9, 1), "150000.00", "0.00"),
                )
            hubei, ln = [await usage_of(bus, r, f"settlement:S-{r}-a:completed") for r in (WUHAN, SHENYANG)]
            assert (ln["usage_percent"], ln["level"], ln["usage_formula"]) == ("75.00", "yellow", "payables")
            assert (hubei["usage_percent"], hubei["level"], hubei["usage_formula"]) == (
                "0.00",
                "none",
                "monthly_clearing",
            )
            assert "000 第二十八条" in hubei["usage_source"] and "004 第二十三条" in ln["usage_source"]

            await move(bus, proc, moment(2026, 9, 30))
            for region in (WUHAN, SHENYANG):
                await bus.publish(
                    "clearing.notice.v1", clearing_notice(region, "2026-09", "150000.00", bus.business_now())
                )
            hubei, ln = [await usage_of(bus, r, "clearing:2026-09") for r in (WUHAN, SHENYANG)]
            assert (ln["usage_percent"], ln["uncleared_payable"], ln["cleared_unpaid_payable"]) == (
                "75.00",
                "0.00",
                "150000.00",
            )
            assert (hubei["usage_percent"], hubei["level"], hubei["monthly_clearing"]) == (
                "75.00",
                "yellow",
                "150000.00",
            )

            for region in (WUHAN, SHENYANG):
                await bus.publish(
                    "settlement.completed.v1",
                    settlement(f"S-{region}-b", region, date(2026, 9, 30), "40000.00", "0.00"),
                )
            hubei, ln = [await usage_of(bus, r, f"settlement:S-{r}-b:completed") for r in (WUHAN, SHENYANG)]
            assert (ln["usage_percent"], ln["level"]) == ("95.00", "red")
            assert (hubei["usage_percent"], hubei["level"]) == ("75.00", "yellow")
            notices = await bus.read("prepayment.top-up-notice.v1", lambda m: len(m) >= 1)
            assert [(n["payload"]["insured_region"], n["payload"]["amount"]) for n in notices] == [
                (SHENYANG, "10000.00")
            ]
        finally:
            proc.stop()


async def fund(bus: Bus, region: str, monthly: str, payment_id: str) -> None:
    """A 2026 quota (Liaoning: 4 × the monthly average of all 12 months) and its adjustment paid in full."""
    quota = await set_quota(bus, region, 2026, dict.fromkeys(range(1, 13), monthly))
    pay = RecordPrepaymentPayment(
        payment_id=payment_id,
        insured_region=region,
        scope=CROSS,
        notice_id=quota["notice_id"],
        amount=quota["adjustment"],
        paid_at=bus.business_now(),
    )
    await bus.publish("prepayment.record-payment.v1", pay, sender=KEEPER[region])
    await usage_of(bus, region, f"payment:{payment_id}")


def interest(bus: Bus, interest_id: str, regions: list[str], amount: str = "30.00") -> ShareInterest:
    return ShareInterest(
        interest_id=interest_id,
        scope=CROSS,
        regions=regions,
        period_start=date(2026, 9, 29),
        period_end=date(2026, 9, 30),
        interest=amount,
        received_at=bus.business_now(),
        credited_on=date(2026, 9, 30),
    )


async def test_liaoning_shares_province_interest_as_this_years_top_up_within_5_working_days_hubei_shares_none(stack):
    """P-10. Liaoning (004 第二十九条): the province shares the interest of the prepayments it holds by
    daily-balance products 积数法, publishes each city's share within 5 working days and books it as the
    city's top-up for the year (按预付金本年度追加处理), so it moves the usage rate. Hubei (000 第三十三条):
    interest belongs to whoever opened the account; nothing is shared.

    Shenyang's 200,000.00 (4 × 50,000.00) and Dalian's 100,000.00 (4 × 25,000.00) are paid in on 2026-09-28;
    Shenyang then settles 150,000.00 (75.00 %). Interest of 30.00 on 09-29..09-30, credited 09-30:
    products Shenyang 2 × 200,000.00 = 400,000.00, Dalian 200,000.00 → 20.00 and 10.00. Published by the
    5th working day after 09-30 across National Day (10-01..10-07 off, Sat 10-10 worked): 10-08, 09, 10,
    12, 13 → 10-13 (end of day). Shared on 10-12: on time; Shenyang's rate 150,000 ÷ 200,020 = 74.99 %.
    A second interest of the same days, shared on 10-14, is published late. Hubei's keeper sharing Wuhan's
    and Xiaogan's interest is refused with 000 第三十三条."""
    prefix = new_prefix(stack, "pp-p10")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(moment(2026, 9, 28))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move(bus, proc, moment(2026, 9, 28))
            await fund(bus, SHENYANG, "50000.00", "LN-SY-1")
            await fund(bus, DALIAN, "25000.00", "LN-DL-1")
            await bus.publish(
                "settlement.completed.v1", settlement("S-SY", SHENYANG, date(2026, 9, 28), "150000.00", "0.00")
            )
            assert (await usage_of(bus, SHENYANG, "settlement:S-SY:completed"))["usage_percent"] == "75.00"

            await move(bus, proc, moment(2026, 10, 12))
            await bus.publish(
                "prepayment.share-interest.v1", interest(bus, "LN-INT-1", [SHENYANG, DALIAN]), sender="A210000"
            )
            shared = await bus.read("prepayment.interest-shared.v1", lambda m: len(m) >= 1)
            first = shared[0]["payload"]
            assert [(s["insured_region"], s["product"], s["share"]) for s in first["shares"]] == [
                (SHENYANG, "400000.00", "20.00"),
                (DALIAN, "200000.00", "10.00"),
            ]
            assert datetime.fromisoformat(first["publish_by"]) == end_of_business_day(date(2026, 10, 13))
            assert first["published_late"] is False and any("004 第二十九条" in s for s in first["policy_sources"])
            moved = await usage_of(bus, SHENYANG, "interest:LN-INT-1")
            assert (moved["top_ups"], moved["usage_percent"]) == ("20.00", "74.99")

            await move(bus, proc, moment(2026, 10, 14))
            await bus.publish(
                "prepayment.share-interest.v1", interest(bus, "LN-INT-2", [SHENYANG, DALIAN]), sender="A210000"
            )
            shared = await bus.read("prepayment.interest-shared.v1", lambda m: len(m) >= 2)
            late = next(s["payload"] for s in shared if s["payload"]["interest_id"] == "LN-INT-2")
            assert late["published_late"] is True

            sent = await bus.publish(
                "prepayment.share-interest.v1", interest(bus, "HB-INT-1", [WUHAN, XIAOGAN]), sender="A420000"
            )
            answer = await answer_to(bus, sent)
            assert answer["reason"] == "REFUSED_BY_RULE" and "000 第三十三条" in answer["message"], answer
            assert "归账户开设地所有" in answer["message"]
        finally:
            proc.stop()


def reverse_notice(region: str, month: str, deducted: str, issued_at: datetime) -> ClearingNoticeIssued:
    """C-05: a month whose audit deductions exceed what was settled: the pair's net is negative, money comes back."""
    back = f"-{deducted}"
    line = CounterpartAmounts(
        counterpart_region=BEIJING,
        direction="payable",
        cross_province=True,
        totals=[],
        settled="0.00",
        deducted=deducted,
        net=back,
        owed="receivable",
        amount=deducted,
        reverse_clearing=True,
    )
    base = clearing_notice(region, month, "0.00", issued_at).model_dump()
    changed = {"counterparts": [line.model_dump()], "receivable_total": deducted, "net_payable": back}
    return ClearingNoticeIssued.model_validate({**base, **changed})


async def test_liaoning_adds_funds_on_its_own_at_yellow_and_a_reverse_clearing_return_is_recorded_when_it_arrives(
    stack,
):
    """004 第二十四条 (Liaoning): 预付金使用率出现黄色预警时，应主动追加资金上解至省经办机构专户, the amount =
    quota + this year's top-ups − uncleared − cleared unpaid. Wuhu's text (the national default; 000 第二十八条
    likewise) asks nothing at yellow. And C-05 (004 第五十一条): money reverse clearing gives back is recorded
    when it arrives, at most what the notice gives back.

    2026 quotas of 200,000.00 each: Shenyang 4 × 50,000.00, Wuhu 2 × 100,000.00. Each settles 150,000.00 →
    75.00 %, yellow. Shenyang's warning asks it to add 200,000 − 150,000 = 50,000.00 on its own; Wuhu's asks
    nothing. Anhui recording a Wuhu top-up is refused. Liaoning records Shenyang's 50,000.00 (twice: once):
    150,000 ÷ 250,000 = 60.00 %, no warning.

    Shenyang's 2026-09 notice (issued 09-30) clears 0.00 settled with 3,000.00 deducted: net −3,000.00, which
    the treating side pays back. 1,000.00 arrives on 10-08 (the first working day after National Day), then
    2,500.00 is refused (2,000.00 outstanding), then 2,000.00 arrives on 10-09: returned 3,000.00, nothing
    left due."""
    prefix = new_prefix(stack, "pp-yellow")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(moment(2026, 9, 1))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move(bus, proc, moment(2026, 9, 1))
            await set_quota(bus, SHENYANG, 2026, dict.fromkeys(range(1, 13), "50000.00"))
            await set_quota(bus, WUHU, 2026, dict.fromkeys((10, 11, 12), "100000.00"))
            for region in (SHENYANG, WUHU):
                big = settlement(f"S-{region}-y", region, date(2026, 9, 1), "150000.00", "0.00")
                await bus.publish("settlement.completed.v1", big)
            warned = await bus.read("prepayment.warning.v1", lambda m: len(m) >= 2)
            by_region = {w["payload"]["insured_region"]: w["payload"] for w in warned}
            ln, default = by_region[SHENYANG], by_region[WUHU]
            assert (ln["level"], ln["usage_percent"], ln["top_up_amount"], ln["proactive_top_up"]) == (
                "yellow",
                "75.00",
                "50000.00",
                True,
            )
            assert "004 第二十四条" in ln["proactive_source"]
            assert (default["level"], default["proactive_top_up"]) == ("yellow", None)

            def added(region: str, payment_id: str, amount: str) -> RecordProactiveTopUp:
                return RecordProactiveTopUp(
                    payment_id=payment_id, insured_region=region, scope=CROSS, amount=amount, paid_at=bus.business_now()
                )

            answer = await answer_to(
                bus, await bus.publish(TOP_UP, added(WUHU, "WH-ADD-1", "50000.00"), sender="A340000")
            )
            assert answer["reason"] == "REFUSED_BY_RULE" and "asks no top-up at yellow" in answer["message"], answer
            await bus.publish(TOP_UP, added(SHENYANG, "LN-ADD-1", "50000.00"), sender="A210000")
            await bus.publish(TOP_UP, added(SHENYANG, "LN-ADD-1", "50000.00"), sender="A210000")
            after = await usage_of(bus, SHENYANG, "proactive:LN-ADD-1")
            assert (after["top_ups"], after["usage_percent"], after["level"]) == ("50000.00", "60.00", "none")

            await move(bus, proc, moment(2026, 9, 30))
            notice = reverse_notice(SHENYANG, "2026-09", "3000.00", bus.business_now())
            await bus.publish("clearing.notice.v1", notice)
            await usage_of(bus, SHENYANG, "clearing:2026-09")

            def back(payment_id: str, amount: str) -> RecordReturn:
                return RecordReturn(
                    payment_id=payment_id,
                    insured_region=SHENYANG,
                    scope=CROSS,
                    notice_id=notice.notice_id,
                    amount=amount,
                    received_at=bus.business_now(),
                )

            await move(bus, proc, moment(2026, 10, 8))
            await bus.publish(RETURN, back("BJ-RET-1", "1000.00"), sender="A210000")
            answer = await answer_to(bus, await bus.publish(RETURN, back("BJ-RET-2", "2500.00"), sender="A210000"))
            assert answer["reason"] == "REFUSED_BY_RULE" and "2000.00 of the notice's return" in answer["message"]
            await move(bus, proc, moment(2026, 10, 9))
            await bus.publish(RETURN, back("BJ-RET-3", "2000.00"), sender="A210000")

            async def returned() -> dict | None:
                held = await state(proc, SHENYANG)
                kept = held and held["notices"][str(notice.notice_id)]
                return kept if kept and kept["returned"] == "3000.00" else None

            kept = await eventually(returned)
            assert (kept["returns_due"], kept["return_ids"]) == ("3000.00", ["BJ-RET-1", "BJ-RET-3"])
            assert (await state(proc, SHENYANG))["totals"]["returns_due"] == "0.00"
        finally:
            proc.stop()


async def test_red_at_a_clearing_signing_liaoning_applies_for_the_emergency_top_up_within_3_working_days(stack):
    """004 第二十六条: 每期国家统一清算签章时，当期清算资金占预付金比例超过90%的，省经办机构应在当期清算签章之日起
    3个工作日内向国家经办机构报送预付金额度紧急调增申请. Wuhu's text (the national default; in Hubei the national
    agency issues the notice, 000 第二十九条) sets no such step.

    Shenyang and Wuhu, 2026 quotas of 200,000.00 each, settle 190,000.00 on 09-01: 95.00 %, red. The
    2026-09 clearing is signed on Wednesday 09-30 with 190,000.00: still red. Liaoning's application is due
    3 working days after the signing across National Day (10-01..10-07 off, Saturday 10-10 worked): 10-08,
    10-09, 10-10 → the end of Saturday 2026-10-10. Wuhu's usage names no such date."""
    prefix = new_prefix(stack, "pp-apply")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(moment(2026, 9, 1))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move(bus, proc, moment(2026, 9, 1))
            await set_quota(bus, SHENYANG, 2026, dict.fromkeys(range(1, 13), "50000.00"))
            await set_quota(bus, WUHU, 2026, dict.fromkeys((10, 11, 12), "100000.00"))
            for region in (SHENYANG, WUHU):
                big = settlement(f"S-{region}-r", region, date(2026, 9, 1), "190000.00", "0.00")
                await bus.publish("settlement.completed.v1", big)
                assert (await usage_of(bus, region, f"settlement:S-{region}-r:completed"))["level"] == "red"
            await move(bus, proc, moment(2026, 9, 30))
            for region in (SHENYANG, WUHU):
                await bus.publish(
                    "clearing.notice.v1", clearing_notice(region, "2026-09", "190000.00", bus.business_now())
                )
            ln, default = [await usage_of(bus, r, "clearing:2026-09") for r in (SHENYANG, WUHU)]
            assert (ln["level"], ln["usage_percent"]) == ("red", "95.00")
            assert datetime.fromisoformat(ln["emergency_application_due_at"]) == end_of_business_day(date(2026, 10, 10))
            assert (default["level"], default["emergency_application_due_at"]) == ("red", None)
        finally:
            proc.stop()


async def test_the_january_adjustment_notice_is_paid_by_the_day_each_regions_text_sets(stack):
    """The year's adjustment notices (P-03) and the day each is to be paid by, besides P-09's 20 working days:
    Liaoning 各市于1月20日前…上解 (004 第二十条); Hubei 原则上…2月底前完成 (000 第二十七条); Wuhu's text (the
    national default, 003 四(一)) sets none.

    The 2027 quotas are set on Wednesday 2026-12-30, over New Year 2027 (01-01 off, 01-02/03 the weekend):
    Shenyang 4 × 50,000.00 = 200,000.00, Wuhan and Wuhu 2 × 100,000.00 = 200,000.00, each new (last year's
    quota 0.00), so each adjustment is 200,000.00. Shenyang pays by the end of 2027-01-20, Wuhan by the end
    of 2027-02-28; Wuhu's names no day. Every notice: to finance 5 working days → 12-31, 01-04, 05, 06, 07 →
    2027-01-07; finance pays 10 working days later → 2027-01-21; unpaid 20 working days after the notice →
    2027-01-28 (P-09). The 2027 calendar has no State Council notice yet (M-02: the package's fixed days)."""
    prefix = new_prefix(stack, "pp-january")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(moment(2026, 12, 30))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move(bus, proc, moment(2026, 12, 30))
            ln = await set_quota(bus, SHENYANG, 2027, dict.fromkeys(range(1, 13), "50000.00"))
            hubei = await set_quota(bus, WUHAN, 2027, dict.fromkeys((10, 11, 12), "100000.00"))
            default = await set_quota(bus, WUHU, 2027, dict.fromkeys((10, 11, 12), "100000.00"))
            assert [q["adjustment"] for q in (ln, hubei, default)] == ["200000.00"] * 3
            assert datetime.fromisoformat(ln["adjustment_pay_by"]) == end_of_business_day(date(2027, 1, 20))
            assert "004 第二十条" in ln["adjustment_pay_by_source"]
            assert datetime.fromisoformat(hubei["adjustment_pay_by"]) == end_of_business_day(date(2027, 2, 28))
            assert "000 第二十七条" in hubei["adjustment_pay_by_source"]
            assert default["adjustment_pay_by"] is None
            for region, quota in ((SHENYANG, ln), (WUHAN, hubei), (WUHU, default)):
                notice = (await state(proc, region))["notices"][quota["notice_id"]]
                assert datetime.fromisoformat(notice["submit_by"]) == end_of_business_day(date(2027, 1, 7))
                assert datetime.fromisoformat(notice["finance_pay_by"]) == end_of_business_day(date(2027, 1, 21))
                assert datetime.fromisoformat(notice["sanction_due_at"]) == end_of_business_day(date(2027, 1, 28))
        finally:
            proc.stop()
