"""One HIS request crosses every service over the real broker and database, and its effect is
visible in each service's store and /metrics (S-01, C-04, P-04, Q-01, F-15)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from privacy_support import document_id, opened
from support import Bus, eventually

from simulator import scenarios

pytestmark = pytest.mark.e2e


async def doc(proc, collection: str, aggregate_id: str | None = None):
    """One stored aggregate (any, without an id), its state opened (003 §5 (三))."""
    client, db = await proc.db()
    try:
        query = {"_id": document_id(collection, aggregate_id)} if aggregate_id else {}
        return opened(await db[collection].find_one(query))
    finally:
        await client.close()


ADMITTED = date(2026, 10, 25)  # eight days before the system's business day, 11-02


async def test_one_stay_travels_through_all_five_services(stack, system):
    procs, prefix = system
    patient = scenarios.person(7, scenarios.ROUTES[0])  # Wuhu employee treated in Wuhan
    async with Bus(stack, prefix) as bus:
        bus.follow_clock(procs["filing"])  # signed messages carry the system's business time (clock skew)
        # admitted 10-25, filed retroactively (F-11), discharged today: no discharge lies ahead of receipt (S-12)
        await bus.publish(
            "filing.register.v1",
            scenarios.retroactive(scenarios.long_term_filing(patient, ADMITTED, "AG340200-E2E-0001"), ADMITTED),
            producer="agency:340200",
        )
        changed = await bus.read("filing.changed.v1", lambda m: len(m) >= 1)
        assert changed[0]["payload"]["snapshot"]["status"] == "active"
        await eventually(lambda: doc(procs["settlement"], "filing_view", patient.person_id))

        request = scenarios.stay(patient, "H42010200001-E2E-000001", ADMITTED, 8, surgery=True)
        sent = await bus.publish("his.settlement-requested.v1", request, producer="his:H42010200001")
        results = await bus.read("settlement.result.v2", lambda m: len(m) >= 1)
        payload = bus.open_result(results[0]["payload"])  # sealed to H42010200001 (003 §5 (三))

    result = results[0]
    assert result["correlation_id"] == str(sent.correlation_id), "the whole flow shares one correlation id"
    assert patient.person_id not in json.dumps(result)  # nothing of the patient in clear on the topic
    assert payload["outcome"] == "completed", payload
    slip = payload["slip"]
    total = Decimal(slip["total"])
    assert total == sum(line.amount for line in request.fee_lines) >= Decimal("30000")
    assert Decimal(slip["fund_total"]) + Decimal(slip["personal_cash"]) == total  # S-07
    assert payload["eligibility_basis"] == "long_term" and payload["rate_basis"] == "local"  # S-08
    settlement_id = payload["settlement_id"]

    # every service's store shows the effect
    assert (await doc(procs["filing"], "people", patient.person_id))["state"]
    assert (await doc(procs["settlement"], "visits", patient.person_id))["state"]["settlements"][settlement_id]
    ledger = await eventually(lambda: doc(procs["clearing"], "ledgers"))
    assert ledger["state"]["insured_region"] == "340200" and ledger["state"]["treating_region"] == "420100"
    assert ledger["state"]["clearing_month"] == payload["clearing_month"] == "2026-12"  # settled in November (C-02)
    account = await eventually(lambda: doc(procs["prepayment"], "accounts"))
    # P-01: the fund part is prepaid, then cleared: it is uncleared usage of the insured region's prepayment
    assert Decimal(account["state"]["uncleared"]) == Decimal(slip["fund_total"])  # P-04
    candidate = await eventually(lambda: doc(procs["collab"], "candidates", settlement_id))
    assert Decimal(candidate["state"]["candidate"]["stay"]["total"]) == total

    # and its /metrics
    for name, topic in [
        ("filing", "filing.register.v1"),
        ("settlement", "his.settlement-requested.v1"),
        ("clearing", "settlement.completed.v1"),
        ("prepayment", "settlement.completed.v1"),
        ("collab", "settlement.completed.v1"),
    ]:
        assert procs[name].metric("yidi_messages_handled_total", topic=topic, result="applied") >= 1, name
    assert procs["settlement"].metric("yidi_settlements_total", outcome="completed") == 1
    assert procs["settlement"].metric("yidi_settlement_latency_seconds_count") == 1
