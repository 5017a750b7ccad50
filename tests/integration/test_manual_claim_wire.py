"""A person's manual claim 手工报销 over the real wire (S-17; 004 第八、三十三条): made through a channel for the
person it authenticated, answered once with everything missing (一次性告知), its 20 working days counted from
the day the materials are complete — a verification letter's reply included — and each step told on
``settlement.manual-claim-changed.v1``. Refusals: a channel acting for someone else, an agency of another
place, a channel recording the treating agency's reply.

Wuhu (340200) has no material list of its own in the seeds: it uses the default, Liaoning's list of 004
第三十三条 (sample): a stay needs 医院收费票据, 住院费用清单, 诊断证明.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from privacy_support import find_aggregate
from support import Bus, ServiceProcess, caught_up, eventually, move, new_prefix, wire_json
from support import test_keys as keys_dir

from contracts.filing import ChangeKind, FilingChanged, FilingChannel, FilingSnapshot, FilingStatus, ProofKind
from contracts.his import Diagnosis, DischargeSettlementRequested, FeeLine
from contracts.manual_claims import (
    AddClaimDocuments,
    ClaimDocument,
    DecideManualClaim,
    RecordClaimPayment,
    RequestVerification,
    SubmitManualClaim,
)
from contracts.parties import PersonAuthentication
from contracts.registry import ALL_TOPICS
from contracts.settlement_values import SettlementSlip
from contracts.values import SHANGHAI, EligibilityBasis, FilingCategory, make_person_id, round_fen
from runtime.parties import ParticipantRegistry
from runtime.query import seal_authentication, sign_request
from services.settlement.domain import insured, treating
from services.settlement.domain.accumulations import Accumulations
from services.settlement.domain.rates import Entitlement
from services.settlement.reference_data import load_catalogues, load_policies

pytestmark = pytest.mark.integration

APP = "CH-NHSA-APP"
WEDNESDAY = datetime(2025, 3, 12, 9, 0, tzinfo=SHANGHAI)
CHANGED, REFUSED = "settlement.manual-claim-changed.v1", "settlement.manual-claim-refused.v1"
_seq = itertools.count(1)
REGISTRY = ParticipantRegistry.load(keys_dir())


@pytest.fixture(scope="module")
async def claims(stack):
    prefix = new_prefix(stack, "claims-wire")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(WEDNESDAY)
        proc = ServiceProcess(stack, "settlement", prefix).start()
        try:
            yield bus, proc
        finally:
            proc.stop()


def person() -> str:
    return make_person_id(f"34020219580101{next(_seq):03d}")


def rid(label: str) -> str:
    return f"claim-{label}-{uuid.uuid4().hex[:10]}"


def authentication(pid: str, bus: Bus) -> PersonAuthentication:
    now = bus.business_now()
    return PersonAuthentication(
        channel=APP,
        person_id=pid,
        session=f"s-{uuid.uuid4().hex[:12]}",
        method="e_credential",
        authenticated_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(minutes=10),
    )


def stay(pid: str, bus: Bus, *documents: str, auth_of: str | None = None) -> SubmitManualClaim:
    """A stay in Wuhan paid in full, 2025-03-01..03-08, 6 303.00."""
    return SubmitManualClaim(
        request_id=rid("submit"),
        person_id=pid,
        insured_region="340200",
        treating_region="420100",
        institution_code="H42010200001",
        medical_type="inpatient",
        start_date=date(2025, 3, 1),
        end_date=date(2025, 3, 8),
        total="6303.00",
        documents=documents,
        authentication=authentication(auth_of or pid, bus),
    )


async def step(bus: Bus, topic: str, command, sender: str, answer: str = CHANGED) -> dict:
    """Send ``command`` signed by ``sender``; the step told for it (or its refusal)."""
    sent = await bus.publish(topic, command, sender=sender)
    if answer == "party.refused.v1":
        found = await bus.read(
            answer, lambda ms: any(m["payload"]["refused_event_id"] == str(sent.event_id) for m in ms)
        )
        return next(m["payload"] for m in found if m["payload"]["refused_event_id"] == str(sent.event_id))
    found = await bus.read(answer, lambda ms: any(m["causation_id"] == str(sent.event_id) for m in ms))
    return next(m["payload"] for m in found if m["causation_id"] == str(sent.event_id))


async def test_S17_missing_materials_told_once_the_clock_from_completeness_and_a_verification_holds_it(claims):
    """Submitted Wednesday 2025-03-12 with the invoice and the fee list: told once that 诊断证明 is missing, no
    clock. Completed Friday 03-14: 20 working days → Monday 2025-04-14 (03-17..03-21 5, 03-24..03-28 10,
    03-31..04-03 14 — 04-04 清明 —, 04-07..04-11 19, 04-14 20). The agency then sends a verification letter
    on 03-17: the claim waits, its clock stopped; the treating agency's reply recorded Thursday 03-20 →
    2025-04-18 (04-14 16, …, 04-18 20)."""
    bus, proc = claims
    pid = person()
    told = await step(bus, "settlement.manual-claim-submit.v1", stay(pid, bus, "invoice", "inpatient_fee_list"), APP)
    assert (told["status"], told["complete_on"], told["decide_by"]) == ("incomplete", None, None)
    assert [(m["document"], m["name_zh"]) for m in told["missing"]] == [("diagnosis_certificate", "诊断证明")]
    assert "004 第三十三条" in told["missing"][0]["source"] and "诊断证明" in told["note"]
    assert told["applied_through"] == APP
    claim_id = told["claim_id"]

    await move(bus, proc, datetime(2025, 3, 14, 10, 0, tzinfo=SHANGHAI))
    more = AddClaimDocuments(
        request_id=rid("docs"),
        person_id=pid,
        insured_region="340200",
        claim_id=claim_id,
        documents=("diagnosis_certificate",),
        authentication=authentication(pid, bus),
    )
    complete = await step(bus, "settlement.manual-claim-documents.v1", more, APP)
    assert (complete["status"], complete["missing"]) == ("complete", [])
    assert (complete["complete_on"], complete["decide_by"]) == ("2025-03-14", "2025-04-14")

    await move(bus, proc, datetime(2025, 3, 17, 10, 0, tzinfo=SHANGHAI))
    letter = RequestVerification(
        request_id=rid("verify"), person_id=pid, insured_region="340200", claim_id=claim_id, reason="核查住院真实性"
    )
    waiting = await step(bus, "settlement.manual-claim-verify.v1", letter, "A340200")
    assert (waiting["status"], waiting["complete_on"], waiting["decide_by"]) == ("awaiting_verification", None, None)
    assert [m["document"] for m in waiting["missing"]] == ["verification_reply"]

    forged = more.model_copy(
        update={
            "request_id": rid("docs"),
            "documents": (ClaimDocument.VERIFICATION_REPLY,),
            "authentication": authentication(pid, bus),
        }
    )
    refused = await step(bus, "settlement.manual-claim-documents.v1", forged, APP, answer=REFUSED)
    assert refused["reason"] == "not_the_persons"

    await move(bus, proc, datetime(2025, 3, 20, 10, 0, tzinfo=SHANGHAI))
    reply = AddClaimDocuments(
        request_id=rid("reply"),
        person_id=pid,
        insured_region="340200",
        claim_id=claim_id,
        documents=("verification_reply",),
    )
    again = await step(bus, "settlement.manual-claim-documents.v1", reply, "A340200")
    assert (again["status"], again["complete_on"], again["decide_by"]) == ("complete", "2025-03-20", "2025-04-18")

    # the person follows it through the channel; another person sees no claim of theirs
    [seen] = mine(bus, proc, pid)["manual_claims"]
    assert (seen["claim_id"], seen["status"], seen["decide_by"]) == (claim_id, "complete", "2025-04-18")
    assert mine(bus, proc, person())["manual_claims"] == []


def mine(bus: Bus, proc: ServiceProcess, pid: str) -> dict:
    """``GET /settlement/mine`` through the app for ``pid``, opened with the app's key."""
    assert bus.client
    sealed = seal_authentication(REGISTRY, "settlement", authentication(pid, bus))
    target, headers = sign_request(
        bus.client.signer(APP), "/settlement/mine", at=bus.business_now(), authentication=sealed
    )
    status, body = proc.get(target, headers)
    assert status == 200, body
    return json.loads(bus.client.signer(APP).open_sealed(body.decode()))


