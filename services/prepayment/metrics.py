"""Business metrics of the prepayment service: the P-04 usage rate of each insured region's
prepayment, as the account's latest ``PrepaymentUsageUpdated`` says (a gauge: setting it again to
the same figure, on a decision made twice, changes nothing)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from contracts.prepayment import PrepaymentUsageUpdated
from services.outcome import Decision


class PrepaymentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.usage = Gauge(
            "yidi_prepayment_usage_ratio",
            "P-04 usage rate of an insured region's prepayment",
            ["insured_region", "scope"],
            registry=registry,
        )

    def observe(self, outcome: Decision) -> None:
        for event in outcome.events:
            if isinstance(event, PrepaymentUsageUpdated) and event.usage_percent is not None:
                self.usage.labels(str(event.insured_region), event.scope.value).set(float(event.usage_percent) / 100)
