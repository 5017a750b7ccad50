"""Prepayment 预付金 contracts (P-01..P-09): commands to the prepayment service and the facts
it publishes. Every topic is keyed by the insured region (the payer), so one region's account
is processed in order.

(Over 300 lines on purpose: the prepayment messages (quotas, usage and warnings, notices and their
payments, sanctions, interest, balances) are one family an agency adapter reads together; the field
descriptions are most of it.)
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, PlainSerializer, WithJsonSchema, field_validator, model_serializer

from contracts.envelope import Contract
from contracts.topics import TopicSpec
from contracts.values import MONEY_JSON_SCHEMA, InstitutionCode, Money, NonNegativeMoney, RegionCode

Percent = Annotated[
    Decimal,
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "description": "percentage with two decimals", "examples": ["72.35"]}),
]


class PrepaymentScope(StrEnum):
    """Cross-province and intra-province prepayments are accounted separately (004 第二十条)."""

    CROSS_PROVINCE = "cross_province"  # 跨省
    INTRA_PROVINCE = "intra_province"  # 省内


class WarningLevel(StrEnum):
    """P-05: yellow ≥ 70 %, red ≥ 90 % usage."""

    NONE = "none"
    YELLOW = "yellow"  # 黄色预警
    RED = "red"  # 红色预警

    @property
    def rank(self) -> int:
        return ("none", "yellow", "red").index(self.value)


class PaymentNoticeKind(StrEnum):
    """Payment notices whose non-payment leads to a sanction (P-09)."""

    EMERGENCY_TOP_UP = "emergency_top_up"  # 预付金额度紧急调增付款通知书
    CLEARING = "clearing"  # 清算资金付款通知书
    ANNUAL_ADJUSTMENT = "annual_adjustment"  # 年度预付金额度调整付款通知书


class BreachKind(StrEnum):
    """P-08 (000 第二十六、二十七、二十九、三十条) deadlines of a prepayment notice."""

    SUBMISSION_TO_FINANCE = "submission_to_finance"  # 5 working days from the notice
    FINANCE_PAYMENT = "finance_payment"  # 10 working days from the submission
    TOP_UP_BEFORE_NEXT_CLEARING = "top_up_before_next_clearing"  # 原则上应于下期清算前完成拨付


class SanctionKind(StrEnum):
    NEW_FILING_SUSPENSION = "new_filing_suspension"  # 暂停新增备案人员信息上传 (F-16)
    ADMISSION_SUSPENSION = "admission_suspension"  # 暂停参保人员异地就医入院登记 (S-20)


class SanctionAction(StrEnum):
    IMPOSED = "imposed"
    LIFTED = "lifted"


_REGION = Field(description="insured region 参保地 (the payer), GB/T 2260", examples=["340200"])


# ---------------------------------------------------------------- fields several messages open with
class _AccountYear(Contract):
    """What a fact about one account's year opens with."""

    account_id: uuid.UUID
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    year: int


class _RegionNotice(Contract):
    """What an agency's step on one of the region's notices opens with (P-08, P-09)."""

    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    notice_id: uuid.UUID


# ---------------------------------------------------------------- commands
class SetAnnualQuota(Contract):
    """P-02/P-03: set a year's quota in January. The figures come from the service's own ledger of
    last year's settlements (P-02) and its quota in force (P-03); a figure given here replaces the
    recorded one and is published as an override (``PrepaymentQuotaSet.overridden``)."""

    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    year: int = Field(ge=2000, le=2200)
    # optional, never null on the wire (omitted instead: ``_omit_unset``), so the schema keeps its type
    last_year_monthly_funds: Annotated[
        dict[int, NonNegativeMoney] | None,
        WithJsonSchema({"type": "object", "additionalProperties": MONEY_JSON_SCHEMA}),
    ] = Field(
        None,
        description="override: fund part of cross-region settlements per month of last year (1..12); "
        "omit to use the service's own records",
        examples=[{"10": "100000.00", "11": "120000.00", "12": "110000.00"}],
    )
    last_year_quota: Annotated[NonNegativeMoney | None, WithJsonSchema(MONEY_JSON_SCHEMA)] = Field(
        None, description="override: last year's quota ('0.00' for a new account); omit to use the ledger's"
    )
    issued_at: AwareDatetime = Field(description="when the adjustment notice is issued")

    @field_validator("last_year_monthly_funds")
    @classmethod
    def _months(cls, value: dict[int, Decimal] | None) -> dict[int, Decimal] | None:
        if value is None:
            return value
        bad = sorted(m for m in value if not 1 <= m <= 12)
        if bad:
            raise ValueError(f"months must be 1..12, got {bad}")
        return value

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler):
        data = handler(self)
        return {
            k: v for k, v in data.items() if not (v is None and k in ("last_year_monthly_funds", "last_year_quota"))
        }


