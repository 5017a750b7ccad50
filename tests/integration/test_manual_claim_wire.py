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

import pytest
from support import Bus, ServiceProcess, move, new_prefix
from support import test_keys as keys_dir

from contracts.manual_claims import AddClaimDocuments, ClaimDocument, RequestVerification, SubmitManualClaim
from contracts.parties import PersonAuthentication
from contracts.values import SHANGHAI, make_person_id
from runtime.parties import ParticipantRegistry
from runtime.query import seal_authentication, sign_request

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
