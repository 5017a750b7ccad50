"""Who may object, resolve and report an insured place's day (003 §5 (三); C-02, 004 第四十六条; R-01): an
objection comes from the agencies that may confirm its side; the level that coordinates the pair resolves it
(the national agency between provinces, the province within one); an insured place's record of a day comes
from the agency of that insured region, its province or the national level."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.clearing import InsuredDailyTotals, ObjectClearingPeriod, ResolveClearingObjection
from runtime.parties import ParticipantRegistry
from services.clearing.authority import AUTHORITY

NOW = datetime(2026, 10, 22, 2, tzinfo=UTC)
REGISTRY = ParticipantRegistry.load()
WUHU, HEFEI, WUHAN = "340200", "340100", "420100"


def check(topic: str, sender: str, payload):
    return AUTHORITY.rules[topic](REGISTRY.get(sender), payload, REGISTRY, NOW)


def objection(insured: str, treating: str, side: str) -> ObjectClearingPeriod:
    return ObjectClearingPeriod(
        objection_id="O1",
        clearing_month="2026-10",
        insured_region=insured,
        treating_region=treating,
        side=side,
        reasons=["未对账"],
        objected_at=NOW,
    )


def resolution(insured: str, treating: str) -> ResolveClearingObjection:
    return ResolveClearingObjection(
        objection_id="O1",
        clearing_month="2026-10",
        insured_region=insured,
        treating_region=treating,
        outcome="upheld",
        resolution="补扣",
        resolved_at=NOW,
    )


@pytest.mark.parametrize(
    "side, sender, ok",
    [
        ("insured", "A340200", True),
        ("insured", "A340000", True),
        ("insured", "A000000", True),
        ("insured", "A420100", False),
        ("insured", "A420000", False),
        ("treating", "A420100", True),
        ("treating", "A340200", False),
        ("treating", "H42010200001", False),
    ],
)
def test_an_objection_comes_from_the_agencies_of_its_side(side, sender, ok):
    refused = check("clearing.object-period.v1", sender, objection(WUHU, WUHAN, side))
    assert (refused is None) is ok
    if refused is not None and sender.startswith("A"):
        assert f"may not object for the {side} side" in refused.message


@pytest.mark.parametrize(
    "insured, treating, sender, ok",
    [
        (WUHU, WUHAN, "A000000", True),
        (WUHU, WUHAN, "A340000", False),
        (WUHU, WUHAN, "A420000", False),
        (WUHU, HEFEI, "A340000", True),
        (WUHU, HEFEI, "A000000", True),
        (WUHU, HEFEI, "A340200", False),
        (WUHU, HEFEI, "A420000", False),
    ],
)
def test_the_coordinating_level_resolves(insured, treating, sender, ok):
    refused = check("clearing.resolve-objection.v1", sender, resolution(insured, treating))
    assert (refused is None) is ok
    if refused is not None:
        assert refused.reason == "UNAUTHORIZED" and refused.rule == "C-02"


@pytest.mark.parametrize(
    "sender, ok", [("A340200", True), ("A340000", True), ("A340100", False), ("H42010200001", False)]
)
def test_an_insured_places_day_comes_from_its_agency(sender, ok):
    totals = InsuredDailyTotals(
        insured_region=WUHU,
        institution_code="H42010200001",
        treating_region=WUHAN,
        day=date(2026, 10, 21),
        lines=[],
        sent_at=NOW,
    )
    assert (check("clearing.insured-daily-totals.v1", sender, totals) is None) is ok
