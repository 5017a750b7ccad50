"""Business time. Production follows the wall clock; tests and the simulator drive a
controlled clock by publishing to ``ops.clock.v1`` (every instance of every service reads
that one-partition topic from its start, so all agree and a restart restores the time).
Business dates are in Asia/Shanghai (M-02)."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaConsumer, TopicPartition

SHANGHAI = ZoneInfo("Asia/Shanghai")
log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ControlledClock:
    """Wall time plus an offset that 'set' and 'advance' commands move. Time keeps flowing."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def apply(self, command: dict) -> None:
        if command.get("op") == "set":
            target = datetime.fromisoformat(command["now"]).astimezone(UTC)
            # measured from the moment the command was issued, not received: every service
            # then shows the same time however late it reads the topic
            issued = datetime.fromisoformat(command["issued_at"]) if "issued_at" in command else datetime.now(UTC)
            self._offset = target - issued
        elif command.get("op") == "advance":
            self._offset += timedelta(seconds=float(command["seconds"]))


def clock_command_set(when: datetime) -> bytes:
    return json.dumps({"op": "set", "now": when.isoformat(), "issued_at": datetime.now(UTC).isoformat()}).encode()


def clock_command_advance(seconds: float) -> bytes:
    return json.dumps({"op": "advance", "seconds": seconds}).encode()


class ClockFollower:
    """Feeds a ControlledClock from the clock topic; ``start`` returns once caught up."""

    def __init__(self, clock: ControlledClock, bootstrap: str, topic: str) -> None:
        self.clock, self.bootstrap, self.topic = clock, bootstrap, topic
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        tp = TopicPartition(self.topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            await self._drain(consumer, 200)
        self._task = asyncio.create_task(self._follow(consumer))

    async def _drain(self, consumer: AIOKafkaConsumer, timeout_ms: int) -> None:
        for records in (await consumer.getmany(timeout_ms=timeout_ms)).values():
            for record in records:
                try:
                    self.clock.apply(json.loads(record.value))
                except (ValueError, KeyError, TypeError):
                    log.warning("ignored malformed clock command at offset %s", record.offset)

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
