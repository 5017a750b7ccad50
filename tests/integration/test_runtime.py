"""The runtime's promises, over the real broker and database, through a real service process
(collab: a request opened is stored, announced and given a reply deadline, K-01/K-02)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import datetime, timedelta

import pytest
from support import Bus, ServiceProcess, eventually, new_prefix

from contracts.collab import OpenCollabRequest, ProblemType
from contracts.values import SHANGHAI

pytestmark = pytest.mark.integration
OPENED = "collab.request-opened.v1"


def open_request(ref: str, problem: ProblemType = ProblemType.OTHER, at: datetime | None = None) -> OpenCollabRequest:
    return OpenCollabRequest(
        request_ref=ref,
        requester_region="340200",
        target_region="420100",
        matter="filing record missing at the treating place",
        problem_type=problem,
        opened_at=at or datetime.now(SHANGHAI),
    )  # receipt time rules (skew checked)


def distinct(messages: list[dict]) -> set[str]:
    return {m["event_id"] for m in messages}


async def count_docs(service: ServiceProcess, collection: str, query: dict | None = None) -> int:
    client, db = await service.db()
    try:
        return await db[collection].count_documents(query or {})
    finally:
        await client.close()


async def docs_are(service: ServiceProcess, collection: str, query: dict, n: int) -> bool:
    return await count_docs(service, collection, query) == n


@pytest.fixture
def prefix(stack, request):
    return new_prefix(stack, request.node.name[5:25].replace("_", "-"))


async def test_duplicate_delivery_has_one_effect(stack, prefix):
    collab = ServiceProcess(stack, "collab", prefix).start()
    try:
        async with Bus(stack, prefix) as bus:
            first = await bus.publish("collab.open-request.v1", open_request("dup-1"))
            await bus.send_raw("collab.open-request.v1", first.model_dump_json().encode(), "340200:dup-1")
            await bus.publish("collab.open-request.v1", open_request("dup-2"))
            opened = await bus.read(OPENED, lambda m: len(distinct(m)) >= 2)
        await eventually(
            lambda: collab.metric("yidi_messages_handled_total", result="duplicate", topic="collab.open-request.v1")
            >= 1
        )
        assert len(distinct(opened)) == 2
        assert len(opened) == 2, "the duplicate published nothing"
        assert await count_docs(collab, "requests") == 2
        assert collab.metric("yidi_messages_handled_total", result="applied", topic="collab.open-request.v1") == 2
    finally:
        collab.stop()


async def test_poison_message_is_dead_lettered_and_the_next_is_handled(stack, prefix):
    collab = ServiceProcess(stack, "collab", prefix).start()
    try:
        async with Bus(stack, prefix) as bus:
            await bus.send_raw("collab.open-request.v1", b"\x00not json at all")
            bad = (await bus.publish("collab.open-request.v1", open_request("ok-1"))).model_dump(mode="json")
            bad["payload"]["target_region"] = "999999"
            bad["event_id"] = str(uuid.uuid4())
            import json

            await bus.send_raw("collab.open-request.v1", json.dumps(bad).encode())
            await bus.publish("collab.open-request.v1", open_request("ok-2"))
            dead = await bus.read("ops.dead-letter.v1", lambda m: len(m) >= 2)
            opened = await bus.read(OPENED, lambda m: len(distinct(m)) >= 2)
        reasons = sorted(d["reason"] for d in dead)
        assert reasons == ["invalid_message", "invalid_message"]
        region_error = next(d for d in dead if "target_region" in d["detail"])
        assert "no province '99'" in region_error["detail"]
        assert region_error["original"].startswith("{") and region_error["topic"] == "collab.open-request.v1"
        assert len(distinct(opened)) == 2
        assert collab.metric("yidi_dead_letters_total") == 2
    finally:
        collab.stop()


async def test_a_crash_after_the_input_was_committed_is_published_at_start_without_traffic(stack, prefix):
    """The service dies after storing, and its input is committed already (so it is never read
    again), and no further message comes: the restarted instance's start-up sweep covers every
    collection the service declares, not only those new traffic touched, and publishes the event
    within seconds."""
    collab = ServiceProcess(stack, "collab", prefix)
    try:
        collab.start(YIDI_FAULT="crash_after_store")
        async with Bus(stack, prefix) as bus:
            await bus.publish("collab.open-request.v1", open_request("committed-1"))
            assert await asyncio.to_thread(collab.wait_exit, 60) == 17, collab.tail()
            await _commit_to_end(stack.bootstrap, f"{prefix}yidi-collab", f"{prefix}collab.open-request.v1")
            collab.start()
            opened = await bus.read(OPENED, lambda m: len(m) >= 1, timeout=15)
        assert len(distinct(opened)) == 1
        assert collab.metric("yidi_messages_handled_total", topic="collab.open-request.v1") == 0  # nothing re-read
        await eventually(lambda: docs_are(collab, "requests", {"has_outbox": True}, 0), timeout=10)
    finally:
        collab.stop()


async def _commit_to_end(bootstrap: str, group_id: str, topic: str) -> None:
    """Join the service's group as it would and commit every partition's end offset: the input
    counts as handled and is never read again."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
    )
    await consumer.start()
    try:
        while not consumer.assignment():  # the dead member holds the group until its session times out
            await consumer.getmany(timeout_ms=500)
        tps = list(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        await consumer.commit(ends)
    finally:
        await consumer.stop()


async def test_a_stuck_outbox_flag_is_cleared_and_indexes_exist_before_the_first_message(stack, prefix):
    """A document flagged as having an outbox with nothing in it (left by an interrupted cleanup)
    is cleared by the sweep instead of being read every round; the outbox index of every declared
    collection exists once the service is up, before any message."""
    collab = ServiceProcess(stack, "collab", prefix)
    client, db = await collab.db()
    try:
        await db["requests"].insert_one(
            {
                "_id": "stuck-1",
                "version": 3,
                "state": {},
                "processed": [],
                "outbox": {},
                "has_outbox": True,
                "updated_at": datetime(2026, 1, 1, tzinfo=SHANGHAI),
            }
        )
        collab.start()
        await eventually(lambda: docs_are(collab, "requests", {"has_outbox": True}, 0), timeout=10)
        for name in ("requests", "coinvestigations", "candidates"):
            indexes = await db[name].index_information()
            assert any(key == [("has_outbox", 1)] for key in (i["key"] for i in indexes.values())), (name, indexes)
    finally:
        collab.stop()
        await client.close()


async def test_crash_between_store_and_publish_loses_and_duplicates_nothing(stack, prefix):
    collab = ServiceProcess(stack, "collab", prefix)
    try:
        collab.start(YIDI_FAULT="crash_after_store")
        async with Bus(stack, prefix) as bus:
            await bus.publish("collab.open-request.v1", open_request("crash-1"))
            assert await asyncio.to_thread(collab.wait_exit, 60) == 17, collab.tail()
            client, db = await collab.db()
            doc = await db["requests"].find_one({})
            await client.close()
            assert doc and doc["has_outbox"], "the state was stored with its event waiting in the outbox"
            with pytest.raises(AssertionError):
                await bus.read(OPENED, lambda m: len(m) >= 1, timeout=3)
            collab.start()  # recovered, without the fault
            opened = await bus.read(OPENED, lambda m: len(m) >= 1)
            await asyncio.sleep(3)  # let redelivery and the sweeper run; nothing new may appear
            opened = await bus.read(OPENED, lambda m: len(m) >= 1)
            assert len(distinct(opened)) == 1
            assert await count_docs(collab, "requests") == 1
            await eventually(lambda: docs_are(collab, "requests", {"has_outbox": True}, 0), timeout=10)
    finally:
        collab.stop()


async def test_deadline_set_before_a_restart_fires_once_after_it(stack, prefix):
    """K-02: a system fault must be answered within 1 working day. Opened on Wed 2026-09-30, the
    reply is due at the end of Thu 2026-10-08 (National Day 1–7 Oct is off, M-02)."""
    collab = ServiceProcess(stack, "collab", prefix)
    try:
        async with Bus(stack, prefix) as bus:
            await bus.set_clock(datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI))
            collab.start()
            await bus.publish(
                "collab.open-request.v1",
                open_request("late-1", ProblemType.SYSTEM_FAULT, at=datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)),
            )
            opened = await bus.read(OPENED, lambda m: len(m) >= 1)
            reply_by = datetime.fromisoformat(opened[0]["payload"]["reply_by"]).astimezone(SHANGHAI)
            assert reply_by.date().isoformat() == "2026-10-08"
            await eventually(lambda: docs_are(collab, "deadlines", {"status": "pending"}, 1))
            collab.stop()
            await bus.set_clock(reply_by + timedelta(minutes=1))
            collab.start()
            overdue = await bus.read("collab.reply-overdue.v1", lambda m: len(m) >= 1)
            await asyncio.sleep(2)
            overdue = await bus.read("collab.reply-overdue.v1", lambda m: len(m) >= 1)
            assert len(overdue) == 1
            assert await count_docs(collab, "deadlines", {"status": "fired"}) == 1
            # what the on-call alerts read (deploy/alerts.yml): fired a minute after its due time, none
            # overdue left, the broker reached, and the request counted overdue for the region owing it
            assert collab.metric("yidi_deadline_lateness_seconds_count") == 1
            assert collab.metric("yidi_deadline_lateness_seconds_sum") >= 60
            await eventually(lambda: collab.metric("yidi_broker_reachable") == 1)
            assert collab.metric("yidi_deadline_overdue_seconds") == 0
            await eventually(lambda: collab.metric("yidi_collab_overdue", kind="requests") == 1)
            assert collab.metric("yidi_outbox_oldest_seconds") < 300
    finally:
        collab.stop()


