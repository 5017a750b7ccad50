"""Clearing 清算 contracts (C-01..C-05, R-04/R-05): the monthly ledger of one insured region
towards one treating region, its generation, confirmation and the receivable/payable notices.

Every topic is keyed by the insured region (the payer), except notices, keyed by the region the
notice is for; either way one region's clearing facts stay in order.
"""
from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, Field, model_validator

from contracts.envelope import Contract
from contracts.settlement import FUNDS_BY_INSURANCE, FundCode
from contracts.topics import TopicSpec
from contracts.values import InsuranceType, Money, NonNegativeMoney, RegionCode

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


Fund = FundCode
"""The funds of the clearing tables are those of the settlement slip (S-06; 000 附件15-2 / 15-3)."""
FUNDS_BY_TYPE = FUNDS_BY_INSURANCE
"""Columns of 附件15-2 (employee) and 附件15-3 (resident)."""


class EntryKind(StrEnum):
    SETTLEMENT = "settlement"            # a completed settlement: payable
    REFUND = "refund"                    # cancellation / refund, after clearing too (S-15): negative
    AUDIT_DEDUCTION = "audit_deduction"  # 审核扣款 and 补扣: shown separately


class ConfirmedBy(StrEnum):
    PROVINCE = "province"   # explicit confirmation
    SILENCE = "silence"     # not confirmed by the 25th counts as confirmed (C-02)


class ClearingSide(StrEnum):
    """The side of a pair's period a confirmation binds (C-02). Each side confirms its own figures
    (004 第四十六条): the insured place its payable 清算应付, the treating place its receivable 清算应收."""
    INSURED = "insured"
    TREATING = "treating"

    @property
    def region_field(self) -> str:
        """The payload field naming this side's region."""
        return f"{self.value}_region"


class FundAmounts(Contract):
    """Amounts of one entry per fund, for one insurance type."""
    insurance_type: InsuranceType
    funds: dict[Fund, NonNegativeMoney] = Field(examples=[{"pooling": "1234.50", "personal_account": "100.00"}])

    @model_validator(mode="after")
    def _funds_of_type(self) -> "FundAmounts":
        wrong = sorted(f.value for f in self.funds if f not in FUNDS_BY_TYPE[self.insurance_type])
        if wrong:
            raise ValueError(f"funds {wrong} do not belong to insurance type {self.insurance_type.value}")
        return self


# ---------------------------------------------------------------- commands
class RecordAuditDeduction(Contract):
    """R-04/R-05: the treating place's audit refuses part of a settlement's fund payment."""
    deduction_id: str = Field(min_length=1)
    settlement_id: str = Field(min_length=1)
    insured_region: RegionCode
    treating_region: RegionCode
    amounts: FundAmounts
    reason: str = Field(min_length=1)
    decided_at: AwareDatetime


class ConfirmClearingPeriod(Contract):
    """C-02: one side of a generated period confirms it (by the 25th); the sender must speak for
    that side's region. The period is confirmed once both sides are (or by silence)."""
    clearing_month: str = Field(pattern=MONTH_PATTERN, examples=["2026-10"])
    insured_region: RegionCode
    treating_region: RegionCode
    side: ClearingSide = Field(ClearingSide.INSURED, description=(
        "the side this confirmation binds (004 第四十六条): 'insured' = the insured region confirms its payable, "
        "'treating' = the treating region its receivable. Optional so that senders from before the field still "
        "validate; absent, it is the payer's (insured) confirmation, as the topic is keyed by the payer"))
    confirmed_at: AwareDatetime


# ---------------------------------------------------------------- events
class ClearingEntryRecorded(Contract):
    entry_id: uuid.UUID
    clearing_month: str = Field(pattern=MONTH_PATTERN)
    insured_region: RegionCode
    treating_region: RegionCode
    settlement_id: str
    kind: EntryKind
    amounts: FundAmounts
    signed_total: Money = Field(description="what the line adds to the settled amount (refunds negative); "
                                            "for deductions, the deducted amount")
    recorded_at: AwareDatetime


class FundTotal(Contract):
    """One cell row of the clearing tables: settled, deducted and net of one fund."""
    insurance_type: InsuranceType
    fund: Fund
    settled: Money = Field(description="settlements minus refunds")
    deducted: Money = Field(description="audit deductions 审核扣款")
    net: Money = Field(description="settled − deducted")


