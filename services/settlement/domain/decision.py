"""What a method of a settlement aggregate decides (:class:`SettlementDecision`): the aggregate's
new state, the messages it causes, the answer deadlines it arms or disarms (S-01), and what the
service's metrics count of it afterwards (:data:`Count`). Pure data: the handler stores it
(``services/settlement/adapters.py``) and then counts it (``services/settlement/metrics.py``).

Settlement's decision carries more than ``services.outcome.Decision`` because its hops do: a
repeated answer is published under its own name (``repeat``, ``conflict``), so its event id differs
from the first answer's, and an answer deadline is disarmed when the answer comes (``cancels``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from contracts.his_result import PartyRefusalCode
from contracts.settlement import SettlementCompleted
from contracts.settlement_values import RefusalCode
from contracts.values import MedicalType

S = TypeVar("S")

# the topics the settlement aggregates publish on (contracts/registry.py)
RESULT = "settlement.result.v2"  # the HIS's answer, sealed to its institution on the way out
ASSESSED = "settlement.treating-assessed.v1"
DECIDED = "settlement.insured-decided.v1"
ROLLBACK = "settlement.insured-rollback.v1"
COMPLETED = "settlement.completed.v1"
REVERSED = "settlement.reversed.v1"
REFUND_ASSESSED = "settlement.refund-assessed.v1"
REFUND_DECIDED = "settlement.refund-decided.v1"
FEE_DETAIL = "settlement.fee-detail.v1"

# the kinds of answer deadline (S-01): a settlement's, a partial refund's
TIMEOUT = "insured_timeout"
REFUND_TIMEOUT = "refund_timeout"


@dataclass(frozen=True)
class Message:
    """Publish ``payload`` on ``topic``; ``name`` tells apart two messages of one topic caused by one
    input (a repeated answer is ``repeat``), so each gets its own deterministic event id."""

    topic: str
    payload: BaseModel
    name: str = ""


def timeout_key(kind: str, ref: str) -> str:
    """The id an answer deadline is armed and disarmed under."""
    return f"{kind}:{ref}"


@dataclass(frozen=True)
class AnswerDeadline:
    """S-01: at ``due_at`` the HIS is told "not settled directly" unless the insured place answered."""

    kind: str  # TIMEOUT or REFUND_TIMEOUT
    person_id: str  # the aggregate the deadline comes back to
    ref: str  # the settlement id (a refund's: "<settlement id>|<reversal id>")
    due_at: datetime

    @property
    def key(self) -> str:
        return timeout_key(self.kind, self.ref)


# ---------------------------------------------------------------- what the metrics count afterwards
@dataclass(frozen=True)
class RefusedRequest:
    """A HIS request refused by a rule (S-19), or by the insured place, or for its late answer."""

    medical_type: MedicalType
    code: RefusalCode | PartyRefusalCode


@dataclass(frozen=True)
class RefusedSender:
    """A command refused for who sent it (003 §5 (三)): another institution's settlement (S-15)."""

    code: PartyRefusalCode


@dataclass(frozen=True)
class Completed:
    """A settlement completed; ``received_wall`` is when its HIS request arrived (wall seconds)."""

    done: SettlementCompleted
    received_wall: float


@dataclass(frozen=True)
class TimedOut:
    """The insured place did not answer in time (S-01)."""


@dataclass(frozen=True)
class Inconsistent:
    """An insured-place answer not used because it does not fit what was asked (S-01, S-07)."""

    hop: str  # insured-decided | refund-decided
    check: str  # the failed check (domain/consistency.py)
    message: str
    ref: str  # the settlement or reversal answered


@dataclass(frozen=True)
class Reversed:
    """A cancel or refund made (S-15): ``done`` is the SettlementCancelled or SettlementRefunded."""

    done: BaseModel


Count = RefusedRequest | RefusedSender | Completed | TimedOut | Inconsistent | Reversed


@dataclass
class SettlementDecision(Generic[S]):
    """``state`` is the aggregate to store, or None to leave the stored one as it is (a refusal or a
    repeat changes nothing, M-03)."""

    state: S | None = None
    messages: list[Message] = field(default_factory=list)
    deadlines: list[AnswerDeadline] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)  # keys of answer deadlines no longer due
    counts: list[Count] = field(default_factory=list)
