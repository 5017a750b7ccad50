"""The whole system: all six services as their own processes on one prefix, business time set
to a working Monday so deadlines are predictable."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from support import ROOT, Bus, ServiceProcess, new_prefix

from contracts.values import SHANGHAI

SERVICES = ("filing", "settlement", "clearing", "prepayment", "collab", "supervision")
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


CHROMIUM = Path("/usr/bin/chromium")  # Debian's, never a browser download (make browser installs it)
SCREENS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="module")
async def browser():
    """Debian's chromium through Playwright, one per test module (the console's browser tests)."""
    from playwright.async_api import async_playwright

    SCREENS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()
