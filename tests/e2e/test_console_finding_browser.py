"""Finding things and overseeing regions in a real headless Chromium (Debian's /usr/bin/chromium through
Playwright; no browser is downloaded), against all five services as their own processes (S-05..S-07,
F-15, P-04, P-05, C-02, K-02, M-03).

A Wuhu (340200) employee filed long-term to Wuhan (420100) is treated there: one stay and eleven
outpatient visits at 武汉市第一人民医院. Wuhu's operator (a city) lands on Wuhu's own page; finds the
person's settlements by ID number, ten to a page, goes to the second page, narrows to the stay and opens
its slip (附件13); downloads the list as XLSX (money a number formatted #,##0.00, dates as dates) and as
CSV (UTF-8 with a BOM); reads the prepayment ledger in words, paged, and downloads it. Anhui's reviewer
(a province) lands on the regions overview: its cities, Wuhu among them with its figures, each leading to
its page; the national reviewer sees the provinces. Wuhan's operator reads the hospital's days of
settlements and downloads them, and finds its collaboration items by filter. Every page is saved under var/screenshots/.
"""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from privacy_support import document_id
from support import ROOT, Bus, ServiceProcess, add_console_user, eventually

from runtime.query import sign_request
from simulator import scenarios

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = ROOT / "var" / "screenshots"
PASSWORD = "a-long-enough-password"
USERS = (
    ("wuhu.operator", "A340200", "operator"),
    ("anhui.reviewer", "A340000", "reviewer"),
    ("national.reviewer", "A000000", "reviewer"),
    ("wuhan.operator", "A420100", "operator"),
)
HOSPITAL, VISITS = "H42010200001", 11

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium); the "
        "browser tests never download a browser",
        allow_module_level=True,
    )


class World:
    def __init__(self, console: ServiceProcess, pid: str, stay_id: str, movements: int, on_the_day: int) -> None:
        self.url, self.pid, self.stay_id = f"http://127.0.0.1:{console.port}", pid, stay_id
        self.movements, self.on_the_day = movements, on_the_day  # the ledger's movements; the hospital's day


@pytest.fixture(scope="module")
async def world(stack, system):
    procs, prefix = system
    patient = scenarios.person(12, scenarios.ROUTES[0])  # a Wuhu employee treated in Wuhan
    pid = patient.person_id
    async with Bus(stack, prefix) as bus:
        bus.follow_clock(procs["filing"])
        await bus.publish(
            "filing.register.v1",
            scenarios.retroactive(
                scenarios.long_term_filing(patient, date(2026, 10, 28), "AG-F-0001"), date(2026, 10, 28)
            ),
            producer="agency:340200",
        )
        await bus.read("filing.changed.v1", lambda m: any(c["payload"]["snapshot"]["person_id"] == pid for c in m))

        async def filed() -> bool:  # the settlement service's filing read model has it (F-15), not only filing
            client, db = await procs["settlement"].db()
            try:
                return await db["filing_view"].find_one({"_id": document_id("filing_view", pid)}) is not None
            finally:
                await client.close()

        await eventually(filed, timeout=60)
        requests = [scenarios.stay(patient, "H42010200001-F-000000", date(2026, 10, 28), 5)]
        requests += [
            scenarios.outpatient(patient, f"H42010200001-F-{i:06d}", date(2026, 11, 2)) for i in range(1, VISITS + 1)
        ]
        await bus.publish("his.settlement-requested.v1", requests[0], producer=f"his:{HOSPITAL}")
        for request in requests[1:]:
            await bus.publish("his.outpatient-requested.v1", request, producer=f"his:{HOSPITAL}")
        wanted = {r.request_id for r in requests}
        results = await bus.read(
            "settlement.result.v2", lambda m: wanted <= {r["payload"]["request_id"] for r in m}, timeout=120
        )
        opened = [bus.open_result(r["payload"]) for r in results if r["payload"]["request_id"] in wanted]
        assert all(o["outcome"] == "completed" for o in opened), [o.get("message") for o in opened]
        by_request = {o["request_id"]: o["settlement_id"] for o in opened}
        paid = [o["settlement_id"] for o in opened if Decimal(o["slip"]["fund_total"]) > 0]  # a movement each

        def counted() -> bool:  # prepayment has counted every one the funds paid for (P-04)
            target, headers = sign_request(
                bus.signer("A340200"), "/prepayment/movements", at=bus.business_now(), region="340200"
            )
            status, body = procs["prepayment"].get(target, headers)
            return status == 200 and all(f"settlement:{s}".encode() in body for s in paid)

        await eventually(counted, timeout=90)
        target, headers = sign_request(
            bus.signer("A340200"), "/prepayment/movements", at=bus.business_now(), region="340200"
        )
        movements = len(json.loads(procs["prepayment"].get(target, headers)[1]))  # as the service lists them

        def cleared() -> bool:  # and clearing has them on the hospital's day
            target, headers = sign_request(
                bus.signer("A420100"),
                "/clearing/institution/settlements",
                at=bus.business_now(),
                institution=HOSPITAL,
                month="2026-11",
            )
            status, body = procs["clearing"].get(target, headers)
            return json.loads(body)["settlements"] if status == 200 else 0

        await eventually(lambda: cleared() >= len(paid), timeout=90)
        on_the_day = cleared()

    urls = {f"YIDI_CONSOLE_{name.upper()}_URL": f"http://127.0.0.1:{p.port}" for name, p in procs.items()}
    console = ServiceProcess(stack, "console", prefix, YIDI_CONSOLE_COOKIE_SECURE="false", **urls)
    console.env["YIDI_CONSOLE_PORT"] = str(console.port)
    for user, agency, role in USERS:
        add_console_user(console, user, agency, role, PASSWORD)
    console.start()
    try:
        yield World(console, pid, by_request[requests[0].request_id], movements, on_the_day)
    finally:
        console.stop()


