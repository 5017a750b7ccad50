"""R-02 daily reconciliation (000 第五十五条): an institution's day matched against the settlement lines
clearing archived; a mismatch is due within 5 working days (M-02, across National Day 2026), resolved by a
later match, overdue once at its due time."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from contracts.clearing import DailyReconciliation, ReconciliationStatus as S
from contracts.values import money
from runtime.calendar import default_calendar, end_of_business_day
from services.clearing.domain.reconciliation import (
    ReconciliationRefused, Totals, check, fell_due, key, platform_totals,
)

CAL = default_calendar()
H = "H42010200001"
NOW = datetime(2026, 9, 30, 4, tzinfo=UTC)          # the eve of National Day


def totals(n: int, amount: str, day=date(2026, 9, 29), region="420100") -> DailyReconciliation:
    return DailyReconciliation(institution_code=H, treating_region=region, day=day, settlements=n,
                               fund_total=money(amount), sent_at=NOW)


def line(*amounts: str) -> dict:
    return {"amounts": {"insurance_type": "310", "funds": {f"f{i}": a for i, a in enumerate(amounts)}}}


def test_platform_totals_are_summed_to_the_fen_from_the_archived_lines() -> None:
    assert platform_totals([line("1000.00", "200.00"), line("0.01")]) == Totals(settlements=2,
                                                                              fund_total=money("1200.01"))
    assert platform_totals([]) == Totals()


def test_matched_mismatched_resolved() -> None:
    platform = Totals(settlements=2, fund_total=money("1200.01"))
    state, (event,), deadlines = check(None, totals(2, "1200.01"), platform, CAL, NOW)
    assert (state.status, event.status, event.resolve_by, deadlines) == (S.MATCHED, S.MATCHED, None, [])
    state, (event,), (due,) = check(state, totals(2, "1200.00"), platform, CAL, NOW)   # off by a fen
    # 5 working days after 09-30: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13
    assert event.status is S.MISMATCHED and due.due_at == event.resolve_by == end_of_business_day(date(2026, 10, 13))
    assert (due.kind, due.subject, due.rule) == ("reconciliation_due", key(H, date(2026, 9, 29)), "R-02")
    later = NOW + timedelta(days=1)
    state, (event,), deadlines = check(state, totals(3, "0.00"), platform, CAL, later)   # still wrong
    assert event.status is S.MISMATCHED and event.resolve_by == due.due_at and deadlines == []
    state, (event,), _ = check(state, totals(2, "1200.01"), platform, CAL, later)
    assert event.status is S.RESOLVED and state.his == platform
    assert fell_due(state, due, platform, CAL, due.due_at + timedelta(seconds=1)).events == []   # nothing overdue


def test_overdue_once_at_the_due_time_unless_the_platform_caught_up() -> None:
    platform = Totals(settlements=1, fund_total=money("50.00"))
    state, _, (due,) = check(None, totals(2, "80.00"), platform, CAL, NOW)
    assert fell_due(state, due, platform, CAL, due.due_at - timedelta(seconds=1)).deadlines == [due]   # early
    caught_up = Totals(settlements=2, fund_total=money("80.00"))    # the missing settlement reached clearing
    assert fell_due(state, due, caught_up, CAL, due.due_at + timedelta(seconds=1)).events[0].status is S.RESOLVED
    state, (event,), _ = fell_due(state, due, platform, CAL, due.due_at + timedelta(seconds=1))
    assert event.status is S.OVERDUE and state.status is S.OVERDUE
    assert fell_due(state, due, platform, CAL, due.due_at + timedelta(days=1)).events == []          # once
    state, (event,), _ = check(state, totals(1, "50.00"), platform, CAL, due.due_at + timedelta(days=2))
    assert event.status is S.RESOLVED                                                                  # late, but fixed


def test_a_day_not_begun_or_another_region_is_refused() -> None:
    with pytest.raises(ReconciliationRefused, match="has not begun"):
        check(None, totals(0, "0", day=date(2026, 10, 1)), Totals(), CAL, NOW)
    state = check(None, totals(0, "0"), Totals(), CAL, NOW).state
    with pytest.raises(ReconciliationRefused, match="reconciles in 420100"):
        check(state, totals(0, "0", region="420200"), Totals(), CAL, NOW)


fen = st.decimals(min_value=0, max_value=10**5, places=2).map(str)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(fen, min_size=1, max_size=3), max_size=10), st.integers(-1, 1), st.sampled_from(["0.00", "0.01"]))
def test_matched_exactly_when_the_counts_and_the_fen_agree(lines, count_off, fen_off) -> None:
    platform = platform_totals([line(*ls) for ls in lines])
    n = max(platform.settlements + count_off, 0)
    amount = platform.fund_total + money(fen_off)
    status = check(None, totals(n, str(amount)), platform, CAL, NOW).state.status
    assert (status is S.MATCHED) == (n == platform.settlements and amount == platform.fund_total)
