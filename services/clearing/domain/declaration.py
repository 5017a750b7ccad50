"""Monthly declaration (R-03, 000 第五十六条): 定点医药机构每月16日前申报上月已对账的结算费用; 住院、普通门诊、
门诊慢特病一并申报; 申报最多延迟2个月.

Our reading: settlements of month S are due by the end of the 16th of S+1 (receipt time); accepted late up
to the end of the 16th of S+3 (two months late), refused beyond, with the reason. The day is the treating
region's (``kernel.clearing_calendar``): Wuhu's institutions declare by the 5th (001 第三十二条), Liaoning's
reconcile and confirm by the 20th (004 第四十一条). A hospital (H code)
declares inpatient, general and chronic outpatient together — each exactly once, a zero line when it had
none; a pharmacy (P code) declares its purchases. A second declaration of the same month is a new record
that replaces the first (M-03: the count of versions is kept). Each line is set beside the platform's own
count of what clearing archived for the institution that month; a difference is shown (``matched``
false) and resolved through daily reconciliation (R-02). Declarations do not gate clearing yet: the ledgers
take every settlement the platform completed, where 000 第五十七、六十二条 and 004 第四十四条 have clearing take
declared, reconciled costs only (R-03, C-02 as corrected 2026-12); that gate is still to be built.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from contracts.clearing import DeclarationRecorded, DeclaredLine, MonthlyDeclaration
from contracts.values import MedicalType
from kernel.clearing_calendar import calendars
from runtime.calendar import at_business_start
from services.outcome import Decision

from .period import next_month, parse_month

MAX_LATE_MONTHS = 2
HOSPITAL_TYPES = frozenset({MedicalType.INPATIENT, MedicalType.GENERAL_OUTPATIENT, MedicalType.CHRONIC_OUTPATIENT})
PHARMACY_TYPES = frozenset({MedicalType.PHARMACY})


class DeclarationRefused(ValueError):
    """R-03: a declaration not accepted (too early, too late, not declared together)."""


class Declaration(BaseModel):
    """The ``declarations`` aggregate, keyed ``institution:month``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    institution_code: str
    treating_region: str
    month: str
    lines: list[DeclaredLine]
    versions: int = 0


def due_dates(month: str, treating_region: str | None = None) -> tuple[datetime, datetime]:
    """R-03: (due by, latest accepted): the end of the declaration day of the next month (the 16th; the
    treating region's own day where its text sets one), and the same day two months later."""
    late_month = month
    for _ in range(MAX_LATE_MONTHS):
        late_month = next_month(late_month)
    days = calendars()
    return days.declaration_due(month, treating_region), days.declaration_due(late_month, treating_region)


def key(institution: str, month: str) -> str:
    return f"{institution}:{month}"


def declare(
    state: Declaration | None, cmd: MonthlyDeclaration, platform: list[DeclaredLine], now: datetime
) -> Decision[Declaration]:
    due_by, latest_by = due_dates(cmd.month, str(cmd.treating_region))
    if now < at_business_start(date(*parse_month(next_month(cmd.month)), 1)):
        raise DeclarationRefused(f"R-03: {cmd.month} is not over yet")
    if now > latest_by:
        raise DeclarationRefused(
            f"R-03: the declaration of {cmd.month} was due by {due_by.isoformat()} and may be "
            f"at most two months late (until {latest_by.isoformat()}); received "
            f"{now.isoformat()}"
        )
    required = PHARMACY_TYPES if cmd.institution_code.startswith("P") else HOSPITAL_TYPES
    given = [line.medical_type for line in cmd.lines]
    if sorted(given) != sorted(required):
        raise DeclarationRefused(
            f"R-03: declare {sorted(t.value for t in required)} together, each once (got {[t.value for t in given]})"
        )
    if state is not None and state.treating_region != cmd.treating_region:
        raise DeclarationRefused(f"R-03: {cmd.institution_code} declares in {state.treating_region}")
    lines = sorted(cmd.lines, key=lambda line: line.medical_type.value)
    counted = {line.medical_type: line for line in platform}
    platform_lines = [
        counted.get(t, DeclaredLine(medical_type=t, settlements=0, fund_total=Decimal("0.00")))
        for t in sorted(required, key=lambda t: t.value)
    ]
    versions = (state.versions if state else 0) + 1
    new = Declaration(
        institution_code=cmd.institution_code,
        treating_region=cmd.treating_region,
        month=cmd.month,
        lines=lines,
        versions=versions,
    )
    event = DeclarationRecorded(
        institution_code=cmd.institution_code,
        treating_region=cmd.treating_region,
        month=cmd.month,
        late=now > due_by,
        due_by=due_by,
        latest_by=latest_by,
        lines=lines,
        platform=platform_lines,
        matched=lines == platform_lines,
        version=versions,
        recorded_at=now,
    )
    return Decision(new, [event], [])


def platform_lines(archived: list[dict]) -> list[DeclaredLine]:
    """The platform's count per medical type from archived settlement lines (``medical_type`` beside them)."""
    sums: dict[str, tuple[int, Decimal]] = {}
    for line in archived:
        n, total = sums.get(line.get("medical_type", ""), (0, Decimal("0.00")))
        sums[line.get("medical_type", "")] = (
            n + 1,
            total + sum((Decimal(v) for v in line["amounts"]["funds"].values()), Decimal("0.00")),
        )
    return [DeclaredLine(medical_type=t, settlements=n, fund_total=total) for t, (n, total) in sums.items() if t]


__all__ = ["Declaration", "DeclarationRefused", "declare", "due_dates", "key", "platform_lines"]
