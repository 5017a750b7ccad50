"""The prepayment money formulas (P-02..P-07), Decimal only (M-01)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from contracts.prepayment import WarningLevel
from contracts.values import round_fen

from .policy import QuotaPolicy

ZERO = Decimal("0.00")
YELLOW_PERCENT = Decimal(70)  # P-05 (000 第二十八条; 004 第二十三条)
RED_PERCENT = Decimal(90)


def annual_quota(monthly_funds: Mapping[int, Decimal], policy: QuotaPolicy) -> Decimal:
    """P-02: months × average of the basis months; a month with no data counts as 0.
    One rounding at the end, so 2 × (sum / 3) is not rounded twice."""
    basis = policy.basis_months
    total = sum((monthly_funds.get(m, ZERO) for m in basis), ZERO)
    return round_fen(total * policy.months / len(basis))


def adjustment(quota: Decimal, last_year_quota: Decimal) -> Decimal:
    """P-03: this year's quota − last year's; nothing when it is not higher."""
    return max(quota - last_year_quota, ZERO)


def quota_in_force(computed: Decimal, last_year_quota: Decimal) -> Decimal:
    """P-03: a lower computed quota does not reduce the prepayment (不予调整 / 暂不调整)."""
    return max(computed, last_year_quota)


def usage_base(quota: Decimal, top_ups: Decimal) -> Decimal:
    """P-04 denominator: annual quota + top-ups this year."""
    return quota + top_ups


def usage_used(uncleared: Decimal, cleared_unpaid: Decimal) -> Decimal:
    """P-04 numerator: uncleared fund payable + cleared but unpaid fund payable."""
    return uncleared + cleared_unpaid


def monthly_clearing_used(monthly_clearing: Decimal | None) -> Decimal:
    """P-04 numerator where the rate is the month's clearing funds against the prepayment (000
    第二十八条): the latest period's clearing amount; nothing before the first notice, and a reverse
    clearing (money coming back) uses none of the prepayment."""
    return max(monthly_clearing or ZERO, ZERO)


def usage_percent(used: Decimal, base: Decimal) -> Decimal | None:
    """P-04 rate ×100, rounded half-up to two decimals for display; None when the base is 0."""
    if base <= 0:
        return None
    return round_fen(used * 100 / base)


def warning_level(used: Decimal, base: Decimal) -> WarningLevel:
    """P-05 by exact comparison (no rounded rate): used×100 ≥ 90×base red, ≥ 70×base yellow.
    With no base at all, any use is red: nothing is prepaid to cover it."""
    if base <= 0:
        return WarningLevel.RED if used > 0 else WarningLevel.NONE
    if used * 100 >= RED_PERCENT * base:
        return WarningLevel.RED
    if used * 100 >= YELLOW_PERCENT * base:
        return WarningLevel.YELLOW
    return WarningLevel.NONE


def top_up_amount(quota: Decimal, top_ups: Decimal, uncleared: Decimal, cleared_unpaid: Decimal) -> Decimal:
    """P-06 (004 第二十四、二十六条): quota + top-ups − uncleared − cleared unpaid, and its
    absolute value when negative — as written in the source."""
    return abs(quota + top_ups - uncleared - cleared_unpaid)


def top_up_cap(monthly_clearing: Decimal | None, quota: Decimal) -> Decimal | None:
    """P-07 (004 第二十六条): twice the period's monthly clearing amount minus the annual quota,
    never below 0; None when no clearing amount is known yet (no cap can be computed)."""
    if monthly_clearing is None:
        return None
    return max(2 * monthly_clearing - quota, ZERO)


def capped_top_up(amount: Decimal, cap: Decimal | None) -> Decimal:
    """P-06 amount limited by the P-07 cap."""
    return amount if cap is None else min(amount, cap)
