"""The simulator against running services over the real wire: it follows the business clock
(``yidi clock advance 3600`` from another terminal moves it too: no CLOCK_SKEW, 003 §5 (三)), and the
sample month `make run` seeds is sent once however often it starts (K-01..K-06, Q-01..Q-05,
P-02..P-06)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from support import ROOT, ServiceProcess, eventually, new_prefix

from contracts.prepayment import PrepaymentScope
from runtime.config import Settings
from runtime.query import sign_request
from services.collab.domain.requests import request_id_for
from simulator import seed as sample
from simulator.__main__ import FILING_DAY, VISIT_DAY, Simulator
from simulator.traffic import Traffic, population

pytestmark = pytest.mark.integration


def _simulator(stack, prefix: str, monkeypatch, **kw) -> Simulator:
    for name, value in stack.env(prefix).items():
        monkeypatch.setenv(name, value)
    return Simulator(Settings(service="simulator"), rate=50, size=12, seed=2026, **kw)


async def _shows(procs: list[ServiceProcess], sim: Simulator) -> None:
    """Every service shows the simulator's business time (within a minute)."""

    async def there() -> bool:
        return all(abs((p.business_time() - sim.business_now()).total_seconds()) < 60 for p in procs)

    await eventually(there)


async def test_the_simulator_follows_yidi_clock_advance_without_a_clock_skew(stack, monkeypatch):
    prefix = new_prefix(stack, "sim-clock")
    settlement = ServiceProcess(stack, "settlement", prefix).start()
    sim = _simulator(stack, prefix, monkeypatch, in_flight=4)
    await sim.start()
    try:
        await eventually(lambda: sim.consumer.assignment())  # reads its answers before it asks
        await sim.set_clock(VISIT_DAY)
        await _shows([settlement], sim)
        traffic = Traffic(random.Random(7), VISIT_DAY.date(), population(random.Random(7), 12))
        reader = asyncio.create_task(sim.read(sim.consumer, traffic))

        async def visits(n: int) -> None:
            for _ in range(n):
                await sim.flights.acquire()
                await sim.send_visit(traffic)

        await visits(6)
        await eventually(lambda: sim.flights.tally.answered == 6, 60)

        before = sim.business_now()
        # from "another terminal": the README's own example, with the addresses `make run` exports
        done = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "clock", "advance", "3600"],
            cwd=ROOT,
            env={**os.environ, **stack.env(prefix)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

        async def advanced() -> bool:  # the simulator and the service both an hour on
            return sim.business_now() - before >= timedelta(seconds=3590)

        await eventually(advanced)
        await _shows([settlement], sim)
        # what the HIS stamped just before the clock moved and the service reads just after: judged by the
        # clock it was stamped under, a moment old, it is answered with no CLOCK_SKEW and no second send
        await _send_stamped(sim, traffic, sim.business_now() - timedelta(seconds=3600))
        await eventually(lambda: sim.flights.tally.answered == 7, 60)
        assert sim.flights.tally.resent == 0
        # stamped under no clock the service has had (two hours behind): refused CLOCK_SKEW, which has no
        # effect, so the simulator sends it again with the time now, as a HIS adapter does, and it is answered
        await _send_stamped(sim, traffic, sim.business_now() - timedelta(seconds=7200))
        await eventually(lambda: sim.flights.tally.resent == 1 and sim.flights.tally.answered == 8, 60)
        # as it does now: stamped with the business time it follows
        await visits(6)
        await eventually(lambda: sim.flights.tally.answered == 14, 60)
        tally = sim.flights.tally
        assert (tally.answered, tally.refused["CLOCK_SKEW"], tally.resent, tally.unopenable, tally.unanswered) == (
            14,
            0,
            1,
            0,
            0,
        )
        assert not reader.done()
        reader.cancel()
    finally:
        await sim.stop()
        settlement.stop()


async def _send_stamped(sim: Simulator, traffic: Traffic, stamped: datetime) -> None:
    """The next visit, sent with the business time ``stamped`` instead of the simulator's own."""
    topic, payload, expected = traffic.next_visit()
    envelope = sim.client.envelope(topic, payload, sender=payload.institution_code, now=stamped)
    sim.flights.sent(payload.request_id, str(envelope.event_id), expected, traffic, topic=topic, payload=payload)
    await sim.client.send(
        topic, payload, sender=payload.institution_code, now=envelope.occurred_at, event_id=envelope.event_id
    )


def _query(proc: ServiceProcess, sim: Simulator, agency: str, path: str, **params: str):
    target, headers = sign_request(sim.client.signer(agency), path, at=sim.business_now(), **params)
    status, body = proc.get(target, headers)
    assert status == 200, body
    return json.loads(body)


async def test_the_sample_month_is_held_once_after_two_starts(stack, monkeypatch):
    prefix = new_prefix(stack, "sim-seed")
    collab = ServiceProcess(stack, "collab", prefix).start()
    prepayment = ServiceProcess(stack, "prepayment", prefix).start()
    try:
        for _ in range(2):  # `make run` started twice on the same data: the same commands, copies the second time
            sim = _simulator(stack, prefix, monkeypatch, sample_month=True)
            await sim.start()
            try:
                await sim.set_clock(FILING_DAY)
                await sim.send_sample(sample.before(FILING_DAY))
                await sim.set_clock(VISIT_DAY)
                await _shows([collab, prepayment], sim)
                await sim.send_sample(sample.after(VISIT_DAY))
            finally:
                await sim.stop()

        wuhu, wuhan = f"A{sample.WUHU}", f"A{sample.WUHAN}"
        refs_of = {
            str(request_id_for(region, ref)): ref
            for region in (sample.WUHU, sample.WUHAN)
            for ref in (
                f"SEED-K-{name}"
                for name in (
                    "OVERDUE-1",
                    "OVERDUE-2",
                    "OPEN",
                    "INBOX",
                    "EXTEND",
                    "REPLIED",
                    "CONFIRMED",
                    "DISPUTED",
                    "ESCALATED",
                )
            )
        }
        outbox = _query(collab, sim, wuhu, "/collab/requests", box="outbox")
        refs = sorted(refs_of[r["request_id"]] for r in outbox)
        assert refs == sorted(set(refs)) and len(refs) == 7, refs  # each once
        by_ref = {refs_of[r["request_id"]]: r for r in outbox}

        async def overdue() -> bool:  # K-02: the system fault opened three weeks ago, 1 working day
            rows = _query(collab, sim, wuhu, "/collab/requests", box="outbox")
            return any(refs_of[r["request_id"]] == "SEED-K-OVERDUE-1" and r["overdue"] for r in rows)

        await eventually(overdue)
        assert {
            k: by_ref[k]["status"]
            for k in ("SEED-K-OPEN", "SEED-K-REPLIED", "SEED-K-CONFIRMED", "SEED-K-DISPUTED", "SEED-K-ESCALATED")
        } == {
            "SEED-K-OPEN": "open",
            "SEED-K-REPLIED": "replied",
            "SEED-K-CONFIRMED": "confirmed",
            "SEED-K-DISPUTED": "disputed",
            "SEED-K-ESCALATED": "open",
        }
        inbox = _query(collab, sim, wuhan, "/collab/requests", box="inbox")
        assert sorted(refs_of[r["request_id"]] for r in inbox) == sorted(
            [
                "SEED-K-OVERDUE-1",
                "SEED-K-OPEN",
                "SEED-K-EXTEND",
                "SEED-K-REPLIED",
                "SEED-K-CONFIRMED",
                "SEED-K-DISPUTED",
            ]
        )
        leads = _query(collab, sim, wuhu, "/collab/leads", box="outbox")
        assert sorted(lead["status"] for lead in leads) == ["investigating", "received", "result"]
        items = _query(collab, sim, wuhu, "/collab/coinvestigations")
        assert sorted(c["status"] for c in items) == ["answered", "confirmed", "disputed", "requested"]
        notices = _query(collab, sim, wuhu, "/collab/notices")
        assert len(notices if isinstance(notices, list) else notices.get("notices", [])) == 1

        account = _query(
            prepayment, sim, wuhu, "/prepayment/account", region=sample.WUHU, scope=PrepaymentScope.CROSS_PROVINCE.value
        )
        assert (account["year"], account["quota"]) == (2026, "2000.00")  # P-02: 2 × 1000.00, set once
        assert [
            m["kind"]
            for m in _query(
                prepayment,
                sim,
                wuhu,
                "/prepayment/movements",
                region=sample.WUHU,
                scope=PrepaymentScope.CROSS_PROVINCE.value,
            )
        ] == ["quota"]
        wuhan_account = _query(
            prepayment,
            sim,
            wuhan,
            "/prepayment/account",
            region=sample.WUHAN,
            scope=PrepaymentScope.CROSS_PROVINCE.value,
        )
        assert wuhan_account["quota"] == "5400000.00"  # P-03: not lower than last year's, no adjustment
        assert not wuhan_account["notices"]
        wuhu_inbox = _query(collab, sim, wuhu, "/collab/leads", box="inbox")  # the lead Wuhan handed over
        assert [lead["status"] for lead in wuhu_inbox] == ["received"]
    finally:
        collab.stop()
        prepayment.stop()
