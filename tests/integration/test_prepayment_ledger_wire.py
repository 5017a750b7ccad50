"""The prepayment ledger and P-10 interest over the real wire (the prepayment service as its own process).

Anhui (A340000) keeps the cross-province prepayments of Wuhu (340200) and Hefei (340100). Wuhu's
1,000,000.00 arrives on 2026-06-30, Hefei's 2,000,000.00 on 07-02; the 100.00 of interest for
07-01..07-03 is shared by daily-balance products 积数法 (004 第二十九条(二)): Wuhu 3,000,000.00, Hefei
4,000,000.00 → 42.86 and 57.14, summing to 100.00 exactly (largest remainder); each share is added to
its region's prepayment as this year's top-up (第二十九条(三)). Past balances are recomputed from the
ledger's movements when asked. 004 第二十九条 states the method, not a number: the example is ours."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from privacy_support import document_id, find_aggregate
from support import Bus, ServiceProcess, answer_to, eventually, new_prefix

from contracts.prepayment import PrepaymentScope, RecordPrepaymentPayment, RequestBalance, SetAnnualQuota, ShareInterest
from contracts.values import SHANGHAI as SH

pytestmark = pytest.mark.integration

WUHU, HEFEI, ANHUI = "340200", "340100", "A340000"
CROSS = PrepaymentScope.CROSS_PROVINCE


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, 0, tzinfo=SH)


async def move_clock(bus: Bus, proc: ServiceProcess, when: datetime) -> None:
    await bus.set_clock(when)
    await eventually(lambda: proc.business_time() >= when)


async def fund(bus: Bus, region: str, monthly: str, payment_id: str) -> str:
    """P-02 (an override: a new account has no records yet) and its adjustment paid in full."""
    await bus.publish(
        "prepayment.set-annual-quota.v1",
        SetAnnualQuota(
            insured_region=region,
            scope=CROSS,
            year=2026,
            last_year_quota="0.00",
            last_year_monthly_funds={10: monthly, 11: monthly, 12: monthly},
            issued_at=bus.business_now(),
        ),
        sender=ANHUI,
    )
    quotas = await bus.read("prepayment.quota.v1", lambda m: any(q["payload"]["insured_region"] == region for q in m))
    quota = next(q["payload"] for q in quotas if q["payload"]["insured_region"] == region)
    assert quota["overridden"] == ["last_year_monthly_funds", "last_year_quota"]
    await bus.publish(
        "prepayment.record-payment.v1",
        RecordPrepaymentPayment(
            payment_id=payment_id,
            insured_region=region,
            scope=CROSS,
            notice_id=quota["notice_id"],
            amount=quota["adjustment"],
            paid_at=bus.business_now(),
        ),
        sender=ANHUI,
    )
    await bus.read("prepayment.usage.v1", lambda m: any(u["payload"]["cause"] == f"payment:{payment_id}" for u in m))
    return quota["adjustment"]


async def balance(bus: Bus, region: str, as_of: date, request_id: str) -> dict:
    await bus.publish(
        "prepayment.request-balance.v1",
        RequestBalance(
            request_id=request_id, insured_region=region, scope=CROSS, as_of=as_of, requested_at=bus.business_now()
        ),
        sender=ANHUI,
    )
    answers = await bus.read(
        "prepayment.balance.v1", lambda m: any(a["payload"]["request_id"] == request_id for a in m)
    )
    return next(a["payload"] for a in answers if a["payload"]["request_id"] == request_id)


def interest(bus: Bus, end: date = date(2026, 7, 3), interest_id: str = "ICBC-2026-07-INT") -> ShareInterest:
    return ShareInterest(
        interest_id=interest_id,
        scope=CROSS,
        regions=[WUHU, HEFEI],
        period_start=date(2026, 7, 1),
        period_end=end,
        interest="100.00",
        received_at=bus.business_now(),
    )


async def test_interest_is_shared_by_daily_balance_products_and_past_balances_come_from_the_ledger(stack):
    prefix = new_prefix(stack, "pp-ledger")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(6, 30))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move_clock(bus, proc, at(6, 30))
            assert await fund(bus, WUHU, "500000.00", "BANK-WUHU-1") == "1000000.00"  # 2 × 500,000.00
            await move_clock(bus, proc, at(7, 2))
            assert await fund(bus, HEFEI, "1000000.00", "BANK-HEFEI-1") == "2000000.00"

            await move_clock(bus, proc, at(7, 6))
            # P-10: only the keeper shares; a period not yet over is refused by the rule
            sent = await bus.publish("prepayment.share-interest.v1", interest(bus), sender="A340200")
            answer = await answer_to(bus, sent)
            assert (answer["reason"], answer["rule"]) == ("UNAUTHORIZED", "P-10"), answer
            sent = await bus.publish(
                "prepayment.share-interest.v1", interest(bus, date(2026, 7, 6), "OPEN"), sender=ANHUI
            )
            answer = await answer_to(bus, sent)
            assert answer["reason"] == "REFUSED_BY_RULE" and "ended before today" in answer["message"], answer

            await bus.publish("prepayment.share-interest.v1", interest(bus), sender=ANHUI)
            cmd = interest(bus)
            await bus.publish("prepayment.share-interest.v1", cmd, sender=ANHUI)  # again: shared once
            [shared] = [m["payload"] for m in await bus.read("prepayment.interest-shared.v1", lambda m: len(m) >= 1)]
            assert (shared["interest"], shared["days"], shared["keeper"]) == ("100.00", 3, ANHUI)
            assert [(s["insured_region"], s["product"], s["share"]) for s in shared["shares"]] == [
                (WUHU, "3000000.00", "42.86"),
                (HEFEI, "4000000.00", "57.14"),
            ]
            usage = await bus.read(
                "prepayment.usage.v1",
                lambda m: sum(u["payload"]["cause"] == "interest:ICBC-2026-07-INT" for u in m) >= 2,
            )
            tops = {
                u["payload"]["insured_region"]: u["payload"]["top_ups"]
                for u in usage
                if u["payload"]["cause"] == "interest:ICBC-2026-07-INT"
            }
            assert tops == {WUHU: "42.86", HEFEI: "57.14"}  # 按预付金本年度追加处理

            # past balances, recomputed from the movements
            before = await balance(bus, HEFEI, date(2026, 7, 1), "hefei-07-01")
            assert (before["balances"]["prepaid"], before["movements"]) == ("0.00", 0)
            wuhu_0701 = await balance(bus, WUHU, date(2026, 7, 1), "wuhu-07-01")
            assert (
                wuhu_0701["balances"]["prepaid"],
                wuhu_0701["balances"]["fund"],
                wuhu_0701["balances"]["quota"],
            ) == ("1000000.00", "-1000000.00", "1000000.00")
            wuhu_now = await balance(bus, WUHU, date(2026, 7, 6), "wuhu-07-06")
            assert (wuhu_now["balances"]["prepaid"], wuhu_now["balances"]["interest_income"]) == ("1000042.86", "42.86")
            hefei_now = await balance(bus, HEFEI, date(2026, 7, 6), "hefei-07-06")
            assert hefei_now["balances"]["prepaid"] == "2000057.14"
            assert proc.metric("yidi_refused_total", topic="prepayment.share-interest.v1") >= 1

            # the ledger is the movements collection, one document per movement; the account keeps its sums
            client, db = await proc.db()
            try:
                for region in (WUHU, HEFEI):
                    key = f"{region}:{CROSS.value}"
                    state = (await find_aggregate(db, "accounts", key))["state"]
                    archived = [d async for d in db["movements"].find({"account": key})]
                    assert sorted(d["seq"] for d in archived) == list(range(1, state["seq"] + 1))
                    assert "movements" not in state and state["archived_seq"] == state["seq"]
                    assert state["totals"]["prepaid"] == {WUHU: "1000042.86", HEFEI: "2000057.14"}[region]
            finally:
                await client.close()
        finally:
            proc.stop()


async def test_an_account_stored_with_its_movements_inside_moves_them_to_the_archive(stack):
    """M-03 across a release: Wuhu's account stored by the previous release (its movements inside the
    document, none in the archive) loads in the new one; its next write puts every movement in the
    ``movements`` collection, and past balances are read from there."""
    prefix = new_prefix(stack, "pp-archive")
    key = f"{WUHU}:{CROSS.value}"
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(6, 30))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move_clock(bus, proc, at(6, 30))
            await fund(bus, WUHU, "500000.00", "BANK-WUHU-1")
        finally:
            proc.stop()
        client, db = await proc.db()
        try:  # the document as the previous release wrote it
            state = (await find_aggregate(db, "accounts", key))["state"]
            movements = sorted(
                [
                    {k: v for k, v in d.items() if k not in ("_id", "account")}
                    async for d in db["movements"].find({"account": key})
                ],
                key=lambda m: m["seq"],
            )
            assert len(movements) == state["seq"] == 4  # quota, its notice, the payment, the notice paid
            old = {
                k: v
                for k, v in state.items()
                if k
                not in ("totals", "seq", "recent", "archived_seq", "prepaid", "settled", "year_top_ups", "interests")
            }
            old.update(movements=movements, year_start_seq=0)
            await db["accounts"].update_one({"_id": document_id("accounts", key)}, {"$set": {"state": old}})
            await db["movements"].delete_many({"account": key})
        finally:
            await client.close()
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move_clock(bus, proc, at(7, 2))
            answer = await balance(bus, WUHU, date(2026, 6, 30), "wuhu-06-30")
            assert (answer["balances"]["prepaid"], answer["movements"]) == ("1000000.00", 4)
            client, db = await proc.db()
            try:
                state = (await find_aggregate(db, "accounts", key))["state"]
                archived = [d async for d in db["movements"].find({"account": key})]
            finally:
                await client.close()
            assert sorted(d["seq"] for d in archived) == [1, 2, 3, 4]
            assert (
                "movements" not in state and state["archived_seq"] == 4 and state["totals"]["prepaid"] == "1000000.00"
            )
        finally:
            proc.stop()


# ================================================================ P-07 zero cap and the P-08 chain
WUHAN = "420100"


def completed(settlement_id: str, fund: str, settled_on: date):
    """A ``settlement.completed.v1`` of a Wuhu insured treated in Wuhan whose funds paid ``fund``."""
    from decimal import Decimal

    from contracts.settlement import SettlementCompleted
    from contracts.settlement_values import FundAmount, SettlementSlip
    from kernel.clearing_month import clearing_month_of

    lines = [FundAmount(code="pooling", name="pooling", amount=fund)]
    total = Decimal(fund)
    slip = SettlementSlip(
        total=total,
        in_scope=total,
        b_class_self_pay="0.00",
        over_limit_self_pay="0.00",
        self_paid="0.00",
        deductible_applied="0.00",
        funds=lines,
        fund_total=total,
        personal_account="0.00",
        personal_cash="0.00",
    )
    return SettlementCompleted(
        settlement_id=settlement_id,
        request_id=f"R-{settlement_id}",
        person_id="11010519491231002X",
        institution_code="H42010200001",
        hospital_level="3",
        insurance_type="310",
        medical_type="inpatient",
        insured_region=WUHU,
        treating_region=WUHAN,
        cross_province=True,
        clearing_month=clearing_month_of(settled_on),
        visit_id=f"V-{settlement_id}",
        settled_on=settled_on,
        settlement_year=settled_on.year,
        eligibility_basis="long_term",
        ratio_applied="0.70",
        rate_basis="local",
        slip=slip,
    )


def clearing_notice(bus: Bus, month: str, amount: str):
    """Clearing's month-end notice to Wuhu: ``amount`` payable to Wuhan (cross-province)."""
    import uuid

    from contracts.clearing import ClearingNoticeIssued, CounterpartAmounts

    now = bus.business_now()
    return ClearingNoticeIssued(
        notice_id=uuid.uuid5(uuid.NAMESPACE_URL, f"notice:{month}"),
        clearing_month=month,
        region=WUHU,
        counterparts=[
            CounterpartAmounts(
                counterpart_region=WUHAN,
                direction="payable",
                cross_province=True,
                totals=[],
                settled=amount,
                deducted="0.00",
                net=amount,
            )
        ],
        payable_total=amount,
        receivable_total="0.00",
        net_payable=amount,
        issued_at=now,
        submit_to_finance_by=now,
        transfer_by=now,
        receipt_feedback_by=now,
        institutions_paid_by=now,
        calendar="test",
    )


