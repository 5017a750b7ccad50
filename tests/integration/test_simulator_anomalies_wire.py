"""The anomalies the simulator plants in `make run`'s sample month (simulator/anomalies.py), sent as a HIS
sends them to the settlement service, are completed and flagged by the supervision service with their
evidence (SV-01 repeated visits, SV-03 a stay just under Q-01's 30 000 yuan; R-04)."""

from __future__ import annotations

import json
import random

import pytest
from support import Bus, ServiceProcess, eventually, new_prefix

from runtime.query import sign_request
from simulator import anomalies
from simulator.__main__ import LAST_MONTH_DAY
from simulator.traffic import Traffic, population

pytestmark = pytest.mark.integration


async def test_the_planted_anomalies_are_settled_and_flagged(stack) -> None:
    prefix = new_prefix(stack, "sim-anomalies")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(LAST_MONTH_DAY)
        settlement = ServiceProcess(stack, "settlement", prefix).start()
        supervision = ServiceProcess(stack, "supervision", prefix).start()
        try:
            traffic = Traffic(random.Random(2026), LAST_MONTH_DAY.date(), population(random.Random(2026), 12))
            planted = anomalies.planted(traffic)
            for topic, request, _ in planted:
                await bus.publish(topic, request, producer=f"his:{request.institution_code}")
            wanted = {request.request_id for _, request, _ in planted}
            results = await bus.read(
                "settlement.result.v2", lambda m: wanted <= {r["payload"]["request_id"] for r in m}, timeout=120
            )
            opened = [bus.open_result(r["payload"]) for r in results if r["payload"]["request_id"] in wanted]
            assert all(o["outcome"] == "completed" for o in opened), [o.get("message") for o in opened]
            stay = next(o for o in opened if o["medical_type"] == "inpatient")
            assert stay["slip"]["total"] == str(anomalies.HUGGING_TOTAL)

            def flags() -> dict[str, dict]:
                target, headers = sign_request(bus.signer("A000000"), "/supervision/flags", at=bus.business_now())
                status, body = supervision.get(target, headers)
                return {f["rule_id"]: f for f in json.loads(body)["flags"]} if status == 200 else {}

            found = await eventually(lambda: (f := flags()) and {"SV-01", "SV-03"} <= set(f) and f, timeout=60)
            assert found["SV-03"]["settlement_id"] == stay["settlement_id"]
            assert found["SV-03"]["evidence"]["距起点"] == "50.00"
            assert found["SV-01"]["evidence"]["就诊次数"] == "3"
        finally:
            settlement.stop()
            supervision.stop()
