"""Business metrics of the filing service, counted from a stored decision after the store took it
(a decision is pure and may be made twice on a concurrent write, so nothing is counted while
deciding): filing commands by category and outcome, refusals by reason and rule, state changes
by kind (F-10: a missed commitment deadline revokes)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from contracts.filing import FilingAccepted, FilingChanged, FilingRefused
from services.filing.domain import FilingDecision


class FilingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.filings = Counter(
            "yidi_filings_total",
            "Filing commands by category and outcome",
            ["command", "category", "outcome"],
            registry=registry,
        )
        self.refusals = Counter(
            "yidi_filing_refusals_total",
            "Refused filing commands by reason and rule",
            ["reason", "rule"],
            registry=registry,
        )
        self.changes = Counter(
            "yidi_filing_changes_total",
            "Filing state changes by kind (revoked = a missed commitment deadline, F-10)",
            ["change_kind"],
            registry=registry,
        )

    def count(self, decision: FilingDecision, command) -> None:
        """What the stored ``decision`` on ``command`` counts."""
        category = getattr(getattr(command, "category", None), "value", "none")
        for event in decision.events:
            if isinstance(event, FilingChanged):
                self.changes.labels(event.change_kind.value).inc()
            elif isinstance(event, FilingAccepted):
                filed = event.filing.category.value if event.filing else category
                self.filings.labels(event.command.value, filed, "accepted").inc()
            elif isinstance(event, FilingRefused):
                self.filings.labels(event.command.value, category, "refused").inc()
                self.refusals.labels(event.reason.value, event.rule).inc()
