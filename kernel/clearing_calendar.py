"""The clearing calendar 清算日历 (C-02, R-03, R-04, C-07, C-08): one home for the days of a clearing month.

Shared kernel 共享内核: the clearing service dates its periods, declarations, audit months, confirmations and
the steps after a notice by it; the settlement service's recall cut-off (S-15) reads the same generation day.
Nothing here is a number in code: the national calendar and each region's variant are data files
(``kernel/data/clearing_calendars/*.yaml``), each naming its source text, the article of every value and the
dates it is in force. A region's file applies to the regions it lists (a city, or a province for all its
cities) on the dates it is in force; elsewhere and at other dates the national one applies.

Reading the files is strict: a file that does not validate, or two files in force for one region on one
date, stops whoever loads them with the file and the field named (``ClearingCalendarError``). A date the
national calendar does not cover is refused with that reason (``NoCalendarInForce``), never dated on a guess.
"""

from __future__ import annotations

import calendar as _stdcal
from datetime import date, datetime, time
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.values import SHANGHAI, at_business_start

DATA = Path(__file__).parent / "data" / "clearing_calendars"
NATIONAL = "national"
END_OF_DAY = time(23, 59, 59, 999999)


def end_of_business_day(d: date) -> datetime:
    """23:59:59.999999 Asia/Shanghai of ``d`` (as ``runtime.calendar``'s: a deadline on ``d`` is met until then)."""
    return datetime.combine(d, END_OF_DAY, tzinfo=SHANGHAI)


class ClearingCalendarError(ValueError):
    """A calendar file that does not validate, or two calendars in force for one region on one date."""


class NoCalendarInForce(LookupError):
    """No calendar covers the date asked about: the period is not dated on a guess."""


class Auditor(StrEnum):
    """Who audits intra-province costs (R-04): the treating place by default, the insured place where the
    region says so (Wuhu, 001 第三十条). Cross-province costs are always the treating place's."""

    TREATING = "treating"
    INSURED = "insured"


class Day(BaseModel):
    """A day of the month, with the words of the source that set it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: int = Field(ge=1, le=28)
    source: str = Field(min_length=1)
    sample: bool = False


class WorkingDays(BaseModel):
    """A number of working days (M-02), with the words of the source that set it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: int = Field(ge=1, le=60)
    source: str = Field(min_length=1)
    sample: bool = False


class AuditorChoice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    value: Auditor
    source: str = Field(min_length=1)


class InForce(BaseModel):
    """The dates a text is in force, both included; ``until`` absent: not repealed."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    since: date = Field(alias="from")
    until: date | None = None
    source: str = Field(min_length=1, description="where the text says so (its date of issue, its term)")

    @model_validator(mode="after")
    def _ordered(self) -> InForce:
        if self.until is not None and self.until < self.since:
            raise ValueError(f"until {self.until} is before from {self.since}")
        return self

    def covers(self, day: date) -> bool:
        return self.since <= day and (self.until is None or day <= self.until)


class RegionCalendar(BaseModel):
    """One text's clearing calendar. The national file gives every field; a region's file gives what its
    text changes, and the rest is the national value."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    label: str = Field(min_length=1, description="'national', or the region code of the file")
    name: str = Field(min_length=1)
    text: str = Field(min_length=1, description="the source text this calendar follows")
    in_force: InForce
    regions: tuple[str, ...] = Field((), description="the regions it applies to; a province code: all its cities")
    declaration_day: Day | None = Field(None, description="R-03: institutions declare last month by this day")
    audit_confirmation_day: Day | None = Field(None, description="R-04: audit results confirmed by this day enter")
    generation_day: Day | None = Field(None, description="C-02: the period's clearing data is generated on this day")
    confirmation_day: Day | None = Field(None, description="C-02: each side confirms by the end of this day")
    payable_confirmation_day: Day | None = Field(
        None, description="C-02: the insured side confirms its cross-province payable by the end of this day"
    )
    receivables_fixed_day: Day | None = Field(
        None, description="C-02: receivable applications of last month are fixed at 00:00 of this day"
    )
    institutions_paid_working_days: WorkingDays | None = Field(
        None, description="C-07: the treating city pays its institutions within this many working days of the notice"
    )
    remittance_working_days: WorkingDays | None = Field(
        None, description="C-08: the city completes its upward remittance within this many working days of the notice"
    )
    intra_province_auditor: AuditorChoice | None = Field(None, description="R-04: who audits intra-province costs")

    def applies_to(self, region: str) -> bool:
        return any(r == region or (r.endswith("0000") and r[:2] == region[:2]) for r in self.regions)


