"""One handler at a time, on the in-memory store (``runtime.memory``): an agency's command in, the
stored item, the messages the agencies read and the deadlines armed out (K-01..K-04, Q-01..Q-03),
in milliseconds. The handlers are the service's own (``services/collab/handlers.py`` ``registry``,
built by ``collab_support.Collab``); the same story over the wire, across Mid-Autumn and National
Day, is ``tests/integration/test_collab_wire.py``'s.

Wuhu A340200 (insured place, requester), Wuhan A420100 (treating place, target), Changsha A430100
a third agency; the clock stands at Wed 30 Sep 2026 10:00, the day before National Day.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from contracts.collab import (
    ConfirmCollabResult,
    OpenCollabRequest,
    ProblemType,
    ReplyCollabRequest,
    RequestCoInvestigation,
    Sex,
    StayDetails,
)
from contracts.parties import RefusalReason
from contracts.values import make_person_id, money
from runtime.calendar import at_business_start, end_of_business_day
from runtime.failures import PoisonMessage
from runtime.query import SignedQuery
from services.collab import query_lists as lists
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import periods
from services.collab.domain import requests as req

from .collab_support import PARTIES, SEPT_30, Collab

WUHU, WUHAN, CHANGSHA = "340200", "420100", "430100"
A_WUHU, A_WUHAN, A_CHANGSHA = "A340200", "A420100", "A430100"
OPEN = "collab.open-request.v1"
REPLY = "collab.reply-request.v1"
DUE = "collab.deadline-due.v1"
RID = req.request_id_for(WUHU, "wuhu-2026-0930-1")


def filing_problem() -> OpenCollabRequest:
    return OpenCollabRequest(
        request_ref="wuhu-2026-0930-1",
        requester_region=WUHU,
        target_region=WUHAN,
        matter="备案信息未同步至就医地",
        problem_type=ProblemType.FILING,
        opened_at=SEPT_30,
    )


def reply(at=SEPT_30) -> ReplyCollabRequest:
    return ReplyCollabRequest(request_id=RID, result="已重新同步备案", replied_at=at)


async def opened() -> Collab:
    collab = Collab()
    assert await collab.send(OPEN, filing_problem(), A_WUHU) == "applied"
    return collab


async def test_K01_K02_an_opened_request_is_stored_announced_and_its_reply_deadline_armed():
    """K-01: Wuhu asks Wuhan about a filing problem; K-02: a filing problem is answered within 2
    working days of receipt, National Day (1..7 Oct) not counted: by the end of Fri 9 Oct."""
    collab = await opened()
    reply_by = end_of_business_day(date(2026, 10, 9))
    stored = collab.state("requests", RID)
    assert (stored["status"], stored["requester_region"], stored["target_region"]) == ("open", WUHU, WUHAN)
    assert stored["reply_by"] == reply_by.isoformat()
    [(topic, announced)] = collab.published()
    assert topic == "collab.request-opened.v1"
    assert (announced["request_id"], announced["reply_by"]) == (str(RID), reply_by.isoformat())
    [armed] = collab.store.deadlines.values()
    assert (armed.schedule.topic, armed.schedule.due_at) == (DUE, reply_by)
    assert (armed.schedule.payload.kind, armed.schedule.payload.rule) == (req.REPLY_DUE, "K-02")
    assert collab.metrics.opened.labels("collab")._value.get() == 1


async def test_a_copy_of_the_same_command_changes_nothing():
    """Redelivery: the request's inbox knows the event id; nothing is decided, stored, sent or armed
    again. The same command sent again (a new event id) finds the request stored and opens none: the
    request is counted opened once (``yidi_collab_opened_total``)."""
    collab = Collab()
    env = collab.envelope(OPEN, filing_problem(), A_WUHU)
    await collab.handle(env)
    before = (collab.state("requests", RID), len(collab.store.published), dict(collab.store.deadlines))
    assert await collab.handle(env) == "duplicate"
    assert (collab.state("requests", RID), len(collab.store.published), dict(collab.store.deadlines)) == before
    await collab.send(OPEN, filing_problem(), A_WUHU)
    assert (collab.state("requests", RID), len(collab.store.published)) == before[:2]
    assert collab.metrics.opened.labels("collab")._value.get() == 1


@pytest.mark.parametrize(
    "sender, reason", [(A_CHANGSHA, RefusalReason.NOT_ADDRESSED), (A_WUHU, RefusalReason.UNAUTHORIZED)]
)
async def test_K03_only_the_target_replies_another_agency_hears_why_and_nothing_is_stored(sender, reason):
    """K-03: the receiver is first responder. Changsha, which the request does not name, hears
    NOT_ADDRESSED; Wuhu, its requester (the other side), hears UNAUTHORIZED; both through the
    service's refusal channel (``party.refused.v1``), naming rule K-03; the request is as it was."""
    collab = await opened()
    before, mark = collab.state("requests", RID), len(collab.store.published)
    assert await collab.send(REPLY, reply(), sender) == "refused"
    [(topic, env, refusal)] = collab.refusals
    assert (topic, env.sender, refusal.reason, refusal.rule) == (REPLY, sender, reason, "K-03")
    assert collab.state("requests", RID) == before and collab.published(since=mark) == []


