"""The clearing tables of one region and month (C-04; 000 第六十五条, 附件15-1..15-6 and 16-1 across provinces;
第六十六条, 附件18-1..18-6 and 19-1 within the province), built from the generated ledgers it is party to, and
their CSV and XLSX exports.

Lines (000 附件15-1…16-1, 18-1…19-1): the cross-province forms list the counterpart *provinces* (北京, 天津,
河北…: a province clears with the others, C-01), so a region's ledgers with several cities of one province
make one line for that province, their sums; the intra-province forms list the counterpart cities (武汉市,
黄石市…). The notice keeps one line per counterpart pooling region (what each pair moves).

As insured place a region pays (应付): 附件15-1 per counterpart and insurance type, 15-2 / 15-3 per fund
of the employee / resident insurance with the audit deductions 审核扣款 in their own column, and 15-4..15-6
the deductions alone. As treating place it receives (应收): 附件16-1. Amounts are net of deductions where
the source's 合计 is (fund columns − 审核扣款); every table ends with its total line, the column sums of
its lines (M-01, checked by ``ReportTable`` itself). Cross-province and intra-province clearing are
reported apart (C-01: 跨省 / 省内 in the titles), each under the source's own numbers: 附件15-x/16-1 for
cross-province clearing (第六十五条), 附件18-x/19-1 for intra-province clearing (第六十六条).

Reverse clearing (C-05, 004 第五十一条): a pair whose net is negative (deductions and refunds beyond what was
settled) is money the treating side pays back: it leaves the insured side's 15-1 for its 16-1 (应收) and the
treating side's 16-1 for its 15-1 (应付), positive, with * beside the counterpart's name. The fund details
(15-2..15-6) keep every pair as cleared, signed, for they explain the deductions behind that net.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from contracts.clearing import ClearingReportIssued, ReportRow, ReportTable
from contracts.settlement_values import FundCode
from contracts.values import POOLING_REGIONS, InsuranceType
from runtime.tables import MONEY_FORMAT
from services.outcome import stable_id

from .ledger import ZERO, ClearingLedger, PeriodStatus

TOTAL_LABEL = "合  计"
SCOPES = {"cross_province": "跨省", "intra_province": "省内"}
EMP, RES = InsuranceType.EMPLOYEE, InsuranceType.RESIDENT

EMPLOYEE_COLUMNS: list[tuple[str, FundCode]] = [  # 附件15-2 / 15-5, in the source's order
    ("基本医疗保险统筹基金", FundCode.POOLING),
    ("基本医疗保险个人账户", FundCode.PERSONAL_ACCOUNT),
    ("职工大额医疗费用补助", FundCode.LARGE_AMOUNT),
    ("补充医疗保险", FundCode.SUPPLEMENTARY),
    ("公务员医疗补助", FundCode.CIVIL_SERVANT),
    ("伤残人员医疗保障", FundCode.DISABLED_VETERAN),
    ("医疗救助", FundCode.MEDICAL_ASSISTANCE),
    ("其他", FundCode.OTHER),
]
RESIDENT_COLUMNS: list[tuple[str, FundCode]] = [  # 附件15-3 / 15-6
    ("基本医疗保险", FundCode.RESIDENT_BASIC),
    ("城乡居民大病保险", FundCode.CRITICAL_ILLNESS),
    ("医疗救助", FundCode.MEDICAL_ASSISTANCE),
    ("补充医保", FundCode.SUPPLEMENTARY),
    ("其他", FundCode.OTHER),
]
BY_TYPE = ["地区", "合计", "职工医保", "居民医保"]  # 附件15-1, 15-4, 16-1
# the forms' numbers by scope (000 第六十五、六十六条): payable 1..6, receivable
FORMS = {
    "cross_province": (("附件15-1", "附件15-2", "附件15-3", "附件15-4", "附件15-5", "附件15-6"), "附件16-1"),
    "intra_province": (("附件18-1", "附件18-2", "附件18-3", "附件18-4", "附件18-5", "附件18-6"), "附件19-1"),
}


def region_label(code: str) -> str:
    return POOLING_REGIONS.get(code, {}).get("name", code)


def scope_of(ledger: ClearingLedger) -> str:
    return "cross_province" if ledger.insured_region[:2] != ledger.treating_region[:2] else "intra_province"


def _cell(ledger: ClearingLedger, field: str, insurance: InsuranceType, fund: FundCode) -> Decimal:
    return getattr(ledger, field).get(f"{insurance.value}/{fund.value}", ZERO)


def _of_type(ledger: ClearingLedger, field: str, insurance: InsuranceType) -> Decimal:
    return sum((v for k, v in getattr(ledger, field).items() if k.startswith(f"{insurance.value}/")), ZERO)


def _net(ledger: ClearingLedger, insurance: InsuranceType) -> Decimal:
    return _of_type(ledger, "settled", insurance) - _of_type(ledger, "deducted", insurance)


def _table(
    code: str,
    title: str,
    columns: list[str],
    lines: Sequence[tuple[str, list[Decimal]]],
    reverse: frozenset[str] = frozenset(),
) -> ReportTable:
    """``reverse``: the counterparts of reverse-clearing lines, printed with * (C-05, 004 第五十一条)."""
    rows = [
        ReportRow(
            region=region,
            label=region_label(region) + ("*" if region in reverse else ""),
            values=values,
            reverse_clearing=region in reverse,
        )
        for region, values in lines
    ]
    width = len(columns) - 1
    total = [sum((values[i] for _, values in lines), ZERO) for i in range(width)]
    return ReportTable(
        code=code, title=title, columns=columns, rows=[*rows, ReportRow(label=TOTAL_LABEL, values=total)]
    )


def _by_province(lines: list[tuple[str, ClearingLedger]]) -> list[tuple[str, ClearingLedger]]:
    """Cross-province forms list counterpart provinces (000 附件15-1…16-1): the ledgers of one province's
    cities summed into one line, keyed by the province's code (its running sums added, M-01)."""
    merged: dict[str, ClearingLedger] = {}
    for counterpart, lg in lines:
        province = province_of(counterpart)
        if province not in merged:
            merged[province] = lg
            continue
        acc = merged[province]
        merged[province] = acc.model_copy(
            update={field: _added(getattr(acc, field), getattr(lg, field)) for field in ("settled", "deducted")}
        )
    return sorted(merged.items())


