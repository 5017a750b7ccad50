"""Supervision service 基金监管: wiring only. The handlers are given the runtime's store, business clock,
the smart-audit rule base (``data/audit_rules.yaml``) and the metrics; the signed reads (``query.py``)
read the stored cells and flags through ``adapters.SupervisionReads``."""

from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.config import Settings
from runtime.service import Service
from services.supervision.adapters import SupervisionReads
from services.supervision.authority import AUTHORITY
from services.supervision.domain.rules import rule_base
from services.supervision.handlers import registry
from services.supervision.metrics import SupervisionMetrics
from services.supervision.query import SupervisionQueries
from services.wiring import build_service


def build(settings: Settings | None = None) -> Service:
    def handlers(service: Service) -> dict:
        rules = rule_base()
        SupervisionQueries(
            SupervisionReads(service.store), rules=rules, now=service.clock.now, parties=service.parties
        ).register(service.add_query)
        return registry(
            service.store,
            now=service.clock.now,
            calendar=default_calendar(),
            rules=rules,
            metrics=SupervisionMetrics(service.registry),
        )

    return build_service("supervision", handlers, AUTHORITY, settings)


def main() -> None:
    build().run()
