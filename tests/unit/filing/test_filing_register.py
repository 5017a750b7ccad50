"""Registration rules F-01, F-02, F-03, F-06, F-07, F-11, F-16 (decide on RegisterFiling)."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.filing import ChangeKind, FilingRefusalReason, FilingStatus
from contracts.values import FilingCategory
from services.filing.domain import RegionSanctions, SanctionNotice

from .filing_support import PID, accepted, at, changes, refused, reg, run

NOW = at(2026, 9, 29)  # a Tuesday, a working day


@pytest.mark.parametrize("category", list(FilingCategory))
def test_F01_every_category_can_be_filed_with_its_proofs(category: FilingCategory) -> None:
    """F-01: six categories; long-term ones are indefinite, temporary ones end (F-07)."""
    filing = accepted(run(reg(category=category), None, NOW))
    assert filing.category is category and filing.status is FilingStatus.ACTIVE
    assert (filing.valid_until is None) == category.is_long_term


def test_F02_resident_scheme_may_not_file_posted_work() -> None:
    """F-02 (001 二(一)): a resident-scheme insured of Wuhu cannot file as posted worker."""
    refusal = refused(run(reg(insured_region="340200", insurance_type="390", category="posted_worker"), None, NOW))
    assert refusal.reason is FilingRefusalReason.CATEGORY_NOT_ALLOWED and refusal.rule == "F-02"
    assert "long_term_resident" in refusal.message


def test_F02_resident_scheme_may_file_long_term_residence() -> None:
    filing = accepted(run(reg(insured_region="340200", insurance_type="390", category="long_term_resident"), None, NOW))
    assert filing.category is FilingCategory.LONG_TERM_RESIDENT


def test_F02_liaoning_lets_resident_scheme_migrant_workers_file_posted_work() -> None:
    """004 第四条(三)2: Liaoning allows it — region policy, not a constant."""
    filing = accepted(
        run(
            reg(insured_region="210100", insurance_type="390", category="posted_worker", treating_region="310000"),
            None,
            NOW,
        )
    )
    assert filing.policy_region == "210100"


def test_F03_missing_proof_without_commitment_is_refused_with_the_list() -> None:
    """F-03: the clerk is told exactly what is missing and that a commitment could replace it."""
    refusal = refused(run(reg(category="long_term_resident", proofs=["credential", "filing_form"]), None, NOW))
    assert refusal.reason is FilingRefusalReason.MISSING_PROOFS and refusal.rule == "F-03"
    assert [list(g) for g in refusal.missing_proofs] == [["residence_proof"]]
    assert "residence_proof" in refusal.message and "commitment" in refusal.message


def test_F03_referral_certificate_cannot_be_replaced_by_a_commitment() -> None:
    refusal = refused(
        run(reg(category="referral", proofs=["credential", "filing_form"], personal_commitment=True), None, NOW)
    )
    assert refusal.reason is FilingRefusalReason.MISSING_PROOFS
    assert [list(g) for g in refusal.missing_proofs] == [["referral_certificate"]]


def test_F03_any_one_alternative_satisfies_a_requirement() -> None:
    filing = accepted(
        run(reg(category="posted_worker", proofs=["credential", "filing_form", "work_contract"]), None, NOW)
    )
    assert filing.commitment is None


@pytest.mark.parametrize(
    "code, reason",
    [
        ("990100", FilingRefusalReason.UNKNOWN_REGION),
        ("110105", FilingRefusalReason.UNKNOWN_REGION),
        ("420000", FilingRefusalReason.NOT_A_POOLING_REGION),
    ],
)
def test_F06_bad_treating_region_is_refused(code: str, reason: FilingRefusalReason) -> None:
    """F-06: unknown province, a county, or a province without provincial pooling."""
    refusal = refused(run(reg(treating_region=code), None, NOW))
    assert refusal.reason is reason and refusal.rule == "F-06"
    assert code in refusal.message


def test_F06_unknown_insured_region_is_refused() -> None:
    refusal = refused(run(reg(insured_region="990100"), None, NOW))
    assert refusal.reason is FilingRefusalReason.UNKNOWN_REGION and "insured" in refusal.message


def test_F06_treating_place_equal_to_insured_place_is_refused() -> None:
    refusal = refused(run(reg(treating_region="420100"), None, NOW))
    assert refusal.reason is FilingRefusalReason.SAME_REGION


def test_F06_a_province_is_a_target_only_under_provincial_pooling() -> None:
    filing = accepted(run(reg(treating_region="460000"), None, NOW))
    assert filing.treating_region == "460000"


def test_F07_temporary_validity_is_six_months_in_wuhan() -> None:
    filing = accepted(run(reg(start_date=date(2026, 9, 29)), None, NOW))
    assert (filing.valid_from, filing.valid_until) == (date(2026, 9, 29), date(2027, 3, 28))


def test_F07_temporary_validity_is_twelve_months_in_wuhu() -> None:
    """001 第十条: 一次备案、12个月有效."""
    filing = accepted(run(reg(insured_region="340200", start_date=date(2026, 9, 29)), None, NOW))
    assert filing.valid_until == date(2027, 9, 28)


def test_F07_liaoning_referral_is_valid_one_year() -> None:
    """004 第九条: 异地转诊转院人员备案有效期为1年; other temporary stays 6 months."""
    referral = accepted(run(reg(insured_region="210100", category="referral"), None, NOW))
    other = accepted(run(reg(insured_region="210100", treating_region="310000"), None, NOW))
    assert referral.valid_until == date(2027, 9, 28)
    assert other.valid_until == date(2027, 3, 28)


def test_F07_end_before_start_is_refused() -> None:
    refusal = refused(run(reg(start_date=date(2026, 10, 20), end_date=date(2026, 10, 10)), None, NOW))
    assert refusal.reason is FilingRefusalReason.END_BEFORE_START


def test_F07_end_beyond_validity_is_refused_with_the_last_allowed_day() -> None:
    refusal = refused(run(reg(end_date=date(2027, 6, 1)), None, NOW))
    assert refusal.reason is FilingRefusalReason.END_BEYOND_VALIDITY and "2027-03-28" in refusal.message


def test_F07_a_shorter_temporary_filing_keeps_its_end() -> None:
    filing = accepted(run(reg(end_date=date(2026, 11, 30)), None, NOW))
    assert filing.valid_until == date(2026, 11, 30)


def test_F07_long_term_filing_takes_no_end_date() -> None:
    refusal = refused(run(reg(category="resettled_retiree", end_date=date(2027, 1, 1)), None, NOW))
    assert refusal.reason is FilingRefusalReason.END_DATE_NOT_ALLOWED


def test_F11_start_in_the_past_needs_the_retroactive_flag() -> None:
    refusal = refused(run(reg(start_date=date(2026, 9, 1)), None, NOW))
    assert refusal.reason is FilingRefusalReason.START_IN_PAST and refusal.rule == "F-11"


def test_F11_retroactive_filing_starts_on_or_before_the_admission() -> None:
    filing = accepted(
        run(
            reg(
                retroactive=True, admission_date=date(2026, 9, 10), start_date=date(2026, 9, 9), channel="hospital_desk"
            ),
            None,
            NOW,
        )
    )
    assert filing.valid_from == date(2026, 9, 9) and filing.retroactive


def test_F11_retroactive_start_after_admission_is_refused() -> None:
    refusal = refused(
        run(reg(retroactive=True, admission_date=date(2026, 9, 10), start_date=date(2026, 9, 11)), None, NOW)
    )
    assert refusal.reason is FilingRefusalReason.RETROACTIVE_START_AFTER_ADMISSION


def test_F11_back_dating_beyond_six_months_is_refused() -> None:
    refusal = refused(
        run(reg(retroactive=True, admission_date=date(2026, 3, 20), start_date=date(2026, 3, 20)), None, NOW)
    )
    assert refusal.reason is FilingRefusalReason.RETROACTIVE_WINDOW_EXCEEDED
    assert refusal.earliest_date == date(2026, 3, 29)


def test_F11_retroactive_without_admission_date_is_refused() -> None:
    refusal = refused(run(reg(retroactive=True, start_date=date(2026, 9, 1)), None, NOW))
    assert refusal.reason is FilingRefusalReason.ADMISSION_DATE_REQUIRED


def _sanction(action: str, when) -> SanctionNotice:
    return SanctionNotice(
        sanction_id="P09-420100-2026-09",
        insured_region="420100",
        kind="new_filing_suspension",
        action=action,
        effective_at=when,
    )


def test_F16_new_filings_are_refused_while_the_region_is_suspended() -> None:
    sanctions = RegionSanctions().apply(_sanction("imposed", at(2026, 9, 28)))
    refusal = refused(run(reg(), None, NOW, sanctions))
    assert refusal.reason is FilingRefusalReason.NEW_FILING_SUSPENDED and refusal.rule == "F-16"


def test_F16_new_filings_are_accepted_after_the_suspension_is_lifted() -> None:
    sanctions = (
        RegionSanctions().apply(_sanction("imposed", at(2026, 9, 28))).apply(_sanction("lifted", at(2026, 9, 29, 9)))
    )
    assert accepted(run(reg(), None, NOW, sanctions)).status is FilingStatus.ACTIVE


def test_F16_sanction_notices_are_idempotent_and_order_tolerant() -> None:
    lifted_first = (
        RegionSanctions().apply(_sanction("lifted", at(2026, 9, 29, 9))).apply(_sanction("imposed", at(2026, 9, 28)))
    )
    again = lifted_first.apply(_sanction("imposed", at(2026, 9, 28)))
    assert again == lifted_first
    assert lifted_first.new_filing_suspended("420100", at(2026, 9, 28, 12)) is not None
    assert lifted_first.new_filing_suspended("420100", NOW) is None
    assert lifted_first.new_filing_suspended("340200", at(2026, 9, 28, 12)) is None


def test_F16_other_regions_are_not_affected() -> None:
    sanctions = RegionSanctions().apply(_sanction("imposed", at(2026, 9, 28)))
    assert accepted(run(reg(insured_region="340200"), None, NOW, sanctions)).insured_region == "340200"


def test_F15_registration_publishes_a_full_snapshot() -> None:
    decision = run(reg(), None, NOW)
    [changed] = changes(decision)
    assert changed.change_kind is ChangeKind.REGISTERED and changed.version == 1
    assert changed.snapshot.person_id == PID and changed.snapshot == accepted(decision)
