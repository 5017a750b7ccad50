"""The outbox relay 发件箱: publishes the messages and deadlines an aggregate's last writes left in
its document (``runtime.store``), at least once, and removes them from the document afterwards in
batches. Caused messages have deterministic ids, so a second publish is a copy consumers drop.
Entry values are sealed at rest and opened here, on their way to the wire. An entry the broker
refuses for good (over its message size limit, or any other non-retriable error) is handed to
``refused`` (the service dead-letters it) and leaves the outbox like a published one: sent again
it would fail again, at every write and sweep, for ever."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from runtime.deadlines import DeadlineStore
from runtime.failures import classify
from runtime.sealing import keyring

Send = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]  # topic, key, value, headers
Refused = Callable[[str, bytes, Exception], Awaitable[None]]  # logical topic, value, the broker's error


class OutboxRelay:
    """Publishes an aggregate's outbox entries; removing them from the document is batched off
    the message's path (``cleanup``), and a later write of the same aggregate leaves out what
    this process has already published, so entries are not sent twice while they wait.

    A deadline due within ``HOLD_SECONDS`` (S-01: the insured place's answer, a few seconds) is
    held here instead of being stored: most are cancelled before they are due (the answer came),
    and then neither the arming nor the cancel touches the deadline store. One still armed when
    due is stored then and fires as usual. Until then its entry stays in the aggregate's outbox,
    so a crash loses nothing: whoever sweeps the document holds it again."""

    RECENT = 20_000  # aggregates whose last published entries are remembered
    NAMES_KEPT = 64  # entries remembered per aggregate
    HOLD_SECONDS = 120

    def __init__(
        self,
        send: Send,
        deadlines: DeadlineStore,
        topic_name: Callable[[str], str],
        now: Callable[[], datetime],
        refused: Refused | None = None,
    ) -> None:
        self.send, self.deadlines, self.topic_name, self.now = send, deadlines, topic_name, now
        self.refused = refused
        self.published: OrderedDict[tuple[str, str], dict[str, None]] = OrderedDict()  # ordered sets
        self.held: dict[str, _Held] = {}  # deadline id → its arming, not stored yet
        self._pending: dict[tuple[str, str], _Cleanup] = {}
        self._sending: dict[tuple[str, str], set[str]] = {}  # being delivered by a flush right now

    async def flush(self, collection: AsyncCollection, doc: dict) -> int:
        """Publish the document's outbox entries this process has not published yet, and is not
        publishing right now (a sweep may flush a document while its writer does)."""
        key = (collection.name, doc["_id"])
        unpublished = self.unpublished(collection.name, doc)
        sending = self._sending.setdefault(key, set())
        entries = {k: v for k, v in unpublished.items() if k not in sending}
        deliver, held = self._sort(collection, key, entries)
        sending.update(deliver)
        try:
            outcomes = await asyncio.gather(
                *(self._deliver(entry) for entry in deliver.values()), return_exceptions=True
            )
        finally:
            sending.difference_update(deliver)
            if not sending:
                del self._sending[key]
        failed = {name for name, outcome in zip(deliver, outcomes) if isinstance(outcome, BaseException)}
        if entries:  # what was delivered is remembered even when another entry failed: never sent twice
            self._mark_published(
                collection,
                key,
                set(entries) - held - failed,
                doc["version"],
                complete=len(entries) == len(unpublished) and not held and not failed,
            )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(deliver)

    def _sort(self, collection: AsyncCollection, key: tuple[str, str], entries: dict[str, dict]) -> tuple[dict, set]:
        """The entries to deliver now, and the keys of the short deadlines held (in outbox order:
        a cancel settles the arming before it)."""
        deliver: dict[str, dict] = {}
        holding: dict[str, str] = {}  # deadline id → outbox key
        horizon = self.now() + timedelta(seconds=self.HOLD_SECONDS)
        for name, entry in entries.items():
            deadline_id = entry.get("deadline_id", "")
            if entry["kind"] == "schedule" and entry["due_at"] <= horizon:
                holding[deadline_id] = name
            elif entry["kind"] == "cancel" and deadline_id in holding:
                holding.pop(deadline_id)  # armed and cancelled: neither is stored
                self.held.pop(deadline_id, None)
            elif entry["kind"] == "cancel" and deadline_id in self.held:
                self._release(deadline_id)  # held for another aggregate: settled there too
            else:
                deliver[name] = entry
        for deadline_id, name in holding.items():
            self.held[deadline_id] = _Held(collection, key, name, entries[name])
        return deliver, set(holding.values())

    async def release_due(self) -> int:
        """Store the held deadlines that are due, so that they fire."""
        now, released = self.now(), 0
        for deadline_id, held in list(self.held.items()):
            if held.entry["due_at"] <= now:
                await self.deadlines.put(held.entry)
                if self.held.get(deadline_id) is held:  # not settled by a cancel meanwhile
                    self._release(deadline_id)
                released += 1
        return released

    def _release(self, deadline_id: str) -> None:
        held = self.held.pop(deadline_id)
        self._mark_published(held.collection, held.doc, {held.name}, None, complete=False)

    def _mark_published(
        self, collection: AsyncCollection, key: tuple[str, str], names: set[str], version: int | None, complete: bool
    ) -> None:
        done = self.published.pop(key, {})
        done.update(dict.fromkeys(names))
        while len(done) > self.NAMES_KEPT:  # the oldest left their documents long ago (cleanup)
            done.pop(next(iter(done)))
        self.published[key] = done
        while len(self.published) > self.RECENT:
            self.published.popitem(last=False)
        earlier = self._pending.get(key)
        if earlier:
            version = earlier.version if version is None else version
            names = earlier.names | names
        still_held = any(h.doc == key for h in self.held.values())
        self._pending[key] = _Cleanup(collection, version, names, complete and not still_held)

    def unpublished(self, collection: str, doc: dict) -> dict[str, dict]:
        """The outbox entries of ``doc`` this process has not published yet."""
        done = self.published.get((collection, doc["_id"]), {})
        return {k: v for k, v in (doc.get("outbox") or {}).items() if k not in done}

    async def cleanup(self) -> int:
        """Remove published entries from their documents, one bulk write per collection. Only
        the writer of the newest version may declare the outbox empty, and only when it holds
        none of its deadlines; otherwise only the published entries are removed."""
        pending, self._pending = self._pending, {}
        by_collection: dict[str, list[tuple[str, _Cleanup]]] = {}
        for (name, doc_id), job in pending.items():
            by_collection.setdefault(name, []).append((doc_id, job))
        for jobs in by_collection.values():
            collection = jobs[0][1].collection
            final = [(doc_id, job) for doc_id, job in jobs if job.complete and job.version is not None]
            guarded = [
                UpdateOne(
                    {"_id": doc_id, "version": job.version},
                    {"$unset": _fields(job.names), "$set": {"has_outbox": False}},
                )
                for doc_id, job in final
            ]
            done = await collection.bulk_write(guarded, ordered=False) if guarded else None
            if done is None or done.matched_count < len(guarded) or len(final) < len(jobs):
                # written again meanwhile, or still holding a deadline: remove what was published
                await collection.bulk_write(
                    [UpdateOne({"_id": doc_id}, {"$unset": _fields(job.names)}) for doc_id, job in jobs], ordered=False
                )
        return len(pending)

    async def _deliver(self, entry: dict) -> None:
        if entry["kind"] == "event":
            value = keyring().unseal(entry["value"])  # sealed at rest, plain on the wire
            try:
                await self.send(
                    self.topic_name(entry["topic"]),
                    entry["key"].encode(),
                    value.encode(),
                    # the trace of the message that caused it, whoever sends it (runtime.tracing)
                    {"content-type": "application/json", "type": entry["type"], **entry.get("trace", {})},
                )
            except Exception as exc:
                if self.refused is None or classify(exc) != "poison":
                    raise  # the network, a timeout: sent again by the next write or sweep
                await self.refused(entry["topic"], value.encode(), exc)  # refused for good: dead-lettered
        elif entry["kind"] == "schedule":
            await self.deadlines.put(entry)
        elif entry["kind"] == "cancel":
            await self.deadlines.cancel(entry["deadline_id"])

    async def sweep(self, collection: AsyncCollection, older_than: datetime) -> int:
        """Publish what a crashed or interrupted writer left behind (not what a live writer is
        publishing right now: only documents last written before ``older_than``)."""
        flushed, empty = 0, []
        async for doc in collection.find({"has_outbox": True, "updated_at": {"$lt": older_than}}):
            if doc.get("outbox"):
                flushed += await self.flush(collection, doc)
            else:  # flagged with nothing left to publish: clear it, or every round reads it again
                empty.append(UpdateOne({"_id": doc["_id"], "version": doc["version"]}, {"$set": {"has_outbox": False}}))
        if empty:
            await collection.bulk_write(empty, ordered=False)
        await self.cleanup()
        return flushed


@dataclass
class _Held:
    collection: AsyncCollection
    doc: tuple[str, str]  # (collection name, aggregate id)
    name: str  # the entry's key in the outbox
    entry: dict


@dataclass
class _Cleanup:
    collection: AsyncCollection
    version: int | None  # the version written with these entries; None: not known here
    names: set[str]  # outbox keys published
    complete: bool  # nothing of that version is left to publish


def _fields(keys: set[str]) -> dict[str, str]:
    return {f"outbox.{k}": "" for k in keys}
