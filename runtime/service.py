"""The runtime every service shares: a FastStream app whose subscribers come from the
service's handler registry, with dead-lettering, retries, the aggregate store, persisted
deadlines, business clock, metrics, health and graceful shutdown. No business rules here."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from datetime import datetime, timedelta
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from aiokafka.errors import KafkaConnectionError
from pymongo.errors import (AutoReconnect, ConnectionFailure, DocumentTooLarge, ExecutionTimeout, OperationFailure,
                            PyMongoError, WTimeoutError)

from contracts.envelope import Envelope, derived_event_id
from contracts.ops import DeadlineDue
from contracts.parties import ChangeParty, CommandRefused, RefusalReason, ServiceParty
from contracts.registry import ALL_TOPICS
from runtime.asyncapi import service_document
from runtime.openapi import document as openapi_document
from runtime.authority import AuthorityTable, Refusal, national_agency
from runtime.clock import Clock, ControlledClock, WallClock, clock_follower
from runtime.config import Settings
from runtime.dispatch import PartitionDispatcher
from runtime.follow import TopicFollower
from runtime.envelopes import envelope_for, key_for, parse, peek_ids
from runtime.logs import configure as configure_logs
from runtime.logs import correlation_id
from runtime import query
from runtime.metrics import RuntimeMetrics
from runtime.sealing import SHARED_SCOPE, keyring
from runtime.parties import SIGNATURE_HEADER, ParticipantRegistry, Unauthenticated, authenticate, signer_for
from runtime.store import AggregateStore, ConflictingCopy, DeadlineStore, OutboxRelay
from runtime.topics import CLOCK, DEAD_LETTER, create_topics, physical

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[str | None]]   # None: applied; else how it ended
Refuser = Callable[[str, Envelope, Refusal], Awaitable[None]]
PARTY_CHANGES = "parties.change.v1"
PARTY_REFUSED = "party.refused.v1"
RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 15.0, 30.0)
DEAD_LETTER_MAX_BYTES = 512 * 1024   # a dead letter always fits the broker (1 MB); larger originals are stored


def classify(exc: BaseException) -> str:
    """What a failure says about the message. Only the network and timeouts are ``transient``: the
    message waits and is tried again. Failures that will recur with the same input (decimal
    arithmetic, a document or record over its size limit, a write the database refuses) are
    ``poison``: dead-lettered with their reason, the partition moves on. Anything else is a fault of
    ours (``fault``): the message is tried again and again with backoff, its offset never advances,
    and the handler-failing alert pages someone; nothing is skipped silently."""
    if isinstance(exc, (AutoReconnect, ConnectionFailure, ExecutionTimeout, WTimeoutError, ConnectionError,
                        asyncio.TimeoutError)):
        return "transient"
    if isinstance(exc, KafkaError):
        return "transient" if getattr(exc, "retriable", False) or isinstance(exc, KafkaConnectionError) else "poison"
    if isinstance(exc, (ArithmeticError, DocumentTooLarge, OperationFailure, PyMongoError, ConflictingCopy)):
        return "poison"
    return "fault"


LAG_SECONDS = 10   # Prometheus scrapes every 10 s (deploy/prometheus.yml)


async def _committed(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The group's committed offsets of every partition in one OffsetFetch. ``committed()`` asks one
    partition per request (a service's 50-odd partitions cost 5 % of its CPU, profiled); the group
    coordinator it calls takes a list (aiokafka 0.14, pinned)."""
    if not partitions:
        return {}
    found = await consumer._coordinator.fetch_committed_offsets(partitions)
    return {tp: max(meta.offset, 0) for tp, meta in found.items()}


