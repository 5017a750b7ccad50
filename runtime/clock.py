"""Business time. Production follows the wall clock; tests and the simulator drive a
controlled clock by publishing to ``ops.clock.v1`` (every instance of every service reads
that one-partition topic from its start, so all agree and a restart restores the time).
Business dates are in Asia/Shanghai (M-02).

A clock command is signed like every other record (``runtime.parties.authenticate``) by the
registry's operator party (``contracts.parties.Operator``, ``ops`` in the sample registry) and
names it as ``sender``; a command is applied only when it is issued after the last one applied, so
a copy or a replayed old command has no effect. Anything else is ignored and counted."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from contracts.parties import Operator
from runtime.follow import TopicFollower
from runtime.parties import ParticipantRegistry, Signer, Unauthenticated, authenticate, signature_of

log = logging.getLogger(__name__)

OPERATOR = "ops"  # the sample registry's operator party, who signs clock commands


class Clock(Protocol):
    def now(self) -> datetime: ...

    def skew(self, claimed: datetime, window: float) -> float: ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def skew(self, claimed: datetime, window: float) -> float:
        """Seconds between a time a sender claims and business time."""
        return abs((claimed - self.now()).total_seconds())


class ClockCommand(BaseModel):
    """The value of an ``ops.clock.v1`` record."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    op: Literal["set", "advance"]
    now: AwareDatetime | None = None  # set: the business time at issued_at
    seconds: float | None = None  # advance: how far
    issued_at: AwareDatetime  # the operator's wall clock when issued; orders the commands
    sender: str  # the operator party that signed it


class ControlledClock:
    """Wall time plus an offset that 'set' and 'advance' commands move. Time keeps flowing."""

    KEPT = 8  # earlier offsets remembered for ``skew``; the clock moves a few times a day at most

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._earlier: list[tuple[datetime, timedelta]] = []  # (wall time it ended, offset), oldest first

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def skew(self, claimed: datetime, window: float) -> float:
        """Seconds between a time a sender claims and business time, judged by the clock in force when
        the sender stamped it: the present offset, or one an 'advance' replaced less than ``window``
        seconds ago (wall time; a 'set' starts a new time base and forgets the earlier ones). A request stamped just before ``yidi clock advance`` and read just
        after is then as old as it really is, not hours off; nothing older than ``window`` passes."""
        wall = datetime.now(UTC)
        offsets = [self._offset] + [off for ended, off in self._earlier if (wall - ended).total_seconds() <= window]
        return min(abs((claimed - (wall + offset)).total_seconds()) for offset in offsets)

    def _move(self, offset: timedelta) -> None:
        self._earlier = [*self._earlier, (datetime.now(UTC), self._offset)][-self.KEPT :]
        self._offset = offset

    def apply(self, command: dict) -> None:
        if command.get("op") == "set":
            target = datetime.fromisoformat(command["now"]).astimezone(UTC)
            # measured from the moment the command was issued, not received: every service
            # then shows the same time however late it reads the topic
            issued = datetime.fromisoformat(command["issued_at"]) if "issued_at" in command else datetime.now(UTC)
            # a new time base: what was stamped under an earlier one is judged by this one (``skew``)
            self._offset, self._earlier = target - issued, []
        elif command.get("op") == "advance":
            self._move(self._offset + timedelta(seconds=float(command["seconds"])))


def clock_command_set(when: datetime, sender: str = OPERATOR) -> bytes:
    return ClockCommand(op="set", now=when, issued_at=datetime.now(UTC), sender=sender).model_dump_json().encode()


def clock_command_advance(seconds: float, sender: str = OPERATOR) -> bytes:
    return (
        ClockCommand(op="advance", seconds=seconds, issued_at=datetime.now(UTC), sender=sender)
        .model_dump_json()
        .encode()
    )


def clock_headers(signer: Signer, value: bytes) -> list[tuple[str, bytes]]:
    """The record headers of a clock command (aiokafka's form): its signature."""
    return [(k, v.encode()) for k, v in signer.headers(value).items()]


class ClockCommands:
    """Applies to ``clock`` the commands the operator signed, each issued after the last applied;
    ``count(reason)`` is told of every other record (``unauthenticated:<why>``, ``invalid``,
    ``not_operator``, ``sender_mismatch``, ``stale``)."""

    def __init__(
        self, clock: ControlledClock, parties: ParticipantRegistry, count: Callable[[str], None] = lambda reason: None
    ) -> None:
        self.clock, self.parties, self.count = clock, parties, count
        self.last_issued: datetime | None = None

    def apply(self, record: Any) -> str:
        try:
            signer = authenticate(self.parties, record.value, signature_of(record.headers), self.clock.now())
        except Unauthenticated as exc:
            return self._ignored(f"unauthenticated:{exc.reason}", record, str(exc))
        try:
            command = ClockCommand.model_validate_json(record.value)
        except (ValidationError, ValueError) as exc:
            return self._ignored("invalid", record, str(exc)[:300])
        if command.sender != signer.code:
            return self._ignored("sender_mismatch", record, f"names {command.sender}, signed by {signer.code}")
        if not isinstance(signer, Operator):
            return self._ignored("not_operator", record, f"{signer.code} is not an operator of the registry")
        if (command.op == "set") != (command.now is not None) or (command.op == "advance") != (
            command.seconds is not None
        ):
            return self._ignored("invalid", record, f"{command.op} without its value")
        if self.last_issued is not None and command.issued_at <= self.last_issued:
            return self._ignored(
                "stale", record, f"issued {command.issued_at.isoformat()}, not after {self.last_issued.isoformat()}"
            )
        self.last_issued = command.issued_at
        self.clock.apply(json.loads(command.model_dump_json()))
        return "applied"

    def _ignored(self, reason: str, record: Any, detail: str) -> str:
        self.count(reason)
        log.warning("clock record at offset %s ignored (%s): %s", getattr(record, "offset", "?"), reason, detail)
        return reason


def clock_follower(
    clock: ControlledClock,
    parties: ParticipantRegistry,
    bootstrap: str,
    topic: str,
    count: Callable[[str], None] = lambda reason: None,
    **client_options: Any,
) -> TopicFollower:
    """Feeds a ControlledClock from the clock topic: the operator's signed commands only."""
    return TopicFollower(bootstrap, topic, ClockCommands(clock, parties, count).apply, **client_options)