class RecordPrepaymentPayment(Contract):
    """Money for a notice has arrived (top-up, clearing or adjustment payment)."""

    payment_id: str = Field(min_length=1, description="bank or finance reference; payments dedupe on it")
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    notice_id: uuid.UUID
    amount: NonNegativeMoney
    paid_at: AwareDatetime


class RecordProactiveTopUp(Contract):
    """004 第二十四条: at a yellow warning the region adds funds to its prepayment on its own (主动追加资金上解至
    省经办机构专户), the amount = quota + this year's top-ups − uncleared − cleared unpaid (its absolute value
    when negative); the keeper records its arrival. Only where the region's text asks for it (Liaoning)."""

    payment_id: str = Field(min_length=1, max_length=64, description="bank or finance reference; recorded once")
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    amount: NonNegativeMoney = Field(description="more than 0.00")
    paid_at: AwareDatetime


class RecordReturn(_RegionNotice):
    """C-05 (004 第五十一条 反向清算): money a clearing notice said comes back to the region has arrived;
    ``notice_id`` is that clearing notice. Recorded when it arrives, at most what the notice gives back."""

    payment_id: str = Field(min_length=1, max_length=64, description="bank or finance reference; recorded once")
    amount: NonNegativeMoney = Field(description="more than 0.00")
    received_at: AwareDatetime


class ReportPaymentDelay(_RegionNotice):
    """P-09: a reported reason for late clearing/adjustment payment prevents the admission suspension."""

    reason: str = Field(min_length=1)
    reported_at: AwareDatetime


class RecordFinanceSubmission(_RegionNotice):
    """P-08: the region's agency submitted a prepayment notice (adjustment or emergency top-up) to its
    finance department 提交同级财政部门; finance's 10 working days run from this moment."""

    submitted_at: AwareDatetime


# ---------------------------------------------------------------- events
class PrepaymentQuotaSet(_AccountYear):
    """P-02/P-03: the year's quota and the adjustment the region pays."""

    computed_quota: Money = Field(description="P-02 formula result")
    quota: Money = Field(description="quota in force: never below last year's (P-03 no downward adjustment)")
    last_year_quota: Money
    adjustment: Money = Field(description="P-03: quota − last year's, 0 when not higher")
    policy_source: str = Field(description="region policy used for P-02, with its source article")
    notice_id: uuid.UUID | None = Field(None, description="adjustment payment notice, when adjustment > 0")
    set_at: AwareDatetime
    last_year_monthly_funds: dict[int, Money] | None = Field(
        None, description="P-02: the monthly fund amounts of the policy's basis months used"
    )
    recorded_monthly_funds: dict[int, Money] | None = Field(
        None, description="P-02: the same months as this service recorded them from settlements (net of reversals)"
    )
    overridden: list[str] = Field(
        default_factory=list,
        description="the command's figures that replaced the recorded ones: last_year_monthly_funds, last_year_quota",
    )
    quota_measure: str | None = Field(
        None,
        description="P-02/P-11: what the monthly figures measure: 'fund' (医保基金支付) or 'total_cost' "
        "(实际发生费用, Hunan 002 第二十四条); the figures above are of that measure",
        examples=["fund", "total_cost"],
    )
    quota_months: int | None = Field(None, description="P-02/P-11: months of the average the quota is")
    quota_basis: str | None = Field(None, description="P-02: 'q4' (last Oct–Dec) or 'year' (all of last year)")
    adjustment_pay_by: AwareDatetime | None = Field(
        None,
        description="the end of the day the adjustment is to be paid by where the region's text sets one "
        "(Liaoning 01-20, 004 第二十条; Hubei the end of February, 000 第二十七条); P-09's 20 working days apply too",
    )
    adjustment_pay_by_source: str | None = None


