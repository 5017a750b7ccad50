"""R-01/R-02 daily three-party reconciliation (000 第五十四、五十五条): an institution's day (the HIS's totals)
matched against the treating place's record (the settlement lines clearing archived) and the insured places'
records; each cell that differs listed with the settlements in it; a mismatch is due within 5 working days
(M-02, across National Day 2026), resolved by a later match, overdue once at its due time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.clearing import DailyReconciliation, DailyTotalLine, InsuredDailyTotals
from contracts.clearing import ReconciliationStatus as S
from contracts.values import money
from runtime.calendar import default_calendar, end_of_business_day
from services.clearing.domain.reconciliation import (
    ReconciliationRefused,
    Settled,
    Totals,
    check,
    fell_due,
    insured_reported,
    key,
    settled_lines,
    totals_of,
)

CAL = default_calendar()
H = "H42010200001"
WUHU, HEFEI = "340200", "340100"
NOW = datetime(2026, 9, 30, 4, tzinfo=UTC)  # the eve of National Day
DAY = date(2026, 9, 29)


def totals(n: int, amount: str, day=DAY, region="420100", lines=()) -> DailyReconciliation:
    return DailyReconciliation(
        institution_code=H,
        treating_region=region,
        day=day,
        settlements=n,
        fund_total=money(amount),
        lines=list(lines),
        sent_at=NOW,
    )


def settled(sid: str, *amounts: str, insured=WUHU, medical_type="inpatient") -> Settled:
    funds = dict(zip(("pooling", "personal_account", "large_amount"), map(money, amounts)))
    return Settled(settlement_id=sid, insured_region=insured, medical_type=medical_type, funds=funds)


def archived(*amounts: str) -> dict:
    return {
        "settlement_id": "S",
        "insured_region": WUHU,
        "medical_type": "inpatient",
        "amounts": {"insurance_type": "310", "funds": dict(zip(("pooling", "personal_account"), amounts))},
    }


def test_the_treating_record_is_summed_to_the_fen_from_the_archived_lines() -> None:
    t = totals_of(settled_lines([archived("1000.00", "200.00"), archived("0.01")]))
    assert (t.settlements, t.fund_total) == (2, money("1200.01"))
    assert t.by_type["inpatient"].funds == {"pooling": money("1000.01"), "personal_account": money("200.00")}
    assert totals_of([]) == Totals()


TWO = [settled("S1", "1000.00", "200.00"), settled("S2", "0.01")]


def test_matched_mismatched_resolved() -> None:
    state, (event,), deadlines = check(None, totals(2, "1200.01"), TWO, CAL, NOW)
    assert (state.status, event.status, event.resolve_by, deadlines, event.lines) == (
        S.MATCHED,
        S.MATCHED,
        None,
        [],
        [],
    )
    state, (event,), (due,) = check(state, totals(2, "1200.00"), TWO, CAL, NOW)  # off by a fen
    # 5 working days after 09-30: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13
    assert event.status is S.MISMATCHED and due.due_at == event.resolve_by == end_of_business_day(date(2026, 10, 13))
    assert (due.kind, due.subject, due.rule) == ("reconciliation_due", key(H, DAY), "R-02")
    [amount] = event.lines  # the count agrees: only the amount line differs
    assert (amount.measure, amount.his, amount.treating, amount.settlement_ids) == (
        "amount",
        money("1200.00"),
        money("1200.01"),
        ["S1", "S2"],
    )
    later = NOW + timedelta(days=1)
    state, (event,), deadlines = check(state, totals(3, "0.00"), TWO, CAL, later)  # still wrong
    assert event.status is S.MISMATCHED and event.resolve_by == due.due_at and deadlines == []
    state, (event,), _ = check(state, totals(2, "1200.01"), TWO, CAL, later)
    assert event.status is S.RESOLVED and state.lines == () and len(state.last_mismatch) == 2
    assert fell_due(state, due, TWO, CAL, due.due_at + timedelta(seconds=1)).events == []  # nothing overdue


def test_lines_are_matched_per_medical_type_and_fund_with_the_settlements_of_each_cell() -> None:
    day = [settled("S1", "1000.00", "200.00"), settled("S2", "80.00", medical_type="general_outpatient")]
    his = totals(
        2,
        "1280.00",
        lines=[
            DailyTotalLine(
                medical_type="inpatient", settlements=1, funds={"pooling": "1100.00", "personal_account": "100.00"}
            ),
            DailyTotalLine(medical_type="general_outpatient", settlements=1, funds={"pooling": "80.00"}),
        ],
    )
    state, (event,), _ = check(None, his, day, CAL, NOW)
    assert [(ln.medical_type, ln.fund, ln.his, ln.treating, ln.settlement_ids) for ln in event.lines] == [
        ("inpatient", "personal_account", money("100.00"), money("200.00"), ["S1"]),
        ("inpatient", "pooling", money("1100.00"), money("1000.00"), ["S1"]),
    ]
    assert state.insured_regions == (WUHU,)


def test_the_insured_places_record_is_the_third_party_once_every_insured_region_reported() -> None:
    day = [settled("S1", "1000.00"), settled("S2", "50.00", insured=HEFEI)]
    state, (event,), _ = check(None, totals(2, "1050.00"), day, CAL, NOW)
    assert event.status is S.MATCHED

    def report(region, n, pooling):
        return InsuredDailyTotals(
            insured_region=region,
            institution_code=H,
            treating_region="420100",
            day=DAY,
            lines=[DailyTotalLine(medical_type="inpatient", settlements=n, funds={"pooling": pooling})],
            sent_at=NOW,
        )

    state, (event,), _ = insured_reported(state, report(WUHU, 1, "1000.00"), day, CAL, NOW)
    assert event.status is S.MATCHED  # Hefei has not reported: nothing to compare yet
    state, (event,), (due,) = insured_reported(state, report(HEFEI, 1, "40.00"), day, CAL, NOW)
    assert event.status is S.MISMATCHED and due.rule == "R-02"
    [amount] = event.lines
    assert (amount.his, amount.treating, amount.insured, amount.settlement_ids) == (
        money("1050.00"),
        money("1050.00"),
        money("1040.00"),
        ["S1", "S2"],
    )
    state, (event,), _ = insured_reported(state, report(HEFEI, 1, "50.00"), day, CAL, NOW)  # a new record
    assert event.status is S.RESOLVED


def test_an_insured_report_before_the_his_waits_for_it() -> None:
    report = InsuredDailyTotals(
        insured_region=WUHU, institution_code=H, treating_region="420100", day=DAY, lines=[], sent_at=NOW
    )
    state, events, deadlines = insured_reported(None, report, TWO, CAL, NOW)
    assert (state.his, events, deadlines, state.insured_regions) == (None, [], [], (WUHU,))
    state, (event,), _ = check(state, totals(2, "1200.01"), TWO, CAL, NOW)
    assert event.status is S.MISMATCHED and {ln.insured for ln in event.lines} == {money("0.00")}


def test_overdue_once_at_the_due_time_unless_the_treating_record_caught_up() -> None:
    one = [settled("S1", "50.00")]
    state, _, (due,) = check(None, totals(2, "80.00"), one, CAL, NOW)
    assert fell_due(state, due, one, CAL, due.due_at - timedelta(seconds=1)).deadlines == [due]  # early
    caught_up = [*one, settled("S9", "30.00")]  # the missing settlement reached clearing
    assert fell_due(state, due, caught_up, CAL, due.due_at + timedelta(seconds=1)).events[0].status is S.RESOLVED
    state, (event,), _ = fell_due(state, due, one, CAL, due.due_at + timedelta(seconds=1))
    assert event.status is S.OVERDUE and state.status is S.OVERDUE
    assert fell_due(state, due, one, CAL, due.due_at + timedelta(days=1)).events == []  # once
    state, (event,), _ = check(state, totals(1, "50.00"), one, CAL, due.due_at + timedelta(days=2))
    assert event.status is S.RESOLVED  # late, but fixed


def test_the_due_time_of_a_resolved_mismatch_does_not_make_a_later_one_overdue() -> None:
    """R-02: mismatched 09-30 (due 10-13), resolved, mismatched again on 10-20 (due 10-27: 10-21..10-27
    are five working days); the first due time's message, handled late, after the second mismatch,
    changes nothing: the day is overdue only at 10-27."""
    one = [settled("S1", "50.00")]
    state, _, (first,) = check(None, totals(2, "80.00"), one, CAL, NOW)
    state, (resolved,), _ = check(state, totals(1, "50.00"), one, CAL, NOW + timedelta(days=1))
    assert resolved.status is S.RESOLVED
    again = datetime(2026, 10, 20, 4, tzinfo=UTC)
    state, (event,), (second,) = check(state, totals(2, "80.00"), one, CAL, again)
    assert event.status is S.MISMATCHED and second.due_at == end_of_business_day(date(2026, 10, 27))
    assert second.deadline_id == first.deadline_id  # armed again under the same id
    late = fell_due(state, first, one, CAL, again + timedelta(hours=1))
    assert (late.events, late.state.status) == ([], S.MISMATCHED)
    state, (overdue,), _ = fell_due(state, second, one, CAL, second.due_at + timedelta(seconds=1))
    assert overdue.status is S.OVERDUE


def test_a_day_not_begun_or_another_region_is_refused() -> None:
    with pytest.raises(ReconciliationRefused, match="has not begun"):
        check(None, totals(0, "0", day=date(2026, 10, 1)), [], CAL, NOW)
    state = check(None, totals(0, "0"), [], CAL, NOW).state
    with pytest.raises(ReconciliationRefused, match="reconciles in 420100"):
        check(state, totals(0, "0", region="420200"), [], CAL, NOW)


def test_lines_that_do_not_add_up_are_invalid() -> None:
    with pytest.raises(ValueError, match="add up to 1 settlements and 10.00"):
        totals(2, "10.00", lines=[DailyTotalLine(medical_type="inpatient", settlements=1, funds={"pooling": "10.00"})])


fen = st.decimals(min_value=0, max_value=10**5, places=2).map(str)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(fen, min_size=1, max_size=3), max_size=10), st.integers(-1, 1), st.sampled_from(["0.00", "0.01"])
)
def test_matched_exactly_when_the_counts_and_the_fen_agree(lines, count_off, fen_off) -> None:
    day = [settled(f"S{i}", *ls) for i, ls in enumerate(lines)]
    platform = totals_of(day)
    n = max(platform.settlements + count_off, 0)
    amount = platform.fund_total + money(fen_off)
    status = check(None, totals(n, str(amount)), day, CAL, NOW).state.status
    assert (status is S.MATCHED) == (n == platform.settlements and amount == platform.fund_total)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["inpatient", "general_outpatient", "chronic_outpatient"]), fen, fen), max_size=8
    )
)
def test_a_his_that_reports_the_treating_record_line_by_line_always_matches(rows) -> None:
    day = [settled(f"S{i}", a, b, medical_type=t) for i, (t, a, b) in enumerate(rows)]
    record = totals_of(day)
    his = totals(
        record.settlements,
        str(record.fund_total),
        lines=[
            DailyTotalLine(medical_type=t, settlements=tt.settlements, funds=tt.funds)
            for t, tt in record.by_type.items()
        ],
    )
    assert check(None, his, day, CAL, NOW).events[0].lines == []


def test_the_insured_place_closes_last_month_at_the_end_of_the_3rd_with_what_is_open() -> None:
    """R-01 (000 第五十四条 "每月3日前"): September closes at the end of 10-03, a calendar day (here in the
    National Day holiday), listing each institution-day of its insured not reconciled."""
    from services.clearing.domain.reconciliation import close_deadline, close_month

    request = close_deadline(WUHU, "2026-09", CAL)
    assert (request.due_at, request.rule, request.subject) == (
        end_of_business_day(date(2026, 10, 3)),
        "R-01",
        f"{WUHU}:2026-09",
    )
    matched = check(None, totals(2, "1200.01"), TWO, CAL, NOW).state
    off = check(None, totals(1, "1.00").model_copy(update={"institution_code": "H42010200002"}), TWO, CAL, NOW).state
    days = {(H, DAY), ("H42010200002", DAY), ("H42010200003", date(2026, 9, 5))}  # the last never reported
    state, (closed,), _ = close_month(None, WUHU, "2026-09", days, [matched, off], request, request.due_at)
    assert (closed.institution_days, closed.reconciled, closed.complete) == (3, 1, False)
    assert [(d.institution_code, d.status) for d in closed.open] == [
        ("H42010200002", S.MISMATCHED),
        ("H42010200003", None),
    ]
    assert close_month(state, WUHU, "2026-09", days, [], request, request.due_at) is None  # closed once
    _, (done,), _ = close_month(None, WUHU, "2026-09", {(H, DAY)}, [matched], request, request.due_at)
    assert done.complete and done.open == []
