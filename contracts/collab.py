"""Collaboration 业务协同 (K-01..K-04) and cost co-investigation 费用协查 (Q-01..Q-05) contracts.

Keys: requests are keyed by their request id (one request's life stays in order; different
requests are independent); co-investigation candidates are keyed by the insured region, the
place that may act on them.
"""
from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, Field, model_validator

from contracts.envelope import Contract
from contracts.topics import TopicSpec
from contracts.values import InstitutionCode, NonNegativeMoney, PersonId, RegionCode

CO_INVESTIGATION_THRESHOLD = Decimal("30000.00")
"""Q-01: a single stay's total ≥ 30,000 yuan (000 第八十条 "超过3万元(含3万元)")."""


class ProblemType(StrEnum):
    """K-02 problem types and their reply deadlines (000 第八十一条)."""
    FILING = "filing"             # 备案类: 2 working days
    SYSTEM_FAULT = "system_fault"  # 系统故障类: 1 working day
    OTHER = "other"               # 其他类: at most 10 working days


class ConfirmedBy(StrEnum):
    REQUESTER = "requester"
    SILENCE = "silence"   # K-04: unconfirmed for 10 working days


class CheckResult(StrEnum):
    """Q-04."""
    CORRECT = "correct"   # 核查无误
    WRONG = "wrong"       # 核查有误 (reason required)


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


# ---------------------------------------------------------------- collaboration commands (K)
class OpenCollabRequest(Contract):
    """K-01: an agency asks another for help with a matter."""
    request_ref: str = Field(min_length=1, description="the requester's own reference; the id derives from it")
    requester_region: RegionCode
    target_region: RegionCode
    matter: str = Field(min_length=1, description="主要协同事项")
    problem_type: ProblemType
    person_id: PersonId | None = Field(None, description="when the matter concerns one insured person")
    escalated_from: uuid.UUID | None = Field(None, description="K-04: a disputed request raised one level up")
    opened_at: AwareDatetime


class ReplyCollabRequest(Contract):
    """K-03: the first responder's handling result."""
    request_id: uuid.UUID
    result: str = Field(min_length=1)
    problem_type: ProblemType | None = Field(None, description="the type as the responder marks it")
    other_agencies: list[RegionCode] = Field(default_factory=list, description="agencies it needs help from")
    replied_at: AwareDatetime


class AgreeCollabExtension(Contract):
    """K-03: requester and responder agree more time."""
    request_id: uuid.UUID
    extra_working_days: int = Field(ge=1, le=60)
    agreed_at: AwareDatetime


class ConfirmCollabResult(Contract):
    """K-04: the requester accepts the result, or disputes it (then may raise it one level up)."""
    request_id: uuid.UUID
    accepted: bool
    comment: str = ""
    confirmed_at: AwareDatetime


# ---------------------------------------------------------------- collaboration events (K)
class CollabRequestOpened(Contract):
    request_id: uuid.UUID
    requester_region: RegionCode
    target_region: RegionCode
    matter: str
    problem_type: ProblemType
    person_id: PersonId | None = None
    escalated_from: uuid.UUID | None = None
    opened_at: AwareDatetime
    reply_by: AwareDatetime = Field(description="K-02 deadline on working days")
    calendar: str


class CollabReplyExtended(Contract):
    request_id: uuid.UUID
    requester_region: RegionCode
    reply_by: AwareDatetime
    agreed_at: AwareDatetime


class CollabRequestReplied(Contract):
    request_id: uuid.UUID
    requester_region: RegionCode
    target_region: RegionCode
    result: str
    other_agencies: list[RegionCode]
    late: bool = Field(description="replied after reply_by")
    replied_at: AwareDatetime
    confirm_by: AwareDatetime = Field(description="K-04: 10 working days, then confirmed by silence")


class CollabReplyOverdue(Contract):
    request_id: uuid.UUID
    requester_region: RegionCode
    target_region: RegionCode
    reply_by: AwareDatetime
    detected_at: AwareDatetime


class CollabResultConfirmed(Contract):
    request_id: uuid.UUID
    requester_region: RegionCode
    by: ConfirmedBy
    confirmed_at: AwareDatetime