def _added(a: dict[str, Decimal], b: dict[str, Decimal]) -> dict[str, Decimal]:
    return {key: a.get(key, ZERO) + b.get(key, ZERO) for key in sorted(set(a) | set(b))}


def report_tables(region: str, month: str, ledgers: Iterable[ClearingLedger], scope: str) -> list[ReportTable]:
    """C-04: the tables of ``region`` for ``month`` and ``scope`` from the generated ledgers: a line per
    counterpart province across provinces, per counterpart city within one (000 附件15-1…16-1, 18-1…19-1)."""
    mine = sorted(
        (
            lg
            for lg in ledgers
            if lg.clearing_month == month
            and lg.status is not PeriodStatus.OPEN
            and scope_of(lg) == scope
            and region in (lg.insured_region, lg.treating_region)
        ),
        key=lambda lg: lg.key,
    )
    paying = [(str(lg.treating_region), lg) for lg in mine if lg.insured_region == region]
    receiving = [(str(lg.insured_region), lg) for lg in mine if lg.treating_region == region]
    if scope == "cross_province":
        paying, receiving = _by_province(paying), _by_province(receiving)
    (pay1, pay2, pay3, pay4, pay5, pay6), receive1 = FORMS[scope]
    name, where = region_label(region), SCOPES[scope]

    def title(what: str) -> str:
        return f"{name}{where}异地就医{what}"

    emp_funds = [f for _, f in EMPLOYEE_COLUMNS]
    res_funds = [f for _, f in RESIDENT_COLUMNS]

    def detail(lg: ClearingLedger, insurance: InsuranceType, funds: list[FundCode]) -> list[Decimal]:
        settled = [_cell(lg, "settled", insurance, f) for f in funds]
        deducted = _of_type(lg, "deducted", insurance)
        return [*settled, deducted, sum(settled, ZERO) - deducted]

    def deductions(lg: ClearingLedger, insurance: InsuranceType, funds: list[FundCode]) -> list[Decimal]:
        cells = [_cell(lg, "deducted", insurance, f) for f in funds]
        return [*cells, sum(cells, ZERO)]

    def by_type(lg: ClearingLedger, value) -> list[Decimal]:
        emp, res = value(lg, EMP), value(lg, RES)
        return [emp + res, emp, res]

    deducted_of = lambda lg, insurance: _of_type(lg, "deducted", insurance)  # noqa: E731

    def owed(lines, reverse_lines) -> list[tuple[str, list[Decimal]]]:
        """C-05: the pairs whose net goes this way, then the other side's negative ones, turned positive."""
        return [
            *((r, by_type(lg, _net)) for r, lg in lines if _total_net(lg) >= ZERO),
            *((r, [-v for v in by_type(lg, _net)]) for r, lg in reverse_lines if _total_net(lg) < ZERO),
        ]

    pay_back = frozenset(r for r, lg in receiving if _total_net(lg) < ZERO)  # we treated, we pay back
    paid_back = frozenset(r for r, lg in paying if _total_net(lg) < ZERO)  # we insured, we receive
    return [
        _table(pay1, title("应付医疗费用清算表"), BY_TYPE, owed(paying, receiving), pay_back),
        _table(
            pay2,
            title("职工医保基金应付明细表"),
            ["地区", *(c for c, _ in EMPLOYEE_COLUMNS), "审核扣款", "合计"],
            [(r, detail(lg, EMP, emp_funds)) for r, lg in paying],
        ),
        _table(
            pay3,
            title("居民医保基金应付明细表"),
            ["地区", *(c for c, _ in RESIDENT_COLUMNS), "审核扣款", "合计"],
            [(r, detail(lg, RES, res_funds)) for r, lg in paying],
        ),
        _table(pay4, title("医保基金审核扣款明细表"), BY_TYPE, [(r, by_type(lg, deducted_of)) for r, lg in paying]),
        _table(
            pay5,
            title("职工医保基金审核扣款明细表"),
            ["地区", *(c for c, _ in EMPLOYEE_COLUMNS), "合计"],
            [(r, deductions(lg, EMP, emp_funds)) for r, lg in paying],
        ),
        _table(
            pay6,
            title("居民医保基金审核扣款明细表"),
            ["地区", *(c for c, _ in RESIDENT_COLUMNS), "合计"],
            [(r, deductions(lg, RES, res_funds)) for r, lg in paying],
        ),
        _table(receive1, title("应收医疗费用清算表"), BY_TYPE, owed(receiving, paying), paid_back),
    ]