class ClearingPeriodGenerated(Contract):
    """C-02/C-04: the period's figures of one pair, generated on the 21st."""
    clearing_month: str = Field(pattern=MONTH_PATTERN)
    insured_region: RegionCode
    treating_region: RegionCode
    totals: list[FundTotal]
    settled_total: Money
    deducted_total: Money
    net_total: Money = Field(description="payable by the insured region; negative: reverse clearing (C-05)")
    entry_count: int
    confirm_by: AwareDatetime
    generated_at: AwareDatetime


class ClearingPeriodConfirmed(Contract):
    """C-02: one side's confirmation, explicit or by silence; the period is confirmed when no side is
    pending. Events from before sides were confirmed apart have no side and confirm the whole period."""
    clearing_month: str = Field(pattern=MONTH_PATTERN)
    insured_region: RegionCode
    treating_region: RegionCode
    by: ConfirmedBy
    side: ClearingSide | None = Field(None, description="the side confirmed; null: the whole period")
    pending_sides: list[ClearingSide] = Field(default_factory=list, description=(
        "sides still to confirm after this one; empty: the period is confirmed"))
    confirmed_at: AwareDatetime


class CounterpartAmounts(Contract):
    """One line of a notice: what this region pays to, or receives from, one counterpart."""
    counterpart_region: RegionCode
    direction: str = Field(pattern="^(payable|receivable)$")
    cross_province: bool
    totals: list[FundTotal]
    settled: Money
    deducted: Money
    net: Money


class ClearingNoticeIssued(Contract):
    """C-02/C-03/C-04: month-end receivable/payable notice 收付款通知书 of one region."""
    notice_id: uuid.UUID
    clearing_month: str = Field(pattern=MONTH_PATTERN)
    region: RegionCode = Field(description="the region the notice is for")
    counterparts: list[CounterpartAmounts]
    payable_total: Money
    receivable_total: Money
    net_payable: Money = Field(description="payable − receivable; negative means money comes in")
    issued_at: AwareDatetime
    submit_to_finance_by: AwareDatetime = Field(description="C-03: 5 working days after the notice")
    transfer_by: AwareDatetime = Field(description="C-03: finance transfers within 10 working days")
    receipt_feedback_by: AwareDatetime = Field(description="C-03: receipt fed back within 5 working days")
    institutions_paid_by: AwareDatetime = Field(description="C-07: 20 working days after the notice")
    calendar: str = Field(description="working calendar used (M-02)")


def _insured(payload: object) -> str:
    return str(payload.insured_region)  # type: ignore[attr-defined]


def _notice_region(payload: object) -> str:
    return str(payload.region)  # type: ignore[attr-defined]


_KEY_DOC = "insured_region: one payer's clearing facts stay in order"

TOPICS: list[TopicSpec] = [
    TopicSpec("clearing.record-audit-deduction.v1", RecordAuditDeduction, _insured, _KEY_DOC, "agency",
              ("clearing",), kind="command", description="R-04/R-05 audit deductions"),
    TopicSpec("clearing.confirm-period.v1", ConfirmClearingPeriod, _insured, _KEY_DOC, "agency", ("clearing",),
              kind="command", description="C-02 confirmation of one side (insured: payable, treating: receivable)"),
    TopicSpec("clearing.entry.v1", ClearingEntryRecorded, _insured, _KEY_DOC, "clearing", (),
              description="C-04 ledger lines"),
    TopicSpec("clearing.period-generated.v1", ClearingPeriodGenerated, _insured, _KEY_DOC, "clearing", (),
              description="C-02 the 21st's generation per pair"),
    TopicSpec("clearing.period-confirmed.v1", ClearingPeriodConfirmed, _insured, _KEY_DOC, "clearing", (),
              description="C-02 a side confirmed, explicitly or by silence"),
    TopicSpec("clearing.notice.v1", ClearingNoticeIssued, _notice_region,
              "region of the notice (the insured region for its payable lines)", "clearing", ("prepayment",),
              description="C-02/C-03 month-end receivable/payable notices"),
]
