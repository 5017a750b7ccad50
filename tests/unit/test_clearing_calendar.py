"""The shared clearing calendar (C-02, R-03, R-04, C-07, C-08): the national days and each region's, read
from data files that name their texts and the dates they are in force (``contracts/data/clearing_calendars``)."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from contracts.clearing_calendars import DATA, Auditor, ClearingCalendarError, load
from contracts.values import SHANGHAI
from kernel.clearing_calendar import NoCalendarInForce, calendars

WUHU, HEFEI, SHENYANG, DALIAN, CHANGSHA = "340200", "340100", "210100", "210200", "430100"


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def end_of(day: date) -> datetime:
    return sh(day.year, day.month, day.day, 23, 59, 59, 999999)


def test_the_national_days_000_articles_56_57_62_69():
    days = calendars()
    assert days.generation_at("2026-09") == sh(2026, 9, 21)  # 000 第六十二条
    assert days.confirm_by("2026-09") == end_of(date(2026, 9, 25))
    assert days.notice_at("2026-02") == sh(2026, 2, 28)  # 每月底
    assert days.declaration_due("2026-08", HEFEI) == end_of(date(2026, 9, 16))  # 000 第五十六条
    assert days.audit_confirmation_day(HEFEI, date(2026, 9, 1)) == 16  # 000 第五十七条
    assert days.institutions_paid_working_days(HEFEI, "2026-09") == 20  # 000 第六十九条
    assert days.auditor(HEFEI, date(2026, 9, 1)) is Auditor.TREATING  # 000 第五十八条


def test_wuhu_001_articles_30_32():
    days = calendars()
    assert days.declaration_due("2026-08", WUHU) == end_of(date(2026, 9, 5))  # 每月 5 日前…申报
    assert days.audit_confirmation_day(WUHU, date(2026, 9, 1)) == 20  # 每月 20 日前…完成结算费用审核
    assert days.institutions_paid_working_days(WUHU, "2026-09") == 5  # 清算报表生成后的5个工作日内
    assert days.auditor(WUHU, date(2026, 9, 1)) is Auditor.INSURED  # 第三十条
    # 001 is in force from 2023-01-01: a period before it follows the national days
    assert days.declaration_due("2022-10", WUHU) == end_of(date(2022, 11, 16))


def test_liaoning_004_articles_41_44_46_for_every_city_of_the_province():
    days = calendars()
    for city in (SHENYANG, DALIAN):
        assert days.confirm_by("2026-09", city, payable_cross_province=True) == end_of(date(2026, 9, 24))
        assert days.confirm_by("2026-09", city) == end_of(date(2026, 9, 25))  # intra-province and receivable
        assert days.intake_closes_at("2026-09", city) == sh(2026, 9, 1)  # 每月 1 日前固化
        assert days.declaration_due("2026-08", city) == end_of(date(2026, 9, 20))
    assert days.intake_closes_at("2026-09", HEFEI) == sh(2026, 9, 21)  # elsewhere: until generation


def test_hunan_002_article_23_only_in_the_two_years_002_article_38_gives_it():
    """002 第三十八条: 本办法2021年5月14日试行，有效期二年 — in force 2021-05-14..2023-05-13."""
    days = calendars()
    assert days.remittance_working_days(CHANGSHA, "2023-05") == 15
    assert days.remittance_working_days(CHANGSHA, "2023-06") is None  # 2023-06-01 is after the two years
    assert days.remittance_working_days(HEFEI, "2023-05") is None


def test_a_date_no_calendar_covers_is_refused_with_the_reason():
    with pytest.raises(NoCalendarInForce, match="no clearing calendar is in force on 2021-01-01"):
        calendars().generation_at("2021-01")


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "calendars"
    shutil.copytree(DATA, target)
    return target


def test_a_file_that_does_not_validate_stops_the_load_naming_the_file_and_the_field(tmp_path):
    folder = _copy(tmp_path)
    wuhu = folder / "340200.yaml"
    wuhu.write_text(wuhu.read_text(encoding="utf-8").replace("value: 5\n", "value: 35\n"), encoding="utf-8")
    with pytest.raises(ClearingCalendarError, match=r"340200\.yaml: declaration_day\.value"):
        load(folder)


def test_two_texts_in_force_for_one_region_on_one_date_stop_the_load(tmp_path):
    folder = _copy(tmp_path)
    (folder / "340200-2024.yaml").write_text(
        (folder / "340200.yaml").read_text(encoding="utf-8").replace("from: 2023-01-01", "from: 2024-01-01"),
        encoding="utf-8",
    )
    with pytest.raises(ClearingCalendarError, match=r"in_force overlaps for 340200"):
        load(folder)


def test_the_national_file_gives_every_field(tmp_path):
    folder = _copy(tmp_path)
    national = folder / "national.yaml"
    text = national.read_text(encoding="utf-8")
    national.write_text(text[: text.index("generation_day:")], encoding="utf-8")
    with pytest.raises(ClearingCalendarError, match="missing: generation_day"):
        load(folder)
