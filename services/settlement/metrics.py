"""Business metrics of real-time settlement, counted from a stored decision's ``counts``
(``domain/decision.py``) after the store took it: a decision is pure and may be made twice on a
concurrent write, so nothing is counted while deciding."""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Histogram

from contracts.his_result import PartyRefusalCode
from contracts.settlement import SettlementCompleted
from contracts.settlement_values import RefusalCode
from contracts.values import MedicalType
from services.settlement.domain.decision import (
    Completed,
    Inconsistent,
    RefusedRequest,
    RefusedSender,
    Reversed,
    SettlementDecision,
    TimedOut,
)

log = logging.getLogger(__name__)


class SettlementMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.settlements = Counter(
            "yidi_settlements_total",
            "Settlement requests by outcome and medical type",
            ["outcome", "medical_type"],
            registry=registry,
        )
        self.refusals = Counter(
            "yidi_settlement_refusals_total", "Refusals by classified reason (S-19)", ["code"], registry=registry
        )
        self.latency = Histogram(
            "yidi_settlement_latency_seconds",
            "HIS request received → result published, across all four hops (S-01)",
            registry=registry,
            # up to the S-01 budget (20 s, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS): the alert on it reads p99 there
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30),
        )
        self.fund_paid = Counter(
            "yidi_settlement_fund_paid_yuan_total", "Fund amounts paid, yuan", ["fund"], registry=registry
        )
        self.timeouts = Counter(
            "yidi_settlement_timeouts_total",
            "Requests answered 'not settled directly' because the insured place did not answer in time",
            registry=registry,
        )
        self.inconsistent = Counter(
            "yidi_settlement_inconsistent_answers_total",
            "Insured-place answers not used because they do not fit the request (S-01, S-07), by hop and failed check",
            ["hop", "check"],
            registry=registry,
        )

    def count(self, decision: SettlementDecision | None) -> None:
        """What ``decision`` counts; None (a copy of a message already applied) counts nothing."""
        for fact in decision.counts if decision is not None else ():
            if isinstance(fact, RefusedRequest):
                self.refused(fact.medical_type, fact.code)
            elif isinstance(fact, RefusedSender):
                self.refused_sender(fact.code, None)
            elif isinstance(fact, Completed):
                self.completed(fact.done, time.time() - fact.received_wall)
            elif isinstance(fact, TimedOut):
                self.timeouts.inc()
            elif isinstance(fact, Inconsistent):
                self.inconsistent.labels(fact.hop, fact.check).inc()
                log.warning("%s answer to %s not used: %s", fact.hop, fact.ref, fact.message)
            elif isinstance(fact, Reversed):
                self.reversed(fact.done)

    def completed(self, done: SettlementCompleted, seconds: float) -> None:
        self.settlements.labels("completed", done.medical_type.value).inc()
        self.latency.observe(seconds)
        for fund in done.slip.funds:
            self.fund_paid.labels(fund.code.value).inc(float(fund.amount))

    def refused(self, medical_type: MedicalType, code: RefusalCode | PartyRefusalCode) -> None:
        self.settlements.labels("refused", medical_type.value).inc()
        self.refusals.labels(code.value).inc()

    def refused_sender(self, code: PartyRefusalCode, medical_type: MedicalType | None) -> None:
        """A HIS command refused for who sent it (003 §5 (三)), counted with the other refusals."""
        if medical_type is not None:
            self.settlements.labels("refused", medical_type.value).inc()
        self.refusals.labels(code.value).inc()

    def reversed(self, done) -> None:
        self.settlements.labels(done.outcome, done.medical_type.value).inc()
