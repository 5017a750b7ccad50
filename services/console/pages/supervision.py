"""The fund supervision pages 基金监管 (000 第七十八条; R-04): a region's month — the indicators as bar charts
drawn on the server and as a table, the outliers, the flags with their evidence and workflow, the rules'
measures — with downloads (indicators CSV/XLSX, the report XLSX), and the monthly analysis report as a
printable page (the browser prints it to PDF). What an agency may see is the supervision service's to say
(its signed queries); flags are reviewed, deducted and appealed through 业务办理 (/tasks)."""

from __future__ import annotations

from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response

from services.console.backend import QueryFailed
from services.console.bars import Bar, bars_svg
from services.console.pages.common import download, months, own_region, refused_page
from services.console.users import Session


def _month(console, request: Request) -> str:
    offered = months(console, 13)
    asked = request.query_params.get("month", "")
    return asked if asked in offered else offered[1]  # last month: the one whose settlements are in


def charts(report: dict) -> dict[str, str]:
    """The month's figures as bars: cost per visit by institution and medical type, visits by medical type."""
    by_institution = [
        Bar(
            f"{r['institution_code']} {r['medical_type_words']}",
            Decimal(r["cost_per_visit"]),
            "bar-overdue"
            if any(
                o["institution_code"] == r["institution_code"] and o["medical_type"] == r["medical_type"]
                for o in report["outliers"]
            )
            else "bar",
            f"{r['cost_per_visit']} 元",
        )
        for r in report["treating_by_institution"]
        if r.get("cost_per_visit") is not None
    ]
    by_type = [
        Bar(r["medical_type_words"], Decimal(r["visits"]), "bar", f"{r['visits']} 人次")
        for r in report["treating_by_type"]
    ]
    return {
        "cost": bars_svg(by_institution, "次均费用（按机构与医疗类别）"),
        "visits": bars_svg(by_type, "结算人次（按医疗类别）"),
    }


async def _read(console, session: Session, region: str, month: str) -> tuple[dict, list[dict], list[dict]]:
    agency = session.user.agency
    report = await console.reader.get_json("supervision", agency, "/supervision/report", region=region, month=month)
    flags = (await console.reader.get_json("supervision", agency, "/supervision/flags", size="200") or {}).get(
        "flags", []
    )
    rules = (await console.reader.get_json("supervision", agency, "/supervision/rules") or {}).get("rules", [])
    mine = [f for f in flags if region in (f["treating_region"], f["insured_region"])]
    return report or {}, mine, rules


async def supervision(console, request: Request, session: Session) -> Response:
    region = request.query_params.get("region") or own_region(console, session)
    month = _month(console, request)
    if not region:
        return console.render(request, "supervision.html", region=None, month=month, months=months(console, 13))
    try:
        report, flags, rules = await _read(console, session, region, month)
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    return console.render(
        request,
        "supervision.html",
        region=region,
        month=month,
        months=months(console, 13),
        report=report,
        charts=charts(report),
        flags=flags,
        rules=rules,
    )


async def supervision_report(console, request: Request, session: Session) -> Response:
    """The monthly analysis report as a page to print (A4, no navigation)."""
    region = request.query_params.get("region") or own_region(console, session)
    month = _month(console, request)
    try:
        report = await console.reader.get_json(
            "supervision", session.user.agency, "/supervision/report", region=region, month=month
        )
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    return console.render(
        request, "supervision_report.html", region=region, month=month, report=report, charts=charts(report)
    )


async def supervision_download(console, request: Request, session: Session) -> Response:
    """The indicators (CSV or XLSX) or the report (XLSX), as the service answers them."""
    q = request.query_params
    what, month = q.get("what", "indicators"), _month(console, request)
    region = q.get("region") or own_region(console, session)
    if what == "report":
        answer = await console.reader.get(
            "supervision", session.user.agency, "/supervision/report", region=region, month=month, format="xlsx"
        )
    else:
        answer = await console.reader.get(
            "supervision",
            session.user.agency,
            "/supervision/indicators",
            month=month,
            treating_region=region,
            by="institution_code,medical_type",
            format=q.get("format", "xlsx"),
        )
    return download(console, request, answer)
