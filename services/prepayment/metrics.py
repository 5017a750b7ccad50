"""Business metrics of the prepayment service: the P-04 usage rate of each insured region's
prepayment and its P-05 warning level, as the account's latest ``PrepaymentUsageUpdated`` says
(gauges: setting one again to the same figure, on a decision made twice, changes nothing).

With no base (quota and top-ups 0) the rate is undefined, yet any use is red (``warning_level``):
the ratio is then +Inf, and the level gauge says red as the console does, so the alert fires."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from contracts.prepayment import PrepaymentUsageUpdated, WarningLevel
from services.outcome import Decision

LEVELS = {WarningLevel.NONE: 0, WarningLevel.YELLOW: 1, WarningLevel.RED: 2}


class PrepaymentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.usage = Gauge(
            "yidi_prepayment_usage_ratio",
            "P-04 usage rate of an insured region's prepayment",
            ["insured_region", "scope"],
            registry=registry,
        )
        self.level = Gauge(
            "yidi_prepayment_warning_level",
            "P-05 warning level of an insured region's prepayment: 0 none, 1 yellow 黄色预警, 2 red 红色预警",
            ["insured_region", "scope"],
            registry=registry,
        )

    def observe(self, outcome: Decision) -> None:
        for event in outcome.events:
            if not isinstance(event, PrepaymentUsageUpdated):
                continue
            labels = (str(event.insured_region), event.scope.value)
            self.level.labels(*labels).set(LEVELS[event.level])
            if event.usage_percent is not None:
                self.usage.labels(*labels).set(float(event.usage_percent) / 100)
            else:  # no base: any use is infinitely over it, none is nothing used
                used = event.uncleared_payable + event.cleared_unpaid_payable
                self.usage.labels(*labels).set(float("inf") if used > 0 else 0.0)
