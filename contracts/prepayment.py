"""Prepayment 预付金 contracts (P-01..P-09): commands to the prepayment service and the facts
it publishes. Every topic is keyed by the insured region (the payer), so one region's account
is processed in order.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, PlainSerializer, WithJsonSchema, field_validator

from contracts.envelope import Contract
from contracts.topics import TopicSpec
from contracts.values import Money, NonNegativeMoney, RegionCode

Percent = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="always"),
                    WithJsonSchema({"type": "string", "description": "percentage with two decimals",
                                    "examples": ["72.35"]})]


class PrepaymentScope(StrEnum):
    """Cross-province and intra-province prepayments are accounted separately (004 第二十条)."""
    CROSS_PROVINCE = "cross_province"   # 跨省
    INTRA_PROVINCE = "intra_province"   # 省内


class WarningLevel(StrEnum):
    """P-05: yellow ≥ 70 %, red ≥ 90 % usage."""
    NONE = "none"
    YELLOW = "yellow"   # 黄色预警
    RED = "red"         # 红色预警

    @property
    def rank(self) -> int:
        return ("none", "yellow", "red").index(self.value)


class NoticeKind(StrEnum):
    """Payment notices whose non-payment leads to a sanction (P-09)."""
    EMERGENCY_TOP_UP = "emergency_top_up"       # 预付金额度紧急调增付款通知书
    CLEARING = "clearing"                       # 清算资金付款通知书
    ANNUAL_ADJUSTMENT = "annual_adjustment"     # 年度预付金额度调整付款通知书


class SanctionKind(StrEnum):
    NEW_FILING_SUSPENSION = "new_filing_suspension"   # 暂停新增备案人员信息上传 (F-16)
    ADMISSION_SUSPENSION = "admission_suspension"     # 暂停参保人员异地就医入院登记 (S-20)


class SanctionAction(StrEnum):
    IMPOSED = "imposed"
    LIFTED = "lifted"


_REGION = Field(description="insured region 参保地 (the payer), GB/T 2260", examples=["340200"])


# ---------------------------------------------------------------- commands
class SetAnnualQuota(Contract):
    """P-02/P-03: set a year's quota in January from last year's monthly fund amounts."""
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    year: int = Field(ge=2000, le=2200)
    last_year_monthly_funds: dict[int, NonNegativeMoney] = Field(
        description="fund part of cross-region settlements per month of last year (1..12)",
        examples=[{"10": "100000.00", "11": "120000.00", "12": "110000.00"}])
    last_year_quota: NonNegativeMoney = Field(description="last year's quota; '0.00' for a new account")
    issued_at: AwareDatetime = Field(description="when the adjustment notice is issued")

    @field_validator("last_year_monthly_funds")
    @classmethod
    def _months(cls, value: dict[int, Decimal]) -> dict[int, Decimal]:
        bad = sorted(m for m in value if not 1 <= m <= 12)
        if bad:
            raise ValueError(f"months must be 1..12, got {bad}")
        return value


class RecordPrepaymentPayment(Contract):
    """Money for a notice has arrived (top-up, clearing or adjustment payment)."""
    payment_id: str = Field(min_length=1, description="bank or finance reference; payments dedupe on it")
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    notice_id: uuid.UUID
    amount: NonNegativeMoney
    paid_at: AwareDatetime


class ReportPaymentDelay(Contract):
    """P-09: a reported reason for late clearing/adjustment payment prevents the admission suspension."""
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    notice_id: uuid.UUID
    reason: str = Field(min_length=1)
    reported_at: AwareDatetime


# ---------------------------------------------------------------- events
class PrepaymentQuotaSet(Contract):
    """P-02/P-03: the year's quota and the adjustment the region pays."""
    account_id: uuid.UUID
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    year: int
    computed_quota: Money = Field(description="P-02 formula result")
    quota: Money = Field(description="quota in force: never below last year's (P-03 no downward adjustment)")
    last_year_quota: Money
    adjustment: Money = Field(description="P-03: quota − last year's, 0 when not higher")
    policy_source: str = Field(description="region policy used for P-02, with its source article")
    notice_id: uuid.UUID | None = Field(None, description="adjustment payment notice, when adjustment > 0")
    set_at: AwareDatetime


