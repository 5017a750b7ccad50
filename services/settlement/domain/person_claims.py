"""A person's manual claims 手工报销 at the insured place (S-17; 004 第三十三条): the materials against the insured
region's list (``claims/materials.yaml``), told once what is missing (一次性告知, 004 第八、三十三条), and the 20
working days counted from the day the materials are complete — a verification letter's reply included where
the agency sent one — never from the day of submission. Pure: the caller gives the time and the calendar.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts.manual_claims import (
    AddClaimDocuments,
    ClaimDecision,
    ClaimDocument,
    ClaimPayment,
    ClaimStatus,
    ManualClaimChanged,
    MissingDocument,
    RequestVerification,
    SubmitManualClaim,
)
from contracts.values import SHANGHAI, MedicalType
from runtime.calendar import WorkingCalendar

DECISION_WORKING_DAYS = 20  # S-17: 004 第三十三条 "原则上不超过20个工作日"
MATERIALS = Path(__file__).resolve().parent.parent / "claims" / "materials.yaml"
CLAIMS_NS = uuid.UUID("5b0d3f4e-2c61-4f1b-9a57-3e8f1c2d9a10")


class MaterialList(BaseModel):
    """One insured region's list, with its source."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    source: str = Field(min_length=3)
    sample: bool = False
    inpatient: tuple[ClaimDocument, ...] = Field(min_length=1)
    outpatient: tuple[ClaimDocument, ...] = Field(min_length=1)
    accident: tuple[ClaimDocument, ...] = ()

    def required(self, medical_type: MedicalType, accident: bool) -> tuple[ClaimDocument, ...]:
        kind = self.inpatient if medical_type is MedicalType.INPATIENT else self.outpatient
        return kind + (self.accident if accident else ())


class MaterialBook(BaseModel):
    """Every region's list; a region without one uses the default."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    default: MaterialList
    regions: dict[str, MaterialList] = Field(default_factory=dict)

    def for_region(self, region: str) -> MaterialList:
        return self.regions.get(str(region), self.default)


def load_materials(path: Path = MATERIALS) -> MaterialBook:
    """The material lists, validated (a bad file stops the service at start, the field named)."""
    return MaterialBook.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


class Claim(BaseModel):
    """One claim as the insured place keeps it (its latest step is ``ManualClaimChanged``)."""

    submitted: SubmitManualClaim
    documents: tuple[ClaimDocument, ...]
    verification_pending: bool = False
    complete_on: date | None = None
    decide_by: date | None = None
    decision: ClaimDecision | None = None  # the insured agency's (claim_decision.py)
    payment: ClaimPayment | None = None
    version: int = 1

    @property
    def settled(self) -> bool:
        """Decided to be reimbursed (or paid): its materials and amounts no longer change."""
        return self.decision is not None and self.decision.reimbursed


class PersonClaims(BaseModel):
    """One person's manual claims and the requests already handled (a retry has no second effect)."""

    person_id: str
    claims: dict[str, Claim] = Field(default_factory=dict)
    handled: list[str] = Field(default_factory=list)


class ClaimRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


def claim_id_of(person_id: str, request_id: str) -> uuid.UUID:
    return uuid.uuid5(CLAIMS_NS, f"{person_id}:{request_id}")


def missing(claim: Claim, materials: MaterialList) -> tuple[MissingDocument, ...]:
    """Everything still missing, at once (一次性告知); the verification reply while a letter is out."""
    wanted = materials.required(claim.submitted.medical_type, claim.submitted.accident)
    if claim.verification_pending:
        wanted += (ClaimDocument.VERIFICATION_REPLY,)
    source = {ClaimDocument.VERIFICATION_REPLY: "004 第三十三条: 按规定需由就医地经办机构回复的核查函证"}
    return tuple(
        MissingDocument(document=d, name_zh=d.zh, source=source.get(d, materials.source))
        for d in dict.fromkeys(wanted)
        if d not in claim.documents
    )


def _settle_clock(claim: Claim, materials: MaterialList, today: date, calendar: WorkingCalendar) -> Claim:
    """Complete now → the S-17 clock starts today (once); incomplete again (a letter out) → it stops."""
    if missing(claim, materials):
        return claim.model_copy(update={"complete_on": None, "decide_by": None})
    if claim.complete_on is not None:
        return claim
    return claim.model_copy(
        update={"complete_on": today, "decide_by": calendar.add_working_days(today, DECISION_WORKING_DAYS)}
    )


def submit(
    state: PersonClaims, cmd: SubmitManualClaim, materials: MaterialList, now: datetime, calendar: WorkingCalendar
) -> tuple[PersonClaims, str]:
    """A new claim with its materials; returns the new state and the claim's id."""
    if ClaimDocument.VERIFICATION_REPLY in cmd.documents:
        raise ClaimRefused("not_the_persons", "a verification reply comes from the treating agency (S-17)")
    key = str(claim_id_of(cmd.person_id, cmd.request_id))
    claim = Claim(submitted=cmd, documents=tuple(dict.fromkeys(cmd.documents)))
    claim = _settle_clock(claim, materials, now.astimezone(SHANGHAI).date(), calendar)
    return with_claim(state, key, claim, cmd.request_id), key


