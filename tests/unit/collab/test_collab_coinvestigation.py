"""Q-01..Q-05: candidates ≥ 30,000 yuan, the 26th-to-25th cut, results with reasons, 5-day confirmation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.collab import (
    CheckResult,
    ConfirmCoInvestigationResult,
    RequestCoInvestigation,
    Sex,
    StayDetails,
    SubmitCoInvestigationResult,
    WithdrawCoInvestigation,
)
from contracts.values import MedicalType, make_person_id, money
from runtime.calendar import at_business_start, default_calendar, end_of_business_day
from services.collab.domain import coinvestigation as q

CAL = default_calendar()
PID = make_person_id("34020219600101123")


def stay(total: str = "30000.00") -> StayDetails:
    return StayDetails(
        person_id=PID,
        institution="H42010200001",
        admission_no="A1",
        invoice_no="I1",
        admission_date=date(2026, 9, 1),
        discharge_date=date(2026, 9, 20),
        total=money(total),
    )


def settlement(total: str, medical_type=MedicalType.INPATIENT) -> q.InpatientSettlement:
    return q.InpatientSettlement(
        settlement_id="s1",
        medical_type=medical_type,
        insured_region="340200",
        treating_region="420100",
        stay=stay(total),
        completed_at=datetime(2026, 9, 20, tzinfo=UTC),
    )


def test_candidate_threshold_is_inclusive() -> None:
    assert q.candidate_from_settlement(settlement("30000.00")) is not None
    assert q.candidate_from_settlement(settlement("29999.99")) is None
    assert q.candidate_from_settlement(settlement("50000", MedicalType.GENERAL_OUTPATIENT)) is None
    assert (
        q.candidate_from_settlement(settlement("30000")).candidate_id
        == q.candidate_from_settlement(settlement("30000")).candidate_id
    )


def make_request(at: datetime, total: str = "31000"):
    cmd = RequestCoInvestigation(
        request_ref="q1",
        insured_region="340200",
        treating_region="420100",
        settlement_id="s1",
        name="张三",
        sex=Sex.MALE,
        stay=stay(total),
        requested_at=at,
    )
    return q.request(cmd, CAL, at)


def test_request_below_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="Q-01"):
        make_request(datetime(2026, 9, 1, tzinfo=UTC), "29999.99")


def test_period_cut_and_withdrawal() -> None:
    # 2026-09-25 20:00 Shanghai is still in period 2026-09; 2026-09-26 00:30 Shanghai is in 2026-10
    state = make_request(datetime(2026, 9, 25, 12, 0, tzinfo=UTC)).state
    assert state.period == "2026-09" and state.cut_at == at_business_start(date(2026, 9, 26))
    # Q-03 "次月26日前" read as clearing reads C-02's "25日前": the 26th itself included
    assert state.complete_by == end_of_business_day(date(2026, 10, 26))
    assert make_request(datetime(2026, 9, 25, 16, 30, tzinfo=UTC)).state.period == "2026-10"
    with pytest.raises(ValueError, match="Q-02"):
        q.withdraw(state, WithdrawCoInvestigation(request_id=state.request_id, withdrawn_at=state.cut_at), state.cut_at)
    before = state.cut_at - timedelta(seconds=1)
    out = q.withdraw(state, WithdrawCoInvestigation(request_id=state.request_id, withdrawn_at=before), before)
    assert out.state.status is q.CoInvestigationStatus.WITHDRAWN


def test_wrong_result_needs_reason() -> None:
    with pytest.raises(ValueError, match="Q-04"):
        SubmitCoInvestigationResult(
            request_id=make_request(datetime(2026, 9, 1, tzinfo=UTC)).state.request_id,
            result=CheckResult.WRONG,
            reason=" ",
            submitted_at=datetime.now(UTC),
        )


def test_late_result_rolls_into_next_period_and_confirmation_deadline() -> None:
    state = make_request(datetime(2026, 8, 27, tzinfo=UTC)).state  # period 2026-09
    assert state.period == "2026-09"
    late_at = state.complete_by + timedelta(days=2)
    state, events, (due,) = q.submit_result(
        state,
        SubmitCoInvestigationResult(
            request_id=state.request_id, result=CheckResult.WRONG, reason="invoice mismatch", submitted_at=late_at
        ),
        CAL,
        late_at,
    )
    assert events[0].late and events[0].counted_in_period == "2026-10" and state.period == "2026-10"
    # counted in the next period as rolled in and answered there (on time for it)
    assert [(e.kind, e.period, e.on_time) for e in events[1:]] == [
        ("rolled_in", "2026-10", None),
        ("answered", "2026-10", True),
    ]
    state2 = make_request(datetime(2026, 9, 1, tzinfo=UTC)).state
    at = datetime(2026, 9, 30, 2, tzinfo=UTC)
    state2, events, (due,) = q.submit_result(
        state2,
        SubmitCoInvestigationResult(request_id=state2.request_id, result=CheckResult.CORRECT, submitted_at=at),
        CAL,
        at,
    )
    assert not events[0].late and events[0].confirm_by == end_of_business_day(date(2026, 10, 13))
    out = q.deadline_fired(state2, due, CAL, events[0].confirm_by + timedelta(seconds=1))
    assert type(out.events[0]).__name__ == "CoInvestigationConfirmationOverdue"
    received = at + timedelta(days=20)  # lateness goes by receipt
    done = q.confirm(
        out.state,
        ConfirmCoInvestigationResult(request_id=state2.request_id, agreed=True, confirmed_at=received),
        received,
    )
    assert done.state.status is q.CoInvestigationStatus.CONFIRMED and done.events[0].late


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
def test_period_contains_its_dates(d: date) -> None:
    period = q.period_of(d)
    cut = q.cut_at(period)
    assert at_business_start(d) < cut
    previous_cut = q.cut_at(q.period_of(d - timedelta(days=40)))
    assert previous_cut <= at_business_start(d) or q.period_of(d - timedelta(days=40)) == period
