"""The prepayment region texts (P-02, P-04, P-10, P-11, P-12): each names its source and dates in force;
a region's value is its own text's, its province's, then the national default's, on the date asked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.prepayment import PrepaymentScope, WarningLevel
from services.prepayment.domain import formulas as f
from services.prepayment.domain.policy import (
    POLICY_FILE,
    PolicyDataError,
    PolicyNotInForce,
    default_policies,
    load_policies,
)

CROSS, INTRA = PrepaymentScope.CROSS_PROVINCE, PrepaymentScope.INTRA_PROVINCE
P = default_policies()
amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)


def test_hunan_sizes_its_cross_province_prepayment_at_two_months_of_actual_costs_while_002_is_in_force() -> None:
    """P-11 (002 第二十四条; in force 2021-05-14 for two years, 第三十八条)."""
    quota = P.quota("430100", date(2023, 1, 10), CROSS)
    assert (quota.basis, quota.months, quota.measure) == ("year", 2, "total_cost") and "第二十四条" in quota.source
    assert P.quota("430100", date(2023, 1, 10), INTRA).measure == "fund"  # 002 sizes the cross-province one only
    assert P.quota("430100", date(2023, 5, 14), CROSS).basis == "q4"  # 002 expired: the national default
    assert P.quota("430100", date(2023, 5, 13), CROSS).measure == "total_cost"  # its last day


def test_hubei_measures_usage_by_the_months_clearing_and_shares_no_interest_from_2023() -> None:
    """P-04 (000 第二十八条), P-10 (000 第三十三条); 000 is in force from 2023-01-01 (第九十一条)."""
    assert P.usage("420100", date(2023, 1, 1)).formula == "monthly_clearing"
    assert P.interest("420900", date(2026, 9, 1)).sharing == "none"
    assert P.usage("420100", date(2022, 12, 31)).formula == "payables"  # before 000: the default
    liaoning = P.interest("210200", date(2026, 9, 1))
    assert (liaoning.sharing, liaoning.publish_within_working_days) == ("daily_products", 5)
    assert (
        P.yellow_top_up("210100", date(2026, 9, 1)).proactive
        and not P.yellow_top_up("340200", date(2026, 9, 1)).proactive
    )


def test_values_no_source_gives_are_marked_sample() -> None:
    assert P.usage("340200", date(2026, 1, 1)).sample and P.interest("340200", date(2026, 1, 1)).sample
    assert not P.usage("210100", date(2026, 1, 1)).sample and not P.deposit("430100", date(2022, 6, 1)).sample


def test_a_date_no_text_covers_is_refused_with_the_reason() -> None:
    with pytest.raises(PolicyNotInForce, match=r"usage for 340200 on 2021-01-04"):
        P.usage("340200", date(2021, 1, 4))  # before 003 (2022-06-30) and no Anhui text


def test_two_texts_in_force_on_one_date_refuse_the_file(tmp_path) -> None:
    text = POLICY_FILE.read_text(encoding="utf-8")
    hunan = text[text.index('  "430000":') :]
    twice = hunan.replace('  "430000":   # Hunan, every city\n', "").replace("2021-05-14", "2022-01-01")
    path = tmp_path / "twice.yaml"
    path.write_text(text + twice, encoding="utf-8")
    with pytest.raises(PolicyDataError, match=r"430000: two texts in force on one date.*in_force"):
        load_policies(path)


def test_the_default_must_give_every_aspect(tmp_path) -> None:
    text = POLICY_FILE.read_text(encoding="utf-8")
    start = text.index('  deposit:\n    required: false\n    source: "003')
    end = text.index("  yellow_top_up:", start)
    path = tmp_path / "no-deposit.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(PolicyDataError, match=r"missing \['deposit'\]"):
        load_policies(path)


@given(amounts, amounts, amounts, st.one_of(st.none(), st.decimals(-(10**8), 10**9, places=2)))
def test_both_usage_formulas_are_to_the_fen_and_agree_on_the_level_lines(quota, top_ups, payables, monthly) -> None:
    """P-04/P-05: either numerator against quota + top-ups; a reverse clearing's negative amount uses nothing."""
    used = f.monthly_clearing_used(monthly)
    assert used >= 0 and used == used.quantize(Decimal("0.01"))
    base = f.usage_base(quota, top_ups)
    for numerator in (used, payables):
        level = f.warning_level(numerator, base)
        if base > 0 and numerator * 100 < 70 * base:
            assert level is WarningLevel.NONE
        percent = f.usage_percent(numerator, base)
        assert percent is None or percent == percent.quantize(Decimal("0.01"))


def test_no_region_value_is_a_literal_in_the_prepayment_services_code() -> None:
    """Region policy is data: no region code (a string constant of 6 digits, docstrings aside) in the
    service's code, and every region the file names is a text with its source and dates in force."""
    import ast
    import re
    from pathlib import Path

    root = Path(POLICY_FILE).parent.parent
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found += [
            f"{path.name}:{node.lineno} {node.value}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and re.search(r"(?<!\d)\d{6}(?!\d)", node.value)
        ]
    assert found == []
    for code, texts in P.regions.items():
        assert texts and all(t.source and t.in_force.start for t in texts), code
