"""After every change of a prepayment account 使用率与预警: the P-04 usage, a P-05 warning on
crossing into a higher level, the red level's emergency top-up notice within the P-07 cap
(P-05..P-07, 004 第二十六条), and the P-09 sanctions on while a notice behind them is overdue."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contracts.prepayment import (
    PaymentNoticeKind,
    PrepaymentSanction,
    PrepaymentScope,
    PrepaymentUsageUpdated,
    PrepaymentWarningRaised,
    ProposalAction,
    SanctionAction,
    SanctionKind,
    SanctionProposed,
    TopUpNoticeIssued,
    TopUpWithheld,
    WarningLevel,
)
from runtime.calendar import WorkingCalendar, business_date
from services.outcome import Decision, stable_id

from . import formulas as f
from .ledger import MovementKind
from .model import PrepaymentAccount
from .notices import TOP_UP_SANCTION_WD, new_notice, p08_deadlines, sanction_deadline
from .policy import PrepaymentPolicies, UsagePolicy, default_policies


def after_change(
    old: PrepaymentAccount,
    new: PrepaymentAccount,
    cause: str,
    calendar: WorkingCalendar,
    now: datetime,
    events: list | None = None,
    deadlines: list | None = None,
    *,
    usage: bool = True,
    period_signed: bool = False,
    policies: PrepaymentPolicies | None = None,
) -> Decision[PrepaymentAccount]:
    events, deadlines = list(events or []), list(deadlines or [])
    policies = policies or default_policies()
    rule = policies.usage(str(new.insured_region), business_date(now))
    used = used_of(new, rule)
    base = f.usage_base(new.quota, new.top_ups)
    level = f.warning_level(used, base)
    new = new.model_copy(update={"level": level, "version": old.version + 1})
    if usage:
        usage_event = _usage_event(new, used, base, cause, now, rule)
        if period_signed and level is WarningLevel.RED:
            usage_event = _application_due(usage_event, new, calendar, now, policies)
        events.append(usage_event)
    crossed = level.rank > old.level.rank
    if crossed:  # P-05: once per crossing into a higher level
        warning = _warning_event(new, used, base, cause, now)
        if level is WarningLevel.YELLOW:  # 004 第二十四条: where the text asks the region to add on its own
            asks = policies.yellow_top_up(str(new.insured_region), business_date(now))
            if asks.proactive:
                warning = warning.model_copy(update={"proactive_top_up": True, "proactive_source": asks.source})
        events.append(warning)
    new = new.model_copy(update={"usage_formula": rule.formula})
    if level is WarningLevel.RED and (crossed or period_signed):
        new = _emergency_top_up(new, used, cause, calendar, now, events, deadlines)
    new = _reconcile_sanctions(new, now, events)
    return Decision(new, events, deadlines)


def _application_due(
    event: PrepaymentUsageUpdated,
    acc: PrepaymentAccount,
    calendar: WorkingCalendar,
    now: datetime,
    policies: PrepaymentPolicies,
) -> PrepaymentUsageUpdated:
    """004 第二十六条: red at a clearing signing (每期国家统一清算签章时), the province's emergency top-up
    application to the national agency is due within the text's working days of the signing; a
    cross-province prepayment only (省际)."""
    if acc.scope is not PrepaymentScope.CROSS_PROVINCE:
        return event
    rule = policies.emergency_application(str(acc.insured_region), business_date(now))
    if rule.apply_within_working_days is None:
        return event
    due = calendar.deadline(now, rule.apply_within_working_days)
    return event.model_copy(update={"emergency_application_due_at": due})


def used_of(acc: PrepaymentAccount, rule: UsagePolicy) -> Decimal:
    """P-04's numerator as the region's text measures it: the payables (004 第二十三条), or the
    month's clearing funds (000 第二十八条: 月度清算资金; 0 before the first clearing notice)."""
    if rule.formula == "monthly_clearing":
        return f.monthly_clearing_used(acc.monthly_clearing)
    return f.usage_used(acc.uncleared, acc.cleared_unpaid)


def _usage_event(
    acc: PrepaymentAccount, used: Decimal, base: Decimal, cause: str, now: datetime, rule: UsagePolicy
) -> PrepaymentUsageUpdated:
    return PrepaymentUsageUpdated(
        account_id=acc.account_id,
        insured_region=acc.insured_region,
        scope=acc.scope,
        year=acc.year,
        quota=acc.quota,
        top_ups=acc.top_ups,
        uncleared_payable=acc.uncleared,
        cleared_unpaid_payable=acc.cleared_unpaid,
        usage_percent=f.usage_percent(used, base),
        level=acc.level,
        cause=cause,
        updated_at=now,
        usage_formula=rule.formula,
        usage_source=rule.source,
        monthly_clearing=acc.monthly_clearing,
    )


def _warning_event(
    acc: PrepaymentAccount, used: Decimal, base: Decimal, cause: str, now: datetime
) -> PrepaymentWarningRaised:
    return PrepaymentWarningRaised(
        warning_id=stable_id(acc.account_id, "warning", acc.level.value, cause),
        account_id=acc.account_id,
        insured_region=acc.insured_region,
        scope=acc.scope,
        year=acc.year,
        level=acc.level,
        usage_percent=f.usage_percent(used, base),
        top_up_amount=f.top_up_amount(acc.quota, acc.top_ups, acc.uncleared, acc.cleared_unpaid),
        top_up_cap=f.top_up_cap(acc.monthly_clearing, acc.quota),
        raised_at=now,
    )


