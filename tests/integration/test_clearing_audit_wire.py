"""Clearing over the real wire with a controlled clock across National Day 2026 (10-01..10-07 off, 10-10
worked): where late entries go (C-02, R-05) and audit deductions (R-04, R-05; 000 第五十七、七十一条; 004 第四十一条).

Wuhu (340200) insured, treated in Wuhan (420100): a settlement of 2026-08-20 (pooling 1000.00, personal
account 200.00) clears in 2026-09; Wuhan's audit deducts 300.00 on 09-10 (by the 16th: the 2026-09 run);
deductions that name no archived settlement, exceed what the fund paid or name the wrong pair are refused
to Wuhan with the reason and change nothing. After the 21st a settlement of Hefei (340100, no ledger with
Wuhan in 2026-09) dated 08-25 goes to 2026-10 — it never opens a ledger in the generated month — and so
does the correction of the deduction to 100.00 (a pay-back of 200.00, M-03: a new record).
R-03: August declared on 09-10, the three medical types together (without one: refused). R-02: one
hospital's day mismatched then resolved, another's mismatched and overdue after 5 working days. The
notices of both months add up, to the fen, to the inputs: settled − the deductions in force; the C-04 tables are
published with the notices and downloaded over HTTP (XLSX, CSV) by an agency that speaks for the region,
with the same figures, and refused to one that does not; Hubei's province roll-up (C-01, 附件14) shows its
cities' cross-province lines by counterpart province. After the 2026-09 notices (C-02, C-03): a
confirmation after the 25th is refused; Wuhu records its submission to finance, Wuhan nothing: Wuhan's
submission (due 10-13) and Wuhu's transfer (10 working days from its submission: 10-20) are breached."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from privacy_support import find_aggregate
from support import Bus, ServiceProcess, answer_to, at, completed_settlement, move, new_prefix

from contracts.clearing import (
    ConfirmClearingPeriod,
    DailyReconciliation,
    DeclaredLine,
    FundAmounts,
    MonthlyDeclaration,
    RecordAuditDeduction,
    RecordClearingObligation,
)
from runtime.calendar import end_of_business_day
from services.clearing.query import sign_request

pytestmark = pytest.mark.integration

WUHU, WUHAN, HEFEI = "340200", "420100", "340100"
DEDUCT, ENTRY, REFUSED = "clearing.record-audit-deduction.v1", "clearing.entry.v1", "party.refused.v1"
GENERATED, NOTICE, REPORT = "clearing.period-generated.v1", "clearing.notice.v1", "clearing.report.v1"
CONFIRM, OBLIGATION = "clearing.confirm-period.v1", "clearing.record-obligation.v1"
RECORDED, BREACHED = "clearing.obligation-recorded.v1", "clearing.obligation-breached.v1"


RECON, RECONCILED = "his.daily-reconciliation.v1", "clearing.reconciliation.v1"
DECLARE, DECLARED = "his.monthly-declaration.v1", "clearing.declaration.v1"
H1, H2 = "H42010200001", "H42010200002"  # two Wuhan hospitals


def step(bus: Bus, region: str, obligation: str) -> RecordClearingObligation:
    return RecordClearingObligation(
        region=region, clearing_month="2026-09", obligation=obligation, done_at=bus.business_now()
    )


def download(proc: ServiceProcess, bus: Bus, agency: str, region: str, month: str, **params) -> tuple[int, bytes]:
    """GET the clearing tables as ``agency`` would, signing the request target with its key (C-04)."""
    return proc.get(*sign_request(bus.signer(agency), region, month, at=bus.business_now(), **params))


def deduction(
    bus: Bus,
    deduction_id: str,
    pooling: str,
    *,
    settlement_id: str = "S-A",
    insured: str = WUHU,
    corrects: str | None = None,
) -> RecordAuditDeduction:
    return RecordAuditDeduction(
        deduction_id=deduction_id,
        settlement_id=settlement_id,
        insured_region=insured,
        treating_region=WUHAN,
        reason="超限价收费",
        corrects=corrects,
        amounts=FundAmounts(insurance_type="310", funds={"pooling": pooling}),
        decided_at=bus.business_now(),
    )


async def ledger(proc: ServiceProcess, key: str) -> dict | None:
    client, db = await proc.db()
    try:
        doc = await find_aggregate(db, "ledgers", key)
        return doc["state"] if doc else None
    finally:
        await client.close()


def entries_of(messages: list[dict], **fields: str) -> list[dict]:
    return [m["payload"] for m in messages if all(m["payload"].get(k) == v for k, v in fields.items())]


async def test_late_entries_and_audit_deductions_over_two_periods_across_national_day(stack):
    prefix = new_prefix(stack, "clearing-audit")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(8, 20))
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            s_a = completed_settlement(
                "S-A",
                insured_region=WUHU,
                treating_region=WUHAN,
                settled_on=date(2026, 8, 20),
                funds={"pooling": "1000.00", "personal_account": "200.00"},
                institution_code=H1,
            )
            await bus.publish("settlement.completed.v1", s_a)
            await bus.publish("settlement.completed.v1", s_a)  # delivered twice: counted once
            await bus.read(ENTRY, lambda m: len(m) >= 1)

            # ---- the hospitals reconcile the day with the platform
            for hospital, n, amount in ((H1, 2, "1300.00"), (H1, 1, "1200.00"), (H2, 1, "50.00")):
                await bus.publish(
                    RECON,
                    DailyReconciliation(
                        institution_code=hospital,
                        treating_region=WUHAN,
                        day=date(2026, 8, 20),
                        settlements=n,
                        fund_total=amount,
                        sent_at=bus.business_now(),
                    ),
                )
            checks = await bus.read(RECONCILED, lambda m: len(m) >= 3)
            assert [c["payload"]["status"] for c in checks if c["payload"]["institution_code"] == H1] == [
                "mismatched",
                "resolved",
            ]
            [h2] = [c["payload"] for c in checks if c["payload"]["institution_code"] == H2]
            assert (h2["status"], h2["platform_settlements"], h2["platform_fund_total"]) == ("mismatched", 0, "0.00")
            assert datetime.fromisoformat(h2["resolve_by"]) == end_of_business_day(date(2026, 8, 27))  # 5 wd

            # ---- 09-10: Wuhan's audit, confirmed by the 16th → the 2026-09 run
            await move(bus, clearing, at(9, 10))
            await bus.publish(DEDUCT, deduction(bus, "D1", "300.00"), sender="A420100")
            entries = await bus.read(ENTRY, lambda m: len(entries_of(m, kind="audit_deduction")) >= 1)
            [d1] = entries_of(entries, kind="audit_deduction")
            assert (d1["clearing_month"], d1["signed_total"], d1["corrects"]) == ("2026-09", "300.00", None)

            bad = {
                "unknown": (deduction(bus, "D-X", "1.00", settlement_id="S-NONE"), "not in the clearing archive"),
                "over": (deduction(bus, "D-OVER", "700.01"), "exceed what the fund paid (pooling: 1000.01 > 1000.00)"),
                "pair": (deduction(bus, "D-PAIR", "1.00", insured=HEFEI), "is of 340200->420100, not 340100->420100"),
            }
            for name, (cmd, why) in bad.items():
                sent = await bus.publish(DEDUCT, cmd, sender="A420100")
                answer = await answer_to(bus, sent)
                assert (answer["reason"], answer["sender"]) == ("REFUSED_BY_RULE", "A420100"), answer
                assert "R-04" in answer["message"] and why in answer["message"], (name, answer)
            state = await ledger(clearing, f"2026-09:{WUHU}:{WUHAN}")
            assert (state["deducted"], state["entry_count"]) == ({"310/pooling": "300.00"}, 2)  # nothing changed
            # Wuhan's hospital declares August by the 16th, the three medical types together
            declared = [
                DeclaredLine(medical_type=t, settlements=n, fund_total=a)
                for t, n, a in (
                    ("inpatient", 1, "1200.00"),
                    ("general_outpatient", 0, "0.00"),
                    ("chronic_outpatient", 0, "0.00"),
                )
            ]
            sent = await bus.publish(
                DECLARE,
                MonthlyDeclaration(
                    institution_code=H1,
                    treating_region=WUHAN,
                    month="2026-08",
                    lines=declared[:2],
                    declared_at=bus.business_now(),
                ),
            )
            assert "together" in (await answer_to(bus, sent))["message"]
            await bus.publish(
                DECLARE,
                MonthlyDeclaration(
                    institution_code=H1,
                    treating_region=WUHAN,
                    month="2026-08",
                    lines=declared,
                    declared_at=bus.business_now(),
                ),
            )
            [decl] = [m["payload"] for m in await bus.read(DECLARED, lambda m: len(m) >= 1)]
            assert (decl["late"], decl["matched"], decl["version"]) == (False, True, 1)

            checks = await bus.read(RECONCILED, lambda m: len(m) >= 4)
            assert [c["payload"]["status"] for c in checks if c["payload"]["institution_code"] == H2] == [
                "mismatched",
                "overdue",
            ]  # not resolved by 08-27

            # ---- 09-21: the 2026-09 run (C-02)
            await move(bus, clearing, at(9, 21))
            [sep] = [m["payload"] for m in await bus.read(GENERATED, lambda m: len(m) >= 1, timeout=40)]
            assert (sep["clearing_month"], sep["settled_total"], sep["deducted_total"], sep["net_total"]) == (
                "2026-09",
                "1200.00",
                "300.00",
                "900.00",
            )

            # ---- 09-22: a late settlement of a pair with no 2026-09 ledger, and the correction
            await move(bus, clearing, at(9, 22))
            await bus.publish(
                "settlement.completed.v1",
                completed_settlement(
                    "S-B",
                    insured_region=HEFEI,
                    treating_region=WUHAN,
                    settled_on=date(2026, 8, 25),
                    funds={"pooling": "500.00"},
                ),
            )
            await bus.publish(DEDUCT, deduction(bus, "D1b", "100.00", corrects="D1"), sender="A420100")
            entries = await bus.read(ENTRY, lambda m: len(m) >= 4)
            [s_b] = entries_of(entries, settlement_id="S-B")
            assert s_b["clearing_month"] == "2026-10"  # not the generated 2026-09
            [fix] = entries_of(entries, corrects="D1")
            assert (fix["clearing_month"], fix["signed_total"]) == ("2026-10", "-200.00")
            assert fix["replaces"]["funds"] == {"pooling": "300.00"}
            assert await ledger(clearing, f"2026-09:{HEFEI}:{WUHAN}") is None
            sent = await bus.publish(DEDUCT, deduction(bus, "D1c", "50.00", corrects="D1"), sender="A420100")
            assert "already corrected by D1b" in (await answer_to(bus, sent))["message"]

            # ---- 09-30: the 2026-09 notices; 10-21 (after National Day) the 2026-10 run; 10-31 its notices
            await move(bus, clearing, at(9, 30))
            await bus.read(NOTICE, lambda m: len(m) >= 2, timeout=40)
            # C-02: a confirmation after the 25th is refused (silence confirmed it)
            sent = await bus.publish(
                CONFIRM,
                ConfirmClearingPeriod(
                    clearing_month="2026-09",
                    insured_region=WUHU,
                    treating_region=WUHAN,
                    confirmed_at=bus.business_now(),
                ),
                sender="A340200",
            )
            answer = await answer_to(bus, sent)
            assert answer["reason"] == "REFUSED_BY_RULE" and "after the end of the 25th" in answer["message"]
            # C-03: Wuhu submits its notice to finance on the day; Wuhan records nothing
            await bus.publish(OBLIGATION, step(bus, WUHU, "submitted_to_finance"), sender="A340200")
            [done] = [m["payload"] for m in await bus.read(RECORDED, lambda m: len(m) >= 1)]
            assert (done["obligation"], done["late"]) == ("submitted_to_finance", False)
            assert datetime.fromisoformat(done["due_at"]) == end_of_business_day(date(2026, 10, 13))  # 5 wd
            sent = await bus.publish(OBLIGATION, step(bus, WUHAN, "transferred"), sender="A420100")
            assert "submitted_to_finance is not recorded yet" in (await answer_to(bus, sent))["message"]
            sent = await bus.publish(OBLIGATION, step(bus, WUHU, "transferred"), sender="A340100")
            assert (await answer_to(bus, sent))["reason"] == "UNAUTHORIZED"  # Hefei may not record for Wuhu

            await move(bus, clearing, at(10, 21))
            generated = await bus.read(GENERATED, lambda m: len(m) >= 3, timeout=40)
            breaches = await bus.read(BREACHED, lambda m: len(m) >= 2, timeout=40)
            assert sorted(
                (b["payload"]["region"], b["payload"]["obligation"], b["payload"]["rule"]) for b in breaches
            ) == [(WUHU, "transferred", "C-03"), (WUHAN, "submitted_to_finance", "C-03")]
            octo = {(g["payload"]["insured_region"], g["payload"]["clearing_month"]): g["payload"] for g in generated}
            assert (
                octo[(WUHU, "2026-10")]["settled_total"],
                octo[(WUHU, "2026-10")]["deducted_total"],
                octo[(WUHU, "2026-10")]["net_total"],
            ) == ("0.00", "-200.00", "200.00")
            assert octo[(HEFEI, "2026-10")]["net_total"] == "500.00"
            await move(bus, clearing, at(10, 31))
            notices = await bus.read(NOTICE, lambda m: len(m) >= 5, timeout=40)
            by = {(n["payload"]["region"], n["payload"]["clearing_month"]): n["payload"] for n in notices}
            assert set(by) == {
                (WUHU, "2026-09"),
                (WUHAN, "2026-09"),
                (WUHU, "2026-10"),
                (HEFEI, "2026-10"),
                (WUHAN, "2026-10"),
            }

            # every figure to the fen against an independent sum of the inputs
            settled = {WUHU: Decimal("1000.00") + Decimal("200.00"), HEFEI: Decimal("500.00")}
            in_force = {WUHU: Decimal("100.00"), HEFEI: Decimal("0.00")}
            for region in (WUHU, HEFEI):
                paid = sum((Decimal(n["payable_total"]) for (r, _), n in by.items() if r == region), Decimal("0.00"))
                assert paid == settled[region] - in_force[region]
            assert by[(WUHU, "2026-09")]["payable_total"] == "900.00"
            assert by[(WUHU, "2026-10")]["payable_total"] == "200.00"
            assert by[(WUHAN, "2026-09")]["receivable_total"] == "900.00"
            assert by[(WUHAN, "2026-10")]["receivable_total"] == "700.00"
            assert clearing.metric("yidi_clearing_deductions_refused_total") == 4

            # ---- C-04: the tables, as events and over HTTP (XLSX, CSV) with the same figures
            reports = await bus.read(REPORT, lambda m: len(m) >= 5, timeout=40)
            rep = {(r["payload"]["region"], r["payload"]["clearing_month"]): r["payload"] for r in reports}
            wuhu_oct = {t["code"]: t for t in rep[(WUHU, "2026-10")]["tables"]}
            assert wuhu_oct["附件15-2"]["rows"][-1]["values"][-2:] == ["-200.00", "200.00"]  # 审核扣款, 合计
            assert wuhu_oct["附件15-4"]["rows"][0] == {  # by counterpart province (000 附件15-4)
                "region": "420000",
                "label": "湖北省",
                "reverse_clearing": False,
                "values": ["-200.00", "-200.00", "0.00"],
            }
            sep_tables = {t["code"]: t for t in rep[(WUHU, "2026-09")]["tables"]}
            assert sep_tables["附件15-2"]["rows"][0]["values"] == [
                "1000.00",
                "200.00",
                "0.00",
                "0.00",
                "0.00",
                "0.00",
                "0.00",
                "0.00",
                "300.00",
                "900.00",
            ]
            assert rep[(WUHAN, "2026-10")]["tables"][-1]["rows"][-1]["values"][0] == "700.00"  # 16-1 合计

            status, body = download(clearing, bus, "A340200", WUHU, "2026-09", format="xlsx")
            assert status == 200
            book = load_workbook(io.BytesIO(body))
            sheet = list(book["附件15-2"].iter_rows(values_only=True))
            assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in sheet[-1][1:]] == [
                Decimal(v) for v in sep_tables["附件15-2"]["rows"][-1]["values"]
            ]
            status, body = download(clearing, bus, "A340000", WUHU, "2026-09", format="csv", table="附件15-1")
            assert (
                status == 200
                and body.startswith(b"\xef\xbb\xbf")
                and body.decode("utf-8-sig").splitlines()
                == [
                    "地区,合计,职工医保,居民医保",
                    "湖北省,900.00,900.00,0.00",
                    "合  计,900.00,900.00,0.00",
                ]  # by province
            )
            status, body = download(clearing, bus, "A340100", WUHU, "2026-09")  # Hefei asks for Wuhu
            assert status == 403 and "A340100 does not speak for region 340200" in body.decode()
            status, _ = download(clearing, bus, "A340200", WUHU, "2026-08")
            assert status == 404
            # C-01: Hubei's roll-up for national clearing, its cities' cross-province lines by counterpart province
            status, body = download(clearing, bus, "A420000", "420000", "2026-10", format="csv", table="附件14（应收）")
            assert status == 200 and body.decode("utf-8-sig").splitlines() == [
                "地区,武汉市,合计",
                "安徽省,700.00,700.00",
                "合  计,700.00,700.00",
            ]
        finally:
            clearing.stop()
