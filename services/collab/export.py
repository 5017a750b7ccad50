"""Q-03 period statistics as CSV and XLSX (openpyxl), for the agencies' own reporting.

Input is what the service publishes on ``collab.coinvestigation-statistics.v1`` (its payload);
no personal data is in it (regions and counts). From a shell, with the payload as JSON::

    python -m services.collab.export statistics.json --csv out.csv --xlsx out.xlsx
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from contracts.collab import AgencyPeriodStatistics, CoInvestigationStatistics
from runtime.tables import csv_bytes

COLUMNS = list(AgencyPeriodStatistics.model_fields)
HEADERS_ZH = {
    "period": "协查期",
    "agency_region": "经办机构区划",
    "role": "角色",
    "opened": "本期申请",
    "rolled_in": "上期转入",
    "answered_on_time": "按期完成",
    "late": "逾期",
    "open": "未完成",
    "withdrawn": "已删除",
    "disputed": "有异议",
    "escalated": "提请上级",
}


def _rows(stats: CoInvestigationStatistics) -> list[list]:
    return [[getattr(row, c) for c in COLUMNS] for row in stats.rows]


def to_csv(stats: CoInvestigationStatistics) -> bytes:
    """One header line (the field names), one line per agency and role; UTF-8 with a BOM, so that Excel
    on a Chinese Windows reads it as UTF-8 (``runtime.tables``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_rows(stats))
    return csv_bytes(out.getvalue())


def to_xlsx(stats: CoInvestigationStatistics) -> bytes:
    """A workbook with one sheet named after the period: a Chinese header row, then the rows."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = f"{stats.period} r{stats.revision}"
    sheet.append([HEADERS_ZH[c] for c in COLUMNS])
    for row in _rows(stats):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("statistics", type=Path, help="the payload of collab.coinvestigation-statistics.v1 (JSON)")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--xlsx", type=Path)
    args = parser.parse_args(argv)
    stats = CoInvestigationStatistics.model_validate(json.loads(args.statistics.read_text(encoding="utf-8")))
    if args.csv:
        args.csv.write_bytes(to_csv(stats))
    if args.xlsx:
        args.xlsx.write_bytes(to_xlsx(stats))


if __name__ == "__main__":
    main()
