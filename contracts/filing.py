"""Public contracts of the filing service 备案 (rules F-01..F-16 of RULES.md).

Commands come from agency front ends (window, online channel, hospital desk); events are
published by the filing service so that treating places and hospitals can ask "is this
person filed for this place on this date, and in which category" (F-15).

Every filing is described by one :class:`FilingSnapshot`; each change of a filing yields a
new snapshot with a higher ``version`` (M-03: nothing is overwritten, corrections are new
versions), carried in a :class:`FilingChanged` event.

(Over 300 lines on purpose: the filing commands, the snapshot and its events are one family an
agency adapter reads together; the field descriptions are most of it.)
"""

from __future__ import annotations

import uuid
from datetime import UTC, date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from contracts.envelope import Contract
from contracts.parties import PersonAuthentication
from contracts.topics import TopicSpec
from contracts.values import FilingCategory, InsuranceType, PersonId, RegionCode

UtcDatetime = Annotated[AwareDatetime, AfterValidator(lambda moment: moment.astimezone(UTC))]
"""An aware moment, stored in UTC (dates are derived in :data:`SHANGHAI`)."""

RegionText = Annotated[
    str,
    Field(
        pattern=r"^\d{6}$",
        examples=["420100"],
        description="6-digit GB/T 2260 code as typed by the clerk; the filing "
        "service refuses unknown or county codes with a reason",
    ),
]
RequestId = Annotated[
    str,
    Field(
        min_length=8,
        max_length=100,
        examples=["win-420100-20260930-000123"],
        description="Idempotency key chosen by the sender; a retry with the same "
        "request_id yields the same ids and no second change",
    ),
]
Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        examples=["参保人申请取消"],
        description="Free text reason recorded in the archive (M-03)",
    ),
]


# ---------------------------------------------------------------- enums
class FilingChannel(StrEnum):
    """Where the filing was applied for (F-13 decides when it takes effect)."""

    WINDOW = "window"  # 经办窗口: decided at once
    ONLINE = "online"  # 线上渠道: decided within 2 working days
    HOSPITAL_DESK = "hospital_desk"  # 定点医疗机构医保窗口 (e.g. retroactive filing before discharge)


class ProofKind(StrEnum):
    """Filing materials (F-03; 000 第八条, 004 第四条)."""

    CREDENTIAL = "credential"  # 医保电子凭证、有效身份证件或社会保障卡
    FILING_FORM = "filing_form"  # 异地就医登记备案表
    HOUSEHOLD_REGISTER = "household_register"  # 户口簿首页 + 常住人口登记卡
    RESIDENCE_PROOF = "residence_proof"  # 居住证明 / 居住证 / 房屋所有证明
    POSTING_LETTER = "posting_letter"  # 参保地工作单位派出证明
    EMPLOYER_CERTIFICATE = "employer_certificate"  # 异地工作单位证明
    WORK_CONTRACT = "work_contract"  # 工作合同
    REFERRAL_CERTIFICATE = "referral_certificate"  # 转诊转院证明


class FilingStatus(StrEnum):
    PENDING = "pending"  # online application awaiting its decision (F-13)
    ACTIVE = "active"  # decided; in force between valid_from and valid_until
    SUSPENDED = "suspended"  # 暂停 (F-14); resumes later
    SUPERSEDED = "superseded"  # replaced by a newer filing (F-09)
    CANCELLED = "cancelled"  # 取消 by the person or the agency
    REVOKED = "revoked"  # commitment not met by its deadline (F-10)
    TERMINATED = "terminated"  # insurance ended (F-14)
    REJECTED = "rejected"  # online application refused when decided (F-13)

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = {
    FilingStatus.SUPERSEDED,
    FilingStatus.CANCELLED,
    FilingStatus.REVOKED,
    FilingStatus.TERMINATED,
    FilingStatus.REJECTED,
}


