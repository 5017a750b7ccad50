"""The runtime every service shares: a FastStream app whose subscribers come from the
service's handler registry, with dead-lettering, retries, the aggregate store, persisted
deadlines, business clock, metrics, health and graceful shutdown. No business rules here."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pymongo import AsyncMongoClient

from contracts.envelope import Envelope
from contracts.parties import PARTY_CHANGES
from contracts.registry import ALL_TOPICS
from runtime import query, tracing
from runtime.asyncapi import service_document
from runtime.authority import AuthorityTable
from runtime.background import Background
from runtime.clock import Clock, ControlledClock, WallClock, clock_follower
from runtime.config import Settings
from runtime.consuming import Consuming, Handler, Refuser
from runtime.control import RegistryChanges
from runtime.deadlines import DeadlineStore
from runtime.dispatch import PartitionDispatcher
from runtime.envelopes import envelope_for, key_for
from runtime.failures import PoisonMessage
from runtime.follow import TopicFollower
from runtime.logs import configure as configure_logs
from runtime.metrics import RuntimeMetrics
from runtime.openapi import document as openapi_document
from runtime.outbox import OutboxRelay
from runtime.parties import ParticipantRegistry, signer_for
from runtime.store import AggregateStore
from runtime.topics import CLOCK, create_topics, physical
from runtime.wire import WireOpener, WireSealer

log = logging.getLogger(__name__)


class Service(Consuming, Background):
    """One instance of one service. Build it, register handlers, then ``run()``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.service
        self.instance = settings.instance or f"{socket.gethostname()}:{os.getpid()}"
        configure_logs(self.name, self.instance, settings.log_level)
        tracing.configure(self.name, self.instance)  # only when an OTLP endpoint is set (runtime.tracing)
        self.registry = CollectorRegistry()
        self.metrics = RuntimeMetrics(self.registry, self.name)
        self.clock: Clock = ControlledClock() if settings.clock == "controlled" else WallClock()
        self.metrics.business_time.labels(self.name).set_function(lambda: self.clock.now().timestamp())
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            client_id=f"yidi-{self.name}",
            enable_idempotence=settings.kafka_idempotence,
            acks="all",
            linger_ms=1,
            security=_broker_security(settings),
            middlewares=[KafkaPrometheusMiddleware(registry=self.registry, app_name=f"yidi-{self.name}")],
            logger=logging.getLogger("faststream"),
            log_level=logging.DEBUG,
        )
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=15000
        )
        self.db = self.mongo[settings.database]
        self.deadlines = DeadlineStore(self.db)
        self.relay = OutboxRelay(
            self._send, self.deadlines, self.topic, self.clock.now, refused=self._refused_by_broker
        )
        self.store = AggregateStore(
            self.db,
            self.relay,
            producer=self.name,
            now=self.clock.now,
            fault=settings.fault,
            on_conflict=self._count_conflict,
        )
        self.handlers: dict[str, Handler] = {}
        # who this instance is, and who everyone else is (003 §5 (三))
        self.parties = ParticipantRegistry.load(settings.keys_dir, suite=settings.crypto_suite)
        self.signer = signer_for(settings.keys_dir, settings.party or self.name)
        self.sealer = WireSealer(self.parties, self.signer.code)  # personal payloads sealed to their readers
        self.opener = WireOpener.of(self.signer.keys)  # and opened with this party's key (runtime.wire)
        self.authority: AuthorityTable | None = None
        self.metrics.registry_parties.labels(self.name).set_function(lambda: len(self.parties.parties))
        self.refusers: dict[str, Refuser] = {}  # topic → how its sender hears a refusal (default party.refused)
        self._tasks: list[asyncio.Task] = []
        self._followers: list[TopicFollower] = []
        self.dispatcher: PartitionDispatcher | None = None
        self._stale_checked = 0.0
        self._fault_dropped: uuid.UUID | None = None  # fault injection 'drop_one:<topic>': the event dropped
        # extra HTTP routes of this service on its port, (path, FastStream asgi handler), e.g. a query API
        self.routes: list[tuple[str, Any]] = []
        self.query_specs: list[query.QuerySpec] = []
        # a service's own gauges read from stored state, (seconds, job, what): run every so often once started
        self.periodic: list[tuple[float, Callable[[], Awaitable[Any]], str]] = []

    # ------------------------------------------------------------ wiring
    def topic(self, logical: str) -> str:
        return physical(logical, self.settings.topic_prefix)

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

    # ------------------------------------------------------------ publishing
    async def _send(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        """Every record this instance publishes leaves here: a personal payload sealed to its
        readers (``runtime.wire``), then the whole value signed as its party."""
        prefix = self.settings.topic_prefix
        value = self.sealer.seal(topic[len(prefix) :] if topic.startswith(prefix) else topic, value)
        headers = tracing.with_context(headers)  # the handled message's trace goes on (runtime.tracing)
        await self.broker.publish(value, topic=topic, key=key, headers={**headers, **self.signer.headers(value)})

    async def _refused_by_broker(self, logical: str, value: bytes, exc: Exception) -> None:
        """An outbox entry the broker refuses for good (over its size limit…): dead-lettered, not sent again."""
        await self._dead_letter(logical, value, PoisonMessage("refused_by_broker", f"{type(exc).__name__}: {exc}"))

    async def publish(
        self,
        logical: str,
        payload: Any,
        *,
        cause: Envelope | None = None,
        name: str = "",
        key: str | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        """Publish directly (no state change tied to it, e.g. a reply computed from stored state)."""
        env = envelope_for(
            logical,
            payload,
            producer=self.name,
            now=self.clock.now(),
            cause=cause,
            name=name,
            event_id=event_id,
            sender=self.signer.code,
        )
        await self._send(
            self.topic(logical),
            key_for(logical, payload, key).encode(),
            env.model_dump_json().encode(),
            {"content-type": "application/json", "type": env.type},
        )
        return env

    # ------------------------------------------------------------ lifecycle
    async def _before_start(self) -> None:
        client = self.settings.kafka_client_options()
        await create_topics(
            self.settings.kafka_bootstrap_servers, self.settings.topic_prefix, **self.settings.topic_scale(), **client
        )
        await self.mongo.admin.command("ping")
        await self.deadlines.ensure_indexes()
        bootstrap = self.settings.kafka_bootstrap_servers
        changes = RegistryChanges(
            self.parties, self.clock.now, self.settings.max_clock_skew_seconds, self._count_party_change
        )
        # the registry first: the clock's commands are checked against it (signed by the operator)
        self._followers.append(
            TopicFollower(bootstrap, self.topic(PARTY_CHANGES), changes.apply, on_caught_up=changes.caught_up, **client)
        )
        if isinstance(self.clock, ControlledClock):
            self._followers.append(
                clock_follower(self.clock, self.parties, bootstrap, self.topic(CLOCK), self._count_clock, **client)
            )
        for follower in self._followers:
            await follower.start()
        await self.store.ensure_indexes()

    async def _after_start(self) -> None:
        await self._sweep_outboxes(0)  # what a crash left behind goes out first
        s = self.settings
        self._tasks = [
            asyncio.create_task(self._every(s.outbox_sweep_seconds, self._sweep_outboxes, "outbox sweep")),
            asyncio.create_task(self._every(s.deadline_poll_seconds, self._fire_deadlines, "deadlines")),
            # published entries leave their documents in batches: a busy aggregate is
            # cleaned once per round, not once per message
            asyncio.create_task(self._every(s.outbox_sweep_seconds, self.relay.cleanup, "outbox cleanup")),
            asyncio.create_task(self._every(5, self._report_deadlines, "deadline gauge")),
            asyncio.create_task(self._every(5, self._report_lag, "consumer lag")),
            *(asyncio.create_task(self._every(seconds, job, what)) for seconds, job, what in self.periodic),
        ]
        log.info("%s started: group %s, metrics on :%s", self.name, self.settings.group_id, s.metrics_port)

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

    def add_query(
        self,
        path: str,
        answer: query.Answer,
        *,
        summary: str = "",
        params: dict[str, str] | None = None,
        required: tuple[str, ...] = (),
        formats: tuple[str, ...] = ("json",),
    ) -> None:
        """A signed GET on this service's port (``runtime.query``): ``answer`` decides what the asking
        party may see. ``summary``, ``params`` (name → description), ``required`` and ``formats``
        describe it for the service's OpenAPI document."""
        self.query_specs.append(query.QuerySpec(path, summary, dict(params or {}), tuple(required), tuple(formats)))

        def count(route_path: str, status: str) -> None:
            self.metrics.queries.labels(self.name, route_path, status).inc()

        self.routes.append(
            (
                path,
                query.route(
                    answer,
                    parties=self.parties,
                    now=self.clock.now,
                    max_skew_seconds=self.settings.max_clock_skew_seconds,
                    count=count,
                ),
            )
        )

    def _count_party_change(self, kind: str, reason: str) -> None:
        """A registry change with no effect (runtime.control.RegistryChanges)."""
        if kind == "unauthenticated":
            self.metrics.unauthenticated.labels(self.name, PARTY_CHANGES, reason).inc()
        elif kind == "refused":
            self.metrics.refused.labels(self.name, PARTY_CHANGES, reason).inc()
        else:
            self.metrics.control_ignored.labels(self.name, PARTY_CHANGES, reason).inc()

    def _count_clock(self, reason: str) -> None:
        self.metrics.control_ignored.labels(self.name, CLOCK, reason).inc()

    def asgi(self) -> AsgiFastStream:
        """The app: FastStream subscribers plus /metrics, /health and /asyncapi on one port."""
        service = self

        @get
        async def metrics(scope: Any) -> AsgiResponse:
            return AsgiResponse(
                generate_latest(service.registry), status_code=200, headers={"content-type": CONTENT_TYPE_LATEST}
            )

        @get
        async def health(scope: Any) -> AsgiResponse:
            try:
                await asyncio.wait_for(service.mongo.admin.command("ping"), 2)
                ok = await asyncio.wait_for(service.broker.ping(timeout=2), 3)
            except Exception:
                ok = False
            body = json.dumps({"service": service.name, "instance": service.instance, "ok": bool(ok)}).encode()
            return AsgiResponse(body, status_code=200 if ok else 503, headers={"content-type": "application/json"})

        document: list[bytes] = []  # built on the first request

        @get
        async def asyncapi(scope: Any) -> AsgiResponse:
            if not document:
                s = service.settings
                document.append(
                    json.dumps(
                        service_document(service.name, s.kafka_bootstrap_servers, s.topic_prefix), ensure_ascii=False
                    ).encode()
                )
            return AsgiResponse(document[0], status_code=200, headers={"content-type": "application/json"})

        @get
        async def openapi(scope: Any) -> AsgiResponse:  # its signed queries (runtime/openapi.py)
            body = json.dumps(openapi_document(service.name, service.query_specs), ensure_ascii=False).encode()
            return AsgiResponse(body, status_code=200, headers={"content-type": "application/json"})

        self._subscribe()
        app = AsgiFastStream(
            self.broker,
            asgi_routes=[
                ("/metrics", metrics),
                ("/health", health),
                ("/asyncapi", asyncapi),
                ("/openapi.json", openapi),
                *self.routes,
            ],
            on_startup=[self._before_start],
            after_startup=[self._after_start],
            on_shutdown=[self._on_shutdown],
            after_shutdown=[self._after_shutdown],
            logger=logging.getLogger("faststream"),
        )
        return app

    def run(self) -> None:
        import uvicorn

        uvicorn.run(
            self.asgi(),
            host=self.settings.metrics_host,
            port=self.settings.metrics_port,
            log_config=None,
            timeout_graceful_shutdown=20,
            lifespan="on",
        )


def _broker_security(settings: Settings) -> BaseSecurity | None:
    """FastStream takes SASL credentials as a security object (aiokafka clients take keywords)."""
    options = settings.kafka_client_options()
    if not options:
        return None
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}[
        options["sasl_mechanism"]
    ]
    return kind(options["sasl_plain_username"], options["sasl_plain_password"], ssl_context=options.get("ssl_context"))
