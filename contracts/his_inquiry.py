"""The HIS API, part 3: what a hospital asks before it treats and before it discharges, with no
effect on anything (no settlement, no accumulation, no clearing line, no prepayment movement).

* **Eligibility 人员待遇享受检查** (``his.eligibility-requested.v1``): the person's filing in force (status,
  category, validity), the basis the bill would be settled under, whether the insured region's new
  admissions are suspended (S-20), the person's chronic/special outpatient qualifications (S-13) and their
  year-to-date accumulations at the insured place (S-05: deductible met, each fund against its cap) —
  the national interface's 人员信息获取 (1101), 人员待遇享受检查, 慢特病资格查询 and 累计信息查询 in one answer.
* **Pre-settlement 预结算** (``his.outpatient-pre-settlement.v1``, ``his.discharge-pre-settlement.v1``): the
  full settlement the bill would get now, by the same treating-place and insured-place rules
  (S-02..S-14), and what it was computed on. A real settlement of the same bill gives the same figures
  unless one of those changed in between: another settlement, cancel or refund of the person, their
  filing, a suspension, the policy or the catalogue in force.
* **In-stay fee detail 住院费用明细上传** (``his.fee-detail-uploaded.v1``): the lines of a stay so far, each
  checked as at settlement (S-02..S-04, S-16: item known to the catalogue, amount = quantity × price,
  class and split), so a wrong line surfaces before discharge.

Each is answered on ``settlement.inquiry-answered.v1``, keyed by institution code like
``settlement.result.v2``, sealed to the asking institution (a JWE, as ``contracts.his_result`` describes):
only that institution learns anything about the person. A request refused for who sent it (not an
institution, not opened, another institution's code, clock skew) is answered on ``party.refused.v1``.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, RootModel

from contracts.envelope import Contract
from contracts.his import MAX_LINES, BoundedLines, DischargeSettlementRequested, OutpatientVisitRequested, VisitHeader
from contracts.his_result import JWE_COMPACT, SettlementResult, _SealedContent
from contracts.settlement_values import INSTITUTION_KEY_DOC, FeeSplit, LineSplit, institution_key
from contracts.topics import TopicSpec
from contracts.values import BusinessDate, EligibilityBasis, FilingCategory, InstitutionCode, PersonId


class EligibilityRequested(VisitHeader):
    """人员信息获取 / 待遇享受检查: may this person settle directly here, on ``on``, for this medical type?
    The header is a visit's (the same fields the settlement will carry; ``diagnoses`` as far as known)."""

    on: BusinessDate = Field(description="The visit or admission date asked about.", examples=["2026-10-08"])


class OutpatientPreSettlementRequested(OutpatientVisitRequested):
    """门诊预结算 (national 2206): the outpatient bill as it would be sent for settlement."""


class DischargePreSettlementRequested(DischargeSettlementRequested):
    """住院预结算 (national 2303): the whole stay as it would be sent at discharge."""


class InStayFeeDetail(VisitHeader):
    """住院费用明细上传 (national 2301): the lines of a stay so far, checked line by line."""

    admission_date: BusinessDate = Field(description="Admission date.", examples=["2026-10-01"])
    fee_lines: BoundedLines = Field(min_length=1, max_length=MAX_LINES, description="The stay's lines so far.")


# ---------------------------------------------------------------- answers (inside the seal)
class AccumulationRow(Contract):
    """One year-to-date counter at the insured place (S-05), with the cap that bounds it when one does."""

    key: str = Field(
        description="deductible/<medical type>, fund/<fund>/<cap group>, threshold/<fund>, account/personal_account.",
        examples=["deductible/inpatient"],
    )
    label: str = Field(description="Chinese label.", examples=["起付标准累计"])
    detail: str = Field(description="What it counts: the key after its kind.", examples=["inpatient"])
    amount: str = Field(description="Yuan, two decimals.", examples=["1200.00"])


class Suspension(Contract):
    """The insured region's new admissions suspended for unpaid clearing funds (S-20, P-09)."""

    since: str = Field(description="When the suspension took effect (ISO 8601).")
    rule: str = "S-20"


class EligibilityAnswered(Contract):
    """What the hospital needs before treating (F-04, F-05, F-12, S-05, S-13, S-20)."""

    kind: Literal["eligibility"] = "eligibility"
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    eligible: bool = Field(description="May the visit settle directly across regions on that date.")
    basis: EligibilityBasis | None = Field(default=None, description="The basis the bill would be settled under.")
    reason_code: str = Field(description="kernel.eligibility's reason (covered, no_filing, filing_expired…).")
    rule: str = Field(description="The rule behind the answer.", examples=["F-12"])
    message: str = Field(description="Text the hospital can show the patient.")
    filing_id: uuid.UUID | None = None
    filing_category: FilingCategory | None = None
    filing_status: str | None = None
    filing_valid_from: date | None = None
    filing_valid_until: date | None = Field(default=None, description="None: long-term (F-07).")
    admission_suspended: Suspension | None = Field(
        default=None,
        description="S-20: new admissions of the insured region are refused while this holds (inpatient only).",
    )
    chronic_qualifications: list[str] = Field(
        default_factory=list, description="Disease codes the insured place recorded (S-13)."
    )
    chronic_qualified: bool | None = Field(
        default=None, description="For a chronic outpatient question: is the disease asked about among them."
    )
    accumulations_year: int
    accumulations: list[AccumulationRow] = Field(default_factory=list)
    personal_account_balance: str | None = Field(default=None, description="个人账户余额 the insured place recorded.")


