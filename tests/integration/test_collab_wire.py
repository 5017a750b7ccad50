"""Collaboration over the wire across Mid-Autumn and National Day 2026 (K-03, K-04, K-05, K-06,
Q-02, Q-03): the collab service runs as its own process, every command signed by a registry agency.

Calendar (runtime/calendar.py, holidays 0.109 with the State Council notice): Mid-Autumn Fri 25 to
Sun 27 Sep off; Sun 20 Sep a make-up working day; National Day Thu 1 to Wed 7 Oct off, Thu 8 Oct
working, Sat 10 Oct a make-up working day. Agencies: Wuhu A340200 (insured place, requester),
Wuhan A420100 (treating place, target), its parent Hubei A420000, Changsha A430100 a third agency.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from support import Bus, ServiceProcess, eventually, new_prefix

from contracts.collab import (
    AcceptCollabExtension,
    AmendCoInvestigation,
    CheckResult,
    CoInvestigationStatistics,
    ConfirmCoInvestigationResult,
    DiscussCoInvestigation,
    HandOverLead,
    LeadOutcome,
    LeadSubject,
    NoticeKind,
    OpenCollabRequest,
    ProblemType,
    ProposeCollabExtension,
    PublishNotice,
    ReplyCollabRequest,
    ReportLeadResult,
    RequestCoInvestigation,
    Sex,
    StayDetails,
    SubmitCoInvestigationResult,
    TakeUpLead,
)
from contracts.values import SHANGHAI, make_person_id, money
from services.collab import export, query
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import leads, notices
from services.collab.domain import requests as req

pytestmark = pytest.mark.integration

WUHU, WUHAN, HUBEI, CHANGSHA = "340200", "420100", "420000", "430100"
A_WUHU, A_WUHAN, A_HUBEI, A_CHANGSHA = "A340200", "A420100", "A420000", "A430100"
PID = make_person_id("34020219600101123")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


class Collab:
    def __init__(self, bus: Bus, proc: ServiceProcess) -> None:
        self.bus, self.proc = bus, proc

    async def set_clock(self, when: datetime) -> None:
        await self.bus.set_clock(when)

        def there() -> bool:
            seen = self.proc.business_time()
            return when - timedelta(seconds=1) <= seen <= self.bus.business_now() + timedelta(seconds=1)

        await eventually(there, timeout=30)

    async def send(self, topic: str, payload, sender: str):
        return await self.bus.publish(topic, payload, producer="agency:test", sender=sender)

    async def events(self, topic: str, match, count: int = 1, timeout: float = 30) -> list[dict]:
        """The payloads on ``topic`` that ``match``, once there are ``count`` of them."""
        found = await self.bus.read(
            topic, lambda ms: sum(bool(match(m["payload"])) for m in ms) >= count, timeout=timeout
        )
        return [m["payload"] for m in found if match(m["payload"])]

    async def one(self, topic: str, **fields) -> dict:
        [found] = await self.events(
            topic,
            lambda p: all(p.get(k) == str(v) if isinstance(v, uuid.UUID) else p.get(k) == v for k, v in fields.items()),
        )
        return found

    def get(self, path: str, agency: str, **params: str) -> tuple[int, bytes]:
        """A signed query to the service's HTTP port (services/collab/query.py)."""
        return self.proc.get(*query.sign_request(self.bus.signer(agency), path, at=self.bus.business_now(), **params))

    async def refused(self, topic: str, payload, sender: str) -> dict:
        sent = await self.send(topic, payload, sender)
        [refusal] = await self.events("party.refused.v1", lambda p: p["refused_event_id"] == str(sent.event_id))
        return refusal


@pytest.fixture(scope="module")
async def collab(stack):
    prefix = new_prefix(stack, "collab-wire")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(2026, 9, 24, 10))
        proc = ServiceProcess(stack, "collab", prefix).start(wait=False)
        try:
            await asyncio.to_thread(proc.wait_healthy)
            yield Collab(bus, proc)
        finally:
            proc.stop()


def stay(n: int) -> StayDetails:
    return StayDetails(
        person_id=PID,
        institution="H42010200001",
        admission_no=f"ZY{n}",
        invoice_no=f"FP{n}",
        admission_date=at(2026, 9, 1).date(),
        discharge_date=at(2026, 9, 20).date(),
        total=money("36000.00"),
    )


