"""The HIS API, part 1: the commands a hospital's information system (HIS) sends to real-time
settlement 直接结算 — admission, outpatient visit, discharge settlement, cancel, refund, manual claim —
and their topics. What it hears back is ``contracts.his_result``; the values both use (fee split,
slip, refusal codes) are ``contracts.settlement_values``.

Flow (S-01): the HIS publishes a command, keyed by its institution code; the treating-place step
turns the fee lines into a ``TreatingAssessed`` (S-02..S-04), the insured-place step answers
(S-05..S-14) and the HIS hears the outcome on ``settlement.result.v2`` (``contracts.his_result``).

Every amount is yuan with two decimals, written as a string (M-01).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from contracts.envelope import BROKER_MESSAGE_LIMIT, Contract
from contracts.settlement_values import INSTITUTION_KEY_DOC, CatalogueClass, RefundKind, RefusalCode, institution_key
from contracts.topics import TopicSpec
from contracts.values import (
    BusinessDate,
    HospitalLevel,
    InstitutionCode,
    InsuranceType,
    MedicalType,
    NonNegativeMoney,
    PersonId,
    PersonName,
    RegionCode,
    SocialSecurityCard,
)

# ---------------------------------------------------------------- bounds and small value types
# Bounds of what a HIS may send: beyond them a request is refused with the field named, before any
# arithmetic (a line of 1e30 used to escape as a decimal error and answer no one).
QUANTITY_LIMIT = Decimal("1000000")
LINE_LIMIT = Decimal("10000000.00")  # one fee line: ten million yuan
BILL_LIMIT = Decimal("100000000.00")  # one bill: a hundred million yuan
# Lines per request, derived from the broker's limit: every line becomes a split line in the messages
# the request causes (the assessment for the insured place, a partial refund's, the S-18 fee detail),
# so LINE_SPLIT_BYTES, the largest split line encoded (five amounts of ten million yuan, a 50-character
# item code, the longest category name, the longest quantity and a date), times MAX_LINES, plus the envelope, totals and signature
# (MESSAGE_OVERHEAD_BYTES), stays within BROKER_MESSAGE_LIMIT; tests/unit/test_message_bounds.py builds
# the largest allowed request and measures every message it causes.
LINE_SPLIT_BYTES = 352
MESSAGE_OVERHEAD_BYTES = 64 * 1024
MAX_LINES = (BROKER_MESSAGE_LIMIT - MESSAGE_OVERHEAD_BYTES) // LINE_SPLIT_BYTES  # 2792
ITEM_CODE = r"^[0-9A-Za-z._-]{1,50}$"  # national item codes are letters and digits
MAX_LINE_NO = 999_999
MAX_DIAGNOSES = 20


def _quantity(value: Any) -> Decimal:
    """A fee line's quantity: a positive decimal with at most 4 places, never a float (M-01)."""
    if isinstance(value, (bool, float)):
        raise PydanticCustomError(
            "quantity_float",
            "quantity must be a decimal string such as '2' or '0.5', not a float ({value})",
            {"value": value},
        )
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise PydanticCustomError("quantity_syntax", "'{value}' is not a quantity", {"value": value}) from None
    if not amount.is_finite() or amount <= 0 or amount > QUANTITY_LIMIT:
        raise PydanticCustomError(
            "quantity_range", "quantity {value} must be above zero and at most 1,000,000", {"value": str(value)}
        )
    if amount != amount.quantize(Decimal("0.0001")):
        raise PydanticCustomError("quantity_precision", "quantity {value} has more than 4 decimals", {"value": value})
    return amount


Quantity = Annotated[
    Decimal,
    BeforeValidator(_quantity),
    PlainSerializer(lambda d: str(d), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d+(\.\d{1,4})?$",
            "description": "quantity, a positive decimal string",
            "examples": ["2", "0.5"],
        }
    ),
]


