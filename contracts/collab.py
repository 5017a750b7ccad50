"""Collaboration 业务协同 (K-01..K-04) and cost co-investigation 费用协查 (Q-01..Q-05) contracts.

Keys: requests are keyed by their request id (one request's life stays in order; different
requests are independent); co-investigation candidates are keyed by the insured region, the
place that may act on them.

(Over 300 lines on purpose: collaboration's messages (requests, extensions, co-investigations, leads, notices) are one family an agency adapter reads together; the field descriptions are most of it.)
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

    FILING = "filing"  # 备案类: 2 working days
    SYSTEM_FAULT = "system_fault"  # 系统故障类: 1 working day
    OTHER = "other"  # 其他类: at most 10 working days


class ResultConfirmedBy(StrEnum):
    REQUESTER = "requester"
    SILENCE = "silence"  # K-04: unconfirmed for 10 working days


class CheckResult(StrEnum):
    """Q-04."""

    CORRECT = "correct"  # 核查无误
    WRONG = "wrong"  # 核查有误 (reason required)


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
    """Retired (no consumer): the target alone recorded an extension; K-03 needs both sides, so
    the target proposes (``collab.propose-extension.v1``) and the requester accepts
    (``collab.accept-extension.v1``)."""

    request_id: uuid.UUID
    extra_working_days: int = Field(ge=1, le=60)
    agreed_at: AwareDatetime


class ProposeCollabExtension(Contract):
    """K-03 (000 第八十一条 "如不能按期完成需及时与申请地沟通延长处理时限"): the first responder asks
    the requester for more time; nothing changes until the requester accepts."""

    request_id: uuid.UUID
    extra_working_days: int = Field(ge=1, le=60, description="working days added to the current reply deadline")
    reason: str = Field(min_length=1, description="why the deadline cannot be met")
    proposed_at: AwareDatetime


class AcceptCollabExtension(Contract):
    """K-03: the requester agrees to the proposed extension (``accepted``), or declines it."""

    request_id: uuid.UUID
    accepted: bool = True
    comment: str = ""
    answered_at: AwareDatetime


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


class CollabExtensionProposed(Contract):
    """K-03: the target asks for more time; ``reply_by`` is unchanged until the requester accepts."""

    request_id: uuid.UUID
    requester_region: RegionCode
    target_region: RegionCode
    extra_working_days: int
    reason: str
    reply_by: AwareDatetime = Field(description="the reply deadline in force")
    proposed_reply_by: AwareDatetime = Field(description="the deadline if the requester accepts")
    proposed_at: AwareDatetime


class CollabExtensionDeclined(Contract):
    """K-03: the requester declined; the reply deadline in force stays."""

    request_id: uuid.UUID
    requester_region: RegionCode
    target_region: RegionCode
    comment: str
    reply_by: AwareDatetime
    answered_at: AwareDatetime


class CollabAgenciesInvolved(Contract):
    """K-03 (000 第八十一条 "确需其他机构协助的，可在问题处理登记时详细列出其他协同机构"): one
    agency the first responder listed is told of the request and sees it. Keyed by that agency's
    region, so each reads its own."""

    request_id: uuid.UUID
    agency_region: RegionCode = Field(description="the agency told (one of the target's other_agencies)")
    requester_region: RegionCode
    target_region: RegionCode
    matter: str
    problem_type: ProblemType
    result: str = Field(description="the first responder's handling so far")
    listed_at: AwareDatetime


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
    by: ResultConfirmedBy
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
    def _dates(self) -> StayDetails:
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
    def _threshold(self) -> RequestCoInvestigation:
        if self.stay.total < CO_INVESTIGATION_THRESHOLD:
            raise ValueError(
                f"Q-01: a co-investigation needs a single stay total ≥ {CO_INVESTIGATION_THRESHOLD}"
                f" yuan, this one is {self.stay.total}"
            )
        return self


class AmendCoInvestigation(Contract):
    """Q-02: the insured place corrects its request's details, only before the period's summary is
    cut (receipt time); the treating place reads the corrected request (M-03: a new record)."""

    request_id: uuid.UUID
    name: str = Field(min_length=1)
    sex: Sex
    stay: StayDetails
    settlement_id: str | None = None
    amended_at: AwareDatetime

    @model_validator(mode="after")
    def _threshold(self) -> AmendCoInvestigation:
        if self.stay.total < CO_INVESTIGATION_THRESHOLD:
            raise ValueError(
                f"Q-01: a co-investigation needs a single stay total ≥ {CO_INVESTIGATION_THRESHOLD}"
                f" yuan, this one is {self.stay.total}"
            )
        return self


class CoInvestigationAmended(Contract):
    """Q-02: the request as corrected before the cut (replaces the details of the earlier record)."""

    request_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    settlement_id: str | None
    name: str
    sex: Sex
    stay: StayDetails
    period: str
    revision: int = Field(ge=2, description="1 is the request itself")
    amended_at: AwareDatetime


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
    def _reason(self) -> SubmitCoInvestigationResult:
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


class DiscussCoInvestigation(Contract):
    """Q-05 (000 第八十条 "对协查结果存在异议的，应及时与就医地医保部门进行沟通处理"): after a dispute,
    either side adds to the discussion kept with the item, until the insured place confirms."""

    request_id: uuid.UUID
    message: str = Field(min_length=1, max_length=4000)
    said_at: AwareDatetime


class CoInvestigationDiscussed(Contract):
    """Q-05: one contribution to a disputed item's discussion, from ``by_region``'s agency."""

    request_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    by_region: RegionCode
    message: str
    said_at: AwareDatetime
    received_at: AwareDatetime


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


class CoInvestigationRolledOver(Contract):
    """Q-03 (000 第八十条 "确需延期办理的，自动记录至下一期，并记入本期完成情况统计监测"): unanswered
    when its period's completion deadline passed, the item is recorded into the next period with
    that period's deadline, and counts as late in the period it missed."""

    request_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    from_period: str
    to_period: str
    complete_by: AwareDatetime = Field(description="Q-03: the next period's completion deadline")
    detected_at: AwareDatetime


