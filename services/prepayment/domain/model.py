"""The prepayment account aggregate: one insured region's prepayment 预付金 in one scope
(cross-province or intra-province, accounted separately: 004 第二十条).

The quota and top-ups are per year and reset when the next year's quota is set (P-02); the
payables carry over, because a December settlement is still owed after New Year (C-06).
The state is a frozen pydantic model, JSON-able with ``model_dump(mode="json")``.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.prepayment import NoticeKind, PrepaymentScope, SanctionKind, WarningLevel
from contracts.values import Money, RegionCode

ZERO = Decimal("0.00")


class PaymentNotice(BaseModel):
    """A payment the region owes by a deadline; unpaid past it, a P-09 sanction applies."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    notice_id: uuid.UUID
    kind: NoticeKind
    amount: Money
    issued_at: AwareDatetime
    sanction_due_at: AwareDatetime
    paid: Money = ZERO
    payment_ids: tuple[str, ...] = ()
    delay_reason: str | None = None
    overdue: bool = Field(False, description="its sanction deadline passed while unpaid")

    @property
    def settled(self) -> bool:
        return self.paid >= self.amount

    @property
    def sanction(self) -> SanctionKind | None:
        """P-09: which sanction this notice triggers while overdue and unpaid."""
        if not self.overdue or self.settled:
            return None
        if self.kind is NoticeKind.EMERGENCY_TOP_UP:
            return SanctionKind.NEW_FILING_SUSPENSION
        # clearing / annual adjustment: only "且未报备延迟原因" — a reported reason spares it
        return None if self.delay_reason else SanctionKind.ADMISSION_SUSPENSION


class PrepaymentAccount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    account_id: uuid.UUID
    insured_region: RegionCode
    scope: PrepaymentScope
    year: int
    quota: Money = ZERO
    quota_year: int | None = Field(None, description="the year whose quota is set (P-02), for idempotence")
    top_ups: Money = Field(ZERO, description="top-ups paid this year")
    uncleared: Money = Field(ZERO, description="未清算的医保基金应支付金额")
    cleared_unpaid: Money = Field(ZERO, description="已清算但未拨付的医保基金应支付金额")
    monthly_clearing: Money | None = Field(None, description="latest period's clearing amount (P-07)")
    level: WarningLevel = WarningLevel.NONE
    notices: dict[str, PaymentNotice] = Field(default_factory=dict)
    counted: tuple[str, ...] = Field((), description="the settlements and reversals counted lately "
                                     "(older ones are in the service's archive)")
    sanctions: dict[SanctionKind, uuid.UUID] = Field(
        default_factory=dict, description="sanctions in force and their ids (shared by imposition and lifting)")
    version: int = 0

    @model_validator(mode="before")
    @classmethod
    def _from_marks(cls, data: Any) -> Any:
        """Accounts stored with a mark per uncleared settlement (before the archive) still load."""
        if isinstance(data, dict) and "settlements" in data:
            data = dict(data)
            marks = data.pop("settlements")
            data["counted"] = tuple(f"{sid}:{kind}" for sid, mark in marks.items()
                                    for kind in ("completed", "reversed") if mark.get(kind) is not None)
        return data

    def open_emergency_notice(self) -> PaymentNotice | None:
        return next((n for n in self.notices.values()
                     if n.kind is NoticeKind.EMERGENCY_TOP_UP and not n.settled), None)
