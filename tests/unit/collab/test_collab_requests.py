"""K-01..K-04: reply deadlines by problem type on working days, extension, silent confirmation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.collab import (
    AcceptCollabExtension,
    CollabReplyOverdue,
    ConfirmCollabResult,
    OpenCollabRequest,
    ProblemType,
    ProposeCollabExtension,
    ReplyCollabRequest,
    ResultConfirmedBy,
)
from runtime.calendar import business_date, default_calendar, end_of_business_day
from services.collab.domain import requests as k

CAL = default_calendar()
T0 = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wednesday 10:00 Shanghai, before National Day


def opened(problem: ProblemType, at: datetime = T0):
    cmd = OpenCollabRequest(
        request_ref="r1",
        requester_region="340200",
        target_region="420100",
        matter="m",
        problem_type=problem,
        opened_at=at,
    )
    return k.open_request(cmd, CAL, at)


@pytest.mark.parametrize(
    "problem, due",
    [
        (ProblemType.SYSTEM_FAULT, date(2026, 10, 8)),
        (ProblemType.FILING, date(2026, 10, 9)),
        (ProblemType.OTHER, date(2026, 10, 20)),
    ],
)
def test_reply_deadline_by_type_across_national_day(problem: ProblemType, due: date) -> None:
    out = opened(problem)
    assert out.events[0].reply_by == end_of_business_day(due)
    assert out.deadlines[0].due_at == end_of_business_day(due) and out.deadlines[0].rule == "K-02"


def test_overdue_once_then_reply_late_and_silent_confirmation() -> None:
    req, _, (due,) = opened(ProblemType.FILING)
    assert k.deadline_fired(req, due, CAL, req.reply_by).events == []
    req, events, _ = k.deadline_fired(req, due, CAL, req.reply_by + timedelta(seconds=1))
    assert isinstance(events[0], CollabReplyOverdue)
    assert k.deadline_fired(req, due, CAL, req.reply_by + timedelta(days=1)).events == []
    replied_at = req.reply_by + timedelta(hours=10)
    req, events, (confirm_due,) = k.reply(
        req, ReplyCollabRequest(request_id=req.request_id, result="fixed", replied_at=replied_at), CAL, replied_at
    )
    assert events[0].late and confirm_due.rule == "K-04"
    # replied Sat 2026-10-10 (a make-up working day): 10 working days → Fri 2026-10-23
    assert business_date(replied_at) == date(2026, 10, 10)
    assert events[0].confirm_by == end_of_business_day(date(2026, 10, 23))
    req, events, _ = k.deadline_fired(req, confirm_due, CAL, events[0].confirm_by + timedelta(seconds=1))
    assert events[0].by is ResultConfirmedBy.SILENCE


def extended(req, days: int = 2, at: datetime = T0):
    """K-03: the target proposes, the requester accepts."""
    proposed = k.propose_extension(
        req,
        ProposeCollabExtension(request_id=req.request_id, extra_working_days=days, reason="需医院核实", proposed_at=at),
        CAL,
        at,
    )
    return proposed, k.accept_extension(
        proposed.state, AcceptCollabExtension(request_id=req.request_id, answered_at=at), CAL, at
    )


def test_K03_an_extension_moves_the_deadline_only_when_the_requester_accepts() -> None:
    req, _, _ = opened(ProblemType.SYSTEM_FAULT)  # reply by Thu 2026-10-08 (National Day)
    (proposed, events, armed), accepted = extended(req)
    # proposed: Oct 8 + 2 working days = Sat Oct 10 (make-up day); the deadline in force stays Oct 8
    assert proposed.reply_by == req.reply_by == end_of_business_day(date(2026, 10, 8)) and armed == []
    assert events[0].proposed_reply_by == end_of_business_day(date(2026, 10, 10))
    assert proposed.proposed_extension == 2
    new, events, (due,) = accepted
    assert new.reply_by == events[0].reply_by == due.due_at == end_of_business_day(date(2026, 10, 10))
    assert due.rule == "K-03" and new.proposed_extension is None and new.extensions == 1
    # accepting twice, or with nothing proposed, is refused (a rule: REFUSED_BY_RULE to the sender)
    with pytest.raises(ValueError, match="K-03"):
        k.accept_extension(new, AcceptCollabExtension(request_id=req.request_id, answered_at=T0), CAL, T0)


def test_K03_a_declined_extension_changes_nothing_and_a_replied_request_is_not_extended() -> None:
    req, _, _ = opened(ProblemType.FILING)
    proposed = k.propose_extension(
        req,
        ProposeCollabExtension(request_id=req.request_id, extra_working_days=3, reason="r", proposed_at=T0),
        CAL,
        T0,
    ).state
    declined, events, armed = k.accept_extension(
        proposed,
        AcceptCollabExtension(request_id=req.request_id, accepted=False, comment="请按期回复", answered_at=T0),
        CAL,
        T0,
    )
    assert declined.reply_by == req.reply_by and armed == [] and events[0].comment == "请按期回复"
    replied = k.reply(req, ReplyCollabRequest(request_id=req.request_id, result="x", replied_at=T0), CAL, T0).state
    with pytest.raises(ValueError, match="K-03"):
        k.propose_extension(
            replied,
            ProposeCollabExtension(request_id=req.request_id, extra_working_days=1, reason="r", proposed_at=T0),
            CAL,
            T0,
        )


def test_K03_the_agencies_the_target_lists_are_told_and_see_the_request() -> None:
    req, _, _ = opened(ProblemType.OTHER)
    new, events, _ = k.reply(
        req,
        ReplyCollabRequest(
            request_id=req.request_id,
            result="需湖北省协助",
            replied_at=T0,
            other_agencies=["420000", "430100", "420000", "340200"],
        ),
        CAL,
        T0,
    )  # duplicates and the requester dropped
    told = events[1:]
    assert [(e.agency_region, e.matter, e.result) for e in told] == [
        ("420000", "m", "需湖北省协助"),
        ("430100", "m", "需湖北省协助"),
    ]
    assert new.other_agencies == ("420000", "430100")


def test_extension_and_dispute() -> None:
    req, _, _ = opened(ProblemType.SYSTEM_FAULT)
    _, (req, events, _) = extended(req)
    assert events[0].reply_by == end_of_business_day(date(2026, 10, 10))  # Oct 8 + 2 wd (make-up Saturday)
    req = k.reply(req, ReplyCollabRequest(request_id=req.request_id, result="x", replied_at=T0), CAL, T0).state
    req, events, _ = k.confirm_result(
        req, ConfirmCollabResult(request_id=req.request_id, accepted=False, comment="unresolved", confirmed_at=T0), T0
    )
    assert req.status is k.RequestStatus.DISPUTED and events[0].comment == "unresolved"


def test_request_id_is_deterministic() -> None:
    assert opened(ProblemType.OTHER).state.request_id == opened(ProblemType.OTHER).state.request_id


@settings(max_examples=40, deadline=None)
@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(UTC)),
    st.sampled_from(list(ProblemType)),
)
def test_reply_deadline_counts_exactly_the_working_days(at: datetime, problem: ProblemType) -> None:
    reply_by = opened(problem, at).state.reply_by
    start, end = business_date(at), business_date(reply_by)
    assert CAL.working_days_between(start, end) == k.REPLY_WORKING_DAYS[problem]
    assert CAL.is_working_day(end)
