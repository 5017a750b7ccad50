"""Pure decisions on a prepayment account: (state, input, calendar, now) → Outcome.

Each function returns the new account, the events to publish and the deadlines to arm.
Redelivered inputs (same settlement id, notice id or payment id) return the state unchanged
and no events.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contracts.prepayment import (
    NoticeKind, PrepaymentQuotaSet, PrepaymentSanction, PrepaymentScope, PrepaymentUsageUpdated,
    PrepaymentWarningRaised, RecordPrepaymentPayment, ReportPaymentDelay, SanctionAction, SanctionKind,
    SetAnnualQuota, TopUpNoticeIssued, WarningLevel,
)
from contracts.values import RegionCode
from runtime.calendar import WorkingCalendar
from services.outcome import DeadlineRequest, Outcome, deadline, remember, stable_id

from . import formulas as f
from .inputs import ClearingNoticeReceived, SettlementFunds
from .model import PaymentNotice, PrepaymentAccount
from .policy import QuotaPolicies, default_policies

SERVICE = "prepayment"
SANCTION_CHECK = "sanction_check"
TOP_UP_SANCTION_WD = 10      # P-09 (004 第二十八条): red-warning top-up unpaid 10 working days
PAYMENT_SANCTION_WD = 20     # P-09: clearing / annual adjustment payment unpaid 20 working days
TO_FINANCE_WD = 5            # P-08 (000 第二十九条)


def account_key(insured_region: str, scope: PrepaymentScope) -> str:
    return f"{insured_region}:{scope.value}"


def new_account(insured_region: str, scope: PrepaymentScope, year: int) -> PrepaymentAccount:
    return PrepaymentAccount(account_id=stable_id(SERVICE, insured_region, scope.value),
                             insured_region=RegionCode(insured_region), scope=scope, year=year)


# ---------------------------------------------------------------- inputs
def set_annual_quota(acc: PrepaymentAccount, cmd: SetAnnualQuota, calendar: WorkingCalendar, now: datetime,
                     policies: QuotaPolicies | None = None) -> Outcome[PrepaymentAccount]:
    """P-02/P-03: the year's quota; top-ups restart at 0; a positive adjustment is a payment
    notice with the 20-working-day sanction clock of P-09."""
    if acc.quota_year is not None and cmd.year <= acc.quota_year:
        return Outcome(acc, [], [])  # that year (or a later one) is already set
    policy = (policies or default_policies()).for_region(str(cmd.insured_region))
    computed = f.annual_quota(cmd.last_year_monthly_funds, policy)
    quota = f.quota_in_force(computed, cmd.last_year_quota)
    adjust = f.adjustment(computed, cmd.last_year_quota)
    new = acc.model_copy(update={"year": cmd.year, "quota": quota, "quota_year": cmd.year,
                                   "top_ups": f.ZERO})
    events: list = []
    deadlines: list[DeadlineRequest] = []
    notice_id = None
    if adjust > 0:
        notice = _notice(acc, NoticeKind.ANNUAL_ADJUSTMENT, f"adjustment:{cmd.year}", adjust, cmd.issued_at,
                         PAYMENT_SANCTION_WD, calendar)
        notice_id = notice.notice_id
        new = _with_notice(new, notice)
        deadlines.append(_sanction_deadline(acc, notice, calendar))
    events.append(PrepaymentQuotaSet(
        account_id=acc.account_id, insured_region=acc.insured_region, scope=acc.scope, year=cmd.year,
        computed_quota=computed, quota=quota, last_year_quota=cmd.last_year_quota, adjustment=adjust,
        policy_source=policy.source, notice_id=notice_id, set_at=now))
    return _after_change(acc, new, f"quota:{cmd.year}", calendar, now, events, deadlines)


def record_settlement(acc: PrepaymentAccount, item: SettlementFunds, calendar: WorkingCalendar,
                      now: datetime) -> Outcome[PrepaymentAccount]:
    """P-04 numerator: a completed settlement's fund total becomes uncleared payable; its
    reversal takes it out again (after clearing, out of the next period: S-15, C-05). Each is
    counted once (``item.key``); arrival order does not matter."""
    if item.key in acc.counted:
        return Outcome(acc, [], [])
    change = -item.fund_total if item.reversed else item.fund_total
    new = acc.model_copy(update={"uncleared": acc.uncleared + change, "counted": remember(acc.counted, item.key)})
    if not change:
        return Outcome(new, [], [])
    return _after_change(acc, new, f"settlement:{item.key}", calendar, now)


def record_clearing_notice(acc: PrepaymentAccount, item: ClearingNoticeReceived, calendar: WorkingCalendar,
                           now: datetime) -> Outcome[PrepaymentAccount]:
    """P-04: the period's settlements move from uncleared to cleared-unpaid; the notice starts the
    P-09 20-working-day clock; a red account gets this period's emergency top-up (004 第二十六条)."""
    if str(item.notice_id) in acc.notices:
        return Outcome(acc, [], [])
    notice = PaymentNotice(
        notice_id=item.notice_id, kind=NoticeKind.CLEARING, amount=item.to_pay, issued_at=item.issued_at,
        sanction_due_at=calendar.deadline(item.issued_at, PAYMENT_SANCTION_WD))
    new = _with_notice(acc, notice).model_copy(update={
        "uncleared": acc.uncleared - item.settlements_total,
        "cleared_unpaid": acc.cleared_unpaid + item.to_pay,
        "monthly_clearing": item.payable})
    deadlines = [_sanction_deadline(acc, notice, calendar)] if notice.amount > 0 else []
    return _after_change(acc, new, f"clearing:{item.clearing_month}", calendar, now, [], deadlines,
                         period_signed=True)


