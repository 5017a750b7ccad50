"""The prepayment usage chart (P-04, P-05), drawn on the server as SVG: no script to load, prints as it
shows. The usage rate after each business day with movements is a step line over the whole year
(1 January to 31 December); the 70 % (yellow) and 90 % (red) warning lines are drawn across the chart and
labelled. An account with movements but no quota yet (no rate can be computed: P-04's base is zero)
shows what it has used, in yuan, instead of an empty chart, and says so."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


def _y(percent: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - percent / top)


def usage_svg(points: list[dict], yellow: Decimal = Decimal(70), red: Decimal = Decimal(90)) -> str:
    """``points``: ``{"on": ISO date, "usage_percent": str | None}`` in date order (``/prepayment/usage``)."""
    values = [
        (date.fromisoformat(p["on"]), float(p["usage_percent"])) for p in points if p.get("usage_percent") is not None
    ]
    if not values and any(float(p.get("used") or 0) for p in points):
        return used_svg(points)
    top = max([100.0, *(v for _, v in values)]) * 1.05
    first, last = _year_of(values[0][0] if values else None)
    span = max((last - first).days, 1)
    plot_w = WIDTH - LEFT - RIGHT

    def x(day: date) -> float:
        return LEFT + plot_w * (day - first).days / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" aria-label="预付金使用率走势">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{HEIGHT - TOP - BOTTOM}" class="plot"/>',
    ]
    for tick in range(0, int(top) + 1, 20):
        ty = _y(tick, top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" class="axis" text-anchor="end">{tick}%</text>'
        )
    for level, css, label in ((yellow, "warn-yellow", "黄色预警"), (red, "warn-red", "红色预警")):
        ly = _y(float(level), top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ly:.1f}" y2="{ly:.1f}" class="{css}" '
            f'data-level="{level}"/><text x="{WIDTH - RIGHT - 4}" y="{ly - 4:.1f}" class="{css}-label" '
            f'text-anchor="end">{label} {level}%</text>'
        )
    if values:
        path, prev = [], None
        for day, value in values:
            px, py = x(day), _y(value, top)
            if prev is None:
                path.append(f"M{px:.1f},{py:.1f}")
            else:
                path.append(f"H{px:.1f}V{py:.1f}")  # a step: the rate holds until the next day with movements
            prev = value
        parts.append(f'<path d="{" ".join(path)}" class="usage-line"/>')
        for day, value in values:
            parts.append(
                f'<circle cx="{x(day):.1f}" cy="{_y(value, top):.1f}" r="3" class="usage-point">'
                f"<title>{escape(day.isoformat())}: {value:.2f}%</title></circle>"
            )
        parts.append(_months(first, x))
    else:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="axis" text-anchor="middle">暂无使用记录</text>')
    parts.append("</svg>")
    return "".join(parts)


def _year_of(day: date | None) -> tuple[date, date]:
    """The chart's time axis: the whole year of the first point (this year without points)."""
    year = (day or date.today()).year
    return date(year, 1, 1), date(year, 12, 31)


def _months(first: date, x) -> str:
    """A tick and label at the first day of each month."""
    out = []
    for month in range(1, 13):
        mx = x(date(first.year, month, 1))
        out.append(
            f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 4}" class="grid"/>'
            f'<text x="{mx + 2:.1f}" y="{HEIGHT - 14}" class="axis">{month}月</text>'
        )
    return "".join(out)


def used_svg(points: list[dict]) -> str:
    """Before a quota is set: the amount used (未清算应付 + 已清算未拨付) after each day, in yuan."""
    values = [(date.fromisoformat(p["on"]), float(p.get("used") or 0)) for p in points]
    top = max(v for _, v in values) * 1.1 or 1.0
    first, last = _year_of(values[0][0])
    plot_w = WIDTH - LEFT - RIGHT

    def x(day: date) -> float:
        return LEFT + plot_w * (day - first).days / max((last - first).days, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" aria-label="预付金已用金额走势">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{HEIGHT - TOP - BOTTOM}" class="plot"/>',
        f'<text x="{LEFT + 8}" y="{TOP + 16}" class="warn-yellow-label">额度未核定，无法计算使用率：显示已用金额（元）</text>',
    ]
    for i in range(5):
        amount = top * i / 4
        ty = _y(amount, top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" class="axis" text-anchor="end">{amount:,.0f}</text>'
        )
    path: list[str] = []
    for day, value in values:
        px, py = x(day), _y(value, top)
        path.append(f"M{px:.1f},{py:.1f}" if not path else f"H{px:.1f}V{py:.1f}")
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" class="used-point">'
            f"<title>{escape(day.isoformat())}: {value:,.2f} 元</title></circle>"
        )
    parts.append(f'<path d="{" ".join(path)}" class="used-line"/>')
    parts.append(_months(first, x))
    parts.append("</svg>")
    return "".join(parts)
