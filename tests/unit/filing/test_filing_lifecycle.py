"""After registration: F-08 lock, F-09 supersession, F-10 commitment, F-13 online/holiday timing,
F-14 changes, M-03 history, idempotent retries."""

from __future__ import annotations

from datetime import date, timedelta

import holidays

from contracts.filing import (
    CancelFiling,
    ChangeFiling,
    ChangeKind,
    DecideFiling,
    DeliverProof,
    FilingRefusalReason,
    FilingStatus,
    ProofKind,
    ResumeFiling,
    SuspendFiling,
    TerminateInsurance,
)
from services.filing.domain import PersonFilings, filing_at, state_at

from .filing_support import BOOK, PID, accepted, at, changes, fire, refused, reg, rid, run

NOW = at(2026, 9, 29)


def _long_term(now=NOW, **kw):
    decision = run(reg(category="long_term_resident", **kw), None, now)
    return decision.state, accepted(decision)


# ---------------------------------------------------------------- F-09
def test_F09_second_temporary_filing_for_the_same_place_supersedes_the_first() -> None:
    first = run(reg(), None, NOW)
    second = run(reg(start_date=date(2026, 10, 8)), first.state, at(2026, 9, 30))
    old, new = (f for f in sorted(second.state.current(), key=lambda f: f.submitted_at))
    assert old.status is FilingStatus.SUPERSEDED and old.superseded_by == new.filing_id
    assert new.supersedes == old.filing_id and new.status is FilingStatus.ACTIVE
    kinds = [c.change_kind for c in changes(second)]
    assert kinds == [ChangeKind.REGISTERED, ChangeKind.SUPERSEDED]


def test_F09_one_temporary_filing_across_places() -> None:
    first = run(reg(treating_region="110000"), None, NOW)
    second = run(reg(treating_region="310000"), first.state, NOW)
    assert [f.status for f in second.state.current()] == [FilingStatus.SUPERSEDED, FilingStatus.ACTIVE]


def test_F09_a_long_term_and_a_temporary_filing_coexist_at_different_places() -> None:
    state, _ = _long_term(treating_region="110000")
    second = run(reg(treating_region="310000"), state, NOW)
    assert {f.status for f in second.state.current()} == {FilingStatus.ACTIVE}


def test_F09_a_new_long_term_filing_elsewhere_is_refused_inside_the_lock() -> None:
    state, first = _long_term(treating_region="110000")
    refusal = refused(
        run(
            reg(category="resettled_retiree", treating_region="310000", start_date=date(2026, 12, 1)),
            state,
            at(2026, 12, 1),
        )
    )
    assert refusal.reason is FilingRefusalReason.CHANGE_LOCKED and refusal.filing_id == first.filing_id


# ---------------------------------------------------------------- F-08
def test_F08_long_term_filing_cannot_change_place_within_its_lock() -> None:
    state, filing = _long_term()
    refusal = refused(
        run(
            ChangeFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, treating_region="310000"),
            state,
            at(2027, 3, 28),
        )
    )
    assert refusal.reason is FilingRefusalReason.CHANGE_LOCKED and refusal.rule == "F-08"
    assert refusal.earliest_date == date(2027, 3, 29)


def test_F08_long_term_filing_changes_place_after_its_lock() -> None:
    state, filing = _long_term()
    decision = run(
        ChangeFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, treating_region="310000"),
        state,
        at(2027, 3, 29),
    )
    new = accepted(decision)
    old = decision.state.find(filing.filing_id)
    assert old.status is FilingStatus.SUPERSEDED and old.ended_at == at(2027, 3, 29)
    assert new.treating_region == "310000" and new.place_since == date(2027, 3, 29)
    assert new.supersedes == filing.filing_id


def test_F08_long_term_filing_cannot_be_cancelled_within_its_lock() -> None:
    state, filing = _long_term()
    refusal = refused(
        run(
            CancelFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, reason="moving back"),
            state,
            at(2026, 12, 1),
        )
    )
    assert refusal.reason is FilingRefusalReason.CHANGE_LOCKED


def test_F08_temporary_filing_can_be_cancelled_at_once() -> None:
    first = run(reg(), None, NOW)
    filing = accepted(first)
    decision = run(
        CancelFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, reason="trip off"),
        first.state,
        at(2026, 10, 9),
    )
    assert accepted(decision).status is FilingStatus.CANCELLED


