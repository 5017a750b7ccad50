"""Persons filing through a channel 线上办理渠道, over the real wire (000 第九条; 003 二(一)): a registry
party of kind ``channel`` signs each command for the person it authenticated, carrying its
``authentication``; the filing service's authority table checks it (``runtime.authority.person_channel``).

Rules covered: F-01 (a channel may apply), F-08 (a change inside the lock is refused with the day it
opens), F-13 (a self-service application the region decides at once is active in the same answer, one
that needs review waits for the agency and shows its due time), F-15 (the F-15 read model the settlement
service folds finds the filing at once), 003 §5 (三) (a channel acting for a person it did not
authenticate, or deciding, is refused with a classified reason).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from support import test_keys as keys_dir
from test_filing_wire import (  # the filing service's wire client and builders, and its module fixture
    BASE,
    BEIJING,
    INPATIENT,
    SHANGHAI,
    WUHAN,
    WUHU,
    Wire,
    at,
    person,
    register,
    rid,
    snap,
    wire,
)

from contracts.filing import CancelFiling, ChangeFiling, DecideFiling
from contracts.parties import PersonAuthentication
from runtime.parties import ParticipantRegistry
from runtime.query import seal_authentication, seal_person, sign_request

pytestmark = pytest.mark.integration
__all__ = ["wire"]  # the module fixture of test_filing_wire: one filing service for these tests too

APP = "CH-NHSA-APP"  # 国家医保服务平台APP: serves every region
HUBEI_APP = "CH-420000-EHB"  # 鄂汇办APP: serves Hubei's insured only
REGISTRY = ParticipantRegistry.load(keys_dir())  # with the test deployment's keys: sealing to the service


def authentication(pid: str, now: datetime, channel: str = APP, minutes: int = 20) -> PersonAuthentication:
    """The channel's statement that it authenticated ``pid`` a minute ago (医保电子凭证)."""
    return PersonAuthentication(
        channel=channel,
        person_id=pid,
        session=f"s-{rid('session')}",
        method="e_credential",
        authenticated_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(minutes=minutes - 1),
    )


def by_person(pid: str, wire: Wire, channel: str = APP, **fields) -> dict:
    """A registration the person makes online through ``channel``."""
    return register(pid, channel="online", authentication=authentication(pid, wire.now(), channel), **fields)


async def through(wire: Wire, topic: str, command, channel: str = APP) -> dict:
    """Send ``command`` signed by the channel; its reply (accepted or refused)."""
    return await wire.send(topic, command, sender=channel)


async def test_F13_F15_an_application_the_region_decides_at_once_is_in_force_the_same_minute(wire):
    """Wuhan decides a long-term residence application at once (420100.yaml ``self_service_categories``,
    sample on 000 第九条 "即时办理、即时生效"): on Monday 2026-10-12 09:00 the answer already holds an active
    filing from that day, decided at the moment it was submitted, with no decision due, and the F-15 read
    model (what settlement folds) finds it for an admission that day."""
    await wire.set_clock(BASE)
    pid = person(WUHAN)
    reply = await through(
        wire, "filing.register.v1", by_person(pid, wire, category="long_term_resident", treating=BEIJING)
    )
    assert reply["type"] == "filing.accepted", reply["payload"]
    filing = snap(reply["payload"]["filing"])
    assert (filing.status.value, filing.rule, filing.channel.value) == ("active", "F-13", "online")
    assert filing.decided_at == filing.submitted_at and filing.decision_due_at is None
    assert filing.valid_from == BASE.date() and filing.applied_through == APP
    assert "decided and effective at once" in filing.note and "000 第九条" in filing.note
    changed = await wire.change(lambda c: c.filing_id == filing.filing_id)
    assert changed.snapshot.status.value == "active"
    assert (changed.occurred_at - reply_time(reply)).total_seconds() < 60  # the same minute
    decision = wire.eligible(pid, WUHAN, BEIJING, INPATIENT, BASE.date())
    assert decision.eligible and decision.filing_id == filing.filing_id


def reply_time(reply: dict) -> datetime:
    return datetime.fromisoformat(reply["payload"]["accepted_at"])


