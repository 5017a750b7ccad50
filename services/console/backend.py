"""How the console reads and acts, always as the logged-in user's agency (003 §5 (三)).

* ``Reader``: the services' signed query APIs (``runtime.query``), each GET signed with the agency's
  key (``runtime.parties.signer_for``) and stamped with business time, so a service answers only what
  that agency may see.
* ``Actor``: commands published as the agency (``runtime.client.PartyClient``). The outcome of one is
  known in one of two ways: a refusal on ``party.refused.v1`` naming its event id (followed from the
  topic's end by ``RefusalWatcher``, each record's signature checked), or the change it asked for
  becoming visible through the query API (the caller says what to look for). Whichever comes first
  within ``outcome_wait_seconds`` is shown; else the page says the command was sent and is pending.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.parties import CommandRefused, ServiceParty
from runtime.client import PartyClient
from runtime.control import RegistryChanges
from runtime.follow import TopicFollower
from runtime.parties import ParticipantRegistry, Signer, Unauthenticated, signed_envelope, signer_for
from runtime.query import sign_request

log = logging.getLogger(__name__)
REFUSED = "party.refused.v1"
KEPT_REFUSALS = 10_000


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    disposition: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200

    def json(self):
        return json.loads(self.body)

    @property
    def message(self) -> str:
        """A refusal's reason as the service gave it."""
        try:
            return str(self.json().get("message", ""))
        except (ValueError, AttributeError):
            return self.body.decode(errors="replace")[:300]


class Reader:
    def __init__(self, urls: Callable[[str], str], keys_dir: str, now: Callable[[], datetime]) -> None:
        self.urls, self.keys_dir, self.now = urls, keys_dir, now
        self.http = httpx.AsyncClient(timeout=15)
        self._signers: dict[str, Signer] = {}

    def signer(self, agency: str) -> Signer:
        if agency not in self._signers:
            self._signers[agency] = signer_for(self.keys_dir, agency)
        return self._signers[agency]

    async def get(self, service: str, agency: str, path: str, **params: str | None) -> Answer:
        target, headers = sign_request(self.signer(agency), path, at=self.now(), **params)
        try:
            r = await self.http.get(self.urls(service) + target, headers=headers)
        except httpx.HTTPError as exc:
            return Answer(
                503, json.dumps({"message": f"{service} 服务不可达: {type(exc).__name__}"}).encode(), "application/json"
            )
        return Answer(
            r.status_code, r.content, r.headers.get("content-type", ""), r.headers.get("content-disposition", "")
        )

    async def get_json(self, service: str, agency: str, path: str, **params: str | None):
        """The JSON answer, or None when the service has nothing to show (404)."""
        answer = await self.get(service, agency, path, **params)
        if answer.status == 404:
            return None
        if not answer.ok:
            raise QueryFailed(answer)
        return answer.json()

    async def close(self) -> None:
        await self.http.aclose()


class QueryFailed(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(f"{answer.status}: {answer.message}")
        self.answer = answer


class TopicTail:
    """Follows ``topics`` (physical names, every partition) from their end as of ``start``, handing each
    record to ``_take``; what a command causes is therefore seen only if sent after ``start``. The
    waiters of the commands being watched, by event id (``forget`` drops one that gave up)."""

    def __init__(self, bootstrap: str, topics: list[str], **client_options: Any) -> None:
        self.bootstrap, self.topics, self.options = bootstrap, topics, client_options
        self._waiters: dict[str, asyncio.Future] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **self.options)
        await consumer.start()
        await consumer.topics()
        tps = [TopicPartition(topic, p) for topic in self.topics for p in (consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # fix the starting point now, before any command is sent
            await consumer.position(tp)
        self._task = asyncio.create_task(self._follow(consumer))

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for record in records:
                        self._take(record)
        finally:
            await consumer.stop()

    def _take(self, record) -> None:
        raise NotImplementedError

    def forget(self, event_id: str) -> None:
        self._waiters.pop(event_id, None)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class RefusalWatcher(TopicTail):
    """Refusals answered to the console's agencies, by the id of the refused message, from the moment
    the console started (``party.refused.v1`` is keyed by sender: every partition is followed)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        parties: ParticipantRegistry,
        now: Callable[[], datetime],
        **client_options: Any,
    ) -> None:
        super().__init__(bootstrap, [topic], **client_options)
        self.topic, self.parties, self.now = topic, parties, now
        self.seen: OrderedDict[str, dict] = OrderedDict()

    def _take(self, record) -> None:
        try:
            sender, envelope = signed_envelope(self.parties, record, CommandRefused, self.now())
        except Unauthenticated as exc:
            log.warning("refusal at offset %s ignored: %s", record.offset, exc)
            return
        if not isinstance(sender, ServiceParty):
            return  # only the platform's services answer refusals
        payload = envelope.payload.model_dump(mode="json")
        refused = str(payload.get("refused_event_id"))
        self.seen[refused] = payload
        while len(self.seen) > KEPT_REFUSALS:
            self.seen.popitem(last=False)
        waiter = self._waiters.pop(refused, None)
        if waiter and not waiter.done():
            waiter.set_result(payload)

    def waiter(self, event_id: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if event_id in self.seen:
            fut.set_result(self.seen[event_id])
        else:
            self._waiters[event_id] = fut
        return fut


def registry_follower(
    parties: ParticipantRegistry,
    bootstrap: str,
    topic: str,
    now: Callable[[], datetime],
    max_skew_seconds: float,
    **client_options: Any,
) -> TopicFollower:
    """The participant registry's changes (``parties.change.v2``), applied as every service applies them
    (``runtime.control.RegistryChanges``: the national agency's, fresh, each party's versions in order),
    so a new agency key or a new agency is known here as soon as the services know it."""
    changes = RegistryChanges(parties, now, max_skew_seconds)
    return TopicFollower(bootstrap, topic, changes.apply, on_caught_up=changes.caught_up, **client_options)


@dataclass(frozen=True)
class ActionOutcome:
    kind: str  # done | refused | pending
    message: str
    refusal: dict | None = None
    event_id: str = ""


class Actor:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        keys_dir: str,
        prefix: str,
        watcher: RefusalWatcher,
        now: Callable[[], datetime],
        wait_seconds: float,
    ) -> None:
        self.client = PartyClient(producer, keys_dir, prefix)
        self.watcher, self.now, self.wait_seconds = watcher, now, wait_seconds

    async def act(
        self, topic: str, payload: BaseModel, agency: str, settled: Callable[[], Awaitable[bool]] | None = None
    ) -> ActionOutcome:
        """Send ``payload`` as ``agency``; wait for its refusal, or for ``settled()`` to hold."""
        event_id = uuid.uuid4()
        refusal = self.watcher.waiter(str(event_id))
        env: Envelope = await self.client.send(
            topic, payload, sender=agency, now=self.now(), producer="console", event_id=event_id
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        try:
            while loop.time() < deadline:
                try:
                    found = await asyncio.wait_for(asyncio.shield(refusal), 0.4)
                    return ActionOutcome("refused", found.get("message", ""), found, str(env.event_id))
                except TimeoutError:
                    pass
                if settled is not None and await settled():
                    return ActionOutcome("done", "已生效", None, str(env.event_id))
            return ActionOutcome("pending", "指令已签名发送，尚未看到处理结果；稍后刷新查看", None, str(env.event_id))
        finally:
            self.watcher.forget(str(event_id))