class TallyKind(StrEnum):
    """What one co-investigation item adds to its period's statistics (Q-02, Q-03, Q-05)."""

    OPENED = "opened"  # received in the period (joins its summary)
    ROLLED_IN = "rolled_in"  # unanswered in the previous period, recorded into this one
    ANSWERED = "answered"  # a result received (``on_time`` by its completion deadline)
    WITHDRAWN = "withdrawn"  # deleted before the cut
    DISPUTED = "disputed"  # the insured place disputes the result
    CONFIRMED = "confirmed"
    ESCALATED = "escalated"  # K-04: a disputed result raised to the level above


class CoInvestigationCounted(Contract):
    """Internal: one co-investigation item's step, counted by the statistics of ``period`` (the
    collab service reads it back; no personal data: ids and regions only)."""

    request_id: uuid.UUID
    period: str
    insured_region: RegionCode
    treating_region: RegionCode
    kind: TallyKind
    on_time: bool | None = Field(None, description="for answered: by the item's completion deadline (receipt time)")
    at: AwareDatetime = Field(description="the receipt time of the step (the service's business clock)")


class SummaryRow(Contract):
    request_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    rolled_in: bool = Field(description="Q-03: recorded from an earlier period")


class CoInvestigationSummary(Contract):
    """Q-02 (000 第八十条 "每月26日零时生成上月26日至当月25日…费用协查申请汇总表"): the period's
    table, cut at 00:00 on the 26th. The stay details of each row are on
    ``collab.coinvestigation-requested.v1``; a row received after the cut (in flight at 00:00)
    comes as a new revision (M-03: corrections are new records)."""

    period: str
    revision: int = Field(ge=1)
    cut_at: AwareDatetime
    complete_by: AwareDatetime = Field(description="Q-03: the treating places complete the table by then")
    rows: list[SummaryRow]


class AgencyPeriodStatistics(Contract):
    """Q-03: one agency's completion statistics for one period, in one role."""

    period: str
    agency_region: RegionCode
    role: str = Field(description="insured (it asked) or treating (it checks)", examples=["treating"])
    opened: int = Field(description="items received in the period")
    rolled_in: int = Field(description="Q-03: items recorded from the previous period")
    answered_on_time: int
    late: int = Field(description="Q-03: unanswered at the completion deadline, or answered after it")
    open: int = Field(description="neither answered nor late yet")
    withdrawn: int
    disputed: int
    escalated: int


class CoInvestigationStatistics(Contract):
    """Q-03 (000 第八十条 "本期完成情况统计监测"): per agency and role, published when the period's
    completion deadline passes; a step counted afterwards (in flight then) gives a new revision."""

    period: str
    revision: int = Field(ge=1)
    complete_by: AwareDatetime
    rows: list[AgencyPeriodStatistics]


