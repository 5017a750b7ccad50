"""P-10 interest by daily-balance products 积数法 (004 第二十九条), pure.

Each region's 积数 is the sum of its end-of-day balances of prepayment held by the keeper (the
ledger's ``prepaid`` account, ``ledger.daily_balances``) over the period. The interest is shared
in proportion to the products, to the fen, by the **largest remainder** rule: each region first gets
its exact share rounded down to the fen; the fen left over (fewer than the number of regions) go one
each to the regions with the largest dropped remainders, ties to the lower region code. The shares
therefore always sum to the interest exactly (M-01: sums in reports equal the sums of their lines);
rounding each share half-up, as M-01 says for single amounts, would not (three equal products
sharing 0.10 would give 0.03 × 3 = 0.09). Where the two meet, the sum wins; RULES.md M-01 does not
say how a total is split, and 004 第二十九条 gives the method (积数法), not the rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from pydantic import BaseModel, ConfigDict

from contracts.prepayment import InterestShare, InterestShared, ShareInterest
from services.outcome import Decision

from .ledger import DailyChanges, LedgerAccount, Movement, daily_balances

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
RULE = (
    "积数法 (004 第二十九条(二)): share = interest × product ÷ Σ products, rounded down to the fen; the fen "
    "left over go one each to the largest remainders (ties: lower region code); shares sum to the interest"
)


class InterestRefused(ValueError):
    """The interest cannot be shared as asked (P-10)."""


def product(ledger: list[Movement] | DailyChanges, start: date, end: date) -> Decimal:
    """积数: Σ of the end-of-day ``prepaid`` balances from ``start`` to ``end`` inclusive, from the
    account's daily changes (``PrepaymentAccount.prepaid``) or from movements (the archive's)."""
    if isinstance(ledger, DailyChanges):
        return sum(ledger.balances(start, end).values(), ZERO)
    return sum(daily_balances(ledger, LedgerAccount.PREPAID, start, end).values(), ZERO)


def share(total: Decimal, products: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """P-10: ``total`` shared in proportion to ``products`` by the largest remainder."""
    if total < 0:
        raise InterestRefused("P-10: interest to share is negative")
    if any(p < 0 for p in products.values()):
        raise InterestRefused("P-10: a region's daily-balance product is negative")
    weight = sum(products.values(), ZERO)
    if weight <= 0:
        if total == 0:
            return {region: ZERO for region in products}
        raise InterestRefused("P-10: no region held a prepayment in the period: nothing to share the interest by")
    exact = {region: total * p / weight for region, p in products.items()}
    shares = {region: x.quantize(FEN, rounding=ROUND_FLOOR) for region, x in exact.items()}
    left = int(((total - sum(shares.values(), ZERO)) / FEN).to_integral_value())
    for region in sorted(exact, key=lambda r: (-(exact[r] - shares[r]), r))[:left]:
        shares[region] += FEN
    return shares


class InterestDistribution(BaseModel):
    """One interest shared (the aggregate of ``prepayment.share-interest.v1``, keyed by its id): kept
    so a repeated command shares nothing twice (M-03: the record of what each region got)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    shared: InterestShared


def share_interest(
    existing: InterestDistribution | None,
    cmd: ShareInterest,
    keeper: str,
    movements: Mapping[str, list[Movement] | DailyChanges],
    today: date,
    now: datetime,
) -> Decision[InterestDistribution]:
    """P-10: the interest ``cmd`` shared among its regions by their 积数 over a closed period. The
    period must have ended before ``today``: a past day's balance never changes (movements are
    dated by receipt and never edited), so the accounts read to share it cannot move under it."""
    if existing is not None:
        return Decision(existing, [], [])
    if cmd.period_start > cmd.period_end:
        raise InterestRefused(f"P-10: the period {cmd.period_start}..{cmd.period_end} is empty")
    if cmd.period_end >= today:
        raise InterestRefused(
            f"P-10: the period must have ended before today ({today}): its daily balances are not final until then"
        )
    products = {str(r): product(movements.get(str(r), []), cmd.period_start, cmd.period_end) for r in cmd.regions}
    shares = share(cmd.interest, products)
    event = InterestShared(
        interest_id=cmd.interest_id,
        scope=cmd.scope,
        keeper=keeper,
        period_start=cmd.period_start,
        period_end=cmd.period_end,
        days=(cmd.period_end - cmd.period_start).days + 1,
        interest=cmd.interest,
        product_total=sum(products.values(), ZERO),
        shares=[InterestShare(insured_region=r, product=products[r], share=shares[r]) for r in products],
        rule=RULE,
        shared_at=now,
    )
    return Decision(InterestDistribution(shared=event), [event], [])
