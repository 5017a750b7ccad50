"""P-02..P-07 money formulas, Decimal only (M-01)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.prepayment import WarningLevel
from contracts.values import money
from services.prepayment.domain import formulas as f
from services.prepayment.domain.policy import POLICY_FILE, PolicyDataError, default_policies, load_policies

ON = date(2026, 1, 10)
amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)


def test_national_quota_is_twice_the_q4_monthly_average() -> None:
    policy = default_policies().quota("340200", ON)
    funds = {10: money("100000"), 11: money("120000"), 12: money("110000"), 1: money("999999")}
    assert f.annual_quota(funds, policy) == money("220000.00")


def test_liaoning_quota_is_four_months_of_last_years_average() -> None:
    policy = default_policies().quota("210100", ON)  # Shenyang, via province 210000
    assert policy.months == 4 and policy.basis == "year" and "第十九条" in policy.source
    funds = {m: money("30000") for m in range(1, 13)}
    assert f.annual_quota(funds, policy) == money("120000.00")


def test_quota_rounds_once_half_up() -> None:
    policy = default_policies().quota("650100", ON)
    assert f.annual_quota({10: money("0.01"), 11: money("0.01"), 12: money("0.00")}, policy) == money("0.01")


def test_adjustment_only_upwards() -> None:
    assert f.adjustment(money("300"), money("200")) == money("100")
    assert f.adjustment(money("150"), money("200")) == money("0")
    assert f.quota_in_force(money("150"), money("200")) == money("200")


@pytest.mark.parametrize(
    "used, level",
    [
        ("69.99", WarningLevel.NONE),
        ("70.00", WarningLevel.YELLOW),
        ("89.99", WarningLevel.YELLOW),
        ("90.00", WarningLevel.RED),
    ],
)
def test_warning_thresholds_are_inclusive(used: str, level: WarningLevel) -> None:
    assert f.warning_level(money(used), money("100")) is level


def test_usage_with_no_base() -> None:
    assert f.usage_percent(money("5"), money("0")) is None
    assert f.warning_level(money("5"), money("0")) is WarningLevel.RED
    assert f.warning_level(money("0"), money("0")) is WarningLevel.NONE


def test_top_up_literal_formula_and_cap() -> None:
    # 004 第二十四条: quota + top-ups − uncleared − cleared unpaid, absolute value when negative
    assert f.top_up_amount(money("1000"), money("0"), money("900"), money("300")) == money("200")
    assert f.top_up_amount(money("1000"), money("100"), money("500"), money("100")) == money("500")
    # 004 第二十六条: cap = 2 × monthly clearing − annual quota
    assert f.top_up_cap(money("800"), money("1000")) == money("600")
    assert f.top_up_cap(money("400"), money("1000")) == money("0")
    assert f.top_up_cap(None, money("1000")) is None
    assert f.capped_top_up(money("700"), money("600")) == money("600")


@given(amounts, amounts, amounts, amounts)
def test_usage_rate_matches_definition(
    quota: Decimal, top_ups: Decimal, uncleared: Decimal, cleared_unpaid: Decimal
) -> None:
    used, base = f.usage_used(uncleared, cleared_unpaid), f.usage_base(quota, top_ups)
    rate = f.usage_percent(used, base)
    if base == 0:
        assert rate is None
        return
    assert rate == (used * 100 / base).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    level = f.warning_level(used, base)
    assert (level is WarningLevel.RED) == (used / base >= Decimal("0.9"))
    assert (level is WarningLevel.NONE) == (used / base < Decimal("0.7"))


@given(amounts, amounts, amounts, amounts, st.none() | amounts)
def test_top_up_is_non_negative_exact_and_capped(quota, top_ups, uncleared, cleared_unpaid, monthly) -> None:
    amount = f.top_up_amount(quota, top_ups, uncleared, cleared_unpaid)
    assert amount >= 0 and amount == amount.quantize(Decimal("0.01"))
    assert amount in {quota + top_ups - uncleared - cleared_unpaid, -(quota + top_ups - uncleared - cleared_unpaid)}
    cap = f.top_up_cap(monthly, quota)
    capped = f.capped_top_up(amount, cap)
    assert 0 <= capped <= amount and (cap is None or capped <= cap)


@given(st.dictionaries(st.integers(1, 12), amounts, max_size=12))
def test_quota_is_to_the_fen(funds) -> None:
    for policy in (default_policies().quota("650100", ON), default_policies().quota("210200", ON)):
        quota = f.annual_quota(funds, policy)
        assert quota == quota.quantize(Decimal("0.01")) and quota >= 0


def test_bad_policy_file_refuses_to_load(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    good = POLICY_FILE.read_text(encoding="utf-8")
    path.write_text(good.replace("basis: q4", "basis: q3", 1), encoding="utf-8")
    with pytest.raises(PolicyDataError, match=r"region_policy|p\.yaml") as refused:
        load_policies(path)
    assert "quota.basis" in str(refused.value)  # the field is named
    path.write_text(good.replace('"430000":', '"999999":'), encoding="utf-8")
    with pytest.raises(PolicyDataError, match="province"):
        load_policies(path)