def test_F08_wuhu_lock_comes_from_its_policy_file() -> None:
    state, filing = _long_term(insured_region="340200")
    refusal = refused(
        run(
            CancelFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, reason="x"), state, at(2027, 1, 5)
        )
    )
    assert "001" in refusal.message


# ---------------------------------------------------------------- F-10
def _committed(region="340200"):
    decision = run(
        reg(
            insured_region=region,
            category="resettled_retiree",
            proofs=["credential", "filing_form"],
            personal_commitment=True,
        ),
        None,
        NOW,
    )
    return decision, accepted(decision)


def test_F10_commitment_replaces_missing_proof_with_a_one_month_deadline_in_wuhu() -> None:
    decision, filing = _committed()
    assert filing.commitment is not None and [list(g) for g in filing.commitment.owed] == [["household_register"]]
    due = fire(decision, "commitment_due")
    assert due.due_date == date(2026, 10, 29) and due.filing_id == filing.filing_id


def test_F10_commitment_not_met_by_its_deadline_revokes_the_filing_and_says_so() -> None:
    """Wuhu (001 三(二) 当次可享受): the filing ends at the deadline and nothing is recovered."""
    decision, filing = _committed()
    due = fire(decision, "commitment_due")
    later = run(due, decision.state, at(2026, 10, 30, 0, 5))
    [revoked] = changes(later)
    assert revoked.change_kind is ChangeKind.REVOKED and revoked.rule == "F-10"
    assert revoked.snapshot.status is FilingStatus.REVOKED and not revoked.snapshot.benefits_recoverable
    assert "nothing is recovered" in revoked.snapshot.note
    assert revoked.snapshot.ended_at == due.due_at
    assert "household_register" in revoked.snapshot.note and "revoked" in revoked.snapshot.note


def test_F10_commitment_met_in_time_keeps_the_filing() -> None:
    decision, filing = _committed()
    delivered = run(
        DeliverProof(request_id=rid(), person_id=PID, filing_id=filing.filing_id, proofs=["household_register"]),
        decision.state,
        at(2026, 10, 20),
    )
    assert accepted(delivered).commitment.met_at == at(2026, 10, 20)
    later = run(fire(decision, "commitment_due"), delivered.state, at(2026, 10, 30))
    assert later.events == [] and later.state.find(filing.filing_id).status is FilingStatus.ACTIVE


def test_F10_a_deadline_fired_early_changes_nothing() -> None:
    decision, _ = _committed()
    early = run(fire(decision, "commitment_due"), decision.state, at(2026, 10, 20))
    assert early.events == [] and early.state == decision.state


def test_F10_only_one_commitment_a_year() -> None:
    decision, _ = _committed()
    again = run(
        reg(
            insured_region="340200",
            category="long_term_resident",
            treating_region="110000",
            proofs=["credential", "filing_form"],
            personal_commitment=True,
            start_date=date(2026, 11, 2),
        ),
        decision.state,
        at(2026, 11, 2),
    )
    assert refused(again).reason is FilingRefusalReason.COMMITMENT_LIMIT


def test_F10_what_a_commitment_replaces_is_region_policy() -> None:
    """000 第八条(三): in Hubei a commitment may replace the posting proof; 004 第七条: in Liaoning
    only household and residence papers, so a Liaoning posted worker's commitment stands for the
    residence permit alternative (004 第四条(三)2) and is owed as that group."""
    wuhan = accepted(
        run(reg(category="posted_worker", proofs=["credential", "filing_form"], personal_commitment=True), None, NOW)
    )
    assert wuhan.commitment is not None
    assert set(BOOK.for_region("210100").commitment_replaces.value) == {
        ProofKind.HOUSEHOLD_REGISTER,
        ProofKind.RESIDENCE_PROOF,
    }
    shenyang_referral = run(
        reg(
            insured_region="210100", category="referral", proofs=["credential", "filing_form"], personal_commitment=True
        ),
        None,
        NOW,
    )
    assert refused(shenyang_referral).reason is FilingRefusalReason.MISSING_PROOFS


# ---------------------------------------------------------------- F-13
def test_F13_the_2026_national_day_calendar_is_what_the_tests_assume() -> None:
    cn = holidays.China(years=2026)
    assert date(2026, 9, 30).weekday() == 2  # a Wednesday, not a Friday
    assert all(date(2026, 10, d) in cn or date(2026, 10, d).weekday() >= 5 for d in range(1, 8))
    assert {date(2026, 9, 20), date(2026, 10, 10)} <= set(cn.weekend_workdays)


