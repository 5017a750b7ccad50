"""The treating place's stored aggregate of one person 就医地 (``visits``): the person's HIS requests,
admissions and completed settlements. One document per person, so a request, its answer and a
later cancel or refund of it are each one atomic write. Its methods are the rules of
``treating_place.py`` (requests, S-01..S-04, S-10..S-12, S-20) and ``reversals.py`` (cancels and
refunds, S-15). Field names are those of the stored documents: renaming one breaks old documents.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from contracts.his import DischargeSettlementRequested, OutpatientVisitRequested
from contracts.settlement import SettlementCompleted
from contracts.values import MedicalType
from services.settlement.domain.accumulations import AccumulationDelta
from services.settlement.domain.reversal import SettlementRecord

SettlementRequest = DischargeSettlementRequested | OutpatientVisitRequested


class RequestStatus(StrEnum):
    PENDING = "pending"  # sent to the insured place, waiting for its answer
    COMPLETED = "completed"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"  # answered "not settled directly" (S-01, S-17)


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
    assessment: dict[str, Any] | None = Field(
        default=None,
        description="the remaining lines as assessed and sent "
        "(TreatingAssessed): the insured place's answer is checked against it",
    )


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
    timed_out_refunds: list[str] = Field(
        default_factory=list,
        description="partial refunds answered 'not done' because the insured place was late (S-01)",
    )


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
    standing: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "institution → the ids of its settlements of the person not reversed, in the order settled (S-15: "
            "which is the latest); ``settlements`` keeps only the newest records, the others are archived"
        ),
    )
    archived: int = Field(default=0, description="items moved to the archive (services/settlement/adapters.py)")

    @model_validator(mode="before")
    @classmethod
    def _standing_of_old_documents(cls, data: Any) -> Any:
        """A document written before ``standing`` was kept holds every record: derive it from them."""
        if isinstance(data, dict) and "standing" not in data and data.get("settlements"):
            standing: dict[str, list[str]] = {}
            for sid, record in data["settlements"].items():
                raw = record if isinstance(record, dict) else record.model_dump(mode="json")
                if not raw.get("reversed"):
                    standing.setdefault(raw["completed"]["institution_code"], []).append(sid)
            data = {**data, "standing": standing}
        return data

    def settled(self, completed: SettlementCompleted) -> None:
        """A settlement now stands (S-15: the latest of its institution)."""
        ids = self.standing.setdefault(completed.institution_code, [])
        if completed.settlement_id not in ids:
            ids.append(completed.settlement_id)

    def unsettled(self, completed: dict[str, Any]) -> None:
        """A settlement was reversed: it no longer stands."""
        ids = self.standing.get(completed["institution_code"], [])
        if completed["settlement_id"] in ids:
            ids.remove(completed["settlement_id"])
        if not ids:
            self.standing.pop(completed["institution_code"], None)

    def record(self, record: Record) -> SettlementRecord:
        """The domain's view of a stored record: the completed fact, the lines it still settles, its delta."""
        raw = record.request or self.requests[record.completed["settlement_id"]].request
        return SettlementRecord(
            SettlementCompleted.model_validate(record.completed),
            parse_request(raw),
            AccumulationDelta(record.year, record.increments),
            reversed=record.reversed,
        )

    def is_latest(self, completed: SettlementCompleted) -> bool:
        """No later settlement of the person at the same institution is still standing (S-15). A
        standing settlement is the latest when it is the last its institution has standing; for one
        already reversed the records kept (in the order they were settled) are looked at."""
        standing = self.standing.get(completed.institution_code, [])
        if completed.settlement_id in standing:
            return standing[-1] == completed.settlement_id
        ids = list(self.settlements)
        later = ids[ids.index(completed.settlement_id) + 1 :]
        return not any(
            not self.settlements[i].reversed
            and self.settlements[i].completed["institution_code"] == completed.institution_code
            for i in later
        )


def parse_request(raw: dict) -> SettlementRequest:
    """A stored HIS request as the model it was received as."""
    if raw["medical_type"] == MedicalType.INPATIENT.value:
        return DischargeSettlementRequested.model_validate(raw)
    return OutpatientVisitRequested.model_validate(raw)