def _parse_month(label: str) -> tuple[int, int]:
    year, month = map(int, label.split("-"))
    return year, month


def _next_month(label: str) -> str:
    year, month = _parse_month(label)
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


class ClearingCalendars:
    """Every calendar file, validated; answers "which day, for this region, at this date"."""

    def __init__(self, national: RegionCalendar, regional: tuple[RegionCalendar, ...]) -> None:
        self.national, self.regional = national, regional

    # ------------------------------------------------------------ which text
    def in_force(self, region: str | None, on: date) -> RegionCalendar:
        """The region's calendar in force on ``on``, else the national one (``NoCalendarInForce`` if that
        one does not cover the date either)."""
        if region is not None:
            for cal in self.regional:
                if cal.applies_to(region) and cal.in_force.covers(on):
                    return cal
        if not self.national.in_force.covers(on):
            raise NoCalendarInForce(
                f"C-02: no clearing calendar is in force on {on} (the national one, {self.national.text}, "
                f"from {self.national.in_force.since})"
            )
        return self.national

    def value(self, field: str, region: str | None, on: date) -> int:
        """One field for ``region`` on ``on``: the region's text if it sets it, else the national one."""
        own = getattr(self.in_force(region, on), field)
        chosen = own if own is not None else getattr(self.national, field)
        return int(chosen.value)

    def auditor(self, region: str, on: date) -> Auditor:
        """R-04: who audits the intra-province costs of ``region``'s insured."""
        own = self.in_force(region, on).intra_province_auditor
        choice = own if own is not None else self.national.intra_province_auditor
        assert choice is not None  # the national file gives every field (checked at load)
        return choice.value

    # ------------------------------------------------------------ the days of a clearing month
    @staticmethod
    def first_day(label: str) -> date:
        """The date a clearing month is judged by: its first day."""
        return date(*_parse_month(label), 1)

    def generation_at(self, label: str) -> datetime:
        """C-02: 00:00 of the generation day of clearing month ``label`` (national: the 21st, 000 第六十二条).
        Clearing between agencies is done from then on (the S-15 recall cut-off reads it too)."""
        day = self.value("generation_day", None, self.first_day(label))
        return at_business_start(date(*_parse_month(label), day))

    def confirm_by(self, label: str, region: str | None = None, *, payable_cross_province: bool = False) -> datetime:
        """C-02: the end of the day by which ``region``'s side confirms (the 25th; a Liaoning city its
        cross-province payable by the 24th, 004 第四十六条)."""
        field = "payable_confirmation_day" if payable_cross_province else "confirmation_day"
        day = self.value(field, region, self.first_day(label))
        return end_of_business_day(date(*_parse_month(label), day))

    def notice_at(self, label: str) -> datetime:
        """C-02: the notices go out on the last day of the clearing month (000 第六十三条 "每月底")."""
        year, month = _parse_month(label)
        return at_business_start(date(year, month, _stdcal.monthrange(year, month)[1]))

    def intake_closes_at(self, label: str, treating_region: str) -> datetime:
        """C-02: until when an entry of the treating region may join clearing month ``label``: its generation,
        or, where receivable applications are fixed earlier (Liaoning: 00:00 on the 1st, 004 第四十四条), then."""
        on = self.first_day(label)
        own = self.in_force(treating_region, on).receivables_fixed_day
        if own is None:
            return self.generation_at(label)
        return min(self.generation_at(label), at_business_start(date(*_parse_month(label), own.value)))

    def declaration_due(self, settled_month: str, treating_region: str | None) -> datetime:
        """R-03: the end of the declaration day of the month after ``settled_month`` (the 16th; Wuhu the 5th,
        001 第三十二条; Liaoning the 20th, 004 第四十一条)."""
        due_month = _next_month(settled_month)
        day = self.value("declaration_day", treating_region, self.first_day(due_month))
        return end_of_business_day(date(*_parse_month(due_month), day))

    def audit_confirmation_day(self, treating_region: str, on: date) -> int:
        """R-04: audit results confirmed by this day of the month enter that month's clearing."""
        return self.value("audit_confirmation_day", treating_region, on)

    def institutions_paid_working_days(self, treating_region: str, label: str) -> int:
        """C-07: 20 working days after the notice; Wuhu 5 after the clearing report (001 第三十二条)."""
        return self.value("institutions_paid_working_days", treating_region, self.first_day(label))

    def remittance_working_days(self, region: str, label: str) -> int | None:
        """C-08: where a region's text fixes the upward remittance from the notice (Hunan: 15 working days,
        002 第二十三条), that number; else None (the C-03 chain decides)."""
        own = self.in_force(region, self.first_day(label)).remittance_working_days
        return own.value if own is not None else None


