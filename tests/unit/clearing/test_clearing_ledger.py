"""C-01..C-05 clearing ledger: idempotent lines, deductions apart, refunds negative, sums (M-01),
the C-02 calendar and C-03 deadlines across the 2026 National Day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.clearing import (
    ClearingEntryRecorded,
    ClearingPeriodGenerated,
    ClearingSide,
    ConfirmClearingPeriod,
    EntryKind,
    Fund,
    FundAmounts,
    PeriodConfirmedBy,
)
from contracts.prepayment import PrepaymentScope
from contracts.values import InsuranceType, money
from runtime.calendar import at_business_start, default_calendar, end_of_business_day
from services.clearing.domain import (
    GENERATE,
    ClearingLedger,
    LedgerEntry,
    PeriodClosed,
    PeriodStatus,
    confirm,
    deadline_fired,
    entry_month,
    fund_totals,
    generate,
    issue_notice,
    new_ledger,
    notice_deadlines,
    pending_sides,
    period_calendar,
    record_entry,
    sum_totals,
)
from services.outcome import RECENT_ITEMS as RECENT_ENTRIES
from services.prepayment.domain import from_clearing_notice

CAL = default_calendar()
WUHU, WUHAN, HEFEI = "340200", "420100", "340100"
NOW = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)
EMP = InsuranceType.EMPLOYEE


def entry(
    sid: str, kind=EntryKind.SETTLEMENT, ref: str = "", insured=WUHU, treating=WUHAN, pooling="100.00", account="20.00"
) -> LedgerEntry:
    funds = {Fund.POOLING: money(pooling), Fund.PERSONAL_ACCOUNT: money(account)}
    return LedgerEntry(
        settlement_id=sid,
        kind=kind,
        ref=ref,
        insured_region=insured,
        treating_region=treating,
        amounts=FundAmounts(insurance_type=EMP, funds=funds),
        business_day=date(2026, 8, 20),
    )


def test_lines_deductions_and_refunds() -> None:
    lg = new_ledger("2026-09", WUHU, WUHAN)
    lg, events, deadlines = record_entry(lg, entry("s1"), CAL, NOW)
    assert isinstance(events[0], ClearingEntryRecorded) and events[0].signed_total == money("120")
    assert deadlines[0].kind == GENERATE and deadlines[0].due_at == at_business_start(date(2026, 9, 21))
    assert record_entry(lg, entry("s1"), CAL, NOW).events == []  # idempotent by settlement id
    lg = record_entry(lg, entry("s2"), CAL, NOW).state
    lg, events, deadlines = record_entry(lg, entry("s2", EntryKind.REFUND), CAL, NOW)
    assert events[0].signed_total == money("-120") and deadlines == []
    lg = record_entry(lg, entry("s1", EntryKind.AUDIT_DEDUCTION, "d1", pooling="30.00", account="0.00"), CAL, NOW).state
    totals = {(t.insurance_type, t.fund): t for t in fund_totals(lg)}
    pooling = totals[(EMP, Fund.POOLING)]
    assert (pooling.settled, pooling.deducted, pooling.net) == (money("100"), money("30"), money("70"))
    assert sum_totals(totals.values()) == (money("120"), money("30"), money("90"))


def test_generation_confirmation_by_silence_and_closed_period() -> None:
    lg = record_entry(new_ledger("2026-09", WUHU, WUHAN), entry("s1"), CAL, NOW).state
    gen_at = at_business_start(date(2026, 9, 21))
    lg, events, deadlines = generate(lg, CAL, gen_at)
    generated = events[0]
    assert isinstance(generated, ClearingPeriodGenerated) and generated.net_total == money("120")
    assert generated.confirm_by == end_of_business_day(date(2026, 9, 25))
    with pytest.raises(PeriodClosed):
        record_entry(lg, entry("s3"), CAL, gen_at)
    assert record_entry(lg, entry("s1"), CAL, gen_at).events == []  # a duplicate still recognised
    early = deadline_fired(lg, deadlines[0], CAL, gen_at)
    assert early.events == [] and early.deadlines == deadlines
    lg, events, _ = deadline_fired(lg, deadlines[0], CAL, generated.confirm_by + timedelta(seconds=1))
    assert lg.status is PeriodStatus.CONFIRMED and lg.confirmed_by is PeriodConfirmedBy.SILENCE
    assert [(e.side, e.by, e.pending_sides) for e in events] == [  # C-02: both sides were silent
        (ClearingSide.INSURED, PeriodConfirmedBy.SILENCE, [ClearingSide.TREATING]),
        (ClearingSide.TREATING, PeriodConfirmedBy.SILENCE, []),
    ]


def confirmation(side: ClearingSide | None = None) -> ConfirmClearingPeriod:
    extra = {"side": side} if side else {}
    return ConfirmClearingPeriod(
        clearing_month="2026-09", insured_region=WUHU, treating_region=WUHAN, confirmed_at=NOW, **extra
    )


def test_a_confirmation_binds_its_side_and_the_period_is_confirmed_by_both() -> None:
    """C-02 (004 第四十六条): the insured side confirms its payable, the treating side its receivable."""
    lg = generate(new_ledger("2026-09", WUHU, WUHAN), CAL, NOW).state
    assert confirmation().side is ClearingSide.INSURED  # absent: the payer's (compatible v1)
    lg, events, _ = confirm(lg, confirmation(ClearingSide.INSURED), NOW)
    assert [(e.side, e.by, e.pending_sides) for e in events] == [
        (ClearingSide.INSURED, PeriodConfirmedBy.PROVINCE, [ClearingSide.TREATING])
    ]
    assert lg.status is PeriodStatus.GENERATED and pending_sides(lg) == [ClearingSide.TREATING]
    assert confirm(lg, confirmation(ClearingSide.INSURED), NOW).events == []  # that side again: no effect
    lg, events, _ = confirm(lg, confirmation(ClearingSide.TREATING), NOW)
    assert [(e.side, e.pending_sides) for e in events] == [(ClearingSide.TREATING, [])]
    assert lg.status is PeriodStatus.CONFIRMED and lg.confirmed_by is PeriodConfirmedBy.PROVINCE
    assert confirm(lg, confirmation(ClearingSide.TREATING), NOW).events == []


def test_silence_confirms_only_the_side_that_stayed_silent() -> None:
    lg = record_entry(new_ledger("2026-09", WUHU, WUHAN), entry("s1"), CAL, NOW).state
    lg, _, (silence,) = generate(lg, CAL, at_business_start(date(2026, 9, 21)))
    lg = confirm(lg, confirmation(ClearingSide.TREATING), NOW).state
    lg, events, _ = deadline_fired(lg, silence, CAL, silence.due_at + timedelta(seconds=1))
    assert [(e.side, e.by, e.pending_sides) for e in events] == [(ClearingSide.INSURED, PeriodConfirmedBy.SILENCE, [])]
    assert lg.confirmations == {
        ClearingSide.TREATING: PeriodConfirmedBy.PROVINCE,
        ClearingSide.INSURED: PeriodConfirmedBy.SILENCE,
    }
    assert lg.status is PeriodStatus.CONFIRMED


def test_a_confirmation_before_generation_is_refused() -> None:
    with pytest.raises(ValueError, match="not generated yet"):
        confirm(new_ledger("2026-09", WUHU, WUHAN), confirmation(), NOW)


def test_entry_month_rolls_past_closed_periods() -> None:
    assert entry_month(date(2026, 8, 31), lambda m: False) == "2026-09"
    assert entry_month(date(2026, 12, 31), lambda m: False) == "2027-01"
    assert entry_month(date(2026, 8, 3), lambda m: m in {"2026-09", "2026-10"}) == "2026-11"


def test_c02_calendar_and_c03_deadlines_across_national_day() -> None:
    dates = period_calendar("2026-09", CAL)
    assert dates.notice_at == at_business_start(date(2026, 9, 30))
    due = notice_deadlines(datetime(2026, 9, 30, 1, tzinfo=UTC), CAL)
    # 5 wd: Oct 8, 9, 10 (make-up Saturday), 12, 13
    assert due["submit_to_finance_by"] == end_of_business_day(date(2026, 10, 13))
    assert due["transfer_by"] == end_of_business_day(date(2026, 10, 27))
    assert due["receipt_feedback_by"] == end_of_business_day(date(2026, 11, 3))
    assert due["institutions_paid_by"] == end_of_business_day(date(2026, 11, 3))


def test_notice_per_counterpart_with_reverse_clearing() -> None:
    a = generate(
        record_entry(new_ledger("2026-09", WUHU, WUHAN), entry("s1", pooling="500"), CAL, NOW).state, CAL, NOW
    ).state
    b = new_ledger("2026-09", WUHAN, WUHU)  # Wuhan insured, treated in Wuhu: Wuhu receives
    b = generate(
        record_entry(b, entry("s2", insured=WUHAN, treating=WUHU, pooling="80", account="0"), CAL, NOW).state, CAL, NOW
    ).state
    c = new_ledger("2026-09", WUHU, HEFEI)  # only a refund after clearing: negative (C-05)
    c = generate(
        record_entry(c, entry("s0", EntryKind.REFUND, treating=HEFEI, pooling="50", account="0"), CAL, NOW).state,
        CAL,
        NOW,
    ).state
    notice = issue_notice(WUHU, "2026-09", [a, b, c], CAL, datetime(2026, 9, 30, 1, tzinfo=UTC))
    lines = {(ln.counterpart_region, ln.direction): ln.net for ln in notice.counterparts}
    assert lines == {
        (WUHAN, "payable"): money("520"),
        (WUHAN, "receivable"): money("80"),
        (HEFEI, "payable"): money("-50"),
    }
    # C-05 (004 第五十一条): Hefei's negative net is money coming back to Wuhu, a receivable marked *
    owed = {
        ln.counterpart_region: (ln.owed, ln.amount, ln.reverse_clearing)
        for ln in notice.counterparts
        if ln.direction == "payable"
    }
    assert owed == {WUHAN: ("payable", money("520"), False), HEFEI: ("receivable", money("50"), True)}
    assert (notice.payable_total, notice.receivable_total, notice.net_payable) == (
        money("520"),
        money("130"),
        money("390"),
    )
    inputs = {i.scope: i for i in from_clearing_notice(notice)}
    assert inputs[PrepaymentScope.CROSS_PROVINCE].payable == money("520")
    assert inputs[PrepaymentScope.INTRA_PROVINCE].payable == money("-50")
    assert inputs[PrepaymentScope.INTRA_PROVINCE].to_pay == money("0")


def test_funds_must_belong_to_the_insurance_type() -> None:
    with pytest.raises(ValueError, match="do not belong"):
        FundAmounts(insurance_type=InsuranceType.RESIDENT, funds={Fund.PERSONAL_ACCOUNT: money("1")})


fen = st.decimals(min_value=0, max_value=10**6, places=2)
lines = st.lists(st.tuples(st.integers(0, 8), st.sampled_from(list(EntryKind)), fen, fen), max_size=25)


@settings(max_examples=80, deadline=None)
@given(lines)
def test_ledger_sums_equal_line_sums(seq) -> None:
    lg = new_ledger("2026-09", WUHU, WUHAN)
    for idx, kind, pooling, account in seq:
        lg = record_entry(
            lg,
            entry(
                f"s{idx}",
                kind,
                ref="d" if kind is EntryKind.AUDIT_DEDUCTION else "",
                pooling=str(pooling),
                account=str(account),
            ),
            CAL,
            NOW,
        ).state
    totals = fund_totals(lg)
    settled, deducted, net = sum_totals(totals)
    sign = {EntryKind.SETTLEMENT: 1, EntryKind.REFUND: -1}
    first = {}
    for idx, kind, pooling, account in seq:
        first.setdefault((idx, kind), pooling + account)
    line_settled = sum((sign[k] * v for (_, k), v in first.items() if k in sign), Decimal("0.00"))
    line_deducted = sum((v for (_, k), v in first.items() if k is EntryKind.AUDIT_DEDUCTION), Decimal("0.00"))
    assert (settled, deducted, net) == (line_settled, line_deducted, line_settled - line_deducted)
    assert all(t.net == t.settled - t.deducted for t in totals)
    generated = generate(lg, CAL, NOW).events[0]
    assert generated.net_total == sum((t.net for t in generated.totals), Decimal("0.00"))
    assert generated.model_dump(mode="json")["net_total"] == f"{net:.2f}"


def test_the_ledger_stays_small_however_many_entries_a_month_brings() -> None:
    """C-04: the ledger counts its entries and keeps only the latest ids; older ones are in the
    service's archive (M-03), which it consults before recording."""
    lg = new_ledger("2026-09", WUHU, WUHAN)
    for i in range(RECENT_ENTRIES + 40):
        lg = record_entry(lg, entry(f"s{i}"), CAL, NOW).state
    assert lg.entry_count == RECENT_ENTRIES + 40 and len(lg.recent_entry_ids) == RECENT_ENTRIES
    assert lg.contains(entry(f"s{RECENT_ENTRIES + 39}")) and not lg.contains(entry("s0"))
    assert fund_totals(lg)[0].settled + fund_totals(lg)[1].settled == money("120") * (RECENT_ENTRIES + 40)
    assert generate(lg, CAL, NOW).events[0].entry_count == RECENT_ENTRIES + 40


def test_a_ledger_stored_with_every_entry_id_still_loads() -> None:
    stored = new_ledger("2026-09", WUHU, WUHAN).model_dump(mode="json")
    del stored["entry_count"], stored["recent_entry_ids"]
    legacy = ClearingLedger.model_validate({**stored, "entry_ids": ["a", "b", "c"]})
    assert (legacy.entry_count, legacy.recent_entry_ids) == (3, ("a", "b", "c"))