class CollabResultDisputed(Contract):
    """K-04: disputed or unresolved; the requester may open an escalated request one level up."""
    request_id: uuid.UUID
    requester_region: RegionCode
    comment: str
    disputed_at: AwareDatetime


# ---------------------------------------------------------------- co-investigation (Q)
class StayDetails(Contract):
    """Q-01: what identifies one inpatient stay for a co-investigation."""
    person_id: PersonId
    institution: InstitutionCode
    admission_no: str = Field(min_length=1, description="住院号")
    invoice_no: str = Field(min_length=1, description="发票号码")
    admission_date: date
    discharge_date: date
    total: NonNegativeMoney = Field(description="费用总额 of the single stay")

    @model_validator(mode="after")
    def _dates(self) -> "StayDetails":
        if self.discharge_date < self.admission_date:
            raise ValueError("discharge date is before admission date")
        return self


class CoInvestigationCandidate(Contract):
    """A completed inpatient settlement ≥ 30,000 yuan the insured place may ask about (Q-01)."""
    candidate_id: uuid.UUID
    settlement_id: str
    insured_region: RegionCode
    treating_region: RegionCode
    stay: StayDetails
    found_at: AwareDatetime


class RequestCoInvestigation(Contract):
    """Q-01: the insured place asks the treating place to check one stay."""
    request_ref: str = Field(min_length=1)
    insured_region: RegionCode
    treating_region: RegionCode
    settlement_id: str | None = None
    name: str = Field(min_length=1)
    sex: Sex
    stay: StayDetails
    requested_at: AwareDatetime

    @model_validator(mode="after")
    def _threshold(self) -> "RequestCoInvestigation":
        if self.stay.total < CO_INVESTIGATION_THRESHOLD:
            raise ValueError(f"Q-01: a co-investigation needs a single stay total ≥ {CO_INVESTIGATION_THRESHOLD}"
                             f" yuan, this one is {self.stay.total}")
        return self


class WithdrawCoInvestigation(Contract):
    """Q-02: allowed only before the period's summary is cut."""
    request_id: uuid.UUID
    withdrawn_at: AwareDatetime


class SubmitCoInvestigationResult(Contract):
    """Q-03/Q-04: the treating place's result; 'wrong' needs its reason."""
    request_id: uuid.UUID
    result: CheckResult
    reason: str = ""
    submitted_at: AwareDatetime

    @model_validator(mode="after")
    def _reason(self) -> "SubmitCoInvestigationResult":
        if self.result is CheckResult.WRONG and not self.reason.strip():
            raise ValueError("Q-04: a 'checked, wrong' 核查有误 result needs its reason")
        return self


class ConfirmCoInvestigationResult(Contract):
    """Q-05: the insured place confirms, or disputes and discusses."""
    request_id: uuid.UUID
    agreed: bool
    comment: str = ""
    confirmed_at: AwareDatetime


class CoInvestigationRequested(Contract):
    request_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    settlement_id: str | None
    name: str
    sex: Sex
    stay: StayDetails
    period: str = Field(description="Q-02 period: the month whose 25th ends it (26th of last month to 25th)")
    cut_at: AwareDatetime = Field(description="Q-02: 00:00 on the 26th; no edit or delete after it")
    complete_by: AwareDatetime = Field(description="Q-03: before the 26th of the next month")
    requested_at: AwareDatetime


class CoInvestigationWithdrawn(Contract):
    request_id: uuid.UUID
    insured_region: RegionCode
    withdrawn_at: AwareDatetime


class CoInvestigationResultSubmitted(Contract):
    request_id: uuid.UUID
    insured_region: RegionCode
    result: CheckResult
    reason: str
    late: bool = Field(description="Q-03: after complete_by; counted late in the period's statistics")
    counted_in_period: str = Field(description="Q-03: its period, or the next one when late")
    submitted_at: AwareDatetime
    confirm_by: AwareDatetime = Field(description="Q-05: 5 working days")


class CoInvestigationConfirmed(Contract):
    request_id: uuid.UUID
    insured_region: RegionCode
    agreed: bool
    comment: str
    late: bool = Field(description="confirmed after confirm_by")
    confirmed_at: AwareDatetime


