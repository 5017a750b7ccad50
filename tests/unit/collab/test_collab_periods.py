"""Q-02/Q-03: the period's summary cut at 00:00 on the 26th, items unanswered at the completion
deadline rolled into the next period and counted late, per-agency statistics, CSV and XLSX.

Period 2026-09 runs from 2026-08-26 to 2026-09-25 (Q-02); its summary is cut at 2026-09-26 00:00
Asia/Shanghai, the Mid-Autumn holiday (09-25..27) notwithstanding: the cut is a calendar moment.
Its items are due by the end of 2026-10-26 (Q-03 "次月26日前", read as clearing reads C-02's
"25日前": the day itself included), after National Day (10-01..08)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from contracts.collab import (
    AmendCoInvestigation,
    CheckResult,
    ConfirmCoInvestigationResult,
    DiscussCoInvestigation,
    OpenCollabRequest,
    ProblemType,
    RequestCoInvestigation,
    Sex,
    StayDetails,
    SubmitCoInvestigationResult,
    TallyKind,
    WithdrawCoInvestigation,
)
from contracts.parties import RefusalReason
from contracts.values import make_person_id, money
from runtime.calendar import at_business_start, default_calendar, end_of_business_day
from services.collab import export
from services.collab.domain import coinvestigation as q
from services.collab.domain import periods as pd
from services.collab.domain import requests as k
from services.collab.domain.addressing import Actor, Misaddressed

CAL = default_calendar()
WUHU, WUHAN, CHANGSHA = "340200", "420100", "430100"


def stay() -> StayDetails:
    return StayDetails(
        person_id=make_person_id("34020219600101123"),
        institution="H42010200001",
        admission_no="A1",
        invoice_no="I1",
        admission_date=date(2026, 9, 1),
        discharge_date=date(2026, 9, 20),
        total=money("45000"),
    )


def requested(ref: str, at: datetime, treating: str = WUHAN):
    cmd = RequestCoInvestigation(
        request_ref=ref,
        insured_region=WUHU,
        treating_region=treating,
        name="张三",
        sex=Sex.MALE,
        stay=stay(),
        requested_at=at,
    )
    return q.request(cmd, CAL, at)


def test_Q03_a_request_arms_its_completion_deadline_and_is_counted_opened() -> None:
    at = datetime(2026, 9, 24, 2, tzinfo=UTC)
    state, events, (due,) = requested("a", at)
    assert (due.kind, due.rule, due.due_at) == (q.ROLLOVER_DUE, "Q-03", end_of_business_day(date(2026, 10, 26)))
    counted = events[1]
    assert (counted.kind, counted.period, counted.request_id) == (TallyKind.OPENED, "2026-09", state.request_id)
    assert "张三" not in counted.model_dump_json() and "34020219600101123" not in counted.model_dump_json()


def test_Q03_unanswered_at_the_deadline_rolls_into_the_next_period_and_counts_late() -> None:
    state, _, (due,) = requested("a", datetime(2026, 9, 24, 2, tzinfo=UTC))
    assert q.deadline_fired(state, due, CAL, state.complete_by).events == []  # not yet: armed again
    after = state.complete_by + timedelta(microseconds=1)  # 2026-10-27 00:00 Shanghai
    rolled, (event, counted), (again,) = q.deadline_fired(state, due, CAL, after)
    assert (event.from_period, event.to_period) == ("2026-09", "2026-10")
    assert rolled.period == "2026-10" and rolled.late and rolled.rollovers == 1
    assert rolled.complete_by == again.due_at == end_of_business_day(date(2026, 11, 26))
    assert (counted.kind, counted.period) == (TallyKind.ROLLED_IN, "2026-10")
    # still locked: the 2026-09 summary was cut
    assert not q.is_editable(rolled, after)
    # answered in November: late overall, on time for 2026-10 where it is now counted
    at = datetime(2026, 11, 3, 2, tzinfo=UTC)
    done, events, _ = q.submit_result(
        rolled,
        SubmitCoInvestigationResult(request_id=state.request_id, result=CheckResult.CORRECT, submitted_at=at),
        CAL,
        at,
    )
    assert events[0].late and events[0].counted_in_period == "2026-10"
    assert (events[1].kind, events[1].period, events[1].on_time) == (TallyKind.ANSWERED, "2026-10", True)
    # answered or withdrawn items do not roll
    assert q.deadline_fired(done, again, CAL, done.complete_by + timedelta(days=1)).events == []


def counted(state, kind, at, **kw):
    return q.tally(state, kind, at, **kw)


def test_Q02_Q03_the_period_cuts_its_summary_closes_late_items_and_counts_per_agency() -> None:
    t = datetime(2026, 9, 10, 2, tzinfo=UTC)
    a = requested("a", t).state
    b = requested("b", t).state
    c = requested("c", t, treating=CHANGSHA).state
    w = requested("w", t).state
    period, _, armed = pd.count(None, counted(a, TallyKind.OPENED, t), CAL, t)
    assert [(d.kind, d.due_at, d.rule) for d in armed] == [
        (pd.CUT_DUE, at_business_start(date(2026, 9, 26)), "Q-02"),
        (pd.CLOSE_DUE, end_of_business_day(date(2026, 10, 26)), "Q-03"),
    ]
    cut_due, close_due = armed
    for item in (b, c, w):
        period = pd.count(period, counted(item, TallyKind.OPENED, t), CAL, t).state
    period = pd.count(period, counted(w, TallyKind.WITHDRAWN, t), CAL, t).state
    # at 00:00 on the 26th (Mid-Autumn) the table is cut: three rows, the withdrawn one gone
    assert pd.deadline_fired(period, cut_due, CAL, cut_due.due_at - timedelta(seconds=1)).events == []
    period, (summary,), _ = pd.deadline_fired(period, cut_due, CAL, cut_due.due_at)
    assert summary.revision == 1 and {r.request_id for r in summary.rows} == {a.request_id, b.request_id, c.request_id}
    # a: answered on 10-09 (on time), then disputed; b: never answered; c: answered on time
    on = datetime(2026, 10, 9, 2, tzinfo=UTC)
    for step in (
        counted(a, TallyKind.ANSWERED, on, on_time=True),
        counted(a, TallyKind.DISPUTED, on),
        counted(c, TallyKind.ANSWERED, on, on_time=True),
    ):
        period = pd.count(period, step, CAL, on).state
    # at the close b, still open, is late; the statistics are published per agency and role
    period, (stats,), _ = pd.deadline_fired(period, close_due, CAL, close_due.due_at + timedelta(microseconds=1))
    rows = {(r.agency_region, r.role): r for r in stats.rows}
    wuhu, wuhan, changsha = rows[(WUHU, "insured")], rows[(WUHAN, "treating")], rows[(CHANGSHA, "treating")]
    assert (wuhu.opened, wuhu.answered_on_time, wuhu.late, wuhu.withdrawn, wuhu.disputed) == (4, 2, 1, 1, 1)
    assert (wuhan.opened, wuhan.answered_on_time, wuhan.late, wuhan.disputed, wuhan.open) == (3, 1, 1, 1, 0)
    assert (changsha.opened, changsha.answered_on_time, changsha.late) == (1, 1, 0)
    # a step in flight at the close (answered at 23:59 on the 26th, counted after): a new revision
    period, (again,), _ = pd.count(period, counted(b, TallyKind.ANSWERED, on, on_time=True), CAL, on)
    assert again.revision == 2 and {(r.agency_region, r.role): r.late for r in again.rows}[(WUHAN, "treating")] == 0
    # a redelivered step changes nothing
    assert pd.count(period, counted(b, TallyKind.ANSWERED, on, on_time=True), CAL, on).events == []


def test_Q03_the_statistics_export_as_csv_and_xlsx() -> None:
    t = datetime(2026, 9, 10, 2, tzinfo=UTC)
    a = requested("a", t).state
    period = pd.count(None, counted(a, TallyKind.OPENED, t), CAL, t).state
    _, (stats,), _ = pd.deadline_fired(
        period, pd._deadlines(period, CAL)[1], CAL, period.complete_by + timedelta(seconds=1)
    )
    table = list(csv.DictReader(io.StringIO(export.to_csv(stats).decode("utf-8-sig"))))
    assert [(r["agency_region"], r["role"], r["opened"], r["late"]) for r in table] == [
        (WUHU, "insured", "1", "1"),
        (WUHAN, "treating", "1", "1"),
    ]
    sheet = load_workbook(io.BytesIO(export.to_xlsx(stats))).active
    values = list(sheet.values)
    assert sheet.title == "2026-09 r1" and values[0][:3] == ("协查期", "经办机构区划", "角色")
    assert values[2][:7] == ("2026-09", WUHAN, "treating", 1, 0, 0, 1)  # opened, rolled in, on time, late


def test_Q05_confirmation_and_dispute_are_counted_in_the_items_period() -> None:
    t = datetime(2026, 9, 10, 2, tzinfo=UTC)
    state = requested("a", t).state
    state = q.submit_result(
        state,
        SubmitCoInvestigationResult(request_id=state.request_id, result=CheckResult.CORRECT, submitted_at=t),
        CAL,
        t,
    ).state
    out = q.confirm(
        state,
        ConfirmCoInvestigationResult(request_id=state.request_id, agreed=False, comment="金额不符", confirmed_at=t),
        t,
    )
    assert (out.events[1].kind, out.events[1].period) == (TallyKind.DISPUTED, "2026-09")
    withdrawn = q.withdraw(
        requested("b", t).state, WithdrawCoInvestigation(request_id=state.request_id, withdrawn_at=t), t
    )
    assert withdrawn.events[1].kind is TallyKind.WITHDRAWN


def test_Q05_a_dispute_opens_a_discussion_between_the_two_agencies_until_confirmed() -> None:
    t = datetime(2026, 10, 9, 2, tzinfo=UTC)
    state = requested("d", datetime(2026, 9, 10, 2, tzinfo=UTC)).state
    talk = DiscussCoInvestigation(request_id=state.request_id, message="发票金额与结算不符", said_at=t)
    with pytest.raises(ValueError, match="Q-05"):  # nothing to discuss before a dispute
        q.discuss(state, talk, WUHU, t)
    state = q.submit_result(
        state,
        SubmitCoInvestigationResult(request_id=state.request_id, result=CheckResult.CORRECT, submitted_at=t),
        CAL,
        t,
    ).state
    state = q.confirm(
        state,
        ConfirmCoInvestigationResult(request_id=state.request_id, agreed=False, comment="有异议", confirmed_at=t),
        t,
    ).state
    assert state.status is q.CoInvestigationStatus.DISPUTED
    for region in (WUHU, WUHAN):
        q.may_discuss(state, Actor(f"A{region}", region))
    with pytest.raises(Misaddressed) as refused:
        q.may_discuss(state, Actor("A430100", CHANGSHA))
    assert refused.value.rule == "Q-05"
    state, (said,), _ = q.discuss(state, talk, WUHU, t)
    state, (answer,), _ = q.discuss(
        state, talk.model_copy(update={"message": "已复核，金额无误"}), WUHAN, t + timedelta(hours=1)
    )
    assert [(e.by_region, e.message) for e in state.discussion] == [
        (WUHU, "发票金额与结算不符"),
        (WUHAN, "已复核，金额无误"),
    ]
    assert (said.by_region, answer.treating_region) == (WUHU, WUHAN)
    # settled: the insured place confirms the disputed result; the discussion is closed
    done, (confirmed, tallied), _ = q.confirm(
        state,
        ConfirmCoInvestigationResult(request_id=state.request_id, agreed=True, confirmed_at=t),
        t + timedelta(hours=2),
    )
    assert done.status is q.CoInvestigationStatus.CONFIRMED and tallied.kind is TallyKind.CONFIRMED
    with pytest.raises(ValueError, match="Q-05"):
        q.discuss(done, talk, WUHAN, t)


def test_K04_a_disputed_coinvestigation_is_raised_above_the_treating_place_and_counted_escalated() -> None:
    t = datetime(2026, 10, 9, 2, tzinfo=UTC)
    state = requested("e", datetime(2026, 9, 10, 2, tzinfo=UTC)).state
    state = q.submit_result(
        state,
        SubmitCoInvestigationResult(request_id=state.request_id, result=CheckResult.CORRECT, submitted_at=t),
        CAL,
        t,
    ).state

    def raise_to(target: str, requester: str = WUHU) -> OpenCollabRequest:
        return OpenCollabRequest(
            request_ref="up",
            requester_region=requester,
            target_region=target,
            matter="协查结果有异议",
            problem_type=ProblemType.OTHER,
            escalated_from=state.request_id,
            opened_at=t,
        )

    with pytest.raises(ValueError, match="K-04"):  # answered, not disputed: nothing to raise
        k.may_escalate_coinvestigation(raise_to("420000"), state, "420000", Actor("A340200", WUHU))
    state = q.confirm(
        state,
        ConfirmCoInvestigationResult(request_id=state.request_id, agreed=False, comment="有异议", confirmed_at=t),
        t,
    ).state
    k.may_escalate_coinvestigation(raise_to("420000"), state, "420000", Actor("A340200", WUHU))  # Hubei
    for cmd, actor, reason in [
        (raise_to("340000"), Actor("A340200", WUHU), RefusalReason.UNAUTHORIZED),  # not Wuhan's parent
        (raise_to("420000"), Actor("A420100", WUHAN), RefusalReason.UNAUTHORIZED),  # the other side
        (raise_to("420000", CHANGSHA), Actor("A430100", CHANGSHA), RefusalReason.NOT_ADDRESSED),
    ]:
        with pytest.raises(Misaddressed) as refused:
            k.may_escalate_coinvestigation(cmd, state, "420000", actor)
        assert (refused.value.reason, refused.value.rule) == (reason, "K-04")
    period = pd.count(None, q.tally(state, TallyKind.OPENED, t), CAL, t).state
    period = pd.count(period, q.tally(state, TallyKind.ESCALATED, t), CAL, t).state
    assert {(r.agency_region, r.role): r.escalated for r in pd.statistics(period)} == {
        (WUHU, "insured"): 1,
        (WUHAN, "treating"): 1,
    }


def test_Q02_a_request_is_edited_only_before_the_cut_by_receipt_time_and_only_by_its_insured_place() -> None:
    state = requested("m", datetime(2026, 9, 24, 2, tzinfo=UTC)).state  # period 2026-09
    edit = AmendCoInvestigation(
        request_id=state.request_id,
        name="张三",
        sex=Sex.MALE,
        stay=stay().model_copy(update={"invoice_no": "I2"}),
        amended_at=state.cut_at,
    )
    before = state.cut_at - timedelta(seconds=1)  # 23:59:59 on 25 Sep
    amended, (event,), _ = q.amend(state, edit, before)
    assert (amended.revision, event.revision, event.stay.invoice_no, event.period) == (2, 2, "I2", "2026-09")
    with pytest.raises(ValueError, match="Q-02"):  # 00:00 on the 26th: cut
        q.amend(amended, edit, state.cut_at)
    q.may_amend(state, Actor("A340200", WUHU))
    with pytest.raises(Misaddressed) as refused:
        q.may_amend(state, Actor("A420100", WUHAN))
    assert (refused.value.reason, refused.value.rule) == (RefusalReason.UNAUTHORIZED, "Q-02")
