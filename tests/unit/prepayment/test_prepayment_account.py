"""P-04..P-09 on the account aggregate: warnings once per crossing, emergency top-up notice,
sanctions after 10 / 20 working days, idempotence."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.prepayment import (
    DecideSanction,
    PaymentNoticeKind,
    PrepaymentQuotaSet,
    PrepaymentSanction,
    PrepaymentScope,
    PrepaymentWarningRaised,
    RecordPrepaymentPayment,
    ReportPaymentDelay,
    SanctionAction,
    SanctionKind,
    SanctionProposed,
    SetAnnualQuota,
    TopUpNoticeIssued,
    WarningLevel,
)
from contracts.values import money
from runtime.calendar import default_calendar, end_of_business_day
from services.outcome import RECENT_ITEMS
from services.prepayment.domain import (
    ClearingNoticeReceived,
    PrepaymentAccount,
    SettlementFunds,
    deadline_fired,
    decide_sanction,
    new_account,
    record_clearing_notice,
    record_payment,
    record_settlement,
    report_delay,
    set_annual_quota,
)

CAL = default_calendar()
WUHU, WUHAN = "340200", "420100"
SCOPE = PrepaymentScope.CROSS_PROVINCE
T0 = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wednesday before the 2026 National Day


def funded(quota: str = "1000.00") -> PrepaymentAccount:
    """An account whose quota is ``quota`` (Q4 average × 2)."""
    q = money(quota)
    cmd = SetAnnualQuota(
        insured_region=WUHU,
        scope=SCOPE,
        year=2026,
        last_year_quota=q,
        last_year_monthly_funds={10: q / 2, 11: q / 2, 12: q / 2},
        issued_at=T0,
    )
    return set_annual_quota(new_account(WUHU, SCOPE, 2026), cmd, CAL, T0).state


def settle(acc, sid: str, amount: str, reversed: bool = False, at: datetime = T0):
    item = SettlementFunds(
        settlement_id=sid,
        insured_region=WUHU,
        treating_region=WUHAN,
        fund_total=money(amount),
        reversed=reversed,
        occurred_at=at,
    )
    return record_settlement(acc, item, CAL, at)


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def test_quota_set_with_adjustment_notice() -> None:
    cmd = SetAnnualQuota(
        insured_region=WUHU,
        scope=SCOPE,
        year=2026,
        last_year_quota=money("500"),
        last_year_monthly_funds={10: money("300"), 11: money("300"), 12: money("300")},
        issued_at=T0,
    )
    out = set_annual_quota(new_account(WUHU, SCOPE, 2025), cmd, CAL, T0)
    quota_set = next(e for e in out.events if isinstance(e, PrepaymentQuotaSet))
    assert quota_set.quota == money("600") and quota_set.adjustment == money("100")
    notice = out.state.notices[str(quota_set.notice_id)]
    assert notice.kind is PaymentNoticeKind.ANNUAL_ADJUSTMENT
    # 20 working days from Wed 2026-09-30 across National Day: Oct 8 1st, Oct 10 (Sat) 3rd, Nov 3 20th
    assert notice.sanction_due_at == end_of_business_day(date(2026, 11, 3))
    assert out.deadlines[0].rule == "P-09" and "holidays" in out.deadlines[0].calendar
    assert set_annual_quota(out.state, cmd, CAL, T0).events == []  # idempotent


def test_lower_quota_is_not_adjusted() -> None:
    cmd = SetAnnualQuota(
        insured_region=WUHU,
        scope=SCOPE,
        year=2026,
        last_year_quota=money("900"),
        last_year_monthly_funds={10: money("300")},
        issued_at=T0,
    )
    out = set_annual_quota(new_account(WUHU, SCOPE, 2025), cmd, CAL, T0)
    assert out.state.quota == money("900") and out.state.notices == {}


def test_warnings_once_per_crossing() -> None:
    acc = funded()
    acc, events, _ = settle(acc, "s1", "600")
    assert kinds(events) == ["PrepaymentUsageUpdated"]
    acc, events, _ = settle(acc, "s2", "100")  # 70 % → yellow
    warning = next(e for e in events if isinstance(e, PrepaymentWarningRaised))
    assert warning.level is WarningLevel.YELLOW and str(warning.usage_percent) == "70.00"
    assert warning.top_up_amount == money("300")
    acc, events, _ = settle(acc, "s3", "50")  # still yellow: no new warning
    assert kinds(events) == ["PrepaymentUsageUpdated"]
    acc, events, _ = settle(acc, "s3", "50")  # redelivered
    assert events == [] and acc.uncleared == money("750")


def test_red_issues_one_top_up_notice_and_sanction_after_10_working_days() -> None:
    acc = funded()
    acc, events, deadlines = settle(acc, "s1", "950")
    assert kinds(events) == ["PrepaymentUsageUpdated", "PrepaymentWarningRaised", "TopUpNoticeIssued"]
    notice = next(e for e in events if isinstance(e, TopUpNoticeIssued))
    assert notice.amount == money("50")  # no clearing yet: no P-07 cap
    assert notice.pay_by == end_of_business_day(date(2026, 10, 20))  # 10 wd across National Day
    assert notice.submit_to_finance_by == end_of_business_day(date(2026, 10, 13))
    acc, events, _ = settle(acc, "s2", "10")
    assert "TopUpNoticeIssued" not in kinds(events)  # one outstanding notice at a time
    fire = deadlines[0]
    early = deadline_fired(acc, fire, CAL, notice.pay_by - timedelta(hours=1))
    assert early.events == [] and early.deadlines == [fire]
    acc, events, _ = deadline_fired(acc, fire, CAL, notice.pay_by + timedelta(seconds=1))
    sanction = events[-1]
    assert isinstance(sanction, PrepaymentSanction)
    assert (sanction.kind, sanction.action) == (SanctionKind.NEW_FILING_SUSPENSION, SanctionAction.IMPOSED)
    assert deadline_fired(acc, fire, CAL, notice.pay_by + timedelta(days=1)).events == []
    pay = RecordPrepaymentPayment(
        payment_id="bank-1",
        insured_region=WUHU,
        scope=SCOPE,
        notice_id=notice.notice_id,
        amount=money("50"),
        paid_at=T0 + timedelta(days=25),
    )
    acc, events, _ = record_payment(acc, pay, CAL, pay.paid_at)
    lifted = [e for e in events if isinstance(e, PrepaymentSanction)]
    assert lifted[0].action is SanctionAction.LIFTED and acc.top_ups == money("50")
    assert lifted[0].sanction_id == sanction.sanction_id and acc.sanctions == {}
    assert record_payment(acc, pay, CAL, pay.paid_at).events == []


def test_clearing_notice_moves_payables_and_unpaid_clearing_suspends_admissions() -> None:
    acc = funded()
    acc = settle(acc, "s1", "400").state
    notice_id = uuid.uuid4()
    clearing = ClearingNoticeReceived(
        notice_id=notice_id,
        insured_region=WUHU,
        scope=SCOPE,
        clearing_month="2026-09",
        settlements_total=money("400"),
        payable=money("380"),
        issued_at=T0,
    )
    acc, events, deadlines = record_clearing_notice(acc, clearing, CAL, T0)
    assert (acc.uncleared, acc.cleared_unpaid, acc.monthly_clearing) == (money("0"), money("380"), money("380"))
    assert record_clearing_notice(acc, clearing, CAL, T0).events == []
    due = acc.notices[str(notice_id)].sanction_due_at
    acc, events, _ = deadline_fired(acc, deadlines[0], CAL, due + timedelta(seconds=1))
    # P-09 可暂停: the platform proposes, the province decides
    [proposal] = [e for e in events if isinstance(e, SanctionProposed)]
    assert (proposal.kind, proposal.action, acc.sanctions) == (SanctionKind.ADMISSION_SUSPENSION, "proposed", {})
    decide = DecideSanction(
        insured_region=WUHU,
        scope=SCOPE,
        proposal_id=proposal.proposal_id,
        decision="impose",
        reason="逾期未上解",
        decided_at=due,
    )
    acc, events, _ = decide_sanction(acc, decide, due + timedelta(seconds=2), "A340000")
    assert events[-1].kind is SanctionKind.ADMISSION_SUSPENSION and events[-1].action is SanctionAction.IMPOSED
    assert decide_sanction(acc, decide, due + timedelta(seconds=3), "A340000").events == []  # decided once
    delay = ReportPaymentDelay(
        insured_region=WUHU,
        scope=SCOPE,
        notice_id=notice_id,
        reason="finance closed",
        reported_at=due + timedelta(days=1),
    )
    acc, events, _ = report_delay(acc, delay, CAL, delay.reported_at)
    assert events[-1].action is SanctionAction.LIFTED and acc.sanctions == {}


def test_delay_reason_before_deadline_prevents_admission_suspension() -> None:
    acc = funded()
    notice_id = uuid.uuid4()
    clearing = ClearingNoticeReceived(
        notice_id=notice_id,
        insured_region=WUHU,
        scope=SCOPE,
        clearing_month="2026-09",
        settlements_total=money("0"),
        payable=money("100"),
        issued_at=T0,
    )
    acc, _, deadlines = record_clearing_notice(acc, clearing, CAL, T0)
    acc = report_delay(
        acc,
        ReportPaymentDelay(insured_region=WUHU, scope=SCOPE, notice_id=notice_id, reason="budget", reported_at=T0),
        CAL,
        T0,
    ).state
    out = deadline_fired(acc, deadlines[0], CAL, T0 + timedelta(days=60))
    assert not [e for e in out.events if isinstance(e, PrepaymentSanction)]


def test_top_up_is_capped_once_a_monthly_clearing_is_known() -> None:
    acc = settle(funded(), "s1", "800").state
    clearing = ClearingNoticeReceived(
        notice_id=uuid.uuid4(),
        insured_region=WUHU,
        scope=SCOPE,
        clearing_month="2026-09",
        settlements_total=money("800"),
        payable=money("600"),
        issued_at=T0,
    )
    acc = record_clearing_notice(acc, clearing, CAL, T0).state
    assert acc.level is WarningLevel.NONE  # 600 / 1000
    acc = settle(acc, "s2", "700").state  # 1300 / 1000: red
    notice = acc.open_emergency_notice()
    # P-06: |1000 − 1300| = 300; P-07 cap: 2 × 600 − 1000 = 200
    assert notice is not None and notice.amount == money("200")


def test_reversal_before_completion_nets_to_zero() -> None:
    """Arrival order does not matter: the reversal takes its amount out at once, the completion
    that arrives after it puts it back, and a redelivered copy of either changes nothing."""
    acc = funded()
    acc = settle(acc, "s9", "200", reversed=True).state
    assert acc.uncleared == money("-200")
    acc = settle(acc, "s9", "200").state
    assert acc.uncleared == money("0")
    assert settle(acc, "s9", "200").events == [] and settle(acc, "s9", "200", reversed=True).events == []


def test_account_is_json_serialisable() -> None:
    acc = settle(funded(), "s1", "950").state
    dumped = acc.model_dump(mode="json")
    json.dumps(dumped)
    assert PrepaymentAccount.model_validate(dumped) == acc
    assert dumped["quota"] == "1000.00"


ops = st.lists(
    st.tuples(st.integers(0, 5), st.booleans(), st.decimals(min_value=0, max_value=10**6, places=2)), max_size=30
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_uncleared_equals_sum_of_live_settlements(seq) -> None:
    """M-01: the uncleared payable always equals the sum of the live settlements, whatever the
    order and repetition of completions and reversals; warnings are raised only on a rise."""
    acc, first = funded(), {}
    for idx, reversed, amount in seq:
        before = acc.level
        acc, events, _ = settle(acc, f"s{idx}", str(amount), reversed=reversed)
        first.setdefault((idx, reversed), money(str(amount)))  # a repeat counts nothing
        raised = [e for e in events if isinstance(e, PrepaymentWarningRaised)]
        assert len(raised) <= 1 and (not raised or raised[0].level.rank > before.rank)
    expected = sum((-a if rev else a for (_, rev), a in first.items()), money("0"))
    assert acc.uncleared == expected


def test_cleared_settlements_leave_the_account_and_a_later_refund_still_counts() -> None:
    """A cleared period's settlements leave the uncleared payable; a refund after clearing then
    enters the next period (S-15, P-04)."""
    acc = funded()
    acc = settle(acc, "august", "400", at=datetime(2026, 8, 20, 2, tzinfo=UTC)).state
    acc = settle(acc, "september", "100", at=datetime(2026, 9, 2, 2, tzinfo=UTC)).state
    notice = ClearingNoticeReceived(
        notice_id=uuid.uuid4(),
        insured_region=WUHU,
        scope=SCOPE,
        clearing_month="2026-09",
        settlements_total=money("400"),
        payable=money("400"),
        issued_at=T0,
    )
    acc = record_clearing_notice(acc, notice, CAL, T0).state
    assert acc.uncleared == money("100")
    acc = settle(acc, "august", "400", reversed=True, at=T0).state  # refunded after clearing
    assert acc.uncleared == money("-300")  # C-05: the next period nets it


def test_the_account_stays_small_however_many_settlements_a_month_brings() -> None:
    """Only the latest ids are kept (the service's archive has them all); an account stored
    with a mark per settlement still loads."""
    acc = funded()
    for i in range(RECENT_ITEMS + 10):
        acc = settle(acc, f"s{i}", "1.00").state
    assert len(acc.counted) == RECENT_ITEMS and acc.uncleared == money("1.00") * (RECENT_ITEMS + 10)
    stored = {k: v for k, v in funded().model_dump(mode="json").items() if k != "counted"}
    legacy = PrepaymentAccount.model_validate(
        {
            **stored,
            "settlements": {
                "a": {"completed": "5.00", "reversed": None, "on": "2026-09-01"},
                "b/r1": {"completed": None, "reversed": "2.00", "on": "2026-09-02"},
            },
        }
    )
    assert legacy.counted == ("a:completed", "b/r1:reversed")