async def test_two_instances_share_the_traffic_and_one_takes_over_from_the_other(stack, prefix):
    a = ServiceProcess(stack, "collab", prefix, YIDI_INSTANCE="a").start()
    b = ServiceProcess(stack, "collab", prefix, YIDI_INSTANCE="b").start()
    try:
        async with Bus(stack, prefix) as bus:
            for i in range(40):
                await bus.publish("collab.open-request.v1", open_request(f"share-{i}"))
            await bus.read(OPENED, lambda m: len(distinct(m)) >= 40, timeout=60)
            handled_a = a.metric("yidi_messages_handled_total", result="applied", topic="collab.open-request.v1")
            handled_b = b.metric("yidi_messages_handled_total", result="applied", topic="collab.open-request.v1")
            assert handled_a > 0 and handled_b > 0, (handled_a, handled_b)
            assert handled_a + handled_b == 40
            a.kill()
            for i in range(40, 80):
                await bus.publish("collab.open-request.v1", open_request(f"share-{i}"))
            opened = await bus.read(OPENED, lambda m: len(distinct(m)) >= 80, timeout=90)
        assert len(distinct(opened)) == 80
        assert await count_docs(b, "requests") == 80
    finally:
        a.stop()
        b.stop()


async def test_graceful_shutdown_finishes_what_it_took_and_commits_its_offsets(stack, prefix):
    """SIGTERM mid-stream: records taken are finished and committed, so the next start reads
    only what was never handled — nothing twice, nothing lost."""
    collab = ServiceProcess(stack, "collab", prefix)
    try:
        collab.start()
        async with Bus(stack, prefix) as bus:
            for i in range(30):
                await bus.publish("collab.open-request.v1", open_request(f"term-{i}"))
            await eventually(lambda: collab.metric("yidi_messages_handled_total", topic="collab.open-request.v1") >= 5)
            # uvicorn re-raises the SIGTERM it handled once the shutdown is complete
            assert collab.stop() in (0, -signal.SIGTERM), collab.tail()
            assert "shut down gracefully" in collab.tail(20)
            first = await count_docs(collab, "requests")
            collab.start()
            opened = await bus.read(OPENED, lambda m: len(distinct(m)) >= 30, timeout=60)
            await asyncio.sleep(2)
            second = collab.metric("yidi_messages_handled_total", result="applied", topic="collab.open-request.v1")
            redone = collab.metric("yidi_messages_handled_total", result="duplicate", topic="collab.open-request.v1")
        assert len(distinct(opened)) == 30 and await count_docs(collab, "requests") == 30
        assert first >= 5 and first + second == 30, (first, second)
        assert redone == 0, "a record finished before the shutdown was read again"
    finally:
        collab.stop()


