"""Parties over the real wire (003 §5 (三)): every message the settlement service acts on comes from a
known party with the authority for it, and what it answers a hospital only that hospital can read.

Each refusal is checked with its reason and with nothing stored, published or paid: unsigned and
forged-key requests (dead letter ``UNAUTHENTICATED``), a hospital claiming a level it is not
registered at (S-05), one not opened for cross-region settlement, a skewed clock, an unknown
region, another hospital's cancel (S-15), and forged hops and deadlines (S-01): a hospital's are
refused by the authority table, one signed with the service's own key (the test holds the
deployment's development keys) by the content check, and a genuine deadline read early is re-armed
and has no effect. The running service and the helpers are those of ``test_settlement_wire.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from joserfc.jwk import OKPKey
from support import Bus, ServiceProcess, eventually, new_prefix
from test_settlement_wire import (
    ASSESSED,
    CANCEL,
    COMPLETED,
    DEAD,
    HOSPITAL,
    MARCH,
    OUTPATIENT,
    RESULT,
    REVERSED,
    Wire,
    answers,
    ask,
    counters,
    ecg_bill,
    everything,
    find,
    funds,
    m,
    outpatient,
    person,
    wire,
)

from contracts.his import SettlementCancelRequested
from contracts.ops import DeadlineDue
from contracts.settlement_hops import InsuredDecided
from contracts.settlement_values import SettlementSlip
from runtime.client import SealedForAnother, open_result
from runtime.envelopes import encode, envelope_for, key_for
from runtime.parties import SIGNATURE_HEADER, PrivateKeys, Signer, generate_keys
from services.outcome import stable_id
from services.settlement.domain.treating import settlement_id_for

pytestmark = pytest.mark.integration
__all__ = ["wire"]  # the running settlement service of test_settlement_wire, one per module

LEVEL_2, NOT_OPENED = "H42010200002", "H42010200009"  # Wuhan, registered level 2; level 1, never opened
REFUSED = "party.refused.v1"
TRILLION = "1000000000000.00"


# ---------------------------------------------------------------- helpers
async def dead_letter(w: Wire, event_id: uuid.UUID) -> dict:
    dead = await w.bus.read(DEAD, lambda ms: any(d.get("event_id") == str(event_id) for d in ms))
    return next(d for d in dead if d.get("event_id") == str(event_id))


async def refusals_to(bus: Bus, sender: str, topic: str, event_id: uuid.UUID | None = None) -> list[dict]:
    """What ``sender`` heard on party.refused.v1 about its messages on ``topic`` (about ``event_id``)."""

    def mine(ms: list[dict]) -> list[dict]:
        return [
            x["payload"]
            for x in ms
            if (x["payload"]["sender"], x["payload"]["topic"]) == (sender, topic)
            and (event_id is None or x["payload"]["refused_event_id"] == str(event_id))
        ]

    return mine(await bus.read(REFUSED, lambda ms: len(mine(ms)) >= 1))


async def nothing_happened(w: Wire, person_id: str, request_id: str) -> None:
    """No trace of the request: no stored visit, no assessment sent on, no result, no counters."""
    assert await find(w.proc, "visits", person_id) is None
    assert not [x for x in await everything(w.bus, ASSESSED, 1.0) if x["payload"]["request_id"] == request_id]
    assert not [x for x in await everything(w.bus, RESULT, 1.0) if x["payload"]["request_id"] == request_id]
    assert await counters(w, person_id) == {}


def trillion_slip() -> SettlementSlip:
    """A slip valid by itself (S-07 holds inside it) paying 1,000,000,000,000.00 from the pooling fund."""
    return SettlementSlip(
        total=TRILLION,
        in_scope=TRILLION,
        b_class_self_pay="0.00",
        over_limit_self_pay="0.00",
        self_paid="0.00",
        deductible_applied="0.00",
        fund_total=TRILLION,
        personal_account="0.00",
        personal_cash="0.00",
        funds=[{"code": "pooling", "name": "统筹基金", "amount": TRILLION}],
    )


# ================================================================ who sent it (UNAUTHENTICATED)
async def test_an_unsigned_request_has_no_effect(wire):
    """003 §5 (三): no signature, no party: dead-lettered UNAUTHENTICATED before it is even parsed."""
    pid = person()
    request = outpatient(pid, "UNSIGNED-1", ecg_bill("2.00"))
    env = envelope_for(OUTPATIENT, request, producer="his", now=wire.bus.business_now(), sender=HOSPITAL)
    await wire.bus.send_raw(OUTPATIENT, encode(env), key_for(OUTPATIENT, request), sign_as=None)
    letter = await dead_letter(wire, env.event_id)
    assert (letter["reason"], letter["topic"]) == ("UNAUTHENTICATED", OUTPATIENT)
    assert letter["detail"].startswith("missing_signature"), letter["detail"]
    assert wire.proc.metric("yidi_unauthenticated_total", topic=OUTPATIENT, reason="missing_signature") >= 1
    await nothing_happened(wire, pid, "UNSIGNED-1")


async def test_a_request_signed_with_a_key_not_in_the_registry_has_no_effect(wire):
    """Someone signs as H42010200001 with a key of their own making: UNAUTHENTICATED (unknown_key)."""
    pid = person()
    request = outpatient(pid, "FORGED-KEY-1", ecg_bill("2.00"))
    env = envelope_for(OUTPATIENT, request, producer="his", now=wire.bus.business_now(), sender=HOSPITAL)
    private, _ = generate_keys(HOSPITAL, "forged")
    forger = Signer(PrivateKeys(HOSPITAL, "forged", OKPKey.import_key(private["sign"])))
    value = encode(env)
    await wire.bus.producer.send_and_wait(
        wire.bus.prefix + OUTPATIENT,
        value,
        key=key_for(OUTPATIENT, request).encode(),
        headers=[(SIGNATURE_HEADER, forger.sign(value).encode())],
    )
    letter = await dead_letter(wire, env.event_id)
    assert letter["reason"] == "UNAUTHENTICATED" and letter["detail"].startswith("unknown_key"), letter
    await nothing_happened(wire, pid, "FORGED-KEY-1")


# ================================================================ what it may ask (the HIS hears why, S-19)
async def test_a_hospital_claiming_a_level_it_is_not_registered_at_is_refused(wire):
    """S-05: H42010200002 is registered at level 2; claiming level 3 (a higher ratio) is refused
    HOSPITAL_LEVEL_MISMATCH on its result topic, sealed to it, and nothing is assessed or stored."""
    pid = person()
    answer = await ask(
        wire, OUTPATIENT, outpatient(pid, "LVL-1", ecg_bill("2.00"), institution_code=LEVEL_2, hospital_level="3")
    )
    assert (answer["outcome"], answer["code"], answer["institution_code"]) == (
        "refused",
        "HOSPITAL_LEVEL_MISMATCH",
        LEVEL_2,
    ), answer
    assert answer["title_zh"] == "医院等级与登记等级不一致" and "level 2" in answer["message"]
    assert wire.proc.metric("yidi_refused_total", topic=OUTPATIENT, code="HOSPITAL_LEVEL_MISMATCH") >= 1
    await _stored_nothing(wire, pid, "LVL-1")


async def test_an_institution_not_opened_for_cross_region_settlement_is_refused(wire):
    """H42010200009 never opened 异地联网: INSTITUTION_NOT_OPENED; the patient pays and claims at home (S-17)."""
    pid = person()
    answer = await ask(
        wire, OUTPATIENT, outpatient(pid, "NOP-1", ecg_bill("2.00"), institution_code=NOT_OPENED, hospital_level="1")
    )
    assert (answer["outcome"], answer["code"], answer["institution_code"]) == (
        "refused",
        "INSTITUTION_NOT_OPENED",
        NOT_OPENED,
    ), answer
    assert answer["title_zh"] == "本机构未开通异地就医直接结算" and answer["manual_claim_possible"] is True
    await _stored_nothing(wire, pid, "NOP-1")


async def test_a_request_whose_clock_is_far_from_the_platforms_is_refused(wire):
    """The time a HIS claims is recorded but refused beyond 300 s from receipt: CLOCK_SKEW."""
    pid = person()
    sent = await wire.bus.publish(
        OUTPATIENT, outpatient(pid, "SKEW-1", ecg_bill("2.00")), now=wire.bus.business_now() - timedelta(hours=1)
    )
    flow = str(sent.correlation_id)
    heard = await wire.bus.read(RESULT, lambda ms: any(x["correlation_id"] == flow for x in ms))
    answer = wire.bus.open_result(next(x["payload"] for x in heard if x["correlation_id"] == flow))
    assert (answer["outcome"], answer["code"]) == ("refused", "CLOCK_SKEW"), answer
    assert answer["title_zh"] == "医院系统时间与平台时间相差过大" and "occurred_at" in answer["message"]
    await _stored_nothing(wire, pid, "SKEW-1")


async def test_an_unknown_region_is_refused_to_the_sender_with_nothing_stored(wire):
    """A region code outside the GB/T 2260 pooling regions (349900) fails validation (contracts.values):
    dead-lettered, and the sender hears UNKNOWN_REGION on party.refused.v1."""
    pid = person()
    env = envelope_for(
        OUTPATIENT,
        outpatient(pid, "REGION-1", ecg_bill("2.00")),
        producer="his",
        now=wire.bus.business_now(),
        sender=HOSPITAL,
    )
    raw = json.loads(encode(env))
    raw["payload"]["insured_region"] = "349900"
    await wire.bus.send_raw(OUTPATIENT, json.dumps(raw).encode(), HOSPITAL, sign_as=HOSPITAL)
    [refused] = await refusals_to(wire.bus, HOSPITAL, OUTPATIENT, env.event_id)
    assert (refused["reason"], refused["rule"], refused["service"]) == ("UNKNOWN_REGION", "S-19", "settlement")
    assert "349900" in refused["message"]
    assert (await dead_letter(wire, env.event_id))["reason"] == "invalid_message"
    await nothing_happened(wire, pid, "REGION-1")


async def _stored_nothing(w: Wire, person_id: str, request_id: str) -> None:
    """The refusal was published, nothing else: no visit stored, nothing assessed, no counters."""
    assert await find(w.proc, "visits", person_id) is None
    assert not [x for x in await everything(w.bus, ASSESSED, 1.0) if x["payload"]["request_id"] == request_id]
    assert await counters(w, person_id) == {}


# ================================================================ only its maker cancels it (S-15, S-17)
async def test_another_hospital_cannot_cancel_a_settlement_and_cannot_read_its_result(wire):
    """H42010200001 settles a 20.00 visit; H42010200002, naming itself, cancels it: NOT_YOUR_SETTLEMENT
    to H42010200002 and the settlement stands. The result of H42010200001's settlement shows no ID
    number in clear; H42010200002 cannot decrypt it, H42010200001 can (003 §5 (三))."""
    pid = person()
    sent = await wire.bus.publish(OUTPATIENT, outpatient(pid, "MINE-1", ecg_bill("2.00")))
    heard = await wire.bus.read(RESULT, lambda ms: any(x["correlation_id"] == str(sent.correlation_id) for x in ms))
    envelope = next(x for x in heard if x["correlation_id"] == str(sent.correlation_id))
    sealed = envelope["payload"]
    settled = open_result(wire.bus.signer(HOSPITAL), sealed)
    assert settled["outcome"] == "completed" and settled["person_id"] == pid
    sid = settled["settlement_id"]

    # the sealed result: routing fields in clear, the rest only for the addressed hospital
    assert set(sealed) == {"institution_code", "request_id", "outcome", "reversal_request_id", "sealed"}
    assert (sealed["institution_code"], sealed["request_id"], sealed["outcome"]) == (HOSPITAL, "MINE-1", "completed")
    assert pid not in json.dumps(envelope)  # no ID number in clear
    header = json.loads(base64.urlsafe_b64decode(sealed["sealed"].split(".")[0] + "=="))
    assert (header["alg"], header["enc"], header["kid"].split("/")[0]) == ("ECDH-ES", "A256GCM", HOSPITAL)
    with pytest.raises(Exception):
        wire.bus.signer(LEVEL_2).open_sealed(sealed["sealed"])  # not its key
    with pytest.raises(SealedForAnother):
        open_result(wire.bus.signer(LEVEL_2), {**sealed, "institution_code": LEVEL_2})  # re-addressed: still sealed
    with pytest.raises(SealedForAnother):
        open_result(wire.bus.signer(LEVEL_2), sealed)

    answer = await ask(
        wire,
        CANCEL,
        SettlementCancelRequested(request_id="THEIRS-CX-1", person_id=pid, settlement_id=sid, institution_code=LEVEL_2),
    )
    assert (answer["outcome"], answer["code"], answer["institution_code"]) == (
        "refused",
        "NOT_YOUR_SETTLEMENT",
        LEVEL_2,
    ), answer
    assert answer["title_zh"] == "非本机构的结算，不能撤销或退费" and answer["settlement_id"] == sid
    record = (await find(wire.proc, "visits", pid))["state"]["settlements"][sid]
    assert not record["reversed"] and record["reversals"] == {}
    assert not [x for x in await everything(wire.bus, REVERSED, 1.0) if x["payload"].get("settlement_id") == sid]
    assert await counters(wire, pid) == {"2025": {"deductible/general_outpatient": m("20.00")}}


# ================================================================ forged hops and deadlines (S-01, S-07)
async def test_forged_answers_and_deadlines_cannot_decide_a_pending_settlement(stack):
    """A 20.00 visit waits for the insured place (the service is stopped right after storing it, its
    assessment not yet sent). Meanwhile, on the hops only the service may use:
      * H42010200001 signs an insured answer paying 1,000,000,000,000.00 → refused by the authority table;
      * the same answer signed with the service's own key → passes the table, refused by the content
        check (it does not fit the stored assessment: total and in-scope 1e12 ≠ 20.00);
      * H42010200001 signs the request's answer deadline, already due → refused, nothing marked not settled;
      * a genuine deadline (the service's key) due in 5 minutes → read early, re-armed, no effect.
    Restarted, the service completes the visit once, with the genuine slip: deductible 20.00, pooling
    0.00, cash 20.00. When the re-armed deadline fires, nothing changes."""
    prefix = new_prefix(stack, "settle-forged")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        proc = ServiceProcess(stack, "settlement", prefix, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="90000")
        try:
            proc.start(YIDI_FAULT="crash_after_store")
            w, pid = Wire(bus, proc), person()
            await bus.publish(OUTPATIENT, outpatient(pid, "FORGE-1", ecg_bill("2.00")))
            assert await asyncio.to_thread(proc.wait_exit, 60) == 17, proc.tail()
            sid = settlement_id_for(HOSPITAL, "FORGE-1")
            assert (await find(proc, "visits", pid))["state"]["requests"][sid]["status"] == "pending"

            fake = InsuredDecided(
                settlement_id=sid,
                request_id="FORGE-1",
                person_id=pid,
                decided=True,
                slip=trillion_slip(),
                settlement_year=2025,
                ratio_applied=Decimal("1.00"),
                rate_basis="local",
            )
            await bus.publish("settlement.insured-decided.v1", fake, sender=HOSPITAL)
            await bus.publish("settlement.insured-decided.v1", fake)  # the service's key
            due = dict(kind="insured_timeout", subject=pid, ref=sid, rule="S-01")
            await bus.publish(
                "settlement.deadline-due.v1",
                DeadlineDue(
                    deadline_id=stable_id("settlement", "insured_timeout", sid), due_at=bus.business_now(), **due
                ),
                sender=HOSPITAL,
            )
            early = DeadlineDue(deadline_id=uuid.uuid4(), due_at=bus.business_now() + timedelta(minutes=5), **due)
            await bus.publish("settlement.deadline-due.v1", early)

            proc.start()
            [answer] = await answers(w, "FORGE-1")
            assert answer["outcome"] == "completed", (answer.get("code"), answer.get("message"))
            slip = answer["slip"]
            assert (m(slip["total"]), m(slip["deductible_applied"]), funds(slip), m(slip["personal_cash"])) == (
                m("20.00"),
                m("20.00"),
                [("pooling", m("0.00"))],
                m("20.00"),
            )
            for topic in ("settlement.insured-decided.v1", "settlement.deadline-due.v1"):
                [refused] = await refusals_to(bus, HOSPITAL, topic)
                assert refused["reason"] == "UNAUTHORIZED" and "only the settlement service" in refused["message"]
                assert proc.metric("yidi_refused_total", topic=topic, code="UNAUTHORIZED") == 1
            assert proc.metric("yidi_settlement_inconsistent_answers_total", hop="insured-decided", check="split") == 2
            assert proc.metric("yidi_messages_handled_total", topic="settlement.deadline-due.v1", result="early") == 1
            assert proc.metric("yidi_settlement_timeouts_total") == 0

            await bus.set_clock(bus.business_now() + timedelta(minutes=6))  # the re-armed one fires

            def fired() -> bool:
                return (
                    proc.metric("yidi_messages_handled_total", topic="settlement.deadline-due.v1", result="applied")
                    >= 1
                )

            await eventually(fired, timeout=30)
            await asyncio.sleep(1)
            assert [a["outcome"] for a in await answers(w, "FORGE-1")] == ["completed"]  # one answer, still
            assert len([x for x in await everything(bus, COMPLETED) if x["payload"]["request_id"] == "FORGE-1"]) == 1
            assert proc.metric("yidi_settlement_timeouts_total") == 0
            assert await counters(w, pid) == {"2025": {"deductible/general_outpatient": m("20.00")}}
        finally:
            proc.stop()
