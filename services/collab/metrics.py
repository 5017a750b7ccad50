"""What the collab service counts (``/metrics``): the requests, co-investigations, leads, notices and
co-investigation candidates it opened (K-01, K-05, K-06, Q-01). Built by ``app.py`` on the service's
metrics registry, on a fresh one in the fast handler tests."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class CollabMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.opened = Counter(
            "yidi_collab_opened_total",
            "Collaboration requests and co-investigations opened",
            ["kind"],
            registry=registry,
        )