class PrepaymentUsageUpdated(Contract):
    """P-04: the account's figures after a change."""
    account_id: uuid.UUID
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    year: int
    quota: Money
    top_ups: Money = Field(description="top-ups paid this year 本年度调增追加预付金金额")
    uncleared_payable: Money = Field(description="未清算的医保基金应支付金额")
    cleared_unpaid_payable: Money = Field(description="已清算但未拨付的医保基金应支付金额")
    usage_percent: Percent | None = Field(description="P-04 rate ×100, two decimals; null while the base is 0")
    level: WarningLevel
    cause: str = Field(description="what changed it, e.g. 'settlement:<id>'")
    updated_at: AwareDatetime


class PrepaymentWarningRaised(Contract):
    """P-05: emitted once when usage crosses into a higher level, not on every settlement."""
    warning_id: uuid.UUID
    account_id: uuid.UUID
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    year: int
    level: WarningLevel
    usage_percent: Percent | None
    top_up_amount: Money = Field(description="P-06 amount (uncapped)")
    top_up_cap: Money | None = Field(description="P-07 cap; null when no clearing amount is known yet")
    raised_at: AwareDatetime


class TopUpNoticeIssued(Contract):
    """P-05/P-08: the emergency top-up notice 紧急调增通知书 of a red warning."""
    notice_id: uuid.UUID
    account_id: uuid.UUID
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    year: int
    amount: Money = Field(description="P-06 amount limited by the P-07 cap")
    issued_at: AwareDatetime
    submit_to_finance_by: AwareDatetime = Field(description="P-08: 5 working days")
    pay_by: AwareDatetime = Field(description="P-08/P-09: 10 working days; unpaid → new-filing suspension")
    calendar: str = Field(description="working calendar used (M-02)")


class PrepaymentSanction(Contract):
    """P-09 sanction imposed or lifted; filing (F-16) and settlement (S-20) consume it."""
    sanction_id: uuid.UUID = Field(description="the same id on imposition and on its lifting")
    insured_region: RegionCode = _REGION
    kind: SanctionKind
    action: SanctionAction
    effective_at: AwareDatetime
    notice_ids: list[uuid.UUID] = Field(description="the unpaid notices behind it")
    reason: str = Field(examples=["emergency top-up notice unpaid 10 working days after issue (P-09)"])


def _region(payload: object) -> str:
    return str(payload.insured_region)  # type: ignore[attr-defined]


_KEY_DOC = "insured_region: one region's prepayment account is processed in order"

TOPICS: list[TopicSpec] = [
    TopicSpec("prepayment.set-annual-quota.v1", SetAnnualQuota, _region, _KEY_DOC, "agency", ("prepayment",),
              kind="command", description="P-02/P-03 January quota setting"),
    TopicSpec("prepayment.record-payment.v1", RecordPrepaymentPayment, _region, _KEY_DOC, "agency",
              ("prepayment",), kind="command", description="money for a notice arrived"),
    TopicSpec("prepayment.report-delay.v1", ReportPaymentDelay, _region, _KEY_DOC, "agency", ("prepayment",),
              kind="command", description="P-09 reported reason for a late payment"),
    TopicSpec("prepayment.quota.v1", PrepaymentQuotaSet, _region, _KEY_DOC, "prepayment", (),
              description="P-02/P-03 quota and adjustment"),
    TopicSpec("prepayment.usage.v1", PrepaymentUsageUpdated, _region, _KEY_DOC, "prepayment", (),
              description="P-04 usage after each change"),
    TopicSpec("prepayment.warning.v1", PrepaymentWarningRaised, _region, _KEY_DOC, "prepayment", (),
              description="P-05 warning crossings"),
    TopicSpec("prepayment.top-up-notice.v1", TopUpNoticeIssued, _region, _KEY_DOC, "prepayment", (),
              description="P-05/P-08 emergency top-up notices"),
    TopicSpec("prepayment.sanction.v1", PrepaymentSanction, _region, _KEY_DOC, "prepayment",
              ("filing", "settlement"), description="P-09 sanctions imposed/lifted (F-16, S-20)"),
]

__all__ = ["PrepaymentScope", "WarningLevel", "NoticeKind", "SanctionKind", "SanctionAction", "SetAnnualQuota",
           "RecordPrepaymentPayment", "ReportPaymentDelay", "PrepaymentQuotaSet", "PrepaymentUsageUpdated",
           "PrepaymentWarningRaised", "TopUpNoticeIssued", "PrepaymentSanction", "TOPICS"]