class CredentialType(StrEnum):
    """就诊凭证: the medium the patient presented."""

    E_VOUCHER = "e_voucher"  # 医保电子凭证
    SOCIAL_SECURITY_CARD = "ssc"  # 社会保障卡
    ID_CARD = "id_card"  # 居民身份证


# ---------------------------------------------------------------- request parts
class Diagnosis(Contract):
    """A diagnosis, ICD-10 code and name; the first one is the main diagnosis."""

    code: str = Field(pattern=r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$", description="ICD-10 code.", examples=["I63.9"])
    name: str = Field(min_length=1, max_length=200, description="Diagnosis name.", examples=["脑梗死"])


class FeeLine(Contract):
    """One fee detail line 费用明细 as the HIS sends it.

    ``amount`` must equal ``quantity × unit_price`` rounded to the fen, otherwise the whole request
    is refused with INVALID_FEE_LINE naming the line (S-19). The catalogue class is decided by the
    treating place's catalogue from ``item_code`` (S-02/S-03); ``his_class`` is only informative.
    """

    line_no: int = Field(ge=1, le=MAX_LINE_NO, description="Line number, unique within the request.", examples=[1])
    item_code: str = Field(
        min_length=1,
        max_length=50,
        pattern=ITEM_CODE,
        description="National medical-insurance item code (letters, digits, '.', '_', '-').",
        examples=["XC09AAL019A001"],
    )
    item_name: str = Field(
        min_length=1, max_length=200, description="Item name as the HIS prints it.", examples=["卡托普利片"]
    )
    his_class: CatalogueClass | None = Field(
        default=None, description="Class the HIS believes (informative).", examples=["A"]
    )
    quantity: Quantity = Field(description="Quantity, positive decimal.", examples=["2"])
    unit_price: NonNegativeMoney = Field(le=LINE_LIMIT, description="Unit price charged, yuan.", examples=["12.50"])
    amount: NonNegativeMoney = Field(
        le=LINE_LIMIT, description="Line amount = quantity × unit_price, to the fen.", examples=["25.00"]
    )
    occurred_on: BusinessDate | None = Field(
        default=None, description="Prescription date 处方日期 (cross-year stays upload by year, 004 第三十五条)."
    )
    outside_form_no: str | None = Field(
        default=None,
        description="Number of the 住院期间外院检查治疗或药店购药单 when this line was bought outside (S-16).",
    )


class VisitHeader(Contract):
    """What every HIS command about a visit says about the person, the place and the case."""

    request_id: str = Field(
        min_length=1,
        max_length=64,
        description="The HIS's idempotency key; a repeat with "
        "the same content gets the same answer, with different content DUPLICATE_CONFLICT.",
        examples=["H42010200001-20250312-000123"],
    )
    person_id: PersonId = Field(description="Citizen ID number; partition key.")
    credential_type: CredentialType = Field(description="Credential presented.", examples=["e_voucher"])
    insurance_type: InsuranceType = Field(description="险种: 310 employee, 390 resident.", examples=["310"])
    insured_region: RegionCode = Field(description="参保地 pooling region.", examples=["340200"])
    treating_region: RegionCode = Field(description="就医地 pooling region.", examples=["420100"])
    institution_code: InstitutionCode = Field(description="Treating institution.", examples=["H42010200001"])
    hospital_level: HospitalLevel = Field(description="Institution level; sets deductible and ratio.", examples=["3"])
    medical_type: MedicalType = Field(description="医疗类别.", examples=["inpatient"])
    visit_id: str = Field(
        min_length=1, max_length=64, description="住院号 / 门诊号 of the HIS.", examples=["ZY2025000123"]
    )
    emergency: bool = Field(default=False, description="Emergency flag 门诊急诊转诊标志/住院类型=急诊 (F-04, S-11).")
    trauma: bool = Field(default=False, description="外伤标志 (S-10).")
    third_party_liability: bool = Field(default=False, description="涉及第三方标志 (S-10).")
    trauma_commitment_signed: bool = Field(default=False, description="外伤无第三方责任承诺书 signed (S-10).")
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=MAX_DIAGNOSES, description="Diagnoses, main first.")
    chronic_disease_code: str | None = Field(
        default=None,
        description="National chronic disease code, required for chronic outpatient; one per prescription (S-13).",
        examples=["M03900"],
    )
    # what the slip (000 附件13) and a co-investigation (000 第八十条) print; personal ones travel and rest sealed
    patient_name: Annotated[PersonName, Field(min_length=1, max_length=60)] | None = Field(
        default=None, description="姓名 of the patient (personal: sealed on the wire and at rest)."
    )
    social_security_card: Annotated[SocialSecurityCard, Field(pattern=r"^[0-9A-Za-z]{6,32}$")] | None = Field(
        default=None, description="社会保障卡号 when the patient presented the card (personal)."
    )
    department: str | None = Field(
        default=None, min_length=1, max_length=50, description="科室 treating the patient.", examples=["心血管内科"]
    )

    @property
    def cross_province(self) -> bool:
        return RegionCode(self.insured_region).is_cross_province(self.treating_region)


