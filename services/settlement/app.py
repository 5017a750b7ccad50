"""Settlement service 直接结算: wiring only. Catalogues and policies are validated at start-up."""
from __future__ import annotations

from runtime.config import Settings
from runtime.service import Service
from services.sanctions import SanctionsProjection
from services.settlement.handlers import registry
from services.settlement.metrics import SettlementMetrics
from services.settlement.ports import SettlementContext
from services.settlement.reference_data import load_catalogues, load_policies


def build(settings: Settings | None = None) -> Service:
    service = Service(settings or Settings(service="settlement"))
    ctx = SettlementContext(service=service, policies=load_policies(), catalogues=load_catalogues(),
                            sanctions=SanctionsProjection(service), metrics=SettlementMetrics(service.registry),
                            timeout_ms=service.settings.settlement_insured_timeout_ms)
    service.register(registry(ctx))
    return service


def main() -> None:
    build().run()
