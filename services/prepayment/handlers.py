"""Prepayment 预付金: which topic is handled by which function (the registry is ``registry()``)."""
from __future__ import annotations

from prometheus_client import Gauge

from contracts.clearing import ClearingNoticeIssued
from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.prepayment import PrepaymentScope, PrepaymentUsageUpdated
from contracts.settlement import SettlementCompleted, SettlementReversed
from runtime.calendar import WorkingCalendar, business_date
from runtime.service import Service
from services.outcome import Outcome
from services.prepayment import domain
from services.prepayment.domain import PrepaymentAccount, SettlementFunds
from services.wiring import Aggregates, Archive, request_of


class PrepaymentHandlers:
    def __init__(self, service: Service, calendar: WorkingCalendar) -> None:
        self.svc, self.calendar = service, calendar
        self.accounts = Aggregates(service, "accounts", PrepaymentAccount, refusals=(ValueError,))
        self.counted = Archive(service, "counted")   # every settlement and reversal counted (M-03)
        self.usage = Gauge("yidi_prepayment_usage_ratio", "P-04 usage rate of an insured region's prepayment",
                           ["insured_region", "scope"], registry=service.registry)

    async def _apply(self, env: Envelope, region: str, scope: PrepaymentScope, step) -> str:
        now = self.svc.clock.now()

        def decide(acc: PrepaymentAccount | None) -> Outcome:
            acc = acc or domain.new_account(region, scope, business_date(now).year)
            outcome = step(acc, now)
            self._observe(outcome)
            return outcome
        return await self.accounts.apply(env, domain.account_key(region, scope), decide)

    def _observe(self, outcome: Outcome) -> None:
        for event in outcome.events:
            if isinstance(event, PrepaymentUsageUpdated) and event.usage_percent is not None:
                self.usage.labels(str(event.insured_region), event.scope.value).set(float(event.usage_percent) / 100)

    # ------------------------------------------------------------ settlements in (P-04)
    async def settlement_completed(self, env: Envelope[SettlementCompleted]) -> str:
        s = env.payload
        item = SettlementFunds(settlement_id=s.settlement_id, insured_region=s.insured_region,
                               treating_region=s.treating_region, fund_total=s.slip.fund_total,
                               occurred_at=env.occurred_at)
        return await self._count(env, item)

    async def settlement_reversed(self, env: Envelope[SettlementReversed]) -> str:
        r = env.payload.root
        # each cancel or refund is its own mark: a partial refund and a later cancel both count
        item = SettlementFunds(settlement_id=f"{r.settlement_id}/{r.reversal_id}", insured_region=r.insured_region,
                               treating_region=r.treating_region, fund_total=abs(r.compensation.fund_total),
                               reversed=True, occurred_at=env.occurred_at)
        return await self._count(env, item)

    async def _count(self, env: Envelope, item: SettlementFunds) -> str:
        """Each settlement and reversal counted once, however late a copy comes (the archive)."""
        if await self.counted.has(item.key):
            return "duplicate"
        result = await self._apply(env, item.insured_region, item.scope,
                                   lambda acc, now: domain.record_settlement(acc, item, self.calendar, now))
        await self.counted.keep(item.key, {**item.model_dump(mode="json"), "scope": item.scope.value})
        return result

    async def clearing_notice(self, env: Envelope[ClearingNoticeIssued]) -> str:
        results = [await self._apply(env, item.insured_region, item.scope,
                                     lambda acc, now, item=item: domain.record_clearing_notice(acc, item, self.calendar, now))
                   for item in domain.from_clearing_notice(env.payload)]
        return "applied" if "applied" in results else "duplicate"

    # ------------------------------------------------------------ agency commands (P-02, P-03, P-09)
    def command(self, step):
        """An agency command about one region's account: set quota, record a payment, report a delay."""
        async def handle(env: Envelope) -> str:
            c = env.payload
            return await self._apply(env, c.insured_region, c.scope,
                                     lambda acc, now: step(acc, c, self.calendar, now))
        return handle

    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload
        now = self.svc.clock.now()
        return await self.accounts.apply(env, due.subject, lambda acc: acc and domain.deadline_fired(
            acc, request_of(due, "prepayment"), self.calendar, now))

    def registry(self) -> dict:
        return {
            "settlement.completed.v1": self.settlement_completed,
            "settlement.reversed.v1": self.settlement_reversed,
            "clearing.notice.v1": self.clearing_notice,
            "prepayment.set-annual-quota.v1": self.command(domain.set_annual_quota),       # P-02, P-03
            "prepayment.record-payment.v1": self.command(domain.record_payment),           # P-04, P-09
            "prepayment.report-delay.v1": self.command(domain.report_delay),               # P-09
            "prepayment.deadline-due.v1": self.deadline_due,
        }
