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
from runtime.calendar import WorkingCalendar, business_date, end_of_business_day
from services.outcome import Decision

from .ledger import DailyChanges, LedgerAccount, Movement, daily_balances
from .policy import InterestPolicy, PrepaymentPolicies, default_policies

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


def sharing_rules(cmd: ShareInterest, today: date, policies: PrepaymentPolicies) -> list[InterestPolicy]:
    """P-10 by region: every region's text in force must share by daily-balance products. Hubei's does
    not (000 第三十三条: 利息归账户开设地所有), so nothing of such a region's is shared."""
    rules = [(str(r), policies.interest(str(r), today)) for r in cmd.regions]
    keeps = [(r, rule) for r, rule in rules if rule.sharing == "none"]
    if keeps:
        region, rule = keeps[0]
        raise InterestRefused(
            f"P-10: {region}'s interest is not shared: it belongs to the account's opener ({rule.source})"
        )
    return [rule for _, rule in rules]


def publish_limit(
    cmd: ShareInterest, rules: list[InterestPolicy], calendar: WorkingCalendar, now: datetime
) -> tuple[datetime | None, bool | None]:
    """P-10: Liaoning publishes each share within 5 working days (004 第二十九条(三)), counted from the
    day the interest was credited (``credited_on``, else ``received_at``'s day); the shortest limit of
    the regions' texts applies. A share sent later is still published, and marked late."""
    limits = [r.publish_within_working_days for r in rules if r.publish_within_working_days is not None]
    if not limits:
        return None, None
    credited = cmd.credited_on or business_date(cmd.received_at)
    publish_by = end_of_business_day(calendar.add_working_days(credited, min(limits)))
    return publish_by, now > publish_by


def share_interest(  # noqa: PLR0917 - what sharing one interest reads
    existing: InterestDistribution | None,
    cmd: ShareInterest,
    keeper: str,
    movements: Mapping[str, list[Movement] | DailyChanges],
    today: date,
    now: datetime,
    calendar: WorkingCalendar | None = None,
    policies: PrepaymentPolicies | None = None,
) -> Decision[InterestDistribution]:
    """P-10: the interest ``cmd`` shared among its regions by their 积数 over a closed period. The
    period must have ended before ``today``: a past day's balance never changes (movements are
    dated by receipt and never edited), so the accounts read to share it cannot move under it."""
    if existing is not None:
        return Decision(existing, [], [])
    rules = sharing_rules(cmd, today, policies or default_policies())
    if cmd.credited_on is not None and cmd.credited_on > today:
        raise InterestRefused(f"P-10: the interest cannot be credited on {cmd.credited_on}, after today ({today})")
    if cmd.period_start > cmd.period_end:
        raise InterestRefused(f"P-10: the period {cmd.period_start}..{cmd.period_end} is empty")
    if cmd.period_end >= today:
        raise InterestRefused(
            f"P-10: the period must have ended before today ({today}): its daily balances are not final until then"
        )
    products = {str(r): product(movements.get(str(r), []), cmd.period_start, cmd.period_end) for r in cmd.regions}
    shares = share(cmd.interest, products)
    publish_by, late = publish_limit(cmd, rules, calendar, now) if calendar is not None else (None, None)
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
        publish_by=publish_by,
        published_late=late,
        policy_sources=sorted({r.source for r in rules}),
    )
    return Decision(InterestDistribution(shared=event), [event], [])
