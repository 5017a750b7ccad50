"""How a service's handlers hand a domain decision to the runtime: the domain returns
``services.outcome.Decision(state, events, deadlines)``; the runtime stores the state, publishes
the events on the topics the registry gives their models, and arms the deadlines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.registry import topic_of
from runtime.authority import AuthorityTable, Refusal
from runtime.failures import PoisonMessage
from runtime.outcome import Emit, Outcome, Schedule
from runtime.service import Service
from runtime.store import Personal, RegionOf
from services.outcome import DeadlineRequest, Decision

S = TypeVar("S", bound=BaseModel)
Now = Callable[[], datetime]
"""The business clock a handler is given (``service.clock.now`` in the app; a fixed or moved time in tests)."""
Refuse = Callable[[str, Envelope, Refusal], Awaitable[None]]
"""How an outside sender hears a refusal (logical topic, the message, why): the runtime's ``refuse``,
answered on the topic's refuser or ``party.refused.v1`` and counted in ``yidi_refused_total``."""
Handler = Callable[[Envelope], Awaitable[str]]
"""What every service's registry maps a topic to (``registry()`` at the bottom of its handlers.py):
an async method taking the message's envelope, answering how it was taken ("applied", "duplicate"…)."""


class ArchiveBatch(Protocol):
    """Write-once items of one collection: ``runtime.batching.CollectionBatch`` (its calls coalesced
    into shared round trips) or the in-memory archive."""

    @property
    def find_one(self) -> Callable[[str], Awaitable[dict | None]]: ...

    @property
    def insert_once(self) -> Callable[[tuple[str, dict]], Awaitable[object]]: ...

    @property
    def keep(self) -> Callable[[tuple[str, dict, int]], Awaitable[object]]:
        """``(id, document, revision)``: stored unless a copy at least as new is."""
        ...

    async def owned(self, owner: str) -> list[dict]:
        """Every item stored as ``<owner>:<key>`` (an aggregate's archived items, for a listing)."""
        ...


class Store(Protocol):
    """What a service's handlers need of the runtime's aggregate store: ``runtime.store.AggregateStore``
    in production, ``runtime.memory.MemoryStore`` in the fast handler tests. ``producer`` is the
    service's name (the deadlines its decisions arm fire on ``<producer>.deadline-due.v1``)."""

    producer: str

    def protect(self, collection: str, region: RegionOf | None = None, *, keyed_by_person: bool = True) -> None: ...

    def declare(self, name: str) -> None: ...

    def document_id(self, collection: str, aggregate_id: str) -> str:
        """The ``_id`` an aggregate is stored under (a person's pseudonym in a personal collection)."""
        ...

    async def load(self, collection: str, aggregate_id: str) -> dict | None: ...

    async def load_document(self, collection: str, aggregate_id: str) -> dict | None: ...

    async def states(self, collection: str) -> list[dict]: ...

    async def apply(
        self,
        collection: str,
        aggregate_id: str,
        message: Envelope,
        decide: Callable[[dict | None], Outcome],
        loaded: dict | None = None,
    ) -> Outcome: ...

    def archive(self, name: str) -> ArchiveBatch: ...


def to_runtime(service: str, result: Decision | None, topics: dict[type, str] | None = None) -> Outcome:
    """A domain outcome as the runtime stores it; ``None`` means "nothing to do"."""
    if result is None:
        return Outcome()
    topics = topics or {}
    emits = [
        Emit(topics.get(type(event)) or topic_of(event), event, name=str(i)) for i, event in enumerate(result.events)
    ]
    return Outcome(
        state=result.state.model_dump(mode="json") if result.state is not None else None,
        emits=emits,
        schedules=[schedule_for(service, d) for d in result.deadlines],
    )


def sender_of(envelope: Envelope) -> str:
    """The registry code of the party that signed ``envelope``. The runtime hands a handler only a
    message whose envelope names its authenticated sender, so one without a sender here is a fault
    of ours (a handler called around the runtime), never the sender's."""
    if envelope.sender is None:
        raise ValueError(f"message {envelope.event_id} ({envelope.type}) names no sender")
    return envelope.sender


