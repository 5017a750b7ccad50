"""The HIS contract of real-time settlement 直接结算, and the settlement service's events.

Flow (S-01): the HIS publishes a command (admission, outpatient visit, discharge settlement,
cancel, refund, manual claim); the treating-place step turns the fee lines into a
:class:`TreatingAssessed` (S-02..S-04); the insured-place step answers with an
:class:`InsuredDecided` (S-05..S-14); the HIS hears the outcome on one topic,
``settlement.result.v2``, read by every hospital: its payload :class:`SealedSettlementResult` shows
only the routing fields and carries the full :class:`SettlementResult` (a union discriminated by
``outcome``: completed | refused | cancelled | refunded | admission_accepted) encrypted to the
institution it answers (003 §5 (三)).
Clearing and prepayment listen to ``settlement.completed.v1`` and ``settlement.reversed.v1``.
A partial refund (S-15) is a second hop of the same kind: :class:`RefundAssessed` of the remaining
lines, answered by :class:`RefundDecided`, then ``refunded`` on the result and reversed topics.

Every amount is yuan with two decimals, written as a string (M-01).
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal, Union

from pydantic import (AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, RootModel,
                      WithJsonSchema, model_validator)
from pydantic_core import PydanticCustomError

from contracts.envelope import Contract
from contracts.filing_view import EligibilityBasis  # one enum for "why this visit may settle" (F-04, F-05)
from contracts.topics import TopicSpec
from contracts.values import (BusinessDate, FilingCategory, HospitalLevel, InstitutionCode, InsuranceType, MedicalType, Money,
                              NonNegativeMoney, PersonId, RegionCode)


# ---------------------------------------------------------------- small value types
# Bounds of what a HIS may send: beyond them a request is refused with the field named, before any
# arithmetic (a line of 1e30 used to escape as a decimal error and answer no one).
QUANTITY_LIMIT = Decimal("1000000")
LINE_LIMIT = Decimal("10000000.00")        # one fee line: ten million yuan
BILL_LIMIT = Decimal("100000000.00")       # one bill: a hundred million yuan
MAX_LINES = 5000                           # a long stay's detail; a message stays under the broker's 1 MB
MAX_DIAGNOSES = 20
def _quantity(value: Any) -> Decimal:
    """A fee line's quantity: a positive decimal with at most 4 places, never a float (M-01)."""
    if isinstance(value, (bool, float)):
        raise PydanticCustomError("quantity_float", "quantity must be a decimal string such as '2' or '0.5', "
                                                    "not a float ({value})", {"value": value})
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise PydanticCustomError("quantity_syntax", "'{value}' is not a quantity", {"value": value}) from None
    if not amount.is_finite() or amount <= 0 or amount > QUANTITY_LIMIT:
        raise PydanticCustomError("quantity_range", "quantity {value} must be above zero and at most 1,000,000",
                                  {"value": str(value)})
    if amount != amount.quantize(Decimal("0.0001")):
        raise PydanticCustomError("quantity_precision", "quantity {value} has more than 4 decimals", {"value": value})
    return amount


Quantity = Annotated[Decimal, BeforeValidator(_quantity), PlainSerializer(lambda d: str(d), return_type=str),
                     WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,4})?$",
                                     "description": "quantity, a positive decimal string", "examples": ["2", "0.5"]})]

_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(value: Any) -> str:
    text = str(value)
    if not _MONTH_RE.match(text):
        raise PydanticCustomError("clearing_month", "clearing month '{value}' must be YYYY-MM", {"value": value})
    return text


ClearingMonth = Annotated[str, BeforeValidator(_month),
                          WithJsonSchema({"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$",
                                          "description": "clearing period 清算月份, YYYY-MM", "examples": ["2025-03"]})]


