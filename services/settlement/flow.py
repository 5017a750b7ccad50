"""The hops and answer deadlines of real-time settlement (S-01), shared by both of the treating
place's modules: topic names, and the persisted deadline after which the HIS is told the insured
place did not answer."""
from __future__ import annotations

from datetime import datetime

from contracts.ops import DeadlineDue
from runtime.outcome import Schedule
from services.outcome import stable_id
from services.settlement.state import Visits

RESULT, ASSESSED, COMPLETED, REVERSED = ("settlement.result.v1", "settlement.treating-assessed.v1",
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
