"""The prepayment usage chart (P-04, P-05), drawn on the server as SVG: no script to load, prints as it
shows. The usage rate after each business day with movements is a step line; the 70 % (yellow) and
90 % (red) warning lines are drawn across the whole chart and labelled."""
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
    values = [(date.fromisoformat(p["on"]), float(p["usage_percent"])) for p in points
              if p.get("usage_percent") is not None]
    top = max([100.0, *(v for _, v in values)]) * 1.05
    first = values[0][0] if values else date.today()
    last = values[-1][0] if values else first
    span = max((last - first).days, 1)
    plot_w = WIDTH - LEFT - RIGHT

    def x(day: date) -> float:
        return LEFT + plot_w * (day - first).days / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" aria-label="预付金使用率走势">',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{HEIGHT - TOP - BOTTOM}" class="plot"/>']
    for tick in range(0, int(top) + 1, 20):
        ty = _y(tick, top)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" class="axis" text-anchor="end">{tick}%</text>')
    for level, css, label in ((yellow, "warn-yellow", "黄色预警"), (red, "warn-red", "红色预警")):
        ly = _y(float(level), top)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ly:.1f}" y2="{ly:.1f}" class="{css}" '
                     f'data-level="{level}"/><text x="{WIDTH - RIGHT - 4}" y="{ly - 4:.1f}" class="{css}-label" '
                     f'text-anchor="end">{label} {level}%</text>')
    if values:
        path, prev = [], None
        for day, value in values:
            px, py = x(day), _y(value, top)
            if prev is None:
                path.append(f"M{px:.1f},{py:.1f}")
            else:
                path.append(f"H{px:.1f}V{py:.1f}")   # a step: the rate holds until the next day with movements
            prev = value
        parts.append(f'<path d="{" ".join(path)}" class="usage-line"/>')
        for day, value in values:
            parts.append(f'<circle cx="{x(day):.1f}" cy="{_y(value, top):.1f}" r="3" class="usage-point">'
                         f'<title>{escape(day.isoformat())}: {value:.2f}%</title></circle>')
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 14}" class="axis">{first.isoformat()}</text>'
                     f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 14}" class="axis" text-anchor="end">{last.isoformat()}</text>')
    else:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="axis" text-anchor="middle">暂无使用记录</text>')
    parts.append("</svg>")
    return "".join(parts)
