"""Pure decisions on a prepayment account: (state, input, calendar, now) → Decision.

Each function returns the new account, the events to publish and the deadlines to arm.
Redelivered inputs (same settlement id, notice id or payment id) return the state unchanged
and no events.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from contracts.prepayment import (
    BreachKind, PaymentNoticeKind, PrepaymentBalance, PrepaymentDeadlineBreached, RecordFinanceSubmission, PrepaymentQuotaSet, PrepaymentSanction, PrepaymentScope, PrepaymentUsageUpdated,
    PrepaymentWarningRaised, RecordPrepaymentPayment, ReportPaymentDelay, RequestBalance, SanctionAction, SanctionKind,
    SetAnnualQuota, TopUpNoticeIssued, TopUpWithheld, WarningLevel,
)
from contracts.values import RegionCode
from runtime.calendar import WorkingCalendar
from services.outcome import DeadlineRequest, Decision, deadline, remember, stable_id

from . import formulas as f
from .inputs import ClearingBreachReceived, ClearingNoticeReceived, SettlementFunds
from .ledger import LedgerAccount, Movement, MovementKind, balances, movements_for
from .model import PaymentNotice, PrepaymentAccount
from .policy import QuotaPolicies, default_policies

SERVICE = "prepayment"
SANCTION_CHECK = "sanction_check"
TOP_UP_SANCTION_WD = 10      # P-09 (004 第二十八条): red-warning top-up unpaid 10 working days
PAYMENT_SANCTION_WD = 20     # P-09: clearing / annual adjustment payment unpaid 20 working days
TO_FINANCE_WD = 5            # P-08 (000 第二十六、二十七、二十九、三十条): to finance within 5 working days
FINANCE_PAYS_WD = 10         # P-08: finance pays within 10 working days of the submission
SUBMISSION_CHECK = "submission_check"
PAYMENT_CHECK = "payment_check"
CLEARING_PAYMENT = "transferred"   # C-03: finance transfers the notice's money (clearing's Obligation.TRANSFERRED)
P08 = "P-08 (000 第二十九、三十条)"


def account_key(insured_region: str, scope: PrepaymentScope) -> str:
    return f"{insured_region}:{scope.value}"


def new_account(insured_region: str, scope: PrepaymentScope, year: int) -> PrepaymentAccount:
    return PrepaymentAccount(account_id=stable_id(SERVICE, insured_region, scope.value),
                             insured_region=RegionCode(insured_region), scope=scope, year=year)


# ---------------------------------------------------------------- inputs
def set_annual_quota(acc: PrepaymentAccount, cmd: SetAnnualQuota, calendar: WorkingCalendar, now: datetime,
                     policies: QuotaPolicies | None = None) -> Decision[PrepaymentAccount]:
    """P-02/P-03: the year's quota; top-ups restart at 0; a positive adjustment is a payment
    notice with the 20-working-day sanction clock of P-09."""
    if acc.quota_year is not None and cmd.year <= acc.quota_year:
        return Decision(acc, [], [])  # that year (or a later one) is already set
    policy = (policies or default_policies()).for_region(str(cmd.insured_region))
    # P-02: last year's settlement funds from this service's own ledger; a figure an agency typed
    # is accepted only as a recorded override (the event says which was used)
    recorded = acc.monthly_settled(cmd.year - 1)
    funds = cmd.last_year_monthly_funds if cmd.last_year_monthly_funds is not None else recorded
    last_year_quota = cmd.last_year_quota if cmd.last_year_quota is not None else acc.balance(LedgerAccount.QUOTA)
    computed = f.annual_quota(funds, policy)
    quota = f.quota_in_force(computed, last_year_quota)
    adjust = f.adjustment(computed, last_year_quota)
    new = acc.model_copy(update={"year": cmd.year, "quota": quota, "quota_year": cmd.year,
                                   "top_ups": f.ZERO, "year_top_ups": f.ZERO})
    # the ledger's quota follows the quota in force (an overridden last-year quota moves it too)
    kind = MovementKind.ADJUSTMENT if acc.balance(LedgerAccount.QUOTA) or acc.quota_year else MovementKind.QUOTA
    new = _move(new, kind, quota - acc.balance(LedgerAccount.QUOTA), f"quota:{cmd.year}", now)
    events: list = []
    deadlines: list[DeadlineRequest] = []
    notice_id = None
    if adjust > 0:
        notice = _notice(acc, PaymentNoticeKind.ANNUAL_ADJUSTMENT, f"adjustment:{cmd.year}", adjust, cmd.issued_at,
                         PAYMENT_SANCTION_WD, calendar)
        notice_id = notice.notice_id
        new = _move(_with_notice(new, notice), MovementKind.ADJUSTMENT_NOTICE, adjust, str(notice_id), now)
        deadlines += [_sanction_deadline(acc, notice, calendar), *_p08_deadlines(acc, notice, calendar)]
    override = [name for name, typed in (("last_year_monthly_funds", cmd.last_year_monthly_funds),
                                         ("last_year_quota", cmd.last_year_quota)) if typed is not None]
    events.append(PrepaymentQuotaSet(
        account_id=acc.account_id, insured_region=acc.insured_region, scope=acc.scope, year=cmd.year,
        computed_quota=computed, quota=quota, last_year_quota=last_year_quota, adjustment=adjust,
        policy_source=policy.source, notice_id=notice_id, set_at=now,
        last_year_monthly_funds={m: funds.get(m, f.ZERO) for m in policy.basis_months},
        recorded_monthly_funds={m: recorded.get(m, f.ZERO) for m in policy.basis_months},
        overridden=override))
    return _after_change(acc, new, f"quota:{cmd.year}", calendar, now, events, deadlines)


def record_settlement(acc: PrepaymentAccount, item: SettlementFunds, calendar: WorkingCalendar,
                      now: datetime) -> Decision[PrepaymentAccount]:
    """P-04 numerator: a completed settlement's fund total becomes uncleared payable; its
    reversal takes it out again (after clearing, out of the next period: S-15, C-05). Each is
    counted once (``item.key``); arrival order does not matter."""
    if item.key in acc.counted:
        return Decision(acc, [], [])
    change = -item.fund_total if item.reversed else item.fund_total
    new = acc.model_copy(update={"uncleared": acc.uncleared + change, "counted": remember(acc.counted, item.key)})
    new = _move(new, MovementKind.REVERSAL if item.reversed else MovementKind.SETTLEMENT, item.fund_total,
                f"settlement:{item.key}", now)
    if not change:
        return Decision(new, [], [])
    return _after_change(acc, new, f"settlement:{item.key}", calendar, now)


def record_clearing_notice(acc: PrepaymentAccount, item: ClearingNoticeReceived, calendar: WorkingCalendar,
                           now: datetime) -> Decision[PrepaymentAccount]:
    """P-04: the period's settlements move from uncleared to cleared-unpaid; the notice starts the
    P-09 20-working-day clock; a red account gets this period's emergency top-up (004 第二十六条)."""
    if str(item.notice_id) in acc.notices:
        return Decision(acc, [], [])
    notice = PaymentNotice(
        notice_id=item.notice_id, kind=PaymentNoticeKind.CLEARING, amount=item.to_pay, issued_at=item.issued_at,
        sanction_due_at=calendar.deadline(item.issued_at, PAYMENT_SANCTION_WD))
    new = _with_notice(acc, notice).model_copy(update={
        "uncleared": acc.uncleared - item.settlements_total,
        "cleared_unpaid": acc.cleared_unpaid + item.to_pay,
        "monthly_clearing": item.payable})
    # the ledger: the period's settlements leave the uncleared payable; what the notice does not ask
    # (audit deductions, R-04) leaves the expense; reverse clearing's money coming back is owed to the
    # region (C-05) instead of being dropped
    ref = f"clearing:{item.notice_id}"
    new = _move(new, MovementKind.CLEARING_NOTICE, item.settlements_total, ref, now)
    new = _move(new, MovementKind.AUDIT_DEDUCTION, item.settlements_total - item.to_pay, ref, now)
    new = _move(new, MovementKind.REVERSE_CLEARING_RETURN, item.to_pay - item.payable, ref, now)
    deadlines = [_sanction_deadline(acc, notice, calendar)] if notice.amount > 0 else []
    events: list = []
    for open_ in acc.notices.values():   # P-08: 紧急调增额度应于下期清算前完成拨付
        if (open_.kind is PaymentNoticeKind.EMERGENCY_TOP_UP and not open_.settled and open_.issued_at < item.issued_at
                and BreachKind.TOP_UP_BEFORE_NEXT_CLEARING not in open_.breaches):
            late, event = _breach(acc, open_, BreachKind.TOP_UP_BEFORE_NEXT_CLEARING, None, calendar, now)
            new = _with_notice(new, late)
            events.append(event)
    return _after_change(acc, new, f"clearing:{item.clearing_month}", calendar, now, events, deadlines,
                         period_signed=True)


