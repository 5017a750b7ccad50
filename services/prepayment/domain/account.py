"""Pure decisions on a prepayment account: (state, input, calendar, now) → Decision.

Each function returns the new account, the events to publish and the deadlines to arm; what
follows every change (usage, warnings, the emergency top-up, sanctions) is ``usage``'s, the
notices' clocks are ``notices``'. Redelivered inputs (same settlement id, notice id or payment id)
return the state unchanged and no events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from contracts.prepayment import (
    BreachKind,
    DecideSanction,
    PaymentNoticeKind,
    PrepaymentBalance,
    PrepaymentQuotaSet,
    PrepaymentScope,
    ProposalAction,
    RecordFinanceSubmission,
    RecordPrepaymentPayment,
    RecordProactiveTopUp,
    RecordReturn,
    ReportPaymentDelay,
    RequestBalance,
    SanctionDecision,
    SanctionKind,
    SetAnnualQuota,
    WarningLevel,
)
from contracts.values import RegionCode
from runtime.calendar import WorkingCalendar, business_date, end_of_business_day
from services.outcome import DeadlineRequest, Decision, deadline, remember, stable_id

from . import formulas as f
from .inputs import ClearingBreachReceived, ClearingNoticeReceived, SettlementFunds
from .ledger import LedgerAccount, Movement, MovementKind, balances
from .model import SERVICE, PaymentNotice, PrepaymentAccount, account_key
from .notices import (
    FINANCE_PAYS_WD,
    PAYMENT_CHECK,
    PAYMENT_SANCTION_WD,
    SANCTION_CHECK,
    SUBMISSION_CHECK,
    breach,
    new_notice,
    p08_check,
    p08_deadlines,
    sanction_deadline,
)
from .policy import PrepaymentPolicies, default_policies
from .usage import after_change, proposal_event, sanction_event

CLEARING_PAYMENT = "transferred"  # C-03: finance transfers the notice's money (clearing's Obligation.TRANSFERRED)


def new_account(insured_region: str, scope: PrepaymentScope, year: int) -> PrepaymentAccount:
    return PrepaymentAccount(
        account_id=stable_id(SERVICE, insured_region, scope.value),
        insured_region=RegionCode(insured_region),
        scope=scope,
        year=year,
    )


# ---------------------------------------------------------------- inputs
def set_annual_quota(
    acc: PrepaymentAccount,
    cmd: SetAnnualQuota,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """P-02/P-03: the year's quota; top-ups restart at 0; a positive adjustment is a payment
    notice with the 20-working-day sanction clock of P-09. The region's text in force on the day the
    quota is set decides how it is sized (P-02; P-11: Hunan's two months of last year's actual costs,
    outpatient and inpatient together, 002 第五条、第二十四条)."""
    if acc.quota_year is not None and cmd.year <= acc.quota_year:
        return Decision(acc, [], [])  # that year (or a later one) is already set
    policies = policies or default_policies()
    policy = policies.quota(str(cmd.insured_region), business_date(cmd.issued_at), cmd.scope)
    # P-02: last year's settlement funds (P-11: actual costs) from this service's own ledger; a figure
    # an agency typed is accepted only as a recorded override (the event says which was used)
    recorded = acc.monthly_costs(cmd.year - 1) if policy.measure == "total_cost" else acc.monthly_settled(cmd.year - 1)
    funds = cmd.last_year_monthly_funds if cmd.last_year_monthly_funds is not None else recorded
    last_year_quota = cmd.last_year_quota if cmd.last_year_quota is not None else acc.balance(LedgerAccount.QUOTA)
    computed = f.annual_quota(funds, policy)
    quota = f.quota_in_force(computed, last_year_quota)
    adjust = f.adjustment(computed, last_year_quota)
    new = acc.model_copy(
        update={"year": cmd.year, "quota": quota, "quota_year": cmd.year, "top_ups": f.ZERO, "year_top_ups": f.ZERO}
    )
    # the ledger's quota follows the quota in force (an overridden last-year quota moves it too)
    kind = MovementKind.ADJUSTMENT if acc.balance(LedgerAccount.QUOTA) or acc.quota_year else MovementKind.QUOTA
    new = new.with_movement(kind, quota - acc.balance(LedgerAccount.QUOTA), f"quota:{cmd.year}", now)
    events: list = []
    deadlines: list[DeadlineRequest] = []
    notice_id = None
    if adjust > 0:
        notice = new_notice(
            acc,
            PaymentNoticeKind.ANNUAL_ADJUSTMENT,
            f"adjustment:{cmd.year}",
            adjust,
            cmd.issued_at,
            PAYMENT_SANCTION_WD,
            calendar,
        )
        notice_id = notice.notice_id
        new = new.with_notice(notice).with_movement(MovementKind.ADJUSTMENT_NOTICE, adjust, str(notice_id), now)
        deadlines += [sanction_deadline(acc, notice, calendar), *p08_deadlines(acc, notice, calendar)]
    override = [
        name
        for name, typed in (
            ("last_year_monthly_funds", cmd.last_year_monthly_funds),
            ("last_year_quota", cmd.last_year_quota),
        )
        if typed is not None
    ]
    events.append(
        PrepaymentQuotaSet(
            account_id=acc.account_id,
            insured_region=acc.insured_region,
            scope=acc.scope,
            year=cmd.year,
            computed_quota=computed,
            quota=quota,
            last_year_quota=last_year_quota,
            adjustment=adjust,
            policy_source=policy.source,
            notice_id=notice_id,
            set_at=now,
            last_year_monthly_funds={m: funds.get(m, f.ZERO) for m in policy.basis_months},
            recorded_monthly_funds={m: recorded.get(m, f.ZERO) for m in policy.basis_months},
            overridden=override,
            adjustment_pay_by=_adjustment_due(policies, cmd, adjust),
            adjustment_pay_by_source=_adjustment_due_source(policies, cmd, adjust),
            quota_measure=policy.measure,
            quota_months=policy.months,
            quota_basis=policy.basis,
        )
    )
    return after_change(acc, new, f"quota:{cmd.year}", calendar, now, events, deadlines, policies=policies)


def _adjustment_due(policies: PrepaymentPolicies, cmd: SetAnnualQuota, adjust: Decimal) -> datetime | None:
    """The January notice's payment day where the region's text sets one (004 第二十条; 000 第二十七条)."""
    rule = policies.adjustment_payment(str(cmd.insured_region), business_date(cmd.issued_at))
    due = rule.due_on(cmd.year) if adjust > 0 else None
    return end_of_business_day(due) if due is not None else None


def _adjustment_due_source(policies: PrepaymentPolicies, cmd: SetAnnualQuota, adjust: Decimal) -> str | None:
    return (
        policies.adjustment_payment(str(cmd.insured_region), business_date(cmd.issued_at)).source
        if adjust > 0
        else None
    )


def record_settlement(
    acc: PrepaymentAccount,
    item: SettlementFunds,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """P-04 numerator: a completed settlement's fund total becomes uncleared payable; its
    reversal takes it out again (after clearing, out of the next period: S-15, C-05). Each is
    counted once (``item.key``); arrival order does not matter. Outpatient and inpatient alike
    (P-11, 002 第五条: 门诊预付金并入住院预付金统一测算及管理), with its actual cost for P-11's basis."""
    if item.key in acc.counted:
        return Decision(acc, [], [])
    change = -item.fund_total if item.reversed else item.fund_total
    cost = item.cost if item.cost is not None else item.fund_total
    new = acc.model_copy(update={"uncleared": acc.uncleared + change, "counted": remember(acc.counted, item.key)})
    new = new.with_cost(business_date(now), -cost if item.reversed else cost)
    new = new.with_movement(
        MovementKind.REVERSAL if item.reversed else MovementKind.SETTLEMENT,
        item.fund_total,
        f"settlement:{item.key}",
        now,
    )
    if not change:
        return Decision(new, [], [])
    return after_change(acc, new, f"settlement:{item.key}", calendar, now, policies=policies)


