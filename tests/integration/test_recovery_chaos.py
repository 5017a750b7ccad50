"""Recovery under fire, in small (``make chaos`` is the full run): the whole system with the
settlement service twice, the HIS mix driven while instances are killed with SIGKILL (the 21st's
clearing and refunds after it are left to ``make chaos``), then the
independent sums (chaos/audit.py). Nothing accepted is lost or counted twice, every request is
answered, the copies of an answer agree, and the fund totals of the answers, the clearing ledgers
and the prepayment accounts are equal to the fen (S-01, S-15, C-04, P-04); a service broken on
purpose (one clearing line dropped) is caught."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chaos.run import run, verdict

pytestmark = pytest.mark.integration


def shown(report: dict) -> str:
    """The whole report on a failure (pytest shortens a dict), to read which items and kills it was."""
    return json.dumps(report, default=str)


async def test_a_settlement_instance_and_clearing_killed_lose_nothing(stack):
    """With an answer budget shorter than the stall a killed instance causes, some patients are told
    "not settled directly" while the insured place still decides: each such decision is rolled back."""
    report = verdict(
        await run(
            requests=60,
            kills=2,
            seed=13,
            population=40,
            stack=stack,
            clearing_day=False,
            targets=["settlement-1", "clearing"],
            env={"YIDI_SETTLEMENT_INSURED_TIMEOUT_MS": "1500"},
        )
    )
    assert report["kills_by_service"] == {"clearing": 1, "settlement": 1}
    assert report["requests"] == 60 and report["answered"] == 60 and report["unanswered"] == 0
    assert (report["lost"], report["double_counted"], report["behind_the_hospitals_back"]) == (0, 0, 0), shown(report)
    assert report["answers_differ_between_copies"] == 0 and report["completed_twice"] == 0
    assert report["fund_totals"]["equal_to_the_fen"], report["fund_totals"]
    late = report["late_insured_answers"]
    # Whether a kill lands between the insured place's decision and its answer is up to timing: some
    # runs have none (a fresh-clone run showed 2 not settled, neither decided). Every one there is must
    # be rolled back and reach neither clearing nor prepayment.
    assert late["not_settled"] >= late["not_settled_with_a_decision"], late
    assert late["rolled_back"] == late["not_settled_with_a_decision"], late
    assert report["behind_the_hospitals_back"] == 0  # none of them reached clearing or prepayment
    assert report["ok"]


async def test_one_clearing_line_dropped_is_reported_lost(stack):
    report = verdict(
        await run(
            requests=30,
            kills=0,
            seed=5,
            population=30,
            stack=stack,
            clearing_day=False,
            faults={"clearing": "drop_one:settlement.completed.v1"},
        )
    )
    assert report["lost"] == 1 and list(report["examples"]) == ["lost_clearing"], shown(report)
    totals, missing = report["fund_totals"], Decimal(report["lost_funds"]["clearing"])
    assert totals["answers"] == totals["prepayment_accounts"]
    assert Decimal(totals["clearing_ledgers"]) + missing == Decimal(totals["answers"])  # short by the lost line
    assert totals["equal_to_the_fen"] is (missing == 0)  # a line without fund part changes no total
    assert not report["ok"]
