"""Region policy files: every shipped file loads, values carry sources, national bounds hold."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.filing.domain import PolicyBoundError, load_policies
from services.filing.domain.policy import POLICY_DIR, RegionPolicy


def test_every_shipped_policy_loads_with_sources() -> None:
    book = load_policies()
    assert {"420100", "340200", "210100", "430100", "110000"} <= set(book.regions)
    assert book.default.label == "national_default"
    for policy in (book.default, *book.regions.values()):
        for name in RegionPolicy.model_fields:
            value = getattr(policy, name)
            if hasattr(value, "source"):
                assert value.source.strip()


def test_F07_F10_wuhu_numbers_come_from_001() -> None:
    wuhu = load_policies().for_region("340200")
    assert wuhu.temporary_validity_months.value == 12 and "001" in wuhu.temporary_validity_months.source
    assert wuhu.commitment_months.value == 1 and not wuhu.commitment_months.default


def test_F07_shenyang_referral_is_one_year_from_004() -> None:
    assert load_policies().for_region("210100").referral_validity_months.value == 12


def test_unknown_region_falls_back_to_the_national_default() -> None:
    assert load_policies().for_region("650100").region == "default"


def _write(tmp_path: Path, region: str, **fields) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    (directory / "default.yaml").write_text((POLICY_DIR / "default.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    body = {"region": region, "name": "测试市", "label": "region"}
    body.update({k: {"value": v, "source": "test"} for k, v in fields.items()})
    (directory / f"{region}.yaml").write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    "field, value, bound",
    [
        ("temporary_validity_months", 3, "≥ 6"),
        ("referral_validity_months", 5, "≥ 6"),
        ("change_lock_months", 7, "0..6"),
        ("retroactive_months", 12, "0..6"),
        ("online_decision_working_days", 5, "≤ 2"),
        ("commitment_months", 0, "1..12"),
        ("commitment_replaces", ["credential"], "never replaces credential"),
        ("resident_long_term_categories", ["referral"], "long-term"),
    ],
)
def test_policy_breaking_a_national_bound_refuses_to_load(tmp_path: Path, field: str, value, bound: str) -> None:
    with pytest.raises(PolicyBoundError) as error:
        load_policies(_write(tmp_path, "320100", **{field: value}))
    text = str(error.value)
    assert "320100" in text and field in text and repr(value) in text and bound in text


def test_policy_file_must_be_named_after_its_region(tmp_path: Path) -> None:
    directory = _write(tmp_path, "320100")
    (directory / "320100.yaml").rename(directory / "320200.yaml")
    with pytest.raises(PolicyBoundError, match="declares region 320100"):
        load_policies(directory)


def test_policy_with_a_bad_region_code_refuses_to_load(tmp_path: Path) -> None:
    with pytest.raises(PolicyBoundError, match="990100"):
        load_policies(_write(tmp_path, "990100"))
