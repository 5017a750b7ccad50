"""The prepayment account aggregate: one insured region's prepayment 预付金 in one scope
(cross-province or intra-province, accounted separately: 004 第二十条).

The quota and top-ups are per year and reset when the next year's quota is set (P-02); the
payables carry over, because a December settlement is still owed after New Year (C-06).
The state is a frozen pydantic model, JSON-able with ``model_dump(mode="json")``. Its size is bounded:
the ledger's movements are in the ``movements`` collection, the account keeps their sums, the days
and months P-10 and P-02 need, and the latest movements (ledger.py, "Where the movements live").
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.prepayment import BreachKind, PaymentNoticeKind, PrepaymentScope, SanctionKind, WarningLevel
from contracts.values import SHANGHAI, Money, RegionCode
from services.outcome import remember

from .ledger import (
    RECENT_MOVEMENTS,
    DailyChanges,
    LedgerAccount,
    Movement,
    MovementKind,
    keep_recent,
    movements_for,
    opening_movements,
)

SERVICE = "prepayment"
ZERO = Decimal("0.00")
_TOP_UPS = frozenset(
    {MovementKind.TOP_UP_PAYMENT, MovementKind.INTEREST, MovementKind.OPENING_TOP_UPS, MovementKind.PROACTIVE_TOP_UP}
)


def account_key(insured_region: str, scope: PrepaymentScope) -> str:
    return f"{insured_region}:{scope.value}"


class PaymentNotice(BaseModel):
    """A payment the region owes by a deadline; unpaid past it, a P-09 sanction applies."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    notice_id: uuid.UUID
    kind: PaymentNoticeKind
    amount: Money
    issued_at: AwareDatetime
    sanction_due_at: AwareDatetime
    paid: Money = ZERO
    payment_ids: tuple[str, ...] = ()
    delay_reason: str | None = None
    overdue: bool = Field(False, description="its sanction deadline passed while unpaid")
    submit_by: AwareDatetime | None = Field(None, description="P-08: to finance within 5 working days")
    submitted_at: AwareDatetime | None = Field(None, description="P-08: when it was submitted to finance")
    finance_pay_by: AwareDatetime | None = Field(
        None,
        description="P-08: finance pays within 10 working days of the submission (of submit_by while none is recorded)",
    )
    breaches: tuple[BreachKind, ...] = Field((), description="P-08 deadlines it missed (each published once)")
    returns_due: Money = Field(ZERO, description="C-05: money reverse clearing gives back on this clearing notice")
    returned: Money = Field(ZERO, description="C-05: of it, what has arrived (recorded when it arrives)")
    return_ids: tuple[str, ...] = ()
    clearing_breaches: tuple[str, ...] = Field(
        (),
        description=(
            "C-03/C-07 steps of a clearing notice the clearing service published as breached (its obligations)"
        ),
    )

    @property
    def settled(self) -> bool:
        return self.paid >= self.amount

    @property
    def sanction(self) -> SanctionKind | None:
        """P-09: which sanction this notice triggers while overdue and unpaid."""
        if not self.overdue or self.settled:
            return None
        if self.kind is PaymentNoticeKind.EMERGENCY_TOP_UP:
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
    counted: tuple[str, ...] = Field(
        (), description="the settlements and reversals counted lately (older ones are in the service's archive)"
    )
    sanctions: dict[SanctionKind, uuid.UUID] = Field(
        default_factory=dict, description="sanctions in force and their ids (shared by imposition and lifting)"
    )
    proposals: dict[SanctionKind, uuid.UUID] = Field(
        default_factory=dict, description="P-09: sanctions proposed to the deciding agency, not decided yet"
    )
    declined_notices: tuple[str, ...] = Field(
        (), description="P-09: the notices behind proposals the agency declined (not proposed again for them)"
    )
    decided: tuple[str, ...] = Field((), description="P-09: proposals decided lately (a repeated decision: nothing)")
    totals: dict[LedgerAccount, Decimal] = Field(
        default_factory=dict, description="every ledger account's running balance (the sum of its movements)"
    )
    seq: int = Field(0, ge=0, description="how many movements the ledger has (the last one's seq)")
    recent: tuple[Movement, ...] = Field(
        (),
        description="the latest movements and every one not yet archived "
        "(the ledger itself is the ``movements`` collection; ledger.py)",
    )
    archived_seq: int = Field(0, ge=0, description="movements up to this seq are known to be in the archive")
    prepaid: DailyChanges = Field(
        default_factory=DailyChanges,
        description="P-10: the prepaid balance's changes per day (current and previous year)",
    )
    settled: dict[str, Decimal] = Field(
        default_factory=dict,
        description="P-02: settlements net of reversals per month 'YYYY-MM' (current and previous year)",
    )
    year_top_ups: Decimal = Field(ZERO, description="top-ups and interest moved in this quota year (the ledger's)")
    costs: dict[str, Decimal] = Field(
        default_factory=dict,
        description="P-11: the settlements' actual costs 实际发生费用 (total, funds and cash) net of reversals per "
        "month 'YYYY-MM' (current and previous year)",
    )
    usage_formula: str = Field("payables", description="P-04: the formula the level was last computed by")
    interests: tuple[str, ...] = Field((), description="interest ids recorded lately (P-10, counted once)")
    version: int = 0

    def balance(self, account: LedgerAccount) -> Decimal:
        """The ledger balance of ``account`` now (a past date: ``ledger.balance`` of the archive)."""
        return self.totals.get(account, ZERO)

    def top_ups_from_ledger(self) -> Decimal:
        """本年度调增追加预付金金额 from the ledger: top-ups paid and interest shared this quota year
        (004 第二十九条(三): interest is added as this year's top-up)."""
        return self.year_top_ups

    def monthly_settled(self, year: int) -> dict[int, Decimal]:
        """P-02: the fund part of the settlements per month of ``year`` as recorded (kept for the
        current and the previous year)."""
        prefix = f"{year:04d}-"
        return {int(k[5:]): v for k, v in self.settled.items() if k.startswith(prefix)}

    def monthly_costs(self, year: int) -> dict[int, Decimal]:
        """P-11: the actual costs per month of ``year`` as recorded (current and previous year)."""
        prefix = f"{year:04d}-"
        return {int(k[5:]): v for k, v in self.costs.items() if k.startswith(prefix)}

    def with_cost(self, on: date, change: Decimal) -> PrepaymentAccount:
        """The account with ``change`` added to the actual costs of ``on``'s month (P-11)."""
        month = f"{on.year:04d}-{on.month:02d}"
        costs = {**self.costs, month: self.costs.get(month, ZERO) + change}
        return self.model_copy(update={"costs": {k: v for k, v in costs.items() if int(k[:4]) >= on.year - 1}})

    def unarchived(self, known: int = 0) -> list[Movement]:
        """The movements not known to be archived (by the account or by ``known``)."""
        upto = max(self.archived_seq, known)
        return [m for m in self.recent if m.seq > upto]

    def with_movement(self, kind: MovementKind, amount: Decimal, ref: str, now: datetime) -> PrepaymentAccount:
        """The account with the movement of ``kind`` for a signed ``amount`` in its ledger (none for 0)."""
        added = movements_for(kind, amount, ref, now, self.seq + 1)
        return self.with_movements(added) if added else self

    def with_notice(self, notice: PaymentNotice) -> PrepaymentAccount:
        return self.model_copy(update={"notices": {**self.notices, str(notice.notice_id): notice}})

    def with_movements(self, added: list[Movement]) -> PrepaymentAccount:
        """The account with ``added`` (seq ``seq + 1`` on) in its ledger: balances, days, months."""
        totals, prepaid, settled, tops = dict(self.totals), self.prepaid, dict(self.settled), self.year_top_ups
        interests = self.interests
        for m in added:
            for account in (m.debit, m.credit):
                totals[account] = totals.get(account, ZERO) + m.signed(account)
            change = m.signed(LedgerAccount.PREPAID)
            if change:
                prepaid = prepaid.add(m.on, change)
            if m.kind in (MovementKind.SETTLEMENT, MovementKind.REVERSAL):
                month = f"{m.on.year:04d}-{m.on.month:02d}"
                settled[month] = settled.get(month, ZERO) + m.signed(LedgerAccount.EXPENSE)
                settled = {k: v for k, v in settled.items() if int(k[:4]) >= m.on.year - 1}
            if m.kind in _TOP_UPS:
                tops += m.amount
            if m.kind is MovementKind.INTEREST and m.ref.startswith("interest:"):
                interests = remember(interests, m.ref.removeprefix("interest:"))
        last = added[-1].seq if added else self.seq
        return self.model_copy(
            update={
                "totals": totals,
                "prepaid": prepaid,
                "settled": settled,
                "year_top_ups": tops,
                "seq": last,
                "interests": interests,
                "recent": keep_recent((*self.recent, *added), self.archived_seq),
            }
        )

    def archived(self, upto: int, keep: int = RECENT_MOVEMENTS) -> PrepaymentAccount:
        """The account once its movements up to seq ``upto`` are known to be in the archive."""
        seq = max(self.archived_seq, min(upto, self.seq))
        return self.model_copy(update={"archived_seq": seq, "recent": keep_recent(self.recent, seq, keep)})

    @model_validator(mode="before")
    @classmethod
    def _from_marks(cls, data: Any) -> Any:
        """Accounts stored in earlier shapes still load: with a mark per uncleared settlement (before
        the archive of counted items), before the ledger (figures only), and with the ledger's
        movements inside the document (before the movements archive)."""
        if not isinstance(data, dict) or "account_id" not in data:
            return data
        if "settlements" in data:
            data = dict(data)
            marks = data.pop("settlements")
            data["counted"] = tuple(
                f"{sid}:{kind}"
                for sid, mark in marks.items()
                for kind in ("completed", "reversed")
                if mark.get(kind) is not None
            )
        if "movements" not in data and "totals" not in data:
            # stored before the ledger: its figures become opening movements, dated at the start of its
            # year (what happened before is not known), so the figures stay the ledger's balances
            called = sum(
                (
                    max(Decimal(str(n.get("amount", "0"))) - Decimal(str(n.get("paid", "0"))), ZERO)
                    for n in (data.get("notices") or {}).values()
                    if isinstance(n, dict) and n.get("kind") != PaymentNoticeKind.CLEARING.value
                ),
                ZERO,
            )
            data = {
                **data,
                "year_start_seq": 0,
                "movements": tuple(
                    opening_movements(
                        {**data, "called": called}, datetime(int(data.get("year") or 2000), 1, 1, tzinfo=SHANGHAI)
                    )
                ),
            }
        if "movements" in data:
            # the ledger inside the document: its movements, not archived yet, move out on the next write
            data = dict(data)
            movements = [Movement.model_validate(m) for m in data.pop("movements") or ()]
            start = int(data.pop("year_start_seq", 0) or 0)
            empty = cls.model_validate({**data, "totals": {}})
            loaded = empty.with_movements(movements)
            tops = sum((m.amount for m in movements if m.seq > start and m.kind in _TOP_UPS), ZERO)
            return loaded.model_copy(update={"year_top_ups": tops}).model_dump()
        return data

    def sanction_causes(self) -> dict[SanctionKind, list[uuid.UUID]]:
        """P-09: each sanction's overdue, unpaid notices (and not excused by a reported reason)."""
        causes: dict[SanctionKind, list[uuid.UUID]] = {}
        for notice in self.notices.values():
            if notice.sanction is not None:
                causes.setdefault(notice.sanction, []).append(notice.notice_id)
        return causes

    def open_emergency_notice(self) -> PaymentNotice | None:
        return next(
            (n for n in self.notices.values() if n.kind is PaymentNoticeKind.EMERGENCY_TOP_UP and not n.settled), None
        )
