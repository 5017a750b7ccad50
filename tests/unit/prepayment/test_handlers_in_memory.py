"""The prepayment service's handlers (``services/prepayment/handlers.py`` ``registry``) on the
in-memory store (``runtime.memory``) and an in-memory ledger (``prepayment_support.py``): a command
or a settlement in, the region's stored account, its archived movements, the messages the agencies
hear and the deadlines armed out (P-02..P-05, P-08, P-09, M-03), in milliseconds. The rules are
test_prepayment_account.py's and test_prepayment_ledger.py's; the wire is
tests/integration/test_prepayment_ledger_wire.py's.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from prometheus_client import CollectorRegistry
from support import completed_settlement, default_sender

from contracts.envelope import Envelope
from contracts.prepayment import (
    DecideSanction,
    PrepaymentScope,
    RecordPrepaymentPayment,
    RequestBalance,
    SetAnnualQuota,
)
from contracts.registry import ALL_TOPICS
from contracts.values import SHANGHAI, money
from runtime.calendar import default_calendar, end_of_business_day
from runtime.envelopes import envelope_for
from runtime.failures import PoisonMessage
from runtime.memory import MemoryStore
from services.prepayment.handlers import ACCOUNTS, registry
from services.prepayment.metrics import PrepaymentMetrics

from .prepayment_support import MemoryMovements

WUHU, WUHAN = "340200", "420100"
SCOPE = PrepaymentScope.CROSS_PROVINCE
KEY = f"{WUHU}:{SCOPE.value}"
T0 = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)  # the Wednesday before National Day 2026
TOPIC_OF_TYPE = {spec.type: name for name, spec in ALL_TOPICS.items()}


class Service:
    """The prepayment service's own handlers on the in-memory store and ledger, with a clock the test moves."""

    def __init__(self) -> None:
        self.clock: list[datetime] = [T0]
        self.store = MemoryStore(producer="prepayment", now=lambda: self.clock[0])
        self.ledger = MemoryMovements()
        self.metrics = PrepaymentMetrics(CollectorRegistry())
        self.handlers = registry(
            self.store,
            now=lambda: self.clock[0],
            calendar=default_calendar(),
            movements=self.ledger,
            metrics=self.metrics,
        )

    def envelope(self, topic: str, payload) -> Envelope:
        return envelope_for(topic, payload, producer="test", now=self.clock[0], sender=default_sender(topic, payload))

    async def send(self, topic: str, payload) -> str:
        return await self.handlers[topic](self.envelope(topic, payload))

    def published(self, since: int = 0) -> list[tuple[str, dict]]:
        return [(TOPIC_OF_TYPE[env.type], env.payload.model_dump(mode="json")) for env in self.store.published[since:]]

    def account(self) -> dict:
        state = self.store.state(ACCOUNTS, KEY)
        assert state is not None
        return state

    async def funded(self) -> dict:
        """P-02/P-03: Wuhu's 2026 quota, 600.00 (Q4 average 300.00 × 2) over last year's 500.00: an
        adjustment notice of 100.00."""
        quota = SetAnnualQuota(
            insured_region=WUHU,
            scope=SCOPE,
            year=2026,
            last_year_quota=money("500"),
            last_year_monthly_funds={10: money("300"), 11: money("300"), 12: money("300")},
            issued_at=T0,
        )
        assert await self.send("prepayment.set-annual-quota.v1", quota) == "applied"
        return next(body for topic, body in self.published() if topic == "prepayment.quota.v1")


def settled(settlement_id: str, fund_total: str):
    return completed_settlement(
        settlement_id, insured_region=WUHU, treating_region=WUHAN, settled_on=T0.date(), funds={"pooling": fund_total}
    )