# ---------------------------------------------------------------- leads 问题线索 (K-05)
class LeadSubject(StrEnum):
    """K-05 (000 第八十二条): about the insured person's own conduct, or the institution's."""

    INSURED_PERSON = "insured_person"  # 本地参保人员在异地的就医行为存在违法违规问题
    INSTITUTION = "institution"  # 该参保人员异地就医的定点机构存在违法违规违约问题


class LeadOutcome(StrEnum):
    CONFIRMED = "confirmed"  # the violation was found
    NOT_CONFIRMED = "not_confirmed"


class HandOverLead(Contract):
    """K-05: the insured place hands a lead about its insured person, or the institution that
    treated them, to the treating place."""

    lead_ref: str = Field(min_length=1, description="the insured place's own reference; the id derives from it")
    insured_region: RegionCode = Field(description="the insured place handing the lead over")
    treating_region: RegionCode = Field(description="the treating place it is handed to")
    subject: LeadSubject
    person_id: PersonId = Field(description="the insured person the lead arises from (their stay)")
    institution_code: InstitutionCode | None = Field(None, description="required for a lead about the institution")
    description: str = Field(min_length=1, description="what was found")
    handed_over_at: AwareDatetime

    @model_validator(mode="after")
    def _institution(self) -> HandOverLead:
        if self.subject is LeadSubject.INSTITUTION and self.institution_code is None:
            raise ValueError("K-05: a lead about a treating institution names it (institution_code)")
        return self


class TakeUpLead(Contract):
    """K-05: the treating place starts investigating the lead."""

    lead_id: uuid.UUID
    taken_up_at: AwareDatetime


class ReportLeadResult(Contract):
    """K-05: the treating place's result."""

    lead_id: uuid.UUID
    outcome: LeadOutcome
    findings: str = Field(min_length=1)
    reported_at: AwareDatetime


class LeadReceived(Contract):
    lead_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    subject: LeadSubject
    person_id: PersonId
    institution_code: InstitutionCode | None
    description: str
    handed_over_at: AwareDatetime
    take_up_by: AwareDatetime = Field(description="K-05 (default): start investigating by then")
    calendar: str


class LeadInvestigating(Contract):
    lead_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    late: bool = Field(description="taken up after take_up_by")
    result_by: AwareDatetime = Field(description="K-05 (default): the result by then")
    taken_up_at: AwareDatetime


class LeadResultReported(Contract):
    lead_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    outcome: LeadOutcome
    findings: str
    late: bool = Field(description="reported after result_by")
    reported_at: AwareDatetime


class LeadOverdue(Contract):
    """K-05: a lead not taken up, or without a result, by its deadline (reported once per stage)."""

    lead_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    stage: str = Field(description="received (not taken up) or investigating (no result)")
    due_at: AwareDatetime
    detected_at: AwareDatetime


# ---------------------------------------------------------------- notices 公告 (K-06)
class NoticeKind(StrEnum):
    PLANNED_OUTAGE = "planned_outage"  # 停机公告
    POLICY = "policy"  # 医保政策
    OTHER = "other"


class PublishNotice(Contract):
    """K-06 (000 第八十三条): an agency publishes a notice to every other agency."""

    notice_ref: str = Field(min_length=1, description="the publisher's own reference; the id derives from it")
    publisher: str = Field(pattern=r"^A\d{6}$", description="the publishing agency's registry code (the sender)")
    kind: NoticeKind
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)
    effective_from: AwareDatetime | None = Field(None, description="a planned outage: from")
    effective_until: AwareDatetime | None = Field(None, description="a planned outage: until")
    published_at: AwareDatetime

    @model_validator(mode="after")
    def _window(self) -> PublishNotice:
        if self.kind is NoticeKind.PLANNED_OUTAGE and (self.effective_from is None or self.effective_until is None):
            raise ValueError("K-06: a planned outage gives effective_from and effective_until")
        if self.effective_from and self.effective_until and self.effective_until < self.effective_from:
            raise ValueError("K-06: effective_until is before effective_from")
        return self


class NoticePublished(Contract):
    """K-06: one notice for all agencies; the topic, read from its start, lists every notice."""

    notice_id: uuid.UUID
    publisher: str
    kind: NoticeKind
    title: str
    body: str
    effective_from: AwareDatetime | None
    effective_until: AwareDatetime | None
    published_at: AwareDatetime = Field(description="as the publisher claims it")
    received_at: AwareDatetime = Field(description="the platform's business time at receipt")


