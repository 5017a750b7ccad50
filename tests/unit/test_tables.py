"""Lists downloaded as agencies open them (``runtime.tables``): CSV in UTF-8 with a BOM (Excel on a
Chinese Windows reads it as UTF-8, LibreOffice too), XLSX with money as numbers formatted ``#,##0.00``
and dates as date cells; paging with totals."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from runtime.tables import MONEY_FORMAT, Column, PagingError, paged, paging, to_csv, to_xlsx

COLUMNS = (
    Column("name", "定点医疗机构"),
    Column("on", "结算日期", "date"),
    Column("total", "医疗费总额", "money"),
    Column("at", "记账时间", "moment"),
    Column("n", "笔数", "count"),
    Column("reversed", "已撤销"),
)
ROWS = [
    {
        "name": "武汉市第一人民医院（样例）",
        "on": "2026-09-29",
        "total": "12345.6",
        "at": "2026-09-29T02:00:00+00:00",
        "n": 3,
        "reversed": False,
    },
    {
        "name": "芜湖市第一人民医院（样例）",
        "on": date(2026, 10, 8),
        "total": Decimal("0.10"),
        "at": None,
        "n": 0,
        "reversed": True,
    },
]


def test_csv_is_utf8_with_a_bom_and_money_with_two_decimals():
    body = to_csv(ROWS, COLUMNS)
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == "定点医疗机构,结算日期,医疗费总额,记账时间,笔数,已撤销"
    assert lines[1].startswith("武汉市第一人民医院（样例）,2026-09-29,12345.60,") and lines[2].endswith(",0.10,,0,是")


def test_xlsx_money_is_a_number_cell_formatted_and_dates_are_dates():
    sheet = load_workbook(io.BytesIO(to_xlsx(ROWS, COLUMNS, "结算"))).active
    assert sheet.title == "结算" and [c.value for c in sheet[1]][:3] == ["定点医疗机构", "结算日期", "医疗费总额"]
    money = sheet["C2"]
    assert (
        money.data_type == "n"
        and money.number_format == MONEY_FORMAT
        and Decimal(str(money.value)) == Decimal("12345.60")
    )
    assert sheet["B2"].is_date and sheet["B2"].value.date() == date(2026, 9, 29)
    assert sheet["D2"].is_date and sheet["D2"].value.hour == 10  # Beijing time
    assert sheet["E2"].value == 3 and sheet["F3"].value == "是"


def test_a_csv_opens_in_libreoffice_with_the_chinese_intact(tmp_path):
    """The agencies' own command, ``libreoffice --headless --convert-to xlsx``, with no import options:
    LibreOffice (7.6 and later, installed by ``make office``) reads the file as UTF-8 and drops the BOM;
    Excel on a Chinese Windows reads the BOM itself."""
    office = shutil.which("libreoffice") or shutil.which("soffice")
    assert office, "LibreOffice is not installed: `make office` installs it"
    source = tmp_path / "结算.csv"
    source.write_bytes(to_csv(ROWS, COLUMNS))
    subprocess.run(
        [
            office,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    sheet = load_workbook(tmp_path / "结算.xlsx").active
    assert sheet["A1"].value == "定点医疗机构" and sheet["A2"].value == "武汉市第一人民医院（样例）"
    assert sheet["A3"].value == "芜湖市第一人民医院（样例）" and sheet["C2"].value == 12345.6


def test_a_text_that_would_be_a_formula_stays_text():
    hostile = [{"name": '=HYPERLINK("http://x")', "on": None, "total": None, "at": None, "n": 1, "reversed": None}]
    assert to_csv(hostile, COLUMNS).decode("utf-8-sig").splitlines()[1].startswith("\"'=HYPERLINK(")
    cell = load_workbook(io.BytesIO(to_xlsx(hostile, COLUMNS))).active["A2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_paging_answers_totals_and_refuses_nonsense():
    assert paged(list(range(45)), 3, 20) == {
        "items": list(range(40, 45)),
        "total": 45,
        "page": 3,
        "size": 20,
        "pages": 3,
    }
    assert paged([], 1, 20)["pages"] == 1
    assert paging({}) == (1, 20) and paging({"page": "2", "size": "50"}) == (2, 50)
    for bad in ({"page": "0"}, {"size": "0"}, {"size": "501"}, {"page": "one"}, {"page": "-1"}):
        with pytest.raises(PagingError):
            paging(bad)