def record_payment(acc: PrepaymentAccount, cmd: RecordPrepaymentPayment, calendar: WorkingCalendar,
                   now: datetime) -> Decision[PrepaymentAccount]:
    """Money arrived for a notice: a top-up raises the base (P-04), a clearing payment lowers
    cleared-unpaid; a settled notice ends its sanction (P-09)."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None:
        raise ValueError(f"notice {cmd.notice_id} is not a notice of account {acc.account_id}")
    if cmd.payment_id in notice.payment_ids:
        return Decision(acc, [], [])
    paid = notice.model_copy(update={"paid": notice.paid + cmd.amount,
                                     "payment_ids": (*notice.payment_ids, cmd.payment_id)})
    update: dict = {"notices": {**acc.notices, str(notice.notice_id): paid}}
    if notice.kind is PaymentNoticeKind.EMERGENCY_TOP_UP:
        update["top_ups"] = acc.top_ups + cmd.amount
    elif notice.kind is PaymentNoticeKind.CLEARING:
        update["cleared_unpaid"] = acc.cleared_unpaid - cmd.amount
    new, ref = acc.model_copy(update=update), f"payment:{cmd.payment_id}"
    if notice.kind is PaymentNoticeKind.CLEARING:
        new = _move(new, MovementKind.CLEARING_PAYMENT, cmd.amount, ref, now)
    else:   # money paid in to the keeper (暂付款), and the memorandum call closed by what it covers
        kind = MovementKind.TOP_UP_PAYMENT if notice.kind is PaymentNoticeKind.EMERGENCY_TOP_UP else \
            MovementKind.ADJUSTMENT_PAYMENT
        new = _move(new, kind, cmd.amount, ref, now)
        new = _move(new, MovementKind.NOTICE_PAID, min(cmd.amount, max(notice.amount - notice.paid, f.ZERO)), ref, now)
    return _after_change(acc, new, ref, calendar, now)


def report_delay(acc: PrepaymentAccount, cmd: ReportPaymentDelay, calendar: WorkingCalendar,
                 now: datetime) -> Decision[PrepaymentAccount]:
    """P-09: a reported reason spares (or lifts) the admission suspension of that notice."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None:
        raise ValueError(f"notice {cmd.notice_id} is not a notice of account {acc.account_id}")
    if notice.kind is PaymentNoticeKind.EMERGENCY_TOP_UP:
        raise ValueError("P-09: a delay reason does not excuse an unpaid emergency top-up")
    if notice.delay_reason:
        return Decision(acc, [], [])
    new = _with_notice(acc, notice.model_copy(update={"delay_reason": cmd.reason}))
    return _after_change(acc, new, f"delay:{cmd.notice_id}", calendar, now, usage=False)


