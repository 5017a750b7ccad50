"""C-03/C-07 → P-09: a clearing notice's step breached in the clearing service, recorded on the insured
region's prepayment account. Finance's transfer (``transferred``) is the region's payment of the notice;
it falls due at most 5 + 10 working days after the notice, before P-09's 20, so its breach is recorded
and the notice's own P-09 clock decides; a breach at or after P-09's date suspends admissions at once
unless a delay was reported (runtime/calendar.py: National Day 2026, 10-01..10-07 off)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from contracts.clearing import ClearingObligationBreached, EntryKind, Fund, FundAmounts, Obligation
from contracts.prepayment import (
    PrepaymentSanction,
    PrepaymentScope,
    ProposalAction,
    ReportPaymentDelay,
    SanctionKind,
    SanctionProposed,
)
from contracts.values import InsuranceType, money
from runtime.calendar import at_business_start, default_calendar, end_of_business_day
from services.clearing.domain import LedgerEntry, generate, issue_notice, new_ledger, record_entry
from services.clearing.domain.obligations import fell_due, start
from services.prepayment.domain import (
    ClearingBreachReceived,
    deadline_fired,
    from_clearing_notice,
    new_account,
    record_clearing_breach,
    record_clearing_notice,
    report_delay,
)
from services.prepayment.domain.notices import SANCTION_CHECK

CAL = default_calendar()
WUHU, WUHAN = "340200", "420100"
ISSUED = at_business_start(date(2026, 9, 30))
SCOPE = PrepaymentScope.CROSS_PROVINCE


def entry(sid: str) -> LedgerEntry:
    return LedgerEntry(
        settlement_id=sid,
        kind=EntryKind.SETTLEMENT,
        insured_region=WUHU,
        treating_region=WUHAN,
        amounts=FundAmounts(insurance_type=InsuranceType.EMPLOYEE, funds={Fund.POOLING: money("100")}),
        business_day=date(2026, 8, 20),
    )


def the_notice():
    lg = record_entry(new_ledger("2026-09", WUHU, WUHAN), entry("s1"), CAL, ISSUED).state
    return issue_notice(WUHU, "2026-09", [generate(lg, CAL, ISSUED).state], CAL, ISSUED)


def received(b: ClearingObligationBreached) -> ClearingBreachReceived:
    return ClearingBreachReceived(
        breach_id=b.breach_id,
        notice_id=b.notice_id,
        insured_region=b.region,
        obligation=b.obligation.value,
        due_at=b.due_at,
        breached_at=b.breached_at,
        rule=b.rule,
    )


def silent_region():
    """The notice in both services; the clearing service's chain run with nothing recorded: the
    submission breached at its due time, then the transfer at its own."""
    notice = the_notice()
    [item] = from_clearing_notice(notice)
    out = record_clearing_notice(new_account(WUHU, SCOPE, 2026), item, CAL, ISSUED)
    state, deadlines = start(notice, CAL)
    breaches = []
    for step in (Obligation.SUBMITTED_TO_FINANCE, Obligation.TRANSFERRED):
        [request] = [d for d in deadlines if d.ref == step.value]
        fired = fell_due(state, request, CAL, request.due_at + timedelta(seconds=1))
        state, deadlines = fired.state, fired.deadlines
        breaches += fired.events
    return out, breaches


def test_the_transfer_breach_comes_before_p09_and_is_recorded_only() -> None:
    out, [submitted, transferred] = silent_region()
    acc, [sanction_check] = out.state, [d for d in out.deadlines if d.kind == SANCTION_CHECK]
    notice = acc.notices[str(transferred.notice_id)]
    # C-03: 5 + 10 working days after 09-30 → 10-27; P-09: 20 working days → 11-03
    assert transferred.due_at == end_of_business_day(date(2026, 10, 27))
    assert notice.sanction_due_at == end_of_business_day(date(2026, 11, 3)) > transferred.due_at
    after = record_clearing_breach(acc, received(submitted), CAL, submitted.breached_at)
    after = record_clearing_breach(after.state, received(transferred), CAL, transferred.breached_at)
    recorded = after.state.notices[str(transferred.notice_id)]
    assert recorded.clearing_breaches == ("submitted_to_finance", "transferred")
    assert not recorded.overdue and after.events == [] and after.state.sanctions == {}
    assert after.state.version == acc.version + 2  # one write each
    again = record_clearing_breach(after.state, received(transferred), CAL, transferred.breached_at)
    assert again.state == after.state and again.events == []  # redelivered: nothing
    # the existing P-09 clock decides: unpaid and no reason at 11-03 → admissions suspended (S-20)
    fired = deadline_fired(after.state, sanction_check, CAL, notice.sanction_due_at + timedelta(seconds=1))
    [proposal] = [e for e in fired.events if isinstance(e, SanctionProposed)]  # P-09 可暂停: proposed
    assert (proposal.kind, proposal.action) == (SanctionKind.ADMISSION_SUSPENSION, ProposalAction.PROPOSED)
    assert proposal.notice_ids == [transferred.notice_id] and fired.state.sanctions == {}


def test_a_transfer_due_at_or_after_p09_suspends_at_once_unless_a_delay_was_reported() -> None:
    out, [_, transferred] = silent_region()
    acc = out.state
    notice = acc.notices[str(transferred.notice_id)]
    late = received(transferred).model_copy(update={"due_at": notice.sanction_due_at})
    at = notice.sanction_due_at + timedelta(seconds=1)
    fired = record_clearing_breach(acc, late, CAL, at)
    [proposal] = [e for e in fired.events if isinstance(e, SanctionProposed)]
    assert (proposal.kind, proposal.action) == (SanctionKind.ADMISSION_SUSPENSION, ProposalAction.PROPOSED)
    assert fired.state.notices[str(notice.notice_id)].overdue
    excused = report_delay(
        acc,
        ReportPaymentDelay(
            insured_region=WUHU,
            scope=SCOPE,
            notice_id=notice.notice_id,
            reason="finance budget pending",
            reported_at=ISSUED,
        ),
        CAL,
        ISSUED,
    )
    spared = record_clearing_breach(excused.state, late, CAL, at)
    assert not any(isinstance(e, PrepaymentSanction | SanctionProposed) for e in spared.events)
    assert spared.state.sanctions == spared.state.proposals == {}
    other = late.model_copy(update={"obligation": "receipt_fed_back"})  # not the payment: recorded only
    only = record_clearing_breach(acc, other, CAL, at)
    assert only.events == [] and not only.state.notices[str(notice.notice_id)].overdue


def test_a_breach_of_a_notice_the_account_does_not_hold_is_refused() -> None:
    out, [_, transferred] = silent_region()
    stray = received(transferred).model_copy(update={"notice_id": uuid.uuid4()})
    with pytest.raises(ValueError, match="is not a clearing notice of account"):
        record_clearing_breach(out.state, stray, CAL, transferred.breached_at)
