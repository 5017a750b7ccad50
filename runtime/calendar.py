"""The working-day calendar every deadline is computed on (M-02).

"Working day" 工作日 is China's statutory calendar: weekends and public holidays are off, and
the State Council's yearly notice 国务院办公厅关于××年部分节假日安排的通知 moves some
weekend days to working days (调休 make-up days). The ``holidays`` package carries those
notices year by year; a validated data file (``runtime/data/calendar_overrides.yaml``) adds
what a newer notice says before the package knows it. ``WorkingCalendar.source`` names the
package version and the override file's hash so every computed deadline is auditable.

Business dates are Asia/Shanghai dates: an event at 2026-09-30T17:00Z happened on
2026-10-01 for the agencies. A deadline "within N working days" ends at the end of that day.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import holidays
import yaml
from holidays.constants import PUBLIC
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.values import SHANGHAI
from contracts.values import at_business_start as at_business_start  # the business day, one definition
from contracts.values import business_date as business_date

DEFAULT_OVERRIDES = Path(__file__).parent / "data" / "calendar_overrides.yaml"
END_OF_DAY = time(23, 59, 59, 999999)


class CalendarDataError(ValueError):
    """The override file is missing, malformed or contradicts itself; the calendar refuses to load."""


# ---------------------------------------------------------------- override file (validated data)
class DayEntry(BaseModel):
    """One date the notice changes, with the words of the notice that say so."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    date: date
    note: str = Field(min_length=1, description="what the notice says about this day, e.g. '春节调休上班（周六）'")


class YearOverride(BaseModel):
    """What one year's State Council notice says, where the package does not know it yet."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    source: str = Field(min_length=1, description="the notice: title, number, date and address")
    extra_holidays: tuple[DayEntry, ...] = ()
    extra_working_days: tuple[DayEntry, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> YearOverride:
        off = [e.date for e in self.extra_holidays]
        on = [e.date for e in self.extra_working_days]
        for label, days in (("extra_holidays", off), ("extra_working_days", on)):
            if len(days) != len(set(days)):
                raise ValueError(f"{label} lists a date twice")
        both = sorted(set(off) & set(on))
        if both:
            raise ValueError(f"{', '.join(map(str, both))} is both an extra holiday and an extra working day")
        return self


class CalendarOverrides(BaseModel):
    """The whole override file: ``years: {2027: {source, extra_holidays, extra_working_days}}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    years: dict[int, YearOverride] = Field(default_factory=dict)

    @field_validator("years")
    @classmethod
    def _dates_in_their_year(cls, years: dict[int, YearOverride]) -> dict[int, YearOverride]:
        for year, entry in years.items():
            if not 1950 <= year <= 2200:
                raise ValueError(f"year {year} is out of range 1950..2200")
            for day in (*entry.extra_holidays, *entry.extra_working_days):
                if day.date.year != year:
                    raise ValueError(f"{day.date} is listed under year {year}")
        return years


def load_overrides(path: Path | str) -> tuple[CalendarOverrides, str]:
    """Read and validate an override file; returns it with the sha256 of its bytes (M-02 audit)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CalendarDataError(f"calendar override file {path} cannot be read: {exc}") from None
    try:
        data: Any = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise CalendarDataError(f"calendar override file {path} is not valid YAML: {exc}") from None
    try:
        overrides = CalendarOverrides.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CalendarDataError(f"calendar override file {path} is invalid: {problems}") from None
    return overrides, hashlib.sha256(raw).hexdigest()


# ---------------------------------------------------------------- the calendar
def _official_through() -> int:
    """Last year for which the package carries the State Council notice (its 调休 table)."""
    from holidays.countries.china import ChinaStaticHolidays  # the package's own table of notices

    return max(ChinaStaticHolidays.special_public_holidays)


class WorkingCalendar:
    """China's statutory working days (M-02): package ``holidays`` plus validated overrides."""

    def __init__(self, overrides: CalendarOverrides | None = None, overrides_origin: str = "none") -> None:
        self._overrides = overrides or CalendarOverrides()
        self._origin = overrides_origin
        # Only the PUBLIC category: the half-day holidays (Women's Day…) apply to some staff only
        # and do not close an agency.
        self._lib = holidays.China(categories=(PUBLIC,))
        self._official_through = _official_through()
        self._extra_off = {e.date for y in self._overrides.years.values() for e in y.extra_holidays}
        self._extra_on = {e.date for y in self._overrides.years.values() for e in y.extra_working_days}

    @classmethod
    def from_file(cls, path: Path | str = DEFAULT_OVERRIDES) -> WorkingCalendar:
        overrides, digest = load_overrides(path)
        return cls(overrides, f"{Path(path).name} sha256:{digest[:16]}")

    # -------------------------------------------------------- audit (M-02)
    @property
    def source(self) -> str:
        """One line naming the calendar used; record it beside every computed deadline."""
        years = ",".join(map(str, sorted(self._overrides.years))) or "-"
        return (
            f"holidays {holidays.__version__} CN public (notices through {self._official_through}); "
            f"overrides {self._origin} years {years}"
        )

    def describe(self) -> dict[str, Any]:
        """The calendar's provenance as a JSON-able dict."""
        return {
            "library": "holidays",
            "library_version": holidays.__version__,
            "country": "CN",
            "categories": [PUBLIC],
            "official_through": self._official_through,
            "overrides": self._origin,
            "override_years": {str(y): o.source for y, o in sorted(self._overrides.years.items())},
        }

    def is_confirmed_year(self, year: int) -> bool:
        """True when a State Council notice for ``year`` is known (package or override); otherwise
        the package only estimates the statutory days without the make-up working days."""
        return year <= self._official_through or year in self._overrides.years

    # -------------------------------------------------------- working days
    def is_working_day(self, d: date) -> bool:
        if d in self._extra_on:
            return True
        if d in self._extra_off:
            return False
        # A year's notice may name a make-up day in the previous December (e.g. 2001-12-29 for
        # 2002's New Year); the package records it only once the following year is loaded.
        self._lib.get(date(d.year + 1, 1, 1))
        return self._lib.is_working_day(d)

    def next_working_day(self, d: date) -> date:
        """``d`` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d`` (``d`` not counted). ``n = 0`` gives
        ``next_working_day(d)``: a period of zero days that starts on a holiday ends on the next
        working day, as the package's ``get_nth_working_day`` also does."""
        if n < 0:
            raise ValueError(f"working days to add must be ≥ 0, got {n}")
        if n == 0:
            return self.next_working_day(d)
        for _ in range(n):
            d += timedelta(days=1)
            while not self.is_working_day(d):
                d += timedelta(days=1)
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: ``a`` not counted, ``b`` counted; 0 when ``b <= a``."""
        return sum(self.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))

    def deadline(self, start: datetime, n: int) -> datetime:
        """End of the n-th working day after the business date of ``start`` ("within N working
        days of the notice": the notice's own day is not counted)."""
        return end_of_business_day(self.add_working_days(business_date(start), n))


# ---------------------------------------------------------------- business dates
def end_of_business_day(d: date) -> datetime:
    """23:59:59.999999 Asia/Shanghai of ``d``: a deadline on ``d`` is met by anything up to then."""
    return datetime.combine(d, END_OF_DAY, tzinfo=SHANGHAI)


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    """The process-wide calendar from the packaged override file (loaded once)."""
    return WorkingCalendar.from_file(DEFAULT_OVERRIDES)
