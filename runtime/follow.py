"""Reading a whole topic into every instance: the business clock and the participant registry
are the same for every instance of every service, so each one reads their one-partition topic
from its start (no consumer group), catches up before it starts handling, and then follows it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

log = logging.getLogger(__name__)


class TopicFollower:
    """Feeds every record of partition 0 of ``topic`` to ``apply``; ``start`` returns once caught up."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        apply: Callable[[ConsumerRecord], object],
        *,
        on_caught_up: Callable[[], None] | None = None,
        **client_options: Any,
    ) -> None:
        self.bootstrap, self.topic, self.apply, self.options = bootstrap, topic, apply, client_options
        self.on_caught_up = on_caught_up  # told once the records written before the start are applied
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **self.options)
        await consumer.start()
        tp = TopicPartition(self.topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            await self._drain(consumer, 200)
        if self.on_caught_up:
            self.on_caught_up()
        self._task = asyncio.create_task(self._follow(consumer))

    async def _drain(self, consumer: AIOKafkaConsumer, timeout_ms: int) -> None:
        for records in (await consumer.getmany(timeout_ms=timeout_ms)).values():
            for record in records:
                try:
                    self.apply(record)
                except Exception:  # one bad record must not stop the others; it changes nothing
                    log.warning("ignored record %s of %s", record.offset, self.topic, exc_info=True)

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                await self._drain(consumer, 500)
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
