"""Replay over the real wire: the clearing service clears 2026-09 (Wuhu 340200 and Hefei 340100 treated
in Wuhan 420100; a refund and an audit deduction of Wuhan), then ``yidi clearing replay --month 2026-09``
rebuilds its ledgers, notices and tables from the archived lines and prints ``identical: true``; with
one archived line removed it prints the differences and exits 1."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
from support import Bus, ServiceProcess, at, completed_settlement, eventually, move, new_prefix

from contracts.clearing import FundAmounts, RecordAuditDeduction

pytestmark = pytest.mark.integration

WUHU, WUHAN, HEFEI = "340200", "420100", "340100"


def replay(proc: ServiceProcess) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "clearing", "replay", "--month", "2026-09"],
        env=proc.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


async def test_a_period_replayed_from_its_archived_lines_is_identical(stack):
    prefix = new_prefix(stack, "replay")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(8, 20))
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            for sid, insured, pooling in (("S-A", WUHU, "1000.00"), ("S-B", HEFEI, "400.00")):
                await bus.publish(
                    "settlement.completed.v1",
                    completed_settlement(
                        sid,
                        insured_region=insured,
                        treating_region=WUHAN,
                        settled_on=date(2026, 8, 20),
                        funds={"pooling": pooling},
                    ),
                )
            await bus.read("clearing.entry.v1", lambda m: len(m) >= 2, timeout=40)
            await move(bus, clearing, at(9, 10))
            await bus.publish(
                "clearing.record-audit-deduction.v1",
                RecordAuditDeduction(
                    deduction_id="D1",
                    settlement_id="S-A",
                    insured_region=WUHU,
                    treating_region=WUHAN,
                    reason="超限价收费",
                    amounts=FundAmounts(insurance_type="310", funds={"pooling": "300.00"}),
                    decided_at=bus.business_now(),
                ),
                sender="A420100",
            )
            await bus.read("clearing.entry.v1", lambda m: len(m) >= 3, timeout=40)
            await move(bus, clearing, at(9, 21))
            await bus.read("clearing.period-generated.v1", lambda m: len(m) >= 2, timeout=40)
            await move(bus, clearing, at(9, 30))
            await bus.read("clearing.notice.v1", lambda m: len(m) >= 3, timeout=40)

            async def replayed() -> dict:
                code, result = replay(clearing)
                assert result["notices"] == 3, result
                return code, result

            code, result = await eventually(replayed, timeout=40)
            assert code == 0 and result["identical"] is True and result["differences"] == [], result
            assert (result["month"], result["ledgers"]) == ("2026-09", 2) and result["tables"] > 0

            client, db = await clearing.db()
            try:
                removed = await db["entries"].delete_one({"settlement_id": "S-B"})
                assert removed.deleted_count == 1
            finally:
                await client.close()
            code, result = replay(clearing)
            assert code == 1 and result["identical"] is False
            where = {d["where"] for d in result["differences"]}
            assert f"ledger 2026-09:{HEFEI}:{WUHAN}" in where and f"notice {HEFEI}:2026-09 payable_total" in where
        finally:
            clearing.stop()
