"""Manual claims made by the insured person 手工报销 (S-17; 004 第三十三条; 000 第六十、八十五条; 003 二(四)).

A person who paid in full (direct settlement failed, or a self-paid discharge before a retroactive filing,
F-11) claims at the insured place, through a channel or the agency's window. The insured region publishes
its list of materials (材料清单, 一次性告知: 004 第八、三十三条); a claim whose materials are incomplete is
answered once with everything missing, and the 20 working days of S-17 run from the day its materials are
complete, a verification letter's reply (核查函证) included where one is needed (004 第三十三条).

The person follows every step on ``settlement.manual-claim-changed.v1``, sealed to the channel the claim was
made through and to the insured region's agency.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from contracts.envelope import Contract
from contracts.his import MAX_DIAGNOSES, MAX_LINES, BoundedLines, Diagnosis
from contracts.parties import PersonAuthentication
from contracts.settlement_values import RefusalCode, SettlementSlip
from contracts.topics import TopicSpec
from contracts.values import (
    BusinessDate,
    HospitalLevel,
    InstitutionCode,
    InsuranceType,
    MedicalType,
    NonNegativeMoney,
    PersonId,
    RegionCode,
)


class ClaimDocument(StrEnum):
    """Materials of a manual claim (004 第三十三条's lists; the treating agency's verification reply)."""

    INVOICE = "invoice"  # 医院收费票据
    INPATIENT_FEE_LIST = "inpatient_fee_list"  # 住院费用清单
    OUTPATIENT_FEE_LIST = "outpatient_fee_list"  # 门急诊费用清单
    DIAGNOSIS_CERTIFICATE = "diagnosis_certificate"  # 诊断证明
    PRESCRIPTION = "prescription"  # 处方底方
    ACCIDENT_PROOF = "accident_proof"  # 意外伤害的事故认定书、判决书、调解协议书等，或承诺书
    VERIFICATION_REPLY = "verification_reply"  # 就医地经办机构回复的核查函证

    @property
    def zh(self) -> str:
        return _ZH[self]


_ZH = {
    ClaimDocument.INVOICE: "医院收费票据",
    ClaimDocument.INPATIENT_FEE_LIST: "住院费用清单",
    ClaimDocument.OUTPATIENT_FEE_LIST: "门急诊费用清单",
    ClaimDocument.DIAGNOSIS_CERTIFICATE: "诊断证明",
    ClaimDocument.PRESCRIPTION: "处方底方",
    ClaimDocument.ACCIDENT_PROOF: "意外伤害相关证明材料或承诺书",
    ClaimDocument.VERIFICATION_REPLY: "就医地经办机构核查函证回复",
}


class ClaimStatus(StrEnum):
    INCOMPLETE = "incomplete"  # 材料不全: told once what is missing; no clock yet
    COMPLETE = "complete"  # 材料齐全: the 20 working days run (S-17)
    AWAITING_VERIFICATION = "awaiting_verification"  # 待核查: a verification letter sent, its reply missing
    DECIDED = "decided"  # 已审核: the amounts decided by S-05..S-09, to be paid
    REJECTED = "rejected"  # 不予报销: a rule refused it, with the reason (may be decided again, e.g. after F-11)
    PAID = "paid"  # 已支付: the insured place paid the person (at home: never in clearing)


Documents = Annotated[tuple[ClaimDocument, ...], Field(max_length=len(ClaimDocument))]


class _ClaimCommand(Contract):
    request_id: str = Field(min_length=8, max_length=100, description="Idempotency key chosen by the sender.")
    person_id: PersonId
    insured_region: RegionCode = Field(description="参保地: the agency that reimburses (S-17).")
    authentication: PersonAuthentication | None = Field(
        default=None, description="Sent by a channel: its authentication of the person (runtime.authority)."
    )


class SubmitManualClaim(_ClaimCommand):
    """申请手工报销: the bill the person paid in full, with the materials handed in."""

    treating_region: RegionCode
    institution_code: InstitutionCode = Field(description="The institution that treated and billed the person.")
    medical_type: MedicalType
    start_date: BusinessDate = Field(description="Admission or visit date.")
    end_date: BusinessDate = Field(description="Discharge or visit date.")
    total: NonNegativeMoney = Field(description="总费用 the person paid.")
    accident: bool = Field(
        default=False, description="异地意外伤害: the accident's proof is required (004 第三十三条)."
    )
    documents: Documents = Field(default=(), description="Materials handed in with the claim.")

    @model_validator(mode="after")
    def _dates(self) -> SubmitManualClaim:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class AddClaimDocuments(_ClaimCommand):
    """补充材料: materials handed in later for a claim."""

    claim_id: uuid.UUID
    documents: Documents = Field(min_length=1)


class RequestVerification(Contract):
    """The insured agency sends a verification letter 核查函证 to the treating agency: the claim's materials are
    complete only once its reply is in (004 第三十三条)."""

    request_id: str = Field(min_length=8, max_length=100)
    person_id: PersonId
    insured_region: RegionCode
    claim_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=500)


class DecideManualClaim(Contract):
    """审核决定 of the insured agency: the operator 经办 keys in the bill from the claim's fee list and diagnosis
    certificate, the reviewer 复核 approves, and the claim is decided by the same rules as a direct settlement
    (S-05..S-09) under the insured place's payment scope and policy (S-17, 004 第三十三条)."""

    request_id: str = Field(min_length=8, max_length=64)
    person_id: PersonId
    insured_region: RegionCode
    claim_id: uuid.UUID
    insurance_type: InsuranceType = Field(description="险种 of the person at the insured place.")
    hospital_level: HospitalLevel | None = Field(
        default=None,
        description="The institution's level from the materials; the registry's level wins where it lists the "
        "institution (S-05).",
    )
    emergency: bool = Field(default=False, description="急诊 (F-04, S-11), as the materials show.")
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=MAX_DIAGNOSES, description="From 诊断证明.")
    fee_lines: BoundedLines = Field(
        min_length=1, max_length=MAX_LINES, description="From 费用清单; their sum is the claim's total (M-01)."
    )