async def test_S17_only_the_persons_channel_and_the_insured_agency_act_on_a_claim(claims):
    """003 §5 (三): a channel acting for someone it did not authenticate, another place's agency, and an agency
    naming the wrong insured place are refused; nothing is told."""
    bus, _ = claims
    pid, other = person(), person()
    refused = await step(
        bus,
        "settlement.manual-claim-submit.v1",
        stay(pid, bus, "invoice", auth_of=other),
        APP,
        answer="party.refused.v1",
    )
    assert (refused["reason"], refused["code"], refused["rule"]) == ("UNAUTHORIZED", "NOT_AUTHENTICATED_PERSON", "S-17")
    assert pid not in refused["message"] and other not in refused["message"]

    told = await step(bus, "settlement.manual-claim-submit.v1", stay(pid, bus, "invoice"), APP)
    letter = RequestVerification(
        request_id=rid("verify"), person_id=pid, insured_region="340200", claim_id=told["claim_id"], reason="核查"
    )
    refused = await step(bus, "settlement.manual-claim-verify.v1", letter, "A420100", answer="party.refused.v1")
    assert refused["reason"] == "UNAUTHORIZED"
    wrong_place = letter.model_copy(update={"request_id": rid("verify"), "insured_region": "420100"})
    refused = await step(bus, "settlement.manual-claim-verify.v1", wrong_place, "A420100", answer=REFUSED)
    assert refused["reason"] == "claim_not_found"


