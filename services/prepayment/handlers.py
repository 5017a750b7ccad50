"""Prepayment 预付金: which topic is handled by which function (the registry is ``registry()``, at the bottom).

Every handler loads the region's account (``accounts``), has ``domain/`` decide once (pure) and the
store keep the decision; the account's movements go to the ledger (``adapters.py``) around the
write, and the P-04 usage rate is set on the metrics. It is given what it reads: the store, the
clock (``now``), the working calendar, the ledger and the metrics; ``app.py`` passes the runtime's."""

from __future__ import annotations

from contracts.clearing import ClearingNoticeIssued, ClearingObligationBreached
from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.prepayment import (
    InterestShared,
    LodgeDeposit,
    PrepaymentScope,
    RequestBalance,
    SettleDeposit,
    ShareInterest,
)
from contracts.settlement import SettlementCompleted, SettlementReversed
from runtime.calendar import WorkingCalendar, business_date
from services.outcome import Decision
from services.prepayment import domain
from services.prepayment.adapters import MovementLedger
from services.prepayment.domain import PrepaymentAccount, SettlementFunds, deposit
from services.prepayment.domain.interest import InterestDistribution, share_interest
from services.prepayment.domain.ledger import LedgerAccount
from services.prepayment.domain.policy import PrepaymentPolicies, default_policies
from services.prepayment.metrics import PrepaymentMetrics
from services.wiring import Aggregates, Archive, Handler, Now, Store, request_of

ACCOUNTS = "accounts"


