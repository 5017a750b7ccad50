"""Catalogue and policy files validate at load with clear errors (STYLE; S-09 ceilings; M-01)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from contracts.his_result import SettlementResult
from contracts.registry import ALL_TOPICS
from contracts.values import HospitalLevel
from services.settlement.reference_data import POLICIES, ReferenceDataError, load_catalogue, load_policy

from .settlement_support import catalogues, policies

WUHU = POLICIES / "340200.yaml"


def test_every_shipped_file_loads():
    assert {"420000", "340000", "110000", "430000", "210000"} <= set(catalogues().by_region)
    assert {"420100", "340200", "210100", "430100", "110000"} <= set(policies().by_region)
    assert policies().select("440300", date(2025, 1, 1)).region == "440300"  # default template


def test_wuhu_real_reductions_are_loaded():
    wuhu = policies().select("340200", date(2025, 1, 1))
    e, r = wuhu.employee.reductions, wuhu.resident.reductions
    assert [
        str(x.points)
        for x in (
            e.intra_province.referral_emergency,
            e.intra_province.other_temporary,
            e.cross_province.referral_emergency,
            e.cross_province.other_temporary,
        )
    ] == ["0.08", "0.18", "0.10", "0.20"]
    assert str(r.cross_province.referral_emergency.fixed_ratio) == "0.60"
    assert str(r.cross_province.other_temporary.fixed_ratio) == "0.50"
    assert wuhu.intra_province_catalogue == "insured_place"


def _broken(tmp_path, edit):
    data = yaml.safe_load(WUHU.read_text(encoding="utf-8"))
    edit(data["versions"][0])
    path = tmp_path / "340200.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "edit, words",
    [
        (
            lambda v: v["employee"]["reductions"]["cross_province"]["referral_emergency"].update(points="0.12"),
            "national ceiling",
        ),
        (lambda v: v["employee"]["benefits"][0]["levels"]["3"].update(ratio="1.2"), "[0, 1]"),
        (lambda v: v["employee"]["benefits"][0].pop("sample"), "source"),
        (
            lambda v: v["resident"]["reductions"]["cross_province"]["referral_emergency"].pop("ceiling_exception"),
            "ceiling_exception",
        ),
        (
            lambda v: v["employee"]["funds"].append(
                {"code": "critical_illness", "name": "x", "kind": "personal_share", "ratio": "0.5", "sample": True}
            ),
            "not a fund of employee",
        ),
        (lambda v: v["employee"]["benefits"][1].update(annual_cap="1.00"), "share one annual cap"),
    ],
)
def test_bad_policy_is_refused_with_a_clear_message(tmp_path, edit, words):
    with pytest.raises(ReferenceDataError) as error:
        load_policy(_broken(tmp_path, edit))
    assert "340200.yaml" in str(error.value) and words in str(error.value)


def test_bad_catalogue_item_is_refused(tmp_path):
    path = tmp_path / "420000.yaml"
    text = (POLICIES.parent / "catalogues" / "420000.yaml").read_text(encoding="utf-8")
    path.write_text(
        text.replace("class: B, b_self_pay_ratio: 0.10, price_limit: 180.00", "class: B, price_limit: 180.00"),
        encoding="utf-8",
    )
    with pytest.raises(ReferenceDataError, match="b_self_pay_ratio"):
        load_catalogue(path)


def test_yaml_numbers_are_decimals_not_floats():
    wuhu = policies().select("340200", date(2025, 1, 1))
    assert str(wuhu.employee.benefits[0].levels[HospitalLevel.LEVEL_3].ratio) == "0.85"


def test_his_topics_are_keyed_by_institution_and_result_is_discriminated():
    """A hospital cannot compute the person pseudonym (003 §5 (三)), so its commands and answers are
    keyed by the institution; the hops after the first are keyed by the person's pseudonym."""
    names = set(ALL_TOPICS)
    assert {"his.settlement-requested.v1", "settlement.result.v2", "settlement.reversed.v1"} <= names
    assert "settlement.result.v1" not in names  # replaced by the sealed v2 (003 §5 (三))
    refused = SettlementResult.model_validate(
        {
            "outcome": "refused",
            "request_id": "R",
            "person_id": "11010519491231002X",
            "institution_code": "H42010200001",
            "code": "NOT_FILED",
            "title_zh": "未办理异地就医备案",
            "message": "x",
        }
    )
    spec = ALL_TOPICS["settlement.result.v2"]
    assert spec.key(refused) == "H42010200001"