async def test_F13_an_application_needing_review_waits_with_its_due_time_and_the_agency_decides(wire):
    """A referral waits for the certificate's check: received Monday 2026-10-12, it is due by the end of the
    2nd working day after, Wednesday 2026-10-14 (000 第九条 "两个工作日内办结"). The channel may not decide it;
    the Wuhan agency does."""
    await wire.set_clock(BASE)
    pid = person(WUHAN)
    reply = await through(wire, "filing.register.v1", by_person(pid, wire, category="referral", treating=BEIJING))
    pending = snap(reply["payload"]["filing"])
    assert (pending.status.value, pending.applied_through) == ("pending", APP)
    assert pending.decision_due_at is not None
    due = pending.decision_due_at.astimezone(BASE.tzinfo)
    assert due.date() == date(2026, 10, 14) and "awaiting the insured agency's review" in pending.note
    assert "by the end of 2026-10-14" in pending.note and "referral" in pending.note
    assert not wire.eligible(pid, WUHAN, BEIJING, INPATIENT, BASE.date()).eligible

    decide = DecideFiling(
        request_id=rid("decide"),
        person_id=pid,
        filing_id=pending.filing_id,
        approve=True,
        authentication=authentication(pid, wire.now()),
    )
    refused = await wire.refused_by_party("filing.decide.v1", decide, APP)
    assert (refused["reason"], refused["rule"]) == ("UNAUTHORIZED", "F-13")

    wire.insured[pid] = WUHAN  # the agency of the insured place decides
    approved = await wire.accept(
        "filing.decide.v1",
        DecideFiling(request_id=rid("decide"), person_id=pid, filing_id=pending.filing_id, approve=True),
    )
    decided = snap(approved["filing"])
    assert (decided.status.value, decided.rule, decided.applied_through) == ("active", "F-13", APP)


async def test_F08_a_change_of_place_inside_the_lock_is_refused_with_the_day_it_opens(wire):
    """Filed at once on Monday 2026-03-02 for long-term residence in Beijing; Wuhan locks a change of place
    for 6 months (003 二(三)), so on 2026-06-01 moving it to Shanghai is refused until 2026-09-02; the phone
    changes at once (F-14)."""
    await wire.set_clock(at(2026, 3, 2, 9, 30))
    pid = person(WUHAN)
    first = snap(
        (
            await through(
                wire,
                "filing.register.v1",
                by_person(pid, wire, category="long_term_resident", treating=BEIJING, start=date(2026, 3, 2)),
            )
        )["payload"]["filing"]
    )
    assert (first.status.value, first.place_since) == ("active", date(2026, 3, 2))

    await wire.set_clock(at(2026, 6, 1))
    move = ChangeFiling(
        request_id=rid(),
        person_id=pid,
        filing_id=first.filing_id,
        treating_region=SHANGHAI,
        authentication=authentication(pid, wire.now()),
    )
    refused = (await through(wire, "filing.change.v1", move))["payload"]
    assert (refused["reason"], refused["rule"], refused["earliest_date"]) == ("change_locked", "F-08", "2026-09-02")
    assert "2026-09-02" in refused["message"]
    phone = ChangeFiling(
        request_id=rid(),
        person_id=pid,
        filing_id=first.filing_id,
        phone="13900000002",
        authentication=authentication(pid, wire.now()),
    )
    changed = (await through(wire, "filing.change.v1", phone))["payload"]
    assert (changed["filing"]["phone"], changed["filing"]["rule"]) == ("13900000002", "F-14")


