"""Helpers shared by the integration and end-to-end tiers: the stack, service processes,
and a test client that publishes and reads messages over the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from contracts.envelope import Envelope
from contracts.parties import Agency
from contracts.registry import ALL_TOPICS
from contracts.topics import SERVICES
from contracts.values import SHANGHAI
from runtime.client import PartyClient
from runtime.config import Settings
from runtime.consuming import dead_letter_original
from runtime.embedded import EmbeddedStack, free_port
from runtime.parties import ParticipantRegistry, Signer, init_keys
from runtime.topics import DEAD_LETTER, create_topics
from runtime.wire import WireOpener

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stack:
    bootstrap: str
    mongodb_uri: str
    kind: str
    idempotence: bool
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    keys_dir: Path = field(default_factory=lambda: test_keys())

    def env(self, prefix: str) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "MONGODB_URI": self.mongodb_uri,
            "YIDI_TOPIC_PREFIX": prefix,
            "YIDI_KAFKA_IDEMPOTENCE": str(self.idempotence).lower(),
            "YIDI_KEYS_DIR": str(self.keys_dir),
        }


_KEYS: Path | None = None


def test_keys() -> Path:
    """One key directory per test session: every registry party gets a development key pair, as
    `make run` does on first start (private keys live outside the tree and are never committed)."""
    global _KEYS
    if _KEYS is None:
        import tempfile

        _KEYS = Path(tempfile.mkdtemp(prefix="yidi-test-keys-"))
        init_keys(_KEYS)
        from runtime.privacy import ensure_dev_secrets

        ensure_dev_secrets(_KEYS)
    return _KEYS


@functools.cache
def _sample_registry() -> ParticipantRegistry:
    """The sample registry, read once per test session (every publish asks it for a default sender)."""
    return ParticipantRegistry.load()


def default_sender(topic: str, payload: BaseModel) -> str:
    """Whom a test's message comes from unless it says: the institution a HIS command names, the
    service that produces an internal topic, else the agency of the payload's region (the national
    agency when the payload names none)."""
    spec = ALL_TOPICS[topic]
    body = getattr(payload, "root", payload)
    if spec.producer == "his":
        return str(body.institution_code)
    if spec.producer in SERVICES:
        return spec.producer
    registry = _sample_registry()
    for region_field in ("insured_region", "requester_region", "treating_region"):
        region = getattr(body, region_field, None)
        agency = registry.agency_of(str(region)) if region else None
        if isinstance(agency, Agency):
            return agency.code
    return "A000000"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def pick_stack() -> Iterator[Stack]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("MONGODB_URI"):
        yield Stack(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URI"], "given", True)
    elif _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.mongodb import MongoDbContainer

        with KafkaContainer().with_kraft() as kafka, MongoDbContainer("mongo:7") as mongo:
            yield Stack(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers", True)
    else:
        embedded = EmbeddedStack().start()
        try:
            yield Stack(embedded.bootstrap, embedded.mongodb_uri, "embedded", False)
        finally:
            embedded.stop()


def new_prefix(stack: Stack, label: str) -> str:
    """Topic prefix and database suffix unique to one test, so tests never collide."""
    return f"t{stack.run_id}-{label}-{uuid.uuid4().hex[:6]}."


def imports_of(path: Path) -> list[str]:
    """The modules a source file imports by absolute name (``import a.b``, ``from a.b import c``),
    for the tests that hold the layout to its rules."""
    import ast

    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
    return modules


STARTED: list[ServiceProcess] = []  # the processes the running test started (its failure report shows their logs)


class ServiceProcess:
    """One service instance as its own OS process, exactly as it runs in production."""

    def __init__(self, stack: Stack, service: str, prefix: str, **env: str) -> None:
        self.stack, self.service, self.prefix = stack, service, prefix
        self.port = free_port()
        self.database = f"{prefix.strip('.').replace('-', '_').replace('.', '_')}_{service}"
        self.env = {
            **os.environ,
            **stack.env(prefix),
            "YIDI_SERVICE": service,
            "YIDI_METRICS_PORT": str(self.port),
            "YIDI_MONGODB_DATABASE": self.database,
            "YIDI_CLOCK": "controlled",
            "YIDI_OUTBOX_SWEEP_SECONDS": "0.5",
            "YIDI_DEADLINE_POLL_SECONDS": "0.2",
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self.log = Path(f"/tmp/yidi-test-{prefix}{service}-{self.port}.log")

    def start(self, wait: bool = True, **extra_env: str) -> ServiceProcess:
        STARTED.append(self)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "service", self.service],
            env={**self.env, **extra_env},
            cwd=ROOT,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} exited ({self.proc.returncode}); log:\n{self.tail()}")
            with contextlib.suppress(Exception):
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            time.sleep(0.3)
        raise RuntimeError(f"{self.service} not healthy in {timeout}s; log:\n{self.tail()}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def get(self, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """A GET on the service's HTTP port (a signed query: runtime.query), its status and body."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{target}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read()

    def business_time(self) -> datetime:
        """The service's business time, as its /metrics shows it."""
        return datetime.fromtimestamp(self.metric("yidi_business_time_seconds"), UTC)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc
        return self.proc.wait(timeout)

    def tail(self, n: int = 60) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def warnings(self, n: int = 40) -> str:
        """The last ``n`` lines of its log at WARNING or above (what a failed test shows of it)."""
        with contextlib.suppress(FileNotFoundError):
            lines = [
                line[:600]
                for line in self.log.read_text(errors="replace").splitlines()
                if any(f'"level": "{level}"' in line for level in ("WARNING", "ERROR", "CRITICAL"))
            ]
            return "\n".join(lines[-n:])
        return ""

    async def db(self):
        client = AsyncMongoClient(self.stack.mongodb_uri, tz_aware=True)
        return client, client[self.database]


