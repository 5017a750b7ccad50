"""A person's aggregates stay small however often they are treated (``adapters.Items``): settled
items nothing waits for leave ``visits`` and ``insured`` for their archives, and a message about
one of them finds it as if it had never left: a repeated request gets the same answer, an old
settlement is cancelled once and only when it is the latest standing (S-15), the insured place
gives back exactly what it consumed."""

from __future__ import annotations

import json
from decimal import Decimal

from contracts.his import SettlementCancelRequested
from contracts.values import make_person_id
from runtime.parties import signer_for
from runtime.query import SignedQuery, seal_person
from services.settlement.adapters import ARCHIVE_EVERY, HOT_ITEMS, INSURED_ITEMS, VISITS_ITEMS
from services.settlement.query import SLIP_PATH, SettlementQueries

from .settlement_support import outpatient
from .test_saga_in_memory import HOSPITAL, KEYS, MARCH, PARTIES, PID, Service, _counters, _results, _settled, mixed_bill

MANY = HOT_ITEMS + ARCHIVE_EVERY + 5


def _keys(archive: dict[str, dict]) -> set[str]:
    """The item keys of one person's archived items (stored as ``<person's document id>:<key>``)."""
    assert all(k.startswith(f"{PID}:") for k in archive)
    return {k.removeprefix(f"{PID}:") for k in archive}


def _cancel(sid: str, request_id: str) -> SettlementCancelRequested:
    return SettlementCancelRequested(request_id=request_id, person_id=PID, settlement_id=sid, institution_code=HOSPITAL)


async def _many(svc: Service) -> list[dict]:
    return [await _settled(svc, f"REQ-{i}", mixed_bill()) for i in range(MANY)]


async def test_settled_items_leave_the_aggregates_and_every_settlement_is_kept_once():
    svc = Service()
    answers = await _many(svc)
    visits, insured = svc.state("visits", PID), svc.state("insured", PID)
    assert len(visits["requests"]) <= HOT_ITEMS + ARCHIVE_EVERY and len(insured["applied"]) <= HOT_ITEMS + ARCHIVE_EVERY
    archived = _keys(svc.store.archives[VISITS_ITEMS.archive])
    kept = set(visits["settlements"]) | {k for k in archived if k not in visits["settlements"]}
    assert kept == {a["settlement_id"] for a in answers}  # none lost
    assert not set(visits["settlements"]) & {k for k in archived if k not in visits["requests"]}
    assert _keys(svc.store.archives[INSURED_ITEMS.archive]) | set(insured["applied"]) >= kept
    assert visits["standing"] == {HOSPITAL: [a["settlement_id"] for a in answers]}
    assert visits["archived"] == len(archived) and insured["archived"] == len(svc.store.archives[INSURED_ITEMS.archive])


async def test_an_archived_request_repeated_gets_the_same_answer_and_settles_nothing_twice():
    svc = Service()
    answers = await _many(svc)
    counters = _counters(svc)
    assert answers[0]["settlement_id"] not in svc.state("visits", PID)["requests"]
    [again] = _results(await svc.send("his.outpatient-requested.v1", outpatient(mixed_bill(), request_id="REQ-0")))
    assert again == answers[0]
    assert _counters(svc) == counters


async def test_an_archived_settlement_is_not_the_latest_and_the_latest_cancels_once():
    """S-15: the oldest settlement left the aggregate; a cancel of it is refused as not the latest
    standing one; the newest cancels, gives back what it consumed, and a repeat is answered alike."""
    svc = Service()
    answers = await _many(svc)
    [old] = _results(await svc.send("his.cancel-requested.v1", _cancel(answers[0]["settlement_id"], "CX-OLD")))
    assert old["outcome"] == "refused", old
    before = _counters(svc)
    [done] = _results(await svc.send("his.cancel-requested.v1", _cancel(answers[-1]["settlement_id"], "CX-NEW")))
    assert done["outcome"] == "cancelled", done
    assert _counters(svc) != before
    after = _counters(svc)
    [repeat] = _results(await svc.send("his.cancel-requested.v1", _cancel(answers[-1]["settlement_id"], "CX-NEW")))
    assert repeat == done and _counters(svc) == after
    assert answers[-1]["settlement_id"] not in svc.state("visits", PID)["standing"][HOSPITAL]


async def test_settlements_cancelled_newest_first_reach_back_into_the_archive():
    """Every settlement cancelled from the newest: each becomes the latest in turn, the archived ones
    are put back to be cancelled, and the insured place ends with nothing consumed."""
    svc = Service()
    answers = await _many(svc)
    for i, answer in reversed(list(enumerate(answers))):
        [done] = _results(await svc.send("his.cancel-requested.v1", _cancel(answer["settlement_id"], f"CX-{i}")))
        assert done["outcome"] == "cancelled", (i, done)
    assert _counters(svc) == {}
    assert svc.state("visits", PID)["standing"] == {}


async def test_two_people_settled_under_the_same_request_ids_keep_their_own_archived_items():
    """An institution's request ids name its requests, not people: a second person settled under
    the same ids archives their own items, and a repeat of each person's oldest request is answered
    with that person's own result."""
    other = make_person_id("34020219700101007")
    svc = Service()
    mine = await _many(svc)
    theirs = [await _settled(svc, f"REQ-{i}", mixed_bill(), person_id=other) for i in range(MANY)]
    assert svc.state("visits", other)["archived"] and svc.state("visits", PID)["archived"]
    for person, answers in ((PID, mine), (other, theirs)):
        [again] = _results(
            await svc.send(
                "his.outpatient-requested.v1", outpatient(mixed_bill(), request_id="REQ-0", person_id=person)
            )
        )
        assert again == answers[0]


async def test_the_slip_of_an_archived_settlement_is_printed_as_the_newest_is():
    """The agency's slip query reads an archived settlement as it reads one the aggregate holds:
    the same total, the same split (the treating region's agency asks)."""
    svc = Service()
    answers = await _many(svc)
    queries = SettlementQueries(svc.store, signer=signer_for(KEYS, "settlement"), parties=PARTIES, now=lambda: MARCH)
    slips = []
    for answer in (answers[0], answers[-1]):
        body, _, _ = await queries.slip(
            SignedQuery(
                PARTIES.get("A420100"),
                SLIP_PATH,
                {"person": seal_person(PARTIES, "settlement", PID), "settlement": answer["settlement_id"]},
            )
        )
        slips.append(json.loads(body))
    assert answers[0]["settlement_id"] not in svc.state("visits", PID)["settlements"]
    assert [Decimal(s["total"]) for s in slips] == [Decimal(a["slip"]["total"]) for a in (answers[0], answers[-1])]