class PrepaymentUsageUpdated(_AccountYear):
    """P-04: the account's figures after a change."""

    quota: Money
    top_ups: Money = Field(description="top-ups paid this year 本年度调增追加预付金金额")
    uncleared_payable: Money = Field(description="未清算的医保基金应支付金额")
    cleared_unpaid_payable: Money = Field(description="已清算但未拨付的医保基金应支付金额")
    usage_percent: Percent | None = Field(description="P-04 rate ×100, two decimals; null while the base is 0")
    level: WarningLevel
    cause: str = Field(description="what changed it, e.g. 'settlement:<id>'")
    updated_at: AwareDatetime
    usage_formula: str | None = Field(
        None,
        description="P-04 as the region's text measures it: 'payables' (uncleared + cleared unpaid, 004 "
        "第二十三条) or 'monthly_clearing' (the month's clearing funds, Hubei 000 第二十八条)",
    )
    usage_source: str | None = Field(None, description="the text and article of that formula")
    monthly_clearing: Money | None = Field(None, description="the latest period's clearing amount, when known")
    emergency_application_due_at: AwareDatetime | None = Field(
        None,
        description="004 第二十六条: red at this clearing signing, the province applies to the national agency for "
        "the emergency top-up by this moment (3 working days of the signing); null where the text sets no such step",
    )


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
    proactive_top_up: bool | None = Field(
        None,
        description="004 第二十四条: at yellow the region is to add top_up_amount on its own "
        "(prepayment.record-top-up.v1); null where its text does not ask it",
    )
    proactive_source: str | None = Field(None, description="the text that asks it")


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
    finance_pay_by: AwareDatetime | None = Field(
        None,
        description="P-08 chained: finance pays within 10 working days of the submission; until a "
        "submission is recorded, 10 working days after submit_to_finance_by",
    )


class TopUpWithheld(_AccountYear):
    """P-05/P-07 (004 第二十六条): the account is red but the emergency top-up's cap — twice the period's
    monthly clearing amount minus the annual quota — leaves nothing to apply for, so no top-up notice is
    issued and no P-09 clock starts (004 第二十八条 counts from a notice's signing). The red warning stands
    and is assessed again at the next period's clearing signing (每期国家统一清算签章时); the region may add
    funds on its own (004 第二十四条: 应主动追加资金上解)."""

    level: WarningLevel
    usage_percent: Percent | None
    top_up_amount: Money = Field(description="P-06 amount before the cap")
    top_up_cap: Money = Field(description="P-07 cap: max(2 × monthly clearing − quota, 0)")
    monthly_clearing: Money = Field(description="the period's clearing amount the cap is computed from")
    quota: Money
    cause: str = Field(description="what made it assessed, e.g. 'clearing:2026-09'")
    next_assessment: str = Field(description="when it is assessed again")
    withheld_at: AwareDatetime


class PrepaymentDeadlineBreached(Contract):
    """P-08: a deadline of a prepayment notice passed with its step not done (published once per
    notice and kind)."""

    breach_id: uuid.UUID
    account_id: uuid.UUID
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    notice_id: uuid.UUID
    notice_kind: PaymentNoticeKind
    kind: BreachKind
    due_at: AwareDatetime | None = Field(description="the deadline missed; null for 'before the next clearing'")
    detected_at: AwareDatetime
    rule: str = Field(examples=["P-08 (000 第二十九条)"])
    calendar: str


class PrepaymentSanction(Contract):
    """P-09 sanction imposed or lifted; filing (F-16) and settlement (S-20) consume it."""

    sanction_id: uuid.UUID = Field(description="the same id on imposition and on its lifting")
    insured_region: RegionCode = _REGION
    kind: SanctionKind
    action: SanctionAction
    effective_at: AwareDatetime
    notice_ids: list[uuid.UUID] = Field(description="the unpaid notices behind it")
    reason: str = Field(examples=["emergency top-up notice unpaid 10 working days after issue (P-09)"])


class ProposalAction(StrEnum):
    PROPOSED = "proposed"  # the platform proposes it to the deciding agency
    WITHDRAWN = "withdrawn"  # the notices behind it were paid or excused before a decision
    DECLINED = "declined"  # the agency decided not to suspend
    IMPOSED = "imposed"  # the agency decided to suspend (prepayment.sanction.v1 says it too)


class SanctionDecision(StrEnum):
    IMPOSE = "impose"  # 暂停
    DECLINE = "decline"  # 不暂停