# ---------------------------------------------------------------- decided, paid, never cleared (S-17)
def line(no: int, code: str, quantity: str, price: str) -> FeeLine:
    return FeeLine(
        line_no=no,
        item_code=code,
        item_name=f"项目{no}",
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        amount=round_fen(Decimal(quantity) * Decimal(price)),
    )


# The stay's fee list (住院费用清单), 6 303.00, split by the insured place's catalogue (Anhui, 340000, sample):
BILL = [
    line(1, "120100001", "7", "40.00"),  # 三人间床位费 A, limit 40.00: 280.00 in scope
    line(2, "330801001", "1", "5000.00"),  # 支架置入术 A: 5 000.00 in scope
    line(3, "XJ01DDA001B002", "10", "30.00"),  # 头孢曲松 B 10 %: 30.00 B self-pay, 270.00 in scope
    line(4, "480000002", "1", "200.00"),  # 院内陪护 C: 200.00 self-paid
    line(5, "210300001", "1", "200.00"),  # CT B 10 %, limit 180.00: 20.00 over limit, 18.00 B, 162.00 in scope
    line(6, "311201001", "17", "19.00"),  # 静脉输液 A: 323.00 in scope
]
DIAGNOSES = [Diagnosis(code="I25.1", name="冠状动脉粥样硬化性心脏病")]


