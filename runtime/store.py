"""Aggregates in MongoDB with their outbox and inbox in the same document.

(A little over 300 lines: the write path — the line per aggregate, the fold, the next document
and its sealing — is one sequence that reads best in one place.)

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

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, overload

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import Envelope
from runtime import privacy, tracing
from runtime.batching import Batches, Coalescer, CollectionBatch
from runtime.envelopes import encode, envelope_for, key_for
from runtime.inbox import ConflictingCopy, inbox_mark, inbox_verdict
from runtime.outbox import OutboxRelay
from runtime.outcome import Outcome
from runtime.sealing import SHARED_SCOPE, is_sealed, keyring, region_of_kid

log = logging.getLogger(__name__)

# Message ids kept per aggregate. Redelivery re-reads only what was not yet committed (offsets
# are committed every 0.2 s, runtime/dispatch.py), so a copy arrives within a few messages of
# the original; hot aggregates (a region's ledger or account) would pay for a longer window
# on every write.
INBOX_WINDOW = 256
# A person's aggregate hears only the messages about them, a few per settlement, each on the
# person's own key: a redelivered copy is among its last few. 256 marks (about 16 KB) would be most
# of the document every hop rewrites.
PERSON_INBOX_WINDOW = 64
MAX_CONFLICT_RETRIES = 50
RECENT_DOCUMENTS = 1000  # documents kept after writing them (AggregateStore._written), at most
RECENT_SECONDS = 30.0  # and for this long: the next hops of a settlement follow within a second

Decide = Callable[[dict[str, Any] | None], Outcome]
RegionOf = Callable[[dict], "str | None"]
SEALED_BY = "sealed_by"  # in memory only: the key id the loaded state was sealed with


def _names_no_region(state: dict) -> None:
    return None


@dataclass(frozen=True)
class Personal:
    """How a collection holding personal data is stored (003 §5 (三))."""

    region: RegionOf = _names_no_region  # the insured region a state names, if it names one
    keyed_by_person: bool = True  # aggregate ids are ID numbers: stored under their pseudonym


class AggregateStore:
    """Applies one message to one aggregate, exactly once in effect."""

    def __init__(
        self,
        db: AsyncDatabase,
        relay: OutboxRelay,
        *,
        producer: str,
        now: Callable[[], datetime],
        fault: str = "",
        on_conflict: Callable[[str], None] = lambda collection: None,
    ) -> None:
        self.db, self.relay, self.producer, self.now, self.fault = db, relay, producer, now, fault
        self.on_conflict = on_conflict  # counted (yidi_version_conflicts_total): hot aggregates show here
        self.collections: set[str] = set()
        self.personal: dict[str, Personal] = {}
        # The documents this process wrote last: the next message of the same aggregate usually
        # follows within a second (the hops of one settlement) and need not read it again. A
        # stale copy (another instance wrote since) fails the version guard and is re-read.
        self._written: OrderedDict[tuple[str, str], tuple[dict, float]] = OrderedDict()  # (doc, monotonic time)
        self.batches = Batches()
        self._lines: dict[tuple[str, str], Coalescer[_Pending, Outcome]] = {}  # one writer per aggregate

    def declare(self, name: str) -> None:
        """A collection of this service's aggregates, known before the first message: the start-up
        sweep publishes what a crash left in its outboxes, and its index exists, even when no
        traffic comes (a restarted instance may receive none)."""
        self.collections.add(name)

    def collection(self, name: str) -> AsyncCollection:
        self.collections.add(name)
        return self.db[name]

    def archive(self, name: str) -> CollectionBatch:
        """Write-once items of ``name`` (``find_one`` / ``insert_once``), batched with every other
        partition's checks and keeps of the same moment (``runtime.batching``)."""
        return self.batches(self.db[name])

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
        doc = await self.batches(self.collection(collection)).find_one(self.document_id(collection, aggregate_id))
        return open_document(doc)

    async def ensure_indexes(self) -> None:
        for name in self.collections:
            await self.db[name].create_index([("has_outbox", ASCENDING)])

    async def load(self, collection: str, aggregate_id: str) -> dict | None:
        """The stored state, read from the database (for decisions outside ``apply``)."""
        doc = await self._read(collection, aggregate_id)
        return doc["state"] if doc else None

    async def states(self, collection: str) -> list[dict]:
        """Every state of ``collection``, opened: a read model over a sealed collection has no clear
        index to query by, so it reads them all (collab's lists, a few thousand items a year)."""
        return [open_document(doc)["state"] async for doc in self.collection(collection).find({}, {"state": 1})]

    async def load_document(self, collection: str, aggregate_id: str) -> dict | None:
        """The document, to look at and then pass to ``apply(loaded=...)``: the copy this process
        wrote last if it has one (a stale copy costs ``apply`` a retry), else the stored one."""
        return self._recent((collection, aggregate_id)) or await self._read(collection, aggregate_id)

    async def apply(
        self, collection: str, aggregate_id: str, message: Envelope, decide: Decide, loaded: dict | None = None
    ) -> Outcome:
        """Run ``decide`` on the current state and store its outcome; retried on a concurrent
        write (``decide`` must be a pure function of the state). A message already applied
        is not applied again: its outbox is flushed in case the first attempt crashed.
        ``loaded`` is the document as the caller just read it (saves a read; a stale one only
        costs a retry).

        One writer per aggregate in this process: messages for an aggregate that is being
        written wait in its line and are then folded into one write, applied in turn on the
        state each leaves (a region's ledger or account is fed by many partitions at once;
        concurrent writers would only fail each other's version guard, and one write per
        message would make the hottest document the limit). Writers in other instances are
        still caught by the guard, and the fold is decided again on what they wrote."""
        key = (collection, aggregate_id)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = Coalescer(
                partial(self._fold, collection, aggregate_id), on_idle=partial(self._forget_line, key)
            )
        return await line(_Pending(message, decide, loaded))

    def _forget_line(self, key: tuple[str, str]) -> None:
        line = self._lines.get(key)
        if line is not None and not line.pending:
            del self._lines[key]

    async def _fold(self, collection: str, aggregate_id: str, batch: list[_Pending]) -> list[Outcome | BaseException]:
        """Apply the messages in turn in memory, then store the result in one guarded write."""
        col = self.collection(collection)
        key = (collection, aggregate_id)
        loaded = batch[0].loaded
        for _ in range(MAX_CONFLICT_RETRIES):
            doc, loaded = _newest(loaded, self._recent(key)) or await self._read(collection, aggregate_id), None
            new_doc: dict | None = doc
            results: list[Outcome | BaseException] = []
            for pending in batch:
                decided = self._decide(col, aggregate_id, new_doc, pending)
                if isinstance(decided, tuple):
                    new_doc, outcome = decided
                    results.append(outcome)
                else:
                    results.append(decided)
            if (
                new_doc is None or new_doc is doc
            ):  # nothing new: copies (flushed, in case a first attempt crashed) or errors
                if doc is not None:
                    await self.relay.flush(col, doc)
                return results
            if not await self.batches(col).write(((doc or {}).get("version"), self._at_rest(collection, new_doc))):
                self._written.pop(key, None)  # someone else wrote it: read it again
                self.on_conflict(collection)
                continue
            self._remember(key, new_doc)
            if self.fault == "crash_after_store":
                log.critical("fault injection: exiting between store and publish")
                os._exit(17)
            await self.relay.flush(col, new_doc)
            return results
        raise RuntimeError(f"{collection}/{aggregate_id}: too many concurrent writers")

    def _decide(
        self, col: AsyncCollection, aggregate_id: str, doc: dict | None, pending: _Pending
    ) -> tuple[dict, Outcome] | Outcome | BaseException:
        """One message on the document as the earlier ones of the fold left it: the next document
        and the outcome; or the outcome alone when it changes nothing (a copy); or its error,
        which is that message's alone."""
        message = pending.message
        seen = inbox_verdict(doc.get("processed", []) if doc else [], message)
        if seen == "conflict":
            return ConflictingCopy(
                f"message {message.event_id} was applied to {col.name}/{aggregate_id} with "
                f"another payload; this copy differs and has no effect"
            )
        if seen == "duplicate" and doc is not None:
            return Outcome(duplicate=True)
        try:
            outcome = pending.decide(doc["state"] if doc else None)
        except Exception as exc:
            return exc
        return self._next_doc(col, aggregate_id, doc, outcome, message), outcome

    def _recent(self, key: tuple[str, str]) -> dict | None:
        kept = self._written.get(key)
        return kept[0] if kept else None

    def _remember(self, key: tuple[str, str], doc: dict) -> None:
        now = time.monotonic()
        self._written[key] = (doc, now)
        self._written.move_to_end(key)
        # oldest first: a copy nothing has asked for within RECENT_SECONDS is only memory (a busy
        # service's RSS grew with the documents it held, not with what it was doing)
        while self._written and (
            len(self._written) > RECENT_DOCUMENTS or next(iter(self._written.values()))[1] < now - RECENT_SECONDS
        ):
            self._written.popitem(last=False)

    def _next_doc(
        self, col: AsyncCollection, aggregate_id: str, doc: dict | None, outcome: Outcome, message: Envelope
    ) -> dict:
        """The next document, plain (as this process keeps it); ``_at_rest`` seals its state."""
        state = outcome.state if outcome.state is not None else (doc or {}).get("state")
        region = self._region(col.name, state, doc, message)
        outbox = self.relay.unpublished(col.name, doc) if doc else {}
        outbox.update(self._outbox_entries(outcome, message, region))
        spec = self.personal.get(col.name)
        window = PERSON_INBOX_WINDOW if spec and spec.keyed_by_person else INBOX_WINDOW
        processed = ((doc or {}).get("processed", []) + [inbox_mark(message)])[-window:]
        new_doc = {
            "_id": self.document_id(col.name, aggregate_id),
            "version": (doc or {}).get("version", 0) + 1,
            "state": state,
            "processed": processed,
            "outbox": outbox,
            "has_outbox": bool(outbox),
            "updated_at": self.now(),
        }
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
        trace_headers = tracing.carrier()
        for emit in outcome.emits:
            env = envelope_for(emit.topic, emit.payload, producer=self.producer, now=now, cause=cause, name=emit.name)
            entries[str(env.event_id)] = {
                "kind": "event",
                "topic": emit.topic,
                "type": env.type,
                "key": key_for(emit.topic, emit.payload, emit.key),
                "value": ring.seal(encode(env).decode(), _insured_region(emit.payload) or region),
                # the handled message's span, for a sweep that publishes it later (runtime.tracing)
                **({"trace": trace_headers} if trace_headers else {}),
            }
        for sched in outcome.schedules:
            env = envelope_for(
                sched.topic,
                sched.payload,
                producer=self.producer,
                now=now,
                cause=cause,
                name=f"deadline:{sched.deadline_id}",
            )
            entries[f"schedule-{env.event_id}"] = {
                "kind": "schedule",
                "deadline_id": sched.deadline_id,
                "due_at": sched.due_at,
                "topic": sched.topic,
                "key": key_for(sched.topic, sched.payload, sched.key),
                "value": ring.seal(encode(env).decode(), _insured_region(sched.payload) or region),
                "type": env.type,
                # fired in the trace of the message that armed it: a timeout is a hop of its settlement
                **({"trace": trace_headers} if trace_headers else {}),
            }
        for deadline_id in outcome.cancels:
            entries[f"cancel-{deadline_id}-{cause.event_id}"] = {"kind": "cancel", "deadline_id": deadline_id}
        return entries


@dataclass
class _Pending:
    """A message waiting in its aggregate's line (``AggregateStore.apply``)."""

    message: Envelope
    decide: Decide
    loaded: dict | None


def _newest(loaded: dict | None, written: dict | None) -> dict | None:
    """The caller's copy, unless this process has written a newer one since it was read."""
    if loaded is None or (written is not None and written["version"] > loaded["version"]):
        return written
    return loaded


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