class SanctionProposed(_AccountYear):
    """P-09 (004 第二十八条: …未上解到省经办专户且未报备延迟原因的，省经办机构*可*暂停该市参保人员异地就医入院登记):
    a clearing or annual-adjustment payment unpaid 20 working days after its notice, no reason reported.
    The admission suspension is the province's choice: the platform proposes it and the agency one level
    above the region decides (``prepayment.decide-sanction.v1``); only its decision suspends (S-20). The
    new-filing suspension of an unpaid emergency top-up stays automatic (暂停…业务, no 可)."""

    proposal_id: uuid.UUID
    kind: SanctionKind
    action: ProposalAction
    notice_ids: list[uuid.UUID] = Field(description="the unpaid, overdue notices behind it")
    reason: str
    decided_by: str | None = Field(None, description="the deciding agency (declined / imposed)")
    at: AwareDatetime = Field(description="when the platform proposed or withdrew it, or the agency decided")


class DecideSanction(Contract):
    """P-09: the deciding agency's answer to a proposed admission suspension 暂停入院登记 (impose or decline)."""

    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    proposal_id: uuid.UUID
    decision: SanctionDecision
    reason: str = Field(min_length=1, max_length=500, description="the agency's grounds")
    decided_at: AwareDatetime


# ---------------------------------------------------------------- the ledger and interest (P-10)
class RequestBalance(Contract):
    """Ask for an account's ledger balances at the end of a past business day (recomputed from its
    movements, never from running totals)."""

    request_id: str = Field(min_length=1, description="the asker's reference, repeated in the answer")
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    as_of: date = Field(description="business date (Asia/Shanghai); the balance at the end of that day")
    requested_at: AwareDatetime


class PrepaymentBalance(Contract):
    """The answer to ``RequestBalance``: every ledger account's balance on ``as_of``."""

    request_id: str
    account_id: uuid.UUID
    insured_region: RegionCode = _REGION
    scope: PrepaymentScope
    as_of: date
    balances: dict[str, Money] = Field(
        description="ledger account → balance on its normal side "
        "(services/prepayment/domain/ledger.py names the chart)",
        examples=[{"prepaid": "10000.00", "uncleared": "120.00"}],
    )
    movements: int = Field(ge=0, description="how many movements up to the end of as_of")
    answered_at: AwareDatetime


class ShareInterest(Contract):
    """P-10 (004 第二十九条(二)): interest earned on the prepayments held in the keeper's accounts
    (省财政专户、省经办机构专户) over a period, to be shared among the regions whose prepayments they
    hold by daily-balance products 积数法. Interest in a treating place's own treasury account is
    the treating place's (003 四(三); 004 第二十九条(一)) and is never sent here."""

    interest_id: str = Field(min_length=1, description="the keeper's reference of this interest (bank record)")
    scope: PrepaymentScope
    regions: list[RegionCode] = Field(min_length=1, description="the insured regions whose prepayments earned it")
    period_start: date
    period_end: date = Field(description="last day of the period, inclusive; before the day it is sent")
    interest: NonNegativeMoney = Field(description="the interest to share, yuan")
    received_at: AwareDatetime = Field(description="when the interest was credited")
    credited_on: date | None = Field(
        None,
        description="P-10: the business day the bank credited the interest, when before this command (the "
        "5 working days to publish the shares, 004 第二十九条(三), count from it); omitted: received_at's day",
    )

    @field_validator("regions")
    @classmethod
    def _distinct(cls, value: list[RegionCode]) -> list[RegionCode]:
        if len(set(value)) != len(value):
            raise ValueError("a region is listed twice")
        return value


class InterestShare(Contract):
    insured_region: RegionCode = _REGION
    product: Money = Field(description="积数: the sum of the region's daily prepaid balances over the period")
    share: Money = Field(description="its interest, to the fen")


class InterestShared(Contract):
    """P-10: how an interest was shared; the shares sum to ``interest`` exactly (largest remainder)."""

    interest_id: str
    scope: PrepaymentScope
    keeper: str = Field(description="the agency that keeps the accounts and shared it")
    period_start: date
    period_end: date
    days: int
    interest: Money
    product_total: Money
    shares: list[InterestShare]
    rule: str = Field(description="how the fen are shared")
    shared_at: AwareDatetime
    publish_by: AwareDatetime | None = Field(
        None,
        description="P-10: the end of the last working day the shares may be published on, counted from "
        "received_at where the regions' text sets a limit (Liaoning: 5 working days, 004 第二十九条(三))",
    )
    published_late: bool | None = Field(None, description="shared after publish_by (null where no limit is set)")
    policy_sources: list[str] = Field(default_factory=list, description="the texts the sharing followed")


