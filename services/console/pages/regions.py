"""Where a user lands (P-05, C-02, K-02..K-05): a province or the national level sees the regions it
oversees — the registry's agencies below it (their ``parent`` links) — each with what needs attention:
a red prepayment warning, overdue collaboration items, clearing periods not yet confirmed; a city
lands on its own region's page. Every figure comes from the services' signed queries as the user's
agency, so a service's visibility rules decide what shows. Charts: overdue collaboration by agency,
a month's clearing by counterpart, the prepayment usage over the year."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from contracts.parties import Agency
from runtime.parties import ParticipantRegistry
from services.console.bars import Bar, bars_svg
from services.console.chart import usage_svg
from services.console.pages.labels import region_name
from services.console.users import Session


def below(parties: ParticipantRegistry, code: str) -> list[Agency]:
    """The agencies whose parent is ``code``, by region."""
    return sorted((a for a in parties.agencies() if a.parent == code and a.region), key=lambda a: str(a.region))


def region_choices(parties: ParticipantRegistry, code: str) -> list[tuple[str, str]]:
    """The regions an agency may pick: its own, then every region below it (a province's cities; for the
    national level each province and its cities), as ``(code, name)`` for a select."""
    out: list[tuple[str, str]] = []
    own = parties.get(code)
    if isinstance(own, Agency) and own.region:
        out.append((str(own.region), region_name(own.region)))
    stack = below(parties, code)
    while stack:
        agency = stack.pop(0)
        out.append((str(agency.region), region_name(agency.region)))
        stack[0:0] = below(parties, agency.code)
    return list(dict.fromkeys(out))


def overseen(parties: ParticipantRegistry, code: str) -> list[Agency]:
    """The regions on the overview: the agencies directly below; a province without cities of its own
    in the registry (a municipality pooled at the province) shows itself."""
    own = parties.get(code)
    found = below(parties, code)
    if not found and isinstance(own, Agency) and own.region:
        return [own]
    return found


async def _attention(console, agency: str, region: str, overdue: dict[str, int]) -> dict:
    """One region's figures: its prepayment account (level, usage), its periods awaiting confirmation,
    its overdue collaboration items (the region and the regions below it)."""
    account, periods = await asyncio.gather(
        console.reader.get("prepayment", agency, "/prepayment/account", region=region, scope="cross_province"),
        console.reader.get("clearing", agency, "/clearing/periods", region=region),
    )
    acc = account.json() if account.ok else None
    body = periods.json() if periods.ok else {}
    listed = body.get("periods", []) if isinstance(body, dict) else []
    waiting = [p for p in listed if p.get("state") == "generated"]
    prefix = region[:2] if region.endswith("0000") else region
    late = sum(n for r, n in overdue.items() if r.startswith(prefix))
    return {
        "region": region,
        "name": region_name(region),
        "level": acc.get("level") if acc else None,
        "usage_percent": acc.get("usage_percent") if acc else None,
        "unconfirmed": len(waiting),
        "unconfirmed_months": sorted({p["clearing_month"] for p in waiting}),
        "overdue": late,
        "attention": bool((acc and acc.get("level") == "red") or waiting or late),
    }


async def _overdue(console, agency: str) -> dict[str, int]:
    answer = await console.reader.get("collab", agency, "/collab/overdue")
    rows = answer.json().get("regions", []) if answer.ok else []
    return {r["region"]: int(r["total"]) for r in rows}


async def regions(console, request: Request, session: Session) -> Response:
    """The overview: a row and a bar per region overseen; a city goes to its own region's page."""
    me = console.agency(session.user.agency)
    if me.level.value == "city" and me.region:
        return RedirectResponse(f"/regions/{me.region}", status_code=303)
    agency = session.user.agency
    overdue = await _overdue(console, agency)
    rows = await asyncio.gather(
        *(_attention(console, agency, str(a.region), overdue) for a in overseen(console.parties, agency))
    )
    chart = bars_svg(
        [
            Bar(r["name"], Decimal(r["overdue"]), "bar-overdue", f"{r['overdue']} 件", f"/regions/{r['region']}")
            for r in rows
            if r["overdue"]
        ],
        "逾期协同事项（按地区）",
        "暂无逾期协同事项",
    )
    return console.render(request, "regions.html", rows=rows, chart=chart)


async def region(console, request: Request, session: Session) -> Response:
    """One region's page: its figures, its usage chart, its latest month's clearing by counterpart,
    links to its clearing, prepayment and ledger pages."""
    code = request.path_params["region"]
    agency = session.user.agency
    if not re.fullmatch(r"\d{6}", code) or not console.parties.speaks_for(agency, code):
        return console.render(
            request, "error.html", status=403, title="无权查看", message="本机构不负责该地区，无法查看其情况。"
        )
    overdue = await _overdue(console, agency)
    figures, usage, periods = await asyncio.gather(
        _attention(console, agency, code, overdue),
        console.reader.get("prepayment", agency, "/prepayment/usage", region=code, scope="cross_province"),
        console.reader.get("clearing", agency, "/clearing/periods", region=code),
    )
    use = usage.json() if usage.ok else None
    chart = usage_svg(use["points"], Decimal(use["yellow_percent"]), Decimal(use["red_percent"])) if use else ""
    body = periods.json() if periods.ok else {}
    listed = body.get("periods", []) if isinstance(body, dict) else []
    latest = max(listed, key=lambda p: p.get("clearing_month", ""), default=None)
    clearing_chart = bars_svg(counterpart_bars(latest), "清算金额（按对方地区）", "本月暂无清算") if latest else ""
    return console.render(
        request,
        "region.html",
        figures=figures,
        usage=use,
        chart=chart,
        latest=latest,
        clearing_chart=clearing_chart,
        below=[(str(a.region), region_name(a.region)) for a in below(console.parties, agency) if str(a.region) != code],
    )


def counterpart_bars(period: dict) -> list[Bar]:
    """A period's counterparts: what the region pays (应付) or receives (应收) from each, largest first."""
    bars = []
    for pair in period.get("counterparts", []):
        amount = Decimal(str(pair.get("amount", "0")))
        payable = pair.get("direction") == "payable"
        bars.append(
            Bar(
                region_name(pair.get("counterpart_region")) + ("（应付）" if payable else "（应收）"),
                amount,
                "bar-payable" if payable else "bar-receivable",
                f"{amount:,.2f} 元",
            )
        )
    return sorted(bars, key=lambda b: b.value, reverse=True)


async def landing(console, request: Request, session: Session) -> Response:
    """Home: the regions overview (a city: its own region)."""
    return await regions(console, request, session)
