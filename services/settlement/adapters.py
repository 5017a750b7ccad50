"""Where the settlement aggregates are stored, and how a decision leaves (the runtime's store).

:class:`PersonAggregates` is one kind of a person's aggregate (``visits``: the treating place's,
``insured``: the insured place's) in the store: :meth:`~PersonAggregates.apply` loads it, runs the
handler's pure decision on it and stores the decision's state, messages and answer deadlines in
one document write (outbox and inbox in it, ``runtime.store``). Results for the HIS leave sealed
to the institution they answer (003 §5 (三)); the state keeps the plain result (the store seals
it at rest), so a repeated request is answered from it, sealed again.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.his_result import SealedSettlementResult, SettlementResult
from contracts.ops import DeadlineDue
from runtime.outcome import Emit, Outcome, Schedule
from runtime.parties import ParticipantRegistry, seal_for
from runtime.store import RegionOf
from services.outcome import stable_id
from services.settlement.domain.decision import RESULT, AnswerDeadline, SettlementDecision
from services.wiring import Store

DEADLINE_DUE = "settlement.deadline-due.v1"
A = TypeVar("A", bound=BaseModel)


class Stored(NamedTuple):
    """How the store took a message (``applied``, ``duplicate``) and the decision it stored, if any."""
    result: str
    decision: SettlementDecision | None


class PersonAggregates(Generic[A]):
    """One kind of aggregate of a person: its collection, its model, who reads its results."""

    def __init__(self, store: Store, collection: str, model: type[A], *, region: RegionOf | None = None,
                 parties: ParticipantRegistry | None = None) -> None:
        self.store, self.collection, self.model, self.parties = store, collection, model, parties
        # stored under the person's pseudonym, sealed with the data key of their insured region (003 §5 (三))
        store.protect(collection, region)

    async def apply(self, env: Envelope, person_id: str, decide: Callable[[A], SettlementDecision]) -> Stored:
        """``decide`` on the person's aggregate (a new one for a person first seen), stored once per message.
        ``decide`` is pure: the store calls it again on a concurrent write, so the decision kept is the last."""
        decided: list[SettlementDecision] = []

        def run(raw: dict | None) -> Outcome:
            decision = decide(self.model.model_validate(raw) if raw else self.model(person_id=person_id))
            decided[:] = [decision]
            return self.outcome(decision)
        outcome = await self.store.apply(self.collection, person_id, env, run)
        return Stored(outcome.result, None if outcome.duplicate or not decided else decided[0])

    def outcome(self, decision: SettlementDecision) -> Outcome:
        """The decision as the runtime stores it: state, messages (results sealed), deadlines."""
        return Outcome(state=decision.state.model_dump(mode="json") if decision.state is not None else None,
                       emits=[Emit(m.topic, self._sealed(m.payload) if m.topic == RESULT else m.payload, name=m.name)
                              for m in decision.messages],
                       schedules=[schedule(d) for d in decision.deadlines], cancels=list(decision.cancels))

    def _sealed(self, payload: BaseModel) -> BaseModel:
        if self.parties is None or not isinstance(payload, SettlementResult):
            return payload
        return seal_result(self.parties, payload)


def schedule(deadline: AnswerDeadline) -> Schedule:
    """The persisted answer deadline (S-01): at ``due_at`` it comes back on ``settlement.deadline-due.v1``."""
    due = DeadlineDue(deadline_id=stable_id("settlement", deadline.kind, deadline.ref), kind=deadline.kind,
                      subject=deadline.person_id, ref=deadline.ref, due_at=deadline.due_at, rule="S-01")
    return Schedule(deadline_id=deadline.key, due_at=deadline.due_at, topic=DEADLINE_DUE, payload=due,
                    key=deadline.person_id)


def seal_result(parties: ParticipantRegistry, result: SettlementResult) -> SealedSettlementResult:
    """The HIS's answer as ``settlement.result.v2`` carries it (003 §5 (三)): every hospital reads the
    topic, so the result is encrypted to the institution it answers and only routing fields stay in
    clear. An institution without an encryption key cannot be answered at all (``seal_for`` raises):
    better no answer than another hospital's patients in clear."""
    body = result.root
    return SealedSettlementResult(
        institution_code=body.institution_code, request_id=body.request_id, outcome=body.outcome,
        reversal_request_id=getattr(body, "reversal_request_id", None),
        sealed=seal_for(parties, str(body.institution_code), result.model_dump_json().encode()))


def visits_region(state: dict) -> str | None:
    """The insured region the person's first stored HIS request names (``visits`` names no region itself)."""
    for request in (state.get("requests") or {}).values():
        return (request.get("request") or {}).get("insured_region")
    return None
