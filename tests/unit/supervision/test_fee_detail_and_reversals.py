"""The supervision handler on the in-memory store with a stay's fee detail (S-18: the fee-line rules, R-04)
and with cancels and refunds (S-15: taken out of the indicators once, 000 第七十八条)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from supervision_support import PERSON, fee_detail, reversed_, settlement

from contracts.settlement_values import FundAmount, SettlementSlip
from runtime.privacy import pseudonym
from runtime.query import SignedQuery
from services.supervision.domain.indicators import Cell, summarise

from .supervision_support import PARTIES, Supervision

DAY = date(2026, 10, 12)
STAY = (date(2026, 10, 3), DAY)
BED = "120100001"


async def test_a_bed_day_billed_twice_is_flagged_once_with_its_evidence_and_no_sex_or_age_kept() -> None:
    sv = Supervision()
    detail = fee_detail("S-7", [(BED, "1", date(2026, 10, 4)), (BED, "1", date(2026, 10, 4)), ("311400001", "1", DAY)])
    assert await sv.command("settlement.fee-detail.v1", detail) == "applied"
    assert await sv.command("settlement.fee-detail.v1", detail) == "duplicate"
    flags = sv.flags()
    assert sorted(flags) == ["S-7:SV-04", "S-7:SV-06"]
    twice = flags["S-7:SV-04"]
    assert (twice["status"], twice["total"], twice["fund_paid"], twice["medical_type"]) == (
        "open",
        "30.00",
        None,
        "inpatient",
    )
    assert (twice["evidence"]["日期"], twice["evidence"]["明细行号"]) == ("2026-10-04", "1、2")
    assert twice["person_ref"] == pseudonym(PERSON)
    stored = json.dumps([doc for doc in sv.store.documents.values()], default=str)
    assert PERSON not in stored and "1949" not in stored and "female" not in stored
    assert sv.metrics.flags.labels("SV-04")._value.get() == 1
    # the treating agency downloads them: no fund amount on a fee-detail flag, the evidence in words
    body, _, _ = await sv.queries.flag_list(
        SignedQuery(PARTIES.get("A420100"), "/supervision/flags", {"format": "csv"})
    )  # type: ignore[arg-type]
    [row] = [line for line in body.decode("utf-8-sig").splitlines() if line.startswith("S-7:SV-04")]
    assert ",30.00,," in row and "明细行号：1、2" in row


async def test_a_clean_stay_raises_nothing() -> None:
    sv = Supervision()
    await sv.command("settlement.fee-detail.v1", fee_detail("S-8", [(BED, "1", date(2026, 10, 4)), (BED, "1", DAY)]))
    assert sv.flags() == {}


async def cells(sv: Supervision) -> list[dict]:
    return await sv.store.states("cells")


async def test_a_cancel_and_a_partial_refund_come_off_the_month_once_each_by_hand() -> None:
    """October, one treating hospital, inpatient: stay A 12 000.00 (fund 8 400.00, self-paid 600.00, 9 days),
    stay B 8 000.00 (fund 5 600.00, self-paid 400.00, 9 days). A is cancelled: −12 000.00, −8 400.00,
    −600.00, one visit, one stay and 9 bed days less. B is partly refunded: −1 500.50 total, −1 050.35 fund,
    −100.00 self-paid; its visit stays. Left: 1 visit, 1 stay, 9 bed days, total 6 499.50, fund 4 549.65,
    self-paid 300.00; cost per stay 6 499.50; reimbursement 4 549.65 / 6 499.50 = 70.00 %; fully self-paid
    300.00 / 6 499.50 = 4.6157… % → 4.62 %."""
    sv = Supervision()
    a = settlement("S-A", total="12000.00", fund="8400.00", self_paid="600.00", stay=STAY)
    b = settlement("S-B", total="8000.00", fund="5600.00", self_paid="400.00", stay=STAY, person_id=PERSON)
    for s in (a, b):
        await sv.send(s)
    cancel = reversed_(a, "RV-A", total="-12000.00", fund="-8400.00", self_paid="-600.00")
    remaining = SettlementSlip(
        total="6499.50",
        in_scope="6199.50",
        b_class_self_pay="0.00",
        over_limit_self_pay="0.00",
        self_paid="300.00",
        deductible_applied="0.00",
        funds=[FundAmount(code="pooling", name="职工基本医疗保险统筹基金", amount="4549.65")],
        fund_total="4549.65",
        personal_account="0.00",
        personal_cash="1949.85",
    )
    refund = reversed_(
        b, "RV-B", total="-1500.50", fund="-1050.35", self_paid="-100.00", refund=True, remaining=remaining
    )
    assert await sv.command("settlement.reversed.v1", cancel) == "applied"
    assert await sv.command("settlement.reversed.v1", refund) == "applied"
    assert await sv.command("settlement.reversed.v1", cancel) == "duplicate"
    assert await sv.command("settlement.reversed.v1", refund) == "duplicate"
    [c] = await cells(sv)
    assert (c["visits"], c["stays"], c["bed_days"]) == (1, 1, 9)
    assert (c["total"], c["fund_paid"], c["self_paid"], c["stay_total"]) == ("6499.50", "4549.65", "300.00", "6499.50")
    [row] = summarise([Cell.model_validate(c)], "2026-10", ())
    assert (row["cost_per_stay"], row["reimbursement_percent"], row["self_paid_percent"]) == (
        Decimal("6499.50"),
        Decimal("70.00"),
        Decimal("4.62"),
    )


async def test_a_cancel_before_its_settlement_waits_and_comes_off_as_it_is_counted() -> None:
    sv = Supervision()
    s = settlement("S-C", total="300.00", fund="210.00")
    cancel = reversed_(s, "RV-C", total="-300.00", fund="-210.00")
    assert await sv.command("settlement.reversed.v1", cancel) == "applied"
    assert await cells(sv) == []
    await sv.send(s)
    await sv.command("settlement.reversed.v1", cancel)
    [c] = await cells(sv)
    assert (c["visits"], c["total"], c["fund_paid"]) == (0, "0.00", "0.00")


async def test_a_refund_of_every_line_takes_the_visit_too_and_a_reversal_waits_its_turn_in_the_record() -> None:
    sv = Supervision()
    s = settlement("S-D", total="200.00", fund="140.00", self_paid="20.00")
    await sv.send(s)
    refund = reversed_(s, "RV-D", total="-200.00", fund="-140.00", self_paid="-20.00", refund=True)
    assert await sv.command("settlement.reversed.v1", refund) == "applied"
    [c] = await cells(sv)
    assert (c["visits"], c["total"], c["fund_paid"], c["self_paid"]) == (0, "0.00", "0.00", "0.00")
    [record] = await sv.store.states("reversals")
    assert (record["late"], record["early"]) == (["RV-D"], [])
    assert PERSON not in json.dumps(record)
