"""How each fund of the slip pays (S-05, S-06, S-07): pure arithmetic on Decimal, rounded to the fen.

Every payment is bounded by the fund's remaining annual cap and by the personal in-scope share
still unpaid, so no fund exceeds its cap and the personal share never goes negative (S-07).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import overload

from contracts.values import round_fen
from services.settlement.domain.accumulations import Accumulations, fund_key, threshold_key
from services.settlement.domain.policy import FundRule

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Primary:
    """The primary fund's payment 统筹/基本医疗保险, and the in-scope cost its cap left unpaid."""

    paid: Decimal
    over_cap_cost: Decimal


@overload
def remaining(cap: Decimal, used: Decimal) -> Decimal: ...


@overload
def remaining(cap: Decimal | None, used: Decimal) -> Decimal | None: ...


def remaining(cap: Decimal | None, used: Decimal) -> Decimal | None:
    """What is left of an annual cap (never negative); None when the fund has no cap."""
    return None if cap is None else max(cap - used, ZERO)


def pay_primary(
    payable: Decimal, total: Decimal, ratio: Decimal, floor_ratio: Decimal | None, cap_left: Decimal
) -> Primary:
    """ratio × (in-scope − deductible), at least the floor 保底 share of the total when there is one
    (never beyond the payable amount), at most what is left of the annual cap."""
    due = round_fen(payable * ratio)
    if floor_ratio is not None:
        due = max(due, min(payable, round_fen(total * floor_ratio)))
    paid = min(due, cap_left)
    # The cost the cap left unpaid, in proportion: what the large-amount fund takes over (大额补助).
    over_cap = round_fen(payable * (due - paid) / due) if due > 0 else ZERO
    return Primary(paid, over_cap)


@dataclass(frozen=True)
class FundPayment:
    rule: FundRule
    paid: Decimal
    increments: dict[str, Decimal]


def pay_supplementary(rule: FundRule, *, over_cap_cost: Decimal, residual: Decimal, acc: Accumulations) -> FundPayment:
    """One fund after the primary, by its kind (S-06). ``residual`` is the personal in-scope share
    still unpaid when this fund's turn comes, in the region's order."""
    increments: dict[str, Decimal] = {}
    if rule.kind == "above_primary_cap":
        base = over_cap_cost
    elif rule.kind == "above_threshold":
        if rule.threshold is None:  # FundRule: kind above_threshold needs a threshold
            raise ValueError(f"S-06: fund {rule.code} of kind above_threshold has no threshold")
        base = _above_threshold(rule.threshold, acc.get(threshold_key(rule.code)), residual)
        increments[threshold_key(rule.code)] = residual  # the year's burden counts towards the threshold
    else:  # personal_share
        base = residual
    if rule.ratio is None:  # FundRule: every kind but the primary needs a ratio
        raise ValueError(f"S-06: fund {rule.code} of kind {rule.kind} has no ratio")
    key = fund_key(rule.code, rule.cap_group)
    due = round_fen(base * rule.ratio)
    left = remaining(rule.annual_cap, acc.get(key))
    paid = max(min(due, residual, left if left is not None else due), ZERO)
    if paid:
        increments[key] = paid
    return FundPayment(rule, paid, increments)


def _above_threshold(threshold: Decimal, before: Decimal, burden: Decimal) -> Decimal:
    """The part of this burden that lies above the annual threshold 大病保险起付线."""
    return max(before + burden - threshold, ZERO) - max(before - threshold, ZERO)
