"""Bar charts drawn on the server as SVG (no script; prints as it shows): a month's clearing by
counterpart (payable and receivable), overdue collaboration by agency. Each bar carries its figure as
text and a ``<title>`` tooltip, so the chart reads without colour too."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

WIDTH, ROW, LEFT, RIGHT, TOP = 760, 26, 190, 120, 10


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    css: str = "bar"  # bar | bar-payable | bar-receivable | bar-overdue
    text: str = ""  # the figure as printed beside the bar (default: the value)
    href: str = ""  # where the bar leads (the region's page)


def bars_svg(bars: list[Bar], title: str, empty: str = "暂无数据") -> str:
    """Horizontal bars scaled to the largest value, labelled on the left, the figure on the right."""
    height = TOP * 2 + max(len(bars), 1) * ROW
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" aria-label="{escape(title)}">'
    ]
    if not bars:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{height / 2 + 4}" class="axis" text-anchor="middle">{escape(empty)}</text>'
        )
    top = max((abs(b.value) for b in bars), default=Decimal(0)) or Decimal(1)
    span = WIDTH - LEFT - RIGHT
    for i, b in enumerate(bars):
        y = TOP + i * ROW
        w = float(abs(b.value) / top) * span
        text = escape(b.text or str(b.value))
        bar = (
            f'<rect x="{LEFT}" y="{y + 4}" width="{max(w, 1):.1f}" height="{ROW - 8}" class="{b.css}">'
            f"<title>{escape(b.label)}：{text}</title></rect>"
        )
        label = f'<text x="{LEFT - 8}" y="{y + ROW / 2 + 4}" class="axis" text-anchor="end">{escape(b.label)}</text>'
        if b.href:
            label = f'<a href="{escape(b.href)}">{label}</a>'
        parts.append(label + bar + f'<text x="{LEFT + w + 6:.1f}" y="{y + ROW / 2 + 4}" class="figure">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)
