"""The agencies' console in a real headless Chromium (Debian's /usr/bin/chromium through Playwright; no
browser is downloaded), against the collab, clearing and prepayment services as their own processes on
the embedded stack, business time controlled (November 2026, ordinary working days).

Wuhu (A340200) asks Wuhan (A420100) a system-fault question (K-02: 1 working day) on Wed 4 Nov: on
Thu 5 Nov it is due today. Wuhan's operator sees it in the inbox marked due today and replies; Wuhu's
reviewer confirms the result (K-04). Wuhu's prepayment (P-02 quota from Anhui, A340000) is used by
October settlements past 70 % and then 90 %: the chart draws both warning lines and the usage steps
across them (P-04, P-05). On 21 Nov the 2026-11 clearing is generated (C-02): a table downloaded from
the console as CSV has the same figures as the signed API's, and its total line is the sum of its
lines (C-04, M-01). A wrong password and a POST without the CSRF token are refused; Wuhan opening
Wuhu's prepayment page by its URL gets 403 with the service's reason. Every page is saved as a
screenshot under var/screenshots/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from support import ROOT, Bus, ServiceProcess, add_console_user, completed_settlement, eventually, new_prefix

from contracts.collab import OpenCollabRequest, ProblemType
from contracts.prepayment import RecordPrepaymentPayment, SetAnnualQuota
from contracts.values import SHANGHAI as SH
from runtime.query import sign_request

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = ROOT / "var" / "screenshots"
WUHU, WUHAN, ANHUI = "340200", "420100", "A340000"
PASSWORD = "correct-horse-battery-9"
USERS = {
    "wuhan.operator": ("A420100", "operator"),
    "wuhan.reviewer": ("A420100", "reviewer"),
    "wuhu.reviewer": ("A340200", "reviewer"),
    "wuhu.operator": ("A340200", "operator"),
    "wuhu.operator2": ("A340200", "operator"),
    "anhui.reviewer": ("A340000", "reviewer"),
    "national.reviewer": ("A000000", "reviewer"),
}

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium); the "
        "browser tests never download a browser",
        allow_module_level=True,
    )


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SH)


class World:
    def __init__(self, bus: Bus, procs: dict[str, ServiceProcess], console: ServiceProcess) -> None:
        self.bus, self.procs, self.console = bus, procs, console
        self.url = f"http://127.0.0.1:{console.port}"
        self.request_id = ""

    async def move(self, when: datetime) -> None:
        await self.bus.set_clock(when)
        for proc in self.procs.values():
            await eventually(lambda p=proc: abs((p.business_time() - when).total_seconds()) < 60)

    def api(self, service: str, agency: str, path: str, **params) -> tuple[int, bytes]:
        target, headers = sign_request(self.bus.signer(agency), path, at=self.bus.business_now(), **params)
        return self.procs[service].get(target, headers)


def add_user(console: ServiceProcess, username: str, agency: str, role: str) -> None:
    add_console_user(console, username, agency, role, PASSWORD)


async def fund_wuhu(bus: Bus) -> Decimal:
    """P-02 (an override: a new account has no records) and its adjustment paid: the quota in force."""
    await bus.publish(
        "prepayment.set-annual-quota.v1",
        SetAnnualQuota(
            insured_region=WUHU,
            scope="cross_province",
            year=2026,
            last_year_quota="0.00",
            last_year_monthly_funds={10: "10000.00", 11: "10000.00", 12: "10000.00"},
            issued_at=bus.business_now(),
        ),
        sender=ANHUI,
    )
    quotas = await bus.read("prepayment.quota.v1", lambda m: any(q["payload"]["insured_region"] == WUHU for q in m))
    quota = next(q["payload"] for q in quotas if q["payload"]["insured_region"] == WUHU)
    await bus.publish(
        "prepayment.record-payment.v1",
        RecordPrepaymentPayment(
            payment_id="PAY-WUHU-1",
            insured_region=WUHU,
            scope="cross_province",
            notice_id=quota["notice_id"],
            amount=quota["adjustment"],
            paid_at=bus.business_now(),
        ),
        sender=ANHUI,
    )
    await bus.read("prepayment.usage.v1", lambda m: any(u["payload"]["cause"] == "payment:PAY-WUHU-1" for u in m))
    return Decimal(quota["quota"])


async def settle(world: World, sid: str, amount: Decimal, day: int) -> None:
    """An October settlement, counted by prepayment (P-04) on the business day it is received."""
    await world.bus.publish(
        "settlement.completed.v1",
        completed_settlement(
            sid,
            insured_region=WUHU,
            treating_region=WUHAN,
            settled_on=date(2026, 10, day),
            funds={"pooling": f"{amount:.2f}"},
            institution_code="H42010200001",
        ),
    )

    def counted() -> bool:
        status, body = world.api("prepayment", "A340200", "/prepayment/movements", region=WUHU)
        return status == 200 and f"settlement:{sid}".encode() in body

    await eventually(counted, timeout=60)


@pytest.fixture(scope="module")
async def world(stack):
    prefix = new_prefix(stack, "console")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(2))
        procs = {
            name: ServiceProcess(stack, name, prefix).start(wait=False) for name in ("collab", "clearing", "prepayment")
        }
        for proc in procs.values():
            proc.wait_healthy()
        urls = {f"YIDI_CONSOLE_{name.upper()}_URL": f"http://127.0.0.1:{p.port}" for name, p in procs.items()}
        console = ServiceProcess(
            stack, "console", prefix, YIDI_CONSOLE_COOKIE_SECURE="false", YIDI_CONSOLE_OUTCOME_WAIT_SECONDS="40", **urls
        )
        console.env["YIDI_CONSOLE_PORT"] = str(console.port)
        for username, (agency, role) in USERS.items():
            add_user(console, username, agency, role)
        console.start()
        w = World(bus, procs, console)
        try:
            quota = await fund_wuhu(bus)
            await w.move(at(3))
            await settle(w, "S-C1", quota * Decimal("0.60"), 12)  # 60 %
            await w.move(at(4))
            await settle(w, "S-C2", quota * Decimal("0.15"), 20)  # 75 %: yellow
            await bus.publish(
                "collab.open-request.v1",
                OpenCollabRequest(
                    request_ref="WH-2026-11-001",
                    requester_region=WUHU,
                    target_region=WUHAN,
                    matter="H42010200001 结算上传失败，请协助核查",
                    problem_type=ProblemType.SYSTEM_FAULT,
                    opened_at=bus.business_now(),
                ),
                sender="A340200",
            )
            opened = await bus.read("collab.request-opened.v1", lambda m: len(m) >= 1)
            w.request_id = opened[0]["payload"]["request_id"]
            await w.move(at(5, 9))
            await settle(w, "S-C3", quota * Decimal("0.17"), 28)  # 92 %: red
            yield w
        finally:
            console.stop()
            for proc in procs.values():
                proc.stop()


async def logged_in(browser, world: World, username: str, lands_on: str = "**/regions/*"):
    context = await browser.new_context(accept_downloads=True, locale="zh-CN")
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # the "are you sure" of final actions
    await page.goto(world.url + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lands_on)  # a city lands on its own region's page, a province on its regions
    await page.goto(world.url + "/collab")
    return context, page


async def shot(page, name: str) -> None:
    await page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


async def test_a_wrong_password_is_refused(world: World, browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(world.url + "/login")
    await shot(page, "login")
    await page.fill("input[name=username]", "wuhan.operator")
    await page.fill("input[name=password]", "not-the-password")
    await page.click("button[type=submit]")
    assert "用户名或密码错误" in await page.inner_text(".error")
    assert not [c for c in await context.cookies() if c["name"] == "yidi_session"]
    await shot(page, "login-refused")
    cookie_flags = await context.cookies()
    assert all(c["httpOnly"] and c["sameSite"] == "Strict" for c in cookie_flags if c["name"].startswith("yidi_"))
    await context.close()


async def test_repeated_failures_lock_the_account(world: World, browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    for _ in range(5):  # YIDI_CONSOLE_MAX_FAILURES (5)
        await page.goto(world.url + "/login")
        await page.fill("input[name=username]", "wuhu.operator2")
        await page.fill("input[name=password]", "wrong-password-x")
        await page.click("button[type=submit]")
    await page.goto(world.url + "/login")
    await page.fill("input[name=username]", "wuhu.operator2")
    await page.fill("input[name=password]", PASSWORD)  # right, but locked
    await page.click("button[type=submit]")
    locked = await page.inner_text(".error")
    assert "用户名或密码错误" in locked and not [c for c in await context.cookies() if c["name"] == "yidi_session"]
    await page.goto(world.url + "/login")  # an unknown name hears the very same words
    await page.fill("input[name=username]", "nobody.by.this.name")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    assert await page.inner_text(".error") == locked
    await shot(page, "login-locked")
    await context.close()


async def test_wuhan_sees_the_request_due_today_and_replies(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhan.operator")
    row = page.locator(f"tr[data-request='{world.request_id}']")
    assert await row.count() == 1
    assert "今日到期" in await row.inner_text()
    assert "武汉" in await page.inner_text(".agency")
    await shot(page, "collab-inbox-wuhan")
    await row.locator("a", has_text="答复").first.click()
    await page.wait_for_url(f"**/collab/requests/{world.request_id}*")
    await page.fill("form#reply textarea[name=text]", "已核查：医院端网络中断，已重传")
    await shot(page, "request-wuhan")
    await page.click("form#reply button[type=submit]")
    outcome = page.locator("#outcome .outcome")
    await outcome.wait_for(timeout=60000)
    assert await outcome.get_attribute("data-outcome") == "done", await outcome.inner_text()
    await shot(page, "request-replied")
    status, body = world.api("collab", "A420100", "/collab/request", id=world.request_id)
    assert status == 200 and b'"replied"' in body
    await context.close()


async def test_wuhu_confirms_the_reply(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhu.reviewer")
    await page.goto(world.url + "/collab?box=outbox")
    row = page.locator(f"tr[data-request='{world.request_id}']")
    assert "已答复待确认" in await row.inner_text()
    await shot(page, "collab-outbox-wuhu")
    await page.goto(world.url + f"/collab/requests/{world.request_id}")
    await page.click("form#confirm button[type=submit]")
    outcome = page.locator("#outcome .outcome")
    await outcome.wait_for(timeout=60000)
    assert await outcome.get_attribute("data-outcome") == "done", await outcome.inner_text()
    await page.goto(world.url + f"/collab/requests/{world.request_id}")
    assert "已确认" in await page.inner_text(".status")
    await shot(page, "request-confirmed")
    await context.close()


async def test_an_operator_cannot_take_a_reviewers_decision(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhu.operator")
    csrf = await page.locator("header input[name=csrf]").get_attribute("value")
    answer = await page.request.post(
        world.url + f"/collab/requests/{world.request_id}/dispute", form={"csrf": csrf, "text": "不同意"}
    )
    assert answer.status == 403 and "不能执行" in await answer.text()
    await context.close()


async def test_a_post_without_the_csrf_token_is_refused(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhan.operator")
    answer = await page.request.post(
        world.url + f"/collab/requests/{world.request_id}/propose_extension", form={"days": "3", "text": "需要更多时间"}
    )
    assert answer.status == 403
    assert "CSRF" in await answer.text()
    forged = await page.request.post(
        world.url + f"/collab/requests/{world.request_id}/propose_extension",
        form={"days": "3", "text": "x", "csrf": "forged-token"},
    )
    assert forged.status == 403
    status, body = world.api("collab", "A420100", "/collab/request", id=world.request_id)
    assert b'"proposed_extension":null' in body.replace(b" ", b"")  # nothing was sent
    await context.close()


async def test_wuhan_cannot_open_a_wuhu_page_by_its_url(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhan.operator")
    answer = await page.goto(world.url + f"/prepayment?region={WUHU}")
    assert answer.status == 403
    assert "机构 A420100 不负责区划 340200 的业务" in await page.inner_text(".reason")  # in Chinese
    await shot(page, "prepayment-refused-wuhan")
    status, _ = world.api("prepayment", "A420100", "/prepayment/account", region=WUHU)
    assert status == 403
    await context.close()


async def test_the_prepayment_chart_shows_both_warning_lines(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhu.operator")
    await page.goto(world.url + "/prepayment")
    chart = page.locator("svg.usage-chart")
    await chart.wait_for()
    assert await chart.locator("line.warn-yellow[data-level='70']").count() == 1
    assert await chart.locator("line.warn-red[data-level='90']").count() == 1
    assert await chart.locator("circle.usage-point").count() >= 3
    text = await page.inner_text("main")
    assert "红色预警" in text and "黄色预警" in text
    assert "紧急调增" in text  # P-05: the red warning's top-up notice, with its deadlines
    await shot(page, "prepayment-wuhu")
    await context.close()


async def test_a_downloaded_clearing_table_adds_up_to_the_api(world: World, browser) -> None:
    await world.move(at(21, 10))  # C-02: the 2026-11 ledgers are generated at 00:00 on the 21st

    def generated() -> bool:
        return world.api("clearing", "A340200", "/clearing/report", region=WUHU, month="2026-11")[0] == 200

    await eventually(generated, timeout=60)
    context, page = await logged_in(browser, world, "wuhu.reviewer")
    await page.goto(world.url + "/clearing?month=2026-11")
    await shot(page, "clearing-wuhu")
    section = page.locator("section.report-table").first
    code = await section.get_attribute("data-code")
    async with page.expect_download() as info:
        await section.locator("a.csv").click()
    download = await info.value
    raw = Path(await download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel on a Chinese Windows reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    status, body = world.api("clearing", "A340200", "/clearing/report", region=WUHU, month="2026-11")
    import json

    table = next(t for t in json.loads(body)["tables"] if t["code"] == code)
    assert rows[0] == table["columns"]
    lines, total = rows[1:-1], rows[-1]
    for column in range(1, len(rows[0])):
        assert sum(Decimal(r[column]) for r in lines) == Decimal(total[column])  # M-01: the total is the sum
        assert Decimal(total[column]) == Decimal(table["rows"][-1]["values"][column - 1])
    settled = sum(Decimal(v) for r in lines for v in r[1:])
    assert settled > 0
    # C-02: Wuhu confirms its payable to Wuhan before the end of the 25th
    period = page.locator("section.period[data-month='2026-11']")
    assert "待确认" in await period.inner_text()
    await period.locator("form[action='/clearing/confirm'] button").first.click()
    outcome = page.locator("#outcome .outcome")
    await outcome.wait_for(timeout=60000)
    assert await outcome.get_attribute("data-outcome") == "done", await outcome.inner_text()
    await page.goto(world.url + "/clearing?month=2026-11")
    assert "已确认" in await page.locator("section.period[data-month='2026-11']").inner_text()
    await shot(page, "clearing-confirmed")
    # Wuhan's reviewer does not confirm its receivable: it objects, with its reason (C-02, 004 第四十六条)
    wuhan, wpage = await logged_in(browser, world, "wuhan.reviewer")
    await wpage.goto(world.url + "/clearing?month=2026-11")
    objection = wpage.locator("section.period[data-month='2026-11'] form[action='/clearing/object']").first
    await objection.locator("input[name=reasons]").fill("H42010200001 的 10-20 结算未对账")
    await objection.locator("button").click()
    outcome = wpage.locator("#outcome .outcome")
    await outcome.wait_for(timeout=60000)
    assert await outcome.get_attribute("data-outcome") == "done", await outcome.inner_text()
    assert "有异议" in await wpage.locator("section.period[data-month='2026-11']").inner_text()
    await shot(wpage, "clearing-objected-wuhan")
    await wuhan.close()
    # after the 25th a confirmation is refused (C-02): the page shows the service's refusal and its reason
    await world.move(at(26, 10))
    csrf = await page.locator("header input[name=csrf]").get_attribute("value")
    late = await page.request.post(
        world.url + "/clearing/confirm",
        headers={"HX-Request": "true"},
        form={
            "csrf": csrf,
            "clearing_month": "2026-11",
            "insured_region": WUHU,
            "treating_region": WUHAN,
            "side": "insured",
        },
    )
    html = await late.text()
    assert 'data-outcome="refused"' in html and "C-02" in html, html
    await context.close()


async def test_every_other_page_renders(world: World, browser) -> None:
    context, page = await logged_in(browser, world, "wuhu.operator")
    for path, name in (
        ("/collab/leads", "leads"),
        ("/coinvestigations", "coinvestigations"),
        ("/filing", "filing"),
        ("/slip", "slip-form"),
    ):
        answer = await page.goto(world.url + path)
        assert answer.status == 200, path
        await shot(page, name)
    await context.close()


async def test_a_province_and_the_national_level_oversee_the_requests_between_their_regions(
    world: World, browser
) -> None:
    """Anhui (over Wuhu) and the national level see the Wuhu→Wuhan request among the items between the
    regions below them: its sides, type, state and deadline, not its matter (which stays with the
    agencies it names, K-03) and no action; their leads and co-investigation pages open too."""
    for username, name in (("anhui.reviewer", "province"), ("national.reviewer", "national")):
        context, page = await logged_in(browser, world, username, lands_on="**/regions")
        await page.goto(world.url + "/collab?box=overseen")
        row = page.locator(f"tr[data-request='{world.request_id}']")
        assert await row.count() == 1
        text = await row.inner_text()
        assert "芜湖" in text and "武汉" in text and "系统故障" in text, text
        assert "结算上传失败" not in await page.inner_text("#requests")
        assert await row.locator("a.action").count() == 0
        await shot(page, f"collab-overseen-{name}")
        for path in ("/collab/leads?box=overseen", "/coinvestigations"):
            answer = await page.goto(world.url + path)
            assert answer.status == 200, path
            await shot(page, f"{path.split('?')[0].strip('/').replace('/', '-')}-{name}")
        await context.close()