class PrepaymentHandlers:
    """The regions' prepayment accounts (``accounts``, one per region and scope), the interest
    distributions (``interest``, P-10) and the settlements counted (the ``counted`` archive)."""

    def __init__(
        self,
        store: Store,
        *,
        now: Now,
        calendar: WorkingCalendar,
        movements: MovementLedger,
        metrics: PrepaymentMetrics,
        policies: PrepaymentPolicies | None = None,
    ) -> None:
        self.now, self.calendar, self.movements, self.metrics = now, calendar, movements, metrics
        self.policies = policies or default_policies()  # the region texts (P-02, P-04, P-10..P-12)
        self.accounts = Aggregates(store, ACCOUNTS, PrepaymentAccount, refusals=(ValueError,))
        self.interest = Aggregates(store, "interest", InterestDistribution, refusals=(ValueError,))
        self.deposits = Aggregates(store, "deposits", deposit.PerformanceDeposit, refusals=(ValueError,))
        self.counted = Archive(store, "counted")  # every settlement and reversal counted (M-03)
        self._archived: dict[str, int] = {}  # account key → seq this process archived up to

    async def _apply(self, env: Envelope, region: str, scope: PrepaymentScope, step) -> str:
        now = self.now()

        def decide(acc: PrepaymentAccount | None) -> Decision:
            acc = acc or domain.new_account(region, scope, business_date(now).year)
            return step(acc, now)

        return await self._write(env, domain.account_key(region, scope), decide)

    async def _write(self, env: Envelope, key: str, decide) -> str:
        """One message on account ``key``, its movements archived (ledger.py): first the movements
        the stored account does not know to be archived (a crash after an earlier write), recorded
        as archived by this write; after the write, the movements it made, and the usage rate it
        announced is set on the metrics (counted from the stored decision, not inside it)."""
        doc, acc = await self.accounts.load_document(key)
        known = self._archived.get(key, 0)
        if acc is not None:
            await self.movements.keep(key, acc.unarchived(known))
            known = max(known, acc.seq)
        written: dict = {}

        def archived(state: PrepaymentAccount | None) -> Decision | None:
            outcome = decide(state)
            written["outcome"] = outcome
            if outcome is None or outcome.state is None:
                return outcome
            new = outcome.state.archived(known)
            written["state"] = new
            return outcome._replace(state=new)

        result = await self.accounts.apply(env, key, archived, loaded=doc)
        if result != "duplicate" and written.get("outcome") is not None:
            self.metrics.observe(written["outcome"])
        new = written.get("state")
        if new is not None:
            await self.movements.keep(key, new.unarchived(known))
            self._archived[key] = max(self._archived.get(key, 0), new.seq)
        return result

    # ------------------------------------------------------------ settlements in (P-04)
    async def settlement_completed(self, env: Envelope[SettlementCompleted]) -> str:
        s = env.payload
        item = SettlementFunds(
            settlement_id=s.settlement_id,
            insured_region=s.insured_region,
            treating_region=s.treating_region,
            fund_total=s.slip.fund_total,
            cost=s.slip.total,
            occurred_at=env.occurred_at,
        )
        return await self._count(env, item)

    async def settlement_reversed(self, env: Envelope[SettlementReversed]) -> str:
        r = env.payload.root
        # each cancel or refund is its own mark: a partial refund and a later cancel both count
        item = SettlementFunds(
            settlement_id=f"{r.settlement_id}/{r.reversal_id}",
            insured_region=r.insured_region,
            treating_region=r.treating_region,
            fund_total=abs(r.compensation.fund_total),
            cost=abs(r.compensation.total),
            reversed=True,
            occurred_at=env.occurred_at,
        )
        return await self._count(env, item)

    async def _count(self, env: Envelope, item: SettlementFunds) -> str:
        """Each settlement and reversal counted once, however late a copy comes (the archive)."""
        if await self.counted.has(item.key):
            return "duplicate"
        result = await self._apply(
            env,
            item.insured_region,
            item.scope,
            lambda acc, now: domain.record_settlement(acc, item, self.calendar, now, self.policies),
        )
        await self.counted.keep(item.key, {**item.model_dump(mode="json"), "scope": item.scope.value})
        return result

    async def clearing_notice(self, env: Envelope[ClearingNoticeIssued]) -> str:
        results = [
            await self._apply(
                env,
                item.insured_region,
                item.scope,
                lambda acc, now, item=item: domain.record_clearing_notice(acc, item, self.calendar, now, self.policies),
            )
            for item in domain.from_clearing_notice(env.payload)
        ]
        return "applied" if "applied" in results else "duplicate"

    async def clearing_breach(self, env: Envelope[ClearingObligationBreached]) -> str:
        """C-03/C-07 → P-09: the breach recorded on the account(s) of the region that hold its notice
        (a notice keeps its id in each scope with payable lines); a notice with none (only receivable
        lines) has no payment of this region to chase."""
        b = env.payload
        item = domain.ClearingBreachReceived(
            breach_id=b.breach_id,
            notice_id=b.notice_id,
            insured_region=b.region,
            obligation=b.obligation.value,
            due_at=b.due_at,
            breached_at=b.breached_at,
            rule=b.rule,
        )
        results = []
        for scope in PrepaymentScope:
            held = await self.accounts.load(domain.account_key(str(b.region), scope))
            if held is not None and str(b.notice_id) in held.notices:
                results.append(
                    await self._apply(
                        env,
                        str(b.region),
                        scope,
                        lambda acc, now: domain.record_clearing_breach(acc, item, self.calendar, now, self.policies),
                    )
                )
        if not results:
            return "no-account"
        return "applied" if "applied" in results else "duplicate"

    # ------------------------------------------------------------ agency commands (P-02, P-03, P-09)
    async def _command(self, env: Envelope, step) -> str:
        """An agency command about one region's account: set quota, record a payment, report a delay."""
        c = env.payload
        return await self._apply(
            env, c.insured_region, c.scope, lambda acc, now: step(acc, c, self.calendar, now, self.policies)
        )

    async def set_annual_quota(self, env: Envelope) -> str:
        return await self._command(env, domain.set_annual_quota)  # P-02, P-03

    async def record_payment(self, env: Envelope) -> str:
        return await self._command(env, domain.record_payment)  # P-04, P-09

    async def report_delay(self, env: Envelope) -> str:
        return await self._command(env, domain.report_delay)  # P-09

    async def decide_sanction(self, env: Envelope) -> str:
        """P-09: the agency one level above decides the admission suspension the platform proposed."""
        c = env.payload
        return await self._apply(
            env, c.insured_region, c.scope, lambda acc, now: domain.decide_sanction(acc, c, now, env.sender or "")
        )

    async def record_proactive_top_up(self, env: Envelope) -> str:
        return await self._command(env, domain.record_proactive_top_up)  # P-05, 004 第二十四条

    async def record_return(self, env: Envelope) -> str:
        return await self._command(env, domain.record_return)  # C-05, 004 第五十一条

    async def record_submission(self, env: Envelope) -> str:
        return await self._command(env, domain.record_submission)  # P-08

    # ------------------------------------------------------------ the ledger asked, interest (P-10)
    async def request_balance(self, env: Envelope[RequestBalance]) -> str:
        c = env.payload
        now = self.now()
        key = domain.account_key(c.insured_region, c.scope)
        archived = await self.movements.upto(key, c.as_of)  # the archive, with the account's recent ones

        def decide(acc: PrepaymentAccount | None):
            if acc is None:
                raise ValueError(f"no prepayment account {key}")
            return domain.answer_balance(acc, c, now, archived)

        return await self._write(env, key, decide)

    async def share_interest(self, env: Envelope[ShareInterest]) -> str:
        """P-10: read each region's ledger (its past days are final), then share once."""
        c = env.payload
        now = self.now()
        movements: dict = {}
        for region in c.regions:
            key = domain.account_key(region, c.scope)
            acc = await self.accounts.load(key)
            if acc is None:
                movements[str(region)] = []
            elif acc.prepaid.covers(c.period_start):  # the daily changes the account keeps
                movements[str(region)] = acc.prepaid
            else:  # an older period: the archive
                by_seq = {m.seq: m for m in await self.movements.touching(key, LedgerAccount.PREPAID, c.period_end)}
                by_seq.update((m.seq, m) for m in acc.recent)
                movements[str(region)] = list(by_seq.values())
        return await self.interest.apply(
            env,
            c.interest_id,
            lambda pool: share_interest(
                pool, c, env.sender or "", movements, business_date(now), now, self.calendar, self.policies
            ),
        )

    async def interest_shared(self, env: Envelope[InterestShared]) -> str:
        """P-10 (004 第二十九条(三)): each region's share recorded on its account."""
        e = env.payload
        results = [
            await self._apply(
                env,
                str(s.insured_region),
                e.scope,
                lambda acc, now, s=s: domain.record_interest(
                    acc, e.interest_id, s.share, self.calendar, now, self.policies
                ),
            )
            for s in e.shares
            if s.share > 0
        ]
        return "applied" if "applied" in results else "duplicate"

    # ------------------------------------------------------------ the performance deposit (P-12)
    async def lodge_deposit(self, env: Envelope[LodgeDeposit]) -> str:
        c, now = env.payload, self.now()
        key = deposit.deposit_key(c.institution_code, c.year)
        return await self.deposits.apply(env, key, lambda held: deposit.lodge(held, c, now, self.policies))

    async def settle_deposit(self, env: Envelope[SettleDeposit]) -> str:
        c, now = env.payload, self.now()
        key = deposit.deposit_key(c.institution_code, c.year)
        return await self.deposits.apply(env, key, lambda held: deposit.settle(held, c, now, self.policies))

    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload
        now = self.now()
        return await self._write(
            env,
            due.subject,
            lambda acc: acc
            and domain.deadline_fired(acc, request_of(due, "prepayment"), self.calendar, now, self.policies),
        )


