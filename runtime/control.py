"""The participant registry's changes (``parties.change.v2``) as every instance applies them: the
services (``runtime.service``) and the console follow the topic through this one function.

A change has an effect only when (003 §5 (三)) it authenticates (``runtime.parties.signed_envelope``),
the national agency sent it, its envelope's ``occurred_at`` lies within the clock-skew window of its
receipt, its ``change_id`` is new and its ``version`` is greater than the party's current one
(``ParticipantRegistry.apply``, which keeps removed parties' versions). Receipt is the broker's
append time when the topic records it (``message.timestamp.type=LogAppendTime``), else this
instance's clock for a record that arrives while it follows the topic; records written before the
instance started, with only a producer's timestamp, are held to their versions and ids alone (every
instance must decide them the same way however late it starts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contracts.parties import PARTY_CHANGES, ChangeParty
from runtime.authority import national_agency
from runtime.parties import ParticipantRegistry, Unauthenticated, signed_envelope

log = logging.getLogger(__name__)

LOG_APPEND_TIME = 1  # aiokafka's ConsumerRecord.timestamp_type for a broker-assigned timestamp


def receipt_time(record: Any, now: datetime, live: bool) -> datetime | None:
    """When the record was received, as far as this instance can tell (None: not known)."""
    if getattr(record, "timestamp_type", None) == LOG_APPEND_TIME and getattr(record, "timestamp", None):
        return datetime.fromtimestamp(record.timestamp / 1000, UTC)
    return now if live else None


class RegistryChanges:
    """``apply(record)`` for a ``TopicFollower`` of ``parties.change.v2``; ``caught_up`` for its
    ``on_caught_up``. ``count(kind, reason)`` is told of every change with no effect: kind
    ``unauthenticated`` (reason: why), ``refused`` (not the national agency) or ``ignored``
    (``stale_version``, ``repeated_change``, ``clock_skew``)."""

    def __init__(
        self,
        parties: ParticipantRegistry,
        now: Callable[[], datetime],
        max_skew_seconds: float,
        count: Callable[[str, str], None] = lambda kind, reason: None,
    ) -> None:
        self.parties, self.now, self.max_skew, self.count = parties, now, max_skew_seconds, count
        self.live = False

    def caught_up(self) -> None:
        self.live = True

    def apply(self, record: Any) -> str:
        """What became of the record: ``applied`` or the reason it had no effect."""
        now = self.now()
        try:
            sender, envelope = signed_envelope(self.parties, record, ChangeParty, now)
        except Unauthenticated as exc:
            return self._no_effect("unauthenticated", exc.reason, record, str(exc))
        change = envelope.payload
        if national_agency()(sender, change, self.parties, now):
            return self._no_effect("refused", "UNAUTHORIZED", record, f"{change.change_id} from {sender.code}")
        received = receipt_time(record, now, self.live)
        if received is not None and abs((envelope.occurred_at - received).total_seconds()) > self.max_skew:
            return self._no_effect(
                "ignored",
                "clock_skew",
                record,
                f"{change.change_id} occurred at {envelope.occurred_at.isoformat()}, received {received.isoformat()}",
            )
        reason = self.parties.apply(change)
        if reason:
            return self._no_effect(
                "ignored",
                reason,
                record,
                f"{change.change_id} {change.action.value} "
                f"{change.subject} v{change.version} (now v{self.parties.versions.get(change.subject)})",
            )
        log.info("participant registry: %s %s v%s", change.action.value, change.subject, change.version)
        return "applied"

    def _no_effect(self, kind: str, reason: str, record: Any, detail: str) -> str:
        self.count(kind, reason)
        log.warning(
            "%s change at offset %s has no effect (%s): %s",
            PARTY_CHANGES,
            getattr(record, "offset", "?"),
            reason,
            detail,
        )
        return reason