class PreSettlementBasis(Contract):
    """What a pre-settlement was computed on: if none of it changes, the real settlement is the same."""

    computed_at: str = Field(description="Business time of the computation (ISO 8601).")
    accumulations: list[AccumulationRow] = Field(
        default_factory=list,
        description="The person's year-to-date "
        "counters of the bill's year before it: another settlement, cancel "
        "or refund of the person changes them.",
    )
    filing_id: uuid.UUID | None = None
    eligibility_basis: EligibilityBasis | None = None
    catalogue: str = Field(description="The catalogue used: region and first day (S-02, S-03).")
    policy: str = Field(description="The insured place's policy used: region and first day (S-05).")
    admission_suspended: bool = False
    changes_if: list[str] = Field(description="What would make the real settlement differ.")


class PreSettled(Contract):
    """预结算: the settlement the bill would get now (completed with the full slip, or refused with its
    classified reason), nothing stored, nothing counted."""

    kind: Literal["pre_settlement"] = "pre_settlement"
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    result: SettlementResult
    basis: PreSettlementBasis


class FeeDetailChecked(Contract):
    """住院费用明细上传, checked: every line accepted with its split, or the first line at fault named."""

    kind: Literal["fee_detail"] = "fee_detail"
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    accepted: bool
    code: str | None = Field(default=None, description="The refusal code when not accepted (RefusalCode).")
    title_zh: str | None = Field(default=None, description="Its short Chinese title, for the screen.")
    message: str = ""
    line_no: int | None = Field(default=None, description="The line at fault.")
    lines: list[LineSplit] = Field(
        default_factory=list, description="Every line split as settlement would split it (S-04), when accepted."
    )
    totals: FeeSplit | None = Field(default=None, description="The lines' sums, when accepted.")


_ANSWER = Annotated[EligibilityAnswered | PreSettled | FeeDetailChecked, Field(discriminator="kind")]


class InquiryAnswer(RootModel[_ANSWER]):
    """The answer inside ``settlement.inquiry-answered.v1``'s seal, told apart by ``kind``."""

    model_config = ConfigDict(frozen=True)


class InquiryKind(StrEnum):
    ELIGIBILITY = "eligibility"
    PRE_SETTLEMENT = "pre_settlement"
    FEE_DETAIL = "fee_detail"


class SealedInquiryAnswer(Contract):
    """What the HIS hears on ``settlement.inquiry-answered.v1``: routing fields in clear, the answer sealed
    (JWE compact, ECDH-ES + A256GCM to the institution's encryption key; plaintext: the InquiryAnswer JSON,
    whose routing fields must agree with these)."""

    institution_code: InstitutionCode = Field(description="The institution answered; partition key.")
    request_id: str = Field(description="The request answered.")
    kind: InquiryKind
    sealed: Annotated[str, Field(pattern=JWE_COMPACT), _SealedContent(InquiryAnswer)]


_HIS = ("settlement",)
TOPICS: list[TopicSpec] = [
    TopicSpec(
        "his.eligibility-requested.v1",
        EligibilityRequested,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        _HIS,
        kind="command",
        description="人员待遇享受检查: filing, basis, suspension, chronic qualifications, "
        "accumulations (F-04, F-05, F-12, S-05, S-13, S-20). No effect.",
    ),
    TopicSpec(
        "his.outpatient-pre-settlement.v1",
        OutpatientPreSettlementRequested,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        _HIS,
        kind="command",
        description="门诊预结算: the settlement an outpatient bill would get now. No effect.",
    ),
    TopicSpec(
        "his.discharge-pre-settlement.v1",
        DischargePreSettlementRequested,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        _HIS,
        kind="command",
        description="住院预结算: the settlement a stay would get at discharge now. No effect.",
    ),
    TopicSpec(
        "his.fee-detail-uploaded.v1",
        InStayFeeDetail,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        _HIS,
        kind="command",
        description="住院费用明细上传: a stay's lines so far, checked line by line (S-02..S-04, S-16). No effect.",
    ),
    TopicSpec(
        "settlement.inquiry-answered.v1",
        SealedInquiryAnswer,
        institution_key,
        INSTITUTION_KEY_DOC,
        "settlement",
        ("his",),
        description="The answer to an eligibility check, a pre-settlement or an in-stay upload, sealed to the "
        "institution that asked (003 §5 (三)).",
    ),
]
TOPIC_NAMES = frozenset(spec.name for spec in TOPICS)
