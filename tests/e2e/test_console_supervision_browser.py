"""Fund supervision 基金监管 in a real headless Chromium (Debian's /usr/bin/chromium through Playwright; no
browser is downloaded), against the supervision service and the console as their own processes
(000 第七十八条; R-04).

October 2026 in Wuhan (420100): Wuhu people's outpatient visits at two hospitals, the second far dearer
per visit than the region (an outlier of the monthly report), and a stay billed just under the 30 000
yuan co-investigation start (flag SV-03). Wuhan's operator opens 基金监管 for October: the indicators'
charts drawn on the server, the outlier called out, the flag with its evidence and the rules' measures;
downloads the indicators (XLSX) and the monthly report (XLSX); opens the printable report. Every page is
saved under var/screenshots/."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from supervision_support import settlement
from support import ROOT, Bus, ServiceProcess, at, eventually, new_prefix

from contracts.values import make_person_id
from runtime.query import sign_request

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = ROOT / "var" / "screenshots"
PASSWORD = "a-long-enough-password"
DAY = date(2026, 10, 12)

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium); the "
        "browser tests never download a browser",
        allow_module_level=True,
    )


def october() -> list:
    visits = [
        settlement(f"S-a{i}", total="100.00", fund="70.00", person_id=make_person_id(f"34020219700101{i:03d}"))
        for i in range(4)
    ]
    visits.append(settlement("S-b0", total="400.00", fund="280.00", institution="H42010200002"))
    stay = settlement("S-h0", total="29900.00", fund="20930.00", stay=(DAY - timedelta(days=8), DAY))
    return [*visits, stay]


@pytest.fixture(scope="module")
async def console_url(stack):
    prefix = new_prefix(stack, "e2e-supervision")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(11, 2))
        supervision = ServiceProcess(stack, "supervision", prefix).start()
        for s in october():
            await bus.publish("settlement.completed.v1", s)

        def flagged() -> bool:
            target, headers = sign_request(bus.signer("A420100"), "/supervision/flags", at=bus.business_now())
            status, body = supervision.get(target, headers)
            return status == 200 and b"S-h0:SV-03" in body

        await eventually(flagged, timeout=60)
    console = ServiceProcess(
        stack,
        "console",
        prefix,
        YIDI_CONSOLE_COOKIE_SECURE="false",
        YIDI_CONSOLE_SUPERVISION_URL=f"http://127.0.0.1:{supervision.port}",
    )
    console.env["YIDI_CONSOLE_PORT"] = str(console.port)
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "console", "user", "add", "wuhan.operator"]
        + ["--agency", "A420100", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
        env=console.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    console.start()
    try:
        yield f"http://127.0.0.1:{console.port}"
    finally:
        console.stop()
        supervision.stop()


async def test_an_agency_reads_the_months_charts_flags_and_downloads_the_report(console_url, browser) -> None:
    context = await browser.new_context(accept_downloads=True, locale="zh-CN")
    page = await context.new_page()
    await page.goto(console_url + "/login")
    await page.fill("input[name=username]", "wuhan.operator")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/regions/**")
    await page.click("nav >> text=基金监管")
    await page.select_option("select[name=month]", "2026-10")
    await page.click("form.filters button")
    await page.wait_for_selector("#chart-cost svg")
    main = await page.inner_text("main")
    assert "运行监测指标" in main
    # (4 × 100.00 + 400.00) / 5 = 160.00 a visit; 400.00 is 150.00 % above it: the report's outlier
    assert "次均费用 400.00 元，高于本地区同类 160.00 元的 150.00%" in main
    assert await page.locator("#chart-cost rect.bar-overdue").count() == 1
    assert "400.00 元" in await page.inner_text("#chart-cost")
    flag = page.locator('#flags tr[data-flag="S-h0:SV-03"]')
    assert "待审核" in await flag.inner_text() and "距起点：100.00" in await flag.inner_text()
    assert "1" in await page.inner_text('#rules tr[data-rule="SV-03"]')
    await page.screenshot(path=str(SCREENS / "supervision.png"), full_page=True)

    async with page.expect_download() as indicators:
        await page.click("text=下载监测指标（XLSX）")
    sheet = load_workbook(io.BytesIO(Path(await (await indicators.value).path()).read_bytes())).active
    assert sheet is not None and sheet.cell(1, 1).value == "月份"
    async with page.expect_download() as report:
        await page.click("text=下载分析报告（XLSX）")
    book = load_workbook(io.BytesIO(Path(await (await report.value).path()).read_bytes()))
    assert book["异常提示"].cell(2, 1).value == "H42010200002"

    await page.click("text=月度运行分析报告（可打印）")
    await page.wait_for_selector("article.report")
    assert "武汉市 2026-10 异地就医直接结算运行分析报告" in await page.inner_text("h1")
    await page.emulate_media(media="print")
    assert not await page.locator("header.top").is_visible()  # the print view: no navigation
    pdf = await page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    await page.screenshot(path=str(SCREENS / "supervision-report.png"), full_page=True)
    await context.close()
