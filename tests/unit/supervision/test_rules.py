"""The smart-audit rule base (R-04; 000 第五十七条): the data file is valid and each rule has its source
or says it is a sample; every rule with a hit and a near miss."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.supervision.domain.audit import (
    AuditedSettlement,
    Context,
    Peers,
    PersonHistory,
    audit,
)
from services.supervision.domain.rules import parse_rules, rule_base

D = Decimal
DAY = date(2026, 10, 12)


def settled(sid: str = "S-1", *, total: str = "200.00", on: date = DAY, stay: bool = False, **kw) -> AuditedSettlement:
    return AuditedSettlement(
        settlement_id=sid,
        person_ref="p0123",
        institution_code=kw.get("institution", "H42010200001"),
        insured_region="340200",
        treating_region="420100",
        medical_type="inpatient" if stay else "general_outpatient",
        settled_on=on,
        total=D(total),
        fund_paid=D(total) * D("0.7"),
        admission_date=on - timedelta(days=5) if stay else None,
        discharge_date=on if stay else None,
    )


def history(*visits: AuditedSettlement) -> PersonHistory:
    h = PersonHistory()
    for v in visits:
        h = h.plus(v)
    return h


def hit_ids(s: AuditedSettlement, ctx: Context | None = None) -> list[str]:
    return [h.rule_id for h in audit(s, ctx or Context(), rule_base())]


def test_the_rule_base_file_is_valid_and_every_rule_is_sourced_or_a_sample() -> None:
    rules = rule_base().rules
    assert [r.id for r in rules] == ["SV-01", "SV-02", "SV-03", "SV-04", "SV-05", "SV-06"]
    assert all(r.source or r.sample for r in rules)


@pytest.mark.parametrize(
    "text, words",
    [
        ("rules: [{id: SV-09, name: x, kind: below_threshold, params: {threshold: '1', band_percent: 5}}]", "sample"),
        ("rules: [{id: SV-09, name: x, kind: guess, params: {}, sample: true}]", "kind"),
        (
            "rules: [{id: SV-09, name: x, kind: below_threshold, params: {threshold: '1'}, sample: true}]",
            "band_percent",
        ),
        (
            "rules: [{id: X, name: x, kind: below_threshold, params: {threshold: '1', band_percent: 5}, sample: true}]",
            "id",
        ),
        ("rules: [", "audit rule base"),
    ],
)
def test_a_bad_rule_base_is_refused_with_what_is_wrong(text, words) -> None:
    with pytest.raises(ValueError, match=words):
        parse_rules(text)


# ------------------------------------------------------------------ SV-01 repeated visits
def test_SV01_a_third_visit_at_the_same_hospital_within_three_days_is_a_hit() -> None:
    before = history(settled("S-a", on=DAY - timedelta(days=2)), settled("S-b", on=DAY - timedelta(days=1)))
    [hit] = audit(settled("S-c"), Context(history=before), rule_base())
    assert hit.rule_id == "SV-01"
    assert hit.evidence["就诊次数"] == "3"
    assert hit.evidence["就诊日期"] == "2026-10-10、2026-10-11、2026-10-12"
    assert hit.evidence["同窗结算"] == "S-a、S-b"


def test_SV01_near_miss_the_first_visit_fell_out_of_the_window_or_was_elsewhere() -> None:
    out_of_window = history(settled("S-a", on=DAY - timedelta(days=3)), settled("S-b", on=DAY - timedelta(days=1)))
    assert hit_ids(settled("S-c"), Context(history=out_of_window)) == []
    elsewhere = history(settled("S-a", on=DAY, institution="H42010200009"), settled("S-b", on=DAY))
    assert hit_ids(settled("S-c"), Context(history=elsewhere)) == []


# ------------------------------------------------------------------ SV-02 stay cost outlier
def peers(*totals: str) -> Peers:
    return Peers(ids=[f"P-{i}" for i in range(len(totals))], totals=[D(t) for t in totals])


TYPICAL = ("9000.00", "9500.00", "10000.00", "10000.00", "10500.00", "11000.00", "9800.00", "10200.00")


def test_SV02_a_stay_far_above_both_the_hospital_and_the_region_is_a_hit_with_the_statistics() -> None:
    """Median 10 000.00; deviations 1000, 500, 0, 0, 500, 1000, 200, 200 → MAD 350.00; 5 × 350 + 10 000 =
    11 750 and 2 × 10 000 = 20 000: 48 000 is above both."""
    ctx = Context(institution_peers=peers(*TYPICAL), region_peers=peers(*TYPICAL))
    [hit] = audit(settled(total="48000.00", stay=True), ctx, rule_base())
    assert hit.rule_id == "SV-02"
    assert (hit.evidence["机构历史中位数"], hit.evidence["机构历史绝对中位差"]) == ("10000.00", "350.00")
    assert hit.evidence["机构历史例数"] == "8"


def test_SV02_near_misses_under_twice_the_median_only_the_hospital_or_too_few_peers() -> None:
    ctx = Context(institution_peers=peers(*TYPICAL), region_peers=peers(*TYPICAL))
    assert hit_ids(settled(total="19999.99", stay=True), ctx) == []  # above median + 5 MAD, not 2 × median
    region_dear = Context(institution_peers=peers(*TYPICAL), region_peers=peers(*(["40000.00"] * 8)))
    assert hit_ids(settled(total="48000.00", stay=True), region_dear) == []
    few = Context(institution_peers=peers(*TYPICAL[:7]), region_peers=peers(*TYPICAL))
    assert hit_ids(settled(total="48000.00", stay=True), few) == []


# ------------------------------------------------------------------ SV-03 just below the Q-01 threshold
def test_SV03_a_stay_of_29_999_99_hugs_the_co_investigation_threshold() -> None:
    [hit] = audit(settled(total="29999.99", stay=True), Context(), rule_base())
    assert hit.rule_id == "SV-03"
    assert hit.evidence["距起点"] == "0.01"
    assert hit.evidence["贴近区间"] == "28500.00 至 30000.00（不含）"


@pytest.mark.parametrize("total", ["28499.99", "30000.00"])
def test_SV03_near_misses_just_below_the_band_and_at_the_threshold(total) -> None:
    assert hit_ids(settled(total=total, stay=True)) == []


def test_SV03_the_lower_edge_of_the_band_is_in_it_and_an_outpatient_bill_is_not_a_stay() -> None:
    assert hit_ids(settled(total="28500.00", stay=True)) == ["SV-03"]
    assert hit_ids(settled(total="29999.99")) == []


def test_a_history_keeps_a_month_and_each_settlement_once() -> None:
    old = settled("S-old", on=DAY - timedelta(days=31))
    h = history(old, settled("S-new")).plus(settled("S-new"))
    assert [v.settlement_id for v in h.visits] == ["S-new"]
