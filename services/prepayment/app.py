"""Prepayment service 预付金: wiring only. The handlers are given the runtime's store, clock and
metrics registry, and the ledger of movements on the service's database (``adapters.py``), which
the signed reads (``query.py``) share."""

from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.service import Service
from services.prepayment.adapters import MongoMovements
from services.prepayment.authority import AUTHORITY
from services.prepayment.domain import PrepaymentAccount
from services.prepayment.domain.policy import load_policies
from services.prepayment.handlers import ACCOUNTS, registry
from services.prepayment.metrics import PrepaymentMetrics
from services.prepayment.query import PrepaymentQueries
from services.wiring import Aggregates, build_service


def build(settings=None) -> Service:
    policies = load_policies()  # the region texts, validated before anything starts (P-02, P-04, P-10..P-12)

    def handlers(service: Service) -> dict:
        movements = MongoMovements(service.db)
        # the signed reads (query.py): the accounts as stored, the ledger
        PrepaymentQueries(
            Aggregates(service.store, ACCOUNTS, PrepaymentAccount),
            movements,
            now=service.clock.now,
            parties=service.parties,
        ).register(service.add_query)
        return registry(
            service.store,
            now=service.clock.now,
            calendar=default_calendar(),
            movements=movements,
            metrics=PrepaymentMetrics(service.registry),
            policies=policies,
        )

    return build_service("prepayment", handlers, AUTHORITY, settings)


def main() -> None:
    build().run()