def add_documents(
    state: PersonClaims, cmd: AddClaimDocuments, materials: MaterialList, now: datetime, calendar: WorkingCalendar
) -> tuple[PersonClaims, str]:
    """Materials handed in later; a verification reply (recorded by the agency, never a channel) ends the wait."""
    if cmd.authentication is not None and ClaimDocument.VERIFICATION_REPLY in cmd.documents:
        raise ClaimRefused("not_the_persons", "a verification reply comes from the treating agency (S-17)")
    key, claim = _claim(state, str(cmd.claim_id), str(cmd.insured_region))
    documents = tuple(dict.fromkeys((*claim.documents, *cmd.documents)))
    pending = claim.verification_pending and ClaimDocument.VERIFICATION_REPLY not in cmd.documents
    claim = claim.model_copy(
        update={"documents": documents, "verification_pending": pending, "version": claim.version + 1}
    )
    return with_claim(
        state, key, _settle_clock(claim, materials, now.astimezone(SHANGHAI).date(), calendar), cmd.request_id
    ), key


def request_verification(
    state: PersonClaims, cmd: RequestVerification, materials: MaterialList, now: datetime, calendar: WorkingCalendar
) -> tuple[PersonClaims, str]:
    """A verification letter out: the materials are complete only with its reply (004 第三十三条)."""
    key, claim = _claim(state, str(cmd.claim_id), str(cmd.insured_region))
    documents = tuple(d for d in claim.documents if d is not ClaimDocument.VERIFICATION_REPLY)
    claim = claim.model_copy(
        update={"documents": documents, "verification_pending": True, "version": claim.version + 1}
    )
    return with_claim(
        state, key, _settle_clock(claim, materials, now.astimezone(SHANGHAI).date(), calendar), cmd.request_id
    ), key


def _claim(state: PersonClaims, key: str, insured_region: str) -> tuple[str, Claim]:
    claim = state.claims.get(key)
    if claim is None or str(claim.submitted.insured_region) != insured_region:  # another place's: as if absent
        raise ClaimRefused("claim_not_found", f"no manual claim {key} of this person at {insured_region} (S-17)")
    if claim.settled:
        raise ClaimRefused("claim_decided", f"manual claim {key} is decided: its materials no longer change (S-17)")
    return key, claim


def with_claim(state: PersonClaims, key: str, claim: Claim, request_id: str) -> PersonClaims:
    return state.model_copy(
        update={"claims": {**state.claims, key: claim}, "handled": [*state.handled, request_id][-64:]}
    )


def changed(
    key: str, claim: Claim, materials: MaterialList, now: datetime, calendar: WorkingCalendar
) -> ManualClaimChanged:
    """The step told to the person and the insured agency: status, what is missing, the clock."""
    gaps = missing(claim, materials)
    status = _status(claim, gaps)
    s = claim.submitted
    return ManualClaimChanged(
        claim_id=uuid.UUID(key),
        version=claim.version,
        person_id=s.person_id,
        insured_region=s.insured_region,
        treating_region=s.treating_region,
        institution_code=s.institution_code,
        medical_type=s.medical_type,
        total=s.total,
        status=status,
        documents=claim.documents,
        missing=gaps,
        complete_on=claim.complete_on,
        decide_by=claim.decide_by,
        calendar=calendar.source,
        checklist_source=materials.source,
        applied_through=s.authentication.channel if s.authentication else None,
        note=_note(status, gaps, claim),
        decision=claim.decision,
        payment=claim.payment,
        occurred_at=now,
    )


def _status(claim: Claim, gaps: tuple[MissingDocument, ...]) -> ClaimStatus:
    if claim.payment is not None:
        return ClaimStatus.PAID
    if claim.decision is not None:
        return ClaimStatus.DECIDED if claim.decision.reimbursed else ClaimStatus.REJECTED
    if claim.verification_pending:
        return ClaimStatus.AWAITING_VERIFICATION
    return ClaimStatus.INCOMPLETE if gaps else ClaimStatus.COMPLETE


def _note(status: ClaimStatus, gaps: tuple[MissingDocument, ...], claim: Claim) -> str:
    if claim.payment is not None:
        return f"已于 {claim.payment.paid_on} 支付 {claim.payment.amount} 元 (S-17)"
    if claim.decision is not None:
        return claim.decision.reason
    if status is ClaimStatus.COMPLETE:
        return f"材料齐全，{claim.complete_on} 起 {DECISION_WORKING_DAYS} 个工作日内（{claim.decide_by} 前）办结 (S-17)"
    names = "、".join(g.name_zh for g in gaps)
    if status is ClaimStatus.AWAITING_VERIFICATION:
        return f"已向就医地发出核查函证，待回复后计时；尚缺：{names} (S-17)"
    return f"材料不全，请一次补齐：{names} (004 第三十三条一次性告知)"