def _request_id(payload: object) -> str:
    return str(payload.request_id)  # type: ignore[attr-defined]


def _insured(payload: object) -> str:
    return str(payload.insured_region)  # type: ignore[attr-defined]


def _lead(payload: object) -> str:
    return str(payload.lead_id)  # type: ignore[attr-defined]


def _lead_ref(payload: object) -> str:
    return f"{payload.insured_region}:{payload.lead_ref}"  # type: ignore[attr-defined]


def _publisher(payload: object) -> str:
    return str(payload.publisher)  # type: ignore[attr-defined]


def _period(payload: object) -> str:
    return str(payload.period)  # type: ignore[attr-defined]


def _agency(payload: object) -> str:
    return str(payload.agency_region)  # type: ignore[attr-defined]


def _requester(payload: object) -> str:
    return f"{payload.requester_region}:{payload.request_ref}"  # type: ignore[attr-defined]


_BY_ID = "request_id: one request's life in order; requests are independent"
_OPEN = "requester_region:request_ref — the request id is derived from them"


def _t(
    name: str,
    msg: type,
    key,
    doc: str,
    producer: str,
    consumers: tuple[str, ...],
    description: str,
    kind: str = "event",
) -> TopicSpec:
    return TopicSpec(name, msg, key, doc, producer, consumers, kind=kind, description=description)  # type: ignore[arg-type]


