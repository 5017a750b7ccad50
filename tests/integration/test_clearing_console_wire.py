"""What the agencies' console reads, over the real wire with a controlled clock across National Day 2026
(10-01..10-07 off, 10-10 worked): the signed queries GET /clearing/periods and GET /clearing/mismatches
(003 §5 (三)), the R-01 three-party daily reconciliation (000 第五十四、五十五条) and C-02 objections
(004 第四十六条).

Wuhan's hospital H1 settles S-1 (a Wuhu insured: pooling 1000.00, personal account 200.00) and S-2 (a Hefei
insured: pooling 50.00) on 09-03. Its HIS reports the day per medical type and fund with pooling 1000.00:
the (inpatient, pooling) line differs, with both settlements; Wuhan and Wuhu (S-1's insured place) see it,
Hefei's agency asking for Wuhan is refused (403). Corrected on 09-04 it is resolved. On 09-30 Wuhu and Hefei
report their record of the day, Hefei's 10.00 short: a three-party mismatch due 5 working days later (10-13,
after National Day), overdue on 10-14; both insured places' September closed at the end of 10-03 with that day
open (R-01). The 2026-10 period (the month after the settlements, C-02): open on
09-30 with its dates; generated on 10-21; Wuhu objects to its payable on 10-22 and so holds its side: its
confirmation is refused, Wuhan may not object for it, Anhui may not resolve a cross-province objection; the
25th's silence confirms only Wuhan's side; the national agency dismisses the objection on 10-27, which
confirms Wuhu's side; a second objection after the 25th is refused; the notices at month end arm C-03, and
Anhui's and Hubei's roll-ups (附件14, C-01) are published though neither province is party to a ledger."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from support import Bus, ServiceProcess, answer_to, at, completed_settlement, eventually, move, new_prefix

from contracts.clearing import (
    ConfirmClearingPeriod,
    DailyReconciliation,
    DailyTotalLine,
    InsuredDailyTotals,
    ObjectClearingPeriod,
    ResolveClearingObjection,
)
from runtime.calendar import end_of_business_day
from services.clearing.query import MISMATCHES_PATH, PERIODS_PATH, sign_region_request

pytestmark = pytest.mark.integration

WUHU, WUHAN, HEFEI = "340200", "420100", "340100"
H1 = "H42010200001"
RECON, INSURED_TOTALS, RECONCILED = (
    "his.daily-reconciliation.v1",
    "clearing.insured-daily-totals.v1",
    "clearing.reconciliation.v1",
)
OBJECT, RESOLVE, CONFIRM = "clearing.object-period.v1", "clearing.resolve-objection.v1", "clearing.confirm-period.v1"
OBJECTED, RESOLVED, CONFIRMED = (
    "clearing.objection-recorded.v1",
    "clearing.objection-resolved.v1",
    "clearing.period-confirmed.v1",
)
REFUSED, GENERATED, NOTICE, ENTRY = (
    "party.refused.v1",
    "clearing.period-generated.v1",
    "clearing.notice.v1",
    "clearing.entry.v1",
)
DAY = date(2026, 9, 3)


def ask(proc: ServiceProcess, bus: Bus, agency: str, path: str, region: str, **params) -> tuple[int, dict]:
    status, body = proc.get(*sign_region_request(bus.signer(agency), path, region, at=bus.business_now(), **params))
    return status, json.loads(body)


def his_day(pooling: str, bus: Bus) -> DailyReconciliation:
    lines = [
        DailyTotalLine(
            medical_type="inpatient", settlements=2, funds={"pooling": pooling, "personal_account": "200.00"}
        )
    ]
    total = sum(a for line in lines for a in line.funds.values())
    return DailyReconciliation(
        institution_code=H1,
        treating_region=WUHAN,
        day=DAY,
        settlements=2,
        fund_total=total,
        lines=lines,
        sent_at=bus.business_now(),
    )


def insured_day(region: str, pooling: str, account: str, bus: Bus) -> InsuredDailyTotals:
    funds = {"pooling": pooling, **({"personal_account": account} if account else {})}
    return InsuredDailyTotals(
        insured_region=region,
        institution_code=H1,
        treating_region=WUHAN,
        day=DAY,
        lines=[DailyTotalLine(medical_type="inpatient", settlements=1, funds=funds)],
        sent_at=bus.business_now(),
    )


def objection(bus: Bus, oid: str, side: str = "insured") -> ObjectClearingPeriod:
    return ObjectClearingPeriod(
        objection_id=oid,
        clearing_month="2026-10",
        insured_region=WUHU,
        treating_region=WUHAN,
        side=side,
        reasons=["S-1 的个人账户支付待核实"],
        objected_at=bus.business_now(),
    )


async def test_periods_mismatches_and_objections_for_the_console_across_national_day(stack):
    prefix = new_prefix(stack, "clearing-console")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(9, 3, 18))
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            for sid, insured, funds in (
                ("S-1", WUHU, {"pooling": "1000.00", "personal_account": "200.00"}),
                ("S-2", HEFEI, {"pooling": "50.00"}),
            ):
                await bus.publish(
                    "settlement.completed.v1",
                    completed_settlement(
                        sid,
                        insured_region=insured,
                        treating_region=WUHAN,
                        settled_on=DAY,
                        funds=funds,
                        institution_code=H1,
                    ),
                )
            await bus.read(ENTRY, lambda m: len(m) >= 2)

            # ---- the HIS's day per medical type and fund, 50.00 short on pooling
            await bus.publish(RECON, his_day("1000.00", bus))
            await bus.read(RECONCILED, lambda m: len(m) >= 1)
            status, body = ask(clearing, bus, "A420100", MISMATCHES_PATH, WUHAN)
            assert status == 200, body
            [m] = body["mismatches"]
            assert (m["institution_code"], m["day"], m["status"], m["overdue"]) == (
                H1,
                "2026-09-03",
                "mismatched",
                False,
            )
            assert datetime.fromisoformat(m["resolve_by"]) == end_of_business_day(date(2026, 9, 10))  # 5 wd
            assert m["lines"] == [
                {
                    "medical_type": "inpatient",
                    "fund": "pooling",
                    "measure": "amount",
                    "his": "1000.00",
                    "treating": "1050.00",
                    "insured": None,
                    "settlement_ids": ["S-1", "S-2"],
                    "settlement_count": 2,
                }
            ]
            assert m["insured_regions"] == [HEFEI, WUHU]
            status, body = ask(clearing, bus, "A340200", MISMATCHES_PATH, WUHU)  # S-1's insured place sees it
            assert status == 200 and [x["institution_code"] for x in body["mismatches"]] == [H1]
            status, body = ask(clearing, bus, "A340100", MISMATCHES_PATH, WUHAN)  # Hefei asks for Wuhan
            assert status == 403 and "A340100 does not speak for region 420100" in body["message"]
            status, body = ask(clearing, bus, "A420100", MISMATCHES_PATH, WUHAN, status="closed")
            assert status == 400

            await move(bus, clearing, at(9, 4))
            await bus.publish(RECON, his_day("1050.00", bus))  # corrected: a new record
            await bus.read(RECONCILED, lambda m: len(m) >= 2)
            assert ask(clearing, bus, "A420100", MISMATCHES_PATH, WUHAN)[1]["mismatches"] == []
            [fixed] = ask(clearing, bus, "A420000", MISMATCHES_PATH, WUHAN, status="resolved")[1]["mismatches"]
            assert fixed["status"] == "resolved" and fixed["last_mismatch"][0]["his"] == "1000.00"

            # ---- 09-30: the insured places' records of the day, Hefei's 10.00 short (the third party)
            await move(bus, clearing, at(9, 30))
            await bus.publish(INSURED_TOTALS, insured_day(WUHU, "1000.00", "200.00", bus), sender="A340200")
            await bus.publish(INSURED_TOTALS, insured_day(HEFEI, "40.00", "", bus), sender="A340100")
            sent = await bus.publish(INSURED_TOTALS, insured_day(HEFEI, "50.00", "", bus), sender="A340200")
            assert (await answer_to(bus, sent))["reason"] == "UNAUTHORIZED"  # Wuhu may not speak for Hefei
            checks = await bus.read(RECONCILED, lambda m: len(m) >= 4)
            assert [c["payload"]["status"] for c in checks] == ["mismatched", "resolved", "resolved", "mismatched"]
            [m] = ask(clearing, bus, "A340100", MISMATCHES_PATH, HEFEI)[1]["mismatches"]
            assert (m["lines"][0]["fund"], m["lines"][0]["insured"], m["lines"][0]["treating"]) == (
                "pooling",
                "1040.00",
                "1050.00",
            )
            # 09-30 + 5 working days: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13
            assert datetime.fromisoformat(m["resolve_by"]) == end_of_business_day(date(2026, 10, 13))

            # ---- the 2026-10 period as Wuhu's console sees it before the 21st
            status, body = ask(clearing, bus, "A340200", PERIODS_PATH, WUHU)
            assert status == 200, body
            [period] = body["periods"]
            assert (period["clearing_month"], period["scope"], period["state"], period["payable_total"]) == (
                "2026-10",
                "cross_province",
                "open",
                "1200.00",
            )
            assert datetime.fromisoformat(period["deadlines"]["confirm_by"]) == end_of_business_day(date(2026, 10, 25))
            [line] = period["counterparts"]
            assert (line["counterpart_region"], line["direction"], line["amount"]) == (WUHAN, "payable", "1200.00")
            status, body = ask(clearing, bus, "A420100", PERIODS_PATH, WUHU)  # Wuhan asks for Wuhu
            assert status == 403 and "A420100 does not speak for region 340200" in body["message"]

            # ---- 10-04: both insured places' September closed at the end of 10-03 (R-01: 每月3日前, a calendar
            # day, in the holiday) with the day open
            await move(bus, clearing, at(10, 4))
            closes = {
                c["payload"]["insured_region"]: c["payload"]
                for c in await bus.read("clearing.reconciliation-closed.v1", lambda m: len(m) >= 2, timeout=40)
            }
            assert set(closes) == {WUHU, HEFEI}
            for close in closes.values():
                assert (close["month"], close["institution_days"], close["reconciled"], close["complete"]) == (
                    "2026-09",
                    1,
                    0,
                    False,
                )
                assert close["open"] == [
                    {"institution_code": H1, "day": "2026-09-03", "status": "mismatched", "resolve_by": m["resolve_by"]}
                ]
                assert datetime.fromisoformat(close["due_by"]) == end_of_business_day(date(2026, 10, 3))

            # ---- 10-14: Hefei's record not corrected: overdue, published once
            await move(bus, clearing, at(10, 14))
            checks = await bus.read(RECONCILED, lambda m: len(m) >= 5, timeout=40)
            assert checks[-1]["payload"]["status"] == "overdue"
            [m] = ask(clearing, bus, "A420100", MISMATCHES_PATH, WUHAN)[1]["mismatches"]
            assert (m["status"], m["overdue"]) == ("overdue", True)

            async def counted() -> bool:  # the day is 41 days old; its breach counted once
                return (
                    clearing.metric("yidi_clearing_unreconciled", age="31d+", status="overdue") == 1
                    and clearing.metric("yidi_clearing_breaches_total", what="reconciliation") == 1
                )

            await eventually(counted)
            assert clearing.metric("yidi_clearing_ledger_lag_seconds_count") == 2

            # ---- 10-21 generated; 10-22 Wuhu objects to its payable and holds its side (C-02)
            await move(bus, clearing, at(10, 21))
            await bus.read(GENERATED, lambda m: len(m) >= 2, timeout=40)

            async def generated() -> bool:
                return clearing.metric("yidi_clearing_periods", state="generated") == 2

            await eventually(generated)
            await move(bus, clearing, at(10, 22))
            sent = await bus.publish(OBJECT, objection(bus, "OBJ-1"), sender="A420100")
            answer = await answer_to(bus, sent)
            assert answer["reason"] == "UNAUTHORIZED" and "may not object for the insured side" in answer["message"]
            await bus.publish(OBJECT, objection(bus, "OBJ-1"), sender="A340200")
            [objected] = [m["payload"] for m in await bus.read(OBJECTED, lambda m: len(m) >= 1)]
            assert (objected["objection"]["objector"], objected["coordinator_region"]) == ("A340200", None)
            sent = await bus.publish(
                CONFIRM,
                ConfirmClearingPeriod(
                    clearing_month="2026-10",
                    insured_region=WUHU,
                    treating_region=WUHAN,
                    side="insured",
                    confirmed_at=bus.business_now(),
                ),
                sender="A340200",
            )
            answer = await answer_to(bus, sent)
            assert answer["reason"] == "REFUSED_BY_RULE" and "open objection (OBJ-1)" in answer["message"]
            resolution = ResolveClearingObjection(
                objection_id="OBJ-1",
                clearing_month="2026-10",
                insured_region=WUHU,
                treating_region=WUHAN,
                outcome="dismissed",
                resolution="经核对，个人账户支付无误",
                resolved_at=bus.business_now(),
            )
            sent = await bus.publish(RESOLVE, resolution, sender="A340000")
            assert (await answer_to(bus, sent))["reason"] == "UNAUTHORIZED"  # cross-province: national

            # ---- 10-26: the 25th's silence confirms only Wuhan's side
            await move(bus, clearing, at(10, 26))
            confirmed = await bus.read(CONFIRMED, lambda m: len(m) >= 3, timeout=40)
            pair = [c["payload"] for c in confirmed if c["payload"]["insured_region"] == WUHU]
            assert [(c["side"], c["by"]) for c in pair] == [("treating", "silence")]
            [period] = ask(clearing, bus, "A340200", PERIODS_PATH, WUHU)[1]["periods"]
            sides = {s["side"]: s for s in period["counterparts"][0]["sides"]}
            assert period["state"] == "generated" and sides["treating"]["confirmed"] == "silence"
            assert sides["insured"]["confirmed"] is None
            assert [(o["objection_id"], o["outcome"]) for o in sides["insured"]["objections"]] == [("OBJ-1", None)]
            sent = await bus.publish(OBJECT, objection(bus, "OBJ-2", side="treating"), sender="A420100")
            answer = await answer_to(bus, sent)
            assert answer["reason"] == "REFUSED_BY_RULE" and "after the end of the 25th" in answer["message"]

            # ---- 10-27: the national agency dismisses the objection: Wuhu's side confirmed by the resolution
            await move(bus, clearing, at(10, 27))
            await bus.publish(
                RESOLVE, resolution.model_copy(update={"resolved_at": bus.business_now()}), sender="A000000"
            )
            [done] = [m["payload"] for m in await bus.read(RESOLVED, lambda m: len(m) >= 1)]
            assert (done["objection"]["outcome"], done["objection"]["objector"], done["side_confirmed"]) == (
                "dismissed",
                "A340200",
                True,
            )
            confirmed = await bus.read(CONFIRMED, lambda m: len(m) >= 4)
            pair = [c["payload"] for c in confirmed if c["payload"]["insured_region"] == WUHU]
            assert [(c["side"], c["by"], c["pending_sides"]) for c in pair] == [
                ("treating", "silence", ["insured"]),
                ("insured", "resolution", []),
            ]

            # ---- 10-31: the notices; the period shows its C-03 / C-07 steps
            await move(bus, clearing, at(10, 31))
            await bus.read(NOTICE, lambda m: len(m) >= 3, timeout=40)
            [period] = ask(clearing, bus, "A000000", PERIODS_PATH, WUHU, since="2026-10")[1]["periods"]
            assert period["state"] == "notified"
            assert ask(clearing, bus, "A000000", PERIODS_PATH, WUHU, since="2026-11")[1]["periods"] == []
            [step] = period["obligations"]
            # 10-31 (Saturday) + 5 working days: 11-02..11-06
            assert step["obligation"] == "submitted_to_finance"
            assert datetime.fromisoformat(step["due_at"]) == end_of_business_day(date(2026, 11, 6))
            # C-01: the provinces' roll-ups (附件14) published at month end, though neither is party to a ledger
            reports = await bus.read(
                "clearing.report.v1", lambda m: {r["payload"]["region"] for r in m} >= {"340000", "420000"}, timeout=40
            )
            rollups = {
                r["payload"]["region"]: {t["code"]: t for t in r["payload"]["tables"]}
                for r in reports
                if r["payload"]["region"] in ("340000", "420000")
            }
            anhui = rollups["340000"]["附件14（应付）"]
            assert anhui["columns"] == ["地区", "合肥市", "芜湖市", "合计"]
            assert [(r["label"], r["values"]) for r in anhui["rows"]] == [
                ("湖北省", ["50.00", "1200.00", "1250.00"]),
                ("合  计", ["50.00", "1200.00", "1250.00"]),
            ]
            assert rollups["420000"]["附件14（应收）"]["rows"][-1]["values"] == ["1250.00", "1250.00"]
            [wuhan] = [p for p in ask(clearing, bus, "A420100", PERIODS_PATH, WUHAN)[1]["periods"]]
            assert (wuhan["receivable_total"], wuhan["payable_total"]) == ("1250.00", "0.00")
            assert {o["obligation"] for o in wuhan["obligations"]} == {"submitted_to_finance", "institutions_paid"}
        finally:
            clearing.stop()
