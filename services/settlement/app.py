"""Settlement service 直接结算: wiring only. Catalogues and policies are validated at start-up; each
handler is given the runtime's store, clock, participant registry and metrics registry it needs."""

from __future__ import annotations

from kernel.clearing_calendar import calendars as clearing_calendars
from runtime.calendar import default_calendar
from runtime.service import Service
from services.sanctions import SanctionsProjection
from services.settlement.adapters import inquiry_answers
from services.settlement.authority import AUTHORITY
from services.settlement.boundary import refusers
from services.settlement.handlers import registry
from services.settlement.metrics import SettlementMetrics
from services.settlement.domain.person_claims import load_materials
from services.settlement.person_query import PersonSettlementQuery
from services.settlement.query import SettlementQueries
from services.settlement.reference_data import load_catalogues, load_policies
from services.wiring import build_service


def build(settings=None) -> Service:
    policies, catalogues = load_policies(), load_catalogues()
    clearing_calendars()  # S-15's recall cut-off reads the C-02 calendar: a bad file stops the start here

    def handlers(service: Service) -> dict:
        metrics = SettlementMetrics(service.registry)
        # a refused HIS command is answered on the result topic (boundary.py)
        service.refusers.update(refusers(service.parties, metrics, service.publish, service.party_refused))
        SettlementQueries(
            service.store,
            signer=service.signer,
            parties=service.parties,  # the signed reads
            now=service.clock.now,
        ).register(service.add_query)  # (query.py)
        PersonSettlementQuery(
            service.store,
            signer=service.signer,
            parties=service.parties,
            now=service.clock.now,
            calendar=default_calendar(),
            materials=load_materials(),
        ).register(service.add_query)  # a person's own, through a channel (person_query.py)
        return registry(
            service.store,
            now=service.clock.now,
            parties=service.parties,
            policies=policies,
            catalogues=catalogues,
            sanctions=SanctionsProjection(service.store),
            metrics=metrics,
            answer_ms=service.settings.settlement_insured_timeout_ms,
            calendar=default_calendar(),
            answer=inquiry_answers(service.parties, service.publish),
            max_skew_seconds=service.settings.max_clock_skew_seconds,
        )

    return build_service("settlement", handlers, AUTHORITY, settings)


def main() -> None:
    build().run()
