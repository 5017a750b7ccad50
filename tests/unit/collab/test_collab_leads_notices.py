"""K-05 leads (received → investigating → result, with deadlines) and K-06 notices, across
National Day 2026: the calendar (holidays 0.109, the State Council notice) has 10-01..10-07 off,
Thu 10-08 working and Sat 10-10 a make-up working day (the issue said 10-01..10-08)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from contracts.collab import (
    HandOverLead,
    LeadOutcome,
    LeadSubject,
    NoticeKind,
    PublishNotice,
    ReportLeadResult,
    TakeUpLead,
)
from contracts.parties import RefusalReason
from contracts.values import make_person_id
from runtime.calendar import default_calendar, end_of_business_day
from runtime.parties import ParticipantRegistry
from services.collab.authority import AUTHORITY
from services.collab.domain import leads as k05
from services.collab.domain import notices as k06
from services.collab.domain.addressing import Actor, Misaddressed

CAL = default_calendar()
T0 = datetime(2026, 9, 30, 2, tzinfo=UTC)  # Wed 10:00 Shanghai, before National Day
PID = make_person_id("34020219600101123")


def lead_cmd(subject=LeadSubject.INSTITUTION, institution="H42010200001") -> HandOverLead:
    return HandOverLead(
        lead_ref="L1",
        insured_region="340200",
        treating_region="420100",
        subject=subject,
        person_id=PID,
        institution_code=institution,
        description="疑似分解住院",
        handed_over_at=T0,
    )


def test_K05_a_lead_is_received_taken_up_and_answered_with_deadlines_across_national_day() -> None:
    lead, (received,), (due,) = k05.hand_over(lead_cmd(), CAL, T0)
    # take up within 10 working days of Wed 30 Sep: Oct 8, 9, 10 (make-up Saturday), 12..16, 19, 20
    assert received.take_up_by == due.due_at == end_of_business_day(date(2026, 10, 20))
    assert (due.kind, due.rule) == (k05.TAKE_UP_DUE, "K-05") and lead.status is k05.LeadStatus.RECEIVED
    assert "疑似" not in lead.model_dump_json() and str(PID) not in lead.model_dump_json()  # kept only on the event
    # not taken up in time: reported once
    assert k05.deadline_fired(lead, due, CAL, lead.take_up_by).deadlines == [due]
    lead, (overdue,), _ = k05.deadline_fired(lead, due, CAL, lead.take_up_by + timedelta(seconds=1))
    assert overdue.stage == "received"
    assert k05.deadline_fired(lead, due, CAL, lead.take_up_by + timedelta(days=1)).events == []
    at = datetime(2026, 10, 21, 2, tzinfo=UTC)
    lead, (investigating,), (result_due,) = k05.take_up(lead, TakeUpLead(lead_id=lead.lead_id, taken_up_at=at), CAL, at)
    assert investigating.late and lead.status is k05.LeadStatus.INVESTIGATING
    assert result_due.kind == k05.RESULT_DUE and result_due.due_at == CAL.deadline(at, k05.RESULT_WORKING_DAYS)
    lead, (result,), _ = k05.report(
        lead, ReportLeadResult(lead_id=lead.lead_id, outcome=LeadOutcome.CONFIRMED, findings="查实", reported_at=at), at
    )
    assert lead.status is k05.LeadStatus.RESULT and not result.late
    assert k05.deadline_fired(lead, result_due, CAL, result_due.due_at + timedelta(days=1)).events == []


def test_K05_a_result_needs_the_lead_taken_up_and_only_the_treating_place_acts() -> None:
    lead = k05.hand_over(lead_cmd(), CAL, T0).state
    with pytest.raises(ValueError, match="K-05"):
        k05.report(
            lead,
            ReportLeadResult(lead_id=lead.lead_id, outcome=LeadOutcome.NOT_CONFIRMED, findings="x", reported_at=T0),
            T0,
        )
    k05.may_act(lead, Actor("A420100", "420100"))
    for code, region, reason in [
        ("A340200", "340200", RefusalReason.UNAUTHORIZED),
        ("A420000", "420000", RefusalReason.NOT_ADDRESSED),
    ]:
        with pytest.raises(Misaddressed) as refused:
            k05.may_act(lead, Actor(code, region))
        assert refused.value.reason is reason and refused.value.rule == "K-05"


def test_K05_a_lead_about_an_institution_names_it() -> None:
    with pytest.raises(ValidationError, match="K-05"):
        lead_cmd(institution=None)
    assert lead_cmd(LeadSubject.INSURED_PERSON, institution=None).institution_code is None


@pytest.fixture(scope="module")
def registry() -> ParticipantRegistry:
    return ParticipantRegistry.load()


def notice(publisher: str = "A420100", **kw) -> PublishNotice:
    return PublishNotice(
        **{
            "notice_ref": "N1",
            "publisher": publisher,
            "kind": NoticeKind.PLANNED_OUTAGE,
            "title": "系统停机",
            "body": "10月1日0时至6时停机升级",
            "effective_from": datetime(2026, 9, 30, 16, tzinfo=UTC),
            "effective_until": datetime(2026, 9, 30, 22, tzinfo=UTC),
            "published_at": T0,
            **kw,
        }
    )


def test_K06_a_notice_is_published_once_and_in_its_publishers_name_only(registry) -> None:
    out = k06.publish(None, notice(), T0)
    (event,) = out.events
    assert (event.publisher, event.kind, event.received_at) == ("A420100", NoticeKind.PLANNED_OUTAGE, T0)
    assert k06.publish(out.state, notice(), T0) is None  # the same reference: nothing
    rule = AUTHORITY.rules["collab.publish-notice.v1"]
    assert rule(registry.get("A420100"), notice(), registry, T0) is None
    assert rule(registry.get("A000000"), notice("A000000"), registry, T0) is None  # the national level too
    assert rule(registry.get("A420000"), notice(), registry, T0).reason is RefusalReason.UNAUTHORIZED
    assert rule(registry.get("H42010200001"), notice(), registry, T0).reason is RefusalReason.UNAUTHORIZED


def test_K06_a_planned_outage_gives_its_window() -> None:
    with pytest.raises(ValidationError, match="K-06"):
        notice(effective_until=None)
    with pytest.raises(ValidationError, match="K-06"):
        notice(effective_until=datetime(2026, 9, 29, tzinfo=UTC))
    assert notice(kind=NoticeKind.POLICY, effective_from=None, effective_until=None).kind is NoticeKind.POLICY
