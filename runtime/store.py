"""Aggregates in MongoDB with their outbox and inbox in the same document.

Each aggregate is one document: ``state`` (the domain's JSON-able dict), ``version``
(optimistic concurrency), ``processed`` (ids of the last messages applied: the inbox that
makes redelivery harmless) and ``outbox`` (messages and deadlines caused by the last
changes, not yet published). One version-guarded write stores all of them, so a state
change and its events cannot diverge across a crash: a message is either not applied (and
is redelivered) or applied with its events waiting in the outbox, which the relay publishes
(at least once; caused events have deterministic ids, so consumers drop copies).

Only single-document atomic operations are used: multi-document transactions are not
relied on anywhere (the embedded MongoDB-wire server does not make them safe).

Personal data (003 §5 (三)): a collection declared personal (``AggregateStore.protect``) stores
an aggregate keyed by an ID number under the person's pseudonym (``runtime.privacy``) and its
state sealed with the insured region's data key (``runtime.sealing``); the value of every
outbox entry and deadline, in every collection, is sealed too (messages carry names, ID
numbers and diagnoses). Everything is opened on load and on delivery, so handlers and the
relay see plain state and messages; a document written before sealing still loads, and is
sealed on its next write.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Envelope
from runtime import privacy
from runtime.envelopes import encode, envelope_for, key_for
from runtime.outcome import Outcome
from runtime.sealing import SHARED_SCOPE, is_sealed, keyring, region_of_kid

log = logging.getLogger(__name__)

# Message ids kept per aggregate. Redelivery re-reads only what was not yet committed (offsets
# are committed every 0.2 s, runtime/dispatch.py), so a copy arrives within a few messages of
# the original; hot aggregates (a region's ledger or account) would pay for a longer window
# on every write.
INBOX_WINDOW = 256
MAX_CONFLICT_RETRIES = 50
RECENT_DOCUMENTS = 1000   # documents kept after writing them (AggregateStore._written)

Decide = Callable[[dict[str, Any] | None], Outcome]
Send = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]   # topic, key, value, headers
RegionOf = Callable[[dict], "str | None"]
SEALED_BY = "sealed_by"   # in memory only: the key id the loaded state was sealed with


def _names_no_region(state: dict) -> None:
    return None


@dataclass(frozen=True)
class Personal:
    """How a collection holding personal data is stored (003 §5 (三))."""
    region: RegionOf = _names_no_region     # the insured region a state names, if it names one
    keyed_by_person: bool = True            # aggregate ids are ID numbers: stored under their pseudonym


class OutboxRelay:
    """Publishes an aggregate's outbox entries; removing them from the document is batched off
    the message's path (``cleanup``), and a later write of the same aggregate leaves out what
    this process has already published, so entries are not sent twice while they wait.

    A deadline due within ``HOLD_SECONDS`` (S-01: the insured place's answer, a few seconds) is
    held here instead of being stored: most are cancelled before they are due (the answer came),
    and then neither the arming nor the cancel touches the deadline store. One still armed when
    due is stored then and fires as usual. Until then its entry stays in the aggregate's outbox,
    so a crash loses nothing: whoever sweeps the document holds it again."""

    RECENT = 20_000   # aggregates whose last published entries are remembered
    NAMES_KEPT = 64   # entries remembered per aggregate
    HOLD_SECONDS = 120

    def __init__(self, send: Send, deadlines: "DeadlineStore", topic_name: Callable[[str], str],
                 now: Callable[[], datetime]) -> None:
        self.send, self.deadlines, self.topic_name, self.now = send, deadlines, topic_name, now
        self.published: OrderedDict[tuple[str, str], dict[str, None]] = OrderedDict()   # ordered sets
        self.held: dict[str, _Held] = {}   # deadline id → its arming, not stored yet
        self._pending: dict[tuple[str, str], _Cleanup] = {}
        self._sending: dict[tuple[str, str], set[str]] = {}   # being delivered by a flush right now

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
            await asyncio.gather(*(self._deliver(entry) for entry in deliver.values()))
        finally:
            sending.difference_update(deliver)
            if not sending:
                del self._sending[key]
        if entries:
            self._mark_published(collection, key, set(entries) - held, doc["version"],
                                 complete=len(entries) == len(unpublished) and not held)
        return len(deliver)

    def _sort(self, collection: AsyncCollection, key: tuple[str, str], entries: dict[str, dict]) -> tuple[dict, set]:
        """The entries to deliver now, and the keys of the short deadlines held (in outbox order:
        a cancel settles the arming before it)."""
        deliver: dict[str, dict] = {}
        holding: dict[str, str] = {}   # deadline id → outbox key
        horizon = self.now() + timedelta(seconds=self.HOLD_SECONDS)
        for name, entry in entries.items():
            deadline_id = entry.get("deadline_id", "")
            if entry["kind"] == "schedule" and entry["due_at"] <= horizon:
                holding[deadline_id] = name
            elif entry["kind"] == "cancel" and deadline_id in holding:
                holding.pop(deadline_id)           # armed and cancelled: neither is stored
                self.held.pop(deadline_id, None)
            elif entry["kind"] == "cancel" and deadline_id in self.held:
                self._release(deadline_id)         # held for another aggregate: settled there too
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
                if self.held.get(deadline_id) is held:   # not settled by a cancel meanwhile
                    self._release(deadline_id)
                released += 1
        return released

    def _release(self, deadline_id: str) -> None:
        held = self.held.pop(deadline_id)
        self._mark_published(held.collection, held.doc, {held.name}, None, complete=False)

    def _mark_published(self, collection: AsyncCollection, key: tuple[str, str], names: set[str],
                        version: int | None, complete: bool) -> None:
        done = self.published.pop(key, {})
        done.update(dict.fromkeys(names))
        while len(done) > self.NAMES_KEPT:   # the oldest left their documents long ago (cleanup)
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
            guarded = [UpdateOne({"_id": doc_id, "version": job.version},
                                 {"$unset": _fields(job.names), "$set": {"has_outbox": False}})
                       for doc_id, job in final]
            done = await collection.bulk_write(guarded, ordered=False) if guarded else None
            if done is None or done.matched_count < len(guarded) or len(final) < len(jobs):
                # written again meanwhile, or still holding a deadline: remove what was published
                await collection.bulk_write([UpdateOne({"_id": doc_id}, {"$unset": _fields(job.names)})
                                             for doc_id, job in jobs], ordered=False)
        return len(pending)

    async def _deliver(self, entry: dict) -> None:
        if entry["kind"] == "event":
            value = keyring().unseal(entry["value"])   # sealed at rest, plain on the wire
            await self.send(self.topic_name(entry["topic"]), entry["key"].encode(), value.encode(),
                            {"content-type": "application/json", "type": entry["type"]})
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
            else:   # flagged with nothing left to publish: clear it, or every round reads it again
                empty.append(UpdateOne({"_id": doc["_id"], "version": doc["version"]}, {"$set": {"has_outbox": False}}))
        if empty:
            await collection.bulk_write(empty, ordered=False)
        await self.cleanup()
        return flushed


@dataclass
class _Held:
    collection: AsyncCollection
    doc: tuple[str, str]   # (collection name, aggregate id)
    name: str              # the entry's key in the outbox
    entry: dict


@dataclass
class _Cleanup:
    collection: AsyncCollection
    version: int | None    # the version written with these entries; None: not known here
    names: set[str]        # outbox keys published
    complete: bool         # nothing of that version is left to publish


def _fields(keys: set[str]) -> dict[str, str]:
    return {f"outbox.{k}": "" for k in keys}


class AggregateStore:
    """Applies one message to one aggregate, exactly once in effect."""

    def __init__(self, db: AsyncDatabase, relay: OutboxRelay, *, producer: str,
                 now: Callable[[], datetime], fault: str = "",
                 on_conflict: Callable[[str], None] = lambda collection: None) -> None:
        self.db, self.relay, self.producer, self.now, self.fault = db, relay, producer, now, fault
        self.on_conflict = on_conflict   # counted (yidi_version_conflicts_total): hot aggregates show here
        self.collections: set[str] = set()
        self.personal: dict[str, Personal] = {}
        # The documents this process wrote last: the next message of the same aggregate usually
        # follows within a second (the hops of one settlement) and need not read it again. A
        # stale copy (another instance wrote since) fails the version guard and is re-read.
        self._written: OrderedDict[tuple[str, str], dict] = OrderedDict()

    def declare(self, name: str) -> None:
        """A collection of this service's aggregates, known before the first message: the start-up
        sweep publishes what a crash left in its outboxes, and its index exists, even when no
        traffic comes (a restarted instance may receive none)."""
        self.collections.add(name)

    def collection(self, name: str) -> AsyncCollection:
        self.collections.add(name)
        return self.db[name]

    def protect(self, collection: str, region: RegionOf | None = None, *, keyed_by_person: bool = True) -> None:
        """Declare ``collection`` personal: its state is sealed at rest and, when its aggregate ids
        are ID numbers, its documents are stored under the person's pseudonym. ``region`` gives
        the insured region of a state (whose data key seals it); when it gives none, the region the
        document was sealed for before is kept, else the message's ``insured_region`` is used."""
        self.personal[collection] = Personal(region or _names_no_region, keyed_by_person)
        self.declare(collection)

    def document_id(self, collection: str, aggregate_id: str) -> str:
        """The ``_id`` an aggregate is stored under: the pseudonym of a person, else its id."""
        spec = self.personal.get(collection)
        return privacy.pseudonym(aggregate_id) if spec and spec.keyed_by_person else aggregate_id

    async def _read(self, collection: str, aggregate_id: str) -> dict | None:
        doc = await self.collection(collection).find_one({"_id": self.document_id(collection, aggregate_id)})
        return open_document(doc)

    async def ensure_indexes(self) -> None:
        for name in self.collections:
            await self.db[name].create_index([("has_outbox", ASCENDING)])

    async def load(self, collection: str, aggregate_id: str) -> dict | None:
        """The stored state, read from the database (for decisions outside ``apply``)."""
        doc = await self._read(collection, aggregate_id)
        return doc["state"] if doc else None

    async def load_document(self, collection: str, aggregate_id: str) -> dict | None:
        """The document, to look at and then pass to ``apply(loaded=...)``: the copy this process
        wrote last if it has one (a stale copy costs ``apply`` a retry), else the stored one."""
        return self._written.get((collection, aggregate_id)) or await self._read(collection, aggregate_id)

    async def apply(self, collection: str, aggregate_id: str, message: Envelope, decide: Decide,
                    loaded: dict | None = None) -> Outcome:
        """Run ``decide`` on the current state and store its outcome; retried on a concurrent
        write (``decide`` must be a pure function of the state). A message already applied
        is not applied again: its outbox is flushed in case the first attempt crashed.
        ``loaded`` is the document as the caller just read it (saves a read; a stale one only
        costs a retry)."""
        col = self.collection(collection)
        message_id = str(message.event_id)
        key = (collection, aggregate_id)
        for _ in range(MAX_CONFLICT_RETRIES):
            doc, loaded = loaded or self._written.get(key) or await self._read(collection, aggregate_id), None
            seen = inbox_verdict(doc.get("processed", []) if doc else [], message)
            if seen == "conflict":
                raise ConflictingCopy(f"message {message_id} was applied to {collection}/{aggregate_id} with "
                                      f"another payload; this copy differs and has no effect")
            if seen == "duplicate" and doc is not None:
                await self.relay.flush(col, doc)
                return Outcome(duplicate=True)
            outcome = decide(doc["state"] if doc else None)
            new_doc = self._next_doc(col, aggregate_id, doc, outcome, message)
            if not await self._write(col, doc, self._at_rest(collection, new_doc)):
                self._written.pop(key, None)   # someone else wrote it: read it again
                self.on_conflict(collection)
                continue
            self._remember(key, new_doc)
            if self.fault == "crash_after_store":
                log.critical("fault injection: exiting between store and publish")
                os._exit(17)
            await self.relay.flush(col, new_doc)
            return outcome
        raise RuntimeError(f"{collection}/{aggregate_id}: too many concurrent writers")

    def _remember(self, key: tuple[str, str], doc: dict) -> None:
        self._written[key] = doc
        self._written.move_to_end(key)
        while len(self._written) > RECENT_DOCUMENTS:
            self._written.popitem(last=False)

    def _next_doc(self, col: AsyncCollection, aggregate_id: str, doc: dict | None, outcome: Outcome,
                  message: Envelope) -> dict:
        """The next document, plain (as this process keeps it); ``_at_rest`` seals its state."""
        state = outcome.state if outcome.state is not None else (doc or {}).get("state")
        region = self._region(col.name, state, doc, message)
        outbox = self.relay.unpublished(col.name, doc) if doc else {}
        outbox.update(self._outbox_entries(outcome, message, region))
        processed = ((doc or {}).get("processed", []) + [inbox_mark(message)])[-INBOX_WINDOW:]
        new_doc = {"_id": self.document_id(col.name, aggregate_id), "version": (doc or {}).get("version", 0) + 1,
                   "state": state, "processed": processed, "outbox": outbox, "has_outbox": bool(outbox),
                   "updated_at": self.now()}
        if col.name in self.personal and state is not None:
            new_doc[SEALED_BY] = f"{region}:{keyring().current}"
        return new_doc

    def _region(self, collection: str, state: dict | None, doc: dict | None, message: Envelope) -> str:
        """The insured region whose data key seals this write: the one the state names, else the
        one the document was sealed for (a person keeps their key), else the message's."""
        spec = self.personal.get(collection)
        named = spec.region(state) if spec and state is not None else None
        if named:
            return str(named)
        if doc and doc.get(SEALED_BY):
            return region_of_kid(doc[SEALED_BY])
        return _insured_region(message.payload) or SHARED_SCOPE

    def _at_rest(self, collection: str, doc: dict) -> dict:
        """The document as stored: a personal state sealed (the outbox entries already are)."""
        stored = {k: v for k, v in doc.items() if k != SEALED_BY}
        if SEALED_BY in doc:
            stored["state"] = keyring().seal(doc["state"], region_of_kid(doc[SEALED_BY]))
        return stored

    def _outbox_entries(self, outcome: Outcome, cause: Envelope, region: str) -> dict[str, dict]:
        """Each entry's value sealed with the data key of the insured region its message names,
        else the aggregate's: messages carry names, ID numbers and diagnoses in clear."""
        entries: dict[str, dict] = {}
        now, ring = self.now(), keyring()
        for emit in outcome.emits:
            env = envelope_for(emit.topic, emit.payload, producer=self.producer, now=now, cause=cause, name=emit.name)
            entries[str(env.event_id)] = {"kind": "event", "topic": emit.topic, "type": env.type,
                                          "key": key_for(emit.topic, emit.payload, emit.key),
                                          "value": ring.seal(encode(env).decode(),
                                                             _insured_region(emit.payload) or region)}
        for sched in outcome.schedules:
            env = envelope_for(sched.topic, sched.payload, producer=self.producer, now=now, cause=cause,
                               name=f"deadline:{sched.deadline_id}")
            entries[f"schedule-{env.event_id}"] = {
                "kind": "schedule", "deadline_id": sched.deadline_id, "due_at": sched.due_at, "topic": sched.topic,
                "key": key_for(sched.topic, sched.payload, sched.key),
                "value": ring.seal(encode(env).decode(), _insured_region(sched.payload) or region),
                "type": env.type}
        for deadline_id in outcome.cancels:
            entries[f"cancel-{deadline_id}-{cause.event_id}"] = {"kind": "cancel", "deadline_id": deadline_id}
        return entries

    @staticmethod
    async def _write(col: AsyncCollection, old: dict | None, new: dict) -> bool:
        if old is None:
            try:
                await col.insert_one(new)
                return True
            except DuplicateKeyError:
                return False
        result = await col.replace_one({"_id": new["_id"], "version": old["version"]}, new)
        return result.matched_count == 1


class ConflictingCopy(Exception):
    """A message id already applied arrives with a different payload: not a duplicate, a conflict."""


def inbox_mark(message: Envelope) -> str:
    """What the inbox keeps of an applied message: its id and a fingerprint of its payload."""
    fingerprint = hashlib.sha256(message.payload.model_dump_json().encode()).hexdigest()[:16]
    return f"{message.event_id}#{fingerprint}"


def inbox_verdict(processed: list[str], message: Envelope) -> str:
    """new | duplicate (the same id and payload) | conflict (the same id, another payload). Marks
    written before fingerprints were kept (a bare id) count as duplicates."""
    event_id, mark = str(message.event_id), inbox_mark(message)
    for entry in processed:
        if entry == mark or entry == event_id:
            return "duplicate"
        if entry.startswith(event_id + "#"):
            return "conflict"
    return "new"


@overload
def open_document(doc: dict) -> dict: ...
@overload
def open_document(doc: None) -> None: ...
def open_document(doc: dict | None) -> dict | None:
    """A stored document with its state opened (and the key id it was sealed with remembered);
    a document written before sealing is returned as it is."""
    if doc is None or not is_sealed(doc.get("state")):
        return doc
    return {**doc, "state": keyring().open(doc["state"]), SEALED_BY: doc["state"]["kid"]}


def _insured_region(payload: Any) -> str | None:
    """The insured region a message names, if it names one (RootModel unions: their root's)."""
    region = getattr(getattr(payload, "root", payload), "insured_region", None)
    return str(region) if region else None


class DeadlineStore:
    """Persisted deadlines 期限: "at moment T, publish message X". Each fires once: the
    claim is a conditional single-document update, and a claim left by a crashed instance
    is taken over after its lease (the message id is fixed, so a second publish is a copy
    that consumers drop)."""

    LEASE_SECONDS = 30

    def __init__(self, db: AsyncDatabase, name: str = "deadlines") -> None:
        self.col = db[name]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("status", ASCENDING), ("due_at", ASCENDING)])

    async def put(self, entry: dict) -> None:
        """Arm a deadline. Arming an id again moves it while pending; a deadline already fired
        is armed again only by a different message (a handler that found it early and asks
        again), never by a redelivered copy of the message that first armed it."""
        doc = {k: entry[k] for k in ("due_at", "topic", "key", "value", "type")}
        ring = keyring()
        if not is_sealed(doc["value"]):   # an outbox entry written before sealing
            doc["value"] = ring.seal(doc["value"], SHARED_SCOPE)
        try:
            await self.col.insert_one({"_id": entry["deadline_id"], **doc, "status": "pending", "claimed_at": None})
            return
        except DuplicateKeyError:
            pass
        existing = await self.col.find_one({"_id": entry["deadline_id"]})
        if existing and (existing["status"] == "pending"
                         or ring.unseal(existing["value"]) != ring.unseal(doc["value"])):   # nonces differ
            await self.col.update_one({"_id": entry["deadline_id"]}, {"$set": {**doc, "status": "pending"}})

    async def cancel(self, deadline_id: str) -> None:
        """A cancelled deadline is removed (most are: every settlement arms one and cancels it on
        the answer), so the collection holds what is pending or fired, not every deadline ever armed.
        Firing one that was cancelled is harmless anyway: its handler checks the state it is about."""
        await self.col.delete_one({"_id": deadline_id, "status": "pending"})

    async def due(self, now: datetime, limit: int = 100) -> list[dict]:
        return await self.col.find({"status": "pending", "due_at": {"$lte": now}}).sort("due_at", 1).limit(limit).to_list()

    async def claim(self, deadline_id: str, now: datetime) -> dict | None:
        """The deadline, now ours to fire, with its message opened."""
        doc = await self.col.find_one_and_update({"_id": deadline_id, "status": "pending"},
                                                 {"$set": {"status": "firing", "claimed_at": now}})
        if doc:
            doc["value"] = keyring().unseal(doc["value"])
        return doc

    async def mark_fired(self, deadline_id: str, now: datetime) -> None:
        await self.col.update_one({"_id": deadline_id}, {"$set": {"status": "fired", "fired_at": now}})

    async def release_stale(self, now: datetime) -> None:
        await self.col.update_many({"status": "firing", "claimed_at": {"$lt": now - timedelta(seconds=self.LEASE_SECONDS)}},
                                   {"$set": {"status": "pending"}})

    async def counts(self) -> dict[str, int]:
        return {status: await self.col.count_documents({"status": status})
                for status in ("pending", "firing", "fired")}
