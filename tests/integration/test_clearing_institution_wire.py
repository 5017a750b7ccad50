"""A hospital's money over the real wire (R-01..R-04, C-07): what the clearing service says it is owed,
sealed to it, and an appeal 申诉 of an audit deduction answered by the treating place's agency.

Wuhan's hospital H1 settles, on 2026-08-20, S-A (pooling 1000.00, personal account 200.00, cash 50.00) and
S-B (pooling 400.00); its neighbour H2 settles S-C (pooling 300.00); all Wuhu's insured (340200). On 09-10
Wuhan's audit deducts 300.00 of S-A and 100.00 of S-B (the 2026-09 period). H1 asks what it is owed for
2026-09 and gets, sealed to its key, its settlements' funds less its deductions to the fen; it appeals D1,
Wuhan withdraws it (published on clearing.appeal.v1), H1 reads the answer in its sealed owed and is owed
300.00 more. H2 asking about
H1's month gets 404 and its appeal of H1's deduction is refused as if the deduction did not exist."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from support import Bus, ServiceProcess, answer_to, at, completed_settlement, move, new_prefix

from contracts.clearing import AnswerDeductionAppeal, AppealDeduction, FundAmounts, RecordAuditDeduction
from runtime.query import sign_request

pytestmark = pytest.mark.integration

WUHU, WUHAN = "340200", "420100"
H1, H2 = "H42010200001", "H42010200002"
ENTRY, DEDUCT, APPEAL, ANSWER = (
    "clearing.entry.v1",
    "clearing.record-audit-deduction.v1",
    "his.deduction-appealed.v1",
    "clearing.answer-appeal.v1",
)
APPEALS = "clearing.appeal.v1"
OWED, DAYS = "/clearing/institution/owed", "/clearing/institution/settlements"
SETTLED = {
    "S-A": (H1, {"pooling": "1000.00", "personal_account": "200.00"}, "50.00"),
    "S-B": (H1, {"pooling": "400.00"}, "0.00"),
    "S-C": (H2, {"pooling": "300.00"}, "0.00"),
}
DEDUCTED = {"D1": ("S-A", "300.00"), "D2": ("S-B", "100.00")}


def ask(proc: ServiceProcess, bus: Bus, who: str, path: str, institution: str, month: str) -> tuple[int, bytes]:
    return proc.get(*sign_request(bus.signer(who), path, at=bus.business_now(), institution=institution, month=month))


def opened(bus: Bus, who: str, body: bytes) -> dict:
    """A sealed answer opened as the institution would, with its own key (it is no JSON before)."""
    assert body.count(b".") == 4 and not body.startswith(b"{")  # a compact JWE
    return json.loads(bus.signer(who).open_sealed(body.decode()))


def appeal(bus: Bus, institution: str) -> AppealDeduction:
    return AppealDeduction(
        appeal_id=f"AP-{institution}-1",
        institution_code=institution,
        treating_region=WUHAN,
        settlement_id="S-A",
        deduction_id="D1",
        reason="限价依据为省级新版目录，申请复核",
        appealed_at=bus.business_now(),
    )


async def test_a_hospital_is_owed_its_settlements_less_deductions_and_an_appeal_changes_it(stack):
    prefix = new_prefix(stack, "clearing-institution")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(8, 20))
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            for sid, (hospital, funds, cash) in SETTLED.items():
                await bus.publish(
                    "settlement.completed.v1",
                    completed_settlement(
                        sid,
                        insured_region=WUHU,
                        treating_region=WUHAN,
                        settled_on=date(2026, 8, 20),
                        funds=funds,
                        institution_code=hospital,
                        cash=cash,
                    ),
                )
            await bus.read(ENTRY, lambda m: len(m) >= 3)

            await move(bus, clearing, at(9, 10))
            for did, (sid, pooling) in DEDUCTED.items():
                await bus.publish(
                    DEDUCT,
                    RecordAuditDeduction(
                        deduction_id=did,
                        settlement_id=sid,
                        insured_region=WUHU,
                        treating_region=WUHAN,
                        reason="超限价收费",
                        decided_at=bus.business_now(),
                        amounts=FundAmounts(insurance_type="310", funds={"pooling": pooling}),
                    ),
                    sender="A420100",
                )
            await bus.read(ENTRY, lambda m: sum(e["payload"]["kind"] == "audit_deduction" for e in m) >= 2)

            # ---- what H1 is owed for 2026-09: an independent sum of the inputs, to the fen
            funds = sum((Decimal(a) for h, f, _ in SETTLED.values() if h == H1 for a in f.values()), Decimal("0.00"))
            cut = sum((Decimal(a) for _, a in DEDUCTED.values()), Decimal("0.00"))
            status, body = ask(clearing, bus, H1, OWED, H1, "2026-09")
            assert status == 200
            owed = opened(bus, H1, body)
            assert (
                (Decimal(owed["settled"]), Decimal(owed["deducted"]), Decimal(owed["net_owed"]))
                == (funds, cut, funds - cut)
                == (Decimal("1600.00"), Decimal("400.00"), Decimal("1200.00"))
            )
            assert sorted(
                (d["deduction_id"], d["settlement_id"], d["amount"], d["reason"], d["rule"]) for d in owed["deductions"]
            ) == [("D1", "S-A", "300.00", "超限价收费", "R-04"), ("D2", "S-B", "100.00", "超限价收费", "R-04")]
            assert owed["payment"]["notice_issued_at"] is None  # C-07: the notice comes at month end
            status, body = ask(clearing, bus, H1, DAYS, H1, "2026-08")
            [day] = opened(bus, H1, body)["days"]
            assert (
                day["day"],
                day["settlements"],
                day["fund"],
                day["personal_cash"],
                day["total"],
                day["reconciliation"],
            ) == ("2026-08-20", 2, "1600.00", "50.00", "1650.00", "not_reconciled")

            # ---- another hospital learns nothing and cannot appeal H1's deduction
            for path, month in ((OWED, "2026-09"), (DAYS, "2026-08")):
                status, body = ask(clearing, bus, H2, path, H1, month)
                assert status == 404 and b"S-A" not in body and b"1600" not in body
            sent = await bus.publish(APPEAL, appeal(bus, H2))
            refused = await answer_to(bus, sent)
            assert (refused["reason"], refused["sender"]) == ("REFUSED_BY_RULE", H2)
            assert "H42010200002 has no audit deduction D1 of settlement S-A" in refused["message"]
            sent = await bus.publish(APPEAL, appeal(bus, H1), sender=H2)
            assert (await answer_to(bus, sent))["reason"] == "UNAUTHORIZED"  # naming H1, signed by H2

            # ---- H1 appeals D1; Wuhan's agency withdraws it (before the 21st: 2026-09 never carries it)
            await bus.publish(APPEAL, appeal(bus, H1))
            await bus.read(APPEALS, lambda m: any(a["payload"]["status"] == "lodged" for a in m))
            await bus.publish(
                ANSWER,
                AnswerDeductionAppeal(
                    appeal_id=f"AP-{H1}-1",
                    institution_code=H1,
                    treating_region=WUHAN,
                    settlement_id="S-A",
                    deduction_id="D1",
                    outcome="withdrawn",
                    reason="经复核，收费符合新版目录限价",
                    answered_at=bus.business_now(),
                ),
                sender="A420100",
            )
            told = await bus.read(APPEALS, lambda m: any(a["payload"]["status"] == "withdrawn" for a in m))
            [heard] = [a for a in told if a["payload"]["status"] == "withdrawn"]
            assert (heard["payload"]["institution_code"], heard["payload"]["paid_back_in"]) == (H1, "2026-09")

            status, body = ask(clearing, bus, H1, OWED, H1, "2026-09")
            owed = opened(bus, H1, body)
            still = Decimal(DEDUCTED["D2"][1])
            assert (Decimal(owed["deducted"]), Decimal(owed["net_owed"])) == (still, funds - still)
            [d1] = [d for d in owed["deductions"] if d["deduction_id"] == "D1"]
            assert d1["appeal"]["status"] == "withdrawn" and d1["appeal"]["answer"] == "经复核，收费符合新版目录限价"
            # the treating region's agency sees the same month in clear JSON
            status, body = ask(clearing, bus, "A420100", OWED, H1, "2026-09")
            assert status == 200 and json.loads(body)["net_owed"] == owed["net_owed"]
        finally:
            clearing.stop()
