"""Consuming 消费: one batch subscriber per instance over all the service's topics, records
dispatched to one worker per partition (``runtime.dispatch``), and each record's way through:
the sender's signature, the envelope, the authority table and receipt time, the handler with
retries by failure class (``runtime.failures``), and a classified answer when it cannot be
handled (a refusal its sender hears, or a dead letter that always fits the broker)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import Envelope, derived_event_id
from contracts.ops import DeadlineDue
from contracts.parties import CommandRefused, RefusalReason, ServiceParty
from contracts.registry import ALL_TOPICS
from runtime import tracing
from runtime.authority import AuthorityTable, Refusal
from runtime.clock import Clock
from runtime.config import Settings
from runtime.deadlines import DeadlineStore
from runtime.dispatch import PartitionDispatcher
from runtime.envelopes import key_for, parse, peek_ids
from runtime.failures import NotYet, PoisonMessage, classify
from runtime.inbox import ConflictingCopy
from runtime.logs import correlation_id, redact
from runtime.metrics import RuntimeMetrics
from runtime.parties import SIGNATURE_HEADER, ParticipantRegistry, Unauthenticated, authenticate
from runtime.sealing import SHARED_SCOPE, keyring
from runtime.topics import DEAD_LETTER
from runtime.wire import SealingError, WireOpener

log = logging.getLogger("runtime.service")

Handler = Callable[[Envelope], Awaitable[str | None]]  # None: applied; else how it ended
Refuser = Callable[[str, Envelope, Refusal], Awaitable[None]]
PARTY_REFUSED = "party.refused.v1"
RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 15.0, 30.0)
BATCH_RECORDS = 500  # records per poll, at most (the dispatcher queues 64 per partition)
NOT_YET_SECONDS = 1.0  # a deadline whose handler is not ready (NotYet) fires again this much later
DEAD_LETTER_MAX_BYTES = 512 * 1024  # a dead letter always fits the broker (1 MB); larger originals are stored


class Consuming:
    """The consuming half of ``runtime.service.Service`` (a mixin: it uses the service's settings,
    broker, parties, authority, handlers, metrics and database)."""

    name: str
    settings: Settings
    clock: Clock
    metrics: RuntimeMetrics
    broker: KafkaBroker
    db: AsyncDatabase
    deadlines: DeadlineStore
    parties: ParticipantRegistry
    authority: AuthorityTable | None
    handlers: dict[str, Handler]
    refusers: dict[str, Refuser]
    dispatcher: PartitionDispatcher | None
    opener: WireOpener
    _fault_dropped: uuid.UUID | None
    topic: Callable[[str], str]
    publish: Callable[..., Awaitable[Envelope]]
    _send: Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]

    def _subscribe(self) -> None:
        """One batch subscriber per instance for all the service's topics: one group member, so
        a rebalance moves whole partitions between instances at once. FastStream polls (``batch``:
        every record fetched in one call) and hands over the raw records; the dispatcher runs
        each partition's in order, partitions at once, and commits what was handled. The handler
        is chosen by the record's topic; raw bytes, so that what fails validation can be
        dead-lettered instead of blocking the partition."""
        by_topic = {self.topic(logical): logical for logical in self.handlers}

        async def process(topic: str, body: bytes, signature: bytes | None, trace: dict[str, str]) -> None:
            with tracing.handling(self.name, by_topic[topic], trace):  # one span per message (runtime.tracing)
                await self._consume(by_topic[topic], body, signature)

        self.dispatcher = PartitionDispatcher(process)
        dispatcher = self.dispatcher

        async def consume(records: Any, message: KafkaMessage) -> None:
            for record in records:
                signature = next((v for k, v in (record.headers or ()) if k == SIGNATURE_HEADER), None)
                trace = tracing.from_record(record.headers)
                await dispatcher.submit(
                    message.consumer, record.topic, record.partition, record.offset, record.value, signature, trace
                )

        # Offsets are committed by the dispatcher once records are handled (at least once); a
        # revoked partition's records are finished or abandoned before it moves (the listener).
        self.broker.subscriber(
            *by_topic,
            batch=True,
            max_records=BATCH_RECORDS,
            batch_timeout_ms=self.settings.fetch_wait_ms,
            group_id=self.settings.group_id,
            ack_policy=AckPolicy.MANUAL,
            listener=dispatcher,
            auto_offset_reset="earliest",
            parser=_headers_it_can_read,
            decoder=_raw_records,
            title=f"yidi-{self.name}",
            description=f"Every topic the {self.name} service consumes",
            session_timeout_ms=10000,
            group_instance_id=self.settings.group_instance_id or None,  # static membership (KIP-345), if set
            heartbeat_interval_ms=1000,
            max_poll_interval_ms=60000,
            fetch_max_wait_ms=self.settings.fetch_wait_ms,
        )(consume)
        # What this service receives and sends, with each payload schema, is described by
        # runtime.asyncapi from the registry (served at /asyncapi), not by FastStream declarations.

    async def _consume(self, logical: str, raw: bytes, signature: bytes | None = None) -> None:
        started = time.perf_counter()
        now = self.clock.now()
        # Reading the bytes never raises out of here, whatever they hold (nesting deep enough to
        # exhaust the stack, a header that is not UTF-8, sizes): each failure is a dead letter with
        # its reason, or the partition would stall on a record tried again forever.
        try:  # who sent it comes before anything else: an unsigned message is not even parsed
            sender = authenticate(self.parties, raw, signature, now)
        except Unauthenticated as exc:
            await self._unauthenticated(logical, raw, exc)
            return
        except Exception as exc:  # unreadable signature or bytes: no party signed them
            await self._unauthenticated(logical, raw, Unauthenticated("unreadable", f"{type(exc).__name__}: {exc}"))
            return
        try:
            envelope = self._parse(logical, raw)
        except Exception as exc:  # invalid, unparsable, too deep: its reason in the dead letter
            await self._dead_letter(logical, raw, exc)
            await self._refuse_unreadable(logical, raw, sender.code, exc)
            return
        if envelope.sender != sender.code:
            mismatch = Unauthenticated(
                "sender_mismatch", f"envelope names sender {envelope.sender}, signed by {sender.code}"
            )
            await self._unauthenticated(logical, raw, mismatch)
            # the signer is a registry party (its signature held): it hears why its message had no effect
            await self._refuse_unreadable(logical, raw, sender.code, mismatch)
            return
        refusal = self._authorise(logical, sender, envelope, now)
        if refusal:
            await self.refuse(logical, envelope, refusal)
            self.metrics.handle_seconds.labels(self.name, logical).observe(time.perf_counter() - started)
            return
        if isinstance(envelope.payload, DeadlineDue) and now < envelope.payload.due_at:
            await self._rearm(logical, envelope, raw)  # no effect before its due time
            return
        token = correlation_id.set(str(envelope.correlation_id))
        try:
            result = await self._with_retries(logical, envelope)
            self.metrics.handled.labels(self.name, logical, result).inc()
            tracing.mark(result)
        except NotYet as exc:  # a deadline only (``_with_retries``)
            log.info("%s not ready (%s); armed again in %.0fs", logical, exc, NOT_YET_SECONDS)
            await self._rearm(
                logical, envelope, raw, at=self.clock.now() + timedelta(seconds=NOT_YET_SECONDS), result="not_yet"
            )
        except PoisonMessage as exc:
            if exc.reason == "refused_by_rule" and not isinstance(sender, ServiceParty):
                # a business answer to an agency or hospital, not an operational fault: its sender hears it
                await self.refuse(logical, envelope, Refusal(RefusalReason.REFUSED_BY_RULE, str(exc), rule=""))
            else:
                await self._dead_letter(logical, raw, exc)
                if exc.reason == "conflicting_copy":  # the sender reused an event id: it hears this one had no effect
                    await self.refuse(
                        logical,
                        envelope,
                        Refusal(
                            RefusalReason.CONFLICTING_COPY,
                            f"{exc}; send it again under a new event id",
                            rule="S-19",
                            code="CONFLICTING_COPY",
                        ),
                    )
        finally:
            self.metrics.handle_seconds.labels(self.name, logical).observe(time.perf_counter() - started)
            correlation_id.reset(token)

    def _authorise(self, logical: str, sender, envelope: Envelope, now) -> Refusal | None:
        """The service's authority table, and receipt time: a time an outside party claims is
        recorded (the envelope keeps it) but refused beyond the configured skew; rules use ``now``."""
        assert self.authority is not None
        refusal = self.authority.check(logical, sender, envelope.payload, self.parties, now)
        if refusal or isinstance(sender, ServiceParty):
            return refusal
        limit = self.settings.max_clock_skew_seconds
        for field, claimed in _claimed_times(envelope):
            skew = self.clock.skew(claimed, limit)
            if skew > limit:
                return Refusal(
                    RefusalReason.CLOCK_SKEW,
                    f"{field} {claimed.isoformat()} is {skew:.0f}s from receipt "
                    f"{now.isoformat()} (at most {limit:.0f}s)",
                    code="CLOCK_SKEW",
                )
        return None

    async def refuse(self, logical: str, envelope: Envelope, refusal: Refusal) -> None:
        """No effect; the sender hears why (its service's refuser for the topic, else party.refused.v1),
        in words that carry no ID number in clear (``redact``)."""
        refusal = replace(refusal, message=redact(refusal.message))
        self.metrics.refused.labels(self.name, logical, refusal.code or refusal.reason.value).inc()
        tracing.mark(f"refused:{refusal.code or refusal.reason.value}")
        log.warning("refused %s from %s: %s %s", logical, envelope.sender, refusal.reason.value, refusal.message)
        custom = self.refusers.get(logical)
        await (custom or self.party_refused)(logical, envelope, refusal)

    async def party_refused(self, logical: str, envelope: Envelope, refusal: Refusal) -> None:
        """The answer any party hears: ``party.refused.v1``, keyed by its code."""
        answer = CommandRefused(
            refused_event_id=envelope.event_id,
            topic=logical,
            sender=str(envelope.sender),
            reason=refusal.reason,
            rule=refusal.rule,
            message=refusal.message[:2000],
            service=self.name,
            code=refusal.code[:40],
        )
        await self.publish(PARTY_REFUSED, answer, cause=envelope)

    async def _refuse_unreadable(self, logical: str, raw: bytes, sender: str, exc: Exception) -> None:
        """A signed message that does not validate: its sender hears it too (not only the dead letter)."""
        ids = peek_ids(raw)
        try:
            event_id = uuid.UUID(str(ids.get("event_id")))
        except ValueError:
            event_id = uuid.uuid5(uuid.NAMESPACE_OID, raw.hex()[:2000])
        detail = _describe(exc)
        reason = (
            RefusalReason.UNKNOWN_REGION
            if "UNKNOWN_REGION" in detail or "unknown_region" in detail
            else RefusalReason.INVALID_MESSAGE
        )
        self.metrics.refused.labels(self.name, logical, reason.value).inc()
        answer = CommandRefused(
            refused_event_id=event_id,
            topic=logical,
            sender=sender,
            reason=reason,
            rule="S-19",
            message=detail[:2000],
            service=self.name,
        )
        await self.publish(PARTY_REFUSED, answer, event_id=derived_event_id(event_id, PARTY_REFUSED))

    async def _unauthenticated(self, logical: str, raw: bytes, exc: Unauthenticated) -> None:
        self.metrics.unauthenticated.labels(self.name, logical, exc.reason).inc()
        tracing.mark("unauthenticated")
        await self._dead_letter(logical, raw, PoisonMessage("UNAUTHENTICATED", f"{exc.reason}: {exc}"))

    async def _rearm(
        self, logical: str, envelope: Envelope, raw: bytes, at: datetime | None = None, result: str = "early"
    ) -> None:
        """A deadline read before it is due (another instance's clock ran ahead, or a copy): armed
        again for its due moment, which fires it once. One whose handler found what it needs not
        applied yet (``NotYet``) is armed again for ``at``, a moment later, instead of holding up
        its partition, where what it waits for may be queued behind it."""
        due: DeadlineDue = envelope.payload
        await self.deadlines.rearm(
            {
                "deadline_id": str(due.deadline_id),
                "due_at": at or due.due_at,
                "topic": logical,
                "key": key_for(logical, due),
                "value": raw.decode(),
                "type": envelope.type,
                "trace": tracing.carrier(),  # fired again in the trace it came in (runtime.tracing)
            }
        )
        self.metrics.handled.labels(self.name, logical, result).inc()

    def _parse(self, logical: str, raw: bytes) -> Envelope:
        spec = ALL_TOPICS[logical]
        try:
            clear = self.opener.open(logical, raw)  # a personal payload travels sealed (runtime.wire)
        except SealingError as exc:
            raise PoisonMessage(exc.reason, str(exc)) from None
        envelope = parse(logical, clear)
        if envelope.type != spec.type or envelope.schema_version != spec.version:
            raise PoisonMessage(
                "wrong_type",
                f"topic {logical} carries {spec.type} v{spec.version}, got {envelope.type} v{envelope.schema_version}",
            )
        return envelope

    async def _with_retries(self, logical: str, envelope: Envelope) -> str:
        """Run the handler until it has an answer (see ``classify``): poison becomes a
        ``PoisonMessage``; transient failures and faults of ours are tried again with backoff for as
        long as they last — the partition waits, its offset does not advance, nothing is skipped."""
        attempt = 0
        while True:
            try:
                if self.settings.fault == "handler_fault":
                    raise RuntimeError("fault injection: the handler fails")
                if self.settings.fault == f"drop_one:{logical}" and self._fault_dropped in (None, envelope.event_id):
                    # a deliberately broken service: the recovery checks must see it. The one message
                    # stays dropped when it comes again (a rebalance before its offset was committed,
                    # a copy): at least once must not turn the fault into nothing lost
                    self._fault_dropped = envelope.event_id
                    log.critical(
                        "fault injection: the %s message %s dropped without effect", logical, envelope.event_id
                    )
                    return "dropped"
                result = await self.handlers[logical](envelope)
                return result if isinstance(result, str) else "applied"
            except PoisonMessage:
                raise
            except Exception as exc:
                if isinstance(exc, NotYet) and isinstance(envelope.payload, DeadlineDue):
                    raise  # armed again for a moment later (``_consume``), the partition goes on
                kind = classify(exc)
                if kind == "poison":
                    reason = "conflicting_copy" if isinstance(exc, ConflictingCopy) else type(exc).__name__
                    raise PoisonMessage(reason, f"{type(exc).__name__}: {exc}") from exc
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                attempt += 1
                if kind == "transient":
                    self.metrics.retries.labels(self.name, logical).inc()
                    log.warning("transient failure on %s, retrying in %.2fs", logical, delay, exc_info=True)
                else:
                    self.metrics.handled.labels(self.name, logical, "failed").inc()
                    log.exception(
                        "handling %s failed (attempt %s); the message is kept and tried again in %.0fs",
                        logical,
                        attempt,
                        delay,
                    )
                await asyncio.sleep(delay)

    async def _dead_letter(self, logical: str, raw: bytes, exc: Exception) -> None:
        reason = (
            exc.reason
            if isinstance(exc, PoisonMessage)
            else (
                "invalid_message"
                if isinstance(exc, ValidationError)
                else "too_deep"
                if isinstance(exc, RecursionError)
                else "unreadable_message"
            )
        )
        detail = _describe(exc)
        # the original is sealed under the deployment's data keyring (runtime.sealing): whatever a
        # sender put in clear, a dead letter does not repeat it (dead_letter_original opens it)
        record: dict[str, Any] = {
            "dead_letter_id": str(uuid.uuid4()),
            "service": self.name,
            "topic": logical,
            "reason": reason,
            "detail": detail[:4000],
            "at": self.clock.now().isoformat(),
            "original": None,
            "original_sealed": keyring().seal(_as_text(raw), SHARED_SCOPE),
            **peek_ids(raw),
        }
        if len(raw) > DEAD_LETTER_MAX_BYTES:  # kept whole in this service's database, referenced here
            await self.db["dead_letters"].insert_one(
                {
                    "_id": record["dead_letter_id"],
                    "topic": logical,
                    "original": keyring().seal(_as_text(raw), SHARED_SCOPE),  # at rest: sealed
                    "at": self.clock.now(),
                }
            )
            record["original_sealed"] = None
            record["original_ref"] = {"collection": "dead_letters", "id": record["dead_letter_id"], "bytes": len(raw)}
        await self._send(
            self.topic(DEAD_LETTER),
            logical.encode(),
            json.dumps(record).encode(),
            {"content-type": "application/json", "type": "ops.dead-letter"},
        )
        self.metrics.dead_letters.labels(self.name, logical, reason).inc()
        self.metrics.handled.labels(self.name, logical, "dead_lettered").inc()
        tracing.mark("dead_lettered")
        log.warning("dead-lettered a message on %s: %s: %s", logical, reason, detail[:300])


def dead_letter_original(record: dict) -> str | None:
    """The original bytes of a dead letter (``ops.dead-letter.v1``) as text, opened with the
    deployment's data keyring; None when it was too large to travel (``original_ref`` names where
    it is kept)."""
    sealed = record.get("original_sealed")
    return keyring().open(sealed) if sealed else record.get("original")


async def _headers_it_can_read(records: tuple, original: Callable[[tuple], Awaitable[Any]]) -> Any:
    """FastStream's batch parser decodes every header as UTF-8: one record with a header that is
    not would fail the whole poll, and every record in it would go unhandled. The parser is given
    the headers it can decode; the message keeps the records as they came (``_consume`` reads the
    signature as bytes, and one that is not UTF-8 is a dead letter like any unreadable signature)."""
    readable = tuple(
        record
        if all(_utf8(v) for _, v in record.headers or ())
        else replace(record, headers=[(k, v) for k, v in record.headers if _utf8(v)])
        for record in records
    )
    message = await original(readable)
    message.raw_message = records
    return message


def _utf8(value: bytes | None) -> bool:
    try:
        (value or b"").decode()
        return True
    except UnicodeDecodeError:
        return False


async def _raw_records(msg: Any) -> tuple:
    """The batch's records as aiokafka gave them (bytes, headers, partition, offset)."""
    return msg.raw_message


def _claimed_times(envelope: Envelope) -> list[tuple[str, datetime]]:
    """The moments a sender claims: the envelope's ``occurred_at`` and the payload's ``*_at`` fields."""
    claimed = [("occurred_at", envelope.occurred_at)]
    for field in type(envelope.payload).model_fields:
        value = getattr(envelope.payload, field, None)
        if field.endswith("_at") and isinstance(value, datetime):
            claimed.append((field, value))
    return claimed


def _describe(exc: Exception) -> str:
    """The detail of a dead letter or refusal: short, and with no ID number in clear (``redact``)."""
    try:
        if isinstance(exc, ValidationError):
            text = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10])
        else:
            text = str(exc)
    except Exception:  # an exception whose text cannot be made: its class still says what happened
        text = ""
    return redact(text[:4000]) or type(exc).__name__


def _as_text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.hex()
