"""M-02: the statutory working calendar, checked against the State Council's 2026 notice
(国务院办公厅关于2026年部分节假日安排的通知, 2025-11-04): Spring Festival Feb 15–23 off with
Feb 14 (Sat) and Feb 28 (Sat) working; National Day Oct 1–7 off with Sep 20 (Sun) and
Oct 10 (Sat) working."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.calendar import (
    SHANGHAI,
    CalendarDataError,
    WorkingCalendar,
    at_business_start,
    business_date,
    default_calendar,
    end_of_business_day,
)

CAL = default_calendar()


@pytest.mark.parametrize("day", [date(2026, 10, d) for d in range(1, 8)])
def test_national_day_2026_is_off(day: date) -> None:
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize("day", [date(2026, 9, 20), date(2026, 10, 10)])
def test_national_day_2026_make_up_days_are_working(day: date) -> None:
    assert day.weekday() >= 5  # a weekend day made a working day (调休)
    assert CAL.is_working_day(day)


def test_october_8_2026_is_the_first_working_day_after_the_holiday() -> None:
    assert CAL.next_working_day(date(2026, 10, 1)) == date(2026, 10, 8)


def test_two_working_days_after_wednesday_30_september_2026() -> None:
    assert CAL.add_working_days(date(2026, 9, 30), 2) == date(2026, 10, 9)


def test_a_deadline_crossing_the_make_up_saturday() -> None:
    # Oct 8 Thu (1), Oct 9 Fri (2), Oct 10 Sat make-up (3), Oct 12 Mon (4)
    assert CAL.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert CAL.add_working_days(date(2026, 9, 30), 4) == date(2026, 10, 12)


@pytest.mark.parametrize("day", [date(2026, 2, d) for d in range(15, 24)])
def test_spring_festival_2026_is_off(day: date) -> None:
    assert not CAL.is_working_day(day)


def test_spring_festival_2026_make_up_days_and_return() -> None:
    assert CAL.is_working_day(date(2026, 2, 14))
    assert CAL.is_working_day(date(2026, 2, 28))
    assert CAL.next_working_day(date(2026, 2, 15)) == date(2026, 2, 24)


def test_plain_weekend_and_weekday() -> None:
    assert not CAL.is_working_day(date(2026, 11, 28))  # Saturday
    assert CAL.is_working_day(date(2026, 11, 26))  # Thursday


def test_add_zero_working_days_is_next_working_day() -> None:
    assert CAL.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 8)
    assert CAL.add_working_days(date(2026, 10, 9), 0) == date(2026, 10, 9)


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        CAL.add_working_days(date(2026, 10, 9), -1)


def test_working_days_between_is_half_open() -> None:
    assert CAL.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert CAL.working_days_between(date(2026, 10, 10), date(2026, 10, 10)) == 0
    assert CAL.working_days_between(date(2026, 10, 12), date(2026, 10, 1)) == 0


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)), st.integers(0, 40))
def test_add_and_count_agree(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert CAL.is_working_day(end)
    if n:
        assert CAL.working_days_between(start, end) == n
        assert CAL.working_days_between(start, end - timedelta(days=1)) == n - 1


def test_source_names_library_version_and_overrides() -> None:
    assert f"holidays {holidays.__version__}" in CAL.source
    info = CAL.describe()
    assert info["library"] == "holidays" and info["official_through"] >= 2026
    assert "sha256:" in info["overrides"]
    assert CAL.is_confirmed_year(2026)


def test_business_date_is_shanghai_date() -> None:
    assert business_date(datetime(2026, 9, 30, 17, 0, tzinfo=UTC)) == date(2026, 10, 1)
    assert business_date(datetime(2026, 9, 30, 15, 59, tzinfo=UTC)) == date(2026, 9, 30)
    with pytest.raises(ValueError, match="no timezone"):
        business_date(datetime(2026, 9, 30, 12, 0))


def test_business_day_bounds() -> None:
    start = at_business_start(date(2026, 10, 9))
    end = end_of_business_day(date(2026, 10, 9))
    assert start.tzinfo is SHANGHAI and start.hour == 0
    assert end - start == timedelta(days=1, microseconds=-1)
    assert end.astimezone(UTC) == datetime(2026, 10, 9, 15, 59, 59, 999999, tzinfo=UTC)


def test_deadline_ends_at_end_of_nth_working_day() -> None:
    notice = datetime(2026, 9, 30, 3, 0, tzinfo=UTC)
    assert CAL.deadline(notice, 2) == end_of_business_day(date(2026, 10, 9))


# ---------------------------------------------------------------- override file
GOOD = """
years:
  2027:
    source: "test notice 2027"
    extra_holidays:
      - {date: 2027-10-06, note: "国庆节 放假调休"}
    extra_working_days:
      - {date: 2027-09-26, note: "国庆节调休上班（周日）"}
"""


def test_override_file_adds_a_holiday_and_a_working_day(tmp_path) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text(GOOD, encoding="utf-8")
    cal = WorkingCalendar.from_file(path)
    assert CAL.is_working_day(date(2027, 10, 6)) and not cal.is_working_day(date(2027, 10, 6))
    assert not CAL.is_working_day(date(2027, 9, 26)) and cal.is_working_day(date(2027, 9, 26))
    assert cal.is_confirmed_year(2027) and not CAL.is_confirmed_year(2027)
    assert "2027" in cal.source and cal.describe()["override_years"] == {"2027": "test notice 2027"}


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "years:\n  2027:\n    source: x\n    extra_holidays:\n      - {date: 2028-01-03, note: n}\n",
            "listed under year 2027",
        ),
        ("years:\n  2027:\n    source: x\n    extra_holidays:\n      - {date: 2027-01-04, note: ''}\n", "note"),
        ("years:\n  2027:\n    extra_holidays: []\n", "source"),
        (
            "years:\n  2027:\n    source: x\n    extra_holidays:\n      - {date: 2027-01-04, note: a}\n"
            "    extra_working_days:\n      - {date: 2027-01-04, note: b}\n",
            "both an extra holiday and an extra working day",
        ),
        ("years:\n  2027:\n    source: x\n    holidays: []\n", "holidays"),
        ("years: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_override_file_refuses_to_load(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarDataError, match="calendar override file") as info:
        WorkingCalendar.from_file(path)
    assert message in str(info.value)


def test_missing_override_file_refuses_to_load(tmp_path) -> None:
    with pytest.raises(CalendarDataError, match="cannot be read"):
        WorkingCalendar.from_file(tmp_path / "absent.yaml")
