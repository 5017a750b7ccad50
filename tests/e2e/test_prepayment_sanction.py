"""Across services over the real wire: settlements use up an insured region's prepayment, the red
warning issues an emergency top-up notice, the notice goes unpaid for 10 working days, and the
filing service then refuses that region's new filings (P-04, P-05, P-06, P-08, P-09, F-16)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from support import Bus, eventually

from contracts.prepayment import SetAnnualQuota
from contracts.values import SHANGHAI as SH
from simulator import scenarios

pytestmark = pytest.mark.e2e


async def test_an_unpaid_red_top_up_suspends_the_regions_new_filings(stack, system):
    procs, prefix = system
    wuhu = scenarios.ROUTES[0]  # Wuhu insured, treated in Wuhan
    async with Bus(stack, prefix) as bus:
        bus.follow_clock(procs["prepayment"])  # signed messages carry the system's business time (clock skew)
        # P-02: quota = 2 × the monthly average of last year's Q4 fund payments = 2 × 5,000.00, set by the
        # level above the city's account: the Anhui agency, not Wuhu's own
        await bus.publish(
            "prepayment.set-annual-quota.v1",
            SetAnnualQuota(
                insured_region="340200",
                scope="cross_province",
                year=2026,
                last_year_quota="0.00",
                last_year_monthly_funds={10: "5000.00", 11: "5000.00", 12: "5000.00"},
                issued_at=bus.business_now(),
            ),
            producer="agency:340000",
            sender="A340000",
        )
        await bus.read("prepayment.quota.v1", lambda m: len(m) >= 1)

        patient = scenarios.person(11, wuhu)
        admitted = date(2026, 11, 1)  # discharged today, filed retroactively (F-11)
        await bus.publish(
            "filing.register.v1",
            scenarios.retroactive(scenarios.long_term_filing(patient, admitted, "AG340200-PP-0001"), admitted),
        )
        await bus.read("filing.changed.v1", lambda m: any(e["payload"]["person_id"] == patient.person_id for e in m))
        stay = scenarios.stay(patient, "H42010200001-PP-000001", admitted, 1, surgery=True)
        await _settle_when_filed(bus, stay)

        warnings = await bus.read("prepayment.warning.v1", lambda m: any(w["payload"]["level"] == "red" for w in m))
        red = next(w["payload"] for w in warnings if w["payload"]["level"] == "red")
        assert Decimal(red["usage_percent"]) >= Decimal("90")  # P-05
        [notice] = await bus.read("prepayment.top-up-notice.v1", lambda m: len(m) >= 1)
        pay_by = datetime.fromisoformat(notice["payload"]["pay_by"]).astimezone(SH)
        assert pay_by.date() == date(2026, 11, 16)  # P-08: 10 working days

        await bus.set_clock(pay_by + timedelta(minutes=1))  # P-09: still unpaid
        sanctions = await bus.read("prepayment.sanction.v1", lambda m: len(m) >= 1, timeout=40)
        assert (sanctions[0]["payload"]["kind"], sanctions[0]["payload"]["action"]) == (
            "new_filing_suspension",
            "imposed",
        )

        await eventually(lambda: _sanction_known(procs["filing"]))  # the filing service's own projection
        effective = datetime.fromisoformat(sanctions[0]["payload"]["effective_at"])
        await eventually(lambda: procs["filing"].business_time() >= effective)  # and its clock is there too
        newcomer = scenarios.person(12, wuhu)
        request = scenarios.long_term_filing(newcomer, date(2026, 11, 17), "AG340200-PP-0100")
        await bus.publish("filing.register.v1", request)
        replies = await bus.read(
            "filing.refused.v1", lambda m: any(r["payload"]["request_id"] == request.request_id for r in m)
        )
        refused = next(r["payload"] for r in replies if r["payload"]["request_id"] == request.request_id)
        assert refused and (refused["reason"], refused["rule"]) == ("new_filing_suspended", "F-16"), refused
        assert "340200" in refused["message"]
    assert procs["prepayment"].metric("yidi_prepayment_usage_ratio", insured_region="340200") >= 0.9


async def _sanction_known(filing) -> bool:
    client, db = await filing.db()
    try:
        doc = await db["sanctions"].find_one({})
        return bool(doc and doc["state"]["sanctions"]["periods"])
    finally:
        await client.close()


async def _settle_when_filed(bus: Bus, stay) -> dict:
    """Send the stay once the settlement service's filing read model knows the filing (F-15)."""
    import asyncio

    for attempt in range(30):
        request = stay.model_copy(update={"request_id": f"{stay.request_id}-{attempt}"})
        await bus.publish("his.settlement-requested.v1", request)
        results = await bus.read(
            "settlement.result.v2", lambda m: any(r["payload"].get("request_id") == request.request_id for r in m)
        )
        answer = bus.open_result(
            next(r["payload"] for r in results if r["payload"].get("request_id") == request.request_id)
        )
        if answer["outcome"] == "completed":
            return answer
        assert answer["code"] == "NOT_FILED", answer
        await asyncio.sleep(0.5)
    raise AssertionError("the filing never reached the settlement service")