def test_F13_online_filing_on_wednesday_30_september_2026_is_due_friday_9_october() -> None:
    """Received 2026-09-30 (Wed); Oct 1–7 are off; 2 working days after → Oct 8 (1), Oct 9 (2)."""
    decision = run(reg(channel="online", start_date=date(2026, 9, 30)), None, at(2026, 9, 30, 16))
    filing = accepted(decision)
    assert filing.status is FilingStatus.PENDING
    due = fire(decision, "online_decision_due")
    assert due.due_date == date(2026, 10, 9) and filing.decision_due_at == due.due_at
    assert "holidays" in due.calendar or due.calendar  # the calendar used is recorded (M-02)


def test_F13_online_filing_is_decided_when_its_deadline_fires() -> None:
    decision = run(reg(channel="online", start_date=date(2026, 9, 30)), None, at(2026, 9, 30, 16))
    decided = run(fire(decision, "online_decision_due"), decision.state, at(2026, 10, 10, 0, 1))
    [change] = changes(decided)
    assert change.change_kind is ChangeKind.DECIDED and change.snapshot.status is FilingStatus.ACTIVE
    assert change.snapshot.valid_from == date(2026, 9, 30)


def test_F13_a_clerk_may_decide_earlier_and_may_reject() -> None:
    decision = run(reg(channel="online"), None, NOW)
    filing = accepted(decision)
    rejected = run(
        DecideFiling(
            request_id=rid(), person_id=PID, filing_id=filing.filing_id, approve=False, reason="form illegible"
        ),
        decision.state,
        at(2026, 9, 29, 15),
    )
    assert accepted(rejected).status is FilingStatus.REJECTED
    late = run(fire(decision, "online_decision_due"), rejected.state, at(2026, 10, 10))
    assert late.events == []


def test_F13_pending_online_filing_supersedes_only_when_decided() -> None:
    first = run(reg(), None, NOW)
    online = run(reg(channel="online"), first.state, NOW)
    assert {f.status for f in online.state.current()} == {FilingStatus.ACTIVE, FilingStatus.PENDING}
    decided = run(fire(online, "online_decision_due"), online.state, at(2026, 10, 9))
    assert [c.change_kind for c in changes(decided)] == [ChangeKind.DECIDED, ChangeKind.SUPERSEDED]


def test_F13_window_filing_on_a_working_day_is_immediate() -> None:
    filing = accepted(run(reg(start_date=date(2026, 9, 29)), None, NOW))
    assert filing.status is FilingStatus.ACTIVE and filing.valid_from == date(2026, 9, 29)


def test_F13_a_liaoning_filing_on_a_holiday_takes_effect_on_the_next_working_day() -> None:
    """004 第九条 (Liaoning): received Saturday 3 October 2026, in force Thursday 8 October."""
    decision = run(
        reg(channel="hospital_desk", insured_region="210100", start_date=date(2026, 10, 3)), None, at(2026, 10, 3)
    )
    filing = accepted(decision)
    assert filing.valid_from == date(2026, 10, 8)
    effective = fire(decision, "effective_due")
    assert effective.due_date == date(2026, 10, 8)
    announced = run(effective, decision.state, at(2026, 10, 8, 0, 1))
    assert [c.change_kind for c in changes(announced)] == [ChangeKind.EFFECTIVE]


def test_F13_by_default_a_filing_on_a_holiday_is_in_force_from_its_start() -> None:
    """000 第九条 (Hubei, the national default) defers nothing: in force Saturday 3 October itself."""
    filing = accepted(run(reg(channel="hospital_desk", start_date=date(2026, 10, 3)), None, at(2026, 10, 3)))
    assert filing.valid_from == date(2026, 10, 3)


def test_F13_the_make_up_saturday_10_october_2026_is_a_working_day() -> None:
    filing = accepted(run(reg(start_date=date(2026, 10, 10)), None, at(2026, 10, 10)))
    assert filing.valid_from == date(2026, 10, 10)


# ---------------------------------------------------------------- F-14
def test_F14_address_and_phone_change_at_once_even_inside_the_lock() -> None:
    state, filing = _long_term()
    decision = run(
        ChangeFiling(
            request_id=rid(),
            person_id=PID,
            filing_id=filing.filing_id,
            address="北京市朝阳区某路1号",
            phone="13800000000",
        ),
        state,
        at(2026, 10, 9),
    )
    changed = accepted(decision)
    assert changed.version == 2 and changed.phone == "13800000000" and changed.change_kind is ChangeKind.CHANGED


