"""The clearing calendar 清算日历 (C-02, R-03, R-04, C-07, C-08): one home for the days of a clearing month.

Shared kernel 共享内核: the clearing service dates its periods, declarations, audit months, confirmations and
the steps after a notice by it; the settlement service's recall cut-off (S-15) reads the same generation day.
Nothing here is a number in code: the national calendar and each region's variant are data files
(``contracts/data/clearing_calendars/*.yaml``, read and validated by ``contracts.clearing_calendars``), each
naming its source text, the article of every value and the dates it is in force. A region's file applies to
the regions it lists (a city, or a province for all its cities) on the dates it is in force; elsewhere and at
other dates the national one applies. A date the national calendar does not cover either is refused with that
reason (``NoCalendarInForce``), never dated on a guess.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from contracts.clearing_calendars import Auditor, RegionCalendar, shipped
from contracts.values import SHANGHAI, at_business_start

END_OF_DAY = time(23, 59, 59, 999999)


def end_of_business_day(d: date) -> datetime:
    """23:59:59.999999 Asia/Shanghai of ``d`` (as ``runtime.calendar``'s: a deadline on ``d`` is met until then)."""
    return datetime.combine(d, END_OF_DAY, tzinfo=SHANGHAI)


class NoCalendarInForce(LookupError):
    """No calendar covers the date asked about: the period is not dated on a guess."""


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
        first_of_next = date(*_parse_month(_next_month(label)), 1)
        return at_business_start(first_of_next - timedelta(days=1))

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


def calendars() -> ClearingCalendars:
    """The calendars shipped with the platform (``contracts.clearing_calendars``, read once)."""
    national, regional = shipped()
    return ClearingCalendars(national, regional)


def generation_at(label: str) -> datetime:
    """C-02: 00:00 of clearing month ``label``'s generation day: from then on its settlements are cleared
    between agencies (S-15's recall cut-off)."""
    return calendars().generation_at(label)


__all__ = ["Auditor", "ClearingCalendars", "NoCalendarInForce", "RegionCalendar", "calendars", "generation_at"]
