"""A few anomalies planted among the sample month's visits (sample), so that the supervision pages
(基金监管) have flags to show: one person's three outpatient visits at one hospital on one day (the
rule base's SV-01, repeated visits) and a stay billed just under the 30 000 yuan at which the insured
place may ask for a co-investigation (SV-03, Q-01). Each is a real HIS request, answered like any other."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from contracts.his import DischargeSettlementRequested, OutpatientVisitRequested
from simulator import scenarios
from simulator.traffic import Expectation, Traffic

HUGGING_TOTAL = Decimal("29950.00")  # 50.00 under Q-01's 30 000.00
REPEATED = 3
DRUG = "XL01FDA001B001"  # a drug line of the sample stays (scenarios.stay with surgery)

Planted = tuple[str, OutpatientVisitRequested | DischargeSettlementRequested, Expectation]


def repeated_visits(traffic: Traffic) -> list[Planted]:
    p = traffic.population.unfiled[0]  # general outpatient: no filing needed (F-05)
    return [
        (
            "his.outpatient-requested.v1",
            scenarios.outpatient(p, traffic.next_id(p.institution), traffic.today, rng=traffic.rng),
            Expectation("planted: repeated visits (SV-01)", "completed"),
        )
        for _ in range(REPEATED)
    ]


def stay_under_threshold(traffic: Traffic) -> Planted:
    """An emergency stay (no filing needed, F-04, S-11) whose drug line brings the bill to :data:`HUGGING_TOTAL`."""
    p = traffic.population.unfiled[-1]
    admitted = traffic.today - timedelta(days=2)
    base = scenarios.stay(p, traffic.next_id(p.institution), admitted, 2, rng=traffic.rng, emergency=True)
    billed = sum((Decimal(line.amount) for line in base.fee_lines), Decimal("0.00"))
    drug = scenarios.fee_line(len(base.fee_lines) + 1, DRUG, "1", str(HUGGING_TOTAL - billed))
    stay = DischargeSettlementRequested.model_validate({**base.model_dump(), "fee_lines": [*base.fee_lines, drug]})
    return "his.settlement-requested.v1", stay, Expectation("planted: stay under the threshold (SV-03)", "completed")


def planted(traffic: Traffic) -> list[Planted]:
    return [*repeated_visits(traffic), stay_under_threshold(traffic)]
