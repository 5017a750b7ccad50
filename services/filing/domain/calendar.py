"""The working-day calendar the filing rules need (M-02); the runtime provides it."""
from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable


@runtime_checkable
class WorkingCalendar(Protocol):
    """Chinese statutory working days, make-up weekend days 调休 included (M-02).

    ``runtime.calendar.WorkingCalendar`` implements it; tests may pass any object with these methods."""

    def is_working_day(self, d: date) -> bool: ...

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d`` (``d`` itself not counted)."""
        ...

    def next_working_day(self, d: date) -> date:
        """``d`` if it is a working day, else the first working day after it."""
        ...

    def working_days_between(self, a: date, b: date) -> int: ...


def calendar_name(calendar: object) -> str:
    """What to record beside a deadline so it can be audited (M-02): the calendar's ``source``
    line when it has one (the runtime's does), else its ``name`` or class name."""
    for attribute in ("source", "name"):
        value = getattr(calendar, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(calendar).__name__