def record_clearing_breach(acc: PrepaymentAccount, item: ClearingBreachReceived, calendar: WorkingCalendar,
                           now: datetime) -> Decision[PrepaymentAccount]:
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
    if (item.obligation == CLEARING_PAYMENT and item.due_at >= notice.sanction_due_at
            and not notice.settled and not notice.overdue):
        update["overdue"] = True
    new = _with_notice(acc, notice.model_copy(update=update))
    return _after_change(acc, new, f"clearing-breach:{item.breach_id}", calendar, now, usage=False)


def deadline_fired(acc: PrepaymentAccount, request: DeadlineRequest, calendar: WorkingCalendar,
                   now: datetime) -> Decision[PrepaymentAccount]:
    """P-09: at a notice's sanction deadline, an unpaid notice becomes overdue. P-08: at its
    submission and finance deadlines, a step not done is published as a breach."""
    notice = acc.notices.get(request.ref)
    if request.kind in (SUBMISSION_CHECK, PAYMENT_CHECK) and notice is not None:
        return _p08_check(acc, notice, request, calendar, now)
    if request.kind != SANCTION_CHECK or notice is None or notice.overdue or notice.settled:
        return Decision(acc, [], [])
    if now < notice.sanction_due_at:
        return Decision(acc, [], [request])  # fired early (clock skew): arm it again
    new = _with_notice(acc, notice.model_copy(update={"overdue": True}))
    return _after_change(acc, new, f"deadline:{request.ref}", calendar, now, usage=False)