async def test_a_sweep_flushing_a_document_while_its_writer_does_publishes_each_entry_once(stack, prefix):
    """The outbox relay over the real database: the startup sweep can flush a document that its
    writer is flushing too; each entry still goes out once, and a delivery that fails leaves its
    entry unpublished for the next flush."""
    from pymongo import AsyncMongoClient

    from runtime.deadlines import DeadlineStore
    from runtime.outbox import OutboxRelay

    client = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
    try:
        db = client[f"{prefix.strip('.').replace('.', '_')}_relay"]
        sent: list[str] = []
        gate = asyncio.Event()

        async def send(topic: str, key: bytes, value: bytes, headers: dict) -> None:
            await gate.wait()  # the first flush is still delivering when the second starts
            if value == b"fails":
                raise ConnectionError("broker gone")
            sent.append(value.decode())

        relay = OutboxRelay(send, DeadlineStore(db), lambda t: t, lambda: datetime.now(SHANGHAI))
        entry = {"kind": "event", "topic": "t", "key": "k", "type": "x"}
        doc = {
            "_id": "agg-1",
            "version": 1,
            "outbox": {"e1": {**entry, "value": "one"}, "e2": {**entry, "value": "two"}},
        }
        writer = asyncio.create_task(relay.flush(db["aggregates"], doc))
        await asyncio.sleep(0.05)
        sweeper = asyncio.create_task(relay.flush(db["aggregates"], doc))
        await asyncio.sleep(0.05)
        gate.set()
        assert sorted(await asyncio.gather(writer, sweeper)) == [0, 2]
        assert sorted(sent) == ["one", "two"]
        assert await relay.flush(db["aggregates"], doc) == 0

        failing = {"_id": "agg-2", "version": 1, "outbox": {"e3": {**entry, "value": "fails"}}}
        with pytest.raises(ConnectionError):
            await relay.flush(db["aggregates"], failing)
        assert relay.unpublished("aggregates", failing) == failing["outbox"]
    finally:
        await client.close()


