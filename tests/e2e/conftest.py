"""The whole system: all five services as their own processes on one prefix, business time set
to a working Monday so deadlines are predictable."""
from __future__ import annotations

from datetime import datetime
from contracts.values import SHANGHAI

import pytest

from support import Bus, ServiceProcess, new_prefix

SERVICES = ("filing", "settlement", "clearing", "prepayment", "collab")
START = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
async def system(stack):
    prefix = new_prefix(stack, "e2e")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(START)
    procs = {name: ServiceProcess(stack, name, prefix).start(wait=False) for name in SERVICES}
    try:
        for proc in procs.values():
            proc.wait_healthy()
        yield procs, prefix
    finally:
        for proc in procs.values():
            proc.stop()
