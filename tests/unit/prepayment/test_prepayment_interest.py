"""P-10 interest by daily-balance products 积数法 (004 第二十九条): products from the ledger's daily
balances, shares to the fen by the largest remainder, always summing to the interest exactly.

004 第二十九条 gives the method, not a number; the worked example here is ours (two Anhui cities)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.prepayment import PrepaymentScope, ShareInterest
from contracts.values import money
from services.prepayment.domain.interest import InterestDistribution, InterestRefused, product, share, share_interest
from services.prepayment.domain.ledger import LedgerAccount as L
from services.prepayment.domain.ledger import MovementKind as K
from services.prepayment.domain.ledger import daily_balances, movements_for

WUHU, HEFEI = "340200", "340100"
NOW = datetime(2026, 7, 6, 2, tzinfo=UTC)  # 2026-07-06 10:00 Shanghai


def paid_in(amount: str, on: date, seq: int = 1):
    return movements_for(
        K.ADJUSTMENT_PAYMENT, money(amount), f"pay:{on}", datetime(on.year, on.month, on.day, 2, tzinfo=UTC), seq
    )


def command(interest: str, start=date(2026, 7, 1), end=date(2026, 7, 3), regions=(WUHU, HEFEI)) -> ShareInterest:
    return ShareInterest(
        interest_id="INT-2026-07",
        scope=PrepaymentScope.CROSS_PROVINCE,
        regions=list(regions),
        period_start=start,
        period_end=end,
        interest=money(interest),
        received_at=NOW,
    )


def test_worked_example_two_cities_daily_balances_and_shares_to_the_fen() -> None:
    """Anhui keeps Wuhu's and Hefei's prepayments; 100.00 of interest for 07-01..07-03:
    Wuhu has 1,000,000.00 held from 06-30: daily 1,000,000 × 3 → 积数 3,000,000.00
    Hefei pays in 2,000,000.00 on 07-02:  daily 0, 2,000,000, 2,000,000 → 积数 4,000,000.00
    exact shares 100 × 3/7 = 42.857142…, 100 × 4/7 = 57.142857…; rounded down 42.85 + 57.14 = 99.99;
    the fen left goes to the larger remainder (Wuhu's .007142 > Hefei's .002857): 42.86 + 57.14 = 100.00."""
    ledgers = {WUHU: paid_in("1000000.00", date(2026, 6, 30)), HEFEI: paid_in("2000000.00", date(2026, 7, 2))}
    assert daily_balances(ledgers[HEFEI], L.PREPAID, date(2026, 7, 1), date(2026, 7, 3)) == {
        date(2026, 7, 1): 0,
        date(2026, 7, 2): money("2000000"),
        date(2026, 7, 3): money("2000000"),
    }
    out = share_interest(None, command("100.00"), "A340000", ledgers, date(2026, 7, 6), NOW)
    [event] = out.events
    assert [(s.insured_region, s.product, s.share) for s in event.shares] == [
        (WUHU, money("3000000"), money("42.86")),
        (HEFEI, money("4000000"), money("57.14")),
    ]
    assert event.days == 3 and event.product_total == money("7000000") and "积数法" in event.rule
    assert share_interest(out.state, command("100.00"), "A340000", ledgers, date(2026, 7, 6), NOW).events == []


def test_the_fen_a_half_up_rounding_would_invent_goes_to_one_region() -> None:
    """Equal products, 0.01 of interest: half-up would give 0.01 each (0.02 in all); the largest
    remainder gives the one fen to the lower code (a tie)."""
    assert share(money("0.01"), {WUHU: money("5"), HEFEI: money("5")}) == {WUHU: money("0"), HEFEI: money("0.01")}
    halves = {r: (money("0.01") / 2).quantize(Decimal("0.01"), ROUND_HALF_UP) for r in (WUHU, HEFEI)}
    assert sum(halves.values()) == money("0.02")


def test_an_open_period_or_nothing_to_share_by_is_refused() -> None:
    """P-10: a period not yet over has no final daily balances; interest with no balance behind it
    cannot be shared (the keeper is told, REFUSED_BY_RULE)."""
    ledgers = {WUHU: paid_in("1.00", date(2026, 6, 30))}
    with pytest.raises(InterestRefused, match="ended before today"):
        share_interest(None, command("1.00", end=date(2026, 7, 6)), "A340000", ledgers, date(2026, 7, 6), NOW)
    with pytest.raises(InterestRefused, match="nothing to share"):
        share_interest(None, command("1.00", regions=(HEFEI,)), "A340000", ledgers, date(2026, 7, 6), NOW)
    assert product(ledgers[WUHU], date(2026, 7, 1), date(2026, 7, 3)) == money("3.00")


products = st.dictionaries(
    st.sampled_from(["340100", "340200", "340300", "340400", "340500", "210100"]),
    st.decimals(min_value=0, max_value=Decimal("1e12"), places=2),
    min_size=1,
)


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=0, max_value=Decimal("1e9"), places=2), products)
def test_shares_always_sum_to_the_interest_and_stay_within_a_fen_of_exact(total, weights) -> None:
    """M-01/P-10: whatever the products, the parts are fen, sum to the total exactly, and each is its
    exact share rounded down or up by at most one fen."""
    if sum(weights.values()) == 0 and total > 0:
        with pytest.raises(InterestRefused):
            share(total, weights)
        return
    parts = share(total, weights)
    assert sum(parts.values()) == total
    weight = sum(weights.values())
    for region, part in parts.items():
        assert part == part.quantize(Decimal("0.01")) and part >= 0
        exact = total * weights[region] / weight if weight else Decimal(0)
        assert abs(part - exact) < Decimal("0.01")


def test_distribution_round_trips_as_stored() -> None:
    ledgers = {WUHU: paid_in("10.00", date(2026, 6, 30)), HEFEI: paid_in("30.00", date(2026, 6, 30))}
    out = share_interest(None, command("0.40"), "A340000", ledgers, date(2026, 7, 6), NOW)
    again = InterestDistribution.model_validate(out.state.model_dump(mode="json"))
    assert [s.share for s in again.shared.shares] == [money("0.10"), money("0.30")]
