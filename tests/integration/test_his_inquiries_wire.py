"""Before treating and before discharge, as a hospital's HIS does it over the wire (contracts.his_inquiry;
national 1101, 2206, 2301, 2303): a running settlement service, requests signed by the hospital, answers
read from ``settlement.inquiry-answered.v1`` and opened with the hospital's key.

* eligibility of a filed person, of an unfiled one at general outpatient (no filing needed, F-05) and of a
  person whose insured region's new admissions are suspended (S-20);
* a pre-settlement whose figures equal the real settlement that follows, and whose run changes nothing:
  the insured place's accumulations are as before, no settlement, assessment or fee detail is published
  (so clearing and prepayment, which count only ``settlement.completed.v1``, have nothing to count);
* an in-stay upload with a wrong line refused before discharge, naming the line;
* another hospital learns nothing: it cannot ask in the first one's name, and cannot open its answers.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

import pytest
from support import answer_to, eventually
from test_settlement_wire import (
    HOSPITAL,
    LEVEL_2,
    Wire,
    answers,
    counters,
    discharge,
    everything,
    feed,
    filing,
    find,
    header,
    line,
    mixed_bill,
    outpatient,
    person,
    stay_bill,
    wire,  # noqa: F401 — the same running settlement service, one per module
)

from contracts.his_inquiry import (
    DischargePreSettlementRequested,
    EligibilityRequested,
    InStayFeeDetail,
    OutpatientPreSettlementRequested,
)
from contracts.prepayment import PrepaymentSanction, SanctionAction, SanctionKind
from contracts.values import SHANGHAI, FilingCategory
from runtime.client import SealedForAnother, open_result
from runtime.parties import ParticipantRegistry
from runtime.query import seal_person, sign_request

pytestmark = pytest.mark.integration

ANSWERED = "settlement.inquiry-answered.v1"


async def inquire(w: Wire, topic: str, request, sender: str = HOSPITAL) -> dict:
    """Send one inquiry as ``sender`` and return its answer as the hospital opens it."""
    sent = await w.bus.publish(topic, request, producer=f"his:{sender}", sender=sender)
    mine = lambda msgs: [m["payload"] for m in msgs if m["causation_id"] == str(sent.event_id)]  # noqa: E731
    [payload] = mine(await w.bus.read(ANSWERED, lambda msgs: len(mine(msgs)) >= 1, timeout=45))
    assert payload["institution_code"] == sender and request.person_id not in json.dumps(payload)
    content = json.loads(w.bus.signer(sender).open_sealed(payload["sealed"]))
    assert (content["request_id"], content["kind"]) == (payload["request_id"], payload["kind"])
    return content


def asks(person_id: str, request_id: str, medical_type: str, on: date = date(2025, 3, 12), **o) -> EligibilityRequested:
    return EligibilityRequested(**header(person_id, request_id, medical_type, **o), on=on)


async def test_eligibility_of_a_filed_an_unfiled_outpatient_and_a_suspended_person(wire):
    filed, unfiled, suspended = person(), person(), person("430102")
    await feed(wire, filing(filed, FilingCategory.RESETTLED_RETIREE, date(2025, 1, 1)))
    yes = await inquire(wire, "his.eligibility-requested.v1", asks(filed, "EL-1", "inpatient"))
    assert (yes["eligible"], yes["basis"], yes["filing_category"], yes["filing_valid_until"]) == (
        True,
        "long_term",
        "resettled_retiree",
        None,
    ), yes
    assert yes["filing_status"] == "active" and yes["admission_suspended"] is None

    outp = await inquire(wire, "his.eligibility-requested.v1", asks(unfiled, "EL-2", "general_outpatient"))
    assert (outp["eligible"], outp["basis"], outp["rule"]) == (True, "no_filing_needed", "F-05"), outp
    stay = await inquire(wire, "his.eligibility-requested.v1", asks(unfiled, "EL-3", "inpatient"))
    assert (stay["eligible"], stay["reason_code"]) == (False, "no_filing"), stay

    await feed(wire, filing(suspended, FilingCategory.RESETTLED_RETIREE, date(2025, 1, 1), insured="430100"))
    sanction = PrepaymentSanction(
        sanction_id=uuid.uuid4(),
        insured_region="430100",
        kind=SanctionKind.ADMISSION_SUSPENSION,
        action=SanctionAction.IMPOSED,
        effective_at=datetime(2025, 3, 10, tzinfo=SHANGHAI),
        notice_ids=[uuid.uuid4()],
        reason="clearing notice unpaid 20 working days after issue (P-09)",
    )
    await wire.bus.publish("prepayment.sanction.v1", sanction, producer="prepayment")

    async def in_force() -> bool:
        doc = await find(wire.proc, "sanctions", "region-sanctions")
        return bool((doc or {}).get("state", {}).get("sanctions", {}).get("periods"))

    await eventually(in_force)
    no = await inquire(wire, "his.eligibility-requested.v1", asks(suspended, "EL-4", "inpatient", insured="430100"))
    assert (no["eligible"], no["rule"], no["reason_code"]) == (False, "S-20", "admission_suspended"), no
    assert no["admission_suspended"]["since"].startswith("2025-03-0")


async def test_a_pre_settlement_equals_the_settlement_that_follows_and_changes_nothing(wire):
    pid = person()
    await feed(wire, filing(pid, FilingCategory.RESETTLED_RETIREE, date(2025, 1, 1)))
    first = discharge(pid, "PRE-0", stay_bill(), date(2025, 3, 1), date(2025, 3, 5), visit_id="ZY-P0")
    [done] = [a for a in await answers_after(wire, "his.settlement-requested.v1", first) if a["outcome"]]
    assert done["outcome"] == "completed"
    before = await counters(wire, pid)

    stay = discharge(pid, "PRE-1", stay_bill(), date(2025, 3, 6), date(2025, 3, 11), visit_id="ZY-P1")
    pre = await inquire(
        wire, "his.discharge-pre-settlement.v1", DischargePreSettlementRequested.model_validate(stay.model_dump())
    )
    assert pre["kind"] == "pre_settlement" and pre["result"]["outcome"] == "completed", pre
    assert await counters(wire, pid) == before, "a pre-settlement consumes no deductible, no cap (S-05)"
    sid = pre["result"]["settlement_id"]
    for topic in ("settlement.completed.v1", "settlement.treating-assessed.v1", "settlement.fee-detail.v1"):
        assert not [m for m in await everything(wire.bus, topic, 1.0) if m["payload"].get("settlement_id") == sid], (
            f"a pre-settlement published {topic}: clearing or prepayment would count it"
        )
    assert pre["basis"]["accumulations"], "it says what it was computed on"

    [real] = [a for a in await answers_after(wire, "his.settlement-requested.v1", stay)]
    assert real["outcome"] == "completed" and real["settlement_id"] == sid
    assert real["slip"] == pre["result"]["slip"], "the same figures to the fen (M-01)"
    assert real == pre["result"], "the same settlement, field by field"
    assert await counters(wire, pid) != before, "the real one does count"


async def answers_after(w: Wire, topic: str, request) -> list[dict]:
    await w.bus.publish(topic, request, producer=f"his:{HOSPITAL}")
    return await answers(w, request.request_id)


async def test_an_outpatient_pre_settlement_before_any_visit_leaves_no_trace_of_the_person(wire):
    pid = person()
    bill = outpatient(pid, "PRE-OP-1", mixed_bill())
    pre = await inquire(
        wire, "his.outpatient-pre-settlement.v1", OutpatientPreSettlementRequested.model_validate(bill.model_dump())
    )
    assert pre["result"]["outcome"] == "completed" and pre["result"]["slip"]["total"] == "142.00", pre
    for collection in ("visits", "insured"):
        assert await find(wire.proc, collection, pid) is None, f"{collection} stored for a pre-settlement"


async def test_in_stay_detail_with_a_wrong_line_is_refused_before_discharge(wire):
    pid = person()
    lines = stay_bill()[:3]
    wrong = lines[2].model_copy(update={"amount": lines[2].amount + 1})
    detail = dict(**header(pid, "DET-1", "inpatient", visit_id="ZY-D1"), admission_date=date(2025, 3, 1))
    ok = await inquire(wire, "his.fee-detail-uploaded.v1", InStayFeeDetail(**detail, fee_lines=lines))
    assert ok["accepted"] and ok["totals"]["total"] == "1450.00" and len(ok["lines"]) == 3, ok
    bad = await inquire(
        wire,
        "his.fee-detail-uploaded.v1",
        InStayFeeDetail(**{**detail, "request_id": "DET-2"}, fee_lines=[*lines[:2], wrong]),
    )
    assert (bad["accepted"], bad["code"], bad["line_no"]) == (False, "INVALID_FEE_LINE", 3), bad
    unknown = line(4, "NO-SUCH-ITEM", "1", "10.00", his_class="A")
    odd = await inquire(
        wire,
        "his.fee-detail-uploaded.v1",
        InStayFeeDetail(**{**detail, "request_id": "DET-3"}, fee_lines=[*lines, unknown]),
    )
    assert (odd["code"], odd["line_no"]) == ("CATALOGUE_UNKNOWN_ITEM", 4), odd


async def test_another_hospital_learns_nothing(wire):
    pid = person()
    await feed(wire, filing(pid, FilingCategory.RESETTLED_RETIREE, date(2025, 1, 1)))
    # asking in the first hospital's name: refused for its sender, no answer about the person
    sent = await wire.bus.publish(
        "his.eligibility-requested.v1", asks(pid, "SPY-1", "inpatient"), producer=f"his:{LEVEL_2}", sender=LEVEL_2
    )
    refused = await answer_to(wire.bus, sent)
    assert (refused["reason"], refused["sender"]) == ("UNAUTHORIZED", LEVEL_2) and pid not in json.dumps(refused)
    # the first hospital's answer is sealed to it: the second cannot open it
    await inquire(wire, "his.eligibility-requested.v1", asks(pid, "OWN-1", "inpatient"))
    [payload] = [
        m["payload"] for m in await everything(wire.bus, ANSWERED, 1.0) if m["payload"]["request_id"] == "OWN-1"
    ]
    with pytest.raises(SealedForAnother):
        open_result(wire.bus.signer(LEVEL_2), {**payload, "institution_code": LEVEL_2, "outcome": None})


async def test_what_the_slip_prints_travels_and_rests_sealed(wire):
    """000 附件13 and 第八十条: the patient's name, card number, departments, the invoice number and what the
    hospital bears reach the slip; the name and the card number are in clear nowhere on the broker or in
    the database (003 §5 (三))."""
    pid, name, card = person(), "测试患者乙", "K98765432"
    await feed(wire, filing(pid, FilingCategory.RESETTLED_RETIREE, date(2025, 1, 1)))
    stay = discharge(
        pid,
        "SLIP-1",
        stay_bill(),
        date(2025, 3, 1),
        date(2025, 3, 9),
        visit_id="ZY-SLIP-1",
        patient_name=name,
        social_security_card=card,
        department="心血管内科",
        discharge_department="心血管内科",
        invoice_no="FP2025031100042",
        hospital_borne="12.00",
    )
    [done] = await answers_after(wire, "his.settlement-requested.v1", stay)
    assert done["outcome"] == "completed" and done["invoice_no"] == "FP2025031100042", done

    target, headers = sign_request(
        wire.bus.signer("A340200"),
        "/settlement/slip",
        at=wire.bus.business_now(),
        person=seal_person(ParticipantRegistry.load(wire.bus.stack.keys_dir), "settlement", pid),
        settlement=done["settlement_id"],
    )
    status, body = wire.proc.get(target, headers)
    slip = json.loads(body)
    assert status == 200, slip
    assert (
        slip["patient_name"],
        slip["social_security_card"],
        slip["discharge_department"],
        slip["invoice_no"],
        slip["hospital_borne"],
    ) == (name, card, "心血管内科", "FP2025031100042", "12.00"), slip

    raw = [
        json.dumps(m)
        for topic in ("his.settlement-requested.v1", "settlement.result.v2", "settlement.completed.v1")
        for m in await raw_records(wire, topic)
    ]
    assert raw and not [r for r in raw if name in r or card in r or pid in r], "in clear on the broker"
    client, db = await wire.proc.db()
    try:
        stored = [
            json.dumps(d, default=str, ensure_ascii=False)
            for c in ("visits", "visits_archive", "insured")
            async for d in db[c].find({})
        ]
    finally:
        await client.close()
    assert stored and not [s for s in stored if name in s or card in s], "in clear in the database"


async def raw_records(w: Wire, topic: str) -> list[str]:
    """Every record value of ``topic`` as the broker holds it (not opened)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=w.bus.stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        name = w.bus.prefix + topic
        tps = [TopicPartition(name, p) for p in (consumer.partitions_for_topic(name) or range(4))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        values: list[str] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values += [r.value.decode(errors="replace") for r in records]
        return values
    finally:
        await consumer.stop()
