"""The shared read side: eligibility (F-04, F-05, F-06, F-11, F-12, F-14, S-08, S-11, S-12) and the
FilingView projection folding FilingChanged events (F-15)."""

from __future__ import annotations

from datetime import date

from contracts.filing import CancelFiling, ChangeKind, ResumeFiling, SuspendFiling
from contracts.values import EligibilityBasis, MedicalType
from kernel.eligibility import EligibilityReason, eligibility
from kernel.filings import FilingView, PersonFilingView, in_force_at

from .filing_support import PID, accepted, at, changes, fire, reg, rid, run

NOW = at(2026, 9, 29)
IN = MedicalType.INPATIENT


def _view(*decisions) -> FilingView:
    view = FilingView()
    for decision in decisions:
        for change in changes(decision):
            view.apply(change)
    return view


def _ask(view, admission, treating="110000", medical_type=IN, **kw):
    return eligibility(view, PID, "420100", treating, medical_type, admission, **kw)


def test_F04_emergency_is_deemed_filed_without_any_filing() -> None:
    answer = _ask(FilingView(), date(2026, 10, 2), emergency_flag=True)
    assert answer.eligible and answer.basis is EligibilityBasis.DEEMED_EMERGENCY and answer.rule == "F-04"


def test_F05_general_outpatient_and_pharmacy_need_no_filing() -> None:
    for kind in (MedicalType.GENERAL_OUTPATIENT, MedicalType.PHARMACY):
        answer = _ask(FilingView(), date(2026, 10, 2), medical_type=kind)
        assert answer.eligible and answer.basis is EligibilityBasis.NO_FILING_NEEDED


def test_F05_chronic_outpatient_needs_a_filing_and_a_qualification() -> None:
    view = _view(run(reg(), None, NOW))
    chronic = MedicalType.CHRONIC_OUTPATIENT
    assert _ask(view, date(2026, 10, 2), medical_type=chronic).reason_code is EligibilityReason.CHRONIC_NOT_QUALIFIED
    assert _ask(view, date(2026, 10, 2), medical_type=chronic, chronic_qualified=True).eligible
    assert not _ask(FilingView(), date(2026, 10, 2), medical_type=chronic, chronic_qualified=True).eligible


def test_F06_inpatient_without_filing_is_refused_with_a_readable_reason() -> None:
    answer = _ask(FilingView(), date(2026, 10, 2))
    assert not answer.eligible and answer.reason_code is EligibilityReason.NO_FILING
    assert "retroactively" in answer.message


def test_F06_a_city_filing_covers_that_city_only() -> None:
    view = _view(run(reg(treating_region="440100"), None, NOW))
    assert _ask(view, date(2026, 10, 2), treating="440100").eligible
    answer = _ask(view, date(2026, 10, 2), treating="440300")
    assert answer.reason_code is EligibilityReason.FILED_ELSEWHERE


def test_F06_a_provincial_pool_filing_covers_its_cities() -> None:
    view = _view(run(reg(treating_region="460000"), None, NOW))
    assert _ask(view, date(2026, 10, 2), treating="460200").eligible


def test_F06_only_filings_of_the_insured_place_count() -> None:
    view = _view(run(reg(), None, NOW))
    assert not eligibility(view, PID, "340200", "110000", IN, date(2026, 10, 2)).eligible


def test_S08_treating_place_equal_to_insured_place_is_not_cross_region() -> None:
    view = _view(run(reg(category="resettled_retiree"), None, NOW))
    answer = eligibility(view, PID, "420100", "420100", IN, date(2026, 10, 2))
    assert not answer.eligible and answer.reason_code is EligibilityReason.NOT_CROSS_REGION


def test_long_term_filing_gives_long_term_basis() -> None:
    view = _view(run(reg(category="resettled_retiree"), None, NOW))
    answer = _ask(view, date(2027, 5, 1))
    assert answer.eligible and answer.basis is EligibilityBasis.LONG_TERM


def test_F11_retroactive_filing_dated_before_admission_makes_that_admission_eligible() -> None:
    admission = date(2026, 9, 10)
    assert not _ask(FilingView(), admission).eligible
    decision = run(
        reg(retroactive=True, admission_date=admission, start_date=date(2026, 9, 9), channel="hospital_desk"), None, NOW
    )
    answer = _ask(_view(decision), admission)
    assert answer.eligible and answer.basis is EligibilityBasis.TEMPORARY


