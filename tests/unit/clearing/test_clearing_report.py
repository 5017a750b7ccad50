"""C-04 clearing tables (000 附件15-1..15-6, 16-1 across provinces, a line per counterpart province; 附件18-1..18-6,
19-1 within one, a line per counterpart city: 第六十五、六十六条) of a region and month: receivable and payable per
counterpart, employee and resident, per fund, audit deductions apart, cross- and intra-province apart
(C-01); every total line the sum of its lines (M-01); CSV and XLSX exports with the same figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from contracts.clearing import EntryKind, Fund, FundAmounts, ReportRow, ReportTable
from contracts.values import InsuranceType, money
from runtime.calendar import default_calendar
from services.clearing.domain import (
    LedgerEntry,
    generate,
    issue_reports,
    new_ledger,
    record_entry,
    report_tables,
    to_csv,
    to_xlsx,
)
from services.clearing.domain.report import EMPLOYEE_COLUMNS, RESIDENT_COLUMNS

CAL = default_calendar()
NOW = datetime(2026, 9, 30, 1, tzinfo=UTC)
WUHU, WUHAN, HEFEI, BEIJING = "340200", "420100", "340100", "110000"
EMP, RES = InsuranceType.EMPLOYEE, InsuranceType.RESIDENT


def line(sid, insured, treating, insurance=EMP, kind=EntryKind.SETTLEMENT, ref="", **funds) -> LedgerEntry:
    return LedgerEntry(
        settlement_id=sid,
        kind=kind,
        ref=ref,
        insured_region=insured,
        treating_region=treating,
        amounts=FundAmounts(insurance_type=insurance, funds={Fund(k): money(v) for k, v in funds.items()}),
        business_day=date(2026, 8, 20),
    )


def ledger(insured, treating, *entries, month="2026-09"):
    lg = new_ledger(month, insured, treating)
    for e in entries:
        lg = record_entry(lg, e, CAL, NOW).state
    return generate(lg, CAL, NOW).state


def example():
    """Wuhu pays Wuhan (cross-province: employee and resident, a deduction) and Hefei (intra-province);
    Wuhu receives from Beijing (cross-province)."""
    return [
        ledger(
            WUHU,
            WUHAN,
            line("s1", WUHU, WUHAN, pooling="1000.00", personal_account="200.00", large_amount="55.55"),
            line("s2", WUHU, WUHAN, RES, resident_basic="300.10", critical_illness="99.90"),
            line("s1", WUHU, WUHAN, kind=EntryKind.AUDIT_DEDUCTION, ref="d1", pooling="120.00"),
            line("s2", WUHU, WUHAN, RES, kind=EntryKind.REFUND, ref="r1", critical_illness="9.90"),
        ),
        ledger(WUHU, HEFEI, line("s3", WUHU, HEFEI, pooling="80.00")),
        ledger(BEIJING, WUHU, line("s4", BEIJING, WUHU, pooling="45.67")),
        new_ledger("2026-09", WUHU, "420200"),  # open: not generated, not reported
        ledger(WUHU, WUHAN, line("s9", WUHU, WUHAN, pooling="1.00"), month="2026-10"),  # another month
    ]


def rows(table: ReportTable) -> dict[str, list[Decimal]]:
    return {row.label: row.values for row in table.rows}


def test_the_tables_of_a_region_with_the_headings_of_the_source() -> None:
    tables = {t.code: t for t in report_tables(WUHU, "2026-09", example(), "cross_province")}
    assert list(tables) == ["附件15-1", "附件15-2", "附件15-3", "附件15-4", "附件15-5", "附件15-6", "附件16-1"]
    assert tables["附件15-2"].title == "芜湖市跨省异地就医职工医保基金应付明细表"
    assert tables["附件15-1"].columns == ["地区", "合计", "职工医保", "居民医保"]
    assert tables["附件15-2"].columns == [
        "地区",
        "基本医疗保险统筹基金",
        "基本医疗保险个人账户",
        "职工大额医疗费用补助",
        "补充医疗保险",
        "公务员医疗补助",
        "伤残人员医疗保障",
        "医疗救助",
        "其他",
        "审核扣款",
        "合计",
    ]
    assert tables["附件15-3"].columns == [
        "地区",
        "基本医疗保险",
        "城乡居民大病保险",
        "医疗救助",
        "补充医保",
        "其他",
        "审核扣款",
        "合计",
    ]
    # payable to Hubei (Wuhan, its only city here; 附件15-1 lists provinces): employee 1255.55 − 120.00 = 1135.55; resident 300.10 + 99.90 − 9.90 = 390.10
    assert rows(tables["附件15-1"]) == {
        "湖北省": [money("1525.65"), money("1135.55"), money("390.10")],
        "合  计": [money("1525.65"), money("1135.55"), money("390.10")],
    }
    assert rows(tables["附件15-2"])["湖北省"] == [
        money(v) for v in ("1000.00", "200.00", "55.55", "0", "0", "0", "0", "0", "120.00", "1135.55")
    ]
    assert rows(tables["附件15-3"])["湖北省"] == [money(v) for v in ("300.10", "90.00", "0", "0", "0", "0", "390.10")]
    assert rows(tables["附件15-4"])["湖北省"] == [money("120.00"), money("120.00"), money("0")]  # deductions apart
    assert rows(tables["附件15-5"])["湖北省"][0] == money("120.00")
    assert rows(tables["附件16-1"]) == {
        "北京市": [money("45.67")] * 2 + [money("0")],
        "合  计": [money("45.67")] * 2 + [money("0")],
    }
    intra = {t.code: t for t in report_tables(WUHU, "2026-09", example(), "intra_province")}
    assert intra["附件18-1"].title == "芜湖市省内异地就医应付医疗费用清算表"  # C-01: reported apart
    assert rows(intra["附件18-1"])["合肥市"] == [money("80.00"), money("80.00"), money("0")]
    assert rows(intra["附件19-1"]) == {"合  计": [money("0")] * 3}


def test_the_treating_side_sees_its_receivable_and_nothing_of_others() -> None:
    tables = {t.code: t for t in report_tables(WUHAN, "2026-09", example(), "cross_province")}
    assert rows(tables["附件16-1"])["安徽省"] == [money("1525.65"), money("1135.55"), money("390.10")]
    assert len(tables["附件15-1"].rows) == 1  # Wuhan pays nobody this month
    assert "合肥市" not in str(tables) and "北京市" not in str(tables) and "芜湖市" not in str(tables)


def test_one_report_per_scope_with_lines_and_a_stable_id() -> None:
    reports = issue_reports(WUHU, "2026-09", example(), NOW)
    assert [r.scope for r in reports] == ["cross_province", "intra_province"]
    assert issue_reports(WUHU, "2026-09", example(), NOW)[0].report_id == reports[0].report_id
    assert [r.scope for r in issue_reports(HEFEI, "2026-09", example(), NOW)] == ["intra_province"]
    assert issue_reports("420200", "2026-09", example(), NOW) == []


def test_a_total_line_that_is_not_the_sum_of_its_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="M-01"):
        ReportTable(
            code="附件15-1",
            title="t",
            columns=["地区", "合计"],
            rows=[ReportRow(region=WUHAN, label="武汉市", values=["1.00"]), ReportRow(label="合  计", values=["1.01"])],
        )
    with pytest.raises(ValueError, match="total line"):
        ReportTable(
            code="附件15-1",
            title="t",
            columns=["地区", "合计"],
            rows=[ReportRow(region=WUHAN, label="武汉市", values=["1.00"])],
        )


def csv_figures(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_and_xlsx_carry_the_same_figures_as_the_event() -> None:
    report = issue_reports(WUHU, "2026-09", example(), NOW)[0]
    book = load_workbook(io.BytesIO(to_xlsx(report)))
    assert book.sheetnames == [t.code for t in report.tables]
    for table in report.tables:
        text = csv_figures(to_csv(table))
        assert text[0] == table.columns
        assert [r[1:] for r in text[1:]] == [[f"{v:.2f}" for v in row.values] for row in table.rows]
        sheet = book[table.code]
        values = list(sheet.iter_rows(values_only=True))
        assert values[0][0] == table.title and values[1][:2] == ("清算月份：2026年09月", "单位：元（保留两位小数）")
        assert list(values[2]) == table.columns
        amounts = [c for r in sheet.iter_rows(min_row=4) for c in r[1:]]  # money: numbers formatted #,##0.00
        assert amounts and all(c.data_type == "n" and c.number_format == "#,##0.00" for c in amounts)
        for cells, row in zip(values[3:], table.rows, strict=True):
            assert cells[0] == row.label
            assert [Decimal(str(c)).quantize(Decimal("0.01")) for c in cells[1:]] == list(row.values)
        # M-01 in the workbook too: the total line is the sum of the lines, column by column
        body = [[Decimal(str(c)) for c in cells[1:]] for cells in values[3:-1]]
        total = [Decimal(str(c)) for c in values[-1][1:]]
        sums = [sum((r[i] for r in body), Decimal("0")).quantize(Decimal("0.01")) for i in range(len(total))]
        assert sums == [t.quantize(Decimal("0.01")) for t in total]


# ================================================================ property: money path (M-01)
fen = st.decimals(min_value=0, max_value=10**5, places=2).map(str)
counterparts = st.sampled_from([WUHAN, "110000", "310000", "440100"])
entries = st.lists(
    st.tuples(counterparts, st.booleans(), st.sampled_from(list(EntryKind)), fen, fen), min_size=1, max_size=20
)


@settings(max_examples=60, deadline=None)
@given(entries)
def test_every_table_sums_to_its_lines_and_to_the_inputs(seq) -> None:
    ledgers: dict[str, object] = {}
    expected_net = Decimal("0.00")
    for i, (treating, employee, kind, a, b) in enumerate(seq):
        insurance = EMP if employee else RES
        funds = {"pooling": a, "personal_account": b} if employee else {"resident_basic": a, "critical_illness": b}
        e = line(f"s{i}", WUHU, treating, insurance, kind, ref=f"x{i}", **funds)
        sign = {EntryKind.SETTLEMENT: 1, EntryKind.REFUND: -1, EntryKind.AUDIT_DEDUCTION: -1}[kind]
        expected_net += sign * (Decimal(a) + Decimal(b))
        lg = ledgers.get(treating) or new_ledger("2026-09", WUHU, treating)
        ledgers[treating] = record_entry(lg, e, CAL, NOW).state
    generated = [generate(lg, CAL, NOW).state for lg in ledgers.values()]
    tables = {t.code: t for t in report_tables(WUHU, "2026-09", generated, "cross_province")}
    pay, back = tables["附件15-1"].rows[-1].values, tables["附件16-1"].rows[-1].values
    assert pay[0] - back[0] == expected_net  # independent sum of the inputs (C-05: reverse apart)
    assert all(v >= 0 for row in tables["附件16-1"].rows for v in row.values[:1])
    assert all(row.label.endswith("*") == row.reverse_clearing for row in tables["附件16-1"].rows[:-1])
    assert all(row.reverse_clearing for row in tables["附件16-1"].rows[:-1])  # Wuhu treats no one here
    # the detail tables (every pair, signed) agree with the summary, employee and resident, and deductions with 15-4
    assert tables["附件15-2"].rows[-1].values[-1] == pay[1] - back[1]
    assert tables["附件15-3"].rows[-1].values[-1] == pay[2] - back[2]
    assert tables["附件15-5"].rows[-1].values[-1] == tables["附件15-4"].rows[-1].values[1]
    assert tables["附件15-6"].rows[-1].values[-1] == tables["附件15-4"].rows[-1].values[2]
    assert len(EMPLOYEE_COLUMNS) == 8 and len(RESIDENT_COLUMNS) == 5


# ================================================================ C-01: the province's roll-up (附件14)
def test_a_province_rolls_up_its_cities_cross_province_clearing() -> None:
    """C-01 (003 §4.2, 000 附件14): Anhui's cities' cross-province ledgers, a line per counterpart province
    and a column per city; the intra-province Wuhu → Hefei ledger stays out; sums to the fen (M-01)."""
    ledgers = [
        *example(),
        ledger(HEFEI, WUHAN, line("s5", HEFEI, WUHAN, pooling="10.01")),
        ledger("420200", HEFEI, line("s6", "420200", HEFEI, pooling="7.00")),  # Huangshi → Hefei
        ledger("340000", BEIJING, line("s7", "340000", BEIJING, pooling="3.30")),
    ]  # 省本级 → Beijing
    reports = issue_reports("340000", "2026-09", ledgers, NOW)
    (cross,) = [r for r in reports if r.scope == "cross_province"]
    tables = {t.code: t for t in cross.tables}
    receivable, payable = tables["附件14（应收）"], tables["附件14（应付）"]
    assert payable.title == "安徽省跨省异地就医费用清算表（应付）"
    assert payable.columns == ["地区", "安徽省省本级", "合肥市", "芜湖市", "合计"]
    assert rows(payable) == {
        "北京市": [money("3.30"), money("0"), money("0"), money("3.30")],
        "湖北省": [money("0"), money("10.01"), money("1525.65"), money("1535.66")],
        "合  计": [money("3.30"), money("10.01"), money("1525.65"), money("1538.96")],
    }
    assert rows(receivable) == {
        "北京市": [money("0"), money("0"), money("45.67"), money("45.67")],
        "湖北省": [money("0"), money("7.00"), money("0"), money("7.00")],
        "合  计": [money("0"), money("7.00"), money("45.67"), money("52.67")],
    }
    book = load_workbook(io.BytesIO(to_xlsx(cross)))
    assert "附件14（应收）" in book.sheetnames and "附件14（应付）" in book.sheetnames
    # a city's own report has no roll-up; a province pooled as one region (Beijing) neither
    assert all(not t.code.startswith("附件14") for r in issue_reports(WUHU, "2026-09", ledgers, NOW) for t in r.tables)
    assert all(
        not t.code.startswith("附件14") for r in issue_reports(BEIJING, "2026-09", ledgers, NOW) for t in r.tables
    )


# ================================================================ C-05: reverse clearing on the other table
def test_a_negative_net_is_money_coming_back_on_the_other_sides_table_marked_with_a_star() -> None:
    """C-05 (004 第五十一条): Beijing's deductions of Wuhu-treated settlements exceed what it settled there this
    period: Wuhu pays 20.00 back (its 15-1, 北京市*), and Beijing receives it (its 16-1, 芜湖市*)."""
    back = ledger(
        BEIJING,
        WUHU,
        line("s7", BEIJING, WUHU, pooling="10.00"),
        line("s8", BEIJING, WUHU, kind=EntryKind.AUDIT_DEDUCTION, ref="d8", pooling="30.00"),
    )
    wuhu = {t.code: t for t in report_tables(WUHU, "2026-09", [back], "cross_province")}
    assert rows(wuhu["附件15-1"]) == {
        "北京市*": [money("20"), money("20"), money("0")],
        "合  计": [money("20"), money("20"), money("0")],
    }
    assert rows(wuhu["附件16-1"]) == {"合  计": [money("0"), money("0"), money("0")]}
    beijing = {t.code: t for t in report_tables(BEIJING, "2026-09", [back], "cross_province")}
    assert rows(beijing["附件16-1"])["安徽省*"] == [money("20"), money("20"), money("0")]
    assert beijing["附件16-1"].rows[0].reverse_clearing and rows(beijing["附件15-1"])["合  计"][0] == money("0")
    assert rows(beijing["附件15-2"])["安徽省"][-1] == money("-20")  # the fund detail keeps the pair as cleared


def test_a_province_rolls_up_its_intra_province_clearing_as_attachment_17() -> None:
    """C-01 (000 第六十六条, 附件17): Anhui's intra-province ledgers, a line per city with 应收合计 / 应付合计 and
    per counterpart city 应收 / 应付; the cross-province ones stay out; M-01 to the fen."""
    ledgers = [
        *example(),  # Wuhu → Hefei 80.00 (intra)
        ledger(HEFEI, WUHU, line("s5", HEFEI, WUHU, pooling="12.34")),
        ledger("340000", HEFEI, line("s6", "340000", HEFEI, pooling="1.01")),
    ]  # 省本级 treated in Hefei
    (intra,) = [r for r in issue_reports("340000", "2026-09", ledgers, NOW) if r.scope == "intra_province"]
    [table] = [t for t in intra.tables if t.code == "附件17"]
    assert table.title == "安徽省省内异地就医费用清算表"
    assert table.columns == [
        "地区",
        "应收合计",
        "应付合计",
        "省本级应收",
        "省本级应付",
        "合肥市应收",
        "合肥市应付",
        "芜湖市应收",
        "芜湖市应付",
    ]
    z = money("0")
    assert rows(table) == {
        "省本级": [z, money("1.01"), z, z, z, money("1.01"), z, z],
        "合肥市": [money("81.01"), money("12.34"), money("1.01"), z, z, z, money("80.00"), money("12.34")],
        "芜湖市": [money("12.34"), money("80.00"), z, z, money("12.34"), money("80.00"), z, z],
        "合  计": [
            money("93.35"),
            money("93.35"),
            money("1.01"),
            z,
            money("12.34"),
            money("81.01"),
            money("80.00"),
            money("12.34"),
        ],
    }
    assert "附件17" in load_workbook(io.BytesIO(to_xlsx(intra))).sheetnames
    assert all(t.code != "附件17" for r in issue_reports(WUHU, "2026-09", ledgers, NOW) for t in r.tables)


# ================================================================ 26 item 7: lines by counterpart province
def test_cross_province_lines_are_the_counterpart_provinces_intra_province_lines_the_cities() -> None:
    """000 附件15-1 lists 北京, 天津, 河北…: Wuhu's payables to Wuhan (420100) 100.00 and Xiaogan (420900) 23.45
    make one line 湖北省 123.45; within Anhui its payable to Hefei stays 合肥市 under 附件18-1 (第六十六条)."""
    xiaogan = "420900"
    ledgers = [
        ledger(WUHU, WUHAN, line("s1", WUHU, WUHAN, pooling="100.00")),
        ledger(WUHU, xiaogan, line("s2", WUHU, xiaogan, pooling="23.45")),
        ledger(WUHU, HEFEI, line("s3", WUHU, HEFEI, pooling="80.00")),
    ]
    cross = {t.code: t for t in report_tables(WUHU, "2026-09", ledgers, "cross_province")}
    assert rows(cross["附件15-1"]) == {
        "湖北省": [money("123.45"), money("123.45"), money("0")],
        "合  计": [money("123.45"), money("123.45"), money("0")],
    }
    intra = {t.code: t for t in report_tables(WUHU, "2026-09", ledgers, "intra_province")}
    assert list(intra) == ["附件18-1", "附件18-2", "附件18-3", "附件18-4", "附件18-5", "附件18-6", "附件19-1"]
    assert rows(intra["附件18-1"])["合肥市"] == [money("80.00"), money("80.00"), money("0")]
