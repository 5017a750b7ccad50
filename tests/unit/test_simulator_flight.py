"""The simulator's requests in flight: a bounded window that waits for answers, and every answer
counted, including the ones it cannot open (simulator.flight)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from simulator.flight import InFlight


def test_sending_waits_for_an_answer_once_the_window_is_full() -> None:
    async def scenario() -> list[str]:
        flights, seen = InFlight(limit=2, timeout=30), []
        for n in range(2):
            await flights.acquire()
            flights.sent(f"R{n}", f"E{n}", None, None)
        third = asyncio.create_task(flights.acquire())
        await asyncio.sleep(0)  # let it run up to its wait
        seen.append("waiting" if not third.done() else "sent")
        flights.answered("R0")
        await asyncio.wait_for(third, 5)  # an answer frees a slot: it goes on
        seen.append("sent")
        assert flights.tally.waits == 1 and len(flights) == 1
        return seen

    assert asyncio.run(scenario()) == ["waiting", "sent"]


def test_a_request_without_an_answer_is_given_up_and_counted() -> None:
    async def scenario() -> InFlight:
        flights = InFlight(limit=1, timeout=0.05)
        await flights.acquire()
        flights.sent("R0", "E0", None, None)
        await asyncio.wait_for(flights.acquire(), 5)  # frees itself once R0 is past its timeout
        return flights

    flights = asyncio.run(scenario())
    assert flights.tally.unanswered == 1 and len(flights) == 0


def test_refusals_are_matched_by_event_id_and_counted_by_code() -> None:
    async def scenario() -> InFlight:
        flights = InFlight(limit=5)
        flights.sent("R0", "E0", None, None)
        flights.sent("R1", "E1", None, None)
        assert flights.refused("E0", "CLOCK_SKEW") is not None
        assert flights.refused("E-unknown", "CLOCK_SKEW") is None  # not ours: not counted
        return flights

    flights = asyncio.run(scenario())
    assert dict(flights.tally.refused) == {"CLOCK_SKEW": 1} and len(flights) == 1
    assert flights.tally.answered == 1  # a refusal is an answer
    assert "refused: CLOCK_SKEW 1" in flights.summary() and "in flight 1/5" in flights.summary()


def test_the_limit_is_at_least_one() -> None:
    with pytest.raises(ValueError):
        InFlight(limit=0)


def test_a_result_it_cannot_open_is_counted_and_the_reading_goes_on(tmp_path, capsys) -> None:
    """After a key rotation a result sealed to a key the simulator does not hold is counted as
    unopenable, shown in its summary, and the next result is still read."""
    from runtime.config import Settings
    from simulator.__main__ import Simulator
    from tests.support import test_keys

    async def scenario() -> Simulator:
        sim = Simulator(Settings(keys_dir=str(test_keys())), rate=1, size=1, seed=1, in_flight=4)
        sim.client = SimpleNamespace(open_result=lambda payload: (_ for _ in ()).throw(ValueError("not our key")))
        sim.flights.sent("R0", "E0", None, None)
        sim.flights.sent("R1", "E1", None, None)
        records = [
            SimpleNamespace(
                topic="settlement.result.v2",
                offset=1,
                value=json.dumps({"payload": {"request_id": "R0", "institution_code": "H1", "sealed": "x"}}).encode(),
            ),
            SimpleNamespace(topic="settlement.result.v2", offset=2, value=b"not json"),
            SimpleNamespace(
                topic="party.refused.v1",
                offset=3,
                value=json.dumps({"payload": {"refused_event_id": "E1", "reason": "CLOCK_SKEW"}}).encode(),
            ),
        ]

        async def consumer():
            for record in records:
                yield record

        await sim.read(consumer(), traffic=None)
        return sim

    sim = asyncio.run(scenario())
    assert sim.flights.tally.unopenable == 2  # the sealed one and the one that is not even JSON
    assert dict(sim.flights.tally.refused) == {"CLOCK_SKEW": 1} and len(sim.flights) == 0
    sim.report()
    out = capsys.readouterr().out
    assert "unopenable 2" in out and "refused: CLOCK_SKEW 1" in out


def test_a_request_sent_again_after_a_clock_skew_keeps_its_slot_under_its_new_event_id() -> None:
    async def scenario() -> InFlight:
        flights = InFlight(limit=2)
        flights.sent("R0", "E0", None, None, topic="his.outpatient-requested.v1", payload="visit")
        flight = flights.get("R0")
        assert flight is not None
        again = flights.again(flight, "E0b")
        assert (again.attempts, again.payload, len(flights)) == (2, "visit", 1)
        assert flights.refused("E0", "CLOCK_SKEW") is None  # the first sending is no longer awaited
        assert flights.answered("R0") is again
        return flights

    flights = asyncio.run(scenario())
    assert (flights.tally.sent, flights.tally.resent, flights.tally.answered) == (1, 1, 1)
    assert "re-sent after a clock move 1" in flights.summary()
