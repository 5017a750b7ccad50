"""Clearing service 清算: wiring only. Each handler is given the runtime's store and clock, the working
calendar, the reads of the service's database it needs (``adapters.py``) and the metrics on the service's
registry; the signed queries are ``query.py``'s and ``institution_query.py``'s."""

from __future__ import annotations

from kernel.clearing_calendar import calendars
from runtime.calendar import default_calendar
from runtime.service import Service
from services.clearing.adapters import MongoClearingReads
from services.clearing.authority import AUTHORITY
from services.clearing.handlers import registry
from services.clearing.institution_query import InstitutionQueries
from services.clearing.metrics import ClearingMetrics
from services.clearing.query import ClearingQueries
from services.wiring import build_service


def build(settings=None) -> Service:
    calendars()  # the C-02 calendars and the regions' texts: a file that does not validate stops the start here

    def handlers(service: Service) -> dict:
        calendar, reads = default_calendar(), MongoClearingReads(service.db)
        metrics = ClearingMetrics(service.registry, service.clock.now, reads)
        # the signed reads: tables, periods, mismatches (query.py)
        ClearingQueries(reads, calendar, now=service.clock.now, parties=service.parties).register(service.add_query)
        # an institution's own money, sealed to it, and the region's appeals (institution_query.py)
        InstitutionQueries(reads, now=service.clock.now, parties=service.parties).register(service.add_query)
        return registry(service.store, now=service.clock.now, calendar=calendar, reads=reads, metrics=metrics)

    return build_service("clearing", handlers, AUTHORITY, settings)


def main() -> None:
    build().run()