def _p08_check(acc: PrepaymentAccount, notice: PaymentNotice, request: DeadlineRequest, calendar: WorkingCalendar,
               now: datetime) -> Decision[PrepaymentAccount]:
    submission = request.kind == SUBMISSION_CHECK
    kind = BreachKind.SUBMISSION_TO_FINANCE if submission else BreachKind.FINANCE_PAYMENT
    due = notice.submit_by if submission else notice.finance_pay_by
    done = notice.settled or (submission and notice.submitted_at is not None)
    if done or kind in notice.breaches or due is None:
        return Decision(acc, [], [])
    if now < due:   # fired early, or the chain moved it (a submission recorded): arm it for its moment
        return Decision(acc, [], [request.model_copy(update={"due_at": due})])
    notice, event = _breach(acc, notice, kind, due, calendar, now)
    return Decision(_with_notice(acc, notice).model_copy(update={"version": acc.version + 1}), [event], [])


def record_submission(acc: PrepaymentAccount, cmd: RecordFinanceSubmission, calendar: WorkingCalendar,
                      now: datetime) -> Decision[PrepaymentAccount]:
    """P-08: the notice reached finance (the receipt time decides); finance's 10 working days run
    from it, so the payment deadline is armed again for its new moment."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None or notice.kind is PaymentNoticeKind.CLEARING:
        raise ValueError(f"P-08: {cmd.notice_id} is not a prepayment notice of account {acc.account_id} "
                         f"(clearing notices follow C-03 in the clearing service)")
    if notice.submitted_at is not None:
        return Decision(acc, [], [])
    pay_by = calendar.deadline(now, FINANCE_PAYS_WD)
    new = _with_notice(acc, notice.model_copy(update={"submitted_at": now, "finance_pay_by": pay_by}))
    again = deadline(SERVICE, PAYMENT_CHECK, account_key(acc.insured_region, acc.scope), pay_by, "P-08",
                     calendar.source, ref=str(notice.notice_id))
    return Decision(new.model_copy(update={"version": acc.version + 1}), [], [again])


# ---------------------------------------------------------------- after every change
def _after_change(old: PrepaymentAccount, new: PrepaymentAccount, cause: str, calendar: WorkingCalendar,
                  now: datetime, events: list | None = None, deadlines: list | None = None, *,
                  usage: bool = True, period_signed: bool = False) -> Decision[PrepaymentAccount]:
    events, deadlines = list(events or []), list(deadlines or [])
    used = f.usage_used(new.uncleared, new.cleared_unpaid)
    base = f.usage_base(new.quota, new.top_ups)
    level = f.warning_level(used, base)
    new = new.model_copy(update={"level": level, "version": old.version + 1})
    if usage:
        events.append(_usage_event(new, used, base, cause, now))
    crossed = level.rank > old.level.rank
    if crossed:  # P-05: once per crossing into a higher level
        events.append(_warning_event(new, used, base, cause, now))
    if level is WarningLevel.RED and (crossed or period_signed):
        new = _emergency_top_up(new, cause, calendar, now, events, deadlines)
    new = _reconcile_sanctions(new, now, events)
    return Decision(new, events, deadlines)


def _usage_event(acc: PrepaymentAccount, used: Decimal, base: Decimal, cause: str,
                 now: datetime) -> PrepaymentUsageUpdated:
    return PrepaymentUsageUpdated(
        account_id=acc.account_id, insured_region=acc.insured_region, scope=acc.scope, year=acc.year,
        quota=acc.quota, top_ups=acc.top_ups, uncleared_payable=acc.uncleared,
        cleared_unpaid_payable=acc.cleared_unpaid, usage_percent=f.usage_percent(used, base), level=acc.level,
        cause=cause, updated_at=now)


def _warning_event(acc: PrepaymentAccount, used: Decimal, base: Decimal, cause: str,
                   now: datetime) -> PrepaymentWarningRaised:
    return PrepaymentWarningRaised(
        warning_id=stable_id(acc.account_id, "warning", acc.level.value, cause), account_id=acc.account_id,
        insured_region=acc.insured_region, scope=acc.scope, year=acc.year, level=acc.level,
        usage_percent=f.usage_percent(used, base),
        top_up_amount=f.top_up_amount(acc.quota, acc.top_ups, acc.uncleared, acc.cleared_unpaid),
        top_up_cap=f.top_up_cap(acc.monthly_clearing, acc.quota), raised_at=now)


def _emergency_top_up(acc: PrepaymentAccount, cause: str, calendar: WorkingCalendar, now: datetime,
                      events: list, deadlines: list) -> PrepaymentAccount:
    """P-05/P-06/P-07: one outstanding emergency top-up notice at a time. When the P-07 cap leaves
    nothing (004 第二十六条: the cap is 2 × the period's monthly clearing − the annual quota), no notice
    is issued and no P-09 clock starts; ``TopUpWithheld`` says so, and the next period's signing
    assesses the account again."""
    if acc.open_emergency_notice() is not None:
        return acc
    uncapped = f.top_up_amount(acc.quota, acc.top_ups, acc.uncleared, acc.cleared_unpaid)
    cap = f.top_up_cap(acc.monthly_clearing, acc.quota)
    amount = f.capped_top_up(uncapped, cap)
    if amount <= 0:
        if cap is not None and acc.monthly_clearing is not None:
            used, base = f.usage_used(acc.uncleared, acc.cleared_unpaid), f.usage_base(acc.quota, acc.top_ups)
            events.append(TopUpWithheld(
                account_id=acc.account_id, insured_region=acc.insured_region, scope=acc.scope, year=acc.year,
                level=acc.level, usage_percent=f.usage_percent(used, base), top_up_amount=uncapped, top_up_cap=cap,
                monthly_clearing=acc.monthly_clearing, quota=acc.quota, cause=cause,
                next_assessment="the next period's clearing signing (004 第二十六条: 每期国家统一清算签章时)",
                withheld_at=now))
        return acc
    notice = _notice(acc, PaymentNoticeKind.EMERGENCY_TOP_UP, cause, amount, now, TOP_UP_SANCTION_WD, calendar)
    events.append(TopUpNoticeIssued(
        notice_id=notice.notice_id, account_id=acc.account_id, insured_region=acc.insured_region,
        scope=acc.scope, year=acc.year, amount=amount, issued_at=now,
        submit_to_finance_by=notice.submit_by, pay_by=notice.sanction_due_at, finance_pay_by=notice.finance_pay_by,
        calendar=calendar.source))
    deadlines += [_sanction_deadline(acc, notice, calendar), *_p08_deadlines(acc, notice, calendar)]
    return _move(_with_notice(acc, notice), MovementKind.TOP_UP_NOTICE, amount, str(notice.notice_id), now)


def _reconcile_sanctions(acc: PrepaymentAccount, now: datetime, events: list) -> PrepaymentAccount:
    """P-09: a sanction is on while any notice behind it is overdue and unpaid. Its id is made at
    imposition and repeated at lifting, so consumers pair the two (F-16, S-20)."""
    causes: dict[SanctionKind, list] = {}
    for notice in acc.notices.values():
        if notice.sanction is not None:
            causes.setdefault(notice.sanction, []).append(notice.notice_id)
    active = dict(acc.sanctions)
    for kind in SanctionKind:
        if kind in causes and kind not in active:
            active[kind] = stable_id(acc.account_id, "sanction", kind.value, acc.version)
            events.append(_sanction_event(acc, active[kind], kind, True, causes[kind], now))
        elif kind not in causes and kind in active:
            events.append(_sanction_event(acc, active.pop(kind), kind, False, [], now))
    return acc.model_copy(update={"sanctions": active})


_REASONS = {
    SanctionKind.NEW_FILING_SUSPENSION: "emergency top-up unpaid 10 working days after its notice (P-09)",
    SanctionKind.ADMISSION_SUSPENSION: "clearing or annual-adjustment payment unpaid 20 working days after its "
                                       "notice, no delay reason reported (P-09)",
}


def _sanction_event(acc: PrepaymentAccount, sanction_id, kind: SanctionKind, on: bool, notice_ids: list,
                    now: datetime) -> PrepaymentSanction:
    action = SanctionAction.IMPOSED if on else SanctionAction.LIFTED
    return PrepaymentSanction(
        sanction_id=sanction_id, insured_region=acc.insured_region,
        kind=kind, action=action, effective_at=now, notice_ids=notice_ids,
        reason=_REASONS[kind] if on else "the notices behind it are paid or excused (P-09)")


# ---------------------------------------------------------------- helpers
def _notice(acc: PrepaymentAccount, kind: PaymentNoticeKind, cause: str, amount: Decimal, issued_at: datetime,
            working_days: int, calendar: WorkingCalendar) -> PaymentNotice:
    """A prepayment notice with its P-09 sanction date and its P-08 chain: to finance within 5
    working days, finance pays within 10 working days of that (of the last allowed day until the
    submission is recorded)."""
    submit_by = calendar.deadline(issued_at, TO_FINANCE_WD)
    return PaymentNotice(notice_id=stable_id(acc.account_id, kind.value, cause), kind=kind, amount=amount,
                         issued_at=issued_at, sanction_due_at=calendar.deadline(issued_at, working_days),
                         submit_by=submit_by, finance_pay_by=calendar.deadline(submit_by, FINANCE_PAYS_WD))


def _p08_deadlines(acc: PrepaymentAccount, notice: PaymentNotice, calendar: WorkingCalendar) -> list[DeadlineRequest]:
    """P-08's checks of a notice ``_notice`` issued (it sets both due times; older stored notices lack them)."""
    if notice.submit_by is None or notice.finance_pay_by is None:
        raise ValueError(f"P-08: notice {notice.notice_id} has no submission or payment due time")
    subject = account_key(acc.insured_region, acc.scope)
    return [deadline(SERVICE, SUBMISSION_CHECK, subject, notice.submit_by, "P-08", calendar.source,
                     ref=str(notice.notice_id)),
            deadline(SERVICE, PAYMENT_CHECK, subject, notice.finance_pay_by, "P-08", calendar.source,
                     ref=str(notice.notice_id))]


def _breach(acc: PrepaymentAccount, notice: PaymentNotice, kind: BreachKind, due_at: datetime | None,
            calendar: WorkingCalendar, now: datetime) -> tuple[PaymentNotice, PrepaymentDeadlineBreached]:
    event = PrepaymentDeadlineBreached(
        breach_id=stable_id(acc.account_id, "breach", notice.notice_id, kind.value), account_id=acc.account_id,
        insured_region=acc.insured_region, scope=acc.scope, notice_id=notice.notice_id, notice_kind=notice.kind,
        kind=kind, due_at=due_at, detected_at=now, rule=P08, calendar=calendar.source)
    return notice.model_copy(update={"breaches": (*notice.breaches, kind)}), event


def _move(acc: PrepaymentAccount, kind: MovementKind, amount: Decimal, ref: str, now: datetime) -> PrepaymentAccount:
    """Append the movement of ``kind`` for a signed ``amount`` to the ledger (none for 0)."""
    added = movements_for(kind, amount, ref, now, acc.seq + 1)
    return acc.with_movements(added) if added else acc


def _with_notice(acc: PrepaymentAccount, notice: PaymentNotice) -> PrepaymentAccount:
    return acc.model_copy(update={"notices": {**acc.notices, str(notice.notice_id): notice}})


def _sanction_deadline(acc: PrepaymentAccount, notice: PaymentNotice, calendar: WorkingCalendar) -> DeadlineRequest:
    return deadline(SERVICE, SANCTION_CHECK, account_key(acc.insured_region, acc.scope), notice.sanction_due_at,
                    "P-09", calendar.source, ref=str(notice.notice_id))


# ---------------------------------------------------------------- the ledger asked, interest shared (P-10)
def answer_balance(acc: PrepaymentAccount, cmd: RequestBalance, now: datetime,
                   archived: Iterable[Movement] = ()) -> Decision[PrepaymentAccount]:
    """A past balance recomputed from the ledger's movements up to the end of ``as_of``: those of
    the archive (``archived``, read by the handler) with the account's recent ones not archived
    yet; the account is unchanged (the answer is a query, the inbox records it was answered)."""
    by_seq = {m.seq: m for m in archived}
    by_seq.update((m.seq, m) for m in acc.recent)
    upto = [m for m in by_seq.values() if m.on <= cmd.as_of]
    event = PrepaymentBalance(
        request_id=cmd.request_id, account_id=acc.account_id, insured_region=acc.insured_region, scope=acc.scope,
        as_of=cmd.as_of, balances={a.value: b for a, b in balances(upto).items()}, movements=len(upto),
        answered_at=now)
    return Decision(acc, [event], [])


def record_interest(acc: PrepaymentAccount, interest_id: str, amount: Decimal, calendar: WorkingCalendar,
                    now: datetime) -> Decision[PrepaymentAccount]:
    """P-10 (004 第二十九条(三)): the region's share of an interest is added to its prepayment held
    by the keeper and counts as this year's top-up (按预付金本年度追加处理), so it raises the P-04
    base; recorded once per interest."""
    ref = f"interest:{interest_id}"
    if amount <= 0 or interest_id in acc.interests:
        return Decision(acc, [], [])
    new = _move(acc.model_copy(update={"top_ups": acc.top_ups + amount}), MovementKind.INTEREST, amount, ref, now)
    return _after_change(acc, new, ref, calendar, now)