def record_payment(acc: PrepaymentAccount, cmd: RecordPrepaymentPayment, calendar: WorkingCalendar,
                   now: datetime) -> Outcome[PrepaymentAccount]:
    """Money arrived for a notice: a top-up raises the base (P-04), a clearing payment lowers
    cleared-unpaid; a settled notice ends its sanction (P-09)."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None:
        raise ValueError(f"notice {cmd.notice_id} is not a notice of account {acc.account_id}")
    if cmd.payment_id in notice.payment_ids:
        return Outcome(acc, [], [])
    paid = notice.model_copy(update={"paid": notice.paid + cmd.amount,
                                     "payment_ids": (*notice.payment_ids, cmd.payment_id)})
    update: dict = {"notices": {**acc.notices, str(notice.notice_id): paid}}
    if notice.kind is NoticeKind.EMERGENCY_TOP_UP:
        update["top_ups"] = acc.top_ups + cmd.amount
    elif notice.kind is NoticeKind.CLEARING:
        update["cleared_unpaid"] = acc.cleared_unpaid - cmd.amount
    return _after_change(acc, acc.model_copy(update=update), f"payment:{cmd.payment_id}", calendar, now)


def report_delay(acc: PrepaymentAccount, cmd: ReportPaymentDelay, calendar: WorkingCalendar,
                 now: datetime) -> Outcome[PrepaymentAccount]:
    """P-09: a reported reason spares (or lifts) the admission suspension of that notice."""
    notice = acc.notices.get(str(cmd.notice_id))
    if notice is None:
        raise ValueError(f"notice {cmd.notice_id} is not a notice of account {acc.account_id}")
    if notice.kind is NoticeKind.EMERGENCY_TOP_UP:
        raise ValueError("P-09: a delay reason does not excuse an unpaid emergency top-up")
    if notice.delay_reason:
        return Outcome(acc, [], [])
    new = _with_notice(acc, notice.model_copy(update={"delay_reason": cmd.reason}))
    return _after_change(acc, new, f"delay:{cmd.notice_id}", calendar, now, usage=False)


def deadline_fired(acc: PrepaymentAccount, request: DeadlineRequest, calendar: WorkingCalendar,
                   now: datetime) -> Outcome[PrepaymentAccount]:
    """P-09: at a notice's sanction deadline, an unpaid notice becomes overdue."""
    notice = acc.notices.get(request.ref)
    if request.kind != SANCTION_CHECK or notice is None or notice.overdue or notice.settled:
        return Outcome(acc, [], [])
    if now < notice.sanction_due_at:
        return Outcome(acc, [], [request])  # fired early (clock skew): arm it again
    new = _with_notice(acc, notice.model_copy(update={"overdue": True}))
    return _after_change(acc, new, f"deadline:{request.ref}", calendar, now, usage=False)


# ---------------------------------------------------------------- after every change
def _after_change(old: PrepaymentAccount, new: PrepaymentAccount, cause: str, calendar: WorkingCalendar,
                  now: datetime, events: list | None = None, deadlines: list | None = None, *,
                  usage: bool = True, period_signed: bool = False) -> Outcome[PrepaymentAccount]:
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
    return Outcome(new, events, deadlines)


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
    """P-05/P-06/P-07: one outstanding emergency top-up notice at a time; none when the capped
    amount is 0."""
    if acc.open_emergency_notice() is not None:
        return acc
    amount = f.capped_top_up(f.top_up_amount(acc.quota, acc.top_ups, acc.uncleared, acc.cleared_unpaid),
                             f.top_up_cap(acc.monthly_clearing, acc.quota))
    if amount <= 0:
        return acc
    notice = _notice(acc, NoticeKind.EMERGENCY_TOP_UP, cause, amount, now, TOP_UP_SANCTION_WD, calendar)
    events.append(TopUpNoticeIssued(
        notice_id=notice.notice_id, account_id=acc.account_id, insured_region=acc.insured_region,
        scope=acc.scope, year=acc.year, amount=amount, issued_at=now,
        submit_to_finance_by=calendar.deadline(now, TO_FINANCE_WD), pay_by=notice.sanction_due_at,
        calendar=calendar.source))
    deadlines.append(_sanction_deadline(acc, notice, calendar))
    return _with_notice(acc, notice)


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
def _notice(acc: PrepaymentAccount, kind: NoticeKind, cause: str, amount: Decimal, issued_at: datetime,
            working_days: int, calendar: WorkingCalendar) -> PaymentNotice:
    return PaymentNotice(notice_id=stable_id(acc.account_id, kind.value, cause), kind=kind, amount=amount,
                         issued_at=issued_at, sanction_due_at=calendar.deadline(issued_at, working_days))


def _with_notice(acc: PrepaymentAccount, notice: PaymentNotice) -> PrepaymentAccount:
    return acc.model_copy(update={"notices": {**acc.notices, str(notice.notice_id): notice}})


def _sanction_deadline(acc: PrepaymentAccount, notice: PaymentNotice, calendar: WorkingCalendar) -> DeadlineRequest:
    return deadline(SERVICE, SANCTION_CHECK, account_key(acc.insured_region, acc.scope), notice.sanction_due_at,
                    "P-09", calendar.source, ref=str(notice.notice_id))
