"""Collab service 业务协同: wiring only. The handlers are given the runtime's store, business clock,
participant registry, refusal channel and metrics, with the working calendar; the query API
reads the stored items through ``adapters.CollabReads``."""

from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.service import Service
from services.collab.adapters import CollabReads
from services.collab.authority import AUTHORITY
from services.collab.handlers import registry
from services.collab.metrics import OVERDUE_SECONDS, CollabMetrics, OverdueGauge
from services.collab.query import CollabQueries
from services.wiring import build_service


def build(settings=None) -> Service:
    def handlers(service: Service) -> dict:
        # K-03..K-06, Q-02..Q-05: the signed reads on the service's port (query.py)
        reads = CollabReads(service.store)
        queries = CollabQueries(reads, now=service.clock.now, parties=service.parties)
        queries.register(service.add_query)
        metrics = CollabMetrics(service.registry)
        overdue = OverdueGauge(metrics, reads, service.parties, service.clock.now)
        service.periodic.append((OVERDUE_SECONDS, overdue.recount, "collab overdue gauge"))
        return registry(
            service.store,
            now=service.clock.now,
            parties=service.parties,
            calendar=default_calendar(),
            refuse=service.refuse,
            metrics=metrics,
        )

    return build_service("collab", handlers, AUTHORITY, settings)


def main() -> None:
    build().run()