class AdmissionRegistered(VisitHeader):
    """入院登记: the HIS registers an admission (S-11 emergency flag, S-20 suspension check)."""

    admission_date: BusinessDate = Field(description="Admission date.", examples=["2025-03-01"])


def _bill(lines: list[FeeLine]) -> list[FeeLine]:
    """A bill's lines: each line number once (a refund names lines by it, S-15), the total bounded."""
    counts = Counter(line.line_no for line in lines)
    if len(counts) != len(lines):
        repeated = sorted(n for n, times in counts.items() if times > 1)[:5]
        raise ValueError(f"line_no must be unique within the request; repeated: {repeated}")
    total = sum((line.amount for line in lines), Decimal("0.00"))
    if total > BILL_LIMIT:
        raise ValueError(f"the bill's total {total} is above {BILL_LIMIT} yuan")
    return lines


BoundedLines = Annotated[list[FeeLine], AfterValidator(_bill)]


class BillFacts(Contract):
    """What a bill says beyond its lines, as the slip prints it (000 附件13, 第八十条)."""

    invoice_no: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=r"^[0-9A-Za-z_-]+$",
        description="发票号码 of the bill (a co-investigation names it, 000 第八十条).",
        examples=["FP2026100800123"],
    )
    hospital_borne: NonNegativeMoney | None = Field(
        default=None,
        le=BILL_LIMIT,
        description=(
            "医院承担: what the hospital bears itself (附件13), as it reports it; printed on the slip, it changes "
            "neither what the funds pay nor the split of the bill."
        ),
        examples=["0.00"],
    )

    @model_validator(mode="after")
    def _borne_within_the_bill(self) -> BillFacts:
        lines = getattr(self, "fee_lines", None) or []
        if self.hospital_borne is not None and self.hospital_borne > sum((fl.amount for fl in lines), Decimal("0.00")):
            raise ValueError("hospital_borne is more than the bill's total")
        return self


class OutpatientVisitRequested(VisitHeader, BillFacts):
    """Outpatient or pharmacy settlement request 门诊结算 with its fee lines (S-04 per-line split)."""

    visit_date: BusinessDate = Field(description="Visit date.", examples=["2025-03-12"])
    fee_lines: BoundedLines = Field(min_length=1, max_length=MAX_LINES, description="Fee detail lines.")


class DischargeSettlementRequested(VisitHeader, BillFacts):
    """出院结算: the whole stay settles once, at discharge (S-14), with every fee line of the stay."""

    discharge_department: str | None = Field(
        default=None, min_length=1, max_length=50, description="出院科室 (附件13).", examples=["心血管内科"]
    )
    admission_date: BusinessDate = Field(description="Admission date.", examples=["2025-03-01"])
    discharge_date: BusinessDate = Field(
        description="Discharge date; its year decides policy and accumulations (S-14).", examples=["2025-03-10"]
    )
    fee_lines: BoundedLines = Field(
        min_length=1, max_length=MAX_LINES, description="Fee detail lines of the whole stay."
    )