class ChangeKind(StrEnum):
    """What happened to a filing in one :class:`FilingChanged` event."""

    REGISTERED = "registered"
    SUPERSEDED = "superseded"  # F-09
    CHANGED = "changed"  # F-14 address/phone/end date, F-10 proof delivered
    SUSPENDED = "suspended"  # F-14
    RESUMED = "resumed"  # F-14
    CANCELLED = "cancelled"  # F-08
    REVOKED = "revoked"  # F-10 commitment missed
    DECIDED = "decided"  # F-13 online decision (approved or rejected)
    TERMINATED = "terminated"  # F-14 insurance ended
    EFFECTIVE = "effective"  # F-13 a filing dated later has come into force


class FilingRefusalReason(StrEnum):
    """Why a command was refused; each maps to a rule (see ``rule`` on :class:`FilingRefused`)."""

    UNKNOWN_REGION = "unknown_region"  # F-06
    NOT_A_POOLING_REGION = "not_a_pooling_region"  # F-06
    SAME_REGION = "same_region"  # F-06: not cross-region
    END_BEFORE_START = "end_before_start"  # F-07
    END_BEYOND_VALIDITY = "end_beyond_validity"  # F-07
    END_DATE_NOT_ALLOWED = "end_date_not_allowed"  # F-07 long-term is indefinite
    END_IN_PAST = "end_in_past"  # M-03: the past is not rewritten
    START_IN_PAST = "start_in_past"  # F-11: back-dating needs the retroactive flag
    CATEGORY_NOT_ALLOWED = "category_not_allowed"  # F-02
    MISSING_PROOFS = "missing_proofs"  # F-03
    COMMITMENT_LIMIT = "commitment_limit"  # F-10 at most once a year
    CHANGE_LOCKED = "change_locked"  # F-08
    ADMISSION_DATE_REQUIRED = "admission_date_required"  # F-11
    RETROACTIVE_START_AFTER_ADMISSION = "retroactive_start_after_admission"  # F-11
    RETROACTIVE_WINDOW_EXCEEDED = "retroactive_window_exceeded"  # F-11
    ADMISSION_IN_FUTURE = "admission_in_future"  # F-11
    NEW_FILING_SUSPENDED = "new_filing_suspended"  # F-16
    FILING_NOT_FOUND = "filing_not_found"
    FILING_ENDED = "filing_ended"  # M-03 a final filing is never reopened
    INVALID_STATE = "invalid_state"  # e.g. resume what is not suspended
    NOTHING_TO_CHANGE = "nothing_to_change"


class DeadlineKind(StrEnum):
    COMMITMENT_DUE = "commitment_due"  # F-10
    ONLINE_DECISION_DUE = "online_decision_due"  # F-13
    EFFECTIVE_DUE = "effective_due"  # F-13 a filing dated later comes into force


class CommandKind(StrEnum):
    REGISTER = "register"
    CHANGE = "change"
    SUSPEND = "suspend"
    RESUME = "resume"
    CANCEL = "cancel"
    DELIVER_PROOF = "deliver_proof"
    TERMINATE = "terminate"
    DECIDE = "decide"
    DEADLINE_DUE = "deadline_due"


ProofGroup = Annotated[
    tuple[ProofKind, ...],
    Field(
        min_length=1,
        description="Alternatives: any one of these proofs satisfies the requirement",
        examples=[["posting_letter", "employer_certificate", "work_contract"]],
    ),
]


# ---------------------------------------------------------------- state carried by events
class Interval(Contract):
    """A period [start, end) of a suspension; end is None while it lasts."""

    start: UtcDatetime = Field(description="Moment the suspension took effect (F-14: at once).")
    end: UtcDatetime | None = Field(default=None, description="Moment it was lifted; None while suspended.")


class Commitment(Contract):
    """个人承诺: missing proofs promised by a deadline (F-10)."""

    owed: tuple[ProofGroup, ...] = Field(description="Requirements still to be met, each a group of alternatives.")
    made_at: UtcDatetime = Field(description="When the commitment was signed.")
    due_at: UtcDatetime = Field(description="Deadline; unmet at this moment the filing is revoked (F-10).")
    met_at: UtcDatetime | None = Field(default=None, description="When the last owed proof was delivered.")