def test_eligibility_from_the_filing_view():
    """The eligibility answer (kernel.eligibility) maps onto the settlement input; a "no" keeps its message (S-19)."""
    from kernel.eligibility import Eligibility, EligibilityReason
    from services.settlement.domain.rates import Entitlement

    no = Eligibility(eligible=False, reason_code=EligibilityReason.NO_FILING, rule="F-06", message="No filing.")
    yes = Eligibility(
        eligible=True,
        basis="long_term",
        category="resettled_retiree",
        reason_code=EligibilityReason.COVERED,
        rule="F-12",
        message="Filed",
    )
    assert Entitlement.from_view(no) == Entitlement(None, None, "No filing.")
    assert Entitlement.from_view(yes).basis == "long_term"


# ---------------------------------------------------------------- a policy's text and dates (issue 31)
def _two_versions(tmp_path, first_until: str | None, second_from: str):
    """Wuhu's file with its version ending ``first_until`` and a copy from ``second_from``."""
    data = yaml.safe_load(WUHU.read_text(encoding="utf-8"))
    first = data["versions"][0]
    second = {**first, "effective_from": second_from}
    if first_until is not None:
        first["effective_until"] = first_until
    data["versions"] = [first, second]
    path = tmp_path / "340200.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_every_shipped_version_names_the_text_it_follows():
    book = policies()
    for region, versions in {**book.by_region, "default": book.default}.items():
        assert all(len(v.follows) >= 3 for v in versions), region
    assert policies().select("340200", date(2025, 1, 1)).follows.startswith("001 芜医保〔2022〕107号")


def test_two_versions_in_force_on_one_date_stop_the_load_naming_file_and_field(tmp_path):
    """A version in force to 2025-06-30 and the next from 2025-06-01: both hold on 2025-06-01..30."""
    with pytest.raises(ReferenceDataError) as error:
        load_policy(_two_versions(tmp_path, "2025-06-30", "2025-06-01"))
    assert "340200.yaml" in str(error.value) and "effective_until 2025-06-30" in str(error.value)
    assert "effective_from 2025-06-01" in str(error.value)


def test_a_version_ending_before_it_starts_is_refused(tmp_path):
    with pytest.raises(ReferenceDataError) as error:
        load_policy(_broken(tmp_path, lambda v: v.update(effective_until="2022-12-31")))
    assert "340200.yaml" in str(error.value) and "effective_until" in str(error.value)


def test_a_date_after_the_last_version_ended_is_refused_with_that_reason(tmp_path):
    """002 第三十八条 style: a text issued for a two-year trial. Wuhu's version from 2023-01-01 ending
    2024-12-31 and none after: a discharge on 2025-01-02 is refused POLICY_UNAVAILABLE naming the end;
    one on 2024-12-31 settles under it."""
    from services.settlement.domain.policy import PolicyBook
    from services.settlement.domain.refusal import Refused

    data = yaml.safe_load(WUHU.read_text(encoding="utf-8"))
    data["versions"][0]["effective_until"] = "2024-12-31"
    path = tmp_path / "340200.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    book = PolicyBook({"340200": load_policy(path)})
    assert book.select("340200", date(2024, 12, 31)).effective_until == date(2024, 12, 31)
    with pytest.raises(Refused) as refused:
        book.select("340200", date(2025, 1, 2))
    assert refused.value.code.value == "POLICY_UNAVAILABLE"
    assert "2025-01-02" in refused.value.message and "ended on 2024-12-31" in refused.value.message
