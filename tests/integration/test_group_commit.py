"""The aggregate store over the real database under concurrency: one writer per aggregate in a
process (no version conflicts however many partitions feed it), and concurrent operations of
many aggregates coalesced into shared round trips, each caller still getting its own result."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from pymongo import AsyncMongoClient
from support import new_prefix

from contracts.collab import OpenCollabRequest, ProblemType
from contracts.values import SHANGHAI
from runtime.batching import CollectionBatch
from runtime.deadlines import DeadlineStore
from runtime.envelopes import envelope_for
from runtime.outbox import OutboxRelay
from runtime.outcome import Outcome
from runtime.store import AggregateStore

pytestmark = pytest.mark.integration


def message(ref: str):
    return envelope_for(
        "collab.open-request.v1",
        OpenCollabRequest(
            request_ref=ref,
            requester_region="340200",
            target_region="420100",
            matter="filing record missing",
            problem_type=ProblemType.OTHER,
            opened_at=datetime.now(SHANGHAI),
        ),
        producer="test",
        now=datetime.now(SHANGHAI),
    )


def count(state: dict | None) -> Outcome:
    return Outcome(state={"n": (state or {}).get("n", 0) + 1})


@pytest.fixture
async def database(stack, request):
    client = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
    yield client[new_prefix(stack, request.node.name[5:20].replace("_", "-")).strip(".").replace(".", "_")]
    await client.close()


def store_on(db) -> tuple[AggregateStore, list[str]]:
    conflicts: list[str] = []

    async def send(topic: str, key: bytes, value: bytes, headers: dict) -> None:
        return None

    relay = OutboxRelay(send, DeadlineStore(db), lambda t: t, lambda: datetime.now(SHANGHAI))
    return AggregateStore(
        db, relay, producer="test", now=lambda: datetime.now(SHANGHAI), on_conflict=conflicts.append
    ), conflicts


async def test_one_aggregate_fed_by_many_partitions_at_once_has_no_version_conflict(database):
    """A region's ledger receives settlements of many persons (many partitions) at the same
    moment: each is applied once, in turn, and none fails a version guard (K-07: hot aggregates)."""
    store, conflicts = store_on(database)
    outcomes = await asyncio.gather(
        *(store.apply("ledgers", "340200-420100", message(f"r{i}"), count) for i in range(60))
    )
    assert [o.result for o in outcomes] == ["applied"] * 60
    assert (await store.load("ledgers", "340200-420100")) == {"n": 60}
    assert conflicts == []
    assert store.batches(database["ledgers"]).write.operations < 10, "folded into a few writes"


async def test_in_one_fold_a_failing_message_and_a_copy_affect_only_themselves(database):
    """Messages folded into one write each get their own outcome: a decision that raises is
    that message's error (its state change is not kept), a copy of one already applied is a
    duplicate, the others are applied."""
    store, _ = store_on(database)
    first = message("first")
    await store.apply("ledgers", "L", first, count)

    def fails(state: dict | None) -> Outcome:
        raise ArithmeticError("1e30")

    results = await asyncio.gather(
        store.apply("ledgers", "L", message("a"), count),
        store.apply("ledgers", "L", message("bad"), fails),
        store.apply("ledgers", "L", first, count),
        store.apply("ledgers", "L", message("b"), count),
        return_exceptions=True,
    )
    assert [getattr(r, "result", type(r).__name__) for r in results] == [
        "applied",
        "ArithmeticError",
        "duplicate",
        "applied",
    ]
    assert (await store.load("ledgers", "L")) == {"n": 3}


async def test_another_instance_writing_the_same_aggregate_is_caught_and_retried(database):
    """Writers in other processes are still caught by the version guard: nothing is lost."""
    ours, conflicts = store_on(database)
    theirs, _ = store_on(database)
    await ours.apply("accounts", "340200", message("first"), count)
    await theirs.apply("accounts", "340200", message("theirs"), count)  # our cached copy is now stale
    await ours.apply("accounts", "340200", message("second"), count)
    assert (await ours.load("accounts", "340200")) == {"n": 3}
    assert conflicts == ["accounts"]


async def test_concurrent_writes_of_many_aggregates_share_round_trips(database):
    store, conflicts = store_on(database)
    await asyncio.gather(*(store.apply("visits", f"p{i}", message(f"v{i}"), count) for i in range(100)))
    batch = store.batches(database["visits"])
    assert batch.write.operations == 100 and batch.write.batches < 20
    assert batch.find_one.operations == 100 and batch.find_one.batches < 20
    states = await asyncio.gather(*(store.load("visits", f"p{i}") for i in range(100)))
    assert states == [{"n": 1}] * 100 and conflicts == []


async def test_in_one_bulk_each_writer_learns_its_own_result(database):
    """An insert beaten by another writer, a replace whose version moved on and a document over
    the database's size limit fail only for their own callers."""
    col = database["mixed"]
    await col.insert_many(
        [
            {"_id": "taken", "version": 1, "processed": ["m0"]},
            {"_id": "moved", "version": 3, "processed": ["m9"]},
            {"_id": "current", "version": 1, "processed": ["m0"]},
        ]
    )
    batch = CollectionBatch(col)
    writes = [
        (None, {"_id": "taken", "version": 1, "processed": ["m1"]}),
        (1, {"_id": "moved", "version": 2, "processed": ["m2"]}),
        (1, {"_id": "current", "version": 2, "processed": ["m0", "m3"]}),
        (None, {"_id": "fresh", "version": 1, "processed": ["m4"]}),
    ]
    assert await asyncio.gather(*(batch.write(w) for w in writes)) == [False, False, True, True]
    assert batch.write.batches == 1

    huge = (None, {"_id": "huge", "version": 1, "processed": ["m5"], "state": "x" * (17 * 1024 * 1024)})
    small = (None, {"_id": "small", "version": 1, "processed": ["m6"]})
    results = await asyncio.gather(batch.write(huge), batch.write(small), return_exceptions=True)
    assert isinstance(results[0], Exception) and results[1] is True
    assert await col.find_one({"_id": "small"}) is not None