def other_temporary_filing(pid: str) -> FilingChanged:
    """The person's 其他临时外出 filing to Wuhan, in force from 2025-02-20 (before the admission: F-11)."""
    filing_id = uuid.uuid5(uuid.NAMESPACE_URL, f"manual-claim-wire:{pid}")
    recorded = datetime(2025, 2, 20, 9, 0, tzinfo=SHANGHAI)
    snapshot = FilingSnapshot(
        filing_id=filing_id,
        version=1,
        person_id=pid,
        name="测试参保人",
        insurance_type="310",
        insured_region="340200",
        treating_region="420100",
        category=FilingCategory.OTHER_TEMPORARY,
        channel=FilingChannel.WINDOW,
        status=FilingStatus.ACTIVE,
        valid_from=date(2025, 2, 20),
        valid_until=date(2025, 8, 19),
        place_since=date(2025, 2, 20),
        proofs_delivered=(ProofKind.CREDENTIAL, ProofKind.FILING_FORM),
        submitted_at=recorded,
        decided_at=recorded,
        policy_region="340200",
        change_kind=ChangeKind.REGISTERED,
        rule="F-01",
        recorded_at=recorded,
        cause=f"win-{pid}-1",
    )
    return FilingChanged(
        change_id=uuid.uuid5(filing_id, "1"),
        person_id=pid,
        filing_id=filing_id,
        version=1,
        change_kind=ChangeKind.REGISTERED,
        rule="F-01",
        snapshot=snapshot,
        occurred_at=recorded,
    )


def direct_settlement(pid: str) -> SettlementSlip:
    """The same bill settled directly (S-04..S-09) by the pure rules: split with the insured place's catalogue
    (the claim's payment scope), decided on empty accumulations of 2025 under Wuhu's policy."""
    request = DischargeSettlementRequested(
        request_id="direct-same-bill",
        person_id=pid,
        credential_type="e_voucher",
        insurance_type="310",
        insured_region="340200",
        treating_region="420100",
        institution_code="H42010200001",
        hospital_level="3",
        medical_type="inpatient",
        visit_id="direct-same-bill",
        diagnoses=DIAGNOSES,
        admission_date=date(2025, 3, 1),
        discharge_date=date(2025, 3, 8),
        fee_lines=BILL,
    )
    entitled = Entitlement(EligibilityBasis.TEMPORARY, FilingCategory.OTHER_TEMPORARY)
    assessment = treating.assess(request, entitled, load_catalogues().for_region("340200"), hospital_level="3")
    policy = load_policies().select("340200", date(2025, 3, 8))
    return insured.decide(assessment, policy, Accumulations(2025, {})).slip


