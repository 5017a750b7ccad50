"""R-01/R-02: the simulated hospitals' daily totals (simulator.traffic.DayTotals) are what the platform matches:
built from the same completed settlements, they match the treating place's record cell by cell."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.values import money
from runtime.calendar import default_calendar
from services.clearing.domain.reconciliation import Settled, check
from simulator.traffic import DayTotals

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
fen = st.decimals(min_value=0, max_value=10**5, places=2)
results = st.lists(
    st.tuples(st.sampled_from(["inpatient", "general_outpatient", "chronic_outpatient"]), fen, fen),
    min_size=1,
    max_size=12,
)


@settings(max_examples=50, deadline=None)
@given(results)
def test_the_simulated_his_reports_exactly_what_it_settled(rows) -> None:
    totals, settled = DayTotals(), []
    for i, (medical_type, pooling, account) in enumerate(rows):
        funds = [{"code": "pooling", "amount": str(pooling)}, {"code": "personal_account", "amount": str(account)}]
        totals.add(
            {
                "institution_code": "H42010200001",
                "treating_region": "420100",
                "settled_on": "2026-11-02",
                "medical_type": medical_type,
                "slip": {"funds": funds},
            }
        )
        settled.append(
            Settled(
                settlement_id=f"S{i}",
                insured_region="340200",
                medical_type=medical_type,
                funds={f["code"]: money(f["amount"]) for f in funds if money(f["amount"]) > 0},
            )
        )
    [his] = totals.reconciliations(NOW)
    assert (his.day, his.settlements) == (date(2026, 11, 2), len(rows))
    state, (event,), _ = check(None, his, settled, default_calendar(), NOW)
    assert event.status == "matched" and event.lines == []
