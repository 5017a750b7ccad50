"""Run indicators of a worked month (000 第七十八条), each figure computed by hand below to the fen and to
0.01 %, half up (M-01).

October 2026, Wuhu insured people treated at one Wuhan hospital:
  outpatient  123.45 (fund 86.42, 全自费 10.00), 200.00 (140.00, 0.00), 76.56 (53.59, 5.55)
  inpatient   10 000.00 (fund 7 000.00, 全自费 500.00), 1–6 Oct, 5 days;
              25 000.50 (17 500.35, 1 000.25), 3–15 Oct, 12 days
September 2026 (outpatient): 150.00 and 150.00.  October 2025 (outpatient): 4 × 125.00.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.supervision.domain.indicators import (
    Cell,
    SettledVisit,
    figures,
    growth,
    length_of_stay,
    per,
    percent,
    record,
    summarise,
)

D = Decimal
WUHU, WUHAN, HOSPITAL = "340200", "420100", "H42010200001"


def visit(n: int, month: str, total: str, fund: str, own: str = "0.00", days: int | None = None) -> SettledVisit:
    return SettledVisit(
        settlement_id=f"S-{month}-{n}",
        month=month,
        insured_region=WUHU,
        treating_region=WUHAN,
        institution_code=HOSPITAL,
        medical_type="inpatient" if days is not None else "general_outpatient",
        total=D(total),
        fund_paid=D(fund),
        self_paid=D(own),
        bed_days=days,
    )


def cells(*visits: SettledVisit) -> list[Cell]:
    by_key: dict[str, Cell] = {}
    for v in visits:
        by_key[v.cell_key] = record(by_key.get(v.cell_key), v)
    return list(by_key.values())


OCTOBER = [
    visit(1, "2026-10", "123.45", "86.42", "10.00"),
    visit(2, "2026-10", "200.00", "140.00"),
    visit(3, "2026-10", "76.56", "53.59", "5.55"),
    visit(4, "2026-10", "10000.00", "7000.00", "500.00", days=length_of_stay(date(2026, 10, 1), date(2026, 10, 6))),
    visit(5, "2026-10", "25000.50", "17500.35", "1000.25", days=length_of_stay(date(2026, 10, 3), date(2026, 10, 15))),
]
SEPTEMBER = [visit(i, "2026-09", "150.00", "105.00") for i in (1, 2)]
LAST_OCTOBER = [visit(i, "2025-10", "125.00", "87.50") for i in (1, 2, 3, 4)]


def test_the_outpatient_cell_of_the_month_by_hand() -> None:
    """3 visits, 400.01 in all (123.45 + 200.00 + 76.56); 280.01 from the fund; 15.55 fully self-paid.
    Per visit 400.01 / 3 = 133.3366… → 133.34. Reimbursement 280.01 / 400.01 = 70.00075 % → 70.00 %.
    Self-paid share 15.55 / 400.01 = 3.88740 % → 3.89 %.
    Against September (2 visits, 300.00, 150.00 a visit): visits +50.00 %, cost (400.01 − 300) / 300 =
    +33.33667 % → +33.34 %, per visit (133.34 − 150) / 150 = −11.10667 % → −11.11 %.
    Against October 2025 (4 visits, 500.00, 125.00 a visit): visits −25.00 %, cost −19.998 % → −20.00 %,
    per visit (133.34 − 125) / 125 = +6.672 % → +6.67 %."""
    [row] = summarise(cells(*OCTOBER[:3], *SEPTEMBER, *LAST_OCTOBER), "2026-10", ("medical_type",))
    assert row["medical_type"] == "general_outpatient"
    assert (row["visits"], row["total"], row["fund_paid"], row["self_paid"]) == (
        3,
        D("400.01"),
        D("280.01"),
        D("15.55"),
    )
    assert row["cost_per_visit"] == D("133.34")
    assert row["reimbursement_percent"] == D("70.00")
    assert row["self_paid_percent"] == D("3.89")
    assert (row["stays"], row["cost_per_stay"], row["length_of_stay"]) == (0, None, None)
    assert (row["visits_growth_mom"], row["total_growth_mom"], row["cost_per_visit_growth_mom"]) == (
        D("50.00"),
        D("33.34"),
        D("-11.11"),
    )
    assert (row["visits_growth_yoy"], row["total_growth_yoy"], row["cost_per_visit_growth_yoy"]) == (
        D("-25.00"),
        D("-20.00"),
        D("6.67"),
    )


def test_the_stays_of_the_month_by_hand() -> None:
    """2 stays, 35 000.50 in all; per stay 17 500.25; 1–6 Oct is 5 days and 3–15 Oct 12: 17 / 2 = 8.50 days.
    Reimbursement 24 500.35 / 35 000.50 = 70.00 % exactly; self-paid 1 500.25 / 35 000.50 = 4.28637 %
    → 4.29 %. No stay in September or last October: no growth."""
    rows = summarise(cells(*OCTOBER, *SEPTEMBER), "2026-10", ("medical_type",))
    stays = next(r for r in rows if r["medical_type"] == "inpatient")
    assert (stays["visits"], stays["stays"], stays["bed_days"]) == (2, 2, 17)
    assert (stays["total"], stays["fund_paid"]) == (D("35000.50"), D("24500.35"))
    assert (stays["cost_per_visit"], stays["cost_per_stay"], stays["length_of_stay"]) == (
        D("17500.25"),
        D("17500.25"),
        D("8.50"),
    )
    assert (stays["reimbursement_percent"], stays["self_paid_percent"]) == (D("70.00"), D("4.29"))
    assert stays["visits_growth_mom"] is None and stays["total_growth_yoy"] is None


def test_the_whole_month_in_one_row_by_hand() -> None:
    """5 visits, 35 400.51; per visit 7 080.102 → 7 080.10; fund 24 780.36 / 35 400.51 = 70.00001 % → 70.00 %;
    self-paid 1 515.80 / 35 400.51 = 4.28186 % → 4.28 %; visits against September (2) +150.00 %."""
    [row] = summarise(cells(*OCTOBER, *SEPTEMBER), "2026-10", ())
    assert (row["visits"], row["total"], row["fund_paid"], row["self_paid"]) == (
        5,
        D("35400.51"),
        D("24780.36"),
        D("1515.80"),
    )
    assert (row["cost_per_visit"], row["reimbursement_percent"], row["self_paid_percent"]) == (
        D("7080.10"),
        D("70.00"),
        D("4.28"),
    )
    assert row["visits_growth_mom"] == D("150.00")


def test_grouping_by_institution_keeps_each_group_apart_and_names_it() -> None:
    other = visit(9, "2026-10", "50.00", "35.00").model_copy(update={"institution_code": "H42010200009"})
    rows = summarise(cells(*OCTOBER[:3], other), "2026-10", ("institution_code",))
    assert [(r["institution_code"], r["visits"], r["total"]) for r in rows] == [
        (HOSPITAL, 3, D("400.01")),
        ("H42010200009", 1, D("50.00")),
    ]


def test_rounding_is_half_up_to_the_fen_and_to_a_hundredth_of_a_percent() -> None:
    """1 / 800 = 0.125 % → 0.13 % (banker's rounding would say 0.12); 0.05 / 2 = 0.025 → 0.03."""
    assert percent(D("1.00"), D("800.00")) == D("0.13")
    assert per(D("0.05"), 2) == D("0.03")
    assert growth(D("0"), D("0")) is None and percent(D("1"), D("0")) is None


def test_january_compares_with_december_and_the_january_before() -> None:
    rows = summarise(
        cells(
            visit(1, "2027-01", "100.00", "70.00"),
            visit(1, "2026-12", "80.00", "56.00"),
            visit(1, "2026-01", "50.00", "35.00"),
        ),
        "2027-01",
        (),
    )
    assert (rows[0]["total_growth_mom"], rows[0]["total_growth_yoy"]) == (D("25.00"), D("100.00"))


def test_an_unknown_dimension_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown dimension person"):
        summarise([], "2026-10", ("person",))


def test_figures_of_nothing_are_empty_not_errors() -> None:
    out = figures(cells(visit(1, "2026-10", "0.00", "0.00"))[0], None, None)
    assert out["reimbursement_percent"] is None and out["cost_per_visit"] == D("0.00")


def test_a_same_day_stay_counts_one_day() -> None:
    assert length_of_stay(date(2026, 10, 1), date(2026, 10, 1)) == 1
