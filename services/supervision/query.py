"""The supervision query API on the service's HTTP port (000 第七十八条; R-04; 003 §5 (三)).

* ``GET /supervision/indicators?month=YYYY-MM&by=&insured_region=&treating_region=&institution=&medical_type=``:
  the run indicators of the month, grouped by the dimensions ``by`` names (comma-separated, any of
  ``insured_region``, ``treating_region``, ``institution_code``, ``medical_type``; none: one row), over the
  cells the asking agency speaks for (as insured or as treating place), with growth against the previous
  month and the same month last year. ``format=csv`` or ``xlsx`` downloads every row.
* ``GET /supervision/flags?status=&rule=&region=``: the flags an agency may see (its regions as treating
  or insured place), or an institution its own, newest first, each with its evidence and steps;
  ``format=csv`` or ``xlsx`` too.
* ``GET /supervision/report?region=&month=YYYY-MM``: the monthly analysis report 运行分析报告 of a region the
  agency speaks for: its indicators as treating place (by medical type, by institution), the month's
  outliers called out with their reasons, its insured people's costs by treating place, the flags of the
  month by rule; ``format=xlsx`` as a workbook (one sheet a part).
* ``GET /supervision/rules``: the rule base with each rule's measures over the flags the asker sees:
  hits, and how many are open, dismissed, deducted, handed over as leads, appealed and upheld.

Answers: 200, 400 a bad query, 401 unsigned or stale, 403 not an agency (or institution, for flags)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from contracts.parties import Agency, Institution
from contracts.values import MedicalType
from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, QueryRefused, SignedQuery, table_answer
from runtime.tables import Column
from services.supervision.adapters import SupervisionReads
from services.supervision.domain.audit import Flag
from services.supervision.domain.indicators import DIMENSIONS, Cell, summarise
from services.supervision.domain.report import report_settings
from services.supervision.domain.rules import RuleBase
from services.supervision.report_tables import build_report, report_xlsx

INDICATORS_PATH = "/supervision/indicators"
FLAGS_PATH = "/supervision/flags"
RULES_PATH = "/supervision/rules"
REPORT_PATH = "/supervision/report"
_TABLE = {"page": "a page (from 1)", "size": "1..500 (default 20)", "format": "json, csv or xlsx (every row)"}
SPECS: dict[str, dict[str, Any]] = {
    INDICATORS_PATH: dict(
        summary="运行监测指标：人次、总费用、基金支付、次均/例均费用、同比环比、报销比例、全自费占比、平均住院日",
        params={
            "month": "the settlement month, YYYY-MM",
            "by": "dimensions, comma-separated: " + ", ".join(DIMENSIONS),
            "insured_region": "only this insured region",
            "treating_region": "only this treating region",
            "institution": "only this institution",
            "medical_type": "only this medical type",
            **_TABLE,
        },
        required=("month",),
        formats=("json", "csv", "xlsx"),
    ),
    FLAGS_PATH: dict(
        summary="智能审核疑点及其证据、处理步骤 (R-04)",
        params={"status": "open, dismissed, deducted, lead, appealed, upheld", "rule": "a rule id", **_TABLE},
        required=(),
        formats=("json", "csv", "xlsx"),
    ),
    REPORT_PATH: dict(
        summary="地区月度运行分析报告：就医地指标、机构明细、异常提示、参保地视角、疑点统计",
        params={"region": "the region (6 digits)", "month": "YYYY-MM", "format": "json or xlsx"},
        required=("region", "month"),
        formats=("json", "xlsx"),
    ),
    RULES_PATH: dict(summary="审核规则库及各规则命中、排除、扣款、申诉、维持情况", params={}, required=()),
}

MEDICAL_TYPE_WORDS = {
    MedicalType.GENERAL_OUTPATIENT: "普通门诊",
    MedicalType.CHRONIC_OUTPATIENT: "门诊慢特病",
    MedicalType.INPATIENT: "住院",
    MedicalType.PHARMACY: "药店购药",
}
INDICATOR_COLUMNS = (
    Column("month", "月份"),
    Column("insured_region", "参保地"),
    Column("treating_region", "就医地"),
    Column("institution_code", "医疗机构"),
    Column("medical_type_words", "医疗类别"),
    Column("visits", "结算人次", "count"),
    Column("stays", "住院人次", "count"),
    Column("total", "医疗总费用", "money"),
    Column("fund_paid", "基金支付", "money"),
    Column("cost_per_visit", "次均费用", "money"),
    Column("cost_per_stay", "例均住院费用", "money"),
    Column("reimbursement_percent", "报销比例(%)", "money"),
    Column("self_paid_percent", "全自费占比(%)", "money"),
    Column("length_of_stay", "平均住院日", "money"),
    Column("visits_growth_mom", "人次环比(%)", "money"),
    Column("visits_growth_yoy", "人次同比(%)", "money"),
    Column("total_growth_mom", "总费用环比(%)", "money"),
    Column("total_growth_yoy", "总费用同比(%)", "money"),
    Column("cost_per_visit_growth_mom", "次均费用环比(%)", "money"),
    Column("cost_per_visit_growth_yoy", "次均费用同比(%)", "money"),
)
FLAG_COLUMNS = (
    Column("flag_id", "疑点编号"),
    Column("rule_id", "规则"),
    Column("rule_name", "规则名称"),
    Column("status_words", "状态"),
    Column("settlement_id", "结算编号"),
    Column("institution_code", "医疗机构"),
    Column("insured_region", "参保地"),
    Column("treating_region", "就医地"),
    Column("settled_on", "结算日期", "date"),
    Column("total", "总费用", "money"),
    Column("fund_paid", "基金支付", "money"),
    Column("evidence_words", "证据"),
    Column("raised_at", "发现时间", "moment"),
)
STATUS_WORDS = {
    "open": "待审核",
    "dismissed": "已排除",
    "deducted": "已扣款",
    "lead": "已移交参保地",
    "appealed": "申诉中",
    "upheld": "申诉成立",
}
STEP_WORDS = {
    "raised": "智能审核发现",
    "dismissed": "排除",
    "lead": "移交参保地",
    "deducted": "审核扣款",
    "appealed": "申诉",
    "upheld": "申诉成立",
    "rejected": "申诉不成立",
}
MEASURES = ("dismissed", "deducted", "lead", "appealed", "upheld")


def _month(q: SignedQuery) -> str:
    month = q.params.get("month", "")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise QueryRefused(400, "month is YYYY-MM")
    return month


def _dimensions(q: SignedQuery) -> tuple[str, ...]:
    by = tuple(d for d in (q.params.get("by") or "").split(",") if d)
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown or len(set(by)) != len(by):
        raise QueryRefused(400, f"by names each of {', '.join(DIMENSIONS)} at most once")
    return by


def _filtered(cells: list[Cell], q: SignedQuery) -> list[Cell]:
    wanted = {
        "insured_region": q.params.get("insured_region"),
        "treating_region": q.params.get("treating_region"),
        "institution_code": q.params.get("institution"),
        "medical_type": q.params.get("medical_type"),
    }
    if wanted["medical_type"] and wanted["medical_type"] not in {m.value for m in MedicalType}:
        raise QueryRefused(400, "medical_type is one of " + ", ".join(m.value for m in MedicalType))
    for name in ("insured_region", "treating_region"):
        if wanted[name] and not re.fullmatch(r"\d{6}", wanted[name] or ""):
            raise QueryRefused(400, f"{name} is 6 digits")
    return [
        c
        for c in cells
        if all(
            not v or str(getattr(c, k).value if k == "medical_type" else getattr(c, k)) == v for k, v in wanted.items()
        )
    ]


def _text(row: dict) -> dict:
    """A row as JSON and the tables carry it: decimals as their text (M-01), Chinese words beside codes."""
    out = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
    if "medical_type" in out:
        out["medical_type_words"] = MEDICAL_TYPE_WORDS[MedicalType(out["medical_type"])]
    return out


def flag_row(flag: Flag) -> dict:
    row = flag.model_dump(mode="json")
    row["status_words"] = STATUS_WORDS.get(flag.status, flag.status)
    row["evidence_words"] = "；".join(f"{k}：{v}" for k, v in flag.evidence.items())
    for step in row["steps"]:
        step["action_words"] = STEP_WORDS.get(step["action"], step["action"])
    return row


class SupervisionQueries:
    """The three reads over the stored cells and flags (``adapters.SupervisionReads``); :meth:`register`
    adds them to the service's port (``app.py``)."""

    def __init__(
        self, reads: SupervisionReads, *, rules: RuleBase, now: Callable[[], datetime], parties: ParticipantRegistry
    ) -> None:
        self.reads, self.rules, self.now, self.parties = reads, rules, now, parties

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(INDICATORS_PATH, self.indicators, **SPECS[INDICATORS_PATH])
        add_query(FLAGS_PATH, self.flag_list, **SPECS[FLAGS_PATH])
        add_query(RULES_PATH, self.rule_list, **SPECS[RULES_PATH])
        add_query(REPORT_PATH, self.report, **SPECS[REPORT_PATH])

    def _sees(self, party: Agency | Institution, insured: str, treating: str, institution: str) -> bool:
        if isinstance(party, Institution):
            return party.code == institution
        return self.parties.speaks_for(party.code, insured) or self.parties.speaks_for(party.code, treating)

    async def indicators(self, q: SignedQuery) -> tuple[bytes, str, str]:
        agency, month, by = q.agency(), _month(q), _dimensions(q)
        cells = [
            c
            for c in _filtered(await self.reads.cells(), q)
            if self._sees(agency, c.insured_region, c.treating_region, c.institution_code)
        ]
        rows = [_text(r) for r in summarise(cells, month, by)]
        return table_answer(q, rows, INDICATOR_COLUMNS, f"supervision-indicators-{month}", "rows", {"by": list(by)})

    async def _visible_flags(self, q: SignedQuery) -> list[Flag]:
        party = q.party if isinstance(q.party, Institution) else q.agency()
        return [
            f
            for f in await self.reads.flags()
            if self._sees(party, f.insured_region, f.treating_region, f.institution_code)
        ]

    async def flag_list(self, q: SignedQuery) -> tuple[bytes, str, str]:
        status, rule = q.params.get("status"), q.params.get("rule")
        if status and status not in STATUS_WORDS:
            raise QueryRefused(400, "status is one of " + ", ".join(STATUS_WORDS))
        flags = [
            f
            for f in await self._visible_flags(q)
            if (not status or f.status == status) and (not rule or f.rule_id == rule)
        ]
        flags.sort(key=lambda f: (f.raised_at, f.flag_id), reverse=True)
        return table_answer(q, [flag_row(f) for f in flags], FLAG_COLUMNS, "supervision-flags", "flags")

    async def rule_list(self, q: SignedQuery) -> tuple[bytes, str, str]:
        flags = await self._visible_flags(q)
        hits = Counter(f.rule_id for f in flags)
        passed = Counter((f.rule_id, step.action) for f in flags for step in f.steps)
        rows = [
            {
                **rule.model_dump(mode="json"),
                "hits": hits[rule.id],
                "open": sum(1 for f in flags if f.rule_id == rule.id and f.status == "open"),
                **{m: passed[(rule.id, m)] for m in MEASURES},
            }
            for rule in self.rules.rules
        ]
        return json.dumps({"rules": rows}, ensure_ascii=False).encode(), FORMATS["json"], "supervision-rules.json"

    async def report(self, q: SignedQuery) -> tuple[bytes, str, str]:
        agency, month, region = q.agency(), _month(q), q.params.get("region", "")
        if not re.fullmatch(r"\d{6}", region):
            raise QueryRefused(400, "region (6 digits) is required")
        if not self.parties.speaks_for(agency.code, region):
            raise QueryRefused(403, f"UNAUTHORIZED: {agency.code} does not speak for region {region}")
        fmt = q.params.get("format") or "json"
        if fmt not in ("json", "xlsx"):
            raise QueryRefused(400, "format is json or xlsx")
        built = build_report(
            region, month, await self.reads.cells(), await self.reads.flags(), report_settings(), _text
        )
        name = f"supervision-report-{region}-{month}"
        if fmt == "xlsx":
            return report_xlsx(built), FORMATS["xlsx"], f"{name}.xlsx"
        return json.dumps(built, ensure_ascii=False).encode(), FORMATS["json"], f"{name}.json"