class FilingSnapshot(Contract):
    """The full state of one filing at one version (F-15: what treating places may query)."""

    filing_id: uuid.UUID = Field(
        description="Stable id of the filing (uuid5 of the request that created it).",
        examples=["3d7c1e0a-8e51-5a3e-9d6f-0c2b8a4e1f77"],
    )
    version: int = Field(ge=1, description="Increases by one with every change of this filing.", examples=[1])
    person_id: PersonId
    name: str = Field(min_length=1, max_length=60, description="Name of the insured person.", examples=["张三"])
    insurance_type: InsuranceType = Field(description="险种 at filing; a change needs a new filing (F-09).")
    insured_region: RegionCode = Field(description="参保地 pooling region.", examples=["420100"])
    treating_region: RegionCode = Field(
        description="就医地: a city, or a province under provincial pooling (F-06).", examples=["110000"]
    )
    category: FilingCategory = Field(description="备案类别 (F-01).")
    channel: FilingChannel
    status: FilingStatus
    valid_from: date = Field(description="First day in force (business date, Asia/Shanghai).", examples=["2026-10-08"])
    valid_until: date | None = Field(
        description="Last day in force, inclusive; None for long-term (F-07).", examples=["2027-04-07"]
    )
    place_since: date = Field(
        description="Day the current treating place took effect; the change lock of F-08 counts from here."
    )
    retroactive: bool = Field(default=False, description="补办 after admission (F-11).")
    admission_date: date | None = Field(default=None, description="Admission a retroactive filing covers (F-11).")
    proofs_delivered: tuple[ProofKind, ...] = Field(default=(), description="Materials on file (F-03).")
    commitment: Commitment | None = Field(default=None, description="Personal commitment, if any (F-10).")
    address: str | None = Field(default=None, max_length=200, description="Address at the treating place.")
    phone: str | None = Field(default=None, max_length=30, description="Contact phone.")
    submitted_at: UtcDatetime = Field(description="When the application was received.")
    decided_at: UtcDatetime | None = Field(default=None, description="When it was decided (F-13).")
    decision_due_at: UtcDatetime | None = Field(default=None, description="Online decision deadline (F-13).")
    suspensions: tuple[Interval, ...] = Field(default=(), description="Every suspension, closed or open (F-14).")
    ended_at: UtcDatetime | None = Field(
        default=None,
        description="Moment coverage ended for good (superseded, cancelled, revoked, terminated); None while alive.",
    )
    supersedes: uuid.UUID | None = Field(default=None, description="Filing this one replaced (F-09).")
    superseded_by: uuid.UUID | None = Field(default=None, description="Filing that replaced this one (F-09).")
    benefits_recoverable: bool = Field(
        default=False, description="Revoked for a broken commitment: benefits settled on it are to be recovered (F-10)."
    )
    policy_region: str = Field(
        description="Region policy applied, or 'default' (national default).", examples=["340200"]
    )
    change_kind: ChangeKind = Field(description="What produced this version.")
    rule: str = Field(description="Rule ID behind this version.", examples=["F-09"])
    note: str = Field(default="", max_length=500, description="Why, in words for the archive.")
    recorded_at: UtcDatetime = Field(description="When this version was recorded.")
    cause: str = Field(description="request_id or deadline_id that caused this version.")
    applied_through: str | None = Field(
        default=None,
        max_length=32,
        description="Registry code of the channel the person applied through (000 第九条); none: an agency.",
        examples=["CH-NHSA-APP"],
    )

    @property
    def is_long_term(self) -> bool:
        return self.category.is_long_term


# ---------------------------------------------------------------- commands
class _PersonCommand(Contract):
    request_id: RequestId
    person_id: PersonId
    authentication: PersonAuthentication | None = Field(
        default=None,
        description="Sent by a channel for the person it authenticated (000 第九条): its statement of that "
        "authentication, checked against the sender (runtime.authority.person_channel); absent from an agency.",
    )