async def test_an_annual_quota_is_stored_announced_archived_and_its_notice_deadlines_armed():
    """P-02, P-03, P-08, P-09, M-03: the quota in force is 600.00 and the 100.00 adjustment a payment
    notice; the agency hears the quota and the usage rate; the quota's and the notice's movements are
    in the ledger; the notice arms P-08's submission (5 working days) and finance payment checks and
    P-09's sanction check 20 working days after it (across National Day: 2026-11-03)."""
    svc = Service()
    quota = await svc.funded()
    assert (quota["quota"], quota["adjustment"], quota["overridden"]) == (
        "600.00",
        "100.00",
        ["last_year_monthly_funds", "last_year_quota"],
    )
    assert [topic for topic, _ in svc.published()] == ["prepayment.quota.v1", "prepayment.usage.v1"]
    account = svc.account()
    assert account["quota"] == "600.00" and quota["notice_id"] in account["notices"]
    assert sorted((m.kind.value, str(m.amount)) for m in await svc.ledger.find(KEY)) == [
        ("adjustment_notice", "100.00"),
        ("quota", "600.00"),
    ]
    armed = {a.schedule.payload.kind: a.schedule for a in svc.store.deadlines.values()}
    assert set(armed) == {"sanction_check", "submission_check", "payment_check"}
    assert armed["sanction_check"].due_at == end_of_business_day(date(2026, 11, 3))
    assert armed["submission_check"].due_at == end_of_business_day(date(2026, 10, 13))
    assert {s.key for s in armed.values()} == {KEY} and armed["sanction_check"].payload.rule == "P-09"


async def test_a_settlement_counts_once_however_often_it_comes():
    """P-04, P-05, M-03: a 450.00 fund part makes the usage 75 % (yellow warning, the gauge 0.75) and
    one movement in the ledger. The same message again, or the same settlement in a new message,
    changes nothing: the inbox, then the ``counted`` archive."""
    svc = Service()
    await svc.funded()
    mark = len(svc.store.published)
    env = svc.envelope("settlement.completed.v1", settled("S-0001", "450.00"))
    assert await svc.handlers["settlement.completed.v1"](env) == "applied"
    [(usage_topic, usage), (warning_topic, warning)] = svc.published(since=mark)
    assert (usage_topic, usage["usage_percent"], usage["level"]) == ("prepayment.usage.v1", "75.00", "yellow")
    assert (warning_topic, warning["level"]) == ("prepayment.warning.v1", "yellow")
    assert svc.metrics.usage.labels(WUHU, SCOPE.value)._value.get() == 0.75
    assert svc.metrics.level.labels(WUHU, SCOPE.value)._value.get() == 1  # yellow
    before = (svc.account(), len(svc.store.published), len(svc.ledger.documents))
    assert before[2] == 3

    assert await svc.handlers["settlement.completed.v1"](env) == "duplicate"
    assert await svc.send("settlement.completed.v1", settled("S-0001", "450.00")) == "duplicate"
    assert (svc.account(), len(svc.store.published), len(svc.ledger.documents)) == before


async def test_a_payment_of_a_notice_the_account_does_not_hold_is_refused_by_rule():
    """P-04, P-09: a payment must name one of the account's notices. The rule's refusal is classified
    ``refused_by_rule`` with its words (the runtime answers an agency on ``party.refused.v1``,
    REFUSED_BY_RULE); the account is unchanged and nothing is published."""
    svc = Service()
    await svc.funded()
    before, mark = svc.account(), len(svc.store.published)
    stranger = uuid.uuid4()
    payment = RecordPrepaymentPayment(
        payment_id="BANK-WUHU-9", insured_region=WUHU, scope=SCOPE, notice_id=stranger, amount=money("100"), paid_at=T0
    )
    with pytest.raises(PoisonMessage) as refused:
        await svc.send("prepayment.record-payment.v1", payment)
    assert refused.value.reason == "refused_by_rule" and str(stranger) in str(refused.value)
    assert svc.account() == before and len(svc.store.published) == mark


