"""The outbox relay (``runtime.outbox``) and what the broker refuses: an entry over the broker's
message limit (or refused for another non-retriable reason) is dead-lettered once and leaves the
outbox, never sent again; an entry that failed on the network is sent again, and the entries of the
same document that were delivered are not sent a second time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from runtime.outbox import OutboxRelay
from runtime.sealing import SHARED_SCOPE, keyring

NOW = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)


class Collection:
    name = "visits"

    def __init__(self) -> None:
        self.writes: list = []

    async def bulk_write(self, operations, ordered=False):
        self.writes.extend(operations)


def entry(topic: str, text: str) -> dict:
    return {"kind": "event", "topic": topic, "key": "p1", "type": topic, "value": keyring().seal(text, SHARED_SCOPE)}


def document(**entries: dict) -> dict:
    return {"_id": "p1", "version": 3, "outbox": entries}


class Broker:
    """Refuses values over ``limit`` for good, and fails ``flaky`` on the network once."""

    def __init__(self, limit: int = 100, flaky: str = "") -> None:
        self.limit, self.flaky, self.sent = limit, flaky, []

    async def send(self, topic: str, key: bytes, value: bytes, headers: dict) -> None:
        if len(value) > self.limit:
            raise MessageSizeTooLargeError(f"{len(value)} bytes")
        if topic == self.flaky:
            self.flaky = ""
            raise KafkaConnectionError("broker down")
        self.sent.append(topic)


async def test_an_entry_over_the_limit_is_dead_lettered_once_and_removed():
    broker, refused = Broker(), []

    async def dead_letter(topic: str, value: bytes, exc: Exception) -> None:
        refused.append((topic, len(value), type(exc).__name__))

    relay = OutboxRelay(broker.send, None, lambda t: t, lambda: NOW, refused=dead_letter)  # type: ignore[arg-type]
    collection = Collection()
    doc = document(
        big=entry("settlement.treating-assessed.v1", "x" * 500), small=entry("settlement.completed.v1", "ok")
    )
    await relay.flush(collection, doc)  # type: ignore[arg-type]
    assert refused == [("settlement.treating-assessed.v1", 500, "MessageSizeTooLargeError")]
    assert broker.sent == ["settlement.completed.v1"]
    await relay.flush(collection, doc)  # the sweep finds the document again   # type: ignore[arg-type]
    assert len(refused) == 1 and broker.sent == ["settlement.completed.v1"]  # neither is sent again
    await relay.cleanup()
    assert all(set(write._doc["$unset"]) == {"outbox.big", "outbox.small"} for write in collection.writes)
    assert collection.writes


async def test_a_network_failure_sends_again_only_what_was_not_delivered():
    broker = Broker(limit=10_000, flaky="settlement.completed.v1")
    relay = OutboxRelay(broker.send, None, lambda t: t, lambda: NOW, refused=None)  # type: ignore[arg-type]
    collection = Collection()
    doc = document(
        a=entry("settlement.treating-assessed.v1", "a"),
        b=entry("settlement.completed.v1", "b"),
        c=entry("settlement.fee-detail.v1", "c"),
    )
    with pytest.raises(KafkaConnectionError):
        await relay.flush(collection, doc)  # type: ignore[arg-type]
    assert sorted(broker.sent) == ["settlement.fee-detail.v1", "settlement.treating-assessed.v1"]
    await relay.flush(collection, doc)  # the sweep: only the one that failed   # type: ignore[arg-type]
    assert sorted(broker.sent) == [
        "settlement.completed.v1",
        "settlement.fee-detail.v1",
        "settlement.treating-assessed.v1",
    ]


async def test_without_a_dead_letter_the_refusal_is_raised():
    relay = OutboxRelay(Broker().send, None, lambda t: t, lambda: NOW)  # type: ignore[arg-type]
    with pytest.raises(MessageSizeTooLargeError):
        await relay.flush(Collection(), document(big=entry("t", "x" * 500)))  # type: ignore[arg-type]