async def test_a_deadline_the_broker_refused_is_sent_again_at_the_next_poll(stack, prefix):
    """A due deadline whose message could not be sent is pending again at once, so the next poll
    fires it (not only after the 30 s lease that covers an instance crashing while holding it)."""
    from prometheus_client import CollectorRegistry
    from pymongo import AsyncMongoClient

    from runtime.background import Background
    from runtime.clock import WallClock
    from runtime.deadlines import DeadlineStore
    from runtime.metrics import RuntimeMetrics
    from runtime.outbox import OutboxRelay

    client = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
    try:
        db = client[f"{prefix.strip('.').replace('.', '_')}_deadlines"]
        sent: list[str] = []
        refusals = [ConnectionError("broker gone")]

        async def send(topic: str, key: bytes, value: bytes, headers: dict) -> None:
            if refusals:
                raise refusals.pop()
            sent.append(value.decode())

        class Poller(Background):
            name, clock, _stale_checked = "test", WallClock(), 0.0
            metrics = RuntimeMetrics(CollectorRegistry(), "test")
            deadlines = DeadlineStore(db)
            relay = OutboxRelay(send, deadlines, lambda t: t, lambda: datetime.now(SHANGHAI))
            _send = staticmethod(send)

            def topic(self, logical: str) -> str:
                return logical

        poller = Poller()
        await poller.deadlines.put(
            {
                "deadline_id": "d-1",
                "due_at": datetime.now(SHANGHAI) - timedelta(seconds=1),
                "topic": "t",
                "key": "k",
                "value": "due",
                "type": "x",
            }
        )
        with pytest.raises(ConnectionError):
            await poller._fire_deadlines()
        assert (await db["deadlines"].find_one({"_id": "d-1"}))["status"] == "pending"
        await poller._fire_deadlines()
        assert sent == ["due"] and (await db["deadlines"].find_one({"_id": "d-1"}))["status"] == "fired"
    finally:
        await client.close()


async def test_a_deadline_read_early_is_armed_again_even_while_its_claim_is_being_marked(stack, prefix):
    """The message of a fired deadline read before its moment (an instance whose clock ran ahead) or
    not ready (NotYet) is armed again and fires again; the poller marking its own claim fired after
    that does not undo the new arming."""
    from pymongo import AsyncMongoClient

    from runtime.deadlines import DeadlineStore

    client = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
    try:
        store = DeadlineStore(client[f"{prefix.strip('.').replace('.', '_')}_rearm"])
        now = datetime.now(SHANGHAI)
        entry = {
            "deadline_id": "d-1",
            "due_at": now - timedelta(seconds=1),
            "topic": "t",
            "key": "k",
            "value": "due",
            "type": "x",
        }
        await store.put(entry)
        claimed = await store.claim("d-1", now)
        assert claimed is not None and claimed["value"] == "due"
        later = now + timedelta(seconds=1)
        await store.rearm({**entry, "due_at": later})  # read, found early: armed again
        await store.mark_fired(claimed, now)  # the poller's claim, too late to matter
        assert [d["_id"] for d in await store.due(later)] == ["d-1"] and await store.due(now) == []
        again = await store.claim("d-1", later)
        await store.mark_fired(again, later)
        assert (await store.col.find_one({"_id": "d-1"}))["status"] == "fired"
    finally:
        await client.close()


async def test_consumer_lag_shows_what_a_stuck_service_has_not_handled(stack, prefix):
    """yidi_consumer_lag (the ConsumerLagGrowing alert's input) is end offset − committed offset of the
    service's group, per topic: a service whose handlers fail commits nothing, so three requests
    published to it show as a lag of three, read for every partition in one request per round."""
    collab = ServiceProcess(stack, "collab", prefix).start(YIDI_FAULT="handler_fault")
    try:
        async with Bus(stack, prefix) as bus:
            for ref in ("lag-1", "lag-2", "lag-3"):
                await bus.publish("collab.open-request.v1", open_request(ref))
        await eventually(
            lambda: collab.metric("yidi_consumer_lag", topic=f"{prefix}collab.open-request.v1") == 3, timeout=90
        )
        assert collab.metric("yidi_consumer_lag", topic=f"{prefix}collab.reply-request.v1") == 0
    finally:
        collab.stop()