def _emergency_top_up(  # noqa: PLR0917 - the decision's parts, each used
    acc: PrepaymentAccount,
    used: Decimal,
    cause: str,
    calendar: WorkingCalendar,
    now: datetime,
    events: list,
    deadlines: list,
) -> PrepaymentAccount:
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
            base = f.usage_base(acc.quota, acc.top_ups)
            events.append(
                TopUpWithheld(
                    account_id=acc.account_id,
                    insured_region=acc.insured_region,
                    scope=acc.scope,
                    year=acc.year,
                    level=acc.level,
                    usage_percent=f.usage_percent(used, base),
                    top_up_amount=uncapped,
                    top_up_cap=cap,
                    monthly_clearing=acc.monthly_clearing,
                    quota=acc.quota,
                    cause=cause,
                    next_assessment="the next period's clearing signing (004 第二十六条: 每期国家统一清算签章时)",
                    withheld_at=now,
                )
            )
        return acc
    notice = new_notice(acc, PaymentNoticeKind.EMERGENCY_TOP_UP, cause, amount, now, TOP_UP_SANCTION_WD, calendar)
    events.append(
        TopUpNoticeIssued(
            notice_id=notice.notice_id,
            account_id=acc.account_id,
            insured_region=acc.insured_region,
            scope=acc.scope,
            year=acc.year,
            amount=amount,
            issued_at=now,
            submit_to_finance_by=notice.submit_by,
            pay_by=notice.sanction_due_at,
            finance_pay_by=notice.finance_pay_by,
            calendar=calendar.source,
        )
    )
    deadlines += [sanction_deadline(acc, notice, calendar), *p08_deadlines(acc, notice, calendar)]
    return acc.with_notice(notice).with_movement(MovementKind.TOP_UP_NOTICE, amount, str(notice.notice_id), now)


# P-09 (004 第二十八条): the admission suspension is the province's choice ("可暂停"): proposed, then decided
AGENCY_DECIDES = frozenset({SanctionKind.ADMISSION_SUSPENSION})


def _reconcile_sanctions(acc: PrepaymentAccount, now: datetime, events: list) -> PrepaymentAccount:
    """P-09: a sanction is on while any notice behind it is overdue and unpaid. The new-filing
    suspension is imposed and lifted here; the admission suspension is only proposed here (and a
    proposal withdrawn when its notices are paid or excused) and imposed by the agency's decision
    (``decide_sanction``). A sanction's id is made at imposition and repeated at lifting, so consumers
    pair the two (F-16, S-20)."""
    causes = acc.sanction_causes()
    active, proposals = dict(acc.sanctions), dict(acc.proposals)
    for kind in SanctionKind:
        wanted = causes.get(kind, [])
        if kind in AGENCY_DECIDES and kind not in active:
            _reconcile_proposal(acc, kind, wanted, proposals, now, events)
        elif wanted and kind not in active:
            active[kind] = stable_id(acc.account_id, "sanction", kind.value, acc.version)
            events.append(sanction_event(acc, active[kind], kind, True, wanted, now))
        elif not wanted and kind in active:
            events.append(sanction_event(acc, active.pop(kind), kind, False, [], now))
    return acc.model_copy(update={"sanctions": active, "proposals": proposals})


def _reconcile_proposal(
    acc: PrepaymentAccount, kind: SanctionKind, wanted: list, proposals: dict, now: datetime, events: list
) -> None:
    """P-09: propose when a notice not yet declined is behind it; withdraw when none is left."""
    if wanted and kind not in proposals and any(str(n) not in acc.declined_notices for n in wanted):
        proposals[kind] = stable_id(acc.account_id, "proposal", kind.value, acc.version)
        events.append(proposal_event(acc, proposals[kind], kind, ProposalAction.PROPOSED, wanted, _REASONS[kind], now))
    elif not wanted and kind in proposals:
        reason = "the notices behind it are paid or excused before a decision (P-09)"
        events.append(proposal_event(acc, proposals.pop(kind), kind, ProposalAction.WITHDRAWN, [], reason, now))


def proposal_event(  # noqa: PLR0917 - one proposal's facts
    acc: PrepaymentAccount,
    proposal_id,
    kind: SanctionKind,
    action: ProposalAction,
    notice_ids: list,
    reason: str,
    now: datetime,
    decided_by: str | None = None,
) -> SanctionProposed:
    return SanctionProposed(
        account_id=acc.account_id,
        insured_region=acc.insured_region,
        scope=acc.scope,
        year=acc.year,
        proposal_id=proposal_id,
        kind=kind,
        action=action,
        notice_ids=notice_ids,
        reason=reason,
        decided_by=decided_by,
        at=now,
    )


_REASONS = {
    SanctionKind.NEW_FILING_SUSPENSION: "emergency top-up unpaid 10 working days after its notice (P-09)",
    SanctionKind.ADMISSION_SUSPENSION: "clearing or annual-adjustment payment unpaid 20 working days after its "
    "notice, no delay reason reported: the province may suspend admissions (P-09, 004 第二十八条 可暂停)",
}


def sanction_event(
    acc: PrepaymentAccount, sanction_id, kind: SanctionKind, on: bool, notice_ids: list, now: datetime
) -> PrepaymentSanction:
    action = SanctionAction.IMPOSED if on else SanctionAction.LIFTED
    return PrepaymentSanction(
        sanction_id=sanction_id,
        insured_region=acc.insured_region,
        kind=kind,
        action=action,
        effective_at=now,
        notice_ids=notice_ids,
        reason=_REASONS[kind] if on else "the notices behind it are paid or excused (P-09)",
    )
