"""What the settlement service stores, one document per person and role.

The treating place (就医地) keeps the person's requests, admissions and completed settlements
(``visits``); the insured place (参保地) keeps the person's year-to-date accumulations and every
decision it applied (``insured``). Each is one aggregate, so a decision and its accumulation
change are one atomic write, and two settlements of one person never both consume the same
remaining deductible or cap (S-05): the second writer sees the first's version. The insured
aggregate also holds the person's groups and personal-account balance (S-06), debited in the
same write as the decision that spends it.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.settlement.domain import insured
from services.settlement.domain.accumulations import ACCOUNT_KEY, AccumulationDelta, Accumulations

ZERO = Decimal("0.00")


class RequestStatus(StrEnum):
    PENDING = "pending"          # sent to the insured place, waiting for its answer
    COMPLETED = "completed"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"      # answered "not settled directly" (S-01, S-17)


class Request(BaseModel):
    """One HIS settlement request as the treating place handled it."""
    settlement_id: str
    request_id: str
    fingerprint: str = Field(description="hash of the request content: a repeat must match it")
    request: dict[str, Any] = Field(description="the HIS request (for re-settlement and audit)")
    assessment: dict[str, Any] | None = None
    status: RequestStatus
    received_at: datetime
    received_wall: float = Field(description="wall-clock seconds at receipt, for the latency histogram")
    result: dict[str, Any] | None = Field(default=None, description="what the HIS was told (SettlementResult)")


class PendingRefund(BaseModel):
    """A partial refund waiting for the insured place's decision on the remaining lines (S-15)."""
    request_id: str = Field(description="the HIS's request id of the refund")
    kind: str
    line_nos: list[int]
    remaining: dict[str, Any] = Field(description="the request without the refunded lines")
    context: dict[str, Any] = Field(description="the ReversalContext facts checked when the refund arrived")
    assessment: dict[str, Any] | None = Field(default=None, description="the remaining lines as assessed and sent "
                                              "(TreatingAssessed): the insured place's answer is checked against it")


class Record(BaseModel):
    """A completed settlement the treating place can cancel or refund (S-15). After a partial refund
    ``completed`` carries the replacement slip, ``request`` the remaining lines and ``increments``
    the replacement's accumulation delta."""
    completed: dict[str, Any]
    year: int
    increments: dict[str, Decimal]
    request: dict[str, Any] | None = Field(default=None, description="the lines still settled; None: the original")
    reversed: bool = False
    reversals: dict[str, dict[str, Any]] = Field(default_factory=dict, description="reversal id → result")
    pending_refunds: dict[str, PendingRefund] = Field(default_factory=dict, description="reversal id → refund")
    timed_out_refunds: list[str] = Field(default_factory=list, description="partial refunds answered 'not done' "
                                         "because the insured place was late (S-01)")


class Admission(BaseModel):
    visit_id: str
    institution_code: str
    admission_date: date
    result: dict[str, Any]


class Visits(BaseModel):
    """The treating place's aggregate of one person."""
    person_id: str
    requests: dict[str, Request] = Field(default_factory=dict, description="settlement id → request")
    settlements: dict[str, Record] = Field(default_factory=dict, description="settlement id → record")
    admissions: dict[str, Admission] = Field(default_factory=dict, description="institution:visit → admission")


class Applied(BaseModel):
    """A decision of the insured place, kept to answer repeats identically and to roll back."""
    decided: dict[str, Any]
    year: int
    increments: dict[str, Decimal] = Field(default_factory=dict)
    rolled_back: bool = False
    replaced: dict[str, Decimal] | None = Field(default=None, description="a partial refund's answer: what the "
                                                "settlement consumed before it, to undo a late refund (S-01)")


class InsuredPerson(BaseModel):
    """The insured place's aggregate of one person: counters per year, decisions, qualifications."""
    person_id: str
    counters: dict[int, dict[str, Decimal]] = Field(default_factory=dict)
    applied: dict[str, Applied] = Field(default_factory=dict, description="settlement id → decision")
    reversals: list[str] = Field(default_factory=list, description="reversal ids already rolled back")
    chronic_qualifications: list[str] = Field(default_factory=list, description="disease codes (S-13)")
    groups: list[str] = Field(default_factory=list, description="civil_servant, assistance… (S-06)")
    personal_account_balance: Decimal = Field(default=ZERO, description="个人账户余额 left (S-06)")
    person_recorded_at: datetime | None = Field(default=None, description="when the agency last recorded them")

    def accumulations(self, year: int) -> Accumulations:
        return Accumulations(year, dict(self.counters.get(year, {})))

    def add(self, delta: AccumulationDelta) -> None:
        """Apply a settlement's counter change; what it paid from the personal account is debited
        from the balance (a rollback's negative amount credits it back) in the same write (S-06)."""
        merged = self.accumulations(delta.year).plus(delta)
        self.counters[delta.year] = {k: v for k, v in merged.counters.items()}
        self.personal_account_balance -= delta.increments.get(ACCOUNT_KEY, ZERO)

    def profile(self) -> insured.InsuredPerson:
        """What the insured-place rules need of the person (S-06, S-13)."""
        return insured.InsuredPerson(chronic_qualifications=frozenset(self.chronic_qualifications),
                                     groups=frozenset(self.groups),
                                     personal_account_balance=self.personal_account_balance)
