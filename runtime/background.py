"""Background work of every instance: the outbox sweep, firing due deadlines, and the gauges
read from outside the message path (deadlines by state, consumer lag)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from runtime.clock import Clock
from runtime.config import Settings
from runtime.deadlines import DeadlineStore
from runtime.metrics import RuntimeMetrics
from runtime.outbox import OutboxRelay
from runtime.store import AggregateStore

log = logging.getLogger("runtime.service")

LAG_SECONDS = 10  # Prometheus scrapes every 10 s (deploy/prometheus.yml)


async def _committed(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The group's committed offsets of every partition in one OffsetFetch. ``committed()`` asks one
    partition per request (a service's 50-odd partitions cost 5 % of its CPU, profiled); the group
    coordinator it calls takes a list (aiokafka 0.14, pinned)."""
    if not partitions:
        return {}
    found = await consumer._coordinator.fetch_committed_offsets(partitions)
    return {tp: max(meta.offset, 0) for tp, meta in found.items()}


def _group_reader(settings: Settings, group: str) -> AIOKafkaConsumer:
    """A consumer that names ``group`` without joining it: it reads the group's committed offsets
    (OffsetFetch) and the topics' end offsets, and takes no partition from the group's members."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        **settings.kafka_client_options(),
    )


def _partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` the consumer's metadata knows (``set_topics``: these only)."""
    return [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]


async def consumed(settings: Settings, group: str, topics: list[str], timeout: float = 120) -> bool:
    """Wait until the consumer group ``group`` has handled every record ``topics`` (full names) hold
    now: its committed offsets reach today's end offsets. For a driver that must not move on (move
    the business clock, say) before what it sent has taken effect. False if not within ``timeout``."""
    consumer = _group_reader(settings, group)
    await consumer.start()
    try:
        await consumer._client.set_topics(topics)  # these topics only, not the whole cluster
        tps = _partitions(consumer, topics)
        ends = await consumer.end_offsets(tps) if tps else {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = await _committed(consumer, list(ends))
            if all(done.get(tp, 0) >= end for tp, end in ends.items()):
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await consumer.stop()


class Background:
    """The background loops of ``runtime.service.Service`` (a mixin over its store, relay,
    deadlines, clock and metrics)."""

    name: str
    settings: Settings
    clock: Clock
    metrics: RuntimeMetrics
    db: AsyncDatabase
    store: AggregateStore
    relay: OutboxRelay
    deadlines: DeadlineStore
    handlers: dict[str, Any]
    _stale_checked: float
    topic: Callable[[str], str]
    _send: Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]

    async def _every(self, seconds: float, job: Callable[[], Awaitable[Any]], what: str) -> None:
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; will try again", what)
            await asyncio.sleep(seconds)

    async def _sweep_outboxes(self, settle_seconds: float = 5.0) -> None:
        older_than = self.clock.now() - timedelta(seconds=settle_seconds)
        for name in list(self.store.collections):
            flushed = await self.relay.sweep(self.db[name], older_than)
            if flushed:
                self.metrics.outbox_flushed.labels(self.name).inc(flushed)
        await self._report_outbox_age()

    async def _report_outbox_age(self) -> None:
        """How long the oldest write still holding outbox entries has waited (``has_outbox`` is
        indexed): entries the broker keeps refusing, or a sweep that cannot keep up, show here."""
        now, oldest = self.clock.now(), 0.0
        for name in list(self.store.collections):
            doc = await self.db[name].find_one({"has_outbox": True}, {"updated_at": 1}, sort=[("updated_at", 1)])
            if doc and isinstance(doc.get("updated_at"), datetime):
                oldest = max(oldest, (now - doc["updated_at"]).total_seconds())
        self.metrics.outbox_oldest.labels(self.name).set(oldest)

    async def _fire_deadlines(self) -> None:
        await self.relay.release_due()
        now = self.clock.now()
        if time.monotonic() - self._stale_checked > self.deadlines.LEASE_SECONDS / 3:
            await self.deadlines.release_stale(now)
            self._stale_checked = time.monotonic()
        for due in await self.deadlines.due(now):
            claimed = await self.deadlines.claim(due["_id"], now)
            if not claimed:
                continue  # another instance took it
            try:
                await self._send(
                    self.topic(claimed["topic"]),
                    claimed["key"].encode(),
                    claimed["value"].encode(),
                    {"content-type": "application/json", "type": claimed["type"], **claimed.get("trace", {})},
                )
            except Exception:
                await self.deadlines.release(claimed)  # the broker refused it: tried again at the next poll
                raise
            await self.deadlines.mark_fired(claimed, now)
            self.metrics.deadlines_fired.labels(self.name, claimed["type"]).inc()
            late = (now - claimed["due_at"]).total_seconds() if isinstance(claimed.get("due_at"), datetime) else 0.0
            self.metrics.deadline_lateness.labels(self.name, claimed["type"]).observe(max(late, 0.0))

    async def _report_deadlines(self) -> None:
        counts = await self.deadlines.counts()
        counts["pending"] += len(self.relay.held)  # short deadlines not stored yet
        for status, count in counts.items():
            self.metrics.deadlines.labels(self.name, status).set(count)
        now = self.clock.now()
        oldest = await self.deadlines.oldest_due(now)
        self.metrics.deadline_overdue.labels(self.name).set((now - oldest).total_seconds() if oldest else 0.0)

    async def _report_lag(self) -> None:
        """Lag = end offset − the group's committed offset, per partition. Read through a
        consumer that names the group without joining it (OffsetFetch), so it works on
        brokers whose admin API differs and keeps reporting while handlers are stuck."""
        topics = [self.topic(t) for t in self.handlers]
        reachable = self.metrics.broker_reachable.labels(self.name)
        consumer = _group_reader(self.settings, self.settings.group_id)
        try:
            await consumer.start()
        except BaseException:
            reachable.set(0)  # started again by ``_every`` in a few seconds
            raise
        try:
            # metadata of the service's own topics only, refreshed in the background (metadata_max_age_ms):
            # ``topics()`` fetched every topic of the cluster every round (on a broker shared by many
            # prefixes, thousands), a tenth of an idle instance's CPU
            await consumer._client.set_topics(topics)
            while True:
                tps = _partitions(consumer, topics)
                ends = await consumer.end_offsets(tps) if tps else {}
                done = await _committed(consumer, list(ends))
                for tp, end in ends.items():
                    self.metrics.consumer_lag.labels(self.name, tp.topic, str(tp.partition)).set(
                        max(end - done.get(tp, 0), 0)
                    )
                reachable.set(1)
                await asyncio.sleep(LAG_SECONDS)
        except Exception:
            reachable.set(0)
            raise
        finally:
            await consumer.stop()
