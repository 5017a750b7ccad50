"""Settlement service 直接结算: wiring only. Catalogues and policies are validated at start-up."""
from __future__ import annotations

from runtime.service import Service
from services.sanctions import SanctionsProjection
from services.settlement.handlers import registry
from services.settlement.metrics import SettlementMetrics
from services.settlement.ports import SettlementContext
from services.settlement.reference_data import load_catalogues, load_policies
from services.settlement.authority import AUTHORITY
from services.settlement.boundary import refusers
from services.wiring import build_service


def build(settings=None) -> Service:
    policies, catalogues = load_policies(), load_catalogues()

    def handlers(service: Service) -> dict:
        ctx = SettlementContext(
            service=service, policies=policies, catalogues=catalogues, sanctions=SanctionsProjection(service),
            metrics=SettlementMetrics(service.registry), timeout_ms=service.settings.settlement_insured_timeout_ms)
        service.refusers.update(refusers(ctx))     # a refused HIS command is answered on the result topic
        return registry(ctx)
    return build_service("settlement", handlers, AUTHORITY, settings)


def main() -> None:
    build().run()
