"""What the collab service counts (``/metrics``): the requests, co-investigations, leads, notices and
co-investigation candidates it opened (K-01, K-05, K-06, Q-01), and the items past their deadline now
(K-02..K-05, Q-04, Q-05: collaboration breaches), by kind and the region that owes the step. Built by
``app.py`` on the service's metrics registry, on a fresh one in the fast handler tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from runtime.parties import ParticipantRegistry
from services.collab.adapters import CollabReads
from services.collab.query_attention import overdue_by_region

KINDS = ("requests", "leads", "coinvestigations")
OVERDUE_SECONDS = 60.0  # how often the overdue gauge is recounted from the stored items


class CollabMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.opened = Counter(
            "yidi_collab_opened_total",
            "Collaboration requests and co-investigations opened",
            ["kind"],
            registry=registry,
        )
        self.overdue = Gauge(
            "yidi_collab_overdue",
            "K-02..K-05, Q-04, Q-05: collaboration items past their deadline now, by kind and the region owing "
            "the step",
            ["kind", "region"],
            registry=registry,
        )


class OverdueGauge:
    """Recounts ``yidi_collab_overdue`` from the stored items, as ``GET /collab/overdue`` counts them."""

    def __init__(
        self, metrics: CollabMetrics, reads: CollabReads, parties: ParticipantRegistry, now: Callable[[], datetime]
    ) -> None:
        self.metrics, self.reads, self.parties, self.now = metrics, reads, parties, now

    async def recount(self) -> None:
        counts = overdue_by_region(
            self.parties,
            self.now(),
            await self.reads.requests(),
            await self.reads.leads(),
            await self.reads.coinvestigations(),
        )
        # no await from here on: a scrape sees the old counts or the new ones, never a cleared gauge
        self.metrics.overdue.clear()
        for region, by_kind in counts.items():
            for kind in KINDS:
                self.metrics.overdue.labels(kind, region).set(by_kind[kind])
