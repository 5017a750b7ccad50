"""The supervision service's own handlers (``services/supervision/handlers.py`` ``registry``) on the
in-memory store, its query API reading the same store, and completed settlements built to order."""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal

from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from support import default_sender

from contracts.settlement import SettlementCompleted
from contracts.settlement_values import FundAmount, SettlementSlip
from contracts.values import SHANGHAI
from kernel.clearing_month import clearing_month_of
from runtime.calendar import default_calendar
from runtime.envelopes import envelope_for
from runtime.memory import MemoryStore
from runtime.parties import ParticipantRegistry
from services.supervision.adapters import SupervisionReads
from services.supervision.domain.rules import rule_base
from services.supervision.handlers import registry
from services.supervision.metrics import SupervisionMetrics
from services.supervision.query import SupervisionQueries

KEYS = os.environ["YIDI_KEYS_DIR"]
PARTIES = ParticipantRegistry.load(KEYS)
WUHU, WUHAN = "340200", "420100"
HOSPITAL = "H42010200001"  # a Wuhan hospital of the sample registry
PERSON = "11010519491231002X"
NOV_2 = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)


def settlement(
    sid: str,
    *,
    total: str,
    fund: str,
    self_paid: str = "0.00",
    settled_on: date = date(2026, 10, 12),
    medical_type: str = "general_outpatient",
    stay: tuple[date, date] | None = None,
    person_id: str = PERSON,
    institution: str = HOSPITAL,
    insured: str = WUHU,
    treating: str = WUHAN,
) -> SettlementCompleted:
    """A completed settlement with the given slip: ``fund`` from the pooling fund, the rest in cash."""
    total_d, fund_d, own = Decimal(total), Decimal(fund), Decimal(self_paid)
    slip = SettlementSlip(
        total=total_d,
        in_scope=total_d - own,
        b_class_self_pay="0.00",
        over_limit_self_pay="0.00",
        self_paid=own,
        deductible_applied="0.00",
        funds=[FundAmount(code="pooling", name="职工基本医疗保险统筹基金", amount=fund_d)],
        fund_total=fund_d,
        personal_account="0.00",
        personal_cash=total_d - fund_d,
    )
    return SettlementCompleted(
        settlement_id=sid,
        request_id=f"R-{sid}",
        person_id=person_id,
        institution_code=institution,
        hospital_level="3",
        insurance_type="310",
        medical_type="inpatient" if stay else medical_type,
        insured_region=insured,
        treating_region=treating,
        cross_province=insured[:2] != treating[:2],
        clearing_month=clearing_month_of(settled_on),
        visit_id=f"V-{sid}",
        settled_on=settled_on,
        settlement_year=settled_on.year,
        eligibility_basis="long_term",
        ratio_applied="0.70",
        rate_basis="local",
        slip=slip,
        admission_date=stay[0] if stay else None,
        discharge_date=stay[1] if stay else None,
    )


class Supervision:
    """The supervision service in memory: ``send`` a completed settlement to its handler."""

    def __init__(self, clock: datetime = NOV_2) -> None:
        self.clock = clock
        self.store = MemoryStore(producer="supervision", now=lambda: self.clock)
        self.metrics = SupervisionMetrics(CollectorRegistry())
        self.handlers = registry(
            self.store, now=lambda: self.clock, calendar=default_calendar(), rules=rule_base(), metrics=self.metrics
        )
        self.queries = SupervisionQueries(
            SupervisionReads(self.store), rules=rule_base(), now=lambda: self.clock, parties=PARTIES
        )

    async def send(self, payload: SettlementCompleted) -> str:
        return await self.command("settlement.completed.v1", payload)

    async def command(self, topic: str, payload: BaseModel, sender: str | None = None) -> str:
        """As the runtime hands it over: authenticated as ``sender`` (default: the payload's agency or
        institution, or the producing service), received now."""
        env = envelope_for(
            topic, payload, producer="test", now=self.clock, sender=sender or default_sender(topic, payload)
        )
        return await self.handlers[topic](env)

    def flags(self) -> dict[str, dict]:
        return {key: doc["state"] for (name, key), doc in self.store.documents.items() if name == "flags"}
