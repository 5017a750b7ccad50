"""P-12 performance deposit 履约保证金 (002 第二十条), pure: receipts add up once each; the year's return is
at most what was lodged, and what is not returned is retained (M-01: returned + retained = lodged)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.prepayment import LodgeDeposit, SettleDeposit
from contracts.values import SHANGHAI as SH
from services.prepayment.domain.deposit import DepositRefused, lodge, settle

LODGED_ON, DECIDED_ON = datetime(2022, 3, 1, 10, tzinfo=SH), datetime(2023, 1, 16, 10, tzinfo=SH)
HOSPITAL, ZHUZHOU = "H43020200001", "430200"
cents = st.integers(min_value=1, max_value=10**11).map(lambda c: Decimal(c).scaleb(-2))


def lodged(receipt: str, amount: Decimal, region: str = ZHUZHOU) -> LodgeDeposit:
    return LodgeDeposit(
        deposit_id=receipt, institution_code=HOSPITAL, region=region, year=2022, amount=amount, lodged_at=LODGED_ON
    )


def decided(returned: Decimal) -> SettleDeposit:
    return SettleDeposit(
        institution_code=HOSPITAL,
        region=ZHUZHOU,
        year=2022,
        returned=returned,
        assessment="考核",
        decided_at=DECIDED_ON,
    )


@given(st.lists(cents, min_size=1, max_size=6), st.data())
def test_returned_and_retained_sum_to_what_was_lodged(amounts, data) -> None:
    held = None
    for i, amount in enumerate(amounts):
        held = lodge(held, lodged(f"R{i}", amount), LODGED_ON).state
        held = lodge(held, lodged(f"R{i}", amount), LODGED_ON).state  # a receipt again: once
    assert held is not None and held.lodged == sum(amounts, Decimal("0.00"))
    returned = data.draw(st.integers(0, int(held.lodged * 100)).map(lambda c: Decimal(c).scaleb(-2)))
    out = settle(held, decided(returned), DECIDED_ON)
    [event] = out.events
    assert event.returned + event.retained == event.lodged == held.lodged and event.retained >= 0
    with pytest.raises(DepositRefused, match="already settled"):
        lodge(out.state, lodged("late", Decimal("1.00")), DECIDED_ON)


@given(cents)
def test_more_than_lodged_is_never_returned(amount) -> None:
    held = lodge(None, lodged("R", amount), LODGED_ON).state
    with pytest.raises(DepositRefused, match="more than"):
        settle(held, decided(amount + Decimal("0.01")), DECIDED_ON)


def test_where_no_text_sets_a_deposit_it_is_refused_with_the_text() -> None:
    with pytest.raises(DepositRefused, match="003 sets no performance deposit"):
        lodge(None, lodged("R", Decimal("1.00"), region="340200"), DECIDED_ON)
    with pytest.raises(DepositRefused, match="lodged no deposit"):
        settle(None, decided(Decimal("0.00")), DECIDED_ON)
