"""Where the settlement aggregates are stored, and how a decision leaves (the runtime's store).

:class:`PersonAggregates` is one kind of a person's aggregate (``visits``: the treating place's,
``insured``: the insured place's) in the store: :meth:`~PersonAggregates.apply` loads it, runs the
handler's pure decision on it and stores the decision's state, messages and answer deadlines in
one document write (outbox and inbox in it, ``runtime.store``). Results for the HIS leave sealed
to the institution they answer (003 §5 (三)); the state keeps the plain result (the store seals
it at rest), so a repeated request is answered from it, sealed again.

A person's aggregate stays small however many times they are treated (:class:`Items`): its
per-settlement items (a request and its record, an insured decision) that nothing is waiting for
leave it for an archive collection, one document per item, once there are more than
``HOT_ITEMS + ARCHIVE_EVERY``; the newest ``HOT_ITEMS`` stay. An item is archived first and dropped
from the aggregate afterwards, by the aggregate's next write and only if it is still what was
archived, so a crash between the two leaves a copy, never a loss. A message that names an item no
longer in the aggregate (a repeated request, a cancel, a late answer) has it put back before the
decision, so the decision and its state change stay one document write; archived again later, the
newer copy replaces the older (``revision``: the aggregate's version it was taken from).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.his_inquiry import InquiryAnswer, SealedInquiryAnswer
from contracts.his_result import SealedSettlementResult, SettlementResult
from contracts.ops import DeadlineDue
from runtime.outcome import Emit, Outcome, Schedule
from runtime.parties import ParticipantRegistry, seal_for
from runtime.sealing import SHARED_SCOPE, is_sealed, keyring, region_of_kid
from runtime.store import SEALED_BY, RegionOf
from services.outcome import stable_id
from services.settlement.domain.decision import RESULT, AnswerDeadline, SettlementDecision
from services.wiring import Store

DEADLINE_DUE = "settlement.deadline-due.v1"
A = TypeVar("A", bound=BaseModel)
HOT_ITEMS = 2  # items nothing waits for that a person's aggregate keeps in itself (the newest)
ARCHIVE_EVERY = 2  # archived in groups: once this many more than HOT_ITEMS have gathered
ARCHIVED = "archived"  # the state's count of items it moved to the archive (none: nothing to look up there)
TRIES = 3  # an item archived by another write between reading and deciding: read again


def _always(item: dict) -> bool:
    return True


@dataclass(frozen=True)
class Items:
    """Where an aggregate keeps its per-settlement items: the dicts of its state that hold them, each
    keyed by the item's id (the first gives their order, oldest first), when nothing waits for one
    any more (``done``), and the collection they are archived in."""

    archive: str
    fields: tuple[str, ...]
    done: Callable[[dict], bool] = _always

    def holds(self, state: dict, key: str) -> bool:
        return any(key in (state.get(f) or {}) for f in self.fields)

    def of(self, state: dict, key: str) -> dict:
        """The item as the state holds it: field → value, for the fields that have it."""
        return {f: state[f][key] for f in self.fields if key in (state.get(f) or {})}

    def to_archive(self, state: dict, keep: Iterable[str] = ()) -> dict[str, dict]:
        """The oldest done items beyond the newest ``HOT_ITEMS``, once ``ARCHIVE_EVERY`` more have
        gathered (none of ``keep``: the items the message being handled names)."""
        done = [k for k in (state.get(self.fields[0]) or {}) if k not in keep and self.done(self.of(state, k))]
        if len(done) <= HOT_ITEMS + ARCHIVE_EVERY:
            return {}
        return {k: self.of(state, k) for k in done[: len(done) - HOT_ITEMS]}

    def copy(self, state: dict) -> dict:
        """A copy whose item dicts may be changed (the store's copy of the document is not)."""
        return {**state, **{f: dict(state.get(f) or {}) for f in self.fields}}

    def drop(self, state: dict, archived: dict[str, dict]) -> None:
        """Remove the archived items the state still holds exactly as they were archived (counted)."""
        for key, item in archived.items():
            if self.of(state, key) == item:
                for f in item:
                    del state[f][key]
                state[ARCHIVED] = state.get(ARCHIVED, 0) + 1

    def put_back(self, state: dict, items: dict[str, dict]) -> None:
        """Put archived items back into a state that does not hold them."""
        for key, item in items.items():
            if not self.holds(state, key):
                for f, value in item.items():
                    state[f][key] = value


class _Moved(Exception):
    """An item the message names left the aggregate for the archive after the aggregate was read."""


class Stored(NamedTuple):
    """How the store took a message (``applied``, ``duplicate``) and the decision it stored, if any."""

    result: str
    decision: SettlementDecision | None


class PersonAggregates(Generic[A]):
    """One kind of aggregate of a person: its collection, its model, who reads its results."""

    def __init__(
        self,
        store: Store,
        collection: str,
        model: type[A],
        *,
        region: RegionOf | None = None,
        parties: ParticipantRegistry | None = None,
        items: Items | None = None,
    ) -> None:
        self.store, self.collection, self.model, self.parties = store, collection, model, parties
        self.items = items
        # stored under the person's pseudonym, sealed with the data key of their insured region (003 §5 (三))
        store.protect(collection, region)

    async def apply(
        self, env: Envelope, person_id: str, decide: Callable[[A], SettlementDecision], names: Iterable[str | None] = ()
    ) -> Stored:
        """``decide`` on the person's aggregate (a new one for a person first seen), stored once per message.
        ``decide`` is pure: the store calls it again on a concurrent write, so the decision kept is the last.
        ``names``: the items the message is about (settlement and reversal ids), put back from the
        archive if the aggregate no longer holds them."""
        if self.items is None:
            return await self._apply(env, person_id, decide, None, {}, {})
        named = tuple(n for n in names if n)
        for _ in range(TRIES):
            doc = await self.store.load_document(self.collection, person_id)
            state = (doc or {}).get("state") or {}
            # an aggregate that never archived an item need not look for one (a new request)
            fetched = await self._fetch(
                person_id, [n for n in named if not self.items.holds(state, n)] if state.get(ARCHIVED) else []
            )
            archived = await self._archive(person_id, doc, named) if doc else {}
            try:
                return await self._apply(env, person_id, decide, doc, fetched, archived, named)
            except _Moved:
                continue
        raise RuntimeError(f"{self.collection}: items of {env.event_id} kept moving to the archive")

    async def peek(self, person_id: str, names: Iterable[str] = ()) -> A:
        """The person's aggregate as the database holds it now (a new one for a person never seen), the
        named items put back from the archive: to decide on without storing anything (an inquiry)."""
        state = await self.store.load(self.collection, person_id)
        if not state:
            return self.model(person_id=person_id)
        state = self.items.copy(state) if self.items else state
        if self.items is not None and state.get(ARCHIVED):
            fetched = await self._fetch(person_id, [n for n in names if n and not self.items.holds(state, n)])
            self.items.put_back(state, {k: v for k, v in fetched.items() if v is not None})
        return self.model.model_validate(state)

    async def _apply(
        self,
        env: Envelope,
        person_id: str,
        decide: Callable[[A], SettlementDecision],
        loaded: dict | None,
        fetched: dict[str, dict | None],
        archived: dict[str, dict],
        named: tuple[str, ...] = (),
    ) -> Stored:
        decided: list[SettlementDecision] = []
        items = self.items

        def run(raw: dict | None) -> Outcome:
            if raw and items is not None:
                raw = items.copy(raw)
                if raw.get(ARCHIVED) and any(not items.holds(raw, n) and n not in fetched for n in named):
                    raise _Moved()
                items.put_back(raw, {k: v for k, v in fetched.items() if v is not None})
                items.drop(raw, archived)
            decision = decide(self.model.model_validate(raw) if raw else self.model(person_id=person_id))
            decided[:] = [decision]
            return self.outcome(decision)

        outcome = await self.store.apply(self.collection, person_id, env, run, loaded)
        return Stored(outcome.result, None if outcome.duplicate or not decided else decided[0])

    async def _fetch(self, person_id: str, keys: list[str]) -> dict[str, dict | None]:
        """The person's archived items of ``keys`` (None: never archived)."""
        if not keys or self.items is None:
            return {}
        owner = self.store.document_id(self.collection, person_id)
        found = await asyncio.gather(*(archived_item(self.store, self.items.archive, owner, k) for k in keys))
        return dict(zip(keys, found))

    async def _archive(self, person_id: str, doc: dict, named: tuple[str, ...]) -> dict[str, dict]:
        """Archive what the aggregate should no longer hold (sealed like the aggregate): the items the
        next write drops if they are still as archived."""
        if self.items is None or not doc.get("state"):
            return {}
        items = self.items.to_archive(doc["state"], named)
        if items:
            # a document written before sealing names no key: its items are sealed all the same
            region = region_of_kid(doc[SEALED_BY]) if doc.get(SEALED_BY) else SHARED_SCOPE
            owner, batch = self.store.document_id(self.collection, person_id), self.store.archive(self.items.archive)
            await asyncio.gather(
                *(
                    batch.keep((archive_id(owner, key), {"item": keyring().seal(item, region)}, doc["version"]))
                    for key, item in items.items()
                )
            )
        return items

    def outcome(self, decision: SettlementDecision) -> Outcome:
        """The decision as the runtime stores it: state, messages (results sealed), deadlines."""
        return Outcome(
            state=decision.state.model_dump(mode="json") if decision.state is not None else None,
            emits=[
                Emit(m.topic, self._sealed(m.payload) if m.topic == RESULT else m.payload, name=m.name)
                for m in decision.messages
            ],
            schedules=[schedule(d) for d in decision.deadlines],
            cancels=list(decision.cancels),
        )

    def _sealed(self, payload: BaseModel) -> BaseModel:
        if self.parties is None or not isinstance(payload, SettlementResult):
            return payload
        return seal_result(self.parties, payload)


def schedule(deadline: AnswerDeadline) -> Schedule:
    """The persisted answer deadline (S-01): at ``due_at`` it comes back on ``settlement.deadline-due.v1``."""
    due = DeadlineDue(
        deadline_id=stable_id("settlement", deadline.kind, deadline.ref),
        kind=deadline.kind,
        subject=deadline.person_id,
        ref=deadline.ref,
        due_at=deadline.due_at,
        rule="S-01",
    )
    return Schedule(
        deadline_id=deadline.key, due_at=deadline.due_at, topic=DEADLINE_DUE, payload=due, key=deadline.person_id
    )


def seal_result(parties: ParticipantRegistry, result: SettlementResult) -> SealedSettlementResult:
    """The HIS's answer as ``settlement.result.v2`` carries it (003 §5 (三)): every hospital reads the
    topic, so the result is encrypted to the institution it answers and only routing fields stay in
    clear. An institution without an encryption key cannot be answered at all (``seal_for`` raises):
    better no answer than another hospital's patients in clear."""
    body = result.root
    return SealedSettlementResult(
        institution_code=body.institution_code,
        request_id=body.request_id,
        outcome=body.outcome,
        reversal_request_id=getattr(body, "reversal_request_id", None),
        sealed=seal_for(parties, str(body.institution_code), result.model_dump_json().encode()),
    )


INQUIRY_ANSWERED = "settlement.inquiry-answered.v1"
Answer = Callable[[Envelope, BaseModel], Awaitable[str]]


def inquiry_answers(parties: ParticipantRegistry, publish: Callable[..., Awaitable[object]]) -> Answer:
    """How an inquiry is answered (contracts.his_inquiry): published at once, sealed to the institution that
    asked, with an id derived from the request's (a redelivered request republishes a copy the HIS drops).
    Nothing is stored, so there is nothing to keep in an outbox: an answer lost with a crash is sent again
    when the request, not yet committed, is read again."""

    async def answer(env: Envelope, content: BaseModel) -> str:
        body = InquiryAnswer.model_validate(content.model_dump(mode="json"))
        code = str(body.root.institution_code)
        sealed = SealedInquiryAnswer(
            institution_code=code,
            request_id=body.root.request_id,
            kind=body.root.kind,
            sealed=seal_for(parties, code, body.model_dump_json().encode()),
        )
        await publish(INQUIRY_ANSWERED, sealed, cause=env)
        return "answered"

    return answer


def archive_id(owner: str, key: str) -> str:
    """An archived item's ``_id``: its aggregate's document id (the person's pseudonym) and the item's
    key. Settlement ids are the institution's request ids: two people's may be alike, their items never."""
    return f"{owner}:{key}"


async def archived_item(store: Store, archive: str, owner: str, key: str) -> dict | None:
    """The item ``key`` of the aggregate stored as ``owner`` as it was archived, opened (``Items``);
    None if it never was."""
    doc = await store.archive(archive).find_one(archive_id(owner, key))
    if doc is None:
        return None
    return keyring().open(doc["item"]) if is_sealed(doc["item"]) else doc["item"]


def visits_item_done(item: dict) -> bool:
    """A request nothing waits for: answered, and no partial refund of its settlement under way."""
    request = item.get("requests") or {}
    return request.get("status") != "pending" and not (item.get("settlements") or {}).get("pending_refunds")


VISITS_ITEMS = Items("visits_archive", ("requests", "settlements"), visits_item_done)
INSURED_ITEMS = Items("insured_archive", ("applied",))


def visits_region(state: dict) -> str | None:
    """The insured region the person's first stored HIS request names (``visits`` names no region itself)."""
    for request in (state.get("requests") or {}).values():
        return (request.get("request") or {}).get("insured_region")
    return None