async def test_a_past_balance_is_recomputed_from_the_ledger():
    """M-03 and the ledger: a balance asked as of a business day sums the archived movements up to
    its end with the account's recent ones; the day before the account existed sums none."""
    svc = Service()
    await svc.funded()
    await svc.send("settlement.completed.v1", settled("S-0002", "120.00"))
    svc.clock[0], mark = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI), len(svc.store.published)
    for request_id, as_of in (("BAL-0930", date(2026, 9, 30)), ("BAL-0929", date(2026, 9, 29))):
        ask = RequestBalance(
            request_id=request_id, insured_region=WUHU, scope=SCOPE, as_of=as_of, requested_at=svc.clock[0]
        )
        assert await svc.send("prepayment.request-balance.v1", ask) == "applied"
    [(topic, on_30), (_, on_29)] = svc.published(since=mark)
    assert topic == "prepayment.balance.v1" and on_30["movements"] == 3
    assert (on_30["balances"]["quota"], on_30["balances"]["uncleared"]) == ("600.00", "120.00")
    assert on_29["movements"] == 0


async def test_an_adjustment_unpaid_20_working_days_suspends_the_regions_admissions():
    """P-09, S-20, P-08: nothing was paid; the deadlines the notice armed fire after 2026-11-03: the
    region's new admissions are suspended (``prepayment.sanction.v1``) and the two P-08 steps missed
    are recorded as breaches."""
    svc = Service()
    quota = await svc.funded()
    svc.clock[0], mark = datetime(2026, 11, 4, 10, 0, tzinfo=SHANGHAI), len(svc.store.published)
    for fired in svc.store.due():
        assert await svc.handlers["prepayment.deadline-due.v1"](fired) == "applied"
    heard = svc.published(since=mark)
    [proposal] = [body for topic, body in heard if topic == "prepayment.sanction-proposed.v1"]
    assert (proposal["kind"], proposal["action"], proposal["notice_ids"]) == (
        "admission_suspension",
        "proposed",
        [quota["notice_id"]],
    )
    assert not [body for topic, body in heard if topic == "prepayment.sanction.v1"]  # 可暂停: the agency decides
    decide = DecideSanction(
        insured_region="340200",
        scope=PrepaymentScope.CROSS_PROVINCE,
        proposal_id=proposal["proposal_id"],
        decision="impose",
        reason="逾期未上解且未报备延迟原因",
        decided_at=svc.clock[0],
    )
    mark = len(svc.store.published)
    assert await svc.send("prepayment.decide-sanction.v1", decide) == "applied"
    [sanction] = [body for topic, body in svc.published(since=mark) if topic == "prepayment.sanction.v1"]
    assert (sanction["kind"], sanction["action"], sanction["notice_ids"]) == (
        "admission_suspension",
        "imposed",
        [quota["notice_id"]],
    )
    breaches = sorted(body["kind"] for topic, body in heard if topic == "prepayment.deadline-breached.v1")
    assert breaches == ["finance_payment", "submission_to_finance"]


async def test_a_settlement_against_a_zero_quota_is_red_on_the_gauges_too():
    """P-04, P-05: with no quota and no top-ups the rate is undefined (``usage_percent`` null) but any use
    is red, as the console shows it: the warning-level gauge says red (2) and the ratio is +Inf, so the
    PrepaymentRedWarning alert fires (deploy/alerts.yml)."""
    svc = Service()
    env = svc.envelope("settlement.completed.v1", settled("S-0002", "12.00"))
    assert await svc.handlers["settlement.completed.v1"](env) == "applied"
    usage = next(body for topic, body in svc.published() if topic == "prepayment.usage.v1")
    assert (usage["usage_percent"], usage["level"]) == (None, "red")
    assert svc.metrics.level.labels(WUHU, SCOPE.value)._value.get() == 2
    assert svc.metrics.usage.labels(WUHU, SCOPE.value)._value.get() == float("inf")
