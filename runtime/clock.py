"""Business time. Production follows the wall clock; tests and the simulator drive a
controlled clock by publishing to ``ops.clock.v1`` (every instance of every service reads
that one-partition topic from its start, so all agree and a restart restores the time).
Business dates are in Asia/Shanghai (M-02)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Protocol

from runtime.follow import TopicFollower


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


def clock_follower(clock: ControlledClock, bootstrap: str, topic: str, **client_options: object) -> TopicFollower:
    """Feeds a ControlledClock from the clock topic."""
    return TopicFollower(bootstrap, topic, lambda record: clock.apply(json.loads(record.value)), **client_options)