class Bus:
    """Publishes envelopes and reads topics over the real broker, as an HIS adapter would."""

    def __init__(self, stack: Stack, prefix: str) -> None:
        self.stack, self.prefix = stack, prefix
        self.producer: AIOKafkaProducer | None = None
        self.clock_offset = 0.0  # business time − wall time, as the last set_clock made it
        self.client: PartyClient | None = None

    def signer(self, code: str) -> Signer:
        assert self.client
        return self.client.signer(code)

    def open_result(self, payload: dict) -> dict:
        """A ``settlement.result.v2`` payload opened as the hospital it is sealed to would (its key)."""
        assert self.client
        return self.client.open_result(payload)

    def business_now(self) -> datetime:
        from datetime import timedelta

        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def follow_clock(self, proc: ServiceProcess) -> None:
        """Stamp messages with the business time a running service shows: for a Bus that did not
        set the clock itself (another Bus did, e.g. a module fixture's), so receipt-time checks
        (clock skew) see the time the system is at, not the wall clock."""
        self.clock_offset = (proc.business_time() - datetime.now(UTC)).total_seconds()

    async def __aenter__(self) -> Bus:
        await create_topics(self.stack.bootstrap, self.prefix, **Settings().topic_scale())
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.stack.bootstrap, acks="all", enable_idempotence=self.stack.idempotence
        )
        await self.producer.start()
        self.client = PartyClient(self.producer, self.stack.keys_dir, self.prefix)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.producer:
            await self.producer.stop()

    async def publish(
        self,
        topic: str,
        payload: BaseModel,
        *,
        producer: str = "test",
        now: datetime | None = None,
        event_id: uuid.UUID | None = None,
        correlation_id: uuid.UUID | None = None,
        sender: str | None = None,
    ) -> Envelope:
        """Publish as a registry party (default: ``default_sender``), signed with its key, stamped
        with the business time (or ``now``)."""
        assert self.client
        return await self.client.send(
            topic,
            payload,
            sender=sender or default_sender(topic, payload),
            now=now or self.business_now(),
            producer=producer,
            event_id=event_id,
            correlation_id=correlation_id,
        )

    async def send_raw(self, topic: str, value: bytes, key: str = "k", *, sign_as: str | None = "") -> None:
        """Send bytes as they are, signed by ``sign_as`` (default: the envelope's sender when the
        bytes name one, else the national agency; None: unsigned)."""
        assert self.client
        if sign_as == "":
            try:
                sign_as = json.loads(value).get("sender") or "A000000"
            except (ValueError, AttributeError, UnicodeDecodeError):
                sign_as = "A000000"
        await self.client.send_bytes(topic, value, key, sign_as=sign_as)

    async def set_clock(self, when: datetime) -> None:
        from runtime.clock import OPERATOR, clock_command_set, clock_headers
        from runtime.topics import CLOCK

        assert self.producer and self.client
        value = clock_command_set(when)  # signed by the registry's operator party, as `yidi clock` does
        await self.producer.send_and_wait(
            self.prefix + CLOCK, value, partition=0, headers=clock_headers(self.client.signer(OPERATOR), value)
        )
        self.clock_offset = (when - datetime.now(UTC)).total_seconds()

    async def read(self, topic: str, until: Callable[[list[dict]], bool], timeout: float = 30) -> list[dict]:
        """Every message on ``topic`` from its start, as dicts, once ``until(messages)`` holds."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.stack.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            name = self.prefix + topic
            partitions = consumer.partitions_for_topic(name) or set()
            if not partitions:
                await consumer.force_metadata_update() if hasattr(consumer, "force_metadata_update") else None
                partitions = consumer.partitions_for_topic(name) or set(range(4))
            tps = [TopicPartition(name, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            seen: list[dict] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    seen += [wire_json(topic, r.value) for r in records]
                if until(seen):
                    return seen
            raise AssertionError(f"timed out on {topic}: {len(seen)} messages, last: {seen[-3:]}")
        finally:
            await consumer.stop()


@functools.cache
def _opener() -> WireOpener:
    return WireOpener.from_keys_dir(test_keys())


def wire_open(topic: str, value: bytes) -> bytes:
    """A record's value with its sealed payload opened (``runtime.wire``), as its reader sees it."""
    return _opener().open(topic, value)