def clearing_month_of(day: date) -> str:
    """The clearing period 清算月份 an amount dated ``day`` belongs to: the next month, whose 21st
    generates the clearing data of this month's settlements (C-02). The clearing service labels
    its periods the same way."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return f"{year:04d}-{month:02d}"


# ---------------------------------------------------------------- enums
class CredentialType(StrEnum):
    """就诊凭证: the medium the patient presented."""
    E_VOUCHER = "e_voucher"                 # 医保电子凭证
    SOCIAL_SECURITY_CARD = "ssc"            # 社会保障卡
    ID_CARD = "id_card"                     # 居民身份证


class CatalogueClass(StrEnum):
    """甲/乙/丙类: A fully payable, B payable after a self-pay share, C not payable."""
    A = "A"
    B = "B"
    C = "C"


class MajorFeeCategory(StrEnum):
    """National unified major fee categories 大类费用 that inpatient lines are mapped to (S-04)."""
    BED = "bed"                                 # 床位费
    CONSULTATION = "consultation"               # 诊察费
    EXAMINATION = "examination"                 # 检查费
    LABORATORY = "laboratory"                   # 化验费
    TREATMENT = "treatment"                     # 治疗费
    SURGERY = "surgery"                         # 手术费
    NURSING = "nursing"                         # 护理费
    MEDICAL_MATERIAL = "medical_material"       # 卫生材料费
    WESTERN_MEDICINE = "western_medicine"       # 西药费
    HERBAL_PIECES = "herbal_pieces"             # 中药饮片费
    CHINESE_PATENT_MEDICINE = "chinese_patent_medicine"   # 中成药费
    GENERAL_DIAGNOSIS = "general_diagnosis"     # 一般诊疗费
    REGISTRATION = "registration"               # 挂号费
    OTHER = "other"                             # 其他费


class FundCode(StrEnum):
    """The funds of one slip 一站式一单制 (S-06; 000 附件15-2/15-3)."""
    POOLING = "pooling"                         # 职工统筹基金
    PERSONAL_ACCOUNT = "personal_account"       # 个人账户
    LARGE_AMOUNT = "large_amount"               # 职工大额医疗费用补助
    CIVIL_SERVANT = "civil_servant"             # 公务员医疗补助
    SUPPLEMENTARY = "supplementary"             # 补充医疗保险
    DISABLED_VETERAN = "disabled_veteran"       # 伤残人员医疗保障
    MEDICAL_ASSISTANCE = "medical_assistance"   # 医疗救助
    RESIDENT_BASIC = "resident_basic"           # 城乡居民基本医疗保险
    CRITICAL_ILLNESS = "critical_illness"       # 城乡居民大病保险
    OTHER = "other"                             # 其他


EMPLOYEE_FUNDS = frozenset({FundCode.POOLING, FundCode.PERSONAL_ACCOUNT, FundCode.LARGE_AMOUNT, FundCode.CIVIL_SERVANT,
                            FundCode.SUPPLEMENTARY, FundCode.DISABLED_VETERAN, FundCode.MEDICAL_ASSISTANCE,
                            FundCode.OTHER})
RESIDENT_FUNDS = frozenset({FundCode.RESIDENT_BASIC, FundCode.CRITICAL_ILLNESS, FundCode.MEDICAL_ASSISTANCE,
                            FundCode.SUPPLEMENTARY, FundCode.OTHER})
FUNDS_BY_INSURANCE = {InsuranceType.EMPLOYEE: EMPLOYEE_FUNDS, InsuranceType.RESIDENT: RESIDENT_FUNDS}


class RefundKind(StrEnum):
    """退费 kinds (S-15; 000 第五十九条)."""
    ORDINARY = "ordinary"                   # the latest settlement, same clearing period
    NON_LATEST = "non_latest"               # 隔笔退费: a settlement that is not the person's latest
    PREVIOUS_YEAR = "previous_year"         # 跨年退费: a settlement of an earlier year
    AFTER_CLEARING = "after_clearing"       # 清算后退费: already cleared between agencies


class RefusalCode(StrEnum):
    """Classified refusal reasons (S-19): short, understandable, pinpointing the cause."""
    NOT_FILED = "NOT_FILED"                                     # no valid filing, no emergency (S-12)
    CHRONIC_DISEASE_MISSING = "CHRONIC_DISEASE_MISSING"         # chronic visit without a disease code (S-13)
    CHRONIC_NOT_COVERED = "CHRONIC_NOT_COVERED"                 # insured place does not cover the disease
    CHRONIC_NOT_QUALIFIED = "CHRONIC_NOT_QUALIFIED"             # person lacks the qualification (F-05, S-13)
    ADMISSION_SUSPENDED = "ADMISSION_SUSPENDED"                 # insured region sanctioned (S-20)
    TRAUMA_COMMITMENT_MISSING = "TRAUMA_COMMITMENT_MISSING"     # trauma without signed commitment (S-10)
    THIRD_PARTY_LIABILITY = "THIRD_PARTY_LIABILITY"             # trauma with a liable third party (S-10)
    INVALID_REQUEST = "INVALID_REQUEST"                         # header inconsistent (dates, medical type)
    INVALID_FEE_LINE = "INVALID_FEE_LINE"                       # amount ≠ quantity × price, duplicate line
    CATALOGUE_UNKNOWN_ITEM = "CATALOGUE_UNKNOWN_ITEM"           # HIS claims A/B for an item the catalogue lacks
    CATALOGUE_UNAVAILABLE = "CATALOGUE_UNAVAILABLE"             # no catalogue for the treating place
    POLICY_UNAVAILABLE = "POLICY_UNAVAILABLE"                   # no policy of the insured place for that year
    BENEFIT_NOT_OFFERED = "BENEFIT_NOT_OFFERED"                 # medical type not offered to this insurance
    HOSPITAL_LEVEL_NOT_COVERED = "HOSPITAL_LEVEL_NOT_COVERED"   # policy has no terms for the level
    INSURED_TIMEOUT_NOT_SETTLED = "INSURED_TIMEOUT_NOT_SETTLED"  # insured place did not answer in time
    DUPLICATE_CONFLICT = "DUPLICATE_CONFLICT"                   # same request_id, different content
    SETTLEMENT_NOT_FOUND = "SETTLEMENT_NOT_FOUND"
    ALREADY_REVERSED = "ALREADY_REVERSED"
    REFUND_KIND_MISMATCH = "REFUND_KIND_MISMATCH"               # the named kind does not fit the settlement
    REFUND_NOT_OUTPATIENT = "REFUND_NOT_OUTPATIENT"             # special refunds are outpatient only (S-15)
    RECALL_AFTER_MONTHLY_SETTLEMENT = "RECALL_AFTER_MONTHLY_SETTLEMENT"   # 004 第三十四条
    RECALL_NOT_LATEST = "RECALL_NOT_LATEST"                     # 不得隔次召回 (004 第三十四条)
    RESETTLE_AFTER_CLEARING = "RESETTLE_AFTER_CLEARING"         # 已清算不予召回重结 (004 第三十四条)


class PartyRefusalCode(StrEnum):
    """Refusals about who asks rather than what is asked (003 §5 (三), S-15, S-19): the sender is not
    the institution, may not settle directly here, or is not the one that made the settlement. A HIS
    hears them on the result topic like a :class:`RefusalCode`; they are kept apart from it because
    the hops between the two places and the manual claim carry ``RefusalCode``, and these codes never
    travel there."""
    NOT_AN_INSTITUTION = "NOT_AN_INSTITUTION"                   # the sender is no institution of the registry
    NOT_THIS_INSTITUTION = "NOT_THIS_INSTITUTION"               # the request names another institution
    INSTITUTION_NOT_OPENED = "INSTITUTION_NOT_OPENED"           # not opened for cross-region settlement (异地联网)
    INSTITUTION_REGION_MISMATCH = "INSTITUTION_REGION_MISMATCH"  # treating region is not the institution's
    HOSPITAL_LEVEL_MISMATCH = "HOSPITAL_LEVEL_MISMATCH"         # level differs from the registered one (S-05)
    CLOCK_SKEW = "CLOCK_SKEW"                                   # the HIS's clock is too far from the platform's
    NOT_YOUR_SETTLEMENT = "NOT_YOUR_SETTLEMENT"                 # cancel/refund of another institution's (S-15)


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
    line_no: int = Field(ge=1, description="Line number, unique within the request.", examples=[1])
    item_code: str = Field(min_length=1, max_length=50, description="National medical-insurance item code.",
                           examples=["XC09AAL019A001"])
    item_name: str = Field(min_length=1, max_length=200, description="Item name as the HIS prints it.",
                           examples=["卡托普利片"])
    his_class: CatalogueClass | None = Field(default=None, description="Class the HIS believes (informative).",
                                             examples=["A"])
    quantity: Quantity = Field(description="Quantity, positive decimal.", examples=["2"])
    unit_price: NonNegativeMoney = Field(le=LINE_LIMIT, description="Unit price charged, yuan.", examples=["12.50"])
    amount: NonNegativeMoney = Field(le=LINE_LIMIT, description="Line amount = quantity × unit_price, to the fen.",
                                     examples=["25.00"])
    occurred_on: BusinessDate | None = Field(default=None, description="Prescription date 处方日期 (cross-year stays "
                                                               "upload by year, 004 第三十五条).")
    outside_form_no: str | None = Field(default=None, description="Number of the 住院期间外院检查治疗或药店购药单 "
                                                                  "when this line was bought outside (S-16).")


class VisitHeader(Contract):
    """What every HIS command about a visit says about the person, the place and the case."""
    request_id: str = Field(min_length=1, max_length=64, description="The HIS's idempotency key; a repeat with "
                            "the same content gets the same answer, with different content DUPLICATE_CONFLICT.",
                            examples=["H42010200001-20250312-000123"])
    person_id: PersonId = Field(description="Citizen ID number; partition key.")
    credential_type: CredentialType = Field(description="Credential presented.", examples=["e_voucher"])
    insurance_type: InsuranceType = Field(description="险种: 310 employee, 390 resident.", examples=["310"])
    insured_region: RegionCode = Field(description="参保地 pooling region.", examples=["340200"])
    treating_region: RegionCode = Field(description="就医地 pooling region.", examples=["420100"])
    institution_code: InstitutionCode = Field(description="Treating institution.", examples=["H42010200001"])
    hospital_level: HospitalLevel = Field(description="Institution level; sets deductible and ratio.",
                                          examples=["3"])
    medical_type: MedicalType = Field(description="医疗类别.", examples=["inpatient"])
    visit_id: str = Field(min_length=1, max_length=64, description="住院号 / 门诊号 of the HIS.",
                          examples=["ZY2025000123"])
    emergency: bool = Field(default=False, description="Emergency flag 门诊急诊转诊标志/住院类型=急诊 (F-04, S-11).")
    trauma: bool = Field(default=False, description="外伤标志 (S-10).")
    third_party_liability: bool = Field(default=False, description="涉及第三方标志 (S-10).")
    trauma_commitment_signed: bool = Field(default=False, description="外伤无第三方责任承诺书 signed (S-10).")
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=MAX_DIAGNOSES, description="Diagnoses, main first.")
    chronic_disease_code: str | None = Field(default=None, description="National chronic disease code, required "
                                             "for chronic outpatient; one per prescription (S-13).",
                                             examples=["M03900"])

    @property
    def cross_province(self) -> bool:
        return RegionCode(self.insured_region).is_cross_province(self.treating_region)


class AdmissionRegistered(VisitHeader):
    """入院登记: the HIS registers an admission (S-11 emergency flag, S-20 suspension check)."""
    admission_date: BusinessDate = Field(description="Admission date.", examples=["2025-03-01"])


def _within_bill_limit(lines: list[FeeLine]) -> list[FeeLine]:
    total = sum((line.amount for line in lines), Decimal("0.00"))
    if total > BILL_LIMIT:
        raise ValueError(f"the bill's total {total} is above {BILL_LIMIT} yuan")
    return lines


BoundedLines = Annotated[list[FeeLine], AfterValidator(_within_bill_limit)]


class OutpatientVisitRequested(VisitHeader):
    """Outpatient or pharmacy settlement request 门诊结算 with its fee lines (S-04 per-line split)."""
    visit_date: BusinessDate = Field(description="Visit date.", examples=["2025-03-12"])
    fee_lines: BoundedLines = Field(min_length=1, max_length=MAX_LINES, description="Fee detail lines.")


class DischargeSettlementRequested(VisitHeader):
    """出院结算: the whole stay settles once, at discharge (S-14), with every fee line of the stay."""
    admission_date: BusinessDate = Field(description="Admission date.", examples=["2025-03-01"])
    discharge_date: BusinessDate = Field(description="Discharge date; its year decides policy and accumulations (S-14).",
                                 examples=["2025-03-10"])
    fee_lines: BoundedLines = Field(min_length=1, max_length=MAX_LINES,
                                     description="Fee detail lines of the whole stay.")


class SettlementCancelRequested(Contract):
    """撤销: undo a settlement the HIS has just made (S-15)."""
    request_id: str = Field(min_length=1, max_length=64, description="Idempotency key.")
    person_id: PersonId
    settlement_id: str = Field(description="The settlement to cancel.", examples=["S-6d1f0c2a"])
    institution_code: InstitutionCode
    reason: str = Field(default="", max_length=500, description="Free text shown to auditors.")


class RefundRequested(Contract):
    """退费 of a settlement, whole or some of its lines (S-15)."""
    request_id: str = Field(min_length=1, max_length=64, description="Idempotency key.")
    person_id: PersonId
    settlement_id: str = Field(description="The settlement refunded.", examples=["S-6d1f0c2a"])
    institution_code: InstitutionCode
    kind: RefundKind = Field(description="ordinary | non_latest 隔笔 | previous_year 跨年 | after_clearing 清算后.")
    line_nos: list[int] | None = Field(default=None, description="Lines refunded; none means the whole settlement. "
                                       "A partial refund re-settles the remaining lines.")
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
    def _total_is_sum(self) -> "ManualClaimUploaded":
        if sum((line.amount for line in self.fee_lines), Decimal("0.00")) != self.total:
            raise ValueError("total must equal the sum of the fee lines (M-01)")
        return self


# ---------------------------------------------------------------- treating-place result (S-04)
class FeeSplit(Contract):
    """The four-way split of an amount (S-04; 附件13 note 2): total = in_scope + b + over_limit + self_paid."""
    total: NonNegativeMoney = Field(description="总费用.", examples=["1000.00"])
    in_scope: NonNegativeMoney = Field(description="统筹基金支付范围内费用.", examples=["800.00"])
    b_class_self_pay: NonNegativeMoney = Field(description="乙类先行自付费用.", examples=["50.00"])
    over_limit_self_pay: NonNegativeMoney = Field(description="超限价自付费用.", examples=["20.00"])
    self_paid: NonNegativeMoney = Field(description="自费费用 (全自费).", examples=["130.00"])

    @model_validator(mode="after")
    def _adds_up(self) -> "FeeSplit":
        parts = self.in_scope + self.b_class_self_pay + self.over_limit_self_pay + self.self_paid
        if parts != self.total:
            raise ValueError(f"split {parts} does not add up to total {self.total} (S-04)")
        return self


class LineSplit(FeeSplit):
    """One outpatient line after fee splitting 费用分割 (S-04)."""
    line_no: int = Field(ge=1)
    item_code: str
    catalogue_class: CatalogueClass | None = Field(description="Class in the applied catalogue; none if absent.")
    major_category: MajorFeeCategory


class CategorySplit(FeeSplit):
    """One national major fee category of an inpatient bill (S-04)."""
    category: MajorFeeCategory


class TreatingAssessed(Contract):
    """Treating place → insured place (S-01, S-02): what is payable, line by line or by category."""
    settlement_id: str = Field(description="Id of this settlement, uuid5 of the HIS request.")
    request_id: str
    person_id: PersonId
    insurance_type: InsuranceType
    insured_region: RegionCode
    treating_region: RegionCode
    cross_province: bool
    institution_code: InstitutionCode
    hospital_level: HospitalLevel
    medical_type: MedicalType
    eligibility_basis: EligibilityBasis
    filing_category: FilingCategory | None = None
    emergency: bool = False
    trauma_no_third_party: bool = Field(default=False, description="Marked for treating-place checks (S-10).")
    chronic_disease_code: str | None = None
    service_date: date = Field(description="Discharge or visit date; its year is the settlement year (S-14).")
    catalogue_id: str = Field(description="Catalogue applied (S-02/S-03).", examples=["420000"])
    totals: FeeSplit
    categories: list[CategorySplit] = Field(default_factory=list, description="Inpatient: major categories.")
    lines: list[LineSplit] = Field(default_factory=list, description="Outpatient: every line split.")
    answer_by: AwareDatetime | None = Field(default=None, description="The HIS is answered 'not settled directly' "
                                            "after this moment; a later insured answer must not settle (S-01).")

    @model_validator(mode="after")
    def _shape(self) -> "TreatingAssessed":
        parts = self.categories if self.medical_type is MedicalType.INPATIENT else self.lines
        if not parts:
            raise ValueError("inpatient needs categories, outpatient needs lines (S-04)")
        for field in ("total", "in_scope", "b_class_self_pay", "over_limit_self_pay", "self_paid"):
            if sum((getattr(p, field) for p in parts), Decimal("0.00")) != getattr(self.totals, field):
                raise ValueError(f"{field} of the parts does not add up to the totals (M-01)")
        return self


# ---------------------------------------------------------------- insured-place result (S-05..S-07)
class FundAmount(Contract):
    """One fund's payment, printed under the insured place's fund name (附件13 note 1)."""
    code: FundCode
    name: str = Field(description="Fund name as the insured place calls it.", examples=["职工基本医疗保险统筹基金"])
    amount: NonNegativeMoney


class SettlementSlip(FeeSplit):
    """The settlement slip 结算单 of 000 附件13: split, deductible, funds and the personal share."""
    deductible_applied: NonNegativeMoney = Field(description="本次起付标准 applied.", examples=["1000.00"])
    funds: list[FundAmount] = Field(default_factory=list, description="Funds in the insured place's order, "
                                    "personal account included when used.")
    fund_total: NonNegativeMoney = Field(description="基金支付合计金额 (funds incl. personal account).")
    personal_account: NonNegativeMoney = Field(description="个人账户支付 (also listed among funds).")
    personal_cash: NonNegativeMoney = Field(description="个人现金支付金额.")

    @model_validator(mode="after")
    def _s07(self) -> "SettlementSlip":
        if sum((f.amount for f in self.funds), Decimal("0.00")) != self.fund_total:
            raise ValueError("fund_total must be the sum of the funds")
        account = sum((f.amount for f in self.funds if f.code is FundCode.PERSONAL_ACCOUNT), Decimal("0.00"))
        if account != self.personal_account:
            raise ValueError("personal_account must equal the personal-account fund line")
        if self.fund_total + self.personal_cash != self.total:
            raise ValueError(f"total {self.total} ≠ fund total {self.fund_total} + personal cash "
                             f"{self.personal_cash} (S-07)")
        return self


class FundDelta(Contract):
    code: FundCode
    name: str
    amount: Money


class SlipDelta(Contract):
    """Signed amounts of a reversal: what is taken back (negative) from a slip (S-15, C-05)."""
    total: Money
    in_scope: Money
    b_class_self_pay: Money
    over_limit_self_pay: Money
    self_paid: Money
    deductible_applied: Money
    funds: list[FundDelta] = Field(default_factory=list)
    fund_total: Money
    personal_account: Money
    personal_cash: Money


class AccumulationEntry(Contract):
    """One year-to-date counter change (deductible used, a fund's paid amount, a threshold base)."""
    year: int = Field(ge=2000, le=2100)
    counter: str = Field(description="Counter key, e.g. 'fund/pooling/inpatient'.", examples=["fund/pooling/annual"])
    amount: Money


class InsuredDecided(Contract):
    """Insured place → treating place (S-01, S-05): the money answer, or a refusal."""
    settlement_id: str
    request_id: str
    person_id: PersonId
    decided: bool = Field(description="True with a slip; false with a refusal.")
    slip: SettlementSlip | None = None
    refusal_code: RefusalCode | None = None
    refusal_message: str | None = None
    settlement_year: int = Field(ge=2000, le=2100, description="Year whose policy and accumulations applied (S-14).")
    ratio_applied: Decimal | None = Field(default=None, description="Primary fund ratio after reductions (S-08/S-09).")
    rate_basis: str | None = Field(default=None, description="Why that ratio: local, referral_emergency, "
                                   "other_temporary, trauma…", examples=["other_temporary"])
    accumulation_delta: list[AccumulationEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of(self) -> "InsuredDecided":
        if self.decided != (self.slip is not None) or self.decided == (self.refusal_code is not None):
            raise ValueError("a decision carries a slip, a refusal carries a refusal code")
        return self


class InsuredRollback(Contract):
    """Treating place → insured place: undo a decision that came after the HIS was already told
    'not settled directly' (S-01: a settlement never completes behind the hospital's back); with
    ``reversal_id``, undo a partial refund's re-decision the same way (S-15)."""
    settlement_id: str
    person_id: PersonId
    reason: str = Field(examples=["insured place answered after the timeout"])
    reversal_id: str | None = Field(default=None, description="The partial refund to undo, if it is one.")


class ChronicQualificationRecorded(Contract):
    """门诊慢特病资格认定: the insured place records (or withdraws) a person's qualification for a
    chronic/special disease (F-05, S-13); the insured-place step consults it."""
    person_id: PersonId
    insured_region: RegionCode
    disease_code: str = Field(min_length=1, max_length=20, examples=["M03900"])
    qualified: bool = Field(default=True, description="False withdraws the qualification.")
    recorded_at: AwareDatetime


class InsuredGroup(StrEnum):
    """Person groups of the insured place that gate some funds of the slip (S-06): the names the
    policies' ``requires_group`` use."""
    CIVIL_SERVANT = "civil_servant"         # 公务员: 公务员医疗补助
    ASSISTANCE = "assistance"               # 医疗救助对象: 医疗救助


class InsuredPersonRecorded(Contract):
    """The insured place records what it knows of a person besides filings (S-06): the groups that
    open the civil-servant subsidy or medical assistance, and the personal-account balance 个人账户余额
    as of ``recorded_at``. The latest record replaces earlier ones; settlements then debit the
    balance by what they paid from the account (cancels and refunds credit it back)."""
    person_id: PersonId
    insured_region: RegionCode
    groups: list[InsuredGroup] = Field(default_factory=list, description="Groups the person belongs to.")
    personal_account_balance: NonNegativeMoney = Field(description="个人账户余额 at recorded_at.",
                                                       examples=["300.00"])
    recorded_at: AwareDatetime


class RefundAssessed(Contract):
    """Treating place → insured place (S-15, 000 第五十九条): a partial refund 部分退费. The insured
    place rolls back what settlement ``settlement_id`` consumed and decides ``assessment`` (the
    remaining lines) on the rolled-back accumulations, in one write."""
    reversal_id: str = Field(description="Id of the refund.", examples=["R-6d1f0c2a"])
    settlement_id: str = Field(description="The settlement whose lines are refunded.")
    person_id: PersonId
    line_nos: list[int] = Field(min_length=1, description="Lines refunded.")
    assessment: TreatingAssessed = Field(description="The remaining lines, assessed like a settlement.")


class RefundDecided(Contract):
    """Insured place → treating place (S-15): the decision on the remaining lines of a partial
    refund (its accumulation_delta is the replacement's own), or a refusal."""
    reversal_id: str
    settlement_id: str
    person_id: PersonId
    decision: InsuredDecided


# ---------------------------------------------------------------- results to the HIS, clearing, prepayment
class _SettlementFacts(Contract):
    settlement_id: str = Field(description="Settlement id.", examples=["S-6d1f0c2a"])
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    hospital_level: HospitalLevel
    insurance_type: InsuranceType
    medical_type: MedicalType
    insured_region: RegionCode
    treating_region: RegionCode
    cross_province: bool
    clearing_month: ClearingMonth = Field(description="Clearing period the amounts belong to (C-01, S-15).")


class SettlementCompleted(_SettlementFacts):
    """A completed settlement with its 附件13 slip (S-04..S-07)."""
    outcome: Literal["completed"] = "completed"
    visit_id: str
    settled_on: date = Field(description="Settlement date; clearing_month is the month after it (C-02).")
    settlement_year: int = Field(ge=2000, le=2100, description="Policy/accumulation year (S-14).")
    eligibility_basis: EligibilityBasis
    filing_category: FilingCategory | None = None
    ratio_applied: Decimal = Field(description="Primary fund ratio applied (S-08/S-09).", examples=["0.70"])
    rate_basis: str = Field(description="local | referral_emergency | other_temporary | trauma", examples=["local"])
    trauma_check: bool = Field(default=False, description="Trauma without third party: for checks (S-10).")
    chronic_disease_code: str | None = None
    slip: SettlementSlip
    admission_date: date | None = Field(default=None, description="Admission date of a stay (Q-01).")
    discharge_date: date | None = Field(default=None, description="Discharge date of a stay (Q-01).")


class FeeDetailUploaded(Contract):
    """S-18 (000 第五十三条): after a cross-province inpatient settlement the treating place uploads
    the full fee detail within 3 days, for the insured place to query and download."""
    settlement_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    insured_region: RegionCode
    treating_region: RegionCode
    settled_on: date
    upload_due: date = Field(description="Latest upload date: 3 days after settlement (000 第五十三条).")
    catalogue_id: str = Field(description="Catalogue the lines were split by (S-02/S-03).")
    totals: FeeSplit
    lines: list[LineSplit] = Field(min_length=1, description="Every fee line, split (S-04).")


class SettlementRefused(Contract):
    """A refused request, with a classified reason the hospital can show the patient (S-19, S-12)."""
    outcome: Literal["refused"] = "refused"
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    settlement_id: str | None = Field(default=None, description="The settlement concerned, for cancel/refund.")
    code: RefusalCode | PartyRefusalCode = Field(description="What the rules refused (RefusalCode) or why the "
                                                 "sender may not ask (PartyRefusalCode).")
    title_zh: str = Field(description="Short Chinese title of the code, for the screen.", examples=["未办理异地就医备案"])
    message: str = Field(description="What exactly is wrong.", examples=["no valid filing for 420100 on 2025-03-01"])
    line_no: int | None = Field(default=None, description="The fee line at fault, when one is.")
    manual_claim_possible: bool = Field(default=False, description="Pay now and claim at the insured place (S-17).")


class SettlementCancelled(_SettlementFacts):
    """撤销 done: the whole slip taken back (S-15)."""
    outcome: Literal["cancelled"] = "cancelled"
    reversal_id: str
    reversal_request_id: str | None = Field(default=None, description="The HIS's request id of this cancel or "
                                            "refund (request_id is the original settlement's).")
    reversed_on: date
    compensation: SlipDelta = Field(description="Negatives of the original slip.")
    accumulation_delta: list[AccumulationEntry] = Field(default_factory=list, description="Rollback.")


class SettlementRefunded(_SettlementFacts):
    """退费 done (S-15). A partial refund re-settles the remaining lines: compensation is new − original."""
    outcome: Literal["refunded"] = "refunded"
    kind: RefundKind
    reversal_id: str
    reversal_request_id: str | None = Field(default=None, description="The HIS's request id of this cancel or "
                                            "refund (request_id is the original settlement's).")
    reversed_on: date
    line_nos: list[int] | None = None
    compensation: SlipDelta = Field(description="Signed amounts going into clearing_month.")
    replacement: SettlementSlip | None = Field(default=None, description="Slip of the remaining lines, if any.")
    accumulation_delta: list[AccumulationEntry] = Field(default_factory=list, description="Net counter change.")


class AdmissionAccepted(Contract):
    """入院登记 accepted: the person may be settled at discharge under this basis."""
    outcome: Literal["admission_accepted"] = "admission_accepted"
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    visit_id: str
    eligibility_basis: EligibilityBasis
    trauma_check: bool = False


_RESULT = Annotated[Union[SettlementCompleted, SettlementRefused, SettlementCancelled, SettlementRefunded,
                          AdmissionAccepted], Field(discriminator="outcome")]
_REVERSAL = Annotated[Union[SettlementCancelled, SettlementRefunded], Field(discriminator="outcome")]


class SettlementResult(RootModel[_RESULT]):
    """The full answer to the HIS, sealed inside ``settlement.result.v2`` (its ``sealed`` field): one of
    five outcomes, told apart by ``outcome``. Until v2 it travelled in clear on ``settlement.result.v1``."""
    model_config = ConfigDict(frozen=True)


class ResultOutcome(StrEnum):
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    ADMISSION_ACCEPTED = "admission_accepted"


class _SealedContent:
    """JSON Schema of a sealed string: the JWE, and (``contentSchema``) the model it decrypts to, so that
    the sealed contract is published and its compatibility checked like any other (contracts.schemas)."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    def __get_pydantic_json_schema__(self, core: Any, handler: Any) -> dict:
        schema = handler(core)
        schema.update(contentMediaType="application/jose", contentSchema=handler(self.model.__pydantic_core_schema__))
        return schema


JWE_COMPACT = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"

SealedResult = Annotated[str, Field(pattern=JWE_COMPACT), _SealedContent(SettlementResult)]


class SealedSettlementResult(Contract):
    """What the HIS hears on ``settlement.result.v2`` (003 §5 (三)). Every hospital reads the topic, so
    only what routes the answer is in clear; the answer itself is ``sealed``: a JWE (RFC 7516, compact
    serialisation) with ``alg`` ECDH-ES, ``enc`` A256GCM and ``kid`` ``<institution code>/<key id>``,
    encrypted to the institution's X25519 key of the participant registry. Its plaintext is the UTF-8
    JSON of :class:`SettlementResult`, whose fields repeat the routing fields below (an adapter checks
    they agree: ``runtime.client.open_result``)."""
    institution_code: InstitutionCode = Field(description="The institution answered: the only one that can open "
                                              "``sealed``. Partition key.", examples=["H42010200001"])
    request_id: str = Field(description="The HIS request answered; for a completed cancel or refund the original "
                            "settlement's request id (as inside the seal).", examples=["H42010200001-20250312-000123"])
    outcome: ResultOutcome = Field(description="completed | refused | cancelled | refunded | admission_accepted.")
    reversal_request_id: str | None = Field(default=None, description="For a completed cancel or refund: the HIS's "
                                            "request id of the cancel or refund.")
    sealed: SealedResult = Field(description="JWE compact: ECDH-ES + A256GCM to the institution's encryption key; "
                                 "plaintext: the SettlementResult JSON (schema: contentSchema).")


class SettlementReversed(RootModel[_REVERSAL]):
    """What clearing and prepayment hear on ``settlement.reversed.v1``: a cancel or a refund."""
    model_config = ConfigDict(frozen=True)


def _person(payload: Any) -> str:
    return str(getattr(payload, "root", payload).person_id)


_KEY_DOC = ("the person's pseudonym (HMAC of the ID number, never the number): a person's settlements stay in "
            "order and year-to-date accumulations are per person")


def _institution(payload: Any) -> str:
    return str(getattr(payload, "root", payload).institution_code)


_HIS_KEY_DOC = ("institution_code: a hospital's commands and answers stay in order; a hospital cannot compute the "
                "person pseudonym, so the first hop re-keys by it")

TOPICS: list[TopicSpec] = [
    TopicSpec("his.admission.v1", AdmissionRegistered, _institution, _HIS_KEY_DOC, "his", ("settlement",), kind="command",
              description="入院登记 (S-11, S-20)."),
    TopicSpec("his.outpatient-requested.v1", OutpatientVisitRequested, _institution, _HIS_KEY_DOC, "his", ("settlement",),
              kind="command", description="Outpatient/pharmacy settlement request (S-04)."),
    TopicSpec("his.settlement-requested.v1", DischargeSettlementRequested, _institution, _HIS_KEY_DOC, "his",
              ("settlement",), kind="command", description="出院结算 (S-14)."),
    TopicSpec("his.cancel-requested.v1", SettlementCancelRequested, _institution, _HIS_KEY_DOC, "his", ("settlement",),
              kind="command", description="撤销 (S-15)."),
    TopicSpec("his.refund-requested.v1", RefundRequested, _institution, _HIS_KEY_DOC, "his", ("settlement",),
              kind="command", description="退费 (S-15)."),
    TopicSpec("his.manual-claim.v1", ManualClaimUploaded, _institution, _HIS_KEY_DOC, "his", ("settlement",),
              kind="command", description="Upload for manual reimbursement (S-17)."),
    TopicSpec("settlement.treating-assessed.v1", TreatingAssessed, _person, _KEY_DOC, "settlement", ("settlement",),
              personal_key=True, description="Treating place → insured place hop (S-01..S-04)."),
    TopicSpec("settlement.insured-decided.v1", InsuredDecided, _person, _KEY_DOC, "settlement", ("settlement",),
              personal_key=True, description="Insured place → treating place hop (S-01, S-05)."),
    TopicSpec("settlement.insured-rollback.v1", InsuredRollback, _person, _KEY_DOC, "settlement", ("settlement",),
              personal_key=True, description="Internal (S-01): the insured place rolls back a decision the HIS never received."),
    TopicSpec("settlement.chronic-qualification.v1", ChronicQualificationRecorded, _person, _KEY_DOC, "agency",
              ("settlement",), kind="command", personal_key=True, description="Insured place records a chronic qualification (S-13)."),
    TopicSpec("settlement.insured-person.v1", InsuredPersonRecorded, _person, _KEY_DOC, "agency",
              ("settlement",), kind="command", personal_key=True, description="Insured place records a person's groups and "
              "personal-account balance (S-06)."),
    TopicSpec("settlement.refund-assessed.v1", RefundAssessed, _person, _KEY_DOC, "settlement", ("settlement",),
              personal_key=True, description="Internal (S-15): the remaining lines of a partial refund, to the insured place."),
    TopicSpec("settlement.refund-decided.v1", RefundDecided, _person, _KEY_DOC, "settlement", ("settlement",),
              personal_key=True, description="Internal (S-15): the insured place's decision on a partial refund's remaining lines."),
    TopicSpec("settlement.result.v2", SealedSettlementResult, _institution, _HIS_KEY_DOC, "settlement", ("his",),
              description="Outcome to the HIS, sealed to the institution it answers (003 §5 (三)): institution_code, "
                          "request_id, outcome and reversal_request_id in clear, the SettlementResult in 'sealed' "
                          "(JWE ECDH-ES + A256GCM). Replaces settlement.result.v1, whose results every hospital "
                          "could read in clear."),
    TopicSpec("settlement.completed.v1", SettlementCompleted, _person, _KEY_DOC, "settlement",
              ("clearing", "prepayment", "collab"), personal_key=True, description="Completed settlements for clearing, prepayment and co-investigation (Q-01)."),
    TopicSpec("settlement.fee-detail.v1", FeeDetailUploaded, _person, _KEY_DOC, "settlement", ("agency",),
              personal_key=True, description="Full fee detail of a cross-province stay, uploaded within 3 days (S-18)."),
    TopicSpec("settlement.reversed.v1", SettlementReversed, _person, _KEY_DOC, "settlement",
              ("clearing", "prepayment", "settlement"), personal_key=True, description="Cancels and refunds with signed amounts (S-15); the insured place rolls back its accumulations."),
]