async def test_a_zero_cap_red_warning_then_the_chained_deadlines_across_national_day(stack):
    """P-07 (004 第二十六条), worked over the wire. Wuhu's quota 1,000.00; 09-28: 400.00 settled and cleared
    (monthly clearing 400.00 → cap 2 × 400 − 1,000 → 0.00); 550.00 more settled → 95 % red, P-06 50.00
    capped to 0.00: ``prepayment.top-up-withheld.v1``, no notice, no clock. 09-30 (the eve of National Day):
    the next signing clears 550.00 → cap 100.00 → the notice of 50.00; P-08: to finance by 10-13, finance by
    10-27; submitted 10-09 → finance by 10-22; nothing paid → on 10-23 the breach is published."""
    prefix = new_prefix(stack, "pp-chain")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(9, 28))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move_clock(bus, proc, at(9, 28))
            await bus.publish(
                "prepayment.set-annual-quota.v1",
                SetAnnualQuota(
                    insured_region=WUHU,
                    scope=CROSS,
                    year=2026,
                    last_year_quota="0.00",
                    last_year_monthly_funds={10: "500.00", 11: "500.00", 12: "500.00"},
                    issued_at=bus.business_now(),
                ),
                sender=ANHUI,
            )
            await bus.read("prepayment.quota.v1", lambda m: len(m) >= 1)  # topics are not ordered across
            await bus.publish("settlement.completed.v1", completed("S-1", "400.00", date(2026, 8, 28)))
            await bus.read(
                "prepayment.usage.v1", lambda m: any(u["payload"]["cause"] == "settlement:S-1:completed" for u in m)
            )
            await bus.publish("clearing.notice.v1", clearing_notice(bus, "2026-09", "400.00"))
            await bus.read("prepayment.usage.v1", lambda m: any(u["payload"]["cause"] == "clearing:2026-09" for u in m))
            await bus.publish("settlement.completed.v1", completed("S-2", "550.00", date(2026, 9, 28)))
            [withheld] = [m["payload"] for m in await bus.read("prepayment.top-up-withheld.v1", lambda m: len(m) >= 1)]
            assert (
                withheld["level"],
                withheld["usage_percent"],
                withheld["top_up_amount"],
                withheld["top_up_cap"],
                withheld["monthly_clearing"],
            ) == ("red", "95.00", "50.00", "0.00", "400.00")

            await move_clock(bus, proc, at(9, 30))
            await bus.publish("clearing.notice.v1", clearing_notice(bus, "2026-10", "550.00"))
            [notice] = [m["payload"] for m in await bus.read("prepayment.top-up-notice.v1", lambda m: len(m) >= 1)]
            assert notice["amount"] == "50.00"  # min(50.00, 2 × 550 − 1,000 = 100.00)
            shanghai = {
                k: datetime.fromisoformat(notice[k]).astimezone(SH).date()
                for k in ("submit_to_finance_by", "finance_pay_by", "pay_by")
            }
            assert shanghai == {
                "submit_to_finance_by": date(2026, 10, 13),
                "finance_pay_by": date(2026, 10, 27),
                "pay_by": date(2026, 10, 20),
            }

            await move_clock(bus, proc, at(10, 9))
            from contracts.prepayment import RecordFinanceSubmission

            submission = RecordFinanceSubmission(
                insured_region=WUHU, scope=CROSS, notice_id=notice["notice_id"], submitted_at=bus.business_now()
            )
            sent = await bus.publish("prepayment.record-submission.v1", submission, sender=ANHUI)
            answer = await answer_to(bus, sent)  # the region's own agency submits, not Anhui
            assert (answer["reason"], answer["rule"]) == ("UNAUTHORIZED", "P-08"), answer
            await bus.publish("prepayment.record-submission.v1", submission, sender="A340200")

            async def submitted() -> bool:
                client, db = await proc.db()
                try:
                    account = await find_aggregate(db, "accounts", f"{WUHU}:{CROSS.value}")
                finally:
                    await client.close()
                return account["state"]["notices"][notice["notice_id"]]["submitted_at"] is not None

            await eventually(submitted)  # recorded at receipt, 10-09

            await move_clock(bus, proc, datetime(2026, 10, 23, 0, 0, 1, tzinfo=SH))
            # both deadlines pass with the same clock move and fire in either order: wait for both notices' breaches
            breaches = await bus.read(
                "prepayment.deadline-breached.v1",
                lambda m: any(b["payload"]["kind"] == "finance_payment" for b in m)
                and any(b["payload"]["notice_kind"] == "annual_adjustment" for b in m),
                timeout=40,
            )
            top_up = {
                b["payload"]["kind"]: b["payload"] for b in breaches if b["payload"]["notice_id"] == notice["notice_id"]
            }
            assert set(top_up) == {"finance_payment"}  # submitted in time, not paid by 10-22
            assert datetime.fromisoformat(top_up["finance_payment"]["due_at"]).astimezone(SH).date() == date(
                2026, 10, 22
            )
            # the annual adjustment notice of 09-28 was never submitted: 5 working days → Sat 10-10 (09-29, 09-30,
            # 10-08, 10-09, 10-10), then finance's 10 → 10-23 (end of day), not yet due
            adjustment = {
                b["payload"]["kind"]: b["payload"]
                for b in breaches
                if b["payload"]["notice_kind"] == "annual_adjustment"
            }
            assert set(adjustment) == {"submission_to_finance"}
            assert datetime.fromisoformat(adjustment["submission_to_finance"]["due_at"]).astimezone(SH).date() == date(
                2026, 10, 10
            )
        finally:
            proc.stop()


