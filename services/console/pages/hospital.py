"""A hospital's settlements and deductions (R-01..R-04, C-07), for the agency of its region or above:
its days of the month with their reconciliation, and what it is owed for a clearing month, deduction by
deduction with their appeals — the clearing service's ``/clearing/institution/settlements`` and
``/clearing/institution/owed``, which answer an agency in clear. Both tables download as XLSX and CSV
(``runtime.tables``: money ``#,##0.00``, dates as dates, CSV with a BOM)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from runtime.tables import Column, to_csv, to_xlsx
from services.console.backend import QueryFailed
from services.console.pages.common import months, refused_page
from services.console.pages.finding import institutions
from services.console.users import Session

RECONCILIATION_ZH = {
    "matched": "已对平",
    "mismatched": "对账不符",
    "resolved": "已处理",
    "overdue": "逾期未处理",
    "not_reconciled": "未对账",
}
DAY_COLUMNS = (
    Column("day", "结算日期", "date"),
    Column("settlements", "笔数", "count"),
    Column("total", "医疗费总额", "money"),
    Column("fund", "基金支付", "money"),
    Column("personal_cash", "个人现金支付", "money"),
    Column("reconciliation_zh", "对账"),
)
DEDUCTION_COLUMNS = (
    Column("deduction_id", "扣款编号"),
    Column("settlement_id", "结算编号"),
    Column("amount", "金额（元）", "money"),
    Column("reason", "原因"),
    Column("rule", "依据"),
    Column("appeal_zh", "申诉"),
)
APPEAL_ZH = {"lodged": "已申诉待答复", "upheld": "维持扣款", "withdrawn": "已撤销扣款"}
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


async def _read(console, session: Session, institution: str, month: str) -> tuple[dict | None, dict | None]:
    agency = session.user.agency
    days = await console.reader.get_json(
        "clearing", agency, "/clearing/institution/settlements", institution=institution, month=month
    )
    owed = await console.reader.get_json(
        "clearing", agency, "/clearing/institution/owed", institution=institution, month=month
    )
    for day in (days or {}).get("days", []):
        recon = day.get("reconciliation")
        state = recon.get("status") if isinstance(recon, dict) else recon
        day["reconciliation_zh"] = RECONCILIATION_ZH.get(str(state), str(state or ""))
    for d in (owed or {}).get("deductions", []):
        d["appeal_zh"] = APPEAL_ZH.get((d.get("appeal") or {}).get("status", ""), "") if d.get("appeal") else ""
    return days, owed


def _asked(console, request: Request, session: Session) -> tuple[str, str, list]:
    q = request.query_params
    choices = institutions(console, session)
    institution = q.get("institution") or (choices[0][0] if choices else "")
    return institution, q.get("month") or months(console, 1)[0], choices


async def hospital(console, request: Request, session: Session) -> Response:
    institution, month, choices = _asked(console, request, session)
    if not MONTH.fullmatch(month) or (institution and institution not in dict(choices)):
        return console.render(request, "error.html", status=400, title="查询有误", message="月份或定点医疗机构无效")
    days = owed = None
    if institution:
        try:
            days, owed = await _read(console, session, institution, month)
        except QueryFailed as failed:
            return refused_page(console, request, failed)
    return console.render(
        request,
        "find_hospital.html",
        institution=institution,
        month=month,
        choices=choices,
        months=months(console, 12),
        days=days,
        owed=owed,
        names=dict(choices),
    )


async def hospital_download(console, request: Request, session: Session) -> Response:
    institution, month, choices = _asked(console, request, session)
    table, fmt = request.query_params.get("table", "days"), request.query_params.get("format", "xlsx")
    if (
        not MONTH.fullmatch(month)
        or institution not in dict(choices)
        or table not in ("days", "deductions")
        or fmt not in ("csv", "xlsx")
    ):
        return console.render(request, "error.html", status=400, title="无法下载", message="参数无效")
    try:
        days, owed = await _read(console, session, institution, month)
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    rows, columns = (
        ((days or {}).get("days", []), DAY_COLUMNS)
        if table == "days"
        else ((owed or {}).get("deductions", []), DEDUCTION_COLUMNS)
    )
    name = f"{institution}-{month}-{'settlements' if table == 'days' else 'deductions'}.{fmt}"
    body = to_csv(rows, columns) if fmt == "csv" else to_xlsx(rows, columns, "结算" if table == "days" else "扣款")
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})
