"""The hops and answer deadlines of real-time settlement (S-01), shared by both of the treating
place's modules: topic names, the persisted deadline after which the HIS is told the insured
place did not answer, and the sealing of every result to the institution it answers."""
from __future__ import annotations

from datetime import datetime

from contracts.ops import DeadlineDue
from contracts.settlement import SealedSettlementResult, SettlementResult
from runtime.outcome import Emit, Outcome, Schedule
from runtime.parties import ParticipantRegistry, seal_for
from services.outcome import stable_id
from services.settlement.state import Visits

RESULT, ASSESSED, COMPLETED, REVERSED = ("settlement.result.v2", "settlement.treating-assessed.v1",
                                         "settlement.completed.v1", "settlement.reversed.v1")
REFUND_ASSESSED = "settlement.refund-assessed.v1"
FEE_DETAIL = "settlement.fee-detail.v1"
ROLLBACK = "settlement.insured-rollback.v1"
TIMEOUT = "insured_timeout"
REFUND_TIMEOUT = "refund_timeout"


def timeout_key(kind: str, ref: str) -> str:
    return f"{kind}:{ref}"


def timeout(kind: str, person_id: str, ref: str, due_at: datetime) -> Schedule:
    """The persisted deadline after which the HIS is told the insured place did not answer (S-01)."""
    return Schedule(deadline_id=timeout_key(kind, ref), due_at=due_at, topic="settlement.deadline-due.v1",
                    payload=DeadlineDue(deadline_id=stable_id("settlement", kind, ref), kind=kind, subject=person_id,
                                        ref=ref, due_at=due_at, rule="S-01"), key=person_id)


def dump(visits: Visits) -> dict:
    return visits.model_dump(mode="json")


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


def sealed_results(parties: ParticipantRegistry, outcome: Outcome) -> Outcome:
    """``outcome`` with each result it emits sealed; the state keeps the plain result (the store seals
    it at rest), so a repeated request is answered from it, sealed again."""
    outcome.emits = [Emit(e.topic, seal_result(parties, e.payload), e.key, e.name)
                     if e.topic == RESULT and isinstance(e.payload, SettlementResult) else e for e in outcome.emits]
    return outcome
