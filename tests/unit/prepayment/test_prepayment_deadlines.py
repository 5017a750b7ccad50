"""P-08 chained deadlines of a prepayment notice (000 第二十六、二十七、二十九、三十条), across the 2026
National Day holiday, and P-07's zero cap on a red warning (004 第二十六条).

The 2026 calendar (runtime/calendar.py, holidays' copy of the State Council notice): 10-01..10-07 off,
10-08 (Thu) a working day, make-up working days Sun 09-20 and Sat 10-10."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.prepayment import (
    BreachKind,
    PaymentNoticeKind,
    PrepaymentDeadlineBreached,
    PrepaymentScope,
    RecordFinanceSubmission,
    SetAnnualQuota,
    TopUpNoticeIssued,
    TopUpWithheld,
)
from contracts.values import money
from runtime.calendar import default_calendar, end_of_business_day
from services.prepayment.domain import (
    ClearingNoticeReceived,
    SettlementFunds,
    deadline_fired,
    new_account,
    record_clearing_notice,
    record_settlement,
    record_submission,
    set_annual_quota,
)
from services.prepayment.domain.notices import PAYMENT_CHECK, SUBMISSION_CHECK

CAL = default_calendar()
WUHU, WUHAN = "340200", "420100"
SCOPE = PrepaymentScope.CROSS_PROVINCE
T0 = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wed 2026-09-30 10:00 Shanghai, the eve of National Day


def funded(at=T0):
    cmd = SetAnnualQuota(
        insured_region=WUHU,
        scope=SCOPE,
        year=2026,
        last_year_quota="1000.00",
        last_year_monthly_funds={10: "500.00", 11: "500.00", 12: "500.00"},
        issued_at=at,
    )
    return set_annual_quota(new_account(WUHU, SCOPE, 2026), cmd, CAL, at).state


def settle(acc, sid, amount, at=T0):
    return record_settlement(
        acc,
        SettlementFunds(
            settlement_id=sid, insured_region=WUHU, treating_region=WUHAN, fund_total=money(amount), occurred_at=at
        ),
        CAL,
        at,
    )


def clearing(acc, month, settled, payable, at):
    return record_clearing_notice(
        acc,
        ClearingNoticeReceived(
            notice_id=uuid.uuid5(uuid.NAMESPACE_URL, month),
            insured_region=WUHU,
            scope=SCOPE,
            clearing_month=month,
            settlements_total=money(settled),
            payable=money(payable),
            issued_at=at,
        ),
        CAL,
        at,
    )


def red(at=T0):
    """Quota 1,000.00, settlements 950.00 → 95 %: red, the emergency top-up notice of 50.00."""
    out = settle(funded(at), "s1", "950.00", at)
    [notice] = [e for e in out.events if isinstance(e, TopUpNoticeIssued)]
    return out, notice


def fire(acc, deadlines, kind, at):
    [request] = [d for d in deadlines if d.kind == kind]
    return deadline_fired(acc, request, CAL, at)


def eod(d: date) -> datetime:
    return end_of_business_day(d)


def test_the_chain_across_national_day_without_a_submission() -> None:
    """Notice Wed 09-30: to finance within 5 working days — 10-08 (1), 10-09 (2), Sat 10-10 make-up (3),
    10-12 (4), 10-13 (5); finance's 10 working days from then — 10-14 … 10-27 (10)."""
    out, notice = red()
    assert notice.submit_to_finance_by == eod(date(2026, 10, 13))
    assert notice.finance_pay_by == eod(date(2026, 10, 27))
    assert notice.pay_by == eod(date(2026, 10, 20))  # P-09's own 10 days from the notice
    assert {d.kind for d in out.deadlines} >= {SUBMISSION_CHECK, PAYMENT_CHECK}
    assert all(d.rule in ("P-08", "P-09") and d.calendar == CAL.source for d in out.deadlines)

    early = fire(out.state, out.deadlines, SUBMISSION_CHECK, eod(date(2026, 10, 13)) - timedelta(hours=1))
    assert early.events == [] and early.deadlines[0].due_at == eod(date(2026, 10, 13))  # armed again
    late = fire(out.state, out.deadlines, SUBMISSION_CHECK, eod(date(2026, 10, 13)) + timedelta(seconds=1))
    [breach] = late.events
    assert isinstance(breach, PrepaymentDeadlineBreached)
    assert (breach.kind, breach.notice_kind, breach.due_at) == (
        BreachKind.SUBMISSION_TO_FINANCE,
        PaymentNoticeKind.EMERGENCY_TOP_UP,
        eod(date(2026, 10, 13)),
    )
    assert fire(late.state, out.deadlines, SUBMISSION_CHECK, eod(date(2026, 10, 14))).events == []  # once

    unpaid = fire(late.state, out.deadlines, PAYMENT_CHECK, eod(date(2026, 10, 27)) + timedelta(seconds=1))
    assert [e.kind for e in unpaid.events] == [BreachKind.FINANCE_PAYMENT]