# ---------------------------------------------------------------- the performance deposit (P-12)
class _InstitutionYear(Contract):
    """One institution's performance deposit 履约保证金 for one agreement year (002 第二十条)."""

    institution_code: InstitutionCode
    region: RegionCode = Field(
        description="the institution's region: its agency holds the deposit", examples=["430200"]
    )
    year: int = Field(ge=2000, le=2200, description="the agreement year the deposit answers for")


class LodgeDeposit(_InstitutionYear):
    """P-12 (002 第二十条): an institution settling cross-province outpatient care lodged its performance
    deposit 履约保证金 with the agency that holds its service agreement; recorded where the region's
    text in force sets the deposit."""

    deposit_id: str = Field(min_length=1, max_length=64, description="the agency's receipt; recorded once")
    amount: NonNegativeMoney = Field(description="the money lodged, yuan (more than 0)")
    lodged_at: AwareDatetime


class SettleDeposit(_InstitutionYear):
    """P-12 (002 第二十条: 每年根据协议医疗机构履行医疗服务协议情况，确定年度履约保证金返还额度): the agency's
    yearly decision of how much of the year's deposit goes back, from how the agreement was kept."""

    returned: NonNegativeMoney = Field(description="返还额度: at most what was lodged for the year")
    assessment: str = Field(
        min_length=1, max_length=500, description="how the institution kept its agreement 履行医疗服务协议情况"
    )
    decided_at: AwareDatetime


class PerformanceDepositRecorded(_InstitutionYear):
    """P-12: the year's deposit after a lodgement or the yearly return decision."""

    status: str = Field(pattern="^(lodged|settled)$")
    lodged: Money = Field(description="lodged for the year, in total")
    returned: Money | None = Field(None, description="decided return (settled)")
    retained: Money | None = Field(None, description="lodged − returned: kept for the agreement's breaches")
    assessment: str | None = None
    policy_source: str = Field(description="the region's text that sets the deposit")
    cause: str = Field(description="deposit:<receipt> or return:<year>")
    recorded_at: AwareDatetime


def _institution(payload: object) -> str:
    return str(payload.institution_code)  # type: ignore[attr-defined]


def _region(payload: object) -> str:
    return str(payload.insured_region)  # type: ignore[attr-defined]


def _first_region(payload: object) -> str:
    p = payload  # ShareInterest names regions; InterestShared its shares
    return str(p.regions[0] if hasattr(p, "regions") else p.shares[0].insured_region)  # type: ignore[attr-defined]


_KEY_DOC = "insured_region: one region's prepayment account is processed in order"