def n(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


# ================================================================ Q-02, Q-03
async def test_Q02_Q03_the_summary_is_cut_an_unanswered_item_rolls_over_and_counts_late(collab):
    """Thu 24 Sep: Wuhu asks Wuhan to check two stays (period 2026-09) and corrects one. At 00:00
    Sat 26 Sep (Mid-Autumn) the summary is cut with both; a correction is now refused (Q-02).
    Wuhan answers one on Mon 12 Oct; Wuhu disputes it, the two discuss (Q-05) and Wuhu raises it
    to Hubei, the registry parent of Wuhan (K-04). The other is still unanswered at the end of
    Mon 26 Oct (Q-03 "次月26日前", the 26th included): at that moment it rolls into 2026-10 with
    the end of 26 Nov as its deadline, and 2026-09's statistics count Wuhan one on time, one late,
    one disputed, one escalated; exported as CSV."""
    await collab.set_clock(at(2026, 9, 24, 10))
    refs = [n("q-answered"), n("q-silent")]
    for i, ref in enumerate(refs):
        await collab.send(
            "collab.request-coinvestigation.v1",
            RequestCoInvestigation(
                request_ref=ref,
                insured_region=WUHU,
                treating_region=WUHAN,
                name="张三",
                sex=Sex.MALE,
                stay=stay(i),
                requested_at=collab.bus.business_now(),
            ),
            A_WUHU,
        )
    answered, silent = (coinv.request_id_for(WUHU, ref) for ref in refs)
    requested = await collab.one("collab.coinvestigation-requested.v1", request_id=silent)
    assert requested["period"] == "2026-09"
    assert datetime.fromisoformat(requested["complete_by"]) == at(2026, 10, 26, 23, 59, 59, 999999)
    edit = AmendCoInvestigation(
        request_id=silent,
        name="张三",
        sex=Sex.MALE,
        stay=stay(1).model_copy(update={"invoice_no": "FP1-corrected"}),
        amended_at=collab.bus.business_now(),
    )
    await collab.send("collab.amend-coinvestigation.v1", edit, A_WUHU)
    amended = await collab.one("collab.coinvestigation-amended.v1", request_id=silent)
    assert (amended["revision"], amended["stay"]["invoice_no"]) == (2, "FP1-corrected")

    await collab.set_clock(at(2026, 9, 26, 0, 0, 5))
    [summary] = await collab.events(
        "collab.coinvestigation-summary.v1",
        lambda p: p["period"] == "2026-09" and str(silent) in {r["request_id"] for r in p["rows"]},
    )
    assert {str(answered), str(silent)} <= {r["request_id"] for r in summary["rows"]}
    assert datetime.fromisoformat(summary["cut_at"]) == at(2026, 9, 26)
    late_edit = await collab.refused(
        "collab.amend-coinvestigation.v1", edit.model_copy(update={"amended_at": collab.bus.business_now()}), A_WUHU
    )
    assert late_edit["reason"] == "REFUSED_BY_RULE" and "Q-02" in late_edit["message"]

    await collab.set_clock(at(2026, 10, 12, 10))
    await collab.send(
        "collab.submit-coinvestigation-result.v1",
        SubmitCoInvestigationResult(
            request_id=answered, result=CheckResult.CORRECT, submitted_at=collab.bus.business_now()
        ),
        A_WUHAN,
    )
    result = await collab.one("collab.coinvestigation-result.v1", request_id=answered)
    assert not result["late"] and result["counted_in_period"] == "2026-09"
    assert result["result"] == "correct"  # 核查无误, recorded as the treating side said
    # disputed, discussed by both sides, then K-04: raised to Hubei with its own deadline
    await collab.send(
        "collab.confirm-coinvestigation.v1",
        ConfirmCoInvestigationResult(
            request_id=answered, agreed=False, comment="住院天数不符", confirmed_at=collab.bus.business_now()
        ),
        A_WUHU,
    )
    await collab.one("collab.coinvestigation-confirmed.v1", request_id=answered)
    for who, words in ((A_WUHU, "住院天数与病案不符"), (A_WUHAN, "已调取病案，天数无误")):
        await collab.send(
            "collab.discuss-coinvestigation.v1",
            DiscussCoInvestigation(request_id=answered, message=words, said_at=collab.bus.business_now()),
            who,
        )
    discussion = await collab.events(
        "collab.coinvestigation-discussed.v1", lambda p: p["request_id"] == str(answered), count=2
    )
    assert [d["by_region"] for d in discussion] == [WUHU, WUHAN]
    outsider = await collab.refused(
        "collab.discuss-coinvestigation.v1",
        DiscussCoInvestigation(request_id=answered, message="x", said_at=collab.bus.business_now()),
        A_CHANGSHA,
    )
    assert (outsider["reason"], outsider["rule"]) == ("NOT_ADDRESSED", "Q-05")
    up = n("q-up")
    await collab.send(
        "collab.open-request.v1",
        OpenCollabRequest(
            request_ref=up,
            requester_region=WUHU,
            target_region=HUBEI,
            matter="协查结果有异议，请湖北省协调",
            problem_type=ProblemType.OTHER,
            escalated_from=answered,
            opened_at=collab.bus.business_now(),
        ),
        A_WUHU,
    )
    raised = await collab.one("collab.request-opened.v1", request_id=req.request_id_for(WUHU, up))
    # K-02 "other": 10 working days from Mon 12 Oct → Mon 26 Oct
    assert datetime.fromisoformat(raised["reply_by"]) == at(2026, 10, 26, 23, 59, 59, 999999)

    await collab.set_clock(at(2026, 10, 27, 0, 0, 5))
    rolled = await collab.one("collab.coinvestigation-rolled-over.v1", request_id=silent)
    assert (rolled["from_period"], rolled["to_period"]) == ("2026-09", "2026-10")
    assert datetime.fromisoformat(rolled["complete_by"]) == at(2026, 11, 26, 23, 59, 59, 999999)
    [stats] = (await collab.events("collab.coinvestigation-statistics.v1", lambda p: p["period"] == "2026-09"))[-1:]
    rows = {(r["agency_region"], r["role"]): r for r in stats["rows"]}
    wuhan = rows[(WUHAN, "treating")]
    assert (wuhan["opened"], wuhan["answered_on_time"], wuhan["late"], wuhan["disputed"], wuhan["escalated"]) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert rows[(WUHU, "insured")]["late"] == 1
    table = list(
        csv.DictReader(io.StringIO(export.to_csv(CoInvestigationStatistics.model_validate(stats)).decode("utf-8-sig")))
    )
    assert {(r["agency_region"], r["role"], r["late"]) for r in table} >= {(WUHAN, "treating", "1")}
    # the rolled item counts in 2026-10 as rolled in (its statistics come at the end of 26 Nov)
    status, body = await asyncio.to_thread(collab.get, query.STATISTICS_PATH, A_WUHAN, period="2026-10")
    assert status == 404
    # the query API: Wuhan sees its own rows, Hubei its province's, as CSV and XLSX
    status, body = await asyncio.to_thread(collab.get, query.STATISTICS_PATH, A_WUHAN, period="2026-09", format="csv")
    assert status == 200
    assert {r["agency_region"] for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))} == {WUHAN}
    status, body = await asyncio.to_thread(collab.get, query.STATISTICS_PATH, A_HUBEI, period="2026-09", format="xlsx")
    sheet = load_workbook(io.BytesIO(body)).active
    assert status == 200 and [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == [WUHAN]


# ================================================================ K-03, K-04
async def test_K03_an_extension_proposed_by_the_target_and_accepted_by_the_requester_then_K04(collab):
    """Wed 30 Sep 10:00 Wuhu reports a system fault to Wuhan: reply by the end of Thu 8 Oct (1 working
    day past National Day). Wuhan proposes 2 working days; it cannot accept its own proposal; Wuhu
    accepts: reply by Sat 10 Oct (a make-up working day). Nothing is overdue on 9 Oct; at 00:00 on
    Sun 11 Oct it is. Wuhu raises it to Hubei, the registry parent of Wuhan, with its own deadline."""
    await collab.set_clock(at(2026, 9, 30, 10))
    ref = n("k03")
    await collab.send(
        "collab.open-request.v1",
        OpenCollabRequest(
            request_ref=ref,
            requester_region=WUHU,
            target_region=WUHAN,
            matter="结算接口超时",
            problem_type=ProblemType.SYSTEM_FAULT,
            opened_at=collab.bus.business_now(),
        ),
        A_WUHU,
    )
    rid = req.request_id_for(WUHU, ref)
    opened = await collab.one("collab.request-opened.v1", request_id=rid)
    assert datetime.fromisoformat(opened["reply_by"]) == at(2026, 10, 8, 23, 59, 59, 999999)

    await collab.send(
        "collab.propose-extension.v1",
        ProposeCollabExtension(
            request_id=rid, extra_working_days=2, reason="需医院排查", proposed_at=collab.bus.business_now()
        ),
        A_WUHAN,
    )
    proposed = await collab.one("collab.extension-proposed.v1", request_id=rid)
    assert datetime.fromisoformat(proposed["reply_by"]) == at(2026, 10, 8, 23, 59, 59, 999999)
    assert datetime.fromisoformat(proposed["proposed_reply_by"]) == at(2026, 10, 10, 23, 59, 59, 999999)
    own = await collab.refused(
        "collab.accept-extension.v1",
        AcceptCollabExtension(request_id=rid, answered_at=collab.bus.business_now()),
        A_WUHAN,
    )
    assert (own["reason"], own["rule"]) == ("UNAUTHORIZED", "K-03")
    await collab.send(
        "collab.accept-extension.v1",
        AcceptCollabExtension(request_id=rid, answered_at=collab.bus.business_now()),
        A_WUHU,
    )
    extended = await collab.one("collab.reply-extended.v1", request_id=rid)
    assert datetime.fromisoformat(extended["reply_by"]) == at(2026, 10, 10, 23, 59, 59, 999999)

    await collab.set_clock(at(2026, 10, 9, 10))
    await collab.set_clock(at(2026, 10, 11, 0, 0, 5))
    overdue = await collab.one("collab.reply-overdue.v1", request_id=rid)
    assert datetime.fromisoformat(overdue["reply_by"]) == at(2026, 10, 10, 23, 59, 59, 999999)
    assert len(await collab.events("collab.reply-overdue.v1", lambda p: p["request_id"] == str(rid))) == 1

    # K-04: unresolved past its deadline, raised to the level above Wuhan in the registry (Hubei)
    up = n("k04")
    await collab.send(
        "collab.open-request.v1",
        OpenCollabRequest(
            request_ref=up,
            requester_region=WUHU,
            target_region=HUBEI,
            matter="结算接口超时，武汉未处理",
            problem_type=ProblemType.SYSTEM_FAULT,
            escalated_from=rid,
            opened_at=collab.bus.business_now(),
        ),
        A_WUHU,
    )
    escalated = await collab.one("collab.request-opened.v1", request_id=req.request_id_for(WUHU, up))
    assert escalated["escalated_from"] == str(rid) and escalated["target_region"] == HUBEI
    # its own K-02 deadline: 1 working day after Sun 11 Oct → Mon 12 Oct
    assert datetime.fromisoformat(escalated["reply_by"]) == at(2026, 10, 12, 23, 59, 59, 999999)

    # K-03: Hubei replies and lists Changsha, which is told and sees the request
    await collab.send(
        "collab.reply-request.v1",
        ReplyCollabRequest(
            request_id=req.request_id_for(WUHU, up),
            result="已协调武汉处理",
            other_agencies=[CHANGSHA],
            replied_at=collab.bus.business_now(),
        ),
        A_HUBEI,
    )
    told = await collab.one("collab.agencies-involved.v1", request_id=req.request_id_for(WUHU, up))
    assert (told["agency_region"], told["matter"], told["requester_region"]) == (
        CHANGSHA,
        "结算接口超时，武汉未处理",
        WUHU,
    )
    # ... and sees it over the query API; an agency it does not name does not (not even that it exists)
    raised_id = str(req.request_id_for(WUHU, up))
    status, body = await asyncio.to_thread(collab.get, query.REQUEST_PATH, A_CHANGSHA, id=raised_id)
    assert status == 200 and json.loads(body)["other_agencies"] == [CHANGSHA]
    assert json.loads(body)["escalated_from"] == str(rid)
    status, _ = await asyncio.to_thread(collab.get, query.REQUEST_PATH, A_CHANGSHA, id=str(rid))
    assert status == 404


# ================================================================ K-05
async def test_K05_a_lead_handed_to_the_treating_place_is_taken_up_and_answered(collab):
    await collab.set_clock(at(2026, 10, 12, 10))
    ref = n("lead")
    await collab.send(
        "collab.hand-over-lead.v1",
        HandOverLead(
            lead_ref=ref,
            insured_region=WUHU,
            treating_region=WUHAN,
            subject=LeadSubject.INSTITUTION,
            person_id=PID,
            institution_code="H42010200001",
            description="疑似挂床住院",
            handed_over_at=collab.bus.business_now(),
        ),
        A_WUHU,
    )
    lid = leads.lead_id_for(WUHU, ref)
    received = await collab.one("collab.lead-received.v1", lead_id=lid)
    # 10 working days from Mon 12 Oct: 13..16, 19..23, 26 Oct
    assert datetime.fromisoformat(received["take_up_by"]) == at(2026, 10, 26, 23, 59, 59, 999999)
    stranger = await collab.refused(
        "collab.take-up-lead.v1", TakeUpLead(lead_id=lid, taken_up_at=collab.bus.business_now()), A_CHANGSHA
    )
    assert (stranger["reason"], stranger["rule"]) == ("NOT_ADDRESSED", "K-05")
    await collab.send("collab.take-up-lead.v1", TakeUpLead(lead_id=lid, taken_up_at=collab.bus.business_now()), A_WUHAN)
    assert not (await collab.one("collab.lead-investigating.v1", lead_id=lid))["late"]
    await collab.send(
        "collab.report-lead-result.v1",
        ReportLeadResult(
            lead_id=lid, outcome=LeadOutcome.CONFIRMED, findings="已查实并处理", reported_at=collab.bus.business_now()
        ),
        A_WUHAN,
    )
    result = await collab.one("collab.lead-result.v1", lead_id=lid)
    assert (result["outcome"], result["late"]) == ("confirmed", False)
    # personal collections are sealed at rest: no ID number, name or free text in clear
    client, db = await collab.proc.db()
    try:
        for name in ("leads", "coinvestigations", "requests"):
            stored = str([doc async for doc in db[name].find({})])
            assert stored != "[]", name
            assert "34020219600101123" not in stored and "张三" not in stored and "疑似" not in stored, name
    finally:
        await client.close()


# ================================================================ K-06
async def test_K06_a_notice_reaches_every_agency_and_only_its_publisher_publishes_it(collab):
    await collab.set_clock(at(2026, 10, 12, 10))
    ref = n("notice")
    notice = PublishNotice(
        notice_ref=ref,
        publisher=A_WUHAN,
        kind=NoticeKind.PLANNED_OUTAGE,
        title="系统停机",
        body="10月17日0时至6时停机升级",
        effective_from=at(2026, 10, 17, 0),
        effective_until=at(2026, 10, 17, 6),
        published_at=collab.bus.business_now(),
    )
    forged = await collab.refused("collab.publish-notice.v1", notice, A_CHANGSHA)
    assert (forged["reason"], forged["rule"]) == ("UNAUTHORIZED", "K-06")
    await collab.send("collab.publish-notice.v1", notice, A_WUHAN)
    await collab.send(
        "collab.publish-notice.v1", notice.model_copy(update={"published_at": collab.bus.business_now()}), A_WUHAN
    )  # again: one notice
    nid = str(notices.notice_id_for(A_WUHAN, ref))
    [published] = await collab.events("collab.notice-published.v1", lambda p: p["notice_id"] == nid)
    assert (published["kind"], published["body"]) == ("planned_outage", "10月17日0时至6时停机升级")
    await asyncio.sleep(3)  # the repeat has been read by now: still one notice
    assert len(await collab.events("collab.notice-published.v1", lambda p: p["notice_id"] == nid)) == 1
    # listable by any agency over the query API; a hospital may not list them
    status, body = await asyncio.to_thread(collab.get, query.NOTICES_PATH, A_CHANGSHA)
    assert status == 200 and nid in {n["notice_id"] for n in json.loads(body)}
    status, _ = await asyncio.to_thread(collab.get, query.NOTICES_PATH, "H42010200001")
    assert status == 403