async def logged_in(browser, world: World, username: str, lands_on: str):
    context = await browser.new_context(accept_downloads=True, locale="zh-CN")
    page = await context.new_page()
    await page.goto(world.url + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**{lands_on}")
    return context, page


async def shot(page, name: str) -> None:
    await page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


async def test_a_city_finds_a_persons_settlements_pages_them_and_opens_a_slip(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhu.operator", "/regions/340200")
    assert "芜湖市" in await page.inner_text("h1")
    await shot(page, "region-city")
    await page.click("text=结算查询")
    await page.fill("input[name=person_id]", world.pid)
    await page.select_option("select[name=size]", "10")
    await page.click("#find-settlements button")
    await page.wait_for_selector("#settlements")
    assert f"共 {VISITS + 1} 条 · 第 1 / 2 页" in await page.inner_text("nav.pager")
    assert await page.locator("#settlements tbody tr").count() == 10
    assert world.pid not in await page.inner_text("main")  # typed into the form, shown nowhere
    assert world.pid not in page.url
    await shot(page, "find-settlements")
    await page.click("nav.pager button:has-text('下一页')")
    await page.wait_for_selector("text=第 2 / 2 页")
    assert await page.locator("#settlements tbody tr").count() == VISITS + 1 - 10
    await shot(page, "find-settlements-page-2")
    await page.select_option("select[name=medical_type]", "inpatient")
    await page.click("#find-settlements button")
    await page.wait_for_selector("text=共 1 条")
    row = page.locator("#settlements tbody tr")
    assert world.stay_id in await row.inner_text() and "住院" in await row.inner_text()
    await row.locator("button.slip-open").click()
    await page.wait_for_selector("text=湖北省异地就医住院结算单")
    assert world.stay_id in await page.inner_text("main") and world.pid not in await page.inner_text("main")
    await shot(page, "find-settlements-slip")
    await context.close()


async def test_a_city_downloads_the_list_and_reads_the_ledger_in_words(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhu.operator", "/regions/340200")
    await page.goto(world.url + "/find/settlements")
    await page.fill("input[name=person_id]", world.pid)
    await page.click("#find-settlements button")
    await page.wait_for_selector("#settlements")
    async with page.expect_download() as xlsx:
        await page.click(".downloads button[value=xlsx]")
    sheet = load_workbook(io.BytesIO(Path(await (await xlsx.value).path()).read_bytes())).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["结算编号", "结算日期", "定点医疗机构"] and sheet.max_row == VISITS + 2
    total = sheet.cell(row=2, column=header.index("医疗费总额") + 1)
    assert total.data_type == "n" and total.number_format == "#,##0.00"
    assert sheet.cell(row=2, column=2).is_date and sheet.cell(row=2, column=3).value == "武汉市第一人民医院（样例）"
    async with page.expect_download() as csv_file:
        await page.click(".downloads button[value=csv]")
    body = Path(await (await csv_file.value).path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") and "武汉市第一人民医院（样例）" in body.decode("utf-8-sig")
    assert world.pid not in body.decode("utf-8-sig")

    await page.click("text=预付金台账")
    await page.wait_for_selector("#ledger")
    words = await page.inner_text("#ledger")
    assert "异地结算" in words and "settlement:" not in words and "未清算应付" in words
    assert f"共 {world.movements} 条" in await page.inner_text("nav.pager")  # the service's ledger, all of it
    await shot(page, "ledger")
    async with page.expect_download() as ledger_file:
        await page.click("text=Excel（XLSX）")
    book = load_workbook(io.BytesIO(Path(await (await ledger_file.value).path()).read_bytes())).active
    head = [c.value for c in book[1]]
    assert head[:3] == ["序号", "业务日期", "类别"]
    assert book.cell(row=2, column=head.index("金额（元）") + 1).number_format == "#,##0.00"
    await context.close()


async def test_a_province_lands_on_its_regions_and_opens_one(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "anhui.reviewer", "/regions")
    table = await page.inner_text("#regions")
    assert "芜湖市" in table and "合肥市" in table and "武汉市" not in table
    assert await page.locator("#overdue-chart svg").count() == 1
    await shot(page, "regions-province")
    await page.click("#regions a:has-text('芜湖市')")
    await page.wait_for_url("**/regions/340200")
    assert await page.locator("#usage-chart svg circle").count() >= 1  # drawn from the movements
    assert "芜湖市" in await page.inner_text("h1")
    await shot(page, "region-from-province")
    await page.goto(world.url + "/prepayment")  # a select, not a 6-digit box
    options = await page.locator("select[name=region] option").all_inner_texts()
    assert any("芜湖市" in o for o in options) and not any("武汉市" in o for o in options)
    await page.goto(world.url + "/regions/420100")  # not Anhui's
    assert "无权查看" in await page.inner_text("main")
    await context.close()
    context, page = await logged_in(browser, world, "national.reviewer", "/regions")
    assert "安徽省" in await page.inner_text("#regions") and "湖北省" in await page.inner_text("#regions")
    await shot(page, "regions-national")
    await context.close()


async def test_the_treating_city_reads_a_hospitals_settlements_and_finds_collaboration(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhan.operator", "/regions/420100")
    await page.goto(world.url + f"/find/hospital?institution={HOSPITAL}&month=2026-11")
    days = await page.inner_text("#hospital-days")
    total = page.locator("#hospital-days tr.total td").nth(1)
    assert "合计" in days and await total.inner_text() == str(world.on_the_day)  # as clearing's own query says
    await shot(page, "find-hospital")
    async with page.expect_download() as sheet_file:
        await page.locator(".downloads").first.locator("a:has-text('XLSX')").click()  # the days' table
    sheet = load_workbook(io.BytesIO(Path(await (await sheet_file.value).path()).read_bytes())).active
    assert [c.value for c in sheet[1]][:3] == ["结算日期", "笔数", "医疗费总额"]
    assert sheet.cell(row=2, column=1).is_date and sheet.cell(row=2, column=4).number_format == "#,##0.00"
    await page.goto(world.url + "/find/collab?kind=requests-inbox&status=open")
    assert "没有符合条件的事项" in await page.inner_text("#collab-items")
    assert "共 0 条" in await page.inner_text("nav.pager")
    await shot(page, "find-collab")
    await context.close()