TOPICS: list[TopicSpec] = [
    _t("collab.open-request.v1", OpenCollabRequest, _requester, _OPEN, "agency", ("collab",), "K-01", "command"),
    _t("collab.reply-request.v1", ReplyCollabRequest, _request_id, _BY_ID, "agency", ("collab",), "K-03", "command"),
    _t(
        "collab.agree-extension.v1",
        AgreeCollabExtension,
        _request_id,
        _BY_ID,
        "agency",
        (),
        "K-03 (retired: one side alone extended; use propose-extension and accept-extension)",
        "command",
    ),
    _t(
        "collab.propose-extension.v1",
        ProposeCollabExtension,
        _request_id,
        _BY_ID,
        "agency",
        ("collab",),
        "K-03: the target proposes more time",
        "command",
    ),
    _t(
        "collab.accept-extension.v1",
        AcceptCollabExtension,
        _request_id,
        _BY_ID,
        "agency",
        ("collab",),
        "K-03: the requester accepts or declines the proposed extension",
        "command",
    ),
    _t("collab.extension-proposed.v1", CollabExtensionProposed, _request_id, _BY_ID, "collab", (), "K-03"),
    _t("collab.extension-declined.v1", CollabExtensionDeclined, _request_id, _BY_ID, "collab", (), "K-03"),
    _t(
        "collab.agencies-involved.v1",
        CollabAgenciesInvolved,
        _agency,
        "agency_region: each listed agency reads what is addressed to it",
        "collab",
        (),
        "K-03 other agencies",
    ),
    _t("collab.confirm-result.v1", ConfirmCollabResult, _request_id, _BY_ID, "agency", ("collab",), "K-04", "command"),
    _t("collab.request-opened.v1", CollabRequestOpened, _request_id, _BY_ID, "collab", (), "K-01/K-02"),
    _t("collab.reply-extended.v1", CollabReplyExtended, _request_id, _BY_ID, "collab", (), "K-03"),
    _t("collab.request-replied.v1", CollabRequestReplied, _request_id, _BY_ID, "collab", (), "K-03"),
    _t("collab.reply-overdue.v1", CollabReplyOverdue, _request_id, _BY_ID, "collab", (), "K-02"),
    _t("collab.result-confirmed.v1", CollabResultConfirmed, _request_id, _BY_ID, "collab", (), "K-04"),
    _t("collab.result-disputed.v1", CollabResultDisputed, _request_id, _BY_ID, "collab", (), "K-04"),
    _t(
        "collab.coinvestigation-candidate.v1",
        CoInvestigationCandidate,
        _insured,
        "insured_region: the place that may open a Q-01 request",
        "collab",
        (),
        "Q-01 candidates",
    ),
    _t(
        "collab.request-coinvestigation.v1",
        RequestCoInvestigation,
        _insured,
        "insured_region: the request id is derived from it and request_ref",
        "agency",
        ("collab",),
        "Q-01",
        "command",
    ),
    _t(
        "collab.withdraw-coinvestigation.v1",
        WithdrawCoInvestigation,
        _request_id,
        _BY_ID,
        "agency",
        ("collab",),
        "Q-02",
        "command",
    ),
    _t(
        "collab.submit-coinvestigation-result.v1",
        SubmitCoInvestigationResult,
        _request_id,
        _BY_ID,
        "agency",
        ("collab",),
        "Q-03/Q-04",
        "command",
    ),
    _t(
        "collab.confirm-coinvestigation.v1",
        ConfirmCoInvestigationResult,
        _request_id,
        _BY_ID,
        "agency",
        ("collab",),
        "Q-05",
        "command",
    ),
    _t("collab.coinvestigation-requested.v1", CoInvestigationRequested, _request_id, _BY_ID, "collab", (), "Q-01/Q-02"),
    _t("collab.coinvestigation-withdrawn.v1", CoInvestigationWithdrawn, _request_id, _BY_ID, "collab", (), "Q-02"),
    _t(
        "collab.coinvestigation-result.v1",
        CoInvestigationResultSubmitted,
        _request_id,
        _BY_ID,
        "collab",
        (),
        "Q-03/Q-04",
    ),
    _t("collab.coinvestigation-confirmed.v1", CoInvestigationConfirmed, _request_id, _BY_ID, "collab", (), "Q-05"),
    _t(
        "collab.amend-coinvestigation.v1",
        AmendCoInvestigation,
        _request_id,
        _BY_ID,
        "agency",
        ("collab",),
        "Q-02: corrected before the cut",
        "command",
    ),
    _t("collab.coinvestigation-amended.v1", CoInvestigationAmended, _request_id, _BY_ID, "collab", (), "Q-02"),
    _t(
        "collab.discuss-coinvestigation.v1",
        DiscussCoInvestigation,
        _request_id,
        _BY_ID,
        "agency",
        ("collab",),
        "Q-05: the two agencies discuss a disputed result",
        "command",
    ),
    _t("collab.coinvestigation-discussed.v1", CoInvestigationDiscussed, _request_id, _BY_ID, "collab", (), "Q-05"),
    _t("collab.coinvestigation-rolled-over.v1", CoInvestigationRolledOver, _request_id, _BY_ID, "collab", (), "Q-03"),
    _t(
        "collab.coinvestigation-counted.v1",
        CoInvestigationCounted,
        _period,
        "period: one period's statistics are kept in order by one aggregate",
        "collab",
        ("collab",),
        "Q-02/Q-03 statistics (internal)",
    ),
    _t("collab.coinvestigation-summary.v1", CoInvestigationSummary, _period, "period", "collab", (), "Q-02"),
    _t("collab.coinvestigation-statistics.v1", CoInvestigationStatistics, _period, "period", "collab", (), "Q-03"),
    _t(
        "collab.coinvestigation-confirmation-overdue.v1",
        CoInvestigationConfirmationOverdue,
        _request_id,
        _BY_ID,
        "collab",
        (),
        "Q-05",
    ),
    _t(
        "collab.hand-over-lead.v1",
        HandOverLead,
        _lead_ref,
        "insured_region:lead_ref — the lead id derives from them",
        "agency",
        ("collab",),
        "K-05",
        "command",
    ),
    _t("collab.take-up-lead.v1", TakeUpLead, _lead, "lead_id", "agency", ("collab",), "K-05", "command"),
    _t("collab.report-lead-result.v1", ReportLeadResult, _lead, "lead_id", "agency", ("collab",), "K-05", "command"),
    _t("collab.lead-received.v1", LeadReceived, _lead, "lead_id", "collab", (), "K-05"),
    _t("collab.lead-investigating.v1", LeadInvestigating, _lead, "lead_id", "collab", (), "K-05"),
    _t("collab.lead-result.v1", LeadResultReported, _lead, "lead_id", "collab", (), "K-05"),
    _t("collab.lead-overdue.v1", LeadOverdue, _lead, "lead_id", "collab", (), "K-05"),
    _t(
        "collab.publish-notice.v1",
        PublishNotice,
        _publisher,
        "publisher: one agency's notices in order",
        "agency",
        ("collab",),
        "K-06",
        "command",
    ),
    _t(
        "collab.notice-published.v1",
        NoticePublished,
        _publisher,
        "publisher: one agency's notices in order",
        "collab",
        (),
        "K-06: every agency reads it",
    ),
]