class RegisterFiling(_PersonCommand):
    """办理异地就医备案 (F-01..F-03, F-06, F-07, F-11, F-13, F-16)."""

    name: str = Field(min_length=1, max_length=60, examples=["张三"])
    insurance_type: InsuranceType = Field(examples=["310"])
    insured_region: RegionText = Field(description="参保地, 6 digits.", examples=["420100"])
    treating_region: RegionText = Field(
        description="就医地: city, or province under provincial pooling.", examples=["110000"]
    )
    category: FilingCategory = Field(examples=["long_term_resident"])
    channel: FilingChannel = Field(examples=["window"])
    start_date: date = Field(
        description="Requested first day; may not be in the past unless retroactive.", examples=["2026-10-08"]
    )
    end_date: date | None = Field(
        default=None, description="Requested last day (temporary only; F-07).", examples=["2027-04-07"]
    )
    proofs: tuple[ProofKind, ...] = Field(
        default=(),
        description="Materials delivered with the application.",
        examples=[["credential", "filing_form", "residence_proof"]],
    )
    personal_commitment: bool = Field(default=False, description="个人承诺书 signed for missing proofs (F-10).")
    retroactive: bool = Field(default=False, description="补办 for an admission before discharge (F-11).")
    admission_date: date | None = Field(
        default=None, description="Admission the retroactive filing covers.", examples=["2026-09-20"]
    )
    address: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30, examples=["13800000000"])


class ChangeFiling(_PersonCommand):
    """备案信息变更 (F-08, F-14): address/phone at once; treating place after the lock; end date."""

    filing_id: uuid.UUID
    address: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    treating_region: RegionText | None = Field(default=None, description="New treating place (F-08 lock).")
    end_date: date | None = Field(default=None, description="New last day of a temporary filing (F-07).")
    reason: str = Field(default="", max_length=500)


class SuspendFiling(_PersonCommand):
    """暂停 (F-14): one filing, or every live filing of the person when filing_id is None."""

    filing_id: uuid.UUID | None = None
    reason: Reason


class ResumeFiling(_PersonCommand):
    """恢复 (F-14): one filing, or every suspended filing of the person when filing_id is None."""

    filing_id: uuid.UUID | None = None
    reason: Reason


class CancelFiling(_PersonCommand):
    """取消备案 (F-08 lock for long-term)."""

    filing_id: uuid.UUID
    reason: Reason


class DeliverProof(_PersonCommand):
    """补齐备案材料 promised by a personal commitment (F-10)."""

    filing_id: uuid.UUID
    proofs: tuple[ProofKind, ...] = Field(min_length=1, examples=[["household_register"]])


class TerminateInsurance(_PersonCommand):
    """备案终止 because insurance stopped (F-14): ends every filing of the person at once."""

    reason: Reason


class DecideFiling(_PersonCommand):
    """A clerk's decision on a pending online filing before its deadline (F-13)."""

    filing_id: uuid.UUID
    approve: bool
    reason: str = Field(default="", max_length=500)


class FilingDeadlineDue(Contract):
    """Internal: a deadline persisted by the filing service has fired (F-10, F-13)."""

    deadline_id: uuid.UUID = Field(description="uuid5 of filing, kind and version; idempotency key.")
    person_id: PersonId
    filing_id: uuid.UUID
    kind: DeadlineKind
    due_at: UtcDatetime = Field(description="Moment the deadline falls.")
    due_date: date = Field(description="Business date of the deadline (Asia/Shanghai).")
    calendar: str = Field(description="Working calendar used to compute it (M-02).", examples=["CN-2026"])
    scheduled_by: str = Field(description="request_id that scheduled it.")


# ---------------------------------------------------------------- events
class FilingAccepted(Contract):
    """A command was accepted; the resulting filing state is attached."""

    request_id: RequestId
    person_id: PersonId
    command: CommandKind
    filing: FilingSnapshot | None = Field(
        description="The filing the command created or changed; None when "
        "a person-wide command found nothing to change."
    )
    others: tuple[FilingSnapshot, ...] = Field(
        default=(), description="Other filings changed as a consequence (superseded F-09, terminated F-14)."
    )
    accepted_at: UtcDatetime


