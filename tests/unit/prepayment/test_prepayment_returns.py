"""C-05 returns recorded when they arrive (004 第五十一条) and 004 第二十四条's top-up at yellow, pure: the
money arrived never exceeds what the notice gives back, each payment counts once, and the ledger's
``returns_due`` is what is still to come (M-01, Decimal to the fen)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.prepayment import PrepaymentScope, RecordProactiveTopUp, RecordReturn, SetAnnualQuota
from runtime.calendar import default_calendar
from services.prepayment.domain import (
    ClearingNoticeReceived,
    new_account,
    record_clearing_notice,
    record_proactive_top_up,
    record_return,
    set_annual_quota,
)
from services.prepayment.domain.ledger import LedgerAccount

CAL, SCOPE, T0 = default_calendar(), PrepaymentScope.CROSS_PROVINCE, datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
cents = st.integers(min_value=1, max_value=10**9).map(lambda c: Decimal(c).scaleb(-2))


def returned_notice(region: str, back: Decimal):
    acc = new_account(region, SCOPE, 2026)
    notice = ClearingNoticeReceived(
        notice_id=uuid.uuid4(),
        insured_region=region,
        scope=SCOPE,
        clearing_month="2026-09",
        settlements_total=Decimal("0.00"),
        payable=-back,
        issued_at=T0,
    )
    return record_clearing_notice(acc, notice, CAL, T0).state, notice.notice_id


def arrival(notice_id: uuid.UUID, payment_id: str, amount: Decimal) -> RecordReturn:
    return RecordReturn(
        insured_region="210100", scope=SCOPE, notice_id=notice_id, payment_id=payment_id, amount=amount, received_at=T0
    )


@given(cents, st.lists(cents, min_size=1, max_size=8))
def test_returns_arrived_never_exceed_what_the_notice_gives_back(back, parts) -> None:
    acc, notice_id = returned_notice("210100", back)
    assert acc.balance(LedgerAccount.RETURNS_DUE) == back
    arrived = Decimal("0.00")
    for i, part in enumerate(parts):
        if arrived + part > back:
            with pytest.raises(ValueError, match="outstanding"):
                record_return(acc, arrival(notice_id, f"P{i}", part), CAL, T0)
            continue
        acc = record_return(acc, arrival(notice_id, f"P{i}", part), CAL, T0).state
        arrived += part
        again = record_return(acc, arrival(notice_id, f"P{i}", part), CAL, T0)  # again: nothing
        assert again.state == acc and again.events == []
    assert acc.notices[str(notice_id)].returned == arrived <= back
    assert acc.balance(LedgerAccount.RETURNS_DUE) == back - arrived


def test_a_top_up_at_yellow_only_where_the_text_asks_it_and_only_in_warning() -> None:
    quota = SetAnnualQuota(
        insured_region="210100",
        scope=SCOPE,
        year=2026,
        last_year_quota="0.00",
        last_year_monthly_funds=dict.fromkeys(range(1, 13), "300.00"),
        issued_at=T0,
    )
    acc = set_annual_quota(new_account("210100", SCOPE, 2026), quota, CAL, T0).state  # 4 × 300.00
    added = RecordProactiveTopUp(payment_id="A", insured_region="210100", scope=SCOPE, amount="100.00", paid_at=T0)
    with pytest.raises(ValueError, match="not in warning"):
        record_proactive_top_up(acc, added, CAL, T0)
    wuhu = new_account("340200", SCOPE, 2026)
    with pytest.raises(ValueError, match="asks no top-up at yellow"):
        record_proactive_top_up(wuhu, added.model_copy(update={"insured_region": "340200"}), CAL, T0)
