"""Agencies act on what is addressed to them, over the real wire (003 §5 (三); 000 第八十、八十一条;
F-08, F-14, K-03, K-04, Q-02): the filing and collab services run as their own processes, every
command is signed by a registry agency, and a command its sender may not send is answered to that
sender on ``party.refused.v1`` with a classified reason (NOT_ADDRESSED, UNAUTHORIZED, CLOCK_SKEW),
counted in ``yidi_refused_total``, with nothing stored and nothing else published.

Agencies: Wuhu A340200 asks Wuhan A420100 (parent Hubei A420000); Changsha A430100 is a third
agency; Beijing A110000 is no parent of Wuhan. The co-investigation's Q-02 cut is 00:00 on Sat
26 Sep 2026, the Mid-Autumn weekend.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from privacy_support import find_aggregate
from support import Bus, ServiceProcess, eventually, new_prefix
from test_filing_wire import BASE, BEIJING, READ, WUHAN, WUHU, Wire, at, person, register, rid, snap

from contracts.collab import (
    CheckResult,
    ConfirmCollabResult,
    OpenCollabRequest,
    ProblemType,
    ReplyCollabRequest,
    RequestCoInvestigation,
    Sex,
    StayDetails,
    SubmitCoInvestigationResult,
    WithdrawCoInvestigation,
)
from contracts.filing import CancelFiling
from contracts.values import make_person_id, money
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import requests as req

pytestmark = pytest.mark.integration

COLLAB_READ = (
    "collab.request-opened.v1",
    "collab.request-replied.v1",
    "collab.result-confirmed.v1",
    "collab.result-disputed.v1",
    "collab.coinvestigation-requested.v1",
    "collab.coinvestigation-withdrawn.v1",
    "collab.coinvestigation-result.v1",
)
REFUSED = "party.refused.v1"
A_WUHU, A_WUHAN, A_HUBEI, A_CHANGSHA, A_BEIJING = "A340200", "A420100", "A420000", "A430100", "A110000"


class Agencies:
    """The filing wire client (its consumer follows the collab topics too) and the collab process."""

    def __init__(self, wire: Wire, collab: ServiceProcess) -> None:
        self.wire, self.collab, self.bus = wire, collab, wire.bus

    async def set_clock(self, when: datetime) -> None:
        """Both services at ``when``: filing's probe barrier, then collab's own /metrics."""
        await self.wire.set_clock(when)

        def collab_there() -> bool:
            seen = self.collab.business_time()
            return when - timedelta(seconds=1) <= seen <= self.wire.now() + timedelta(seconds=1)

        await eventually(collab_there, timeout=30)

    async def send(self, topic: str, payload, sender: str):
        return await self.bus.publish(topic, payload, producer="agency:test", now=self.wire.now(), sender=sender)

    async def refused(self, topic: str, payload, sender: str) -> dict:
        """Send as ``sender``; its answer on party.refused.v1."""
        sent = await self.send(topic, payload, sender)
        [answer] = await self.wire.wait(REFUSED, lambda m: m["payload"]["refused_event_id"] == str(sent.event_id))
        refusal = answer["payload"]
        assert (refusal["sender"], refusal["topic"]) == (sender, topic)
        assert answer["sender"] == refusal["service"], "answered and signed by the service that refused it"
        return refusal

    async def event(self, topic: str, request_id: uuid.UUID) -> dict:
        [found] = await self.wire.wait(topic, lambda m: m["payload"]["request_id"] == str(request_id))
        return found["payload"]

    def events(self, topic: str, request_id: uuid.UUID) -> list[dict]:
        return [m["payload"] for m in self.wire.seen[topic] if m["payload"]["request_id"] == str(request_id)]

    async def stored(self, collection: str, key: str) -> dict | None:
        client, db = await self.collab.db()
        try:
            return await find_aggregate(db, collection, key)
        finally:
            await client.close()


@pytest.fixture(scope="module")
async def agencies(stack):
    prefix = new_prefix(stack, "agency-parties")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(BASE)
        filing = ServiceProcess(stack, "filing", prefix).start(wait=False)
        collab = ServiceProcess(stack, "collab", prefix).start(wait=False)
        wire = Wire(bus, filing, topics=(*READ, *COLLAB_READ))
        try:
            await asyncio.to_thread(filing.wait_healthy)
            await asyncio.to_thread(collab.wait_healthy)
            await wire.start()
            client = Agencies(wire, collab)
            await client.set_clock(BASE)
            yield client
        finally:
            await wire.stop()
            filing.stop()
            collab.stop()


# ---------------------------------------------------------------- builders
def open_request(
    ref: str,
    *,
    target: str = WUHAN,
    now: datetime,
    escalated_from: uuid.UUID | None = None,
    problem: ProblemType = ProblemType.FILING,
) -> OpenCollabRequest:
    return OpenCollabRequest(
        request_ref=ref,
        requester_region=WUHU,
        target_region=target,
        matter="参保人备案信息两地不一致",
        problem_type=problem,
        opened_at=now,
        escalated_from=escalated_from,
    )


async def opened(agencies: Agencies, label: str) -> uuid.UUID:
    """Wuhu asks Wuhan (K-01), signed by Wuhu; the request as announced."""
    ref = f"{label}-{uuid.uuid4().hex[:8]}"
    await agencies.send("collab.open-request.v1", open_request(ref, now=agencies.wire.now()), A_WUHU)
    request_id = req.request_id_for(WUHU, ref)
    await agencies.event("collab.request-opened.v1", request_id)
    return request_id


def reply(request_id: uuid.UUID, now: datetime, result: str = "已核实并更正备案信息") -> ReplyCollabRequest:
    return ReplyCollabRequest(request_id=request_id, result=result, replied_at=now)


# ================================================================ K-03, K-04
async def test_K03_K04_only_the_target_replies_and_only_the_requester_confirms(agencies):
    await agencies.set_clock(BASE)
    request_id = await opened(agencies, "k03")
    now = agencies.wire.now

    # a third agency, and Wuhan's own province, answering Wuhan's request: not addressed to them
    for stranger in (A_CHANGSHA, A_HUBEI):
        refusal = await agencies.refused("collab.reply-request.v1", reply(request_id, now(), "不是我的"), stranger)
        assert (refusal["reason"], refusal["rule"], refusal["service"]) == ("NOT_ADDRESSED", "K-03", "collab")
        assert stranger in refusal["message"] and "340200" in refusal["message"]
    assert (
        agencies.collab.metric(
            "yidi_refused_total", service="collab", topic="collab.reply-request.v1", code="NOT_ADDRESSED"
        )
        == 2
    )
    stored = await agencies.stored("requests", str(request_id))
    assert stored["state"]["status"] == "open" and stored["state"]["replied_at"] is None  # nothing stored

    # the target replies; the first responder's answer is the only one ever published
    await agencies.send("collab.reply-request.v1", reply(request_id, now()), A_WUHAN)
    replied = await agencies.event("collab.request-replied.v1", request_id)
    assert replied["result"] == "已核实并更正备案信息" and not replied["late"]
    assert len(agencies.events("collab.request-replied.v1", request_id)) == 1

    # K-04: the target may not confirm its own answer; the requester does
    confirm = ConfirmCollabResult(request_id=request_id, accepted=True, confirmed_at=now())
    refusal = await agencies.refused("collab.confirm-result.v1", confirm, A_WUHAN)
    assert (refusal["reason"], refusal["rule"]) == ("UNAUTHORIZED", "K-04")
    assert (await agencies.stored("requests", str(request_id)))["state"]["status"] == "replied"
    await agencies.send("collab.confirm-result.v1", confirm.model_copy(update={"confirmed_at": now()}), A_WUHU)
    confirmed = await agencies.event("collab.result-confirmed.v1", request_id)
    assert confirmed["by"] == "requester"
    assert (await agencies.stored("requests", str(request_id)))["state"]["status"] == "confirmed"


async def test_K04_an_escalation_goes_to_the_parent_of_the_original_target_or_is_refused(agencies):
    await agencies.set_clock(BASE)
    now = agencies.wire.now
    original = await opened(agencies, "k04")
    await agencies.send("collab.reply-request.v1", reply(original, now(), "无法处理"), A_WUHAN)
    await agencies.event("collab.request-replied.v1", original)
    await agencies.send(
        "collab.confirm-result.v1",
        ConfirmCollabResult(request_id=original, accepted=False, comment="仍未解决", confirmed_at=now()),
        A_WUHU,
    )
    await agencies.event("collab.result-disputed.v1", original)

    # Beijing is not the level above Wuhan: refused, no request opened, nothing stored
    wrong_ref = f"k04-beijing-{uuid.uuid4().hex[:6]}"
    refusal = await agencies.refused(
        "collab.open-request.v1", open_request(wrong_ref, target=BEIJING, now=now(), escalated_from=original), A_WUHU
    )
    assert (refusal["reason"], refusal["rule"]) == ("UNAUTHORIZED", "K-04")
    assert "420000" in refusal["message"] and "110000" in refusal["message"]
    assert await agencies.stored("requests", str(req.request_id_for(WUHU, wrong_ref))) is None

    # the parent in the participant registry, Hubei (A420000), takes it up
    ref = f"k04-hubei-{uuid.uuid4().hex[:6]}"
    await agencies.send(
        "collab.open-request.v1", open_request(ref, target="420000", now=now(), escalated_from=original), A_WUHU
    )
    escalated = await agencies.event("collab.request-opened.v1", req.request_id_for(WUHU, ref))
    assert (escalated["target_region"], escalated["escalated_from"]) == ("420000", str(original))
    assert agencies.events("collab.request-opened.v1", req.request_id_for(WUHU, wrong_ref)) == []


# ================================================================ Q-02: receipt time decides
def stay() -> StayDetails:
    return StayDetails(
        person_id=make_person_id("34020219600101123"),
        institution="H42010200001",
        admission_no="ZY2026090001",
        invoice_no="FP2026090001",
        admission_date=at(2026, 9, 1).date(),
        discharge_date=at(2026, 9, 20).date(),
        total=money("31000.00"),
    )


async def test_Q02_a_withdrawal_backdated_before_the_cut_is_refused(agencies):
    """Asked Fri 25 Sep 20:00 (period 2026-09, cut 00:00 Sat 26 Sep). At 00:02 on the 26th a withdrawal
    claiming 23:50 is 12 minutes from receipt: CLOCK_SKEW. One claiming 23:59 is within the 300 s skew,
    but it is received after the cut, and receipt decides: Q-02 refuses it. Nothing is withdrawn."""
    await agencies.set_clock(at(2026, 9, 25, 20))
    ref = f"q02-{uuid.uuid4().hex[:8]}"
    await agencies.send(
        "collab.request-coinvestigation.v1",
        RequestCoInvestigation(
            request_ref=ref,
            insured_region=WUHU,
            treating_region=WUHAN,
            name="张三",
            sex=Sex.MALE,
            stay=stay(),
            requested_at=agencies.wire.now(),
        ),
        A_WUHU,
    )
    request_id = coinv.request_id_for(WUHU, ref)
    requested = await agencies.event("collab.coinvestigation-requested.v1", request_id)
    assert requested["period"] == "2026-09" and datetime.fromisoformat(requested["cut_at"]) == at(2026, 9, 26, 0)

    await agencies.set_clock(at(2026, 9, 26, 0, 2))
    far = at(2026, 9, 25, 23, 50)
    sent = await agencies.bus.publish(
        "collab.withdraw-coinvestigation.v1",
        WithdrawCoInvestigation(request_id=request_id, withdrawn_at=far),
        now=far,
        sender=A_WUHU,
    )
    [skewed] = await agencies.wire.wait(REFUSED, lambda m: m["payload"]["refused_event_id"] == str(sent.event_id))
    assert (skewed["payload"]["reason"], skewed["payload"]["sender"]) == ("CLOCK_SKEW", A_WUHU)

    near = at(2026, 9, 25, 23, 59)
    sent = await agencies.bus.publish(
        "collab.withdraw-coinvestigation.v1",
        WithdrawCoInvestigation(request_id=request_id, withdrawn_at=near),
        now=near,
        sender=A_WUHU,
    )
    [cut] = await agencies.wire.wait(REFUSED, lambda m: m["payload"]["refused_event_id"] == str(sent.event_id))
    assert (cut["payload"]["reason"], cut["payload"]["sender"]) == ("REFUSED_BY_RULE", A_WUHU)  # not a dead letter
    assert "Q-02" in cut["payload"]["message"]

    # the other side may not withdraw either; the treating place still answers the request
    refusal = await agencies.refused(
        "collab.withdraw-coinvestigation.v1",
        WithdrawCoInvestigation(request_id=request_id, withdrawn_at=agencies.wire.now()),
        A_WUHAN,
    )
    assert (refusal["reason"], refusal["rule"]) == ("UNAUTHORIZED", "Q-02")
    await agencies.send(
        "collab.submit-coinvestigation-result.v1",
        SubmitCoInvestigationResult(
            request_id=request_id, result=CheckResult.CORRECT, submitted_at=agencies.wire.now()
        ),
        A_WUHAN,
    )
    await agencies.event("collab.coinvestigation-result.v1", request_id)
    assert agencies.events("collab.coinvestigation-withdrawn.v1", request_id) == []
    assert (await agencies.stored("coinvestigations", str(request_id)))["state"]["status"] == "answered"


# ================================================================ F-08, F-14: the stored filings decide
async def test_F08_a_cancel_by_an_agency_of_another_region_is_refused_and_changes_nothing(agencies):
    await agencies.set_clock(BASE)
    wire = agencies.wire
    pid = person(WUHAN)
    # the table: Wuhu may not register a person insured in Wuhan (F-01)
    foreign = await wire.refused_by_party("filing.register.v1", register(pid), A_WUHU)
    assert (foreign["reason"], foreign["rule"]) == ("UNAUTHORIZED", "F-01")
    filing = snap((await wire.accept("filing.register.v1", register(pid)))["filing"])  # signed by A420100

    cancel = CancelFiling(request_id=rid("cancel"), person_id=pid, filing_id=filing.filing_id, reason="参保人申请取消")
    refusal = await wire.refused_by_party("filing.cancel.v1", cancel, A_WUHU)
    assert (refusal["reason"], refusal["rule"]) == ("UNAUTHORIZED", "F-08")
    assert A_WUHU in refusal["message"] and WUHAN not in refusal["message"]  # where the person is insured stays untold
    stored = (await wire.stored_filings(pid))[str(filing.filing_id)]
    assert (stored.status.value, stored.version) == ("active", 1)
    assert wire.service.metric("yidi_refused_total", service="filing", topic="filing.cancel.v1") == 1

    # Hubei, the province above Wuhan, may cancel it: the same request id, never recorded as handled
    done = await wire.send("filing.cancel.v1", cancel, sender=A_HUBEI)
    assert done["type"] == "filing.accepted" and done["payload"]["filing"]["status"] == "cancelled"