async def test_K03_a_reply_to_an_unknown_request_is_refused_by_rule():
    """K-03: a reply names a request that was never opened: refused by the rule (the runtime answers an
    agency REFUSED_BY_RULE on ``party.refused.v1``, dead-letters a service's message), nothing stored."""
    collab = Collab()
    with pytest.raises(PoisonMessage) as refused:
        await collab.send(REPLY, reply(), A_WUHAN)
    assert refused.value.reason == "refused_by_rule" and str(RID) in str(refused.value)
    assert collab.store.state("requests", str(RID)) is None and collab.published() == []


async def test_K02_the_reply_deadline_reports_an_unanswered_request_overdue_once():
    """K-02: Wuhan has not replied by the end of Fri 9 Oct; when the armed deadline fires, both sides
    read ``collab.reply-overdue.v1``; the same firing again changes nothing."""
    collab = await opened()
    [fired] = collab.store.due()
    collab.clock = end_of_business_day(date(2026, 10, 9)) + timedelta(seconds=1)
    mark = len(collab.store.published)
    assert await collab.handle(fired) == "applied"
    [(topic, overdue)] = collab.published(since=mark)
    assert (topic, overdue["request_id"], overdue["target_region"]) == ("collab.reply-overdue.v1", str(RID), WUHAN)
    assert collab.state("requests", RID)["overdue_reported"] is True
    assert await collab.handle(fired) == "duplicate" and len(collab.store.published) == mark + 1


async def test_K03_K04_the_target_replies_the_confirmation_is_armed_and_the_requester_confirms():
    """K-03: Wuhan replies on time (Fri 9 Oct); K-04: Wuhu has 10 working days to confirm, counted from
    receipt (Sat 10 Oct a make-up working day): by the end of Thu 22 Oct; Wuhu confirms itself."""
    collab = await opened()
    collab.clock = at_business_start(date(2026, 10, 9)) + timedelta(hours=9)
    assert await collab.send(REPLY, reply(collab.clock), A_WUHAN) == "applied"
    confirm_by = end_of_business_day(date(2026, 10, 22))
    stored = collab.state("requests", RID)
    assert (stored["status"], stored["confirm_by"]) == ("replied", confirm_by.isoformat())
    [(topic, replied)] = collab.published(since=1)
    assert (topic, replied["late"], replied["confirm_by"]) == (
        "collab.request-replied.v1",
        False,
        confirm_by.isoformat(),
    )
    confirm = next(a for a in collab.store.deadlines.values() if a.schedule.payload.kind == req.CONFIRM_DUE)
    assert (confirm.schedule.due_at, confirm.schedule.payload.rule) == (confirm_by, "K-04")

    assert (
        await collab.send(
            "collab.confirm-result.v1",
            ConfirmCollabResult(request_id=RID, accepted=True, confirmed_at=collab.clock),
            A_WUHU,
        )
        == "applied"
    )
    assert collab.state("requests", RID)["status"] == "confirmed"
    [(topic, confirmed)] = collab.published(since=2)
    assert (topic, confirmed["by"]) == ("collab.result-confirmed.v1", "requester")


