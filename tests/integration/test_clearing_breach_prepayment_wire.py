"""C-03 → P-09 over the real wire: the clearing and prepayment services as their own processes, a
controlled clock across National Day 2026 (10-01..10-07 off, 10-10 worked).

Wuhu (340200) insured, its quota 10,000.00 in force, treated in Wuhan (420100): a settlement of 2026-08-20 (pooling 900.00) clears in
2026-09; the 2026-09 notice is issued 09-30 and heard by prepayment (the P-09 clock: 20 working days →
11-03). Wuhu records nothing: its submission (due 10-13) and finance's transfer (5 + 10 working days →
10-27) are breached by clearing and recorded on Wuhu's prepayment account; the transfer falls due before
P-09's date, so nothing is sanctioned then. At 11-04, still unpaid and no delay reported, prepayment
proposes suspending admissions of Wuhu's insureds (P-09, corrected 2026-12: 004 第二十八条 "省经办机构可暂停",
the province's choice); Wuhu itself may not decide it, Anhui (A340000) does, and only then are they
suspended (prepayment.sanction.v1, S-20)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from privacy_support import find_aggregate
from support import Bus, ServiceProcess, answer_to, at, completed_settlement, eventually, move, new_prefix

from contracts.prepayment import DecideSanction, PrepaymentScope, SanctionDecision, SetAnnualQuota
from runtime.calendar import end_of_business_day

pytestmark = pytest.mark.integration

WUHU, WUHAN = "340200", "420100"
ACCOUNT = f"{WUHU}:{PrepaymentScope.CROSS_PROVINCE.value}"
NOTICE, BREACHED, SANCTION = "clearing.notice.v1", "clearing.obligation-breached.v1", "prepayment.sanction.v1"
PROPOSED, DECIDE = "prepayment.sanction-proposed.v1", "prepayment.decide-sanction.v1"


async def account(proc: ServiceProcess) -> dict | None:
    client, db = await proc.db()
    try:
        doc = await find_aggregate(db, "accounts", ACCOUNT)
        return doc and doc["state"]
    finally:
        await client.close()


async def test_an_unpaid_notice_breaches_and_prepayment_hears_it(stack):
    prefix = new_prefix(stack, "breach-p09")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(8, 20))
        procs = [ServiceProcess(stack, name, prefix).start(wait=False) for name in ("clearing", "prepayment")]
        clearing, prepayment = procs
        try:
            for proc in procs:
                proc.wait_healthy()
            # a quota of 10,000.00 in force (no adjustment to pay): 900.00 of use raises no warning
            await bus.publish(
                "prepayment.set-annual-quota.v1",
                SetAnnualQuota(
                    insured_region=WUHU,
                    scope=PrepaymentScope.CROSS_PROVINCE,
                    year=2026,
                    last_year_quota="10000.00",
                    last_year_monthly_funds={10: "5000.00", 11: "5000.00", 12: "5000.00"},
                    issued_at=bus.business_now(),
                ),
                sender="A340000",
            )
            await eventually(lambda: _has(prepayment, lambda a: a["quota"] == "10000.00"))
            await bus.publish(
                "settlement.completed.v1",
                completed_settlement(
                    "S-A",
                    insured_region=WUHU,
                    treating_region=WUHAN,
                    settled_on=date(2026, 8, 20),
                    funds={"pooling": "900.00"},
                ),
            )
            await eventually(lambda: _has(prepayment, lambda a: a["uncleared"] == "900.00"))

            await move(bus, procs, at(9, 21))
            await move(bus, procs, at(9, 30))
            [notice] = [
                n["payload"]
                for n in await bus.read(NOTICE, lambda m: len(m) >= 2, timeout=40)
                if n["payload"]["region"] == WUHU
            ]
            notice_id = notice["notice_id"]
            await eventually(lambda: _has(prepayment, lambda a: notice_id in a["notices"]))
            sanction_due = (await account(prepayment))["notices"][notice_id]["sanction_due_at"]
            assert datetime.fromisoformat(sanction_due) == end_of_business_day(date(2026, 11, 3))

            # 10-28: Wuhu's submission and finance's transfer breached (C-03), heard by prepayment
            await move(bus, procs, at(10, 28))
            breaches = await bus.read(
                BREACHED, lambda m: sum(b["payload"]["region"] == WUHU for b in m) >= 2, timeout=40
            )
            mine = {b["payload"]["obligation"]: b["payload"] for b in breaches if b["payload"]["region"] == WUHU}
            assert datetime.fromisoformat(mine["transferred"]["due_at"]) == end_of_business_day(date(2026, 10, 27))
            await eventually(
                lambda: _has(
                    prepayment,
                    lambda a: set(a["notices"][notice_id]["clearing_breaches"])
                    == {"submitted_to_finance", "transferred"},
                ),
                timeout=40,
            )
            state = await account(prepayment)
            assert not state["notices"][notice_id]["overdue"] and state["sanctions"] == {}  # the P-09 clock decides

            # 11-04: unpaid 20 working days after the notice, no delay reported → the platform proposes the
            # admission suspension; the province decides (P-09, 004 第二十八条 "可暂停")
            await move(bus, procs, at(11, 4))
            [proposal] = [p["payload"] for p in await bus.read(PROPOSED, lambda m: len(m) >= 1, timeout=40)]
            assert (proposal["kind"], proposal["action"], proposal["notice_ids"]) == (
                "admission_suspension",
                "proposed",
                [notice_id],
            )
            assert (await account(prepayment))["sanctions"] == {}  # nothing suspended by the proposal alone
            decide = DecideSanction(
                insured_region=WUHU,
                scope=PrepaymentScope.CROSS_PROVINCE,
                proposal_id=proposal["proposal_id"],
                decision=SanctionDecision.IMPOSE,
                reason="清算资金逾期20个工作日未上解，且未报备延迟原因",
                decided_at=bus.business_now(),
            )
            answer = await answer_to(bus, await bus.publish(DECIDE, decide, sender="A340200"))  # the payer itself
            assert (answer["reason"], answer["rule"]) == ("UNAUTHORIZED", "P-09"), answer
            await bus.publish(DECIDE, decide, sender="A340000")  # Anhui, the level above Wuhu
            [sanction] = [s["payload"] for s in await bus.read(SANCTION, lambda m: len(m) >= 1, timeout=40)]
            assert (sanction["insured_region"], sanction["kind"], sanction["action"]) == (
                WUHU,
                "admission_suspension",
                "imposed",
            )
            assert sanction["notice_ids"] == [notice_id]
        finally:
            for proc in procs:
                proc.stop()


async def _has(proc: ServiceProcess, test) -> bool:
    state = await account(proc)
    return state is not None and bool(test(state))
