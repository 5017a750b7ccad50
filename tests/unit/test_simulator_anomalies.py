"""The anomalies the simulator plants in the sample month (simulator/anomalies.py) are valid HIS requests
that the supervision rules flag: one person's visits at one hospital on one day (SV-01), and a stay billed
just under Q-01's 30 000 yuan (SV-03)."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from contracts.collab import CO_INVESTIGATION_THRESHOLD
from services.supervision.domain.rules import rule_base
from simulator import anomalies
from simulator.traffic import Traffic, population


def test_the_planted_requests_are_valid_and_each_aims_at_its_rule() -> None:
    traffic = Traffic(random.Random(7), date(2026, 10, 26), population(random.Random(7), 30))
    *visits, (topic, stay, expected) = anomalies.planted(traffic)
    sv01 = rule_base().get("SV-01")
    assert sv01 is not None and len(visits) >= sv01.settings.min_visits  # type: ignore[union-attr]
    assert len({(v.person_id, v.institution_code, v.visit_date) for _, v, _ in visits}) == 1
    assert len({v.request_id for _, v, _ in visits}) == len(visits)
    assert topic == "his.settlement-requested.v1" and expected.outcome == "completed"
    total = sum((Decimal(line.amount) for line in stay.fee_lines), Decimal("0.00"))
    assert total == anomalies.HUGGING_TOTAL
    sv03 = rule_base().get("SV-03")
    assert sv03 is not None
    band = sv03.settings
    assert band.threshold == CO_INVESTIGATION_THRESHOLD  # type: ignore[union-attr]
    assert band.threshold * (100 - band.band_percent) / 100 <= total < band.threshold  # type: ignore[union-attr]