class CoInvestigationConfirmationOverdue(Contract):
    """Q-05: not confirmed in 5 working days (the source sets no default, unlike K-04)."""
    request_id: uuid.UUID
    insured_region: RegionCode
    confirm_by: AwareDatetime
    detected_at: AwareDatetime


def _request_id(payload: object) -> str:
    return str(payload.request_id)  # type: ignore[attr-defined]


def _insured(payload: object) -> str:
    return str(payload.insured_region)  # type: ignore[attr-defined]


def _requester(payload: object) -> str:
    return f"{payload.requester_region}:{payload.request_ref}"  # type: ignore[attr-defined]


_BY_ID = "request_id: one request's life in order; requests are independent"
_OPEN = "requester_region:request_ref — the request id is derived from them"


def _t(name: str, msg: type, key, doc: str, producer: str, consumers: tuple[str, ...], description: str,
       kind: str = "event") -> TopicSpec:
    return TopicSpec(name, msg, key, doc, producer, consumers, kind=kind, description=description)  # type: ignore[arg-type]


TOPICS: list[TopicSpec] = [
    _t("collab.open-request.v1", OpenCollabRequest, _requester, _OPEN, "agency", ("collab",), "K-01", "command"),
    _t("collab.reply-request.v1", ReplyCollabRequest, _request_id, _BY_ID, "agency", ("collab",), "K-03",
       "command"),
    _t("collab.agree-extension.v1", AgreeCollabExtension, _request_id, _BY_ID, "agency", ("collab",), "K-03",
       "command"),
    _t("collab.confirm-result.v1", ConfirmCollabResult, _request_id, _BY_ID, "agency", ("collab",), "K-04",
       "command"),
    _t("collab.request-opened.v1", CollabRequestOpened, _request_id, _BY_ID, "collab", (), "K-01/K-02"),
    _t("collab.reply-extended.v1", CollabReplyExtended, _request_id, _BY_ID, "collab", (), "K-03"),
    _t("collab.request-replied.v1", CollabRequestReplied, _request_id, _BY_ID, "collab", (), "K-03"),
    _t("collab.reply-overdue.v1", CollabReplyOverdue, _request_id, _BY_ID, "collab", (), "K-02"),
    _t("collab.result-confirmed.v1", CollabResultConfirmed, _request_id, _BY_ID, "collab", (), "K-04"),
    _t("collab.result-disputed.v1", CollabResultDisputed, _request_id, _BY_ID, "collab", (), "K-04"),
    _t("collab.coinvestigation-candidate.v1", CoInvestigationCandidate, _insured,
       "insured_region: the place that may open a Q-01 request", "collab", (), "Q-01 candidates"),
    _t("collab.request-coinvestigation.v1", RequestCoInvestigation, _insured,
       "insured_region: the request id is derived from it and request_ref", "agency", ("collab",), "Q-01",
       "command"),
    _t("collab.withdraw-coinvestigation.v1", WithdrawCoInvestigation, _request_id, _BY_ID, "agency", ("collab",),
       "Q-02", "command"),
    _t("collab.submit-coinvestigation-result.v1", SubmitCoInvestigationResult, _request_id, _BY_ID, "agency",
       ("collab",), "Q-03/Q-04", "command"),
    _t("collab.confirm-coinvestigation.v1", ConfirmCoInvestigationResult, _request_id, _BY_ID, "agency",
       ("collab",), "Q-05", "command"),
    _t("collab.coinvestigation-requested.v1", CoInvestigationRequested, _request_id, _BY_ID, "collab", (),
       "Q-01/Q-02"),
    _t("collab.coinvestigation-withdrawn.v1", CoInvestigationWithdrawn, _request_id, _BY_ID, "collab", (), "Q-02"),
    _t("collab.coinvestigation-result.v1", CoInvestigationResultSubmitted, _request_id, _BY_ID, "collab", (),
       "Q-03/Q-04"),
    _t("collab.coinvestigation-confirmed.v1", CoInvestigationConfirmed, _request_id, _BY_ID, "collab", (), "Q-05"),
    _t("collab.coinvestigation-confirmation-overdue.v1", CoInvestigationConfirmationOverdue, _request_id, _BY_ID,
       "collab", (), "Q-05"),
]