def _total_net(ledger: ClearingLedger) -> Decimal:
    return _net(ledger, EMP) + _net(ledger, RES)


def province_of(region: str) -> str:
    return f"{region[:2]}0000"


def is_rolled_up_province(region: str) -> bool:
    """A province whose cities are pooling regions of their own (not Beijing, Shanghai…: F-06)."""
    return region.endswith("0000") and not POOLING_REGIONS.get(region, {}).get("provincial_pool", False)


def province_tables(province: str, month: str, ledgers: Iterable[ClearingLedger]) -> list[ReportTable]:
    """C-01 (003 §4.2; 000 附件14): the province's cross-province clearing rolled up from its cities' ledgers
    for national clearing — one table of receivables 应收 and one of payables 应付, a line per counterpart
    province, a column per city of the province (its own pool 省本级 included) and 合计. The intra-province
    ledgers stay out (they are cleared inside the province and reported apart)."""
    prefix = province[:2]
    mine = [
        lg
        for lg in ledgers
        if lg.clearing_month == month
        and lg.status is not PeriodStatus.OPEN
        and scope_of(lg) == "cross_province"
        and prefix in (lg.insured_region[:2], lg.treating_region[:2])
    ]
    cities = sorted(
        {str(side) for lg in mine for side in (lg.insured_region, lg.treating_region) if side[:2] == prefix}
    )
    labels = [f"{region_label(province)}省本级" if c == province else region_label(c) for c in cities]
    out = []
    for what, code_suffix in (("应收", "receivable"), ("应付", "payable")):
        cells: dict[str, dict[str, Decimal]] = {}
        for lg in mine:
            city, other = (
                (lg.treating_region, lg.insured_region)
                if code_suffix == "receivable"
                else (lg.insured_region, lg.treating_region)
            )
            if city[:2] != prefix:
                continue
            net = _net(lg, EMP) + _net(lg, RES)
            row = cells.setdefault(province_of(other), {})
            row[city] = row.get(city, ZERO) + net
        lines = []
        for counterpart in sorted(cells):
            values = [cells[counterpart].get(c, ZERO) for c in cities]
            lines.append((counterpart, [*values, sum(values, ZERO)]))
        out.append(
            _table(
                f"附件14（{what}）",
                f"{region_label(province)}跨省异地就医费用清算表（{what}）",
                ["地区", *labels, "合计"],
                lines,
            )
        )
    return out