FIELDS = (
    "declaration_day",
    "audit_confirmation_day",
    "generation_day",
    "confirmation_day",
    "payable_confirmation_day",
    "institutions_paid_working_days",
    "intra_province_auditor",
)


def _load_file(path: Path) -> RegionCalendar:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RegionCalendar.model_validate(raw)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors())
        raise ClearingCalendarError(f"{path}: {fields}") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ClearingCalendarError(f"{path}: {exc}") from exc


def _check_national(cal: RegionCalendar, path: Path) -> None:
    missing = [f for f in FIELDS if getattr(cal, f) is None]
    if missing or cal.regions:
        raise ClearingCalendarError(
            f"{path}: the national calendar gives every field and names no region (missing: {', '.join(missing)})"
        )


def _check_overlaps(files: list[tuple[Path, RegionCalendar]]) -> None:
    """Two texts in force for one region on one date: which one applies would be a guess."""
    for i, (path_a, a) in enumerate(files):
        for path_b, b in files[i + 1 :]:
            shared = [r for r in a.regions if b.applies_to(r)] + [r for r in b.regions if a.applies_to(r)]
            a_end, b_end = a.in_force.until or date.max, b.in_force.until or date.max
            if shared and a.in_force.since <= b_end and b.in_force.since <= a_end:
                raise ClearingCalendarError(
                    f"{path_a} and {path_b}: in_force overlaps for {', '.join(sorted(set(shared)))}"
                )


def load(directory: Path = DATA) -> ClearingCalendars:
    """Every ``*.yaml`` of ``directory``: ``national.yaml`` and the regions' files."""
    paths = sorted(directory.glob("*.yaml"))
    files = [(p, _load_file(p)) for p in paths]
    national = [(p, c) for p, c in files if p.stem == NATIONAL]
    if not national:
        raise ClearingCalendarError(f"{directory}: no {NATIONAL}.yaml")
    _check_national(national[0][1], national[0][0])
    regional = [(p, c) for p, c in files if p.stem != NATIONAL]
    for path, cal in regional:
        if not cal.regions:
            raise ClearingCalendarError(f"{path}: regions: a region's calendar names the regions it applies to")
    _check_overlaps(regional)
    return ClearingCalendars(national[0][1], tuple(c for _, c in regional))


@lru_cache(maxsize=1)
def calendars() -> ClearingCalendars:
    """The calendars shipped with the platform, read once (a service calls this at start, so a bad file
    stops it there)."""
    return load()


def generation_at(label: str) -> datetime:
    """C-02: 00:00 of clearing month ``label``'s generation day: from then on its settlements are cleared
    between agencies (S-15's recall cut-off)."""
    return calendars().generation_at(label)


__all__ = [
    "Auditor",
    "ClearingCalendarError",
    "ClearingCalendars",
    "NoCalendarInForce",
    "RegionCalendar",
    "calendars",
    "generation_at",
    "load",
]