def test_F14_end_date_of_a_temporary_filing_can_be_shortened_not_into_the_past() -> None:
    first = run(reg(), None, NOW)
    filing = accepted(first)
    ok = run(
        ChangeFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, end_date=date(2026, 12, 31)),
        first.state,
        at(2026, 10, 9),
    )
    assert accepted(ok).valid_until == date(2026, 12, 31)
    past = run(
        ChangeFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, end_date=date(2026, 10, 1)),
        first.state,
        at(2026, 10, 9),
    )
    assert refused(past).reason is FilingRefusalReason.END_IN_PAST


def test_F14_suspend_and_resume_take_effect_at_once() -> None:
    state, filing = _long_term()
    suspended = run(
        SuspendFiling(request_id=rid(), person_id=PID, reason="contributions stopped"), state, at(2026, 11, 1)
    )
    assert accepted(suspended).status is FilingStatus.SUSPENDED
    again = run(
        SuspendFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, reason="x"),
        suspended.state,
        at(2026, 11, 2),
    )
    assert refused(again).reason is FilingRefusalReason.INVALID_STATE
    resumed = run(
        ResumeFiling(request_id=rid(), person_id=PID, reason="contributions paid"), suspended.state, at(2026, 12, 1)
    )
    snapshot = accepted(resumed)
    assert snapshot.status is FilingStatus.ACTIVE
    assert [(s.start, s.end) for s in snapshot.suspensions] == [(at(2026, 11, 1), at(2026, 12, 1))]


def test_F14_termination_ends_every_filing_of_the_person() -> None:
    state, _ = _long_term(treating_region="110000")
    both = run(reg(treating_region="310000"), state, NOW)
    ended = run(TerminateInsurance(request_id=rid(), person_id=PID, reason="停保"), both.state, at(2026, 10, 9))
    assert {f.status for f in ended.state.current()} == {FilingStatus.TERMINATED}
    assert [c.change_kind for c in changes(ended)] == [ChangeKind.TERMINATED] * 2
    refusal = refused(
        run(
            CancelFiling(request_id=rid(), person_id=PID, filing_id=both.state.current()[0].filing_id, reason="x"),
            ended.state,
            at(2026, 10, 10),
        )
    )
    assert refusal.reason is FilingRefusalReason.FILING_ENDED


# ---------------------------------------------------------------- M-03, idempotency, serialisation
def test_M03_history_is_never_lost_and_any_past_moment_can_be_rebuilt() -> None:
    state, filing = _long_term()
    changed = run(
        ChangeFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, phone="139"), state, at(2026, 10, 9)
    )
    cancelled = run(
        CancelFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, reason="back"),
        changed.state,
        at(2027, 4, 1),
    )
    agg = cancelled.state
    assert [v.version for v in agg.filings[0].versions] == [1, 2, 3]
    assert state_at(agg, at(2026, 9, 28)) == []
    assert filing_at(agg, filing.filing_id, at(2026, 10, 1)).phone is None
    assert filing_at(agg, filing.filing_id, at(2026, 12, 1)).phone == "139"
    assert filing_at(agg, filing.filing_id, at(2027, 4, 2)).status is FilingStatus.CANCELLED


def test_a_retried_request_changes_nothing_and_yields_the_same_ids() -> None:
    cmd = reg()
    first = run(cmd, None, NOW)
    assert run(cmd, None, NOW).events == first.events  # same input, same ids
    retry = run(cmd, first.state, NOW + timedelta(minutes=1))
    # a clerk's screen that lost the reply hears the same acceptance again; nothing changes
    assert retry.duplicate and retry.state == first.state
    assert retry.events == [first.events[-1]]


def test_a_retried_refusal_has_the_same_refusal_id() -> None:
    cmd = reg(treating_region="420100")
    assert refused(run(cmd, None, NOW)).refusal_id == refused(run(cmd, None, at(2026, 9, 30))).refusal_id


def test_the_aggregate_round_trips_through_plain_json() -> None:
    decision, _ = _committed()
    data = decision.state.model_dump(mode="json")
    assert PersonFilings.model_validate(data) == decision.state


def test_decide_never_mutates_its_input_state() -> None:
    first = run(reg(), None, NOW)
    before = first.state.model_dump(mode="json")
    run(reg(), first.state, NOW)
    assert first.state.model_dump(mode="json") == before