class SettlementCancelRequested(Contract):
    """撤销: undo a settlement the HIS has just made (S-15)."""

    request_id: str = Field(min_length=1, max_length=64, description="Idempotency key.")
    person_id: PersonId
    settlement_id: str = Field(max_length=64, description="The settlement to cancel.", examples=["S-6d1f0c2a"])
    institution_code: InstitutionCode
    reason: str = Field(default="", max_length=500, description="Free text shown to auditors.")


class RefundRequested(Contract):
    """退费 of a settlement, whole or some of its lines (S-15)."""

    request_id: str = Field(min_length=1, max_length=64, description="Idempotency key.")
    person_id: PersonId
    settlement_id: str = Field(max_length=64, description="The settlement refunded.", examples=["S-6d1f0c2a"])
    institution_code: InstitutionCode
    kind: RefundKind = Field(description="ordinary | non_latest 隔笔 | previous_year 跨年 | after_clearing 清算后.")
    line_nos: list[Annotated[int, Field(ge=1, le=MAX_LINE_NO)]] | None = Field(
        default=None,
        max_length=MAX_LINES,
        description="Lines refunded; none means the whole settlement. A partial refund re-settles the remaining lines.",
    )
    reason: str = Field(default="", max_length=500, description="Free text shown to auditors.")


class ManualClaimFailure(StrEnum):
    NETWORK = "network"
    CREDENTIAL = "credential"
    REFUSED = "refused"


class ManualClaimUploaded(Contract):
    """When direct settlement failed, the hospital uploads the details for manual reimbursement (S-17)."""

    request_id: str = Field(min_length=1, max_length=64, description="Idempotency key.")
    person_id: PersonId
    insurance_type: InsuranceType
    insured_region: RegionCode
    treating_region: RegionCode
    institution_code: InstitutionCode
    hospital_level: HospitalLevel
    medical_type: MedicalType
    failure: ManualClaimFailure = Field(description="Why direct settlement failed.")
    refusal_code: RefusalCode | None = Field(default=None, description="The refusal, when failure is 'refused'.")
    start_date: BusinessDate = Field(description="Admission or visit date.")
    end_date: BusinessDate = Field(description="Discharge or visit date.")
    uploaded_on: BusinessDate = Field(description="Upload date; due within 10 working days (S-17).")
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=MAX_DIAGNOSES)
    fee_lines: BoundedLines = Field(min_length=1, max_length=MAX_LINES)
    total: NonNegativeMoney = Field(description="Sum of line amounts.")

    @model_validator(mode="after")
    def _total_is_sum(self) -> ManualClaimUploaded:
        if sum((line.amount for line in self.fee_lines), Decimal("0.00")) != self.total:
            raise ValueError("total must equal the sum of the fee lines (M-01)")
        return self


TOPICS: list[TopicSpec] = [
    TopicSpec(
        "his.admission.v1",
        AdmissionRegistered,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        ("settlement",),
        kind="command",
        description="入院登记 (S-11, S-20).",
    ),
    TopicSpec(
        "his.outpatient-requested.v1",
        OutpatientVisitRequested,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        ("settlement",),
        kind="command",
        description="Outpatient/pharmacy settlement request (S-04).",
    ),
    TopicSpec(
        "his.settlement-requested.v1",
        DischargeSettlementRequested,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        ("settlement",),
        kind="command",
        description="出院结算 (S-14).",
    ),
    TopicSpec(
        "his.cancel-requested.v1",
        SettlementCancelRequested,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        ("settlement",),
        kind="command",
        description="撤销 (S-15).",
    ),
    TopicSpec(
        "his.refund-requested.v1",
        RefundRequested,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        ("settlement",),
        kind="command",
        description="退费 (S-15).",
    ),
    TopicSpec(
        "his.manual-claim.v1",
        ManualClaimUploaded,
        institution_key,
        INSTITUTION_KEY_DOC,
        "his",
        ("settlement",),
        kind="command",
        description="Upload for manual reimbursement (S-17).",
    ),
]
