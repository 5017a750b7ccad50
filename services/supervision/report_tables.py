"""The monthly analysis report of a region as the agencies read and download it (000 第七十八条): JSON for
the console's printable page, an XLSX workbook of one sheet per part. No rules here: the figures come from
``domain.indicators`` and the outliers from ``domain.report``."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable

from runtime.tables import Column, add_sheet
from services.supervision.domain.audit import Flag
from services.supervision.domain.indicators import Cell, summarise
from services.supervision.domain.report import ReportSettings, outliers

FIGURES = (
    Column("visits", "结算人次", "count"),
    Column("total", "医疗总费用", "money"),
    Column("fund_paid", "基金支付", "money"),
    Column("cost_per_visit", "次均费用", "money"),
    Column("cost_per_stay", "例均住院费用", "money"),
    Column("reimbursement_percent", "报销比例(%)", "money"),
    Column("self_paid_percent", "全自费占比(%)", "money"),
    Column("length_of_stay", "平均住院日", "money"),
    Column("total_growth_mom", "总费用环比(%)", "money"),
    Column("total_growth_yoy", "总费用同比(%)", "money"),
)
TYPE = Column("medical_type_words", "医疗类别")
SHEETS = (
    ("treating_by_type", "就医地概况", (TYPE, *FIGURES)),
    ("treating_by_institution", "就医地机构明细", (Column("institution_code", "医疗机构"), TYPE, *FIGURES)),
    ("outliers", "异常提示", (Column("institution_code", "医疗机构"), TYPE, Column("reasons", "异常说明"))),
    ("insured_by_place", "参保地视角", (Column("treating_region", "就医地"), TYPE, *FIGURES)),
    (
        "flags_by_rule",
        "疑点统计",
        (Column("rule_id", "规则"), Column("rule_name", "规则名称"), Column("hits", "命中", "count")),
    ),
)


def build_report(
    region: str,
    month: str,
    cells: list[Cell],
    flags: list[Flag],
    settings: ReportSettings,
    words: Callable[[dict], dict],
) -> dict:
    """The parts of the report of ``region`` for ``month``; ``words`` adds the Chinese words to a row."""
    treating = [c for c in cells if c.treating_region == region]
    insured = [c for c in cells if c.insured_region == region]
    by_type = summarise(treating, month, ("medical_type",))
    groups = summarise(treating, month, ("institution_code", "medical_type"))
    flagged = [f for f in flags if f.treating_region == region and f"{f.settled_on:%Y-%m}" == month]
    counted = Counter((f.rule_id, f.rule_name) for f in flagged)
    return {
        "region": region,
        "month": month,
        "sample_settings": settings.model_dump(mode="json"),
        "treating_by_type": [words(r) for r in by_type],
        "treating_by_institution": [words(r) for r in groups],
        "outliers": [words(r) for r in outliers(groups, by_type, settings)],
        "insured_by_place": [words(r) for r in summarise(insured, month, ("treating_region", "medical_type"))],
        "flags_by_rule": [
            {"rule_id": rule, "rule_name": name, "hits": n} for (rule, name), n in sorted(counted.items())
        ],
    }


def report_xlsx(report: dict) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for part, title, columns in SHEETS:
        add_sheet(book, title, report[part], columns)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
