"""Ordered, concurrent consumption: one worker per topic-partition.

FastStream's consume loop hands every record to :meth:`PartitionDispatcher.submit`, which
queues it for its partition's worker and returns, so records of other partitions proceed
while one partition waits on the database. Order within a partition is kept (a person's or a
region's messages share a partition by their key), and offsets are committed only up to the
last record a worker has finished: at least once, never past unprocessed work. Commits are
batched every ``commit_interval`` seconds and made at shutdown; a record handled again after
a crash or rebalance finds its id in the aggregate's inbox and has no second effect.

It is also the consumer's rebalance listener: before a partition moves to another instance,
its record in progress is finished (within ``REVOKE_WAIT`` seconds), the records queued behind
it are abandoned, and what was finished is committed, so the next owner starts right after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

log = logging.getLogger(__name__)

# physical topic, value, signature, trace headers (runtime.tracing)
Process = Callable[[str, bytes, bytes | None, dict[str, str]], Awaitable[None]]


REVOKE_WAIT = 10.0  # seconds a revoked partition's record in progress may take (within the rebalance timeout)


class PartitionDispatcher(ConsumerRebalanceListener):
    def __init__(self, process: Process, queue_size: int = 64, commit_interval: float = 0.2) -> None:
        self.process, self.queue_size, self.commit_interval = process, queue_size, commit_interval
        self.queues: dict[TopicPartition, asyncio.Queue] = {}
        self.workers: dict[TopicPartition, asyncio.Task] = {}
        self.done: dict[TopicPartition, int] = {}  # last finished offset per partition
        self.committed: dict[TopicPartition, int] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self._committer: asyncio.Task | None = None
        self.closing = asyncio.Event()
        self.revoked: set[TopicPartition] = set()  # being handed over: queued records are abandoned

    async def submit(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        partition: int,
        offset: int,
        value: bytes,
        signature: bytes | None = None,
        trace: dict[str, str] | None = None,
    ) -> None:
        """Queue one record behind the earlier ones of its partition (blocks when that queue is full)."""
        if self.closing.is_set():  # shutting down: leave it uncommitted, the next owner reads it
            return
        self.consumer = consumer
        tp = TopicPartition(topic, partition)
        if tp not in consumer.assignment():  # fetched before its partition was revoked: not ours now
            return
        if tp not in self.queues:
            self.queues[tp] = asyncio.Queue(self.queue_size)
            self.workers[tp] = asyncio.create_task(self._work(tp))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_loop())
        await self.queues[tp].put((offset, value, signature, trace or {}))

    async def _work(self, tp: TopicPartition) -> None:
        queue = self.queues[tp]
        while True:
            offset, value, signature, trace = await queue.get()
            try:
                if tp in self.revoked:  # abandoned: the partition's next owner reads it
                    continue
                if await self._until_processed(tp, offset, value, signature, trace):
                    self.done[tp] = offset
            finally:
                queue.task_done()

    async def _until_processed(
        self, tp: TopicPartition, offset: int, value: bytes, signature: bytes | None, trace: dict[str, str]
    ) -> bool:
        """process() answers every record (handled, dead-lettered or refused); should that answer
        itself fail (the broker down while dead-lettering), the record is tried again, and at
        shutdown it is left uncommitted for the next owner: an offset never passes a record that
        had no effect and no answer."""
        delay = 0.1
        while True:
            try:
                await self.process(tp.topic, value, signature, trace)
                return True
            except Exception:
                log.exception("record %s:%s failed outside its handler; trying again in %.1fs", tp, offset, delay)
                if self.closing.is_set() or tp in self.revoked:
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.commit_interval)
            await self.commit()

    async def commit(self) -> None:
        """Commit, for each partition still ours, the offset after the last finished record."""
        if self.consumer is None:
            return
        assigned = self.consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(off + 1, "")
            for tp, off in self.done.items()
            if tp in assigned and self.committed.get(tp) != off
        }
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
            self.committed.update({tp: meta.offset - 1 for tp, meta in offsets.items()})
        except KafkaError as exc:  # e.g. rebalancing: the next owner re-reads, the inbox dedupes
            log.warning("offset commit failed (%s); the records will be read again and deduplicated", exc)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish or abandon the revoked partitions' work, commit what was finished, forget them."""
        mine = [tp for tp in revoked if tp in self.queues]
        if not mine:
            return
        self.revoked.update(mine)
        try:
            await asyncio.wait_for(asyncio.gather(*(self.queues[tp].join() for tp in mine)), REVOKE_WAIT)
        except TimeoutError:
            log.warning(
                "rebalance: a record of %s still in progress after %ss; the next owner reads it again",
                mine,
                REVOKE_WAIT,
            )
        await self.commit()  # still a member until the listener returns: the commit is accepted
        for tp in mine:
            self.workers.pop(tp).cancel()
            del self.queues[tp]
            self.done.pop(tp, None)  # a later assignment starts from the group's offset
            self.committed.pop(tp, None)
        self.revoked.difference_update(mine)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None  # a partition's worker starts with its first record

    async def drain(self, timeout: float = 20) -> None:
        """Graceful shutdown: let queued records finish, then commit."""
        self.closing.set()
        try:
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self.queues.values())), timeout)
        except TimeoutError:
            log.warning("shutdown: records still in progress after %ss; they will be redelivered", timeout)
        await self.commit()
        for task in [*self.workers.values(), *([self._committer] if self._committer else [])]:
            task.cancel()
        await asyncio.gather(*self.workers.values(), return_exceptions=True)
