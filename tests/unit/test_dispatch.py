"""The partition dispatcher as the consumer's rebalance listener: a revoked partition's record in
progress is finished, what is queued behind it is abandoned (its next owner reads it), and what
was finished is committed before the partition moves. The consumer is a stand-in exposing the
two calls the dispatcher makes (``assignment``, ``commit``); the wire tiers use the real one."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from runtime.dispatch import PartitionDispatcher

TP = TopicPartition("settlement.completed.v1", 0)


class Consumer:
    def __init__(self) -> None:
        self.assigned = {TP}
        self.commits: list[dict] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


async def test_a_revoked_partition_finishes_its_record_abandons_the_rest_and_commits():
    handled: list[bytes] = []
    release = asyncio.Event()

    async def process(topic: str, value: bytes, signature: bytes | None, trace: dict[str, str]) -> None:
        if value == b"slow":
            await release.wait()
        handled.append(value)

    dispatcher, consumer = PartitionDispatcher(process, commit_interval=3600), Consumer()
    for offset, value in enumerate([b"first", b"slow", b"queued-1", b"queued-2"]):
        await dispatcher.submit(consumer, TP.topic, TP.partition, offset, value)
    await asyncio.sleep(0.01)  # "first" done, "slow" in progress
    revoking = asyncio.create_task(dispatcher.on_partitions_revoked({TP}))
    await asyncio.sleep(0.01)
    assert not revoking.done(), "waits for the record in progress"
    release.set()
    await revoking
    assert handled == [b"first", b"slow"]  # the queued ones are left to the next owner
    assert consumer.commits == [{TP: 2}]  # the next owner starts at offset 2
    assert TP not in dispatcher.queues and TP not in dispatcher.done


async def test_records_of_a_partition_no_longer_assigned_are_not_taken():
    handled: list[bytes] = []

    async def process(topic: str, value: bytes, signature: bytes | None, trace: dict[str, str]) -> None:
        handled.append(value)

    dispatcher, consumer = PartitionDispatcher(process, commit_interval=3600), Consumer()
    consumer.assigned = set()
    await dispatcher.submit(consumer, TP.topic, TP.partition, 7, b"fetched before the revoke")
    await asyncio.sleep(0.01)
    assert handled == [] and dispatcher.done == {}


async def test_a_failing_record_never_advances_the_offset():
    """A failure outside the handler's own answer is tried again; the offset stays before it."""
    attempts = 0

    async def process(topic: str, value: bytes, signature: bytes | None, trace: dict[str, str]) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("the broker refused the dead letter")

    dispatcher, consumer = PartitionDispatcher(process, commit_interval=3600), Consumer()
    await dispatcher.submit(consumer, TP.topic, TP.partition, 0, b"x")
    await asyncio.sleep(0.5)
    await dispatcher.commit()
    assert attempts >= 2 and consumer.commits == [] and TP not in dispatcher.done
    await dispatcher.drain(timeout=0.1)
