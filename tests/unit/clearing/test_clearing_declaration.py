"""R-03 monthly declaration (000 第五十六条): last month's settlements by the 16th, inpatient, general and
chronic outpatient together, at most two months late, refused beyond with the reason; a new declaration
replaces the last (M-03); each line beside the platform's count."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts.clearing import DeclaredLine, MonthlyDeclaration
from contracts.values import MedicalType as T
from contracts.values import money
from runtime.calendar import end_of_business_day
from services.clearing.domain.declaration import DeclarationRefused, declare, due_dates, platform_lines

H, P = "H42010200001", "P42010200003"
DUE = end_of_business_day(date(2026, 9, 16))
LATEST = end_of_business_day(date(2026, 11, 16))


def lines(inpatient=("1", "1200.00"), general=("0", "0.00"), chronic=("0", "0.00")) -> list[DeclaredLine]:
    return [
        DeclaredLine(medical_type=t, settlements=int(n), fund_total=money(a))
        for t, (n, a) in ((T.INPATIENT, inpatient), (T.GENERAL_OUTPATIENT, general), (T.CHRONIC_OUTPATIENT, chronic))
    ]


def cmd(items=None, code=H) -> MonthlyDeclaration:
    return MonthlyDeclaration(
        institution_code=code,
        treating_region="420100",
        month="2026-08",
        lines=items if items is not None else lines(),
        declared_at=DUE,
    )


def archived(medical_type: str, *amounts: str) -> dict:
    return {"medical_type": medical_type, "amounts": {"funds": {f"f{i}": a for i, a in enumerate(amounts)}}}


def test_due_by_the_16th_and_at_most_two_months_late() -> None:
    assert due_dates("2026-08") == (DUE, LATEST)
    assert due_dates("2026-11")[1] == end_of_business_day(date(2027, 2, 16))  # across the year end
    platform = platform_lines([archived("inpatient", "1000.00", "200.00")])
    state, (event,), _ = declare(None, cmd(), platform, DUE)
    assert (event.late, event.matched, event.version) == (False, True, 1)
    _, (event,), _ = declare(state, cmd(), platform, DUE + timedelta(seconds=1))
    assert (event.late, event.version) == (True, 2)  # a new record replaces it
    declare(None, cmd(), platform, LATEST)  # the last moment: accepted
    with pytest.raises(DeclarationRefused, match="at most two months late"):
        declare(None, cmd(), platform, LATEST + timedelta(seconds=1))
    with pytest.raises(DeclarationRefused, match="2026-08 is not over yet"):
        declare(None, cmd(), platform, end_of_business_day(date(2026, 8, 31)) - timedelta(hours=1))


def test_the_three_medical_types_are_declared_together() -> None:
    with pytest.raises(DeclarationRefused, match="together"):
        declare(None, cmd(lines()[:2]), [], DUE)
    with pytest.raises(DeclarationRefused, match="together"):
        declare(None, cmd([*lines()[:2], lines()[0]]), [], DUE)  # inpatient twice
    pharmacy = [DeclaredLine(medical_type=T.PHARMACY, settlements=0, fund_total=money("0"))]
    assert declare(None, cmd(pharmacy, code=P), [], DUE).events[0].matched  # a pharmacy: its purchases


def test_each_line_beside_the_platforms_count_to_the_fen() -> None:
    platform = platform_lines([archived("inpatient", "1000.00", "200.00"), archived("general_outpatient", "35.50")])
    _, (event,), _ = declare(None, cmd(lines(general=("1", "35.49"))), platform, DUE)
    assert not event.matched
    by = {line.medical_type: (line.settlements, line.fund_total) for line in event.platform}
    assert by == {
        T.INPATIENT: (1, money("1200.00")),
        T.GENERAL_OUTPATIENT: (1, money("35.50")),
        T.CHRONIC_OUTPATIENT: (0, money("0.00")),
    }
