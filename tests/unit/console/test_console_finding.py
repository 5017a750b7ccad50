"""The console's finding and overview parts that need no services: the regions an agency may pick and
oversees (the registry's parent links), the bar charts, the usage chart before a quota is set."""

from __future__ import annotations

import os
from decimal import Decimal

from runtime.parties import ParticipantRegistry
from services.console.bars import Bar, bars_svg
from services.console.chart import usage_svg
from services.console.pages.regions import counterpart_bars, overseen, region_choices

PARTIES = ParticipantRegistry.load(os.environ["YIDI_KEYS_DIR"])


def test_a_province_picks_itself_and_its_cities_a_city_only_itself():
    anhui = region_choices(PARTIES, "A340000")
    assert anhui[0] == ("340000", "安徽省") and ("340200", "芜湖市") in anhui and ("340100", "合肥市") in anhui
    assert not any(code.startswith("42") for code, _ in anhui)
    assert region_choices(PARTIES, "A340200") == [("340200", "芜湖市")]
    national = [code for code, _ in region_choices(PARTIES, "A000000")]
    assert "420000" in national and "420100" in national and "340200" in national


def test_the_overview_lists_the_agencies_below_and_a_municipality_itself():
    assert [str(a.region) for a in overseen(PARTIES, "A340000")] == sorted(
        str(a.region) for a in PARTIES.agencies() if a.parent == "A340000"
    )
    assert {str(a.region) for a in overseen(PARTIES, "A000000")} >= {"340000", "420000", "110000"}
    beijing = overseen(PARTIES, "A110000")
    assert beijing and str(beijing[0].region) == "110000"


def test_bars_carry_their_figure_and_link_and_say_when_empty():
    svg = bars_svg(
        [
            Bar("芜湖市", Decimal(3), "bar-overdue", "3 件", "/regions/340200"),
            Bar("合肥市", Decimal(1), "bar-overdue", "1 件"),
        ],
        "逾期",
    )
    assert svg.count("<rect") == 2 and "3 件" in svg and 'href="/regions/340200"' in svg and "芜湖市" in svg
    assert "暂无逾期" in bars_svg([], "逾期", "暂无逾期")
    hostile = bars_svg([Bar("<script>", Decimal(1))], "x")
    assert "<script>" not in hostile


def test_a_months_clearing_by_counterpart_payable_and_receivable():
    bars = counterpart_bars(
        {
            "counterparts": [
                {"counterpart_region": "420100", "direction": "payable", "amount": "1200.50"},
                {"counterpart_region": "340100", "direction": "receivable", "amount": "88.00"},
            ]
        }
    )
    assert [(b.label, b.css, b.text) for b in bars] == [
        ("武汉市（应付）", "bar-payable", "1,200.50 元"),
        ("合肥市（应收）", "bar-receivable", "88.00 元"),
    ]


def test_movements_without_a_quota_still_draw_what_was_used():
    svg = usage_svg(
        [
            {"on": "2026-11-02", "usage_percent": None, "used": "500.00"},
            {"on": "2026-11-04", "usage_percent": None, "used": "800.00"},
        ]
    )
    assert "暂无使用记录" not in svg and svg.count('class="used-point"') == 2 and "额度未核定" in svg
    assert "800.00 元" in svg and "12月" in svg
