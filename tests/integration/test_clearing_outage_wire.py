"""C-02 after an outage, over the real wire: the clearing service is down from 09-18 to 10-08 (National
Day 2026 included), so when it starts the 21st's generation, the end of the 25th's silent confirmation
and the month-end notices of 2026-09 all fall due at once, on different partitions. Whatever order they
are handled in, each region's notice holds the pair's period with its amount: a notice read before its
period is generated is armed again a moment later (``not_yet``), never issued without it.

Wuhu (340200) insured, treated in Wuhan (420100): settlements of 2026-08-20 (pooling 900.00) and 08-25
(pooling 100.00, personal account 50.00) clear in 2026-09."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from support import Bus, ServiceProcess, at, completed_settlement, eventually, move, new_prefix

pytestmark = pytest.mark.integration

WUHU, WUHAN = "340200", "420100"


async def test_a_month_end_after_an_outage_issues_each_notice_with_its_generated_period(stack):
    prefix = new_prefix(stack, "outage")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(8, 25))
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            for sid, day, funds in (
                ("S-A", 20, {"pooling": "900.00"}),
                ("S-B", 25, {"pooling": "100.00", "personal_account": "50.00"}),
            ):
                await bus.publish(
                    "settlement.completed.v1",
                    completed_settlement(
                        sid, insured_region=WUHU, treating_region=WUHAN, settled_on=date(2026, 8, day), funds=funds
                    ),
                )
            await eventually(lambda: _entries(bus, 2))
            await move(bus, clearing, at(9, 18))
            clearing.stop()

            await bus.set_clock(at(10, 8))  # back after National Day: every 2026-09 deadline is due
            clearing.start()
            notices = {
                n["payload"]["region"]: n["payload"]
                for n in await bus.read(
                    "clearing.notice.v1", lambda m: {n["payload"]["region"] for n in m} >= {WUHU, WUHAN}, timeout=60
                )
            }
            for region, side in ((WUHU, "payable_total"), (WUHAN, "receivable_total")):
                [line] = notices[region]["counterparts"]
                assert Decimal(notices[region][side]) == Decimal("1050.00"), notices[region]
                assert line["counterpart_region"] == (WUHAN if region == WUHU else WUHU)
            generated = {
                g["event_id"]: g["payload"]
                for g in await bus.read(  # a copy has the same event id
                    "clearing.period-generated.v1", lambda m: len(m) >= 1
                )
            }
            assert [Decimal(g["settled_total"]) for g in generated.values()] == [Decimal("1050.00")]
        finally:
            clearing.stop()


async def _entries(bus: Bus, n: int) -> bool:
    return len(await bus.read("clearing.entry.v1", lambda m: True, timeout=1)) >= n