def test_a_submission_moves_finances_ten_working_days() -> None:
    """Submitted Fri 10-09 10:00 (receipt time): finance pays within 10 working days — Sat 10-10 (1),
    10-12 (2) … 10-22 (10); no submission breach on 10-13; the payment check moves to 10-22."""
    out, notice = red()
    at = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)
    cmd = RecordFinanceSubmission(insured_region=WUHU, scope=SCOPE, notice_id=notice.notice_id, submitted_at=at)
    sub = record_submission(out.state, cmd, CAL, at)
    [again] = sub.deadlines
    assert (again.kind, again.due_at) == (PAYMENT_CHECK, eod(date(2026, 10, 22)))
    assert again.deadline_id == next(d for d in out.deadlines if d.kind == PAYMENT_CHECK).deadline_id  # replaces
    assert record_submission(sub.state, cmd, CAL, at).deadlines == []  # once
    assert fire(sub.state, out.deadlines, SUBMISSION_CHECK, eod(date(2026, 10, 13)) + timedelta(1)).events == []
    # the original payment check (10-27) firing on 10-23 finds the chain moved to 10-22: breach
    breached = fire(sub.state, [again], PAYMENT_CHECK, eod(date(2026, 10, 22)) + timedelta(seconds=1))
    assert [(e.kind, e.due_at) for e in breached.events] == [(BreachKind.FINANCE_PAYMENT, eod(date(2026, 10, 22)))]


def test_make_up_sunday_counts_and_a_clearing_notice_is_not_a_prepayment_notice() -> None:
    """A notice on Sat 09-19: Sun 09-20 is a make-up working day (1), then 09-21 … 09-24 (5)."""
    _, notice = red(datetime(2026, 9, 19, 2, 0, tzinfo=UTC))
    assert notice.submit_to_finance_by == eod(date(2026, 9, 24))
    acc = clearing(funded(), "2026-09", "0.00", "10.00", T0).state
    with pytest.raises(ValueError, match="C-03"):
        record_submission(
            acc,
            RecordFinanceSubmission(
                insured_region=WUHU, scope=SCOPE, notice_id=uuid.uuid5(uuid.NAMESPACE_URL, "2026-09"), submitted_at=T0
            ),
            CAL,
            T0,
        )


def test_the_top_up_not_paid_before_the_next_clearing_is_a_breach_once() -> None:
    """P-08: 原则上紧急调增额度应于下期清算前完成拨付 — the next clearing notice finds it unpaid."""
    out, notice = red()
    nxt = clearing(out.state, "2026-10", "950.00", "950.00", datetime(2026, 10, 30, 2, tzinfo=UTC))
    breaches = [e for e in nxt.events if isinstance(e, PrepaymentDeadlineBreached)]
    assert [(b.kind, b.notice_id, b.due_at) for b in breaches] == [
        (BreachKind.TOP_UP_BEFORE_NEXT_CLEARING, notice.notice_id, None)
    ]
    again = clearing(nxt.state, "2026-11", "0.00", "0.00", datetime(2026, 11, 30, 2, tzinfo=UTC))
    assert not [e for e in again.events if isinstance(e, PrepaymentDeadlineBreached)]


def test_a_red_warning_whose_cap_is_zero_says_so_and_starts_no_clock() -> None:
    """P-07 (004 第二十六条). Quota 1,000.00; September clears 400.00 → cap 2 × 400 − 1,000 < 0 → 0.00.
    Settlements reach 950.00 in use (400 cleared unpaid + 550 uncleared): red, P-06 amount 50.00, capped to
    0.00: no notice, no deadline, a TopUpWithheld. October clears 550.00 → cap 2 × 550 − 1,000 = 100.00:
    at that signing the red account gets its notice of min(50.00, 100.00) = 50.00."""
    acc = settle(funded(), "s0", "400.00").state
    acc = clearing(acc, "2026-09", "400.00", "400.00", T0).state
    out = settle(acc, "s1", "550.00")
    assert out.state.level.value == "red"
    [withheld] = [e for e in out.events if isinstance(e, TopUpWithheld)]
    assert (withheld.top_up_amount, withheld.top_up_cap, withheld.monthly_clearing, withheld.quota) == (
        money("50"),
        money("0"),
        money("400"),
        money("1000"),
    )
    assert str(withheld.usage_percent) == "95.00" and "第二十六条" in withheld.next_assessment
    assert not [e for e in out.events if isinstance(e, TopUpNoticeIssued)] and out.deadlines == []
    assert out.state.open_emergency_notice() is None

    nxt = clearing(out.state, "2026-10", "550.00", "550.00", datetime(2026, 10, 30, 2, tzinfo=UTC))
    [notice] = [e for e in nxt.events if isinstance(e, TopUpNoticeIssued)]
    assert notice.amount == money("50.00")
    assert not [e for e in nxt.events if isinstance(e, TopUpWithheld)]