def registry(
    store: Store,
    *,
    now: Now,
    calendar: WorkingCalendar,
    movements: MovementLedger,
    metrics: PrepaymentMetrics,
    policies: PrepaymentPolicies | None = None,
) -> dict[str, Handler]:
    """Who handles each topic the prepayment service consumes (``contracts/registry.py``): one handler each."""
    h = PrepaymentHandlers(store, now=now, calendar=calendar, movements=movements, metrics=metrics, policies=policies)
    return {
        "settlement.completed.v1": h.settlement_completed,
        "settlement.reversed.v1": h.settlement_reversed,
        "clearing.notice.v1": h.clearing_notice,
        "clearing.obligation-breached.v1": h.clearing_breach,  # C-03 → P-09
        "prepayment.set-annual-quota.v1": h.set_annual_quota,  # P-02, P-03
        "prepayment.record-payment.v1": h.record_payment,  # P-04, P-09
        "prepayment.report-delay.v1": h.report_delay,  # P-09
        "prepayment.decide-sanction.v1": h.decide_sanction,  # P-09 可暂停
        "prepayment.record-submission.v1": h.record_submission,  # P-08
        "prepayment.record-top-up.v1": h.record_proactive_top_up,  # P-05, 004 第二十四条
        "prepayment.record-return.v1": h.record_return,  # C-05
        "prepayment.request-balance.v1": h.request_balance,  # ledger
        "prepayment.share-interest.v1": h.share_interest,  # P-10
        "prepayment.interest-shared.v1": h.interest_shared,  # P-10
        "prepayment.lodge-deposit.v1": h.lodge_deposit,  # P-12
        "prepayment.settle-deposit.v1": h.settle_deposit,  # P-12
        "prepayment.deadline-due.v1": h.deadline_due,
    }
