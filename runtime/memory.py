"""An in-memory store with the interface of ``runtime.store.AggregateStore``, for fast handler
tests: a service's handlers are built on it exactly as on the real store, a test sends them an
envelope and reads the stored state and the messages the decision caused, in milliseconds.

What it keeps of the real store's behaviour: one document per aggregate with its state and
version; the inbox (a message whose event id was applied to the aggregate before changes
nothing, ``Outcome(duplicate=True)``); the emitted messages as the envelopes the relay would
publish (deterministic ids from the cause, ``runtime.envelopes.envelope_for``); deadlines armed
once per id and disarmed by ``cancels``; ``archive(name)`` as the archive stand-in
(``find_one`` / ``insert_once``). What it leaves out: sealing and pseudonyms (``protect`` only
records the collection), concurrent writers, crashes and the outbox relay. ``decide`` gets a
copy of the state, so a decision that mutates what it is given cannot leak into the store.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.envelope import Envelope
from runtime.envelopes import envelope_for
from runtime.outcome import Outcome, Schedule

Decide = Callable[[dict[str, Any] | None], Outcome]


@dataclass(frozen=True)
class Armed:
    """A deadline a decision armed, as the deadline store would keep it."""

    schedule: Schedule
    envelope: Envelope  # what fires at ``schedule.due_at``
    cancelled: bool = False


class _Archive:
    """``find_one`` / ``insert_once`` / ``keep`` of one collection, as ``runtime.batching.CollectionBatch`` answers."""

    def __init__(self, documents: dict[str, dict]) -> None:
        self.documents = documents

    async def find_one(self, document_id: str) -> dict | None:
        found = self.documents.get(document_id)
        return copy.deepcopy(found) if found is not None else None

    async def insert_once(self, item: tuple[str, dict]) -> bool:
        document_id, document = item
        if document_id in self.documents:
            return False
        self.documents[document_id] = {"_id": document_id, **copy.deepcopy(document)}
        return True

    async def owned(self, owner: str) -> list[dict]:
        return [copy.deepcopy(d) for k, d in sorted(self.documents.items()) if k.startswith(f"{owner}:")]

    async def keep(self, item: tuple[str, dict, int]) -> None:
        document_id, document, revision = item
        if self.documents.get(document_id, {}).get("revision", -1) < revision:
            self.documents[document_id] = {"_id": document_id, **copy.deepcopy(document), "revision": revision}


class MemoryStore:
    """``AggregateStore`` over dicts: ``apply``, ``load``, ``load_document``, ``states``, ``declare``, ``protect``,
    ``document_id``, ``archive``. ``published`` lists every message decided, in order."""

    def __init__(self, *, producer: str = "memory", now: Callable[[], datetime] | None = None) -> None:
        self.producer = producer
        self.now = now or (lambda: datetime.now(UTC))
        self.collections: set[str] = set()
        self.personal: set[str] = set()
        self.documents: dict[tuple[str, str], dict[str, Any]] = {}
        self.published: list[Envelope] = []
        self.deadlines: dict[str, Armed] = {}
        self.archives: dict[str, dict[str, dict]] = {}

    # ------------------------------------------------------------ declaring
    def declare(self, name: str) -> None:
        self.collections.add(name)

    def protect(
        self, collection: str, region: Callable[[dict], str | None] | None = None, *, keyed_by_person: bool = True
    ) -> None:
        """Recorded only: nothing is sealed in memory."""
        self.personal.add(collection)
        self.declare(collection)

    def document_id(self, collection: str, aggregate_id: str) -> str:
        return aggregate_id

    # ------------------------------------------------------------ reading
    async def load(self, collection: str, aggregate_id: str) -> dict | None:
        doc = self.documents.get((collection, aggregate_id))
        return copy.deepcopy(doc["state"]) if doc else None

    async def load_document(self, collection: str, aggregate_id: str) -> dict | None:
        doc = self.documents.get((collection, aggregate_id))
        return copy.deepcopy(doc) if doc else None

    async def states(self, collection: str) -> list[dict]:
        return [
            copy.deepcopy(doc["state"])
            for (name, _), doc in self.documents.items()
            if name == collection and doc["state"] is not None
        ]

    def state(self, collection: str, aggregate_id: str) -> dict | None:
        """The stored state, for a test to look at."""
        doc = self.documents.get((collection, aggregate_id))
        return doc["state"] if doc else None

    # ------------------------------------------------------------ writing
    async def apply(
        self, collection: str, aggregate_id: str, message: Envelope, decide: Decide, loaded: dict | None = None
    ) -> Outcome:
        """``decide`` on the stored state, once per message id; its state, messages and deadlines kept."""
        self.declare(collection)
        key = (collection, aggregate_id)
        doc = self.documents.get(key)
        if doc is not None and str(message.event_id) in doc["processed"]:
            return Outcome(duplicate=True)
        outcome = decide(copy.deepcopy(doc["state"]) if doc else None)
        state = copy.deepcopy(outcome.state) if outcome.state is not None else (doc or {}).get("state")
        self.documents[key] = {
            "_id": aggregate_id,
            "version": (doc or {}).get("version", 0) + 1,
            "state": state,
            "processed": [*(doc or {}).get("processed", []), str(message.event_id)],
        }
        now = self.now()
        for emit in outcome.emits:
            self.published.append(
                envelope_for(emit.topic, emit.payload, producer=self.producer, now=now, cause=message, name=emit.name)
            )
        for sched in outcome.schedules:
            if sched.deadline_id not in self.deadlines:
                fired = envelope_for(
                    sched.topic,
                    sched.payload,
                    producer=self.producer,
                    now=now,
                    cause=message,
                    name=f"deadline:{sched.deadline_id}",
                )
                self.deadlines[sched.deadline_id] = Armed(sched, fired)
        for deadline_id in outcome.cancels:
            armed = self.deadlines.get(deadline_id)
            if armed is not None:
                self.deadlines[deadline_id] = Armed(armed.schedule, armed.envelope, cancelled=True)
        return outcome

    def archive(self, name: str) -> _Archive:
        """The write-once items of ``name``, as ``AggregateStore.archive`` answers."""
        return _Archive(self.archives.setdefault(name, {}))

    def due(self) -> list[Envelope]:
        """The deadlines armed and not cancelled, as the envelopes they fire (in the order armed)."""
        return [armed.envelope for armed in self.deadlines.values() if not armed.cancelled]
