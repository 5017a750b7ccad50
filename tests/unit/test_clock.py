"""The controlled business clock: every service that reads a 'set' shows the same time,
however late it reads it (the command carries the moment it was issued)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from runtime.clock import ControlledClock, clock_command_advance, clock_command_set


def test_a_late_reader_agrees_with_an_early_one():
    target = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    command = json.loads(clock_command_set(target))
    early = ControlledClock()
    early.apply(command)
    time.sleep(0.05)
    late = ControlledClock()
    late.apply(command)
    assert abs(early.now() - late.now()) < timedelta(milliseconds=20)
    assert late.now() - target >= timedelta(milliseconds=50)  # time kept flowing since the command


def test_advance_moves_the_clock_forward():
    clock = ControlledClock()
    before = clock.now()
    clock.apply(json.loads(clock_command_advance(3600)))
    assert clock.now() - before >= timedelta(hours=1)


def test_a_set_without_issue_time_counts_from_receipt():
    clock = ControlledClock()
    clock.apply({"op": "set", "now": "2026-10-01T09:00:00+08:00"})
    assert abs(clock.now() - datetime(2026, 10, 1, 1, 0, tzinfo=UTC)) < timedelta(seconds=1)


def test_a_request_stamped_just_before_an_advance_is_judged_by_the_clock_it_was_stamped_under():
    """``yidi clock advance 3600``: a request the HIS stamped a moment before is read a moment after.
    Judged by the new clock it would be an hour off (CLOCK_SKEW); judged by the clock in force when
    it was stamped it is a moment old. A claim an hour ahead of either clock is still an hour off."""
    clock = ControlledClock()
    stamped = clock.now()
    clock.apply(json.loads(clock_command_advance(3600)))
    assert clock.skew(stamped, window=300) < 5
    assert clock.skew(clock.now(), window=300) < 5
    assert clock.skew(stamped + timedelta(hours=2), window=300) > 3500


def test_the_earlier_clock_counts_only_within_the_skew_window():
    clock = ControlledClock()
    stamped = clock.now()
    clock.apply(json.loads(clock_command_advance(3600)))
    time.sleep(0.05)
    assert clock.skew(stamped, window=0.01) > 3500  # replaced longer ago than the window: the new clock judges


def test_a_set_starts_a_new_time_base():
    """After a 'set', a sender still on the old time (a HIS on its wall clock while the platform runs
    in 2026-11) is as far off as it is: only an 'advance' keeps the clock it replaced for the window."""
    clock = ControlledClock()
    stamped = clock.now()
    clock.apply(json.loads(clock_command_set(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))))
    assert clock.skew(stamped, window=300) > 3600
