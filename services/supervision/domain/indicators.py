"""Run indicators 运行监测指标 of cross-region costs (000 第七十八条, 001 第三十七条, 002 第三十条,
004 第五十六条): per settlement month, insured and treating region, institution and medical type.

A :class:`Cell` adds up the completed settlements of one such combination (visits, stays, bed days,
total cost, fund paid, fully self-paid cost); :func:`figures` derives what the agencies read: cost per
visit and per stay, the reimbursement ratio, the share of fully self-paid cost, the average length of
stay, and the growth of visits and cost against the previous month and the same month a year before.
Money is rounded to the fen and percentages to 0.01 %, half up (M-01, as ``contracts.values.round_fen``).
Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field

from contracts.values import MedicalType, round_fen

ZERO = Decimal("0.00")
HUNDREDTH = Decimal("0.01")
DIMENSIONS = ("insured_region", "treating_region", "institution_code", "medical_type")


class SettledVisit(BaseModel):
    """What a completed settlement adds to the indicators (no person in it)."""

    model_config = ConfigDict(frozen=True)
    settlement_id: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="the settlement month, YYYY-MM")
    insured_region: str
    treating_region: str
    institution_code: str
    medical_type: MedicalType
    total: Decimal
    fund_paid: Decimal
    self_paid: Decimal = Field(description="全自费 cost of the slip")
    bed_days: int | None = Field(default=None, ge=0, description="length of the stay; none for a visit")

    @property
    def cell_key(self) -> str:
        return cell_key(self.month, self.insured_region, self.treating_region, self.institution_code, self.medical_type)


def cell_key(month: str, insured: str, treating: str, institution: str, medical_type: MedicalType | str) -> str:
    return f"{month}|{insured}|{treating}|{institution}|{MedicalType(medical_type).value}"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def length_of_stay(admission: date, discharge: date) -> int:
    """住院天数: discharge day less admission day, a same-day stay counting one day (the usual
    count of the inpatient front page; sample convention, no source text fixes it)."""
    return max(1, (discharge - admission).days)


class Totals(BaseModel):
    """Sums over settlements: what every figure is derived from."""

    visits: int = 0
    stays: int = 0
    bed_days: int = 0
    total: Decimal = ZERO
    fund_paid: Decimal = ZERO
    self_paid: Decimal = ZERO
    stay_total: Decimal = Field(default=ZERO, description="total cost of the stays alone")

    def plus(self, other: Totals) -> Totals:
        return Totals(
            visits=self.visits + other.visits,
            stays=self.stays + other.stays,
            bed_days=self.bed_days + other.bed_days,
            total=self.total + other.total,
            fund_paid=self.fund_paid + other.fund_paid,
            self_paid=self.self_paid + other.self_paid,
            stay_total=self.stay_total + other.stay_total,
        )


class Cell(Totals):
    """One month × insured region × treating region × institution × medical type."""

    month: str
    insured_region: str
    treating_region: str
    institution_code: str
    medical_type: MedicalType

    @property
    def key(self) -> str:
        return cell_key(self.month, self.insured_region, self.treating_region, self.institution_code, self.medical_type)


def record(cell: Cell | None, visit: SettledVisit) -> Cell:
    """The cell with one more completed settlement (the caller counts each settlement once)."""
    base = cell or Cell(
        month=visit.month,
        insured_region=visit.insured_region,
        treating_region=visit.treating_region,
        institution_code=visit.institution_code,
        medical_type=visit.medical_type,
    )
    stay = visit.bed_days is not None
    added = Totals(
        visits=1,
        stays=1 if stay else 0,
        bed_days=visit.bed_days or 0,
        total=visit.total,
        fund_paid=visit.fund_paid,
        self_paid=visit.self_paid,
        stay_total=visit.total if stay else ZERO,
    )
    return base.model_copy(update=base.plus(added).model_dump())


class Reversal(BaseModel):
    """What a cancel or a refund (S-15, ``settlement.reversed.v1``) takes out of the cell its settlement was
    counted in: the signed amounts of its compensation, and the visit itself when nothing of the slip is
    left (a cancel, or a refund without a replacement slip)."""

    model_config = ConfigDict(frozen=True)
    reversal_id: str
    settlement_id: str
    total: Decimal = Field(description="signed: negative when taken back")
    fund_paid: Decimal
    self_paid: Decimal
    whole: bool = Field(description="the whole settlement is gone: its visit, stay and bed days too")


class Reversals(BaseModel):
    """Where the reversals of one settlement go (S-15). The completed settlement and its reversals come on
    two topics, not ordered between them, so this one record per settlement decides who takes a reversal
    out: one that came before the settlement was counted (``early``) goes out with it, in the same step; one
    after (``late``) goes out on its own from ``cell``. Each ``reversal_id`` once. No person in it."""

    cell: str | None = Field(default=None, description="the cell the settlement was counted in, once it is")
    bed_days: int | None = None
    early: list[Reversal] = Field(default_factory=list)
    late: list[str] = Field(default_factory=list)

    def seen(self, reversal_id: str) -> bool:
        return reversal_id in self.late or any(r.reversal_id == reversal_id for r in self.early)

    def counted(self, cell: str, bed_days: int | None) -> Reversals | None:
        """The settlement counted in ``cell``; none if it was already."""
        return None if self.cell is not None else self.model_copy(update={"cell": cell, "bed_days": bed_days})

    def plus(self, r: Reversal) -> Reversals | None:
        """With one more reversal, early or late; none if it came before."""
        if self.seen(r.reversal_id):
            return None
        if self.cell is None:
            return self.model_copy(update={"early": [*self.early, r]})
        return self.model_copy(update={"late": [*self.late, r.reversal_id]})


def reverse(cell: Cell, r: Reversal, bed_days: int | None) -> Cell:
    """The cell less one reversal of a settlement counted in it (the caller applies each reversal once);
    ``bed_days`` is what the settlement added (none for a visit)."""
    stay = bed_days is not None
    taken = Totals(
        visits=-1 if r.whole else 0,
        stays=-1 if r.whole and stay else 0,
        bed_days=-(bed_days or 0) if r.whole else 0,
        total=r.total,
        fund_paid=r.fund_paid,
        self_paid=r.self_paid,
        stay_total=r.total if stay else ZERO,
    )
    return cell.model_copy(update=cell.plus(taken).model_dump())


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` as a percentage of ``whole``, to 0.01 %, half up; none of a zero whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def growth(now: Decimal | int, before: Decimal | int | None) -> Decimal | None:
    """同比/环比: (now − before) / before, in %, to 0.01 %; none where there was nothing before."""
    if not before:
        return None
    return percent(Decimal(now) - Decimal(before), Decimal(before))


def per(amount: Decimal, count: int) -> Decimal | None:
    return round_fen(amount / count) if count else None


def figures(now: Totals, previous: Totals | None, last_year: Totals | None) -> dict[str, Decimal | int | None]:
    """The indicators of one group from its sums, the previous month's and the same month last year's."""
    previous, last_year = previous or Totals(), last_year or Totals()
    return {
        "visits": now.visits,
        "stays": now.stays,
        "bed_days": now.bed_days,
        "total": now.total,
        "fund_paid": now.fund_paid,
        "self_paid": now.self_paid,
        "cost_per_visit": per(now.total, now.visits),
        "cost_per_stay": per(now.stay_total, now.stays),
        "reimbursement_percent": percent(now.fund_paid, now.total),
        "self_paid_percent": percent(now.self_paid, now.total),
        "length_of_stay": (Decimal(now.bed_days) / now.stays).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)
        if now.stays
        else None,
        "visits_growth_mom": growth(now.visits, previous.visits),
        "visits_growth_yoy": growth(now.visits, last_year.visits),
        "total_growth_mom": growth(now.total, previous.total),
        "total_growth_yoy": growth(now.total, last_year.total),
        "cost_per_visit_growth_mom": growth(per(now.total, now.visits) or 0, per(previous.total, previous.visits)),
        "cost_per_visit_growth_yoy": growth(per(now.total, now.visits) or 0, per(last_year.total, last_year.visits)),
    }


def previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year - 1:04d}-12" if mon == 1 else f"{year:04d}-{mon - 1:02d}"


def same_month_last_year(month: str) -> str:
    return f"{int(month[:4]) - 1:04d}-{month[5:]}"


def _group(cell: Cell, by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(getattr(cell, d).value if d == "medical_type" else getattr(cell, d)) for d in by)


def _sums(cells: Iterable[Cell], month: str, by: tuple[str, ...]) -> dict[tuple[str, ...], Totals]:
    out: dict[tuple[str, ...], Totals] = {}
    for cell in cells:
        if cell.month == month:
            group = _group(cell, by)
            out[group] = out.get(group, Totals()).plus(cell)
    return out


def summarise(cells: list[Cell], month: str, by: tuple[str, ...]) -> list[dict]:
    """The indicators of ``month`` grouped by the dimensions ``by`` (any of :data:`DIMENSIONS`; none: one
    row for everything given), each row with its growth against the same groups of the previous month and
    of the same month last year. Rows sorted by their dimensions."""
    unknown = set(by) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown dimension {sorted(unknown)[0]}: one of {', '.join(DIMENSIONS)}")
    now = _sums(cells, month, by)
    previous = _sums(cells, previous_month(month), by)
    last_year = _sums(cells, same_month_last_year(month), by)
    return [
        {
            "month": month,
            **dict(zip(by, group, strict=True)),
            **figures(now[group], previous.get(group), last_year.get(group)),
        }
        for group in sorted(now)
    ]
