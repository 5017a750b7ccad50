"""What the adversarial wire tests share: a tap that follows the topics an outsider can read (so
every case waits on the records it expects instead of reading each topic again from its start),
forged signatures of every kind an attacker can make without a party's private key, and the
checks every case ends with (the sender told, the dead letter, the next message handled)."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from support import Stack, wire_json

from runtime.parties import SIGNATURE_HEADER, ParticipantRegistry, Signer

REFUSED, DEAD = "party.refused.v1", "ops.dead-letter.v1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Seen:
    """One record as an outsider reads it: its value parsed when it is JSON, and its raw parts."""

    topic: str
    record: ConsumerRecord

    @functools.cached_property
    def value(self) -> Any:
        """As the party it is sealed to reads it (``wire_json``), else as it came (a record in clear)."""
        try:
            return wire_json(self.topic, self.record.value)
        except (ValueError, TypeError, KeyError):
            pass
        try:
            return json.loads(self.record.value)
        except (ValueError, TypeError, RecursionError):
            return None

    @property
    def payload(self) -> dict:
        value = self.value
        return value.get("payload") or {} if isinstance(value, dict) else {}

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return list(self.record.headers or ())


class Tap:
    """Follows ``topics`` from their start in the background; ``wait`` returns the first record
    (from ``since`` on) that satisfies a predicate, as soon as it arrives."""

    def __init__(self, stack: Stack, prefix: str, topics: tuple[str, ...]) -> None:
        self.stack, self.prefix, self.topics = stack, prefix, topics
        self.seen: dict[str, list[Seen]] = {t: [] for t in topics}
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> Tap:
        self._consumer = consumer = AIOKafkaConsumer(bootstrap_servers=self.stack.bootstrap, enable_auto_commit=False)
        await consumer.start()
        tps = []
        for topic in self.topics:
            name = self.prefix + topic
            partitions = consumer.partitions_for_topic(name)
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(name) or {0}
            tps += [TopicPartition(name, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._follow())
        return self

    async def _follow(self) -> None:
        assert self._consumer
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for tp, records in batch.items():
                logical = tp.topic[len(self.prefix) :]
                self.seen[logical] += [Seen(logical, r) for r in records]
            if batch:
                self._arrived.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()

    def mark(self, topic: str) -> int:
        return len(self.seen[topic])

    def all(self, topic: str, where: Callable[[Seen], bool] = lambda s: True, since: int = 0) -> list[Seen]:
        return [s for s in self.seen[topic][since:] if where(s)]

    async def wait(self, topic: str, where: Callable[[Seen], bool], *, since: int = 0, timeout: float = 30) -> Seen:
        deadline = time.monotonic() + timeout
        while True:
            found = self.all(topic, where, since)
            if found:
                return found[0]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"nothing on {topic} in {timeout}s; last: {[s.value for s in self.seen[topic][-3:]]}"
                )
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(left, 1.0))
            except TimeoutError:
                pass

    async def quiet(self, seconds: float = 1.0) -> None:
        """Let what is in flight arrive before a 'nothing else was published' check (bounded wait
        for an absence: the presence checks all wait on the record itself)."""
        await asyncio.sleep(seconds)


# ---------------------------------------------------------------- forged signatures
def _signing_input(header: dict, value: bytes) -> bytes:
    return f"{b64url(json.dumps(header).encode())}.{b64url(value)}".encode()


def alg_none(kid: str, value: bytes) -> str:
    """``alg: none``: a header naming the party, no signature at all."""
    header = {"alg": "none", "kid": kid}
    return f"{b64url(json.dumps(header).encode())}.."


def hs256_with_public_key(registry: ParticipantRegistry, kid: str, value: bytes) -> str:
    """``alg: HS256`` keyed with the party's *public* key, which anyone can read from the registry:
    the classic confusion when a verifier lets the token choose the algorithm."""
    code, _, key_id = kid.partition("/")
    party = registry.get(code)
    assert party is not None
    public = next(k for k in party.keys if k.kid == key_id and k.use.value == "sig")
    secret = base64.urlsafe_b64decode(public.jwk["x"] + "==")
    header = {"alg": "HS256", "kid": kid}
    signing_input = _signing_input(header, value)
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.split(b'.')[0].decode()}..{b64url(mac)}"


def with_header(signer: Signer, header: dict, value: bytes) -> str:
    """A genuine Ed25519 signature by ``signer``'s own key over ``value``, under ``header`` as given
    (another ``alg`` name, members a verifier must not act on)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signing_input = _signing_input(header, value)
    d = base64.urlsafe_b64decode(str(signer.keys.sign.as_dict(private=True)["d"]) + "==")
    signature = Ed25519PrivateKey.from_private_bytes(d).sign(signing_input)
    return f"{signing_input.split(b'.')[0].decode()}..{b64url(signature)}"


def repacked(captured: str, signed_bytes: bytes) -> str:
    """A captured detached JWS ``h..s`` re-packed with its signed bytes attached: ``h.<b64url>.s``.
    It verifies for those bytes, not for the record it is now attached to."""
    protected, _, signature = captured.split(".")
    return f"{protected}.{b64url(signed_bytes)}.{signature}"


def header_of(record: ConsumerRecord) -> str | None:
    found = next((v for k, v in (record.headers or ()) if k == SIGNATURE_HEADER), None)
    return found.decode() if found else None


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


def at_seconds(when: datetime) -> int:
    return int(when.timestamp())