def record_clearing_notice(
    acc: PrepaymentAccount,
    item: ClearingNoticeReceived,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """P-04: the period's settlements move from uncleared to cleared-unpaid; the notice starts the
    P-09 20-working-day clock; a red account gets this period's emergency top-up (004 第二十六条)."""
    if str(item.notice_id) in acc.notices:
        return Decision(acc, [], [])
    notice = PaymentNotice(
        notice_id=item.notice_id,
        kind=PaymentNoticeKind.CLEARING,
        amount=item.to_pay,
        issued_at=item.issued_at,
        sanction_due_at=calendar.deadline(item.issued_at, PAYMENT_SANCTION_WD),
        returns_due=item.to_pay - item.payable,
    )
    new = acc.with_notice(notice).model_copy(
        update={
            "uncleared": acc.uncleared - item.settlements_total,
            "cleared_unpaid": acc.cleared_unpaid + item.to_pay,
            "monthly_clearing": item.payable,
        }
    )
    # the ledger: the period's settlements leave the uncleared payable; what the notice does not ask
    # (audit deductions, R-04) leaves the expense; reverse clearing's money coming back is owed to the
    # region (C-05) instead of being dropped
    ref = f"clearing:{item.notice_id}"
    new = new.with_movement(MovementKind.CLEARING_NOTICE, item.settlements_total, ref, now)
    new = new.with_movement(MovementKind.AUDIT_DEDUCTION, item.settlements_total - item.to_pay, ref, now)
    new = new.with_movement(MovementKind.REVERSE_CLEARING_RETURN, item.to_pay - item.payable, ref, now)
    deadlines = [sanction_deadline(acc, notice, calendar)] if notice.amount > 0 else []
    events: list = []
    for open_ in acc.notices.values():  # P-08: 紧急调增额度应于下期清算前完成拨付
        if (
            open_.kind is PaymentNoticeKind.EMERGENCY_TOP_UP
            and not open_.settled
            and open_.issued_at < item.issued_at
            and BreachKind.TOP_UP_BEFORE_NEXT_CLEARING not in open_.breaches
        ):
            late, event = breach(acc, open_, BreachKind.TOP_UP_BEFORE_NEXT_CLEARING, None, calendar, now)
            new = new.with_notice(late)
            events.append(event)
    return after_change(
        acc,
        new,
        f"clearing:{item.clearing_month}",
        calendar,
        now,
        events,
        deadlines,
        period_signed=True,
        policies=policies,
    )


def record_payment(
    acc: PrepaymentAccount,
    cmd: RecordPrepaymentPayment,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """Money arrived for a notice: a top-up raises the base (P-04), a clearing payment lowers
    cleared-unpaid; a settled notice ends its sanction (P-09)."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None:
        raise ValueError(f"notice {cmd.notice_id} is not a notice of account {acc.account_id}")
    if cmd.payment_id in notice.payment_ids:
        return Decision(acc, [], [])
    paid = notice.model_copy(
        update={"paid": notice.paid + cmd.amount, "payment_ids": (*notice.payment_ids, cmd.payment_id)}
    )
    update: dict = {"notices": {**acc.notices, str(notice.notice_id): paid}}
    if notice.kind is PaymentNoticeKind.EMERGENCY_TOP_UP:
        update["top_ups"] = acc.top_ups + cmd.amount
    elif notice.kind is PaymentNoticeKind.CLEARING:
        update["cleared_unpaid"] = acc.cleared_unpaid - cmd.amount
    new, ref = acc.model_copy(update=update), f"payment:{cmd.payment_id}"
    if notice.kind is PaymentNoticeKind.CLEARING:
        new = new.with_movement(MovementKind.CLEARING_PAYMENT, cmd.amount, ref, now)
    else:  # money paid in to the keeper (暂付款), and the memorandum call closed by what it covers
        kind = (
            MovementKind.TOP_UP_PAYMENT
            if notice.kind is PaymentNoticeKind.EMERGENCY_TOP_UP
            else MovementKind.ADJUSTMENT_PAYMENT
        )
        new = new.with_movement(kind, cmd.amount, ref, now)
        unpaid = max(notice.amount - notice.paid, f.ZERO)
        new = new.with_movement(MovementKind.NOTICE_PAID, min(cmd.amount, unpaid), ref, now)
    return after_change(acc, new, ref, calendar, now, policies=policies)


def report_delay(
    acc: PrepaymentAccount,
    cmd: ReportPaymentDelay,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """P-09: a reported reason spares (or lifts) the admission suspension of that notice."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None:
        raise ValueError(f"notice {cmd.notice_id} is not a notice of account {acc.account_id}")
    if notice.kind is PaymentNoticeKind.EMERGENCY_TOP_UP:
        raise ValueError("P-09: a delay reason does not excuse an unpaid emergency top-up")
    if notice.delay_reason:
        return Decision(acc, [], [])
    new = acc.with_notice(notice.model_copy(update={"delay_reason": cmd.reason}))
    return after_change(acc, new, f"delay:{cmd.notice_id}", calendar, now, usage=False, policies=policies)


def record_clearing_breach(
    acc: PrepaymentAccount,
    item: ClearingBreachReceived,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """C-03/C-07 → P-09: a step of a clearing notice the clearing service found breached, recorded on the
    notice once (its breach id is stable, so redelivery finds the step already there).

    Our reading of the link: the region's *payment* of the notice is finance's transfer (``transferred``);
    P-09 sanctions that payment unpaid 20 working days after the notice with no reported reason. The
    transfer falls due at most 5 + 10 working days after the notice (C-03; earlier when the region
    submits early), so its breach comes before P-09's date: it is recorded and the notice's own P-09
    clock (``SANCTION_CHECK`` at ``sanction_due_at``) decides, with ``record-payment`` and
    ``report-delay`` as before. Only when the transfer's due time is at or after ``sanction_due_at``
    (a calendar that puts it there) does the breach itself make the unpaid notice overdue, so the
    admission suspension (S-20) applies at once unless a delay reason was reported. The other steps
    (submission, receipt feedback, C-07's payment of institutions) are recorded only."""
    notice = acc.notices.get(str(item.notice_id))
    if notice is None or notice.kind is not PaymentNoticeKind.CLEARING:
        raise ValueError(f"{item.rule}: {item.notice_id} is not a clearing notice of account {acc.account_id}")
    if item.obligation in notice.clearing_breaches:
        return Decision(acc, [], [])
    update: dict = {"clearing_breaches": (*notice.clearing_breaches, item.obligation)}
    if (
        item.obligation == CLEARING_PAYMENT
        and item.due_at >= notice.sanction_due_at
        and not notice.settled
        and not notice.overdue
    ):
        update["overdue"] = True
    new = acc.with_notice(notice.model_copy(update=update))
    return after_change(acc, new, f"clearing-breach:{item.breach_id}", calendar, now, usage=False, policies=policies)


def deadline_fired(
    acc: PrepaymentAccount,
    request: DeadlineRequest,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """P-09: at a notice's sanction deadline, an unpaid notice becomes overdue. P-08: at its
    submission and finance deadlines, a step not done is published as a breach."""
    notice = acc.notices.get(request.ref)
    if request.kind in (SUBMISSION_CHECK, PAYMENT_CHECK) and notice is not None:
        return p08_check(acc, notice, request, calendar, now)
    if request.kind != SANCTION_CHECK or notice is None or notice.overdue or notice.settled:
        return Decision(acc, [], [])
    if now < notice.sanction_due_at:
        return Decision(acc, [], [request])  # fired early (clock skew): arm it again
    new = acc.with_notice(notice.model_copy(update={"overdue": True}))
    return after_change(acc, new, f"deadline:{request.ref}", calendar, now, usage=False, policies=policies)


def record_submission(
    acc: PrepaymentAccount,
    cmd: RecordFinanceSubmission,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """P-08: the notice reached finance (the receipt time decides); finance's 10 working days run
    from it, so the payment deadline is armed again for its new moment."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None or notice.kind is PaymentNoticeKind.CLEARING:
        raise ValueError(
            f"P-08: {cmd.notice_id} is not a prepayment notice of account {acc.account_id} "
            f"(clearing notices follow C-03 in the clearing service)"
        )
    if notice.submitted_at is not None:
        return Decision(acc, [], [])
    pay_by = calendar.deadline(now, FINANCE_PAYS_WD)
    new = acc.with_notice(notice.model_copy(update={"submitted_at": now, "finance_pay_by": pay_by}))
    again = deadline(
        SERVICE,
        PAYMENT_CHECK,
        account_key(acc.insured_region, acc.scope),
        pay_by,
        "P-08",
        calendar.source,
        ref=str(notice.notice_id),
    )
    return Decision(new.model_copy(update={"version": acc.version + 1}), [], [again])


# ---------------------------------------------------------------- the ledger asked, interest shared (P-10)
def answer_balance(
    acc: PrepaymentAccount, cmd: RequestBalance, now: datetime, archived: Iterable[Movement] = ()
) -> Decision[PrepaymentAccount]:
    """A past balance recomputed from the ledger's movements up to the end of ``as_of``: those of
    the archive (``archived``, read by the handler) with the account's recent ones not archived
    yet; the account is unchanged (the answer is a query, the inbox records it was answered)."""
    by_seq = {m.seq: m for m in archived}
    by_seq.update((m.seq, m) for m in acc.recent)
    upto = [m for m in by_seq.values() if m.on <= cmd.as_of]
    event = PrepaymentBalance(
        request_id=cmd.request_id,
        account_id=acc.account_id,
        insured_region=acc.insured_region,
        scope=acc.scope,
        as_of=cmd.as_of,
        balances={a.value: b for a, b in balances(upto).items()},
        movements=len(upto),
        answered_at=now,
    )
    return Decision(acc, [event], [])


def record_interest(
    acc: PrepaymentAccount,
    interest_id: str,
    amount: Decimal,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """P-10 (004 第二十九条(三)): the region's share of an interest is added to its prepayment held
    by the keeper and counts as this year's top-up (按预付金本年度追加处理), so it raises the P-04
    base; recorded once per interest."""
    ref = f"interest:{interest_id}"
    if amount <= 0 or interest_id in acc.interests:
        return Decision(acc, [], [])
    new = acc.model_copy(update={"top_ups": acc.top_ups + amount})
    new = new.with_movement(MovementKind.INTEREST, amount, ref, now)
    return after_change(acc, new, ref, calendar, now, policies=policies)


# ---------------------------------------------------------------- the agency decides (P-09 可暂停)
def decide_sanction(
    acc: PrepaymentAccount, cmd: DecideSanction, now: datetime, decided_by: str
) -> Decision[PrepaymentAccount]:
    """P-09 (004 第二十八条 "省经办机构可暂停该市参保人员异地就医入院登记"): the agency's decision on the proposal
    the platform made. Impose: the admission suspension is on (S-20) until the notices behind it are paid
    or excused, then lifted as any sanction. Decline: nothing is suspended, and these notices are not
    proposed again (a later notice overdue is). A proposal withdrawn or decided is not decided again."""
    kind = SanctionKind.ADMISSION_SUSPENSION
    if str(cmd.proposal_id) in acc.decided:
        return Decision(acc, [], [])
    if acc.proposals.get(kind) != cmd.proposal_id:
        raise ValueError(
            f"P-09: {cmd.proposal_id} is not a pending proposal of account {acc.account_id} "
            f"(withdrawn once its notices were paid or excused)"
        )
    causes = acc.sanction_causes().get(kind, [])
    proposals = {k: v for k, v in acc.proposals.items() if k is not kind}
    update: dict = {"proposals": proposals, "decided": remember(acc.decided, str(cmd.proposal_id))}
    impose = cmd.decision is SanctionDecision.IMPOSE
    action = ProposalAction.IMPOSED if impose else ProposalAction.DECLINED
    events: list = [proposal_event(acc, cmd.proposal_id, kind, action, causes, cmd.reason, now, decided_by)]
    if impose:
        sanction_id = stable_id(acc.account_id, "sanction", kind.value, acc.version)
        update["sanctions"] = {**acc.sanctions, kind: sanction_id}
        events.append(sanction_event(acc, sanction_id, kind, True, causes, now))
    else:
        update["declined_notices"] = (*acc.declined_notices, *(str(n) for n in causes))
    return Decision(acc.model_copy(update={**update, "version": acc.version + 1}), events, [])


# ---------------------------------------------------------------- money the region adds or gets back
def record_proactive_top_up(
    acc: PrepaymentAccount,
    cmd: RecordProactiveTopUp,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """004 第二十四条: 预付金使用率出现黄色预警时，应主动追加资金上解至省经办机构专户 — money the region added on its
    own, with no notice, at a warning; it is this year's top-up (本年已追加预付金金额), so it raises the P-04
    base. Only where the region's text in force asks it; recorded once per payment."""
    policies = policies or default_policies()
    today = business_date(now)
    asks = policies.yellow_top_up(str(acc.insured_region), today)
    if not asks.proactive:
        raise ValueError(
            f"P-05: {acc.insured_region}'s text in force on {today} asks no top-up at yellow ({asks.source})"
        )
    key = f"proactive:{cmd.payment_id}"
    if key in acc.counted:
        return Decision(acc, [], [])
    if cmd.amount <= 0:
        raise ValueError("P-05: a top-up added is more than 0.00")
    if acc.level is WarningLevel.NONE:
        raise ValueError(f"P-05: account {acc.insured_region} is not in warning (004 第二十四条 asks it at yellow)")
    new = acc.model_copy(update={"top_ups": acc.top_ups + cmd.amount, "counted": remember(acc.counted, key)})
    new = new.with_movement(MovementKind.PROACTIVE_TOP_UP, cmd.amount, key, now)
    return after_change(acc, new, key, calendar, now, policies=policies)


def record_return(
    acc: PrepaymentAccount,
    cmd: RecordReturn,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    """C-05 (004 第五十一条 反向清算): money a clearing notice gives back arrived: recorded when it arrives (the
    ledger's ``returns_due`` falls, the fund rises), once per payment, at most what the notice gives back."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None or notice.kind is not PaymentNoticeKind.CLEARING or notice.returns_due <= 0:
        raise ValueError(
            f"C-05: {cmd.notice_id} is not a clearing notice of account {acc.account_id} giving money back"
        )
    if cmd.payment_id in notice.return_ids:
        return Decision(acc, [], [])
    outstanding = notice.returns_due - notice.returned
    if cmd.amount <= 0 or cmd.amount > outstanding:
        raise ValueError(f"C-05: {cmd.amount} arrived, but {outstanding} of the notice's return is outstanding")
    back = notice.model_copy(
        update={"returned": notice.returned + cmd.amount, "return_ids": (*notice.return_ids, cmd.payment_id)}
    )
    ref = f"return:{cmd.payment_id}"
    new = acc.with_notice(back).with_movement(MovementKind.RETURN_RECEIVED, cmd.amount, ref, now)
    return after_change(acc, new, ref, calendar, now, usage=False, policies=policies)
