"""Inputs the prepayment domain takes from other services, already mapped from their events
by the service's handlers (the contracts of those services stay outside the domain)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.prepayment import PrepaymentScope
from contracts.values import Money, NonNegativeMoney, RegionCode


class SettlementFunds(BaseModel):
    """A settlement's fund total 医保基金支付 (completed), or its cancellation (reversed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    settlement_id: str = Field(min_length=1)
    insured_region: RegionCode
    treating_region: RegionCode
    fund_total: NonNegativeMoney
    cost: NonNegativeMoney | None = Field(
        None, description="P-11: the actual cost 实际发生费用 (the slip's total; a reversal's, taken back)"
    )
    reversed: bool = False
    occurred_at: AwareDatetime

    @property
    def key(self) -> str:
        """What is counted once: a settlement's completion, or one of its reversals."""
        return f"{self.settlement_id}:{'reversed' if self.reversed else 'completed'}"

    @property
    def scope(self) -> PrepaymentScope:
        cross = self.insured_region.is_cross_province(self.treating_region)
        return PrepaymentScope.CROSS_PROVINCE if cross else PrepaymentScope.INTRA_PROVINCE


class ClearingNoticeReceived(BaseModel):
    """A clearing payment notice for this region and scope: the period's settlements leave the
    uncleared payable and what is to be paid (after audit deductions) becomes cleared-unpaid."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    notice_id: uuid.UUID
    insured_region: RegionCode
    scope: PrepaymentScope
    clearing_month: str = Field(pattern=r"^\d{4}-\d{2}$")
    settlements_total: Money = Field(description="fund total of the period's settlement and refund lines")
    payable: Money = Field(description="net payable after audit deductions; negative in reverse clearing (C-05)")
    issued_at: AwareDatetime

    @property
    def to_pay(self) -> Decimal:
        """Reverse clearing (negative) is money coming back, not a payment to chase."""
        return max(self.payable, Decimal("0.00"))


class ClearingBreachReceived(BaseModel):
    """C-03/C-07: a step of a clearing notice not done by its due time (``clearing.obligation-breached.v1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    breach_id: uuid.UUID
    notice_id: uuid.UUID
    insured_region: RegionCode
    obligation: str = Field(description="the step, e.g. transferred (finance's payment of the notice)")
    due_at: AwareDatetime
    breached_at: AwareDatetime
    rule: str


def from_clearing_notice(notice) -> list[ClearingNoticeReceived]:
    """Map a ``contracts.clearing.ClearingNoticeIssued`` to one input per scope with payable lines
    (the region as insured place). Both keep the clearing notice's id: the scopes are separate
    accounts, so payments name the notice the finance office actually received."""
    by_scope: dict[PrepaymentScope, list] = {}
    for line in notice.counterparts:
        if line.direction == "payable":
            scope = PrepaymentScope.CROSS_PROVINCE if line.cross_province else PrepaymentScope.INTRA_PROVINCE
            by_scope.setdefault(scope, []).append(line)
    zero = Decimal("0.00")
    return [
        ClearingNoticeReceived(
            notice_id=notice.notice_id,
            insured_region=notice.region,
            scope=scope,
            clearing_month=notice.clearing_month,
            settlements_total=sum((ln.settled for ln in lines), zero),
            payable=sum((ln.net for ln in lines), zero),
            issued_at=notice.issued_at,
        )
        for scope, lines in sorted(by_scope.items())
    ]
