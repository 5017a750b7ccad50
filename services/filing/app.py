"""Filing service 备案: wiring only. Region policies are validated at start-up: a policy that
breaks a national bound stops the service with a message naming region, field and bound. The
handlers are given the runtime's store, clock, participant registry, metrics registry and its way
of answering a refused sender; the signed reads (F-15) and the directory of networked institutions
(定点医疗机构查询, 002 第十二条) are registered beside them."""

from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.service import Service
from services.filing.authority import AUTHORITY
from services.filing.directory_query import DirectoryQuery
from services.filing.domain import load_policies
from services.filing.handlers import PEOPLE, registry
from services.filing.metrics import FilingMetrics
from services.filing.person_query import PersonFilingQuery
from services.filing.query import FilingQueries
from services.sanctions import SanctionsProjection
from services.wiring import build_service


def build(settings=None) -> Service:
    policies = load_policies()

    def handlers(service: Service) -> dict:
        FilingQueries(
            service.store,
            PEOPLE,
            signer=service.signer,  # F-15: the signed reads (query.py)
            parties=service.parties,
        ).register(service.add_query)
        DirectoryQuery(service.parties, service.clock.now).register(service.add_query)  # 定点医疗机构查询
        PersonFilingQuery(
            service.store, PEOPLE, signer=service.signer, parties=service.parties, now=service.clock.now
        ).register(service.add_query)  # a person's own filings, through a channel (000 第九条)
        return registry(
            service.store,
            now=service.clock.now,
            parties=service.parties,
            policies=policies,
            calendar=default_calendar(),
            sanctions=SanctionsProjection(service.store),  # F-16
            metrics=FilingMetrics(service.registry),
            refuse=service.refuse,
        )

    return build_service("filing", handlers, AUTHORITY, settings)


def main() -> None:
    build().run()
