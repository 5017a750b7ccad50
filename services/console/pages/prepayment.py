"""The prepayment page (P-04..P-09): a region's prepayment account, its usage against the warning
levels as a chart, and its latest movements."""

from __future__ import annotations

from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response

from services.console.backend import QueryFailed
from services.console.chart import usage_svg
from services.console.pages.common import own_region, refused_page
from services.console.users import Session


async def prepayment(console, request: Request, session: Session) -> Response:
    q = request.query_params
    region = q.get("region") or own_region(console, session)
    scope = q.get("scope", "cross_province")
    if not region:
        return console.render(
            request, "prepayment.html", region=None, scope=scope, account=None, usage=None, chart="", movements=[]
        )
    agency = session.user.agency
    try:
        account = await console.reader.get_json("prepayment", agency, "/prepayment/account", region=region, scope=scope)
        usage = (
            await console.reader.get_json("prepayment", agency, "/prepayment/usage", region=region, scope=scope)
            if account
            else None
        )
        movements = (
            (
                await console.reader.get_json(
                    "prepayment", agency, "/prepayment/movements", region=region, scope=scope, page="1", size="100"
                )
                or {}
            ).get("movements", [])
            if account
            else []
        )  # the newest 100, in words; all of them on the ledger page (/ledger)
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    chart = usage_svg(usage["points"], Decimal(usage["yellow_percent"]), Decimal(usage["red_percent"])) if usage else ""
    return console.render(
        request,
        "prepayment.html",
        region=region,
        scope=scope,
        account=account,
        usage=usage,
        chart=chart,
        movements=movements,
    )