async def everything(bus: Bus, topic: str) -> list[dict]:
    """Every message ``topic`` holds now, read to its end offsets (none if it was never written)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bus.stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        name = bus.prefix + topic
        if name not in await consumer.topics():
            return []
        tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or set()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        seen: list[dict] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += [wire_json(topic, r.value) for r in records]
        return seen
    finally:
        await consumer.stop()


async def test_S17_a_manual_claim_is_decided_by_the_direct_settlement_rules_paid_at_home_and_never_cleared(claims):
    """A Wuhu employee (310) with an 其他临时外出 filing to Wuhan paid a stay at H42010200001 (registry level 3)
    in full, 2025-03-01..03-08, 6 303.00, and claims at home. Told once that 诊断证明 is missing, then complete.

    The insured agency decides it (经办 keys the bill in, 复核 approves) under Wuhu's payment scope (Anhui
    catalogue) and policy. Split: in scope 280 + 5 000 + 270 + 162 + 323 = 6 035.00; B self-pay 30 + 18 = 48.00;
    over limit 20.00; self-paid 200.00. Wuhu employee inpatient, level 3: deductible 800.00 per stay, ratio 85 %
    cut by 20 points for a cross-province 其他临时外出 patient (S-09, 001 三(二)) = 65 %: pooling fund
    (6 035.00 − 800.00) × 0.65 = 3 402.75 (large-amount fund 0.00, under the 80 000 cap); personal share
    6 303.00 − 3 402.75 = 2 900.25 — to the fen what the direct settlement of the same bill gives. The person's
    2025 pooling accumulation is 3 402.75 after it. Paid 3 402.75; a payment of another amount is refused. No
    message clearing reads carries the person or the claim: the claim is paid at home (S-17)."""
    bus, proc = claims
    pid = person()
    await bus.publish("filing.changed.v1", other_temporary_filing(pid), producer="filing")
    await eventually(lambda: stored(proc, "filing_view", pid))

    told = await step(bus, "settlement.manual-claim-submit.v1", stay(pid, bus, "invoice", "inpatient_fee_list"), APP)
    assert [m["name_zh"] for m in told["missing"]] == ["诊断证明"]
    claim_id = told["claim_id"]
    more = AddClaimDocuments(
        request_id=rid("docs"),
        person_id=pid,
        insured_region="340200",
        claim_id=claim_id,
        documents=("diagnosis_certificate",),
        authentication=authentication(pid, bus),
    )
    assert (await step(bus, "settlement.manual-claim-documents.v1", more, APP))["status"] == "complete"

    decide = DecideManualClaim(
        request_id=rid("decide"),
        person_id=pid,
        insured_region="340200",
        claim_id=claim_id,
        insurance_type="310",
        diagnoses=DIAGNOSES,
        fee_lines=BILL,
    )
    refused = await step(bus, "settlement.manual-claim-decide.v1", decide, "A420100", answer="party.refused.v1")
    assert refused["reason"] == "UNAUTHORIZED"  # the insured agency's alone
    decided = await step(bus, "settlement.manual-claim-decide.v1", decide, "A340200")
    assert decided["status"] == "decided"
    decision = decided["decision"]
    assert decision["reimbursed"] and decision["catalogue_id"] == "340000"
    assert (decision["ratio_applied"], decision["rate_basis"]) == ("0.65", "other_temporary")
    slip = SettlementSlip.model_validate(decision["slip"])
    assert slip == direct_settlement(pid)
    assert (slip.in_scope, slip.deductible_applied, slip.fund_total, slip.personal_cash) == (
        Decimal("6035.00"),
        Decimal("800.00"),
        Decimal("3402.75"),
        Decimal("2900.25"),
    )
    assert "起付标准 800.00 元" in decided["note"] and "其他临时外出就医人员" in decided["note"]
    record = await stored(proc, "insured", pid)
    assert record and record["counters"]["2025"]["fund/pooling/annual"] == "3402.75"

    wrong = RecordClaimPayment(
        request_id=rid("pay"),
        person_id=pid,
        insured_region="340200",
        claim_id=claim_id,
        amount="3400.00",
        paid_on=bus.business_now().date(),
    )
    assert (await step(bus, "settlement.manual-claim-pay.v1", wrong, "A340200", answer=REFUSED))["reason"] == (
        "amount_mismatch"
    )
    pay = wrong.model_copy(update={"request_id": rid("pay"), "amount": Decimal("3402.75")})
    paid = await step(bus, "settlement.manual-claim-pay.v1", pay, "A340200")
    assert paid["status"] == "paid" and paid["payment"]["amount"] == "3402.75"
    [seen] = [c for c in mine(bus, proc, pid)["manual_claims"] if c["claim_id"] == claim_id]
    assert (seen["status"], seen["decision"]["slip"]["fund_total"]) == ("paid", "3402.75")

    await caught_up(proc)
    told_steps = [m for m in await everything(bus, CHANGED) if m["payload"]["claim_id"] == claim_id]
    assert [m["payload"]["status"] for m in told_steps][-2:] == ["decided", "paid"]  # the reader reads
    for topic in sorted(name for name, spec in ALL_TOPICS.items() if "clearing" in spec.consumers):
        for message in await everything(bus, topic):
            text = json.dumps(message, ensure_ascii=False)
            assert pid not in text and claim_id not in text, f"{topic} carries the manual claim"


async def stored(proc: ServiceProcess, collection: str, aggregate_id: str) -> dict | None:
    """One stored aggregate's state, opened (a person's lives under their pseudonym, 003 §5 (三))."""
    client, db = await proc.db()
    try:
        doc = await find_aggregate(db, collection, aggregate_id)
    finally:
        await client.close()
    return (doc or {}).get("state")
