"""The fee-line rules of the rule base (R-04; 000 第五十七条, 004 第五十七条) on a stay's fee detail (S-18):
SV-04 the same item billed twice on one day, SV-05 a day's quantity above its limit, SV-06 an item for a
sex or an age the person is not; each with a hit and a near miss. Sex and age come from the ID number."""

from __future__ import annotations

from datetime import date

import pytest
from supervision_support import PERSON, fee_detail

from contracts.values import make_person_id
from services.supervision.domain.fee_lines import Person, audit_lines, person_of
from services.supervision.domain.inputs import audited_fee_detail
from services.supervision.domain.rules import parse_rules, rule_base

DAY, NEXT = date(2026, 10, 5), date(2026, 10, 6)
WOMAN_1949 = person_of(PERSON)  # 11010519491231002X: born 1949-12-31, digit 17 even
BED, ROUND, DRIP, CAPTOPRIL = "120100001", "110200002", "311201001", "XC09AAC001A001"
PRENATAL, PROSTATE, NEWBORN, CHILD_MASSAGE = "311300001", "311400001", "311500001", "311600001"


def hits(lines: list[tuple[str, str, date | None]], person: Person = WOMAN_1949) -> dict[str, dict[str, str]]:
    detail = audited_fee_detail(fee_detail("S-1", lines), "p0123")
    return {h.rule_id: h.evidence for h in audit_lines(detail, person, rule_base())}


def test_sex_and_birth_date_come_from_the_id_number_and_never_show() -> None:
    assert (WOMAN_1949.sex, WOMAN_1949.birth_date) == ("female", date(1949, 12, 31))
    man = person_of(make_person_id("11010519800101001"))
    assert (man.sex, man.birth_date) == ("male", date(1980, 1, 1))
    assert WOMAN_1949.age_on(date(2026, 12, 30)) == 76 and WOMAN_1949.age_on(date(2026, 12, 31)) == 77
    assert "1949" not in repr(WOMAN_1949) and "female" not in repr(WOMAN_1949)


# ------------------------------------------------------------------ SV-04 the same item twice on one day
def test_SV04_two_bed_days_billed_on_one_day_is_a_hit_with_the_lines() -> None:
    evidence = hits([(BED, "1", DAY), (ROUND, "1", DAY), (BED, "1", DAY), (BED, "1", NEXT)])["SV-04"]
    assert evidence == {
        "项目编码": BED,
        "项目名称": "普通病房床位费（三人间）",
        "日期": "2026-10-05",
        "当日数量": "2",
        "明细行号": "1、3",
        "其他重复": "无",
    }


def test_SV04_a_quantity_of_two_on_one_line_is_billed_twice_too() -> None:
    assert hits([(ROUND, "2", DAY)])["SV-04"]["明细行号"] == "1"


def test_SV04_near_miss_one_a_day_an_undated_line_and_an_item_not_billed_by_the_day() -> None:
    assert "SV-04" not in hits(
        [(BED, "1", DAY), (BED, "1", NEXT), (BED, "1", None), (DRIP, "1", DAY), (DRIP, "1", DAY)]
    )


# ------------------------------------------------------------------ SV-05 a day's quantity over its limit
def test_SV05_seven_drips_on_one_day_over_lines_is_a_hit() -> None:
    evidence = hits([(DRIP, "4", DAY), (DRIP, "3", DAY), (CAPTOPRIL, "12", DAY)])["SV-05"]
    assert (evidence["当日数量"], evidence["每日限量"], evidence["明细行号"]) == ("7组", "6组", "1、2")
    assert (evidence["项目编码"], evidence["日期"], evidence["其他超量"]) == (DRIP, "2026-10-05", "无")


def test_SV05_near_miss_the_limit_itself_and_the_same_amount_over_two_days() -> None:
    assert "SV-05" not in hits([(DRIP, "6", DAY), (CAPTOPRIL, "12", DAY), (CAPTOPRIL, "12", NEXT)])


# ------------------------------------------------------------------ SV-06 sex or age
def test_SV06_a_prostate_item_for_a_woman_is_a_hit_that_names_the_rule_not_the_person() -> None:
    evidence = hits([(BED, "1", DAY), (PROSTATE, "1", DAY)])["SV-06"]
    assert evidence["项目编码"] == PROSTATE and evidence["明细行号"] == "2"
    assert evidence["判定"] == "限男性使用，与参保人身份证号所示性别不符"


def test_SV06_a_child_item_for_a_76_year_old_is_a_hit() -> None:
    evidence = hits([(CHILD_MASSAGE, "1", DAY)])["SV-06"]
    assert evidence["判定"] == "限14周岁及以下使用，参保人年龄（按身份证号出生日期）不在此范围"
    assert "76" not in str(evidence)


def test_SV06_near_miss_a_prenatal_check_for_a_woman_and_a_child_item_on_the_eve_of_15() -> None:
    boy = person_of(make_person_id("11010520111006001"))  # 15 on 2026-10-06
    assert "SV-06" not in hits([(PRENATAL, "1", DAY)])
    assert "SV-06" not in hits([(CHILD_MASSAGE, "1", DAY)], boy)
    assert "SV-06" in hits([(CHILD_MASSAGE, "1", NEXT)], boy)


def test_SV06_a_newborn_item_counts_the_age_on_the_line_date_or_else_the_settlement_date() -> None:
    baby = person_of(make_person_id("11010520251012001"))  # one year old on 2026-10-12, the settlement day
    assert "SV-06" not in hits([(NEWBORN, "1", date(2026, 10, 11))], baby)
    assert "SV-06" in hits([(NEWBORN, "1", None)], baby)


@pytest.mark.parametrize(
    "params, words",
    [
        ("{items: {'1': {name: x}}}", "restrict it"),
        ("{items: {'1': {name: x, min_age: 9, max_age: 3}}}", "min_age is above max_age"),
        ("{limits: {'1': {name: x, per_day: 0, unit: 片}}}", "per_day"),
        ("{items: {}}", "items"),
    ],
)
def test_a_bad_fee_line_rule_is_refused_with_what_is_wrong(params: str, words: str) -> None:
    kind = "daily_limit" if "limits" in params else "sex_age_restricted"
    with pytest.raises(ValueError, match=words):
        parse_rules(f"rules: [{{id: SV-09, name: x, kind: {kind}, params: {params}, sample: true}}]")