def intra_province_table(province: str, month: str, ledgers: Iterable[ClearingLedger]) -> ReportTable:
    """C-01 (000 第六十六条, 附件17 湖北省省内异地就医费用清算表): the province's intra-province clearing, a line per
    city (its own pool 省本级 included) with its 应收合计 and 应付合计, then per counterpart city what it receives
    from it (应收: it treated the counterpart's insured) and pays to it (应付), and 合计; sums to the fen (M-01)."""
    prefix = province[:2]
    mine = [
        lg
        for lg in ledgers
        if lg.clearing_month == month
        and lg.status is not PeriodStatus.OPEN
        and scope_of(lg) == "intra_province"
        and lg.insured_region[:2] == prefix
    ]
    cities = sorted({str(side) for lg in mine for side in (lg.insured_region, lg.treating_region)})

    def label(code: str) -> str:
        return "省本级" if code == province else region_label(code)

    receives: dict[tuple[str, str], Decimal] = {}  # (city, counterpart) → net the city receives
    for lg in mine:
        key = (str(lg.treating_region), str(lg.insured_region))
        receives[key] = receives.get(key, ZERO) + _total_net(lg)
    lines = []
    for city in cities:
        pairs = [(receives.get((city, other), ZERO), receives.get((other, city), ZERO)) for other in cities]
        inn, out = sum((p[0] for p in pairs), ZERO), sum((p[1] for p in pairs), ZERO)
        lines.append((city, [inn, out, *(v for pair in pairs for v in pair)]))
    columns = ["地区", "应收合计", "应付合计", *(f"{label(c)}{what}" for c in cities for what in ("应收", "应付"))]
    table = _table("附件17", f"{region_label(province)}省内异地就医费用清算表", columns, lines)
    return table.model_copy(
        update={"rows": [r.model_copy(update={"label": label(r.region)}) if r.region else r for r in table.rows]}
    )


def rollup_tables(province: str, month: str, ledgers: Iterable[ClearingLedger], scope: str) -> list[ReportTable]:
    """C-01: a province's roll-ups of its cities: 附件14 for cross-province clearing, 附件17 within the province."""
    if not is_rolled_up_province(province):
        return []
    ledgers = list(ledgers)
    return (
        province_tables(province, month, ledgers)
        if scope == "cross_province"
        else [intra_province_table(province, month, ledgers)]
    )


def issue_reports(
    region: str, month: str, ledgers: Iterable[ClearingLedger], now: datetime
) -> list[ClearingReportIssued]:
    """C-04/C-01: one report per scope the region cleared in ``month`` (none for a scope without lines); a
    province's reports also carry its roll-ups (附件14 cross-province, 附件17 intra-province)."""
    ledgers = list(ledgers)
    reports = []
    for scope in SCOPES:
        tables = report_tables(region, month, ledgers, scope) + rollup_tables(region, month, ledgers, scope)
        if any(len(t.rows) > 1 for t in tables):
            reports.append(
                ClearingReportIssued(
                    report_id=stable_id("clearing", "report", region, month, scope),
                    clearing_month=month,
                    region=region,
                    scope=scope,
                    tables=tables,
                    issued_at=now,
                )
            )
    return reports


# ---------------------------------------------------------------- exports
def to_csv(table: ReportTable) -> str:
    """One table as CSV: the headings, the lines, the total line; amounts with two decimals (M-01)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([row.label, *(f"{v:.2f}" for v in row.values)])
    return out.getvalue()


def to_xlsx(report: ClearingReportIssued) -> bytes:
    """The report as a workbook, one sheet per table (named by its 附件 number): title, 清算月份 and
    单位 lines as in the source, the headings, the lines and the total line; amounts are numbers
    formatted #,##0.00 written from their decimal text."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    year, month = report.clearing_month.split("-")
    for table in report.tables:
        sheet = book.create_sheet(table.code)
        sheet.append([table.title])
        sheet.append([f"清算月份：{year}年{month}月", "单位：元（保留两位小数）"])
        sheet.append(table.columns)
        for row in table.rows:
            sheet.append([row.label, *(Decimal(f"{v:.2f}") for v in row.values)])
            for cell in sheet[sheet.max_row][1:]:
                cell.number_format = MONEY_FORMAT
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


__all__ = [
    "intra_province_table",
    "rollup_tables",
    "is_rolled_up_province",
    "province_of",
    "province_tables",
    "EMPLOYEE_COLUMNS",
    "FORMS",
    "RESIDENT_COLUMNS",
    "SCOPES",
    "TOTAL_LABEL",
    "issue_reports",
    "region_label",
    "report_tables",
    "scope_of",
    "to_csv",
    "to_xlsx",
]