async def test_p02_next_years_quota_from_the_settlements_the_service_recorded(stack):
    """P-02/P-03 over the wire: Wuhu's 2026 quota 1,000.00 (typed: an override, the account being new);
    Q4 2026 settlements recorded by the service — Oct 6,000.00, Nov 3,000.00, Dec 3,000.00 (the December one
    settled twice: counted once) → 2027's quota set with no figures typed: 2 × 4,000.00 = 8,000.00,
    adjustment 8,000.00 − 1,000.00 = 7,000.00, nothing overridden."""
    prefix = new_prefix(stack, "pp-quota")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(1, 5))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move_clock(bus, proc, at(1, 5))
            await bus.publish(
                "prepayment.set-annual-quota.v1",
                SetAnnualQuota(
                    insured_region=WUHU,
                    scope=CROSS,
                    year=2026,
                    last_year_quota="0.00",
                    last_year_monthly_funds={10: "500.00", 11: "500.00", 12: "500.00"},
                    issued_at=bus.business_now(),
                ),
                sender=ANHUI,
            )
            await bus.read("prepayment.quota.v1", lambda m: len(m) >= 1)
            for month, sid, amount in ((10, "Q4-OCT", "6000.00"), (11, "Q4-NOV", "3000.00"), (12, "Q4-DEC", "3000.00")):
                await move_clock(bus, proc, at(month, 12))
                for _ in range(2 if month == 12 else 1):
                    await bus.publish("settlement.completed.v1", completed(sid, amount, date(2026, month, 12)))
                await bus.read(
                    "prepayment.usage.v1",
                    lambda m, sid=sid: any(u["payload"]["cause"] == f"settlement:{sid}:completed" for u in m),
                )
            await move_clock(bus, proc, datetime(2027, 1, 4, 10, 0, tzinfo=SH))
            await bus.publish(
                "prepayment.set-annual-quota.v1",
                SetAnnualQuota(insured_region=WUHU, scope=CROSS, year=2027, issued_at=bus.business_now()),
                sender=ANHUI,
            )
            quotas = await bus.read("prepayment.quota.v1", lambda m: any(q["payload"]["year"] == 2027 for q in m))
            q = next(q["payload"] for q in quotas if q["payload"]["year"] == 2027)
            assert (q["computed_quota"], q["quota"], q["last_year_quota"], q["adjustment"], q["overridden"]) == (
                "8000.00",
                "8000.00",
                "1000.00",
                "7000.00",
                [],
            )
            assert q["recorded_monthly_funds"] == {"10": "6000.00", "11": "3000.00", "12": "3000.00"}
        finally:
            proc.stop()
