"""Who may touch a region's clearing and prepayment, over the real wire (003 §5 (三); C-02, R-04, P-02,
P-08): the clearing and prepayment services run as their own processes; agency B (Wuhan, A420100)
confirming, setting or recording for agency A's region (Wuhu, 340200) is answered on
``party.refused.v1`` to A420100 with the rule and why, and changes nothing; the agencies the rules
name succeed. The Wuhu ↔ Hefei (340100) ledger of clearing month 2026-09 is made by a settlement and
an audit deduction of the treating side on it (R-04) and generated on 2026-09-21 (C-02)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from privacy_support import find_aggregate
from support import Bus, ServiceProcess, completed_settlement, eventually, new_prefix

from contracts.clearing import ClearingSide, ConfirmClearingPeriod, FundAmounts, RecordAuditDeduction
from contracts.envelope import Envelope
from contracts.prepayment import PrepaymentScope, RecordPrepaymentPayment, SetAnnualQuota
from contracts.values import SHANGHAI

pytestmark = pytest.mark.integration

START = datetime(2026, 8, 31, 10, 0, tzinfo=SHANGHAI)  # a Monday: entries dated today clear in 2026-09
GENERATED = datetime(2026, 9, 21, 10, 0, tzinfo=SHANGHAI)  # the 2026-09 period is generated at 00:00 (C-02)
WUHU, HEFEI = "340200", "340100"
B = "A420100"  # 武汉: an agency of neither region
LEDGER = f"2026-09:{WUHU}:{HEFEI}"
ACCOUNT = f"{WUHU}:{PrepaymentScope.CROSS_PROVINCE.value}"
REFUSED = "party.refused.v1"


@dataclass
class Parties:
    bus: Bus
    clearing: ServiceProcess
    prepayment: ServiceProcess


@pytest.fixture(scope="module")
async def wire(stack):
    prefix = new_prefix(stack, "parties-cp")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(START)
        procs = [ServiceProcess(stack, name, prefix).start(wait=False) for name in ("clearing", "prepayment")]
        try:
            for proc in procs:
                proc.wait_healthy()
            yield Parties(bus, *procs)
        finally:
            for proc in procs:
                proc.stop()


async def refusal_of(bus: Bus, sent: Envelope) -> dict:
    """The answer to ``sent`` on party.refused.v1."""
    answers = await bus.read(REFUSED, lambda m: any(r["payload"]["refused_event_id"] == str(sent.event_id) for r in m))
    return next(r["payload"] for r in answers if r["payload"]["refused_event_id"] == str(sent.event_id))


async def stored(proc: ServiceProcess, collection: str, key: str) -> dict | None:
    client, db = await proc.db()
    try:
        return await find_aggregate(db, collection, key)
    finally:
        await client.close()


def assert_refused_to(answer: dict, sender: str, topic: str, rule: str, service: str) -> None:
    assert (answer["sender"], answer["topic"], answer["reason"], answer["rule"], answer["service"]) == (
        sender,
        topic,
        "UNAUTHORIZED",
        rule,
        service,
    ), answer
    assert sender in answer["message"], answer


# ================================================================ prepayment (P-02, P-08)
QUOTA, PAYMENT = "prepayment.set-annual-quota.v1", "prepayment.record-payment.v1"


def quota(bus: Bus) -> SetAnnualQuota:
    return SetAnnualQuota(
        insured_region=WUHU,
        scope=PrepaymentScope.CROSS_PROVINCE,
        year=2026,
        last_year_quota="0.00",
        last_year_monthly_funds={10: "5000.00", 11: "5000.00", 12: "5000.00"},
        issued_at=bus.business_now(),
    )


async def test_only_the_level_above_sets_a_regions_quota_and_records_its_payments(wire):
    """P-02: Wuhu's quota is set by Anhui (A340000), not by Wuhan nor by Wuhu itself; P-08: the payment
    for its adjustment notice is recorded by Anhui, which receives it, not by Wuhan."""
    bus = wire.bus
    for sender in (B, "A340200"):
        sent = await bus.publish(QUOTA, quota(bus), sender=sender)
        assert_refused_to(await refusal_of(bus, sent), sender, QUOTA, "P-02", "prepayment")
    assert await stored(wire.prepayment, "accounts", ACCOUNT) is None  # nothing changed

    await bus.publish(QUOTA, quota(bus), sender="A340000")
    [set_] = await bus.read("prepayment.quota.v1", lambda m: len(m) >= 1)
    notice_id = set_["payload"]["notice_id"]
    assert set_["payload"]["quota"] == set_["payload"]["adjustment"] == "10000.00" and notice_id  # 2 × 5,000.00

    def paid(payment_id: str) -> RecordPrepaymentPayment:
        return RecordPrepaymentPayment(
            payment_id=payment_id,
            insured_region=WUHU,
            scope=PrepaymentScope.CROSS_PROVINCE,
            notice_id=notice_id,
            amount="10000.00",
            paid_at=bus.business_now(),
        )

    sent = await bus.publish(PAYMENT, paid("BANK-B-1"), sender=B)
    assert_refused_to(await refusal_of(bus, sent), B, PAYMENT, "P-08", "prepayment")
    account = await stored(wire.prepayment, "accounts", ACCOUNT)
    assert account["state"]["notices"][notice_id]["paid"] == "0.00"  # nothing changed

    await bus.publish(PAYMENT, paid("BANK-AH-1"), sender="A340000")

    async def recorded() -> bool:
        notice = (await stored(wire.prepayment, "accounts", ACCOUNT))["state"]["notices"][notice_id]
        return notice["paid"] == "10000.00" and notice["payment_ids"] == ["BANK-AH-1"]

    await eventually(recorded)
    assert wire.prepayment.metric("yidi_refused_total", topic=QUOTA) == 2
    assert wire.prepayment.metric("yidi_refused_total", topic=PAYMENT) == 1


# ================================================================ clearing (R-04, C-02) — moves the clock: keep last
DEDUCT, CONFIRM = "clearing.record-audit-deduction.v1", "clearing.confirm-period.v1"


def deduction(bus: Bus, deduction_id: str) -> RecordAuditDeduction:
    return RecordAuditDeduction(
        deduction_id=deduction_id,
        settlement_id="S-WUHU-HEFEI-1",
        insured_region=WUHU,
        treating_region=HEFEI,
        reason="超限价收费",
        amounts=FundAmounts(insurance_type="310", funds={"pooling": "30.00"}),
        decided_at=bus.business_now(),
    )


def confirmation(bus: Bus, side: ClearingSide | None = None) -> ConfirmClearingPeriod:
    extra = {"side": side} if side else {}
    return ConfirmClearingPeriod(
        clearing_month="2026-09", insured_region=WUHU, treating_region=HEFEI, confirmed_at=bus.business_now(), **extra
    )


async def test_a_period_is_confirmed_side_by_side_by_the_agencies_of_its_sides(wire):
    """R-04: only the auditing side deducts, and Wuhu audits its intra-province costs itself (001 第三十条: 省内
    异地就医发生的医疗费用由参保地经办机构审核), so Hefei, the treating side, is refused; C-02: Wuhan confirming
    Wuhu's (or Hefei's) side is refused
    and leaves the period as generated, as does Hefei confirming Wuhu's payable; Wuhu confirms its
    payable, Hefei its receivable, and then the period is confirmed."""
    bus = wire.bus
    await bus.publish(
        "settlement.completed.v1",
        completed_settlement(  # the settlement deducted from
            "S-WUHU-HEFEI-1",
            insured_region=WUHU,
            treating_region=HEFEI,
            settled_on=START.date(),
            funds={"pooling": "100.00"},
        ),
    )
    await bus.read("clearing.entry.v1", lambda m: len(m) >= 1)
    sent = await bus.publish(DEDUCT, deduction(bus, "D-BY-HEFEI"), sender="A340100")
    assert_refused_to(await refusal_of(bus, sent), "A340100", DEDUCT, "R-04", "clearing")
    await bus.publish(DEDUCT, deduction(bus, "D-BY-WUHU"), sender="A340200")
    entries = await bus.read("clearing.entry.v1", lambda m: len(m) >= 2)
    [entry] = [e for e in entries if e["payload"]["kind"] == "audit_deduction"]
    assert entry["payload"]["clearing_month"] == "2026-09"

    await bus.set_clock(GENERATED)
    await bus.read("clearing.period-generated.v1", lambda m: len(m) >= 1, timeout=40)

    for sender, side in ((B, None), (B, ClearingSide.TREATING), ("A340100", ClearingSide.INSURED)):
        sent = await bus.publish(CONFIRM, confirmation(bus, side), sender=sender)
        answer = await refusal_of(bus, sent)
        assert_refused_to(answer, sender, CONFIRM, "C-02", "clearing")
        assert f"{(side or ClearingSide.INSURED).value} side" in answer["message"], answer
    ledger = (await stored(wire.clearing, "ledgers", LEDGER))["state"]
    assert (ledger["status"], ledger["confirmations"]) == ("generated", {})  # nothing changed

    await bus.publish(CONFIRM, confirmation(bus), sender="A340200")  # Wuhu: its payable
    await bus.publish(CONFIRM, confirmation(bus, ClearingSide.TREATING), sender="A340100")  # Hefei: its receivable
    confirmed = await bus.read("clearing.period-confirmed.v1", lambda m: len(m) >= 2)
    assert sorted((c["payload"]["side"], c["payload"]["by"], c["sender"]) for c in confirmed) == [
        ("insured", "province", "clearing"),
        ("treating", "province", "clearing"),
    ]
    assert [c["payload"]["pending_sides"] for c in confirmed][-1] == []

    async def done() -> bool:
        return (await stored(wire.clearing, "ledgers", LEDGER))["state"]["status"] == "confirmed"

    await eventually(done)
    assert wire.clearing.metric("yidi_refused_total", topic=CONFIRM) == 3
