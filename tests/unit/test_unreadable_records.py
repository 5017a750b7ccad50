"""No input stalls a partition: whatever bytes and headers a record holds, reading them never raises
out of its processing (``runtime.consuming``); each failure is a dead letter with its reason, and a
signed sender hears it too. What raised here used to be tried again every 30 s, for ever, holding
up every record behind it. The same path over the real broker: ``tests/integration/test_unreadable_wire.py``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from contracts.collab import OpenCollabRequest, ProblemType
from contracts.values import make_person_id
from runtime.consuming import Consuming
from runtime.envelopes import encode, envelope_for, peek_ids
from runtime.metrics import RuntimeMetrics
from runtime.parties import ParticipantRegistry, init_keys, load_private_keys, signer_for
from runtime.privacy import pseudonym
from runtime.wire import WireOpener, WireSealer
from services.collab.authority import AUTHORITY

NOW = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
TOPIC = "collab.open-request.v1"
AGENCY = "A340200"
KEYS: list = []  # the module's key directory, once the fixture made it
DEEP = b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}"  # 10 kB of nesting, 5,000 levels


class _Fixed:
    def now(self) -> datetime:
        return NOW

    def skew(self, claimed: datetime, window: float) -> float:
        return abs((claimed - NOW).total_seconds())


class Harness(Consuming):
    """The consuming half alone: what it sends is kept, the handler only counts."""

    def __init__(self, registry: ParticipantRegistry, opener: WireOpener) -> None:
        self.name, self.clock, self.parties, self.authority = "collab", _Fixed(), registry, AUTHORITY
        self.opener = opener
        self.settings = SimpleNamespace(max_clock_skew_seconds=300, fault="")  # type: ignore[assignment]
        self.metrics = RuntimeMetrics(CollectorRegistry(), "collab")
        self.handlers = {TOPIC: self._handle}
        self.refusers, self.dispatcher, self._fault_dropped = {}, None, None
        self.sent: list[dict] = []
        self.published: list = []
        self.handled: list = []
        self.topic = lambda logical: logical
        self.stored: list[dict] = []
        self.db = {"dead_letters": SimpleNamespace(insert_one=self._store)}  # type: ignore[assignment]

    async def _store(self, document: dict) -> None:
        self.stored.append(document)

    async def _handle(self, envelope):
        self.handled.append(envelope)

    async def _send(self, topic, key, value, headers) -> None:  # type: ignore[override]
        self.sent.append(json.loads(value))

    async def publish(self, topic, payload, **kwargs):  # type: ignore[override]
        self.published.append((topic, payload))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    init_keys(root, [AGENCY, "collab"])
    KEYS[:] = [root]
    return root


@pytest.fixture
def service(keys) -> Harness:
    return Harness(ParticipantRegistry.load(keys), WireOpener.of(load_private_keys(keys, "collab")))


def request(ref: str = "R-1") -> bytes:
    """A valid request as the agency sends it: its payload sealed to collab (runtime.wire)."""
    payload = OpenCollabRequest(
        request_ref=ref,
        requester_region="340200",
        target_region="420100",
        matter="filing record missing",
        problem_type=ProblemType.OTHER,
        opened_at=NOW,
    )
    value = encode(envelope_for(TOPIC, payload, producer="test", now=NOW, sender=AGENCY))
    return WireSealer(ParticipantRegistry.load(KEYS[0])).seal(TOPIC, value)


def signed(keys, value: bytes) -> bytes:
    return signer_for(keys, AGENCY).sign(value).encode()


@pytest.mark.parametrize(
    "raw, signature, reason",
    [
        (DEEP, None, "UNAUTHENTICATED"),  # unsigned deep nesting
        (b'{"event_id":' + b"[" * 5000 + b"]" * 5000 + b"}", None, "UNAUTHENTICATED"),
        (b"\xff\xfe not utf-8", None, "UNAUTHENTICATED"),
        (b"{}", b"\xff\xfe\xfa", "UNAUTHENTICATED"),  # a signature header that is not UTF-8
        (b"{}", b"a.b.c" * 10_000, "UNAUTHENTICATED"),  # a signature header of 50 kB
        (b"[" * 600_000, None, "UNAUTHENTICATED"),  # over the dead letter's inline size
    ],
)
async def test_unsigned_unreadable_bytes_are_dead_lettered_with_their_reason(service, raw, signature, reason):
    await service._consume(TOPIC, raw, signature)
    [dead] = service.sent
    assert dead["reason"] == reason and dead["topic"] == TOPIC and dead["detail"]
    assert not service.handled and not service.published
    json.dumps(dead)  # what was sent is plain JSON: nothing of the nesting came along


@pytest.mark.parametrize(
    "raw",
    [
        DEEP,
        b'{"event_id":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"\xff\xfe not utf-8",
        b'{"event_id": "' + b"9" * 1000 + b'"}',
        b"[" * 600_000,
    ],
)
async def test_signed_unreadable_bytes_are_dead_lettered_and_their_sender_hears_it(service, keys, raw):
    await service._consume(TOPIC, raw, signed(keys, raw))
    [dead] = service.sent
    assert dead["reason"] in {"invalid_message", "too_deep", "unreadable_message"}
    assert set(dead) >= {"dead_letter_id", "detail", "original"} and not service.handled
    [(topic, refused)] = service.published
    assert topic == "party.refused.v1" and refused.sender == AGENCY and refused.reason.value == "INVALID_MESSAGE"


async def test_a_valid_request_after_them_is_handled(service, keys):
    for raw in (DEEP, b"\xff", b"[" * 600_000):
        await service._consume(TOPIC, raw, None)
        await service._consume(TOPIC, raw, signed(keys, raw))
    good = request()
    await service._consume(TOPIC, good, signed(keys, good))
    assert len(service.handled) == 1 and len(service.sent) == 6


def test_peek_ids_never_raises_and_keeps_only_short_strings():
    assert peek_ids(DEEP) == {}
    assert peek_ids(b"\xff") == {} and peek_ids(b"[1]") == {}
    assert peek_ids(b'{"event_id": [[[1]]], "type": "' + b"t" * 500 + b'", "correlation_id": "c"}') == {
        "correlation_id": "c"
    }
    event_id = str(uuid.uuid4())
    assert peek_ids(json.dumps({"event_id": event_id}).encode()) == {"event_id": event_id}


async def test_no_id_number_in_clear_in_a_dead_letter_or_a_refusal(service, keys):
    """The detail names what failed, with the person's pseudonym instead of the number (``redact``,
    the log formatter's)."""
    from contracts.parties import RefusalReason
    from runtime.authority import Refusal
    from runtime.failures import PoisonMessage

    person = make_person_id("34020219600101001")
    raw = request()
    await service._dead_letter(TOPIC, raw, PoisonMessage("conflicting_copy", f"visits/{person} differs"))
    [dead] = service.sent
    assert person not in json.dumps(dead["detail"]) and f"visits/{pseudonym(person)}" in dead["detail"]
    envelope = service._parse(TOPIC, raw)
    await service.refuse(TOPIC, envelope, Refusal(RefusalReason.REFUSED_BY_RULE, f"no filing for {person}"))
    [(_, refused)] = service.published
    assert person not in refused.message and pseudonym(person) in refused.message


async def test_a_conflicting_copy_is_dead_lettered_and_its_sender_hears_it(service, keys):
    """The same event id with another payload (``runtime.inbox``): dead-lettered ``conflicting_copy`` and
    answered to its sender on party.refused.v1 (CONFLICTING_COPY, S-19), the aggregate named by pseudonym."""
    from runtime.inbox import ConflictingCopy

    person = make_person_id("34020219600101001")

    async def conflict(envelope):
        raise ConflictingCopy(f"message {envelope.event_id} was applied to visits/{person} with another payload")

    service.handlers[TOPIC] = conflict
    raw = request()
    await service._consume(TOPIC, raw, signed(keys, raw))
    [dead] = service.sent
    [(topic, refused)] = service.published
    assert dead["reason"] == "conflicting_copy" and topic == "party.refused.v1"
    assert (refused.reason.value, refused.sender, refused.rule) == ("CONFLICTING_COPY", AGENCY, "S-19")
    assert str(refused.refused_event_id) == json.loads(raw)["event_id"]
    assert person not in refused.message and f"visits/{pseudonym(person)}" in refused.message
    assert person not in dead["detail"]
