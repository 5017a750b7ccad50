"""The calendar's obligations (C-02, C-03, C-07; 000 第六十二–六十四、六十九条; 004 第四十五条): a late
confirmation is refused, the steps after a notice are chained on working days across National Day 2026
(runtime/calendar.py: 10-01..10-07 off, 10-08 a working day, 09-20 and 10-10 make-up days), each recorded
by a command, each breach published once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.clearing import (
    ClearingObligationBreached,
    ClearingObligationRecorded,
    ClearingSide,
    ConfirmClearingPeriod,
    EntryKind,
    Fund,
    FundAmounts,
    Obligation,
    RecordClearingObligation,
)
from contracts.values import InsuranceType, money
from runtime.calendar import at_business_start, default_calendar, end_of_business_day
from services.clearing.domain import (
    LateConfirmation,
    LedgerEntry,
    PeriodStatus,
    confirm,
    generate,
    issue_notice,
    new_ledger,
    record_entry,
)
from services.clearing.domain.obligations import ObligationRefused, fell_due, record, start

CAL = default_calendar()
WUHU, WUHAN = "340200", "420100"
Ob = Obligation
ISSUED = at_business_start(date(2026, 9, 30))  # the 2026-09 notices, the eve of National Day


def entry(sid: str) -> LedgerEntry:
    return LedgerEntry(
        settlement_id=sid,
        kind=EntryKind.SETTLEMENT,
        insured_region=WUHU,
        treating_region=WUHAN,
        amounts=FundAmounts(insurance_type=InsuranceType.EMPLOYEE, funds={Fund.POOLING: money("100")}),
        business_day=date(2026, 8, 20),
    )


def notice(region=WUHU):
    lg = record_entry(new_ledger("2026-09", WUHU, WUHAN), entry("s1"), CAL, ISSUED).state
    lg = generate(lg, CAL, ISSUED).state
    return issue_notice(region, "2026-09", [lg], CAL, ISSUED)


def cmd(step: Obligation, at: datetime, region=WUHU) -> RecordClearingObligation:
    return RecordClearingObligation(region=region, clearing_month="2026-09", obligation=step, done_at=at)


# ================================================================ C-02: a late confirmation
def test_a_confirmation_received_after_the_25th_is_refused() -> None:
    lg = generate(
        record_entry(new_ledger("2026-09", WUHU, WUHAN), entry("s1"), CAL, ISSUED).state,
        CAL,
        at_business_start(date(2026, 9, 21)),
    ).state
    c = ConfirmClearingPeriod(
        clearing_month="2026-09",
        insured_region=WUHU,
        treating_region=WUHAN,
        side=ClearingSide.TREATING,
        confirmed_at=ISSUED,
    )
    last = end_of_business_day(date(2026, 9, 25))
    assert confirm(lg, c, last).state.confirmations == {ClearingSide.TREATING: "province"}  # the 25th itself: in time
    with pytest.raises(LateConfirmation, match="after the end of the 25th"):
        confirm(lg, c, last + timedelta(seconds=1))
    done = confirm(lg, c, last).state
    with pytest.raises(LateConfirmation, match="that side is confirmed \\(province\\)"):
        confirm(done, c, last + timedelta(days=1))  # late even when already confirmed
    assert done.status is PeriodStatus.GENERATED


# ================================================================ C-03 / C-07
def test_the_first_steps_are_armed_from_the_notice_across_national_day() -> None:
    payer, deadlines = start(notice(WUHU), CAL)
    # 5 working days after 09-30: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13
    assert payer.due == {Ob.SUBMITTED_TO_FINANCE: CAL.deadline(ISSUED, 5)}
    assert payer.due[Ob.SUBMITTED_TO_FINANCE] == end_of_business_day(date(2026, 10, 13))
    assert [(d.kind, d.ref, d.rule) for d in deadlines] == [("obligation_due", "submitted_to_finance", "C-03")]
    receiver, deadlines = start(notice(WUHAN), CAL)  # receivable lines: C-07 too
    assert receiver.due[Ob.INSTITUTIONS_PAID] == end_of_business_day(date(2026, 11, 3))
    assert {d.rule for d in deadlines} == {"C-03", "C-07"} and all(d.calendar == CAL.source for d in deadlines)
    empty = issue_notice("110000", "2026-09", [], CAL, ISSUED)
    assert start(empty, CAL)[0].due == {}  # nothing to move


def test_steps_are_recorded_in_order_and_chained_from_the_record() -> None:
    state, _ = start(notice(), CAL)
    with pytest.raises(ObligationRefused, match="submitted_to_finance is not recorded yet"):
        record(state, cmd(Ob.TRANSFERRED, ISSUED), CAL, ISSUED)
    with pytest.raises(ObligationRefused, match="no such obligation"):
        record(state, cmd(Ob.INSTITUTIONS_PAID, ISSUED), CAL, ISSUED)  # Wuhu only pays this month
    early = datetime(2026, 9, 30, 3, tzinfo=UTC)  # submitted the same day
    state, (event,), (transfer,) = record(state, cmd(Ob.SUBMITTED_TO_FINANCE, early), CAL, early)
    assert isinstance(event, ClearingObligationRecorded) and not event.late and event.rule == "C-03"
    # finance has 10 working days from the submission: 10-08, 10-09, 10-10, 10-12 … 10-20
    assert transfer.due_at == state.due[Ob.TRANSFERRED] == end_of_business_day(date(2026, 10, 20))
    with pytest.raises(ObligationRefused, match="already recorded"):
        record(state, cmd(Ob.SUBMITTED_TO_FINANCE, early), CAL, early)
    at = end_of_business_day(date(2026, 10, 20))
    state, (event,), (feedback,) = record(state, cmd(Ob.TRANSFERRED, at), CAL, at)
    assert not event.late and feedback.due_at == end_of_business_day(date(2026, 10, 27))
    assert fell_due(state, transfer, CAL, transfer.due_at + timedelta(seconds=1)).events == []  # done: no breach


def test_a_step_not_recorded_is_breached_once_and_the_chain_runs_from_its_due_time() -> None:
    state, (submit,) = start(notice(), CAL)
    early = fell_due(state, submit, CAL, submit.due_at - timedelta(seconds=1))
    assert early.events == [] and early.deadlines == [submit]  # read early: armed again
    late = submit.due_at + timedelta(seconds=1)
    state, (breach,), (transfer,) = fell_due(state, submit, CAL, late)
    assert isinstance(breach, ClearingObligationBreached)
    assert (breach.obligation, breach.due_at, breach.rule, breach.region) == (
        Ob.SUBMITTED_TO_FINANCE,
        end_of_business_day(date(2026, 10, 13)),
        "C-03",
        WUHU,
    )
    assert transfer.due_at == CAL.deadline(submit.due_at, 10)  # the dates printed on the notice
    assert transfer.due_at == notice().transfer_by
    assert fell_due(state, submit, CAL, late).events == []  # the same deadline again: once
    state, (event,), deadlines = record(state, cmd(Ob.SUBMITTED_TO_FINANCE, late), CAL, late)
    assert event.late and deadlines == []  # accepted late; transfer already armed
    state, (breach2,), (feedback,) = fell_due(state, transfer, CAL, transfer.due_at + timedelta(seconds=1))
    assert breach2.obligation is Ob.TRANSFERRED and breach2.breach_id != breach.breach_id
    assert feedback.due_at == notice().receipt_feedback_by