def test_F12_admission_inside_validity_stays_eligible_after_expiry() -> None:
    """Filing valid 2026-09-29..2027-03-28; admitted 2027-03-27, discharged in April: eligible;
    an admission after expiry is not."""
    view = _view(run(reg(), None, NOW))
    inside = _ask(view, date(2027, 3, 27))
    assert inside.eligible and inside.rule == "F-12"
    after = _ask(view, date(2027, 3, 29))
    assert not after.eligible and after.reason_code is EligibilityReason.FILING_EXPIRED


def test_F13_pending_online_filing_does_not_cover_until_decided() -> None:
    online = run(reg(channel="online"), None, NOW)
    assert _ask(_view(online), date(2026, 9, 30)).reason_code is EligibilityReason.FILING_PENDING
    decided = run(fire(online, "online_decision_due"), online.state, at(2026, 10, 10))
    assert _ask(_view(online, decided), date(2026, 9, 30)).eligible


def test_F14_suspended_and_cancelled_filings_do_not_count_from_their_moment() -> None:
    first = run(reg(), None, NOW)
    filing = accepted(first)
    suspended = run(SuspendFiling(request_id=rid(), person_id=PID, reason="x"), first.state, at(2026, 11, 1, 12))
    resumed = run(ResumeFiling(request_id=rid(), person_id=PID, reason="y"), suspended.state, at(2026, 11, 10))
    cancelled = run(
        CancelFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, reason="z"),
        resumed.state,
        at(2026, 12, 1, 9),
    )
    view = _view(first, suspended, resumed, cancelled)
    assert _ask(view, date(2026, 11, 1)).eligible  # admitted before the suspension
    assert _ask(view, date(2026, 11, 5)).reason_code is EligibilityReason.FILING_SUSPENDED
    assert _ask(view, date(2026, 11, 20)).eligible
    assert _ask(view, date(2026, 12, 2)).reason_code is EligibilityReason.FILING_ENDED


def test_F10_revoked_filing_does_not_count_from_the_deadline() -> None:
    decision = run(
        reg(
            insured_region="340200",
            category="resettled_retiree",
            proofs=["credential", "filing_form"],
            personal_commitment=True,
        ),
        None,
        NOW,
    )
    revoked = run(fire(decision, "commitment_due"), decision.state, at(2026, 10, 30))
    view = _view(decision, revoked)
    assert eligibility(view, PID, "340200", "110000", IN, date(2026, 10, 20)).eligible
    assert not eligibility(view, PID, "340200", "110000", IN, date(2026, 10, 30)).eligible


def test_F09_a_superseded_filing_still_answers_for_admissions_before_it_ended() -> None:
    first = run(reg(), None, NOW)
    second = run(reg(treating_region="310000", start_date=date(2026, 10, 9)), first.state, at(2026, 10, 9, 12))
    view = _view(first, second)
    assert _ask(view, date(2026, 10, 8)).eligible
    assert not _ask(view, date(2026, 10, 10)).eligible
    assert _ask(view, date(2026, 10, 10), treating="310000").eligible


def test_F15_view_folding_is_idempotent_and_tolerates_old_snapshots_arriving_late() -> None:
    first = run(reg(), None, NOW)
    filing = accepted(first)
    cancelled = run(
        CancelFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, reason="z"),
        first.state,
        at(2026, 10, 9),
    )
    v1, v2 = changes(first)[0], changes(cancelled)[0]
    person = PersonFilingView(person_id=PID)
    assert person.apply(v2) and not person.apply(v2)  # re-delivery ignored
    assert person.apply(v1)  # older one joins history only
    assert person.current()[0].change_kind is ChangeKind.CANCELLED
    assert [s.version for s in person.history(filing.filing_id)] == [1, 2]
    assert person.as_recorded_at(at(2026, 10, 1))[0].version == 1
    assert PersonFilingView.model_validate(person.model_dump(mode="json")) == person


def test_in_force_at_accepts_an_exact_admission_moment() -> None:
    first = run(reg(), None, NOW)
    filing = accepted(first)
    cancelled = accepted(
        run(
            CancelFiling(request_id=rid(), person_id=PID, filing_id=filing.filing_id, reason="z"),
            first.state,
            at(2026, 10, 9, 15),
        )
    )
    assert in_force_at(cancelled, at(2026, 10, 9, 14))
    assert not in_force_at(cancelled, at(2026, 10, 9, 16))
