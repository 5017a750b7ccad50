"""An attacker on the wire (003 §5 (三)): every forgery and every overreach of authority an outsider
can attempt against the five running services, each judged by what an outsider would see — nothing
stored, published or paid (no result or settlement.completed for it, clearing and prepayment figures
unchanged, read through the services' signed queries), the sender told with its refusal code when it
is a registry party, a dead letter with its reason otherwise — and the next valid message on the same
partition handled (no stall).

The five services run once for the module, on their own topic prefix, at 2025-03-12 09:00 (the
settlement wire tests' business time). A genuine flow is made first (a filing, a settlement and a
cancelled one, a collaboration request, a quota) and its records are captured from the wire: the
forgeries are derived from them (same person, so the same partition), and replaying them is the
probe that the partition moves on. Valid messages are only ever built by the project's own helpers
(``runtime.client``, ``runtime.envelopes``, ``runtime.parties.Signer``); the attacks mutate them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from adversarial_support import (
    DEAD,
    REFUSED,
    Seen,
    Tap,
    alg_none,
    b64url,
    header_of,
    hs256_with_public_key,
    repacked,
    with_header,
)
from joserfc.jwk import OKPKey
from pydantic import BaseModel
from support import Bus, ServiceProcess, eventually, new_prefix, wire_open
from test_filing_wire import register
from test_settlement_wire import HOSPITAL, MARCH, ecg_bill, outpatient, person

from contracts.clearing import ClearingSide, ConfirmClearingPeriod
from contracts.collab import CoInvestigationCounted, HandOverLead, LeadSubject, OpenCollabRequest, ProblemType
from contracts.envelope import Envelope
from contracts.filing import DeadlineKind, FilingChanged, FilingDeadlineDue
from contracts.his import SettlementCancelRequested
from contracts.ops import DeadlineDue
from contracts.parties import ChangeAction, ChangeParty, Institution, PublicKey
from contracts.prepayment import (
    PrepaymentSanction,
    PrepaymentScope,
    RecordFinanceSubmission,
    SanctionAction,
    SanctionKind,
    SetAnnualQuota,
)
from contracts.settlement import InsuredPersonRecorded
from contracts.settlement_hops import InsuredDecided, InsuredRollback, RefundAssessed, RefundDecided, TreatingAssessed
from runtime.clock import clock_command_set
from runtime.envelopes import parse
from runtime.parties import SIGNATURE_HEADER, ParticipantRegistry, PrivateKeys, Signer, generate_keys
from runtime.query import seal_person, sign_request
from runtime.topics import CLOCK

pytestmark = pytest.mark.integration

SERVICES = ("settlement", "filing", "clearing", "prepayment", "collab")
OUTPATIENT, CANCEL, RESULT = "his.outpatient-requested.v1", "his.cancel-requested.v1", "settlement.result.v2"
COMPLETED, REVERSED = "settlement.completed.v1", "settlement.reversed.v1"
ASSESSED, DECIDED = "settlement.treating-assessed.v1", "settlement.insured-decided.v1"
LEVEL_2, HEFEI_HOSPITAL = "H42010200002", "H34010400002"
WUHU, WUHAN = "340200", "420100"
A_WUHU, A_WUHAN, A_ANHUI, A_HUBEI, A_NATIONAL = "A340200", "A420100", "A340000", "A420000", "A000000"
QUOTA, REGISTER, OPEN = "prepayment.set-annual-quota.v1", "filing.register.v1", "collab.open-request.v1"
INSURED_PERSON = "settlement.insured-person.v1"
# what an outsider watches: the refusals, the dead letters, and everything a success would publish
WATCHED = (
    REFUSED,
    DEAD,
    RESULT,
    COMPLETED,
    REVERSED,
    ASSESSED,
    DECIDED,
    OUTPATIENT,
    CANCEL,
    "settlement.insured-rollback.v1",
    "settlement.refund-assessed.v1",
    "settlement.refund-decided.v1",
    "filing.changed.v1",
    "filing.accepted.v1",
    "filing.refused.v1",
    REGISTER,
    OPEN,
    QUOTA,
    INSURED_PERSON,
    "collab.request-opened.v1",
    "collab.lead-received.v1",
    "clearing.entry.v1",
    "prepayment.quota.v1",
    "prepayment.usage.v1",
    "prepayment.sanction.v1",
    "parties.change.v2",
    "clearing.period-confirmed.v1",
)
LEAD_SUBJECT = LeadSubject.INSURED_PERSON
EFFECTS = (
    RESULT,
    COMPLETED,
    REVERSED,
    ASSESSED,
    DECIDED,
    "settlement.insured-rollback.v1",
    "settlement.refund-assessed.v1",
    "settlement.refund-decided.v1",
    "filing.changed.v1",
    "filing.accepted.v1",
    "collab.request-opened.v1",
    "collab.lead-received.v1",
    "clearing.entry.v1",
    "prepayment.quota.v1",
    "prepayment.usage.v1",
    "clearing.period-confirmed.v1",
)


# ---------------------------------------------------------------- the running platform
@dataclass
class Platform:
    bus: Bus
    tap: Tap
    procs: dict[str, ServiceProcess]
    registry: ParticipantRegistry
    genuine: dict[str, Seen] = field(default_factory=dict)  # topic → one genuine record of it
    persons: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------ sending
    def now(self) -> datetime:
        return self.bus.business_now()

    def envelope(self, topic: str, payload: BaseModel, sender: str, **kw) -> Envelope:
        assert self.bus.client
        return self.bus.client.envelope(topic, payload, sender=sender, now=kw.pop("now", None) or self.now(), **kw)

    def wire_value(self, topic: str, env: Envelope) -> bytes:
        """The record value an adapter would send: its payload sealed to its readers (runtime.wire)."""
        assert self.bus.client
        return self.bus.client.wire_value(topic, env)

    async def send_value(self, topic: str, value: bytes, key: str, signature: str | None) -> None:
        assert self.bus.producer
        headers = [(SIGNATURE_HEADER, signature.encode())] if signature else None
        await self.bus.producer.send_and_wait(self.bus.prefix + topic, value, key=key.encode(), headers=headers)

    async def send(self, topic: str, payload: BaseModel, sender: str, **kw) -> Envelope:
        """Signed by ``sender`` with its own key, as an adapter sends (runtime.client)."""
        return await self.bus.publish(topic, payload, sender=sender, now=kw.pop("now", None) or self.now(), **kw)

    async def replay(self, seen: Seen) -> None:
        """The captured record, byte for byte, with its signature and key."""
        assert self.bus.producer
        r = seen.record
        await self.bus.producer.send_and_wait(
            self.bus.prefix + seen.topic, r.value, key=r.key, headers=list(r.headers or ())
        )

    # ------------------------------------------------ what an outsider sees
    def handled(self, topic: str, service: str | None = None) -> float:
        names = [service] if service else consumers(topic)
        return sum(self.procs[n].metric("yidi_messages_handled_total", topic=topic) for n in names)

    def effects(self) -> dict[str, int]:
        return {t: self.tap.mark(t) for t in EFFECTS}

    async def told(self, sender: str, topic: str, event_id: uuid.UUID, since: int, n: int = 1) -> list[dict]:
        """The refusals ``sender`` heard about its message (one per consuming service)."""

        def mine(s: Seen) -> bool:
            p = s.payload
            return (p.get("refused_event_id"), p.get("sender"), p.get("topic")) == (str(event_id), sender, topic)

        await self.tap.wait(REFUSED, mine, since=since)
        if n > 1:
            await eventually(lambda: len(self.tap.all(REFUSED, mine, since)) >= n)
        answers = [s for s in self.tap.all(REFUSED, mine, since)]
        for answer in answers:
            assert answer.value["sender"] == answer.payload["service"], "signed by the service that refused it"
        return [s.payload for s in answers]

    async def dead_letter(self, topic: str, event_id: uuid.UUID, since: int) -> dict:
        found = await self.tap.wait(
            DEAD,
            lambda s: (s.value or {}).get("event_id") == str(event_id) and s.value.get("topic") == topic,
            since=since,
        )
        return found.value

    async def unchanged(self, before: dict[str, int], sent: Envelope, settle: float = 0.7) -> None:
        """Nothing a success would publish appeared in the flow of ``sent`` (its correlation id, or
        caused by it); in-flight records are given a moment to arrive."""
        await self.tap.quiet(settle)

        def of_it(s: Seen) -> bool:
            v = s.value if isinstance(s.value, dict) else {}
            if v.get("event_id") == str(sent.event_id):
                return False  # the message itself, read back from its own topic
            return str(sent.event_id) in (v.get("correlation_id"), v.get("causation_id"), v.get("event_id")) or v.get(
                "correlation_id"
            ) == str(sent.correlation_id)

        def new(t: str) -> list[str]:  # a republished copy (an id seen before) is no second effect
            known = {(s.value or {}).get("event_id") for s in self.tap.seen[t][: before[t]]}
            return [
                s.value.get("type") for s in self.tap.all(t, of_it, before[t]) if s.value.get("event_id") not in known
            ]

        grew = {t: new(t) for t in before}
        grew = {t: types for t, types in grew.items() if types}
        assert not grew, f"published by a message that should have had no effect: {grew}"

    def answered(self, topic: str) -> float:
        """Messages on ``topic`` its consumers have finished with: handled, or answered with a refusal."""
        return sum(
            self.procs[n].metric("yidi_messages_handled_total", topic=topic)
            + self.procs[n].metric("yidi_refused_total", topic=topic)
            for n in consumers(topic)
        )

    async def next_is_handled(self, topic: str, probe, service: str | None = None) -> None:
        """The next valid message on the same partition is handled (no stall): ``probe`` sends it (a
        rightful sender's command a business rule refuses is handled too: it was read and decided)."""
        before = self.answered(topic)
        await probe()
        await eventually(lambda: self.answered(topic) > before, timeout=30)

    # ------------------------------------------------ the signed queries
    def query(self, service: str, path: str, sender: str = A_WUHU, **params: str) -> tuple[int, dict]:
        assert self.bus.client
        target, headers = sign_request(self.bus.client.signer(sender), path, at=self.now(), **params)
        status, body = self.procs[service].get(target, headers)
        return status, json.loads(body) if body[:1] in (b"{", b"[") else {}

    def figures(self) -> dict:
        """What clearing and prepayment show Wuhu of its money (its periods, its account)."""
        return _without_as_of(
            {
                "clearing": self.query("clearing", "/clearing/periods", region=WUHU),
                "prepayment": self.query(
                    "prepayment", "/prepayment/account", region=WUHU, scope=PrepaymentScope.CROSS_PROVINCE.value
                ),
            }
        )


def _without_as_of(answer):
    """An answer without the moment it was given (``as_of``), so two answers compare by their figures."""
    if isinstance(answer, dict):
        return {k: _without_as_of(v) for k, v in answer.items() if k != "as_of"}
    if isinstance(answer, (list, tuple)):
        return [_without_as_of(v) for v in answer]
    return answer


def consumers(topic: str) -> list[str]:
    from contracts.registry import ALL_TOPICS

    return [c for c in ALL_TOPICS[topic].consumers if c in SERVICES]


@pytest.fixture(scope="module")
async def platform(stack):
    prefix = new_prefix(stack, "adv-forge")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        procs = {
            name: ServiceProcess(stack, name, prefix, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="20000").start(wait=False)
            for name in SERVICES
        }
        tap = await Tap(stack, prefix, WATCHED).start()
        try:
            for proc in procs.values():
                await asyncio.to_thread(proc.wait_healthy)
            p = Platform(bus, tap, procs, ParticipantRegistry.load(stack.keys_dir))
            await genuine_flow(p)
            yield p
        finally:
            await tap.stop()
            for proc in procs.values():
                proc.stop()


async def genuine_flow(p: Platform) -> None:
    """What honest parties do first; its records are the material of the attacks."""
    pid, cancelled = person(), person()
    p.persons.update(settled=pid, cancelled=cancelled, filed=person(WUHAN), other=person())
    await p.send(OUTPATIENT, outpatient(pid, "ADV-GEN-1", ecg_bill("2.00")), HOSPITAL)
    await p.send(OUTPATIENT, outpatient(cancelled, "ADV-GEN-2", ecg_bill("3.00")), HOSPITAL)
    done = await p.tap.wait(COMPLETED, lambda s: s.payload.get("request_id") == "ADV-GEN-2", timeout=60)
    await p.send(
        CANCEL,
        SettlementCancelRequested(
            request_id="ADV-GEN-2-CX",
            person_id=cancelled,
            settlement_id=done.payload["settlement_id"],
            institution_code=HOSPITAL,
        ),
        HOSPITAL,
    )
    await p.send(REGISTER, register(p.persons["filed"], start=MARCH.date()), A_WUHAN)
    await p.send(OPEN, open_request(p, "ADV-GEN-OPEN"), A_WUHU)
    await p.send(QUOTA, quota(p), A_ANHUI)
    await p.send(
        INSURED_PERSON,
        InsuredPersonRecorded(person_id=pid, insured_region=WUHU, personal_account_balance="0.00", recorded_at=p.now()),
        A_WUHU,
    )
    firsts = {
        COMPLETED: lambda s: s.payload.get("request_id") == "ADV-GEN-1",
        ASSESSED: lambda s: s.payload.get("request_id") == "ADV-GEN-1",
        DECIDED: lambda s: s.payload.get("request_id") == "ADV-GEN-1",
        OUTPATIENT: lambda s: s.payload.get("request_id") == "ADV-GEN-1",
        REVERSED: lambda s: True,
        CANCEL: lambda s: True,
        "filing.changed.v1": lambda s: True,
        REGISTER: lambda s: True,
        OPEN: lambda s: True,
        QUOTA: lambda s: True,
        INSURED_PERSON: lambda s: True,
    }
    for topic, where in firsts.items():
        p.genuine[topic] = await p.tap.wait(topic, where, timeout=60)
    await p.tap.wait("collab.request-opened.v1", lambda s: True)
    await p.tap.wait("prepayment.quota.v1", lambda s: True)
    await p.tap.wait("filing.accepted.v1", lambda s: True)
    await p.tap.wait("clearing.entry.v1", lambda s: True)
    await eventually(lambda: p.handled(INSURED_PERSON) >= 1)


def open_request(p: Platform, ref: str, requester: str = WUHU, target: str = WUHAN) -> OpenCollabRequest:
    return OpenCollabRequest(
        request_ref=ref,
        requester_region=requester,
        target_region=target,
        matter="参保人备案信息两地不一致",
        problem_type=ProblemType.FILING,
        opened_at=p.now(),
    )


def quota(p: Platform, region: str = WUHU) -> SetAnnualQuota:
    return SetAnnualQuota(
        insured_region=region,
        scope=PrepaymentScope.CROSS_PROVINCE,
        year=2025,
        last_year_quota="0.00",
        last_year_monthly_funds={10: "5000.00", 11: "5000.00", 12: "5000.00"},
        issued_at=p.now(),
    )


def genuine_payload(p: Platform, topic: str) -> BaseModel:
    return parse(topic, wire_open(topic, p.genuine[topic].record.value)).payload


async def a_valid_request_completes(p: Platform, label: str) -> None:
    """The probe on the hospital's partition: a new request of H42010200001 is answered completed."""
    ref = f"{label}-{uuid.uuid4().hex[:6]}"
    counted = p.handled(COMPLETED, "prepayment")
    sent = await p.send(OUTPATIENT, outpatient(person(), ref, ecg_bill("1.00")), HOSPITAL)
    done = await p.tap.wait(RESULT, lambda s: s.payload.get("request_id") == ref, timeout=60)
    assert p.bus.open_result(done.payload)["outcome"] == "completed"
    # its money has reached clearing and prepayment before the next case reads their figures
    await p.tap.wait("clearing.entry.v1", lambda s: s.value.get("correlation_id") == str(sent.correlation_id))
    await eventually(lambda: p.handled(COMPLETED, "prepayment") > counted)


# ================================================================ who signed it (UNAUTHENTICATED)
def _foreign_signer(code: str, kid: str) -> Signer:
    private, _ = generate_keys(code, kid)
    return Signer(PrivateKeys(code, kid, OKPKey.import_key(private["sign"])))


def _sig_unsigned(p, value):
    return None


def _sig_garbage(p, value):
    return "this is not a JWS"


def _sig_two_parts(p, value):
    return ".".join(p.bus.signer(HOSPITAL).sign(value).split(".")[::2])


def _sig_none(p, value):
    return alg_none(f"{HOSPITAL}/dev-1", value)


def _sig_hs256(p, value):
    return hs256_with_public_key(p.registry, f"{HOSPITAL}/dev-1", value)


def _sig_embedded_jwk(p, value):
    """A key of the attacker's own making carried in the header (``jwk``), as if it were the hospital's."""
    forger = _foreign_signer(HOSPITAL, "dev-1")
    public = {k: v for k, v in forger.keys.sign.as_dict(private=False).items() if k in ("kty", "crv", "x")}
    header = {"alg": "Ed25519", "kid": f"{HOSPITAL}/dev-1", "jwk": public}
    return with_header(forger, header, value)


def _sig_unknown_kid(p, value):
    return _foreign_signer(HOSPITAL, "2031-01").sign(value)


def _sig_unknown_sender(p, value):
    return _foreign_signer("H99999999999", "dev-1").sign(value)


def _sig_own_key_same_kid(p, value):
    return _foreign_signer(HOSPITAL, "dev-1").sign(value)


def _sig_kid_without_key(p, value):
    token = p.bus.signer(HOSPITAL).sign(value)
    header = json.dumps({"alg": "Ed25519", "kid": HOSPITAL}).encode()
    return f"{b64url(header)}.{token.split('.', 1)[1]}"


def _sig_other_bytes(p, value):
    return p.bus.signer(HOSPITAL).sign(value + b" ")


def _sig_signer_is_another_party(p, value):
    return p.bus.signer(LEVEL_2).sign(value)


def _sig_repacked(p, value):
    """A genuine request's signature, captured from the wire, re-packed over its own bytes."""
    captured = p.genuine[OUTPATIENT].record
    return repacked(header_of(captured) or "", captured.value)


SIGNATURE_CASES = {
    "unsigned": (_sig_unsigned, "missing_signature"),
    "garbage_signature": (_sig_garbage, "malformed_signature"),
    "truncated_jws": (_sig_two_parts, "malformed_signature"),
    "alg_none": (_sig_none, "malformed_signature"),  # no signature segment at all
    "alg_hs256_keyed_with_the_public_key": (_sig_hs256, "alg_not_allowed"),
    "an_attacker_key_embedded_in_the_header": (_sig_embedded_jwk, "header_not_allowed"),
    "kid_without_key_id": (_sig_kid_without_key, "malformed_kid"),
    "unknown_kid": (_sig_unknown_kid, "unknown_key"),
    "unknown_sender": (_sig_unknown_sender, "unknown_sender"),
    "forged_key_under_the_real_kid": (_sig_own_key_same_kid, "bad_signature"),
    "signature_over_other_bytes": (_sig_other_bytes, "bad_signature"),
    "sender_is_not_the_signer": (_sig_signer_is_another_party, "sender_mismatch"),
    "repacked_captured_signature": (_sig_repacked, None),
}


@pytest.mark.parametrize("case", list(SIGNATURE_CASES))
async def test_a_request_not_signed_by_its_sender_has_no_effect(platform, case):
    """Each kind of signature an attacker can make without H42010200001's private key, on a request
    naming H42010200001: dead-lettered UNAUTHENTICATED with the reason, counted, nothing stored or
    answered; the hospital's next genuine request (same partition) completes."""
    p = platform
    make, reason = SIGNATURE_CASES[case]
    pid, ref = person(), f"SIG-{case}"[:60]
    env = p.envelope(OUTPATIENT, outpatient(pid, ref, ecg_bill("2.00")), HOSPITAL)
    value = p.wire_value(OUTPATIENT, env)  # sealed to settlement, as an adapter sends it
    before, dead_mark = p.effects(), p.tap.mark(DEAD)
    await p.send_value(OUTPATIENT, value, HOSPITAL, make(p, value))
    letter = await p.dead_letter(OUTPATIENT, env.event_id, dead_mark)
    assert letter["reason"] == "UNAUTHENTICATED", letter
    if reason:
        assert letter["detail"].startswith(reason), letter["detail"]
    await p.unchanged(before, env)
    await a_valid_request_completes(p, f"after-{case}")


async def test_a_key_past_its_valid_until_is_refused(platform):
    """H34010400002 retires its key (valid_until in the past, published by the national agency):
    a request it signs with that key afterwards is UNAUTHENTICATED (key_not_valid)."""
    p = platform
    party = p.registry.get(HEFEI_HOSPITAL)
    assert isinstance(party, Institution)
    retired = tuple(
        k.model_copy(update={"valid_until": p.now() - timedelta(days=1)}) if k.use.value == "sig" else k
        for k in party.keys
    )
    change = ChangeParty(
        change_id="retire-hefei-2",
        action=ChangeAction.UPSERT,
        version=1,
        party=party.model_copy(update={"keys": retired}),
    )
    await p.send("parties.change.v2", change, A_NATIONAL)
    await eventually(lambda: p.procs["settlement"].metric("yidi_registry_parties") >= 1)
    await asyncio.sleep(1.5)  # the follower polls the registry topic every 0.5 s
    env = p.envelope(
        OUTPATIENT,
        outpatient(
            person(), "SIG-RETIRED", ecg_bill("2.00"), institution_code=HEFEI_HOSPITAL, treating_region="340100"
        ),
        HEFEI_HOSPITAL,
    )
    value, dead_mark, before = p.wire_value(OUTPATIENT, env), p.tap.mark(DEAD), p.effects()
    await p.send_value(OUTPATIENT, value, HOSPITAL, p.bus.signer(HEFEI_HOSPITAL).sign(value))
    letter = await p.dead_letter(OUTPATIENT, env.event_id, dead_mark)
    assert (letter["reason"], letter["detail"].split(":")[0]) == ("UNAUTHENTICATED", "key_not_valid"), letter
    await p.unchanged(before, env)
    await a_valid_request_completes(p, "after-retired-key")


# ================================================================ replays (same event id: no second effect)
REPLAYED = {
    OUTPATIENT: ("settlement", (RESULT, COMPLETED, ASSESSED, DECIDED)),
    CANCEL: ("settlement", (RESULT, REVERSED)),
    ASSESSED: ("settlement", (DECIDED,)),
    DECIDED: ("settlement", (RESULT, COMPLETED)),
    COMPLETED: (None, ("clearing.entry.v1", "prepayment.usage.v1")),
    REVERSED: (None, ("clearing.entry.v1", "prepayment.usage.v1")),
    "filing.changed.v1": ("settlement", ()),
    REGISTER: ("filing", ("filing.accepted.v1", "filing.changed.v1")),
    OPEN: ("collab", ("collab.request-opened.v1",)),
    QUOTA: ("prepayment", ("prepayment.quota.v1",)),
    INSURED_PERSON: ("settlement", ()),
}


@pytest.mark.parametrize("topic", list(REPLAYED))
async def test_a_replayed_message_has_no_second_effect(platform, topic):
    """The genuine record, captured and sent again byte for byte (its signature still valid): taken as
    the copy it is — nothing published again, the money figures unchanged, counted as a duplicate."""
    p = platform
    service, effects = REPLAYED[topic]
    figures, before = p.figures(), p.effects()
    names = [service] if service else consumers(topic)
    handled = {n: p.handled(topic, n) for n in names}
    await p.replay(p.genuine[topic])
    await eventually(lambda: all(p.handled(topic, n) > handled[n] for n in names), timeout=30)
    await p.unchanged(before, parse(topic, wire_open(topic, p.genuine[topic].record.value)))
    assert p.figures() == figures
    assert effects == () or all(t in EFFECTS for t in effects)


async def test_a_registry_change_replayed_after_a_removal_does_not_restore_the_party(platform):
    """The national agency adds A340300 (蚌埠), then removes it. The captured add, replayed byte for
    byte, must not bring it back: its commands stay UNAUTHENTICATED (unknown_sender)."""
    p = platform
    from contracts.parties import Agency, AgencyLevel

    code = "A340300"
    private, public = generate_keys(code, "k1")
    assert p.bus.client
    p.bus.client._signers[code] = Signer(PrivateKeys(code, "k1", OKPKey.import_key(private["sign"])))
    entry = Agency(
        code=code,
        name="蚌埠市医疗保障事业管理中心",
        region="340300",
        level=AgencyLevel.CITY,
        parent=A_ANHUI,
        keys=tuple(PublicKey.model_validate(k) for k in public),
    )
    collab = p.procs["collab"]
    known = collab.metric("yidi_registry_parties")
    mark = p.tap.mark("parties.change.v2")
    await p.send(
        "parties.change.v2",
        ChangeParty(change_id="add-bengbu", action=ChangeAction.UPSERT, version=1, party=entry),
        A_NATIONAL,
    )
    await eventually(lambda: collab.metric("yidi_registry_parties") == known + 1)
    added = await p.tap.wait("parties.change.v2", lambda s: s.payload.get("change_id") == "add-bengbu", since=mark)
    await p.send(
        "parties.change.v2",
        ChangeParty(change_id="remove-bengbu", action=ChangeAction.REMOVE, version=2, code=code),
        A_NATIONAL,
    )
    await eventually(lambda: collab.metric("yidi_registry_parties") == known)

    await p.replay(added)
    await p.tap.wait("parties.change.v2", lambda s: s.record.value == added.record.value, since=mark + 2)
    dead_mark = p.tap.mark(DEAD)
    sent = await p.send(
        OPEN,
        OpenCollabRequest(
            request_ref="BENGBU-AFTER-REPLAY",
            requester_region="340300",
            target_region=WUHAN,
            matter="备案信息查询",
            problem_type=ProblemType.OTHER,
            opened_at=p.now(),
        ),
        code,
    )
    letter = await p.dead_letter(OPEN, sent.event_id, dead_mark)
    assert (letter["reason"], letter["detail"].split(":")[0]) == ("UNAUTHENTICATED", "unknown_sender"), letter
    assert collab.metric("yidi_registry_parties") == known
    await p.next_is_handled(OPEN, lambda: p.send(OPEN, open_request(p, f"after-replay-{uuid.uuid4().hex[:6]}"), A_WUHU))


# ================================================================ internal hops and deadlines forged
def _hop_payloads(p: Platform) -> dict[str, BaseModel]:
    """A valid payload for every topic only a service may send, about persons of the genuine flow."""
    assessed: TreatingAssessed = genuine_payload(p, ASSESSED)  # type: ignore[assignment]
    decided: InsuredDecided = genuine_payload(p, DECIDED)  # type: ignore[assignment]
    other = p.persons["other"]
    now = p.now()

    def due(subject: str) -> DeadlineDue:
        return DeadlineDue(deadline_id=uuid.uuid4(), kind="forged", subject=subject, ref="", due_at=now, rule="S-01")

    filed = genuine_payload(p, "filing.changed.v1")
    assert isinstance(filed, FilingChanged)
    return {
        ASSESSED: assessed,
        DECIDED: decided,
        "settlement.insured-rollback.v1": InsuredRollback(
            settlement_id=decided.settlement_id, person_id=decided.person_id, reason="forged rollback"
        ),
        "settlement.refund-assessed.v1": RefundAssessed(
            reversal_id="R-FORGED",
            settlement_id=decided.settlement_id,
            person_id=decided.person_id,
            line_nos=[1],
            assessment=assessed,
        ),
        "settlement.refund-decided.v1": RefundDecided(
            reversal_id="R-FORGED", settlement_id=decided.settlement_id, person_id=decided.person_id, decision=decided
        ),
        COMPLETED: genuine_payload(p, COMPLETED),
        REVERSED: genuine_payload(p, REVERSED),
        "filing.changed.v1": filed,
        "prepayment.sanction.v1": PrepaymentSanction(
            sanction_id=uuid.uuid4(),
            insured_region=WUHU,
            kind=SanctionKind.ADMISSION_SUSPENSION,
            action=SanctionAction.IMPOSED,
            effective_at=now,
            notice_ids=[uuid.uuid4()],
            reason="forged",
        ),
        "collab.coinvestigation-counted.v1": CoInvestigationCounted(
            request_id=uuid.uuid4(), period="2025-03", insured_region=WUHU, treating_region=WUHAN, kind="opened", at=now
        ),
        "settlement.deadline-due.v1": due(other),
        "filing.deadline-due.v1": FilingDeadlineDue(
            deadline_id=uuid.uuid4(),
            person_id=filed.person_id,
            filing_id=filed.filing_id,
            kind=DeadlineKind.COMMITMENT_DUE,
            due_at=now,
            due_date=now.date(),
            calendar="CN-2025",
            scheduled_by=str(uuid.uuid4()),
        ),
        "clearing.deadline-due.v1": due(WUHU),
        "prepayment.deadline-due.v1": due(WUHU),
        "collab.deadline-due.v1": due(WUHU),
    }


HOPS = (
    "settlement.treating-assessed.v1",
    "settlement.insured-decided.v1",
    "settlement.insured-rollback.v1",
    "settlement.refund-assessed.v1",
    "settlement.refund-decided.v1",
    "settlement.completed.v1",
    "settlement.reversed.v1",
    "filing.changed.v1",
    "prepayment.sanction.v1",
    "collab.coinvestigation-counted.v1",
    "settlement.deadline-due.v1",
    "filing.deadline-due.v1",
    "clearing.deadline-due.v1",
    "prepayment.deadline-due.v1",
    "collab.deadline-due.v1",
)


def _probe_for(p: Platform, topic: str, payload: BaseModel):
    """The next valid message on the forged one's partition: the genuine record replayed where the
    flow made one (a copy, handled as such), else the same payload sent by the service itself, a
    deadline dated tomorrow (read early: armed again, no effect)."""
    from contracts.registry import ALL_TOPICS

    if topic in p.genuine:
        return lambda: p.replay(p.genuine[topic])
    owner = ALL_TOPICS[topic].producer
    if isinstance(payload, DeadlineDue):
        payload = payload.model_copy(update={"due_at": p.now() + timedelta(days=1), "deadline_id": uuid.uuid4()})
    if isinstance(payload, FilingDeadlineDue):
        payload = payload.model_copy(update={"deadline_id": uuid.uuid4()})
    if isinstance(payload, PrepaymentSanction):
        payload = payload.model_copy(update={"action": SanctionAction.LIFTED})
    return lambda: p.send(topic, payload, owner)


@pytest.mark.parametrize("forger", [HOSPITAL, A_WUHU])
@pytest.mark.parametrize("topic", HOPS)
async def test_a_hop_or_deadline_only_a_service_may_send_is_refused_when_forged(platform, topic, forger):
    """A hospital or an agency, signing with its own genuine key, sends what only a service sends:
    every consuming service answers it UNAUTHORIZED on party.refused.v1, nothing is published and no
    money moves; the partition's next valid message is handled."""
    p = platform
    payload = _hop_payloads(p)[topic]
    figures, before, mark = p.figures(), p.effects(), p.tap.mark(REFUSED)
    sent = await p.send(topic, payload, forger)
    answers = await p.told(forger, topic, sent.event_id, mark, n=len(consumers(topic)))
    assert sorted(a["service"] for a in answers) == sorted(consumers(topic)), answers
    assert {a["reason"] for a in answers} == {"UNAUTHORIZED"}, answers
    await p.unchanged(before, sent)
    assert p.figures() == figures
    await p.next_is_handled(topic, _probe_for(p, topic, payload))


# ================================================================ agencies and institutions overreaching
def _agency_commands(p: Platform) -> dict[str, tuple[str, BaseModel]]:
    now = p.now()
    return {
        "filing_register_by_another_regions_city": (
            REGISTER,
            register(person(WUHU), insured=WUHU, treating="110000", start=MARCH.date()),
        ),
        "quota_set_by_the_region_itself": (QUOTA, quota(p)),
        "finance_submission_for_another_region": (
            "prepayment.record-submission.v1",
            RecordFinanceSubmission(
                insured_region=WUHU, scope=PrepaymentScope.CROSS_PROVINCE, notice_id=uuid.uuid4(), submitted_at=now
            ),
        ),
        "collab_request_in_another_regions_name": (OPEN, open_request(p, f"FORGED-{uuid.uuid4().hex[:6]}")),
        "lead_handed_over_for_another_region": (
            "collab.hand-over-lead.v1",
            HandOverLead(
                lead_ref=f"L-{uuid.uuid4().hex[:6]}",
                insured_region=WUHU,
                treating_region=WUHAN,
                subject=LEAD_SUBJECT,
                person_id=person(),
                description="疑似虚假住院",
                handed_over_at=now,
            ),
        ),
        "insured_person_of_another_region": (
            INSURED_PERSON,
            InsuredPersonRecorded(
                person_id=p.persons["other"], insured_region=WUHU, personal_account_balance="99999.00", recorded_at=now
            ),
        ),
        "clearing_side_of_another_region": (
            "clearing.confirm-period.v1",
            ConfirmClearingPeriod(
                clearing_month="2025-04",
                insured_region=WUHU,
                treating_region=WUHAN,
                side=ClearingSide.INSURED,
                confirmed_at=now,
            ),
        ),
    }


AGENCY_CASES = [
    (case, sender)
    for case in (
        "filing_register_by_another_regions_city",
        "quota_set_by_the_region_itself",
        "finance_submission_for_another_region",
        "collab_request_in_another_regions_name",
        "lead_handed_over_for_another_region",
        "insured_person_of_another_region",
        "clearing_side_of_another_region",
    )
    for sender in (A_WUHAN, A_HUBEI, HOSPITAL)
]
# quota_set_by_the_region_itself: the keeper is the level above (A340000); Wuhu itself is refused as well
AGENCY_CASES.append(("quota_set_by_the_region_itself", A_WUHU))


@pytest.mark.parametrize("case,sender", AGENCY_CASES)
async def test_an_agency_command_from_a_party_that_does_not_speak_for_the_region_is_refused(platform, case, sender):
    """Another region's city (Wuhan A420100), a province for another province (Hubei A420000 for
    Wuhu), an institution (H42010200001) — each signing with its own key — sending Wuhu's commands:
    UNAUTHORIZED to the sender, nothing stored or published, the figures unchanged, and the partition's
    next valid command handled."""
    p = platform
    topic, payload = _agency_commands(p)[case]
    figures, before, mark = p.figures(), p.effects(), p.tap.mark(REFUSED)
    sent = await p.send(topic, payload, sender)
    [answer] = await p.told(sender, topic, sent.event_id, mark)
    assert answer["reason"] == "UNAUTHORIZED", answer
    await p.unchanged(before, sent)
    assert p.figures() == figures
    rightful = {REGISTER: A_WUHU, QUOTA: A_ANHUI}.get(topic, A_WUHU)
    if topic in p.genuine:
        await p.next_is_handled(topic, lambda: p.replay(p.genuine[topic]))
    else:
        await p.next_is_handled(topic, lambda: p.send(topic, payload, rightful))


async def test_an_agency_sending_a_hospital_command_is_refused(platform):
    """Wuhan's agency signs a settlement request naming H42010200001: not the institution → refused,
    no settlement."""
    p = platform
    before, mark = p.effects(), p.tap.mark(REFUSED)
    request = outpatient(person(), "AGENCY-AS-HIS", ecg_bill("2.00"))
    sent = await p.send(OUTPATIENT, request, A_WUHAN)

    [answer] = await p.told(A_WUHAN, OUTPATIENT, sent.event_id, mark)
    assert answer["reason"] == "UNAUTHORIZED", answer
    await p.unchanged(before, sent)
    await a_valid_request_completes(p, "after-agency-as-his")


# ================================================================ signed queries
def _q_unsigned(p, target, headers):
    return target, {}


def _q_forged_key(p, target, headers):
    return target, _foreign_signer(A_WUHU, "dev-1").headers(target.encode())


def _q_alg_none(p, target, headers):
    return target, {SIGNATURE_HEADER: alg_none(f"{A_WUHU}/dev-1", target.encode())}


def _q_expired(p, target, headers):
    assert p.bus.client
    return sign_request(
        p.bus.client.signer(A_WUHU),
        "/prepayment/account",
        at=p.now() - timedelta(hours=1),
        region=WUHU,
        scope="cross_province",
    )


def _q_future(p, target, headers):
    assert p.bus.client
    return sign_request(
        p.bus.client.signer(A_WUHU),
        "/prepayment/account",
        at=p.now() + timedelta(hours=1),
        region=WUHU,
        scope="cross_province",
    )


def _q_replayed_later(p, target, headers):
    """A request captured 10 minutes ago (``at`` then), sent again now."""
    assert p.bus.client
    return sign_request(
        p.bus.client.signer(A_WUHU),
        "/prepayment/account",
        at=p.now() - timedelta(minutes=10),
        region=WUHU,
        scope="cross_province",
    )


def _q_retargeted(p, target, headers):
    """A valid signature of one query (Wuhu's account) sent with another region's query."""
    return target.replace(f"region={WUHU}", "region=420100"), headers


def _q_repacked(p, target, headers):
    """The signature of a captured query of Wuhu's usage, re-packed over its own target, on another query."""
    assert p.bus.client
    other, other_headers = sign_request(
        p.bus.client.signer(A_WUHU), "/prepayment/usage", at=p.now(), region=WUHU, scope="cross_province", year="2025"
    )
    return target, {SIGNATURE_HEADER: repacked(other_headers[SIGNATURE_HEADER], other.encode())}


QUERY_CASES = {
    "unsigned": _q_unsigned,
    "forged_key": _q_forged_key,
    "alg_none": _q_alg_none,
    "expired_at": _q_expired,
    "future_at": _q_future,
    "replayed_after_the_skew": _q_replayed_later,
    "signature_of_another_query": _q_retargeted,
    "repacked_signature_of_another_query": _q_repacked,
}


@pytest.mark.parametrize("case", list(QUERY_CASES))
async def test_a_signed_query_with_a_forged_stale_or_borrowed_signature_is_401(platform, case):
    """Prepayment's account of Wuhu, asked with every kind of bad signature: 401, counted; the same
    query signed properly right after is answered 200."""
    p = platform
    assert p.bus.client
    target, headers = sign_request(
        p.bus.client.signer(A_WUHU), "/prepayment/account", at=p.now(), region=WUHU, scope="cross_province"
    )
    bad_target, bad_headers = QUERY_CASES[case](p, target, headers)
    status, body = p.procs["prepayment"].get(bad_target, bad_headers)
    assert status == 401, (status, body[:300])
    assert b"quota" not in body and b"balance" not in body
    assert p.query("prepayment", "/prepayment/account", region=WUHU, scope="cross_province")[0] == 200


async def test_a_query_for_a_person_sealed_to_another_service_is_not_opened(platform):
    """The person parameter sealed to the filing service, sent to settlement: 400, nothing told."""
    p = platform
    assert p.bus.client
    sealed = seal_person(p.registry, "filing", p.persons["settled"])
    target, headers = sign_request(
        p.bus.client.signer(A_WUHU), "/settlement/accumulations", at=p.now(), person=sealed, year="2025"
    )
    status, body = p.procs["settlement"].get(target, headers)
    assert status == 400 and p.persons["settled"] not in body.decode()


# ================================================================ the clock (last: a hole here moves time)
async def test_an_unsigned_clock_record_does_not_move_business_time(platform):
    """Anyone who can write ``ops.clock.v1`` without a signature must not move the business clock
    (2099 would expire every deadline and refuse every request as CLOCK_SKEW)."""
    p = platform
    assert p.bus.producer
    before = {name: proc.business_time() for name, proc in p.procs.items()}
    await p.bus.producer.send_and_wait(
        p.bus.prefix + CLOCK, clock_command_set(datetime(2099, 1, 1, tzinfo=UTC)), partition=0
    )
    try:
        # the followers poll every 0.5 s: watch for 3 s whether any service jumps (it would stay there)
        for _ in range(15):
            for name, proc in p.procs.items():
                assert abs((proc.business_time() - before[name]).total_seconds()) < 120, name
            await asyncio.sleep(0.2)
    finally:
        await p.bus.set_clock(p.now())  # the next valid clock record is applied
        await eventually(
            lambda: all(abs((proc.business_time() - p.now()).total_seconds()) < 60 for proc in p.procs.values())
        )
    await a_valid_request_completes(p, "after-unsigned-clock")