async def test_a_channel_acting_for_a_person_it_did_not_authenticate_is_refused(wire):
    """003 §5 (三): the channel's authentication names person A; a command for person B, an authentication
    made by another channel, an expired one, a channel outside its regions and a window filing from a
    channel are each refused to the channel (``party.refused.v1``), classified, the ID numbers never named;
    nothing is filed."""
    await wire.set_clock(BASE)
    a, b = person(WUHAN), person(WUHAN)
    now = wire.now()
    cases = {
        "another person": register(b, channel="online", authentication=authentication(a, now)),
        "another channel": register(a, channel="online", authentication=authentication(a, now, HUBEI_APP)),
        "expired": register(
            a,
            channel="online",
            authentication=authentication(a, now).model_copy(
                update={"authenticated_at": now - timedelta(minutes=40), "expires_at": now - timedelta(minutes=20)}
            ),
        ),
        "no authentication": register(a, channel="online"),
    }
    for what, command in cases.items():
        refused = await wire.refused_by_party("filing.register.v1", command, APP)
        assert (refused["reason"], refused["code"], refused["rule"]) == (
            "UNAUTHORIZED",
            "NOT_AUTHENTICATED_PERSON",
            "F-01",
        ), what
        assert a not in refused["message"] and b not in refused["message"], what

    outside = person(WUHU)  # 鄂汇办 serves Hubei's insured only
    wuhu = register(
        outside,
        insured=WUHU,
        treating=WUHAN,
        channel="online",
        authentication=authentication(outside, now, HUBEI_APP),
    )
    refused = await wire.refused_by_party("filing.register.v1", wuhu, HUBEI_APP)
    assert refused["reason"] == "UNAUTHORIZED" and "does not serve" in refused["message"]
    window = register(a, channel="window", authentication=authentication(a, now))
    refused = await wire.refused_by_party("filing.register.v1", window, APP)
    assert "online only" in refused["message"]

    # a person's filing made at an agency window: the channel acts on it for that person only
    filed = snap((await wire.accept("filing.register.v1", register(a, treating=BEIJING)))["filing"])
    cancel_b = CancelFiling(
        request_id=rid(), person_id=a, filing_id=filed.filing_id, reason="取消", authentication=authentication(b, now)
    )
    refused = await wire.refused_by_party("filing.cancel.v1", cancel_b, APP)
    assert (refused["code"], refused["rule"]) == ("NOT_AUTHENTICATED_PERSON", "F-08")
    assert wire.eligible(a, WUHAN, BEIJING, INPATIENT, BASE.date()).eligible  # nothing changed


def mine(wire: Wire, channel: str, auth: PersonAuthentication | str) -> tuple[int, bytes]:
    """``GET /filing/mine`` signed by ``channel`` with its authentication sealed to the filing service."""
    assert wire.bus.client
    sealed = auth if isinstance(auth, str) else seal_authentication(REGISTRY, "filing", auth)
    target, headers = sign_request(
        wire.bus.client.signer(channel), "/filing/mine", at=wire.now(), authentication=sealed
    )
    return wire.service.get(target, headers)


async def test_a_person_sees_their_own_filings_and_history_through_the_channel_and_nobody_elses(wire):
    """004 第六条 (results with reasons the person can look up): the person's filings with every version,
    sealed to the channel that asked; the person is the one its authentication names, so no channel, and
    no person, reads another's; another channel cannot open the answer; an agency is no channel (403)."""
    await wire.set_clock(BASE)
    a, b = person(WUHAN), person(WUHAN)
    for pid, category in ((a, "long_term_resident"), (b, "referral")):
        reply = await through(wire, "filing.register.v1", by_person(pid, wire, category=category, treating=BEIJING))
        assert reply["type"] == "filing.accepted"

    status, body = mine(wire, APP, authentication(a, wire.now()))
    assert status == 200
    with pytest.raises(Exception):  # noqa: B017 - sealed to the asking channel: another's key does not open it
        wire.bus.client.signer("CH-NHSA-MP").open_sealed(body.decode())  # type: ignore[union-attr]
    answer = json.loads(wire.bus.client.signer(APP).open_sealed(body.decode()))  # type: ignore[union-attr]
    [filing] = answer["filings"]
    assert (filing["person_id"], filing["status_zh"], filing["category_zh"]) == (a, "有效", "异地长期居住人员")
    assert [(v["version"], v["rule"]) for v in filing["history"]] == [(1, "F-13")]
    assert "decided and effective at once" in filing["history"][0]["note"]

    status, body = mine(wire, APP, authentication(b, wire.now()))
    [other] = json.loads(wire.bus.client.signer(APP).open_sealed(body.decode()))["filings"]  # type: ignore[union-attr]
    assert (other["person_id"], other["status_zh"]) == (b, "待审核") and other["decision_due_at"]

    status, body = mine(wire, APP, authentication(a, wire.now(), channel="CH-NHSA-MP"))  # not its own
    assert status == 403 and b"NOT_AUTHENTICATED_PERSON" in body and a.encode() not in body
    status, body = mine(wire, "A420100", authentication(a, wire.now()))
    assert status == 403 and b"not a channel" in body
    status, body = mine(wire, APP, seal_person(REGISTRY, "filing", a))  # a bare ID number is no authentication
    assert status == 400