async def test_K03_the_request_is_in_the_targets_inbox_with_the_actions_it_may_take():
    """K-03: Wuhan's inbox lists the open request by its reply deadline with what it may do (reply,
    propose an extension); it is in Wuhu's outbox, and in no box of Changsha, which it does not name."""
    collab = await opened()

    async def box(agency: str, name: str) -> list[dict]:
        body, _, _ = await collab.queries.requests(SignedQuery(PARTIES.get(agency), lists.REQUESTS_PATH, {"box": name}))
        return json.loads(body)

    [row] = await box(A_WUHAN, "inbox")
    assert (row["request_id"], row["actions"], row["overdue"]) == (str(RID), ["reply", "propose_extension"], False)
    assert row["due_at"] == end_of_business_day(date(2026, 10, 9)).isoformat()
    assert [r["request_id"] for r in await box(A_WUHU, "outbox")] == [str(RID)]
    assert await box(A_CHANGSHA, "inbox") == [] and await box(A_WUHAN, "outbox") == []


async def test_Q01_Q02_a_coinvestigation_joins_its_period_which_arms_its_cut_and_close():
    """Q-01: Wuhu asks Wuhan to check a stay on 30 Sep, which falls in period 2026-10 (Q-02: 26 Sep to
    25 Oct); the item is stored and announced, with its Q-03 completion deadline (end of 26 Nov)
    armed; its tally, handled in turn, opens the period, which arms the cut (00:00 26 Oct, Q-02) and
    the close (Q-03)."""
    collab = Collab()
    stay = StayDetails(
        person_id=make_person_id("34020219600101123"),
        institution="H42010200001",
        admission_no="ZY1",
        invoice_no="FP1",
        admission_date=date(2026, 9, 1),
        discharge_date=date(2026, 9, 20),
        total=money("36000.00"),
    )
    assert (
        await collab.send(
            "collab.request-coinvestigation.v1",
            RequestCoInvestigation(
                request_ref="q-1",
                insured_region=WUHU,
                treating_region=WUHAN,
                name="张三",
                sex=Sex.MALE,
                stay=stay,
                requested_at=SEPT_30,
            ),
            A_WUHU,
        )
        == "applied"
    )
    qid = coinv.request_id_for(WUHU, "q-1")
    complete_by = end_of_business_day(date(2026, 11, 26))
    stored = collab.state("coinvestigations", qid)
    assert (stored["status"], stored["period"], stored["complete_by"]) == (
        "requested",
        "2026-10",
        complete_by.isoformat(),
    )
    [(requested_topic, requested), (counted_topic, _)] = collab.published()
    assert (requested_topic, counted_topic) == (
        "collab.coinvestigation-requested.v1",
        "collab.coinvestigation-counted.v1",
    )
    assert requested["complete_by"] == complete_by.isoformat()
    [rollover] = collab.store.deadlines.values()
    assert (rollover.schedule.due_at, rollover.schedule.payload.rule) == (complete_by, "Q-03")

    assert await collab.handle(collab.store.published[1]) == "applied"
    period = collab.state("periods", periods.period_key("2026-10"))
    assert list(period["items"]) == [str(qid)]
    armed = {a.schedule.payload.kind: a.schedule for a in collab.store.deadlines.values()}
    assert armed[periods.CUT_DUE].due_at == at_business_start(date(2026, 10, 26))
    assert armed[periods.CLOSE_DUE].due_at == complete_by


async def test_K06_a_notice_published_twice_is_stored_announced_and_counted_once():
    """K-06: once per (publisher, reference): the same notice sent again finds it stored, announces
    nothing and is not counted again in ``yidi_collab_opened_total``."""
    from datetime import UTC, datetime

    from contracts.collab import NoticeKind, PublishNotice

    collab = Collab()
    notice = PublishNotice(
        notice_ref="N1",
        publisher=A_WUHU,
        kind=NoticeKind.PLANNED_OUTAGE,
        title="系统停机",
        body="10月1日0时至6时停机升级",
        effective_from=datetime(2026, 9, 30, 16, tzinfo=UTC),
        effective_until=datetime(2026, 9, 30, 22, tzinfo=UTC),
        published_at=SEPT_30,
    )
    await collab.send("collab.publish-notice.v1", notice, A_WUHU)
    mark = len(collab.store.published)
    await collab.send("collab.publish-notice.v1", notice, A_WUHU)
    assert len(collab.store.published) == mark == 1
    assert collab.metrics.opened.labels("notice")._value.get() == 1
