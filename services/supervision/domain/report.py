"""The monthly analysis report of a region 运行分析报告 (000 第七十八条, 002 第三十条, 004 第五十六条): the
month's indicators of the region as treating place and as insured place, by institution and medical type,
with the month's outliers called out, and the flags raised that month by rule. What counts as an outlier
is data (``data/report.yaml``, sample settings). Pure: the rows come from ``indicators.summarise``."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from services.supervision.domain.indicators import percent

REPORT_FILE = Path(__file__).parent.parent / "data" / "report.yaml"


class ReportSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sample: bool
    cost_per_visit_above_percent: Decimal = Field(gt=0, le=1000)
    growth_above_percent: Decimal = Field(gt=0, le=10000)


@lru_cache(maxsize=1)
def report_settings(path: Path = REPORT_FILE) -> ReportSettings:
    return ReportSettings.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _reasons(row: dict, reference: Decimal | None, s: ReportSettings) -> list[str]:
    reasons = []
    cost = row.get("cost_per_visit")
    if reference and cost is not None:
        above = percent(cost - reference, reference)
        if above is not None and above > s.cost_per_visit_above_percent:
            reasons.append(f"次均费用 {cost} 元，高于本地区同类 {reference} 元的 {above}%")
    for field, words in (("total_growth_mom", "总费用环比"), ("total_growth_yoy", "总费用同比")):
        growth = row.get(field)
        if growth is not None and growth > s.growth_above_percent:
            reasons.append(f"{words}增长 {growth}%")
    return reasons


def outliers(groups: list[dict], by_type: list[dict], s: ReportSettings) -> list[dict]:
    """The groups (institution × medical type rows) the report calls out, each with its reasons in words,
    against the region's own figure for the same medical type (``by_type`` rows)."""
    reference = {r["medical_type"]: r.get("cost_per_visit") for r in by_type}
    out = []
    for row in groups:
        reasons = _reasons(row, reference.get(row["medical_type"]), s)
        if reasons:
            out.append({**row, "reasons": "；".join(reasons)})
    return out