def wire_json(topic: str, value: bytes) -> dict:
    """A record of ``topic`` (logical name) as the party it is sealed to reads it: its payload opened
    (``runtime.wire``), a dead letter's original opened (``dead_letter_original``)."""
    message = json.loads(_opener().open(topic, value))
    if topic == DEAD_LETTER and isinstance(message, dict) and message.get("original_sealed"):
        original = dead_letter_original(message) or ""
        try:  # what the dead-lettering service received, its payload opened as it would have
            message["original"] = _opener().open(str(message.get("topic")), original.encode()).decode()
        except ValueError:
            message["original"] = original
    return message


async def eventually(check: Callable[[], Any], timeout: float = 30, interval: float = 0.2) -> Any:
    """Await ``check()`` until it returns something truthy without raising."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
        except AssertionError as exc:
            last = exc
        await asyncio.sleep(interval)
    raise AssertionError(f"not reached in {timeout}s") from last


def at(month: int, day: int, hour: int = 10) -> datetime:
    """A business moment of 2026, on the hour in Asia/Shanghai (the wire tests' year)."""
    return datetime(2026, month, day, hour, 0, tzinfo=SHANGHAI)


async def caught_up(proc: ServiceProcess, timeout: float = 30) -> bool:
    """Whether ``proc``'s consumer group has handled every record its topics hold now (within
    ``timeout``): what was sent to it has taken effect, as ``runtime.background.consumed`` tells the
    simulator before it moves the clock."""
    from runtime.background import consumed
    from runtime.config import Settings

    settings = Settings(service=proc.service, kafka_bootstrap_servers=proc.stack.bootstrap, topic_prefix=proc.prefix)
    topics = [proc.prefix + name for name, spec in ALL_TOPICS.items() if proc.service in spec.consumers]
    return await consumed(settings, settings.group_id, topics, timeout)


async def move(bus: Bus, procs: ServiceProcess | list[ServiceProcess], when: datetime) -> None:
    """Set the business clock and wait until every service in ``procs`` shows it (so what follows
    is received then). First every one of them has handled what it was sent: a message still unread
    when the clock jumps would be received at the new time (a settlement of August reaching clearing
    after its period was generated waits for the next one, C-02)."""
    procs = procs if isinstance(procs, list) else [procs]
    for proc in procs:
        await caught_up(proc)
    await bus.set_clock(when)

    async def there() -> bool:
        return all(abs((p.business_time() - when).total_seconds()) < 60 for p in procs)

    await eventually(there)


async def answer_to(bus: Bus, sent) -> dict:
    """The refusal (``party.refused.v1``) of the message ``sent``."""
    answers = await bus.read(
        "party.refused.v1", lambda m: any(r["payload"]["refused_event_id"] == str(sent.event_id) for r in m)
    )
    return next(r["payload"] for r in answers if r["payload"]["refused_event_id"] == str(sent.event_id))


def completed_settlement(
    settlement_id: str,
    *,
    insured_region: str,
    treating_region: str,
    settled_on,
    funds: dict[str, str],
    insurance_type: str = "310",
    cash: str = "0.00",
    institution_code: str = "H34010400002",
    person_id: str = "11010519491231002X",
):
    """A valid ``settlement.completed.v1`` payload with the given fund amounts (for clearing and
    prepayment tests that need a settlement without running the settlement service)."""
    from decimal import Decimal

    from contracts.settlement import SettlementCompleted
    from contracts.settlement_values import FundAmount, SettlementSlip
    from kernel.clearing_month import clearing_month_of

    lines = [FundAmount(code=code, name=code, amount=amount) for code, amount in funds.items()]
    fund_total = sum((line.amount for line in lines), Decimal("0.00"))
    account = sum((line.amount for line in lines if line.code.value == "personal_account"), Decimal("0.00"))
    total = fund_total + Decimal(cash)
    slip = SettlementSlip(
        total=total,
        in_scope=total,
        b_class_self_pay="0.00",
        over_limit_self_pay="0.00",
        self_paid="0.00",
        deductible_applied="0.00",
        funds=lines,
        fund_total=fund_total,
        personal_account=account,
        personal_cash=cash,
    )
    return SettlementCompleted(
        settlement_id=settlement_id,
        request_id=f"R-{settlement_id}",
        person_id=person_id,
        institution_code=institution_code,
        hospital_level="3",
        insurance_type=insurance_type,
        medical_type="inpatient",
        insured_region=insured_region,
        treating_region=treating_region,
        cross_province=insured_region[:2] != treating_region[:2],
        clearing_month=clearing_month_of(settled_on),
        visit_id=f"V-{settlement_id}",
        settled_on=settled_on,
        settlement_year=settled_on.year,
        eligibility_basis="long_term",
        ratio_applied="0.70",
        rate_basis="local",
        slip=slip,
    )


def add_console_user(console: ServiceProcess, username: str, agency: str, role: str, password: str) -> None:
    """A console login, made the way an operator makes one: ``yidi console user add`` (password on stdin)."""
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "console", "user", "add", username]
        + ["--agency", agency, "--role", role, "--password-stdin"],
        input=password + "\n",
        env=console.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
