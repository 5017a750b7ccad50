"""The values a settlement is made of 直接结算, shared by the HIS API (``contracts.his``,
``contracts.his_result``), the public events (``contracts.settlement``) and the hops between the
treating place and the insured place (``contracts.settlement_hops``): the clearing month, the
catalogue classes and fee categories, the funds of a slip, the refusal codes, the four-way fee split
and the settlement slip 结算单 of 000 附件13, and the topics' keys.

Every amount is yuan with two decimals, written as a string (M-01).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from contracts.envelope import Contract
from contracts.values import InsuranceType, Money, NonNegativeMoney

# ---------------------------------------------------------------- the clearing month
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(value: Any) -> str:
    text = str(value)
    if not _MONTH_RE.match(text):
        raise PydanticCustomError("clearing_month", "clearing month '{value}' must be YYYY-MM", {"value": value})
    return text


ClearingMonth = Annotated[
    str,
    BeforeValidator(_month),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-(0[1-9]|1[0-2])$",
            "description": "clearing period 清算月份, YYYY-MM",
            "examples": ["2025-03"],
        }
    ),
]


# ---------------------------------------------------------------- enums
class CatalogueClass(StrEnum):
    """甲/乙/丙类: A fully payable, B payable after a self-pay share, C not payable."""

    A = "A"
    B = "B"
    C = "C"


class MajorFeeCategory(StrEnum):
    """National unified major fee categories 大类费用 that inpatient lines are mapped to (S-04)."""

    BED = "bed"  # 床位费
    CONSULTATION = "consultation"  # 诊察费
    EXAMINATION = "examination"  # 检查费
    LABORATORY = "laboratory"  # 化验费
    TREATMENT = "treatment"  # 治疗费
    SURGERY = "surgery"  # 手术费
    NURSING = "nursing"  # 护理费
    MEDICAL_MATERIAL = "medical_material"  # 卫生材料费
    WESTERN_MEDICINE = "western_medicine"  # 西药费
    HERBAL_PIECES = "herbal_pieces"  # 中药饮片费
    CHINESE_PATENT_MEDICINE = "chinese_patent_medicine"  # 中成药费
    GENERAL_DIAGNOSIS = "general_diagnosis"  # 一般诊疗费
    REGISTRATION = "registration"  # 挂号费
    OTHER = "other"  # 其他费


class FundCode(StrEnum):
    """The funds of one slip 一站式一单制 (S-06; 000 附件15-2/15-3)."""

    POOLING = "pooling"  # 职工统筹基金
    PERSONAL_ACCOUNT = "personal_account"  # 个人账户
    LARGE_AMOUNT = "large_amount"  # 职工大额医疗费用补助
    CIVIL_SERVANT = "civil_servant"  # 公务员医疗补助
    SUPPLEMENTARY = "supplementary"  # 补充医疗保险
    DISABLED_VETERAN = "disabled_veteran"  # 伤残人员医疗保障
    MEDICAL_ASSISTANCE = "medical_assistance"  # 医疗救助
    RESIDENT_BASIC = "resident_basic"  # 城乡居民基本医疗保险
    CRITICAL_ILLNESS = "critical_illness"  # 城乡居民大病保险
    OTHER = "other"  # 其他


EMPLOYEE_FUNDS = frozenset(
    {
        FundCode.POOLING,
        FundCode.PERSONAL_ACCOUNT,
        FundCode.LARGE_AMOUNT,
        FundCode.CIVIL_SERVANT,
        FundCode.SUPPLEMENTARY,
        FundCode.DISABLED_VETERAN,
        FundCode.MEDICAL_ASSISTANCE,
        FundCode.OTHER,
    }
)
RESIDENT_FUNDS = frozenset(
    {
        FundCode.RESIDENT_BASIC,
        FundCode.CRITICAL_ILLNESS,
        FundCode.MEDICAL_ASSISTANCE,
        FundCode.SUPPLEMENTARY,
        FundCode.OTHER,
    }
)
FUNDS_BY_INSURANCE = {InsuranceType.EMPLOYEE: EMPLOYEE_FUNDS, InsuranceType.RESIDENT: RESIDENT_FUNDS}


class RateBasis(StrEnum):
    """Why the insured place applied the ratio it did (S-08..S-11): the one list of rate bases, which the
    settlement rules classify into and the published ``rate_basis`` fields carry (as text, so their schemas
    stay those the consumers read)."""

    LOCAL = "local"  # S-08: long-term filers, the insured place's local ratio
    REFERRAL_EMERGENCY = "referral_emergency"  # S-09, S-11: referral and emergency, the smaller cut
    OTHER_TEMPORARY = "other_temporary"  # S-09: other temporary patients, the larger cut
    TRAUMA = "trauma"  # S-10: trauma without third-party liability (001 三(三))


class RefundKind(StrEnum):
    """退费 kinds (S-15; 000 第五十九条)."""

    ORDINARY = "ordinary"  # the latest settlement, same clearing period
    NON_LATEST = "non_latest"  # 隔笔退费: a settlement that is not the person's latest
    PREVIOUS_YEAR = "previous_year"  # 跨年退费: a settlement of an earlier year
    AFTER_CLEARING = "after_clearing"  # 清算后退费: already cleared between agencies


class RefusalCode(StrEnum):
    """Classified refusal reasons (S-19): short, understandable, pinpointing the cause."""

    NOT_FILED = "NOT_FILED"  # no valid filing, no emergency (S-12)
    CHRONIC_DISEASE_MISSING = "CHRONIC_DISEASE_MISSING"  # chronic visit without a disease code (S-13)
    CHRONIC_NOT_COVERED = "CHRONIC_NOT_COVERED"  # insured place does not cover the disease
    CHRONIC_NOT_QUALIFIED = "CHRONIC_NOT_QUALIFIED"  # person lacks the qualification (F-05, S-13)
    ADMISSION_SUSPENDED = "ADMISSION_SUSPENDED"  # insured region sanctioned (S-20)
    TRAUMA_COMMITMENT_MISSING = "TRAUMA_COMMITMENT_MISSING"  # trauma without signed commitment (S-10)
    THIRD_PARTY_LIABILITY = "THIRD_PARTY_LIABILITY"  # trauma with a liable third party (S-10)
    INVALID_REQUEST = "INVALID_REQUEST"  # header inconsistent (dates, medical type)
    DATE_IN_FUTURE = "DATE_IN_FUTURE"  # a visit/admission/discharge after receipt (S-12)
    DATE_TOO_OLD = "DATE_TOO_OLD"  # before the retroactive window (F-11, S-12)
    INVALID_FEE_LINE = "INVALID_FEE_LINE"  # amount ≠ quantity × price, duplicate line
    CATALOGUE_UNKNOWN_ITEM = "CATALOGUE_UNKNOWN_ITEM"  # HIS claims A/B for an item the catalogue lacks
    CATALOGUE_UNAVAILABLE = "CATALOGUE_UNAVAILABLE"  # no catalogue for the treating place
    POLICY_UNAVAILABLE = "POLICY_UNAVAILABLE"  # no policy of the insured place for that year
    BENEFIT_NOT_OFFERED = "BENEFIT_NOT_OFFERED"  # medical type not offered to this insurance
    HOSPITAL_LEVEL_NOT_COVERED = "HOSPITAL_LEVEL_NOT_COVERED"  # policy has no terms for the level
    INSURED_TIMEOUT_NOT_SETTLED = "INSURED_TIMEOUT_NOT_SETTLED"  # insured place did not answer in time
    DUPLICATE_CONFLICT = "DUPLICATE_CONFLICT"  # same request_id, different content
    SETTLEMENT_NOT_FOUND = "SETTLEMENT_NOT_FOUND"
    ALREADY_REVERSED = "ALREADY_REVERSED"
    REFUND_KIND_MISMATCH = "REFUND_KIND_MISMATCH"  # the named kind does not fit the settlement
    REFUND_NOT_OUTPATIENT = "REFUND_NOT_OUTPATIENT"  # special refunds are outpatient only (S-15)
    RECALL_AFTER_MONTHLY_SETTLEMENT = "RECALL_AFTER_MONTHLY_SETTLEMENT"  # 004 第三十四条
    RECALL_NOT_LATEST = "RECALL_NOT_LATEST"  # 不得隔次召回 (004 第三十四条)
    RESETTLE_AFTER_CLEARING = "RESETTLE_AFTER_CLEARING"  # 已清算不予召回重结 (004 第三十四条)


# ---------------------------------------------------------------- the fee split (S-04) and the slip (S-05..S-07)
class FeeSplit(Contract):
    """The four-way split of an amount (S-04; 附件13 note 2): total = in_scope + b + over_limit + self_paid."""

    total: NonNegativeMoney = Field(description="总费用.", examples=["1000.00"])
    in_scope: NonNegativeMoney = Field(description="统筹基金支付范围内费用.", examples=["800.00"])
    b_class_self_pay: NonNegativeMoney = Field(description="乙类先行自付费用.", examples=["50.00"])
    over_limit_self_pay: NonNegativeMoney = Field(description="超限价自付费用.", examples=["20.00"])
    self_paid: NonNegativeMoney = Field(description="自费费用 (全自费).", examples=["130.00"])

    @model_validator(mode="after")
    def _adds_up(self) -> FeeSplit:
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
    quantity: Decimal | None = Field(
        default=None, description="The HIS line's quantity, as a decimal string (R-04: daily limits).", examples=["2"]
    )
    occurred_on: date | None = Field(
        default=None, description="The HIS line's prescription date 处方日期, if it gave one (R-04: per-day checks)."
    )


class CategorySplit(FeeSplit):
    """One national major fee category of an inpatient bill (S-04)."""

    category: MajorFeeCategory


class FundAmount(Contract):
    """One fund's payment, printed under the insured place's fund name (附件13 note 1)."""

    code: FundCode
    name: str = Field(description="Fund name as the insured place calls it.", examples=["职工基本医疗保险统筹基金"])
    amount: NonNegativeMoney


class SettlementSlip(FeeSplit):
    """The settlement slip 结算单 of 000 附件13: split, deductible, funds and the personal share."""

    deductible_applied: NonNegativeMoney = Field(description="本次起付标准 applied.", examples=["1000.00"])
    funds: list[FundAmount] = Field(
        default_factory=list, description="Funds in the insured place's order, personal account included when used."
    )
    fund_total: NonNegativeMoney = Field(description="基金支付合计金额 (funds incl. personal account).")
    personal_account: NonNegativeMoney = Field(description="个人账户支付 (also listed among funds).")
    personal_cash: NonNegativeMoney = Field(description="个人现金支付金额.")

    @model_validator(mode="after")
    def _s07(self) -> SettlementSlip:
        if sum((f.amount for f in self.funds), Decimal("0.00")) != self.fund_total:
            raise ValueError("fund_total must be the sum of the funds")
        account = sum((f.amount for f in self.funds if f.code is FundCode.PERSONAL_ACCOUNT), Decimal("0.00"))
        if account != self.personal_account:
            raise ValueError("personal_account must equal the personal-account fund line")
        if self.fund_total + self.personal_cash != self.total:
            raise ValueError(
                f"total {self.total} ≠ fund total {self.fund_total} + personal cash {self.personal_cash} (S-07)"
            )
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


# ---------------------------------------------------------------- topic keys
def person_key(payload: Any) -> str:
    return str(getattr(payload, "root", payload).person_id)


PERSON_KEY_DOC = (
    "the person's pseudonym (HMAC of the ID number, never the number): a person's settlements stay in "
    "order and year-to-date accumulations are per person"
)


def institution_key(payload: Any) -> str:
    return str(getattr(payload, "root", payload).institution_code)


INSTITUTION_KEY_DOC = (
    "institution_code: a hospital's commands and answers stay in order; a hospital cannot compute "
    "the person pseudonym, so the first hop re-keys by it"
)