TOPICS: list[TopicSpec] = [
    TopicSpec(
        "prepayment.set-annual-quota.v1",
        SetAnnualQuota,
        _region,
        _KEY_DOC,
        "agency",
        ("prepayment",),
        kind="command",
        description="P-02/P-03 January quota setting",
    ),
    TopicSpec(
        "prepayment.record-payment.v1",
        RecordPrepaymentPayment,
        _region,
        _KEY_DOC,
        "agency",
        ("prepayment",),
        kind="command",
        description="money for a notice arrived",
    ),
    TopicSpec(
        "prepayment.report-delay.v1",
        ReportPaymentDelay,
        _region,
        _KEY_DOC,
        "agency",
        ("prepayment",),
        kind="command",
        description="P-09 reported reason for a late payment",
    ),
    TopicSpec(
        "prepayment.quota.v1",
        PrepaymentQuotaSet,
        _region,
        _KEY_DOC,
        "prepayment",
        (),
        description="P-02/P-03 quota and adjustment",
    ),
    TopicSpec(
        "prepayment.usage.v1",
        PrepaymentUsageUpdated,
        _region,
        _KEY_DOC,
        "prepayment",
        (),
        description="P-04 usage after each change",
    ),
    TopicSpec(
        "prepayment.warning.v1",
        PrepaymentWarningRaised,
        _region,
        _KEY_DOC,
        "prepayment",
        (),
        description="P-05 warning crossings",
    ),
    TopicSpec(
        "prepayment.top-up-notice.v1",
        TopUpNoticeIssued,
        _region,
        _KEY_DOC,
        "prepayment",
        (),
        description="P-05/P-08 emergency top-up notices",
    ),
    TopicSpec(
        "prepayment.top-up-withheld.v1",
        TopUpWithheld,
        _region,
        _KEY_DOC,
        "prepayment",
        (),
        description="P-07 a red account whose top-up cap is 0: no notice, no clock",
    ),
    TopicSpec(
        "prepayment.record-submission.v1",
        RecordFinanceSubmission,
        _region,
        _KEY_DOC,
        "agency",
        ("prepayment",),
        kind="command",
        description="P-08 a notice submitted to finance",
    ),
    TopicSpec(
        "prepayment.deadline-breached.v1",
        PrepaymentDeadlineBreached,
        _region,
        _KEY_DOC,
        "prepayment",
        (),
        description="P-08 a notice's chained deadline missed",
    ),
    TopicSpec(
        "prepayment.request-balance.v1",
        RequestBalance,
        _region,
        _KEY_DOC,
        "agency",
        ("prepayment",),
        kind="command",
        description="a past balance recomputed from the ledger",
    ),
    TopicSpec(
        "prepayment.balance.v1",
        PrepaymentBalance,
        _region,
        _KEY_DOC,
        "prepayment",
        (),
        description="ledger balances on a past date",
    ),
    TopicSpec(
        "prepayment.share-interest.v1",
        ShareInterest,
        _first_region,
        "the first region listed: one interest is shared once, in order",
        "agency",
        ("prepayment",),
        kind="command",
        description="P-10 interest to share by daily-balance products",
    ),
    TopicSpec(
        "prepayment.interest-shared.v1",
        InterestShared,
        _first_region,
        "the first region listed (each share is then applied to its region's account)",
        "prepayment",
        ("prepayment",),
        description="P-10 interest shared, summing exactly",
    ),
    TopicSpec(
        "prepayment.lodge-deposit.v1",
        LodgeDeposit,
        _institution,
        "institution_code: one institution's deposits in order",
        "agency",
        ("prepayment",),
        kind="command",
        description="P-12 a performance deposit lodged",
    ),
    TopicSpec(
        "prepayment.settle-deposit.v1",
        SettleDeposit,
        _institution,
        "institution_code: one institution's deposits in order",
        "agency",
        ("prepayment",),
        kind="command",
        description="P-12 the year's deposit return decided",
    ),
    TopicSpec(
        "prepayment.deposit.v1",
        PerformanceDepositRecorded,
        _institution,
        "institution_code: one institution's deposits in order",
        "prepayment",
        (),
        description="P-12 a performance deposit lodged or settled",
    ),
    TopicSpec(
        "prepayment.sanction-proposed.v1",
        SanctionProposed,
        _region,
        _KEY_DOC,
        "prepayment",
        (),
        description="P-09 an admission suspension proposed, withdrawn or decided (可暂停)",
    ),
    TopicSpec(
        "prepayment.decide-sanction.v1",
        DecideSanction,
        _region,
        _KEY_DOC,
        "agency",
        ("prepayment",),
        kind="command",
        description="P-09 the agency decides a proposed admission suspension",
    ),
    TopicSpec(
        "prepayment.record-top-up.v1",
        RecordProactiveTopUp,
        _region,
        _KEY_DOC,
        "agency",
        ("prepayment",),
        kind="command",
        description="004 第二十四条 a top-up the region added on its own at yellow",
    ),
    TopicSpec(
        "prepayment.record-return.v1",
        RecordReturn,
        _region,
        _KEY_DOC,
        "agency",
        ("prepayment",),
        kind="command",
        description="C-05 reverse clearing's money arrived",
    ),
    TopicSpec(
        "prepayment.sanction.v1",
        PrepaymentSanction,
        _region,
        _KEY_DOC,
        "prepayment",
        ("filing", "settlement"),
        description="P-09 sanctions imposed/lifted (F-16, S-20)",
    ),
]

__all__ = [
    "PrepaymentScope",
    "WarningLevel",
    "PaymentNoticeKind",
    "SanctionKind",
    "SanctionAction",
    "SetAnnualQuota",
    "RecordPrepaymentPayment",
    "ReportPaymentDelay",
    "PrepaymentQuotaSet",
    "PrepaymentUsageUpdated",
    "PrepaymentWarningRaised",
    "TopUpNoticeIssued",
    "PrepaymentSanction",
    "RequestBalance",
    "PrepaymentBalance",
    "ShareInterest",
    "InterestShare",
    "InterestShared",
    "BreachKind",
    "RecordFinanceSubmission",
    "PrepaymentDeadlineBreached",
    "TopUpWithheld",
    "LodgeDeposit",
    "RecordProactiveTopUp",
    "RecordReturn",
    "SanctionProposed",
    "DecideSanction",
    "ProposalAction",
    "SanctionDecision",
    "SettleDeposit",
    "PerformanceDepositRecorded",
    "TOPICS",
]
