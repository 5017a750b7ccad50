"""Payment notices 付款通知书 of a prepayment account and their clocks: P-09's sanction date (10
working days for an emergency top-up, 20 for a clearing or annual-adjustment payment) and P-08's
chain (to finance within 5 working days, finance pays within 10 of that), with the breach a step
not done by its time publishes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contracts.prepayment import BreachKind, PaymentNoticeKind, PrepaymentDeadlineBreached
from runtime.calendar import WorkingCalendar
from services.outcome import DeadlineRequest, Decision, deadline, stable_id

from .model import SERVICE, PaymentNotice, PrepaymentAccount, account_key

SANCTION_CHECK = "sanction_check"
SUBMISSION_CHECK = "submission_check"
PAYMENT_CHECK = "payment_check"
TOP_UP_SANCTION_WD = 10  # P-09 (004 第二十八条): red-warning top-up unpaid 10 working days
PAYMENT_SANCTION_WD = 20  # P-09: clearing / annual adjustment payment unpaid 20 working days
TO_FINANCE_WD = 5  # P-08 (000 第二十六、二十七、二十九、三十条): to finance within 5 working days
FINANCE_PAYS_WD = 10  # P-08: finance pays within 10 working days of the submission
P08 = "P-08 (000 第二十九、三十条)"


def new_notice(
    acc: PrepaymentAccount,
    kind: PaymentNoticeKind,
    cause: str,
    amount: Decimal,
    issued_at: datetime,
    working_days: int,
    calendar: WorkingCalendar,
) -> PaymentNotice:
    """A prepayment notice with its P-09 sanction date and its P-08 chain: to finance within 5
    working days, finance pays within 10 working days of that (of the last allowed day until the
    submission is recorded)."""
    submit_by = calendar.deadline(issued_at, TO_FINANCE_WD)
    return PaymentNotice(
        notice_id=stable_id(acc.account_id, kind.value, cause),
        kind=kind,
        amount=amount,
        issued_at=issued_at,
        sanction_due_at=calendar.deadline(issued_at, working_days),
        submit_by=submit_by,
        finance_pay_by=calendar.deadline(submit_by, FINANCE_PAYS_WD),
    )


def p08_deadlines(acc: PrepaymentAccount, notice: PaymentNotice, calendar: WorkingCalendar) -> list[DeadlineRequest]:
    """P-08's checks of a notice ``new_notice`` issued (it sets both due times; older stored notices lack them)."""
    if notice.submit_by is None or notice.finance_pay_by is None:
        raise ValueError(f"P-08: notice {notice.notice_id} has no submission or payment due time")
    subject = account_key(acc.insured_region, acc.scope)
    return [
        deadline(
            SERVICE, SUBMISSION_CHECK, subject, notice.submit_by, "P-08", calendar.source, ref=str(notice.notice_id)
        ),
        deadline(
            SERVICE, PAYMENT_CHECK, subject, notice.finance_pay_by, "P-08", calendar.source, ref=str(notice.notice_id)
        ),
    ]


def sanction_deadline(acc: PrepaymentAccount, notice: PaymentNotice, calendar: WorkingCalendar) -> DeadlineRequest:
    return deadline(
        SERVICE,
        SANCTION_CHECK,
        account_key(acc.insured_region, acc.scope),
        notice.sanction_due_at,
        "P-09",
        calendar.source,
        ref=str(notice.notice_id),
    )


def p08_check(
    acc: PrepaymentAccount, notice: PaymentNotice, request: DeadlineRequest, calendar: WorkingCalendar, now: datetime
) -> Decision[PrepaymentAccount]:
    submission = request.kind == SUBMISSION_CHECK
    kind = BreachKind.SUBMISSION_TO_FINANCE if submission else BreachKind.FINANCE_PAYMENT
    due = notice.submit_by if submission else notice.finance_pay_by
    done = notice.settled or (submission and notice.submitted_at is not None)
    if done or kind in notice.breaches or due is None:
        return Decision(acc, [], [])
    if now < due:  # fired early, or the chain moved it (a submission recorded): arm it for its moment
        return Decision(acc, [], [request.model_copy(update={"due_at": due})])
    notice, event = breach(acc, notice, kind, due, calendar, now)
    return Decision(acc.with_notice(notice).model_copy(update={"version": acc.version + 1}), [event], [])


def breach(
    acc: PrepaymentAccount,
    notice: PaymentNotice,
    kind: BreachKind,
    due_at: datetime | None,
    calendar: WorkingCalendar,
    now: datetime,
) -> tuple[PaymentNotice, PrepaymentDeadlineBreached]:
    event = PrepaymentDeadlineBreached(
        breach_id=stable_id(acc.account_id, "breach", notice.notice_id, kind.value),
        account_id=acc.account_id,
        insured_region=acc.insured_region,
        scope=acc.scope,
        notice_id=notice.notice_id,
        notice_kind=notice.kind,
        kind=kind,
        due_at=due_at,
        detected_at=now,
        rule=P08,
        calendar=calendar.source,
    )
    return notice.model_copy(update={"breaches": (*notice.breaches, kind)}), event
