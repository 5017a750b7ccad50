"""The clearing calendars 清算日历 as data: the national days (C-02, R-03, R-04, C-07) and each region's variant
(Wuhu, Liaoning, Hunan: C-08), one YAML file each in ``contracts/data/clearing_calendars/``, every value with the
words of its article and every file with its text and the dates it is in force. They are the dates every
party is held to (a hospital's declaration day, an agency's confirmation day), published with the contracts;
the rules that read them are ``kernel.clearing_calendar``'s.

Reading the files is strict: a file that does not validate, or two files in force for one region on one
date, stops whoever loads them with the file and the field named (``ClearingCalendarError``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DATA = Path(__file__).parent / "data" / "clearing_calendars"
NATIONAL = "national"


class ClearingCalendarError(ValueError):
    """A calendar file that does not validate, or two calendars in force for one region on one date."""


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


def load(directory: Path = DATA) -> tuple[RegionCalendar, tuple[RegionCalendar, ...]]:
    """Every ``*.yaml`` of ``directory``: ``national.yaml`` and the regions' files, validated."""
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
    return national[0][1], tuple(c for _, c in regional)


@lru_cache(maxsize=1)
def shipped() -> tuple[RegionCalendar, tuple[RegionCalendar, ...]]:
    """The calendars shipped with the platform, read once (a service reads them at start, so a bad file stops
    it there)."""
    return load()


__all__ = [
    "Auditor",
    "ClearingCalendarError",
    "DATA",
    "RegionCalendar",
    "load",
    "shipped",
]