def schedule_for(service: str, request: DeadlineRequest) -> Schedule:
    due = DeadlineDue(
        deadline_id=request.deadline_id,
        kind=request.kind,
        subject=request.subject,
        ref=request.ref,
        due_at=request.due_at,
        rule=request.rule,
        calendar=request.calendar,
    )
    return Schedule(
        deadline_id=str(request.deadline_id),
        due_at=request.due_at,
        topic=f"{service}.deadline-due.v1",
        payload=due,
        key=request.subject,
    )


def request_of(due: DeadlineDue, service: str) -> DeadlineRequest:
    """The domain's view of a fired deadline."""
    return DeadlineRequest(
        deadline_id=due.deadline_id,
        service=service,
        kind=due.kind,
        subject=due.subject,
        ref=due.ref,
        due_at=due.due_at,
        rule=due.rule,
        calendar=due.calendar,
    )


class Aggregates(Generic[S]):
    """One kind of aggregate of a service: where it is stored and which model it is."""

    def __init__(
        self,
        store: Store,
        collection: str,
        model: type[S],
        refusals: tuple[type[Exception], ...] = (),
        topics: dict[type, str] | None = None,
        personal: Personal | None = None,
    ) -> None:
        self.store, self.collection, self.model = store, collection, model
        self.refusals, self.topics = refusals, topics
        store.declare(collection)
        if personal is not None:  # its state describes a person: sealed at rest (003 §5 (三))
            store.protect(collection, personal.region, keyed_by_person=personal.keyed_by_person)

    async def load(self, key: str) -> S | None:
        raw = await self.store.load(self.collection, key)
        return self.model.model_validate(raw) if raw else None

    async def load_document(self, key: str) -> tuple[dict | None, S | None]:
        doc = await self.store.load_document(self.collection, key)
        return doc, (self.model.model_validate(doc["state"]) if doc else None)

    async def apply(
        self, envelope: Envelope, key: str, decide: Callable[[S | None], Decision | None], loaded: dict | None = None
    ) -> str:
        """Apply ``decide`` to the aggregate ``key`` once per message. A rule that refuses the
        message (one of ``refusals``) has no effect: an outside sender hears the rule's words on
        ``party.refused.v1`` (REFUSED_BY_RULE); a message from a service is dead-lettered with them."""

        def run(raw: dict | None) -> Outcome:
            state = self.model.model_validate(raw) if raw else None
            try:
                return to_runtime(self.store.producer, decide(state), self.topics)
            except self.refusals as exc:
                raise PoisonMessage("refused_by_rule", f"{type(exc).__name__}: {exc}") from exc

        outcome = await self.store.apply(self.collection, key, envelope, run, loaded)
        return outcome.result


class Archive:
    """Items an aggregate counted, one document each, written once the aggregate recorded them
    (M-03). Checked before recording, it is what makes counting exact however long ago an item
    came, so the aggregate itself keeps only its latest ids (``services.outcome.remember``)
    for the one case the archive cannot see: recorded, then a crash before archiving."""

    def __init__(self, store: Store, collection: str) -> None:
        self.store, self.collection = store, collection

    async def has(self, item_id: str) -> bool:
        # checks and keeps of many partitions at once share one round trip (runtime.batching)
        return await self.store.archive(self.collection).find_one(item_id) is not None

    async def keep(self, item_id: str, document: dict) -> None:
        await self.store.archive(self.collection).insert_once((item_id, document))


def build_service(name: str, registry: Callable[[Service], dict], authority: AuthorityTable, settings=None) -> Service:
    """A service instance with its handler registry and authority table: what every ``app.py`` does."""
    from runtime.config import Settings

    service = Service(settings or Settings(service=name))
    service.register(registry(service), authority)
    return service