class FilingRefused(Contract):
    """A command was refused; the message tells the clerk what to do (S-19 quality)."""

    refusal_id: uuid.UUID = Field(description="uuid5 of the request; a retry yields the same id.")
    request_id: RequestId
    person_id: PersonId
    command: CommandKind
    reason: FilingRefusalReason
    rule: str = Field(description="Rule ID behind the refusal.", examples=["F-03"])
    message: str = Field(
        description="Short, actionable, names what is wrong.",
        examples=[
            "Missing proof for posted_worker: posting_letter or employer_certificate or "
            "work_contract (F-03); a personal commitment may replace it (F-10)."
        ],
    )
    missing_proofs: tuple[ProofGroup, ...] = Field(default=(), description="Requirements not met (F-03).")
    filing_id: uuid.UUID | None = None
    earliest_date: date | None = Field(
        default=None,
        description="When the refused act becomes possible (change lock F-08, sanction lifted unknown → None).",
    )
    refused_at: UtcDatetime


class FilingChanged(Contract):
    """Every state change of any filing, with its full snapshot (F-15)."""

    change_id: uuid.UUID = Field(description="uuid5 of filing id and version; consumers dedupe on it.")
    person_id: PersonId
    filing_id: uuid.UUID
    version: int = Field(ge=1)
    change_kind: ChangeKind
    rule: str = Field(examples=["F-09"])
    snapshot: FilingSnapshot
    occurred_at: UtcDatetime


# ---------------------------------------------------------------- topics
def _person(payload) -> str:
    return payload.person_id


_KEY_DOC = (
    "the person's pseudonym (HMAC of person_id, never the number): all filings of one person are one "
    "aggregate; their messages stay in order"
)
_COMMANDS: list[tuple[str, type[Contract], str]] = [
    ("filing.register.v1", RegisterFiling, "Apply for a filing (F-01..F-03, F-11, F-13, F-16)."),
    ("filing.change.v1", ChangeFiling, "Change address, phone, treating place or end date (F-08, F-14)."),
    ("filing.suspend.v1", SuspendFiling, "Suspend a person's filing(s) (F-14)."),
    ("filing.resume.v1", ResumeFiling, "Resume suspended filing(s) (F-14)."),
    ("filing.cancel.v1", CancelFiling, "Cancel a filing (F-08)."),
    ("filing.deliver-proof.v1", DeliverProof, "Deliver proofs promised by a commitment (F-10)."),
    ("filing.terminate.v1", TerminateInsurance, "Insurance stopped: end every filing of the person (F-14)."),
    ("filing.decide.v1", DecideFiling, "Clerk decision on a pending online filing (F-13)."),
]

TOPICS: list[TopicSpec] = [
    *(
        TopicSpec(
            name=name,
            message=model,
            key=_person,
            key_doc=_KEY_DOC,
            personal_key=True,
            producer="agency",
            consumers=("filing",),
            kind="command",
            description=text,
        )
        for name, model, text in _COMMANDS
    ),
    TopicSpec(
        name="filing.deadline-due.v1",
        message=FilingDeadlineDue,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="filing",
        consumers=("filing",),
        kind="event",
        description="Internal: a persisted deadline fired (F-10 commitment, F-13 decision/effect).",
    ),
    TopicSpec(
        name="filing.accepted.v1",
        message=FilingAccepted,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="filing",
        consumers=("agency",),
        description="Reply: command accepted, with state.",
    ),
    TopicSpec(
        name="filing.refused.v1",
        message=FilingRefused,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="filing",
        consumers=("agency",),
        description="Reply: command refused, with reason.",
    ),
    TopicSpec(
        name="filing.changed.v1",
        message=FilingChanged,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="filing",
        consumers=("settlement", "agency"),
        description="Every filing change with full snapshot (F-15); folded by kernel.filings (PersonFilingView).",
    ),
]

CommandModel = (
    RegisterFiling
    | ChangeFiling
    | SuspendFiling
    | ResumeFiling
    | CancelFiling
    | DeliverProof
    | TerminateInsurance
    | DecideFiling
    | FilingDeadlineDue
)
"""Everything the filing aggregate's ``decide`` accepts."""