class PoisonMessage(Exception):
    """A message that is well-formed JSON but can never be handled; dead-lettered with ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Service:
    """One instance of one service. Build it, register handlers, then ``run()``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.service
        self.instance = settings.instance or f"{socket.gethostname()}:{os.getpid()}"
        configure_logs(self.name, self.instance, settings.log_level)
        self.registry = CollectorRegistry()
        self.metrics = RuntimeMetrics(self.registry, self.name)
        self.clock: Clock = ControlledClock() if settings.clock == "controlled" else WallClock()
        self.metrics.business_time.labels(self.name).set_function(lambda: self.clock.now().timestamp())
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers, client_id=f"yidi-{self.name}",
            enable_idempotence=settings.kafka_idempotence, acks="all", linger_ms=1, security=_broker_security(settings),
            middlewares=[KafkaPrometheusMiddleware(registry=self.registry, app_name=f"yidi-{self.name}")],
            logger=logging.getLogger("faststream"), log_level=logging.DEBUG)
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=15000)
        self.db = self.mongo[settings.database]
        self.deadlines = DeadlineStore(self.db)
        self.relay = OutboxRelay(self._send, self.deadlines, self.topic, self.clock.now)
        self.store = AggregateStore(self.db, self.relay, producer=self.name, now=self.clock.now, fault=settings.fault,
                                    on_conflict=self._count_conflict)
        self.handlers: dict[str, Handler] = {}
        # who this instance is, and who everyone else is (003 §5 (三))
        self.parties = ParticipantRegistry.load(settings.keys_dir)
        self.signer = signer_for(settings.keys_dir, settings.party or self.name)
        self.authority: AuthorityTable | None = None
        self.metrics.registry_parties.labels(self.name).set_function(lambda: len(self.parties.parties))
        self.refusers: dict[str, Refuser] = {}   # topic → how its sender hears a refusal (default party.refused)
        self._tasks: list[asyncio.Task] = []
        self._followers: list[TopicFollower] = []
        self.dispatcher: PartitionDispatcher | None = None
        self._stale_checked = 0.0
        self._fault_dropped = False   # fault injection 'drop_one:<topic>' (runtime/config.py)
        # extra HTTP routes of this service on its port, (path, FastStream asgi handler), e.g. a query API
        self.routes: list[tuple[str, Any]] = []
        self.query_specs: list[query.QuerySpec] = []

    # ------------------------------------------------------------ wiring
    def topic(self, logical: str) -> str:
        return physical(logical, self.settings.topic_prefix)

    @property
    def group_id(self) -> str:
        return f"{self.settings.topic_prefix}yidi-{self.name}"

    def register(self, handlers: dict[str, Handler], authority: AuthorityTable) -> None:
        """The service's registry (its ``handlers.py``): one handler per topic, and its authority
        table (``authority.py``): who may send each of them. A topic without a rule is not handled."""
        for logical in handlers:
            if logical not in ALL_TOPICS:
                raise KeyError(f"{logical} is not in the topic registry (contracts)")
            if logical not in authority.rules:
                raise KeyError(f"{logical} has no rule in the {self.name} authority table")
        self.handlers.update(handlers)
        self.authority = authority

    def _subscribe(self) -> None:
        """One consumer per instance for all the service's topics: one group member, so a
        rebalance moves whole partitions between instances at once. The handler is chosen by
        the record's topic; FastStream hands over the raw bytes so that what fails validation
        can be dead-lettered instead of blocking the partition."""
        by_topic = {self.topic(logical): logical for logical in self.handlers}

        async def process(topic: str, body: bytes, signature: bytes | None) -> None:
            await self._consume(by_topic[topic], body, signature)

        self.dispatcher = PartitionDispatcher(process)
        dispatcher = self.dispatcher

        async def consume(body: bytes, message: KafkaMessage) -> None:
            record = message.raw_message
            assert not isinstance(record, tuple), "one record at a time: a single subscriber, not a batch"
            signature = next((v for k, v in (record.headers or ()) if k == SIGNATURE_HEADER), None)
            await dispatcher.submit(message.consumer, record.topic, record.partition, record.offset, body, signature)

        # Offsets are committed by the dispatcher once records are handled (at least once).
        self.broker.subscriber(
            *by_topic, group_id=self.group_id, ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest", decoder=_raw_decoder, title=f"yidi-{self.name}",
            description=f"Every topic the {self.name} service consumes", session_timeout_ms=10000,
            group_instance_id=self.settings.group_instance_id or None,   # static membership (KIP-345), if set
            heartbeat_interval_ms=1000, max_poll_interval_ms=60000,
            fetch_max_wait_ms=self.settings.fetch_wait_ms,
        )(consume)
        # What this service receives and sends, with each payload schema, is described by
        # runtime.asyncapi from the registry (served at /asyncapi), not by FastStream declarations.

    # ------------------------------------------------------------ consuming
    async def _consume(self, logical: str, raw: bytes, signature: bytes | None = None) -> None:
        started = time.perf_counter()
        now = self.clock.now()
        try:   # who sent it comes before anything else: an unsigned message is not even parsed
            sender = authenticate(self.parties, raw, signature, now)
        except Unauthenticated as exc:
            await self._unauthenticated(logical, raw, exc)
            return
        try:
            envelope = self._parse(logical, raw)
        except (ValidationError, ValueError, PoisonMessage) as exc:
            await self._dead_letter(logical, raw, exc)
            await self._refuse_unreadable(logical, raw, sender.code, exc)
            return
        if envelope.sender != sender.code:
            await self._unauthenticated(logical, raw, Unauthenticated(
                "sender_mismatch", f"envelope names sender {envelope.sender}, signed by {sender.code}"))
            return
        refusal = self._authorise(logical, sender, envelope, now)
        if refusal:
            await self.refuse(logical, envelope, refusal)
            self.metrics.handle_seconds.labels(self.name, logical).observe(time.perf_counter() - started)
            return
        if isinstance(envelope.payload, DeadlineDue) and now < envelope.payload.due_at:
            await self._rearm(logical, envelope, raw)   # no effect before its due time
            return
        token = correlation_id.set(str(envelope.correlation_id))
        try:
            result = await self._with_retries(logical, envelope)
            self.metrics.handled.labels(self.name, logical, result).inc()
        except PoisonMessage as exc:
            if exc.reason == "refused_by_rule" and not isinstance(sender, ServiceParty):
                # a business answer to an agency or hospital, not an operational fault: its sender hears it
                await self.refuse(logical, envelope, Refusal(RefusalReason.REFUSED_BY_RULE, str(exc), rule=""))
            else:
                await self._dead_letter(logical, raw, exc)
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
            skew = abs((claimed - now).total_seconds())
            if skew > limit:
                return Refusal(RefusalReason.CLOCK_SKEW, f"{field} {claimed.isoformat()} is {skew:.0f}s from receipt "
                               f"{now.isoformat()} (at most {limit:.0f}s)", code="CLOCK_SKEW")
        return None

    async def refuse(self, logical: str, envelope: Envelope, refusal: Refusal) -> None:
        """No effect; the sender hears why (its service's refuser for the topic, else party.refused.v1)."""
        self.metrics.refused.labels(self.name, logical, refusal.code or refusal.reason.value).inc()
        log.warning("refused %s from %s: %s %s", logical, envelope.sender, refusal.reason.value, refusal.message)
        custom = self.refusers.get(logical)
        await (custom or self.party_refused)(logical, envelope, refusal)

    async def party_refused(self, logical: str, envelope: Envelope, refusal: Refusal) -> None:
        """The answer any party hears: ``party.refused.v1``, keyed by its code."""
        answer = CommandRefused(refused_event_id=envelope.event_id, topic=logical, sender=str(envelope.sender),
                                reason=refusal.reason, rule=refusal.rule, message=refusal.message[:2000],
                                service=self.name)
        await self.publish(PARTY_REFUSED, answer, cause=envelope)

    async def _refuse_unreadable(self, logical: str, raw: bytes, sender: str, exc: Exception) -> None:
        """A signed message that does not validate: its sender hears it too (not only the dead letter)."""
        ids = peek_ids(raw)
        try:
            event_id = uuid.UUID(str(ids.get("event_id")))
        except ValueError:
            event_id = uuid.uuid5(uuid.NAMESPACE_OID, raw.hex()[:2000])
        detail = _describe(exc)
        reason = RefusalReason.UNKNOWN_REGION if "UNKNOWN_REGION" in detail or "unknown_region" in detail \
            else RefusalReason.INVALID_MESSAGE
        self.metrics.refused.labels(self.name, logical, reason.value).inc()
        answer = CommandRefused(refused_event_id=event_id, topic=logical, sender=sender, reason=reason,
                                rule="S-19", message=detail[:2000], service=self.name)
        await self.publish(PARTY_REFUSED, answer, event_id=derived_event_id(event_id, PARTY_REFUSED))

    async def _unauthenticated(self, logical: str, raw: bytes, exc: Unauthenticated) -> None:
        self.metrics.unauthenticated.labels(self.name, logical, exc.reason).inc()
        await self._dead_letter(logical, raw, PoisonMessage("UNAUTHENTICATED", f"{exc.reason}: {exc}"))

    async def _rearm(self, logical: str, envelope: Envelope, raw: bytes) -> None:
        """A deadline read before it is due (another instance's clock ran ahead, or a copy): stored
        again for its due moment, which fires it once."""
        due: DeadlineDue = envelope.payload
        await self.deadlines.put({"deadline_id": str(due.deadline_id), "due_at": due.due_at, "topic": logical,
                                  "key": key_for(logical, due), "value": raw.decode(), "type": envelope.type})
        self.metrics.handled.labels(self.name, logical, "early").inc()

    def _parse(self, logical: str, raw: bytes) -> Envelope:
        spec = ALL_TOPICS[logical]
        envelope = parse(logical, raw)
        if envelope.type != spec.type or envelope.schema_version != spec.version:
            raise PoisonMessage("wrong_type", f"topic {logical} carries {spec.type} v{spec.version}, "
                                f"got {envelope.type} v{envelope.schema_version}")
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
                if self.settings.fault == f"drop_one:{logical}" and not self._fault_dropped:
                    self._fault_dropped = True   # a deliberately broken service: the recovery checks must see it
                    log.critical("fault injection: one %s message dropped without effect", logical)
                    return "dropped"
                result = await self.handlers[logical](envelope)
                return result if isinstance(result, str) else "applied"
            except PoisonMessage:
                raise
            except Exception as exc:
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
                    log.exception("handling %s failed (attempt %s); the message is kept and tried again in %.0fs",
                                  logical, attempt, delay)
                await asyncio.sleep(delay)

    async def _dead_letter(self, logical: str, raw: bytes, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, PoisonMessage) else (
            "invalid_message" if isinstance(exc, ValidationError) else "unreadable_message")
        detail = _describe(exc)
        record = {"dead_letter_id": str(uuid.uuid4()), "service": self.name, "topic": logical, "reason": reason,
                  "detail": detail[:4000], "at": self.clock.now().isoformat(), "original": _as_text(raw),
                  **peek_ids(raw)}
        if len(raw) > DEAD_LETTER_MAX_BYTES:   # kept whole in this service's database, referenced here
            await self.db["dead_letters"].insert_one({"_id": record["dead_letter_id"], "topic": logical,
                                                     "original": keyring().seal(_as_text(raw), SHARED_SCOPE),   # at rest: sealed
                                                     "at": self.clock.now()})
            record["original"] = None
            record["original_ref"] = {"collection": "dead_letters", "id": record["dead_letter_id"], "bytes": len(raw)}
        await self._send(self.topic(DEAD_LETTER), logical.encode(), json.dumps(record).encode(),
                         {"content-type": "application/json", "type": "ops.dead-letter"})
        self.metrics.dead_letters.labels(self.name, logical, reason).inc()
        self.metrics.handled.labels(self.name, logical, "dead_lettered").inc()
        log.warning("dead-lettered a message on %s: %s: %s", logical, reason, detail[:300])

    # ------------------------------------------------------------ publishing
    async def _send(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        """Every record this instance publishes leaves here, signed as its party."""
        await self.broker.publish(value, topic=topic, key=key, headers={**headers, **self.signer.headers(value)})

    async def publish(self, logical: str, payload: Any, *, cause: Envelope | None = None, name: str = "",
                      key: str | None = None, event_id: uuid.UUID | None = None) -> Envelope:
        """Publish directly (no state change tied to it, e.g. a reply computed from stored state)."""
        env = envelope_for(logical, payload, producer=self.name, now=self.clock.now(), cause=cause, name=name,
                           event_id=event_id, sender=self.signer.code)
        await self._send(self.topic(logical), key_for(logical, payload, key).encode(),
                         env.model_dump_json().encode(), {"content-type": "application/json", "type": env.type})
        return env

    # ------------------------------------------------------------ background work
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

    async def _fire_deadlines(self) -> None:
        await self.relay.release_due()
        now = self.clock.now()
        if time.monotonic() - self._stale_checked > self.deadlines.LEASE_SECONDS / 3:
            await self.deadlines.release_stale(now)
            self._stale_checked = time.monotonic()
        for due in await self.deadlines.due(now):
            claimed = await self.deadlines.claim(due["_id"], now)
            if not claimed:
                continue   # another instance took it
            await self._send(self.topic(claimed["topic"]), claimed["key"].encode(), claimed["value"].encode(),
                             {"content-type": "application/json", "type": claimed["type"]})
            await self.deadlines.mark_fired(claimed["_id"], now)
            self.metrics.deadlines_fired.labels(self.name, claimed["type"]).inc()

    async def _report_deadlines(self) -> None:
        counts = await self.deadlines.counts()
        counts["pending"] += len(self.relay.held)   # short deadlines not stored yet
        for status, count in counts.items():
            self.metrics.deadlines.labels(self.name, status).set(count)

    async def _report_lag(self) -> None:
        """Lag = end offset − the group's committed offset, per partition. Read through a
        consumer that names the group without joining it (OffsetFetch), so it works on
        brokers whose admin API differs and keeps reporting while handlers are stuck."""
        topics = [self.topic(t) for t in self.handlers]
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    group_id=self.group_id, enable_auto_commit=False,
                                    **self.settings.kafka_client_options())
        await consumer.start()
        try:
            while True:
                await consumer.topics()   # refreshes metadata for every topic
                tps = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
                ends = await consumer.end_offsets(tps) if tps else {}
                done = await _committed(consumer, list(ends))
                for tp, end in ends.items():
                    self.metrics.consumer_lag.labels(self.name, tp.topic, str(tp.partition)).set(
                        max(end - done.get(tp, 0), 0))
                await asyncio.sleep(LAG_SECONDS)
        finally:
            await consumer.stop()

    # ------------------------------------------------------------ lifecycle
    async def _before_start(self) -> None:
        client = self.settings.kafka_client_options()
        await create_topics(self.settings.kafka_bootstrap_servers, self.settings.topic_prefix,
                            **self.settings.topic_scale(), **client)
        await self.mongo.admin.command("ping")
        await self.deadlines.ensure_indexes()
        bootstrap = self.settings.kafka_bootstrap_servers
        if isinstance(self.clock, ControlledClock):
            self._followers.append(clock_follower(self.clock, bootstrap, self.topic(CLOCK), **client))
        self._followers.append(TopicFollower(bootstrap, self.topic(PARTY_CHANGES), self._party_change, **client))
        for follower in self._followers:
            await follower.start()
        await self.store.ensure_indexes()

    async def _after_start(self) -> None:
        await self._sweep_outboxes(0)   # what a crash left behind goes out first
        s = self.settings
        self._tasks = [asyncio.create_task(self._every(s.outbox_sweep_seconds, self._sweep_outboxes, "outbox sweep")),
                       asyncio.create_task(self._every(s.deadline_poll_seconds, self._fire_deadlines, "deadlines")),
                       # published entries leave their documents in batches: a busy aggregate is
                       # cleaned once per round, not once per message
                       asyncio.create_task(self._every(s.outbox_sweep_seconds, self.relay.cleanup, "outbox cleanup")),
                       asyncio.create_task(self._every(5, self._report_deadlines, "deadline gauge")),
                       asyncio.create_task(self._every(5, self._report_lag, "consumer lag"))]
        log.info("%s started: group %s, metrics on :%s", self.name, self.group_id, s.metrics_port)

    async def _on_shutdown(self) -> None:
        """Graceful: records already taken finish and their offsets are committed."""
        if self.dispatcher:
            await self.dispatcher.drain()
        await self.relay.cleanup()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for follower in self._followers:
            await follower.stop()

    async def _after_shutdown(self) -> None:
        await self.mongo.close()

    def _count_conflict(self, collection: str) -> None:
        self.metrics.version_conflicts.labels(self.name, collection).inc()

    def add_query(self, path: str, answer: "query.Answer", *, summary: str = "",
                  params: dict[str, str] | None = None, required: tuple[str, ...] = (),
                  formats: tuple[str, ...] = ("json",)) -> None:
        """A signed GET on this service's port (``runtime.query``): ``answer`` decides what the asking
        party may see. ``summary``, ``params`` (name → description), ``required`` and ``formats``
        describe it for the service's OpenAPI document."""
        self.query_specs.append(query.QuerySpec(path, summary, dict(params or {}), tuple(required), tuple(formats)))
        def count(route_path: str, status: str) -> None:
            self.metrics.queries.labels(self.name, route_path, status).inc()
        self.routes.append((path, query.route(answer, parties=self.parties, now=self.clock.now,
                                              max_skew_seconds=self.settings.max_clock_skew_seconds, count=count)))

    def _party_change(self, record: Any) -> None:
        """A registry change (parties.change.v1): applied when the national agency signed it."""
        signature = next((v for k, v in (record.headers or ()) if k == SIGNATURE_HEADER), None)
        try:
            sender = authenticate(self.parties, record.value, signature, self.clock.now())
            envelope = Envelope[ChangeParty].model_validate_json(record.value)
        except (Unauthenticated, ValidationError, ValueError) as exc:
            self.metrics.unauthenticated.labels(self.name, PARTY_CHANGES, getattr(exc, "reason", "invalid")).inc()
            log.warning("registry change at offset %s ignored: %s", record.offset, exc)
            return
        refusal = national_agency()(sender, envelope.payload, self.parties, self.clock.now())
        if refusal or envelope.sender != sender.code:
            self.metrics.refused.labels(self.name, PARTY_CHANGES, "UNAUTHORIZED").inc()
            log.warning("registry change %s from %s refused", envelope.payload.change_id, sender.code)
            return
        self.parties.apply(envelope.payload)
        log.info("participant registry: %s %s", envelope.payload.action.value,
                 envelope.payload.code or (envelope.payload.party.code if envelope.payload.party else ""))

    def asgi(self) -> AsgiFastStream:
        """The app: FastStream subscribers plus /metrics, /health and /asyncapi on one port."""
        service = self

        @get
        async def metrics(scope: Any) -> AsgiResponse:
            return AsgiResponse(generate_latest(service.registry), status_code=200,
                                headers={"content-type": CONTENT_TYPE_LATEST})

        @get
        async def health(scope: Any) -> AsgiResponse:
            try:
                await asyncio.wait_for(service.mongo.admin.command("ping"), 2)
                ok = await asyncio.wait_for(service.broker.ping(timeout=2), 3)
            except Exception:
                ok = False
            body = json.dumps({"service": service.name, "instance": service.instance, "ok": bool(ok)}).encode()
            return AsgiResponse(body, status_code=200 if ok else 503, headers={"content-type": "application/json"})

        document: list[bytes] = []   # built on the first request

        @get
        async def asyncapi(scope: Any) -> AsgiResponse:
            if not document:
                s = service.settings
                document.append(json.dumps(service_document(service.name, s.kafka_bootstrap_servers, s.topic_prefix),
                                           ensure_ascii=False).encode())
            return AsgiResponse(document[0], status_code=200, headers={"content-type": "application/json"})

        @get
        async def openapi(scope: Any) -> AsgiResponse:   # its signed queries (runtime/openapi.py)
            body = json.dumps(openapi_document(service.name, service.query_specs), ensure_ascii=False).encode()
            return AsgiResponse(body, status_code=200, headers={"content-type": "application/json"})

        self._subscribe()
        app = AsgiFastStream(
            self.broker, asgi_routes=[("/metrics", metrics), ("/health", health), ("/asyncapi", asyncapi),
                                      ("/openapi.json", openapi), *self.routes],
            on_startup=[self._before_start], after_startup=[self._after_start],
            on_shutdown=[self._on_shutdown], after_shutdown=[self._after_shutdown],
            logger=logging.getLogger("faststream"))
        return app

    def run(self) -> None:
        import uvicorn
        uvicorn.run(self.asgi(), host=self.settings.metrics_host, port=self.settings.metrics_port,
                    log_config=None, timeout_graceful_shutdown=20, lifespan="on")


async def _raw_decoder(msg: Any) -> bytes:
    return msg.body


def _broker_security(settings: Settings) -> BaseSecurity | None:
    """FastStream takes SASL credentials as a security object (aiokafka clients take keywords)."""
    options = settings.kafka_client_options()
    if not options:
        return None
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}[options["sasl_mechanism"]]
    return kind(options["sasl_plain_username"], options["sasl_plain_password"], ssl_context=options.get("ssl_context"))


def _claimed_times(envelope: Envelope) -> list[tuple[str, datetime]]:
    """The moments a sender claims: the envelope's ``occurred_at`` and the payload's ``*_at`` fields."""
    claimed = [("occurred_at", envelope.occurred_at)]
    for field in type(envelope.payload).model_fields:
        value = getattr(envelope.payload, field, None)
        if field.endswith("_at") and isinstance(value, datetime):
            claimed.append((field, value))
    return claimed


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10])
    return str(exc)


def _as_text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.hex()
