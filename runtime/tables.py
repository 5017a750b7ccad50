"""Lists as the agencies read and download them: a page of rows with its totals, and the same rows as
CSV or XLSX. No business rules here: a service says which columns a list has and what each holds.

* **Paging**: ``page`` (from 1) and ``size`` (1..``MAX_SIZE``, default ``DEFAULT_SIZE``) of a signed query;
  the answer says ``total`` (rows matching), ``page``, ``size`` and ``pages``.
* **CSV**: UTF-8 *with* a byte order mark, so that Excel on a Chinese Windows opens it as UTF-8 and not
  as GBK (without the mark the Chinese comes out garbled); CRLF line ends (RFC 4180); a text cell that
  would start a formula (= + - @) is quoted with ``'``, so a hostile name or matter does not run.
* **XLSX** (openpyxl): a money column is written as a number cell from its decimal text with the
  format ``#,##0.00`` (never text, never a General float), a date column as a date cell (``yyyy-mm-dd``),
  a moment as a date-time cell in Beijing time; the header row in Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

BOM = "\ufeff"
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
MOMENT_FORMAT = "yyyy-mm-dd hh:mm"
DEFAULT_SIZE, MAX_SIZE = 20, 500
BEIJING = ZoneInfo("Asia/Shanghai")
Kind = Literal["text", "money", "date", "moment", "count"]


class PagingError(ValueError):
    """A page or size that is not a positive whole number in range (a 400 for the asker)."""


@dataclass(frozen=True)
class Column:
    """One column of a list: the field of each row, its Chinese heading, how its cells are typed."""

    field: str
    heading: str
    kind: Kind = "text"


def paging(params: dict[str, str]) -> tuple[int, int]:
    """``page`` and ``size`` of a query (defaults 1 and ``DEFAULT_SIZE``), or ``PagingError``."""
    try:
        page = int(params.get("page") or 1)
        size = int(params.get("size") or DEFAULT_SIZE)
    except ValueError:
        raise PagingError("page and size are whole numbers") from None
    if page < 1 or not 1 <= size <= MAX_SIZE:
        raise PagingError(f"page is 1 or more, size 1..{MAX_SIZE}")
    return page, size


def paged(rows: Sequence[Any], page: int, size: int, key: str = "items") -> dict[str, Any]:
    """One page of ``rows`` with the totals a pager needs (a page past the end is empty, not an error)."""
    total = len(rows)
    return {
        key: list(rows[(page - 1) * size : page * size]),
        "total": total,
        "page": page,
        "size": size,
        "pages": max(1, -(-total // size)),
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        return "；".join(_text(v) for v in value)
    return str(value)


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[Column]) -> bytes:
    """The rows under Chinese headings, UTF-8 with a BOM; money with two decimals (M-01)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.heading for c in columns])
    for row in rows:
        writer.writerow(
            [
                _money_text(row.get(c.field)) if c.kind in ("money", "count") else _inert(_text(row.get(c.field)))
                for c in columns
            ]
        )
    return (BOM + out.getvalue()).encode("utf-8")


def _inert(text: str) -> str:
    """A text cell a spreadsheet shows as text: one starting with = + - @ would run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_bytes(text: str) -> bytes:
    """CSV text written elsewhere, as it is downloaded: UTF-8 with a BOM (once)."""
    return (text if text.startswith(BOM) else BOM + text).encode("utf-8")


def _money_text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    number = money(value)
    return f"{number:.2f}" if number is not None else _text(value)


def money(value: Any) -> Decimal | None:
    """A decimal amount from its text (or number), None when there is none."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _moment(value: Any) -> datetime | None:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is not None:  # Excel keeps no zone: Beijing time, as read
        moment = moment.astimezone(BEIJING).replace(tzinfo=None)
    return moment


def typed_cell(sheet: Any, row: int, col: int, value: Any, kind: Kind) -> None:
    """One cell, typed by its column: money a number ``#,##0.00``, dates date cells."""
    cell = sheet.cell(row=row, column=col)
    if kind == "money" and (number := money(value)) is not None:
        cell.value, cell.number_format = number, MONEY_FORMAT
    elif kind == "date" and (day := _date(value)) is not None:
        cell.value, cell.number_format = day, DATE_FORMAT
    elif kind == "moment" and (moment := _moment(value)) is not None:
        cell.value, cell.number_format = moment, MOMENT_FORMAT
    elif kind == "count" and isinstance(value, int) and not isinstance(value, bool):
        cell.value = value
    else:
        cell.value = _text(value)
        cell.data_type = "s"  # text stays text: openpyxl would store "=…" as a formula


def add_sheet(book: Any, title: str, rows: Iterable[dict[str, Any]], columns: Sequence[Column]) -> None:
    sheet = book.create_sheet(title[:31])  # Excel's limit on a sheet name
    for i, c in enumerate(columns, 1):
        sheet.cell(row=1, column=i, value=c.heading)
        sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = max(10, 2 * len(c.heading) + 2)
    for r, row in enumerate(rows, 2):
        for i, c in enumerate(columns, 1):
            typed_cell(sheet, r, i, row.get(c.field), c.kind)


def to_xlsx(rows: Iterable[dict[str, Any]], columns: Sequence[Column], title: str = "列表") -> bytes:
    """A workbook of one sheet: the Chinese headings, then one typed row per row."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    add_sheet(book, title, rows, columns)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