class RecordClaimPayment(Contract):
    """支付登记: the insured place paid the person what was decided (S-17). Paid at home, it never enters
    clearing between regions."""

    request_id: str = Field(min_length=8, max_length=100)
    person_id: PersonId
    insured_region: RegionCode
    claim_id: uuid.UUID
    amount: NonNegativeMoney = Field(description="Paid: the decided fund total.")
    paid_on: BusinessDate


class ClaimDecision(Contract):
    """What was decided and why: the slip computed as a direct settlement's (附件13), or the rule that refused."""

    reimbursed: bool
    slip: SettlementSlip | None = None
    ratio_applied: Decimal | None = None
    rate_basis: str | None = Field(default=None, description="local, referral_emergency, other_temporary, trauma…")
    settlement_year: int = Field(ge=2000, le=2100, description="Year whose policy and accumulations applied (S-14).")
    catalogue_id: str | None = Field(default=None, description="The insured place's catalogue: its payment scope.")
    refusal_code: RefusalCode | None = None
    reason: str = Field(max_length=500)
    decided_on: date


class ClaimPayment(Contract):
    amount: NonNegativeMoney
    paid_on: date


class MissingDocument(Contract):
    document: ClaimDocument
    name_zh: str
    source: str = Field(description="The article that asks for it.")


class ManualClaimChanged(Contract):
    """Every step of a person's manual claim, told to the person (through the channel) and the insured agency."""

    claim_id: uuid.UUID
    version: int = Field(ge=1)
    person_id: PersonId
    insured_region: RegionCode
    treating_region: RegionCode
    institution_code: InstitutionCode
    medical_type: MedicalType
    total: NonNegativeMoney
    status: ClaimStatus
    documents: Documents = Field(description="Materials on file.")
    missing: tuple[MissingDocument, ...] = Field(description="What is still missing, all of it at once (一次性告知).")
    complete_on: date | None = Field(description="The day the materials became complete: the S-17 clock's start.")
    decide_by: date | None = Field(description="S-17: 20 working days after complete_on (M-02).")
    calendar: str = Field(description="The working-day calendar used (M-02).")
    checklist_source: str = Field(description="Where the insured region's material list comes from.")
    applied_through: str | None = Field(default=None, description="The channel the claim was made through.")
    note: str = Field(max_length=500)
    decision: ClaimDecision | None = Field(default=None, description="The insured agency's decision (S-05..S-09).")
    payment: ClaimPayment | None = Field(default=None, description="Paid to the person at home.")
    rule: str = Field(default="S-17")
    occurred_at: AwareDatetime


class ManualClaimRefused(Contract):
    """A claim command a rule refused, answered to its sender (S-19: what is wrong, which rule)."""

    request_id: str
    person_id: PersonId
    reason: str = Field(examples=["claim_not_found"])
    rule: str = Field(default="S-17")
    message: str = Field(max_length=500)
    refused_at: AwareDatetime


def _person(payload) -> str:
    return payload.person_id


_KEY_DOC = "the person's pseudonym: one person's claims are one aggregate, their messages in order"

TOPICS: list[TopicSpec] = [
    TopicSpec(
        name="settlement.manual-claim-submit.v1",
        message=SubmitManualClaim,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="agency",
        consumers=("settlement",),
        kind="command",
        description="A person's manual claim, through a channel or the insured agency's window (S-17).",
    ),
    TopicSpec(
        name="settlement.manual-claim-documents.v1",
        message=AddClaimDocuments,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="agency",
        consumers=("settlement",),
        kind="command",
        description="Materials handed in later for a manual claim (S-17).",
    ),
    TopicSpec(
        name="settlement.manual-claim-verify.v1",
        message=RequestVerification,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="agency",
        consumers=("settlement",),
        kind="command",
        description="The insured agency sent a verification letter: the claim waits for its reply (S-17).",
    ),
    TopicSpec(
        name="settlement.manual-claim-decide.v1",
        message=DecideManualClaim,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="agency",
        consumers=("settlement",),
        kind="command",
        description="The insured agency's decision on a complete manual claim (经办 then 复核; S-17, S-05..S-09).",
    ),
    TopicSpec(
        name="settlement.manual-claim-pay.v1",
        message=RecordClaimPayment,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="agency",
        consumers=("settlement",),
        kind="command",
        description="The insured place paid a decided manual claim, at home: never in clearing (S-17).",
    ),
    TopicSpec(
        name="settlement.manual-claim-changed.v1",
        message=ManualClaimChanged,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="settlement",
        consumers=("agency",),
        description="Every step of a manual claim, sealed to the channel it came through and the insured agency.",
    ),
    TopicSpec(
        name="settlement.manual-claim-refused.v1",
        message=ManualClaimRefused,
        key=_person,
        key_doc=_KEY_DOC,
        personal_key=True,
        producer="settlement",
        consumers=("agency",),
        description="A manual-claim command a rule refused, answered to its sender.",
    ),
]
