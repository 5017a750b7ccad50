"""业务办理 in a real headless Chromium (Debian's /usr/bin/chromium through Playwright), against the
filing, clearing, prepayment and collab services as their own processes on the embedded stack, business
time controlled (Monday 2 November 2026).

Each kind of task, started from the console by the role that should: Wuhu's operator (A340200, a city)
opens a collaboration request and hands over a lead (sent at once: done), registers a filing (its form
refuses a wrong ID number beside the field first; then the filing service's answer, accepted or refused by
its rules, in Chinese) and reports a delay for a notice the account does not have (refused, in Chinese);
a final task (a notice) is the reviewer's, after an "are you sure" page that repeats what will be sent.
Anhui (A340000, a province) sets Wuhu's annual quota in two steps: its operator drafts it, the operator
cannot approve it, its reviewer does and only then is it sent (P-02). The national agency (A000000)
resolves an objection in a month that has no clearing ledger, in two steps too, and sees the clearing
service's refusal in Chinese (C-02). Every new page is saved under var/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

import pytest
from support import ROOT, Bus, ServiceProcess, add_console_user, new_prefix

from contracts.values import SHANGHAI as SH
from contracts.values import make_person_id

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = ROOT / "var" / "screenshots"
PASSWORD = "correct-horse-battery-9"
USERS = {
    "wuhu.operator": ("A340200", "operator"),
    "wuhu.reviewer": ("A340200", "reviewer"),
    "anhui.operator": ("A340000", "operator"),
    "anhui.reviewer": ("A340000", "reviewer"),
    "national.operator": ("A000000", "operator"),
    "national.reviewer": ("A000000", "reviewer"),
}
START = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
CHINESE = re.compile(r"[\u4e00-\u9fff]")

if not CHROMIUM.exists():
    pytest.fail("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")


def add_user(console: ServiceProcess, username: str, agency: str, role: str) -> None:
    add_console_user(console, username, agency, role, PASSWORD)


@pytest.fixture(scope="module")
async def console_url(stack):
    prefix = new_prefix(stack, "tasks")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(START)
    procs = {
        name: ServiceProcess(stack, name, prefix).start(wait=False)
        for name in ("filing", "settlement", "collab", "clearing", "prepayment", "supervision")
    }
    console = None
    try:
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
        yield f"http://127.0.0.1:{console.port}"
    finally:
        if console is not None:
            console.stop()
        for proc in procs.values():
            proc.stop()


async def logged_in(browser, url: str, username: str):
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(url + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/regions**")  # the regions overview, or a city's own region
    return context, page


async def shot(page, name: str) -> None:
    await page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


async def submit(page) -> str:
    await page.click("form.act button[type=submit]")
    outcome = page.locator("[data-outcome]").first
    await outcome.wait_for(timeout=60000)
    return str(await outcome.get_attribute("data-outcome"))


async def outcome_text(page) -> str:
    return await page.locator("[data-outcome]").first.inner_text()


async def test_a_city_operator_starts_tasks_and_sees_their_outcome(console_url, browser) -> None:
    context, page = await logged_in(browser, console_url, "wuhu.operator")
    await page.click("nav a[href='/tasks']")
    await page.wait_for_url("**/tasks")
    text = await page.inner_text("main")
    for title in ("发起业务协同请求", "登记异地就医备案", "核定年度预付金额度", "登记审核扣款", "发布通知公告"):
        assert title in text
    notice = page.locator("li[data-topic='collab.publish-notice.v1']")
    assert "复核岗办理" in await notice.inner_text() and await notice.locator("a").count() == 0
    await shot(page, "tasks-wuhu-operator")

    # a collaboration request: its own region preselected, the only one offered to a city
    await page.goto(console_url + "/tasks/collab-open-request")
    own = page.locator("select[name=requester_region] option[value]:not([value=''])")
    assert await own.count() == 1 and await own.first.get_attribute("value") == "340200"
    assert await page.locator("select[name=requester_region]").input_value() == "340200"
    assert "主要协同事项" in await page.inner_text("form.act")
    await page.select_option("select[name=target_region]", "420100")
    await page.fill("textarea[name=matter]", "H42010200001 结算上传失败，请协助核查")
    await page.select_option("select[name=problem_type]", "system_fault")
    await shot(page, "task-form-open-request")
    assert await submit(page) == "done", await outcome_text(page)
    assert "协同请求已发出" in await outcome_text(page)
    await shot(page, "task-done-open-request")

    # a lead handed over to the treating place
    await page.goto(console_url + "/tasks/collab-hand-over-lead")
    await page.select_option("select[name=treating_region]", "420100")
    await page.select_option("select[name=subject]", "insured_person")
    await page.fill("input[name=person_id]", make_person_id("34020219600101123"))
    await page.fill("textarea[name=description]", "同一住院号两次结算")
    assert await submit(page) == "done", await outcome_text(page)

    # a filing: a wrong ID number is refused beside its field, in Chinese, before anything is sent
    await page.goto(console_url + "/tasks/filing-register")
    await page.fill("input[name=person_id]", "340202196001011234")
    await page.fill("input[name=name]", "张三")
    await page.select_option("select[name=treating_region]", "420100")
    await page.select_option("select[name=category]", "resettled_retiree")
    await page.fill("input[name=start_date]", "2026-11-03")
    await page.check("input[name=proofs][value=credential]")
    await page.check("input[name=proofs][value=filing_form]")
    await page.check("input[name=proofs][value=household_register]")
    await page.check("input[name=proofs][value=residence_proof]")
    assert await submit(page) == "invalid"
    error = await page.inner_text("[data-error-for=person_id]")
    assert "身份证号码" in error
    await shot(page, "task-form-invalid")
    await page.fill("input[name=person_id]", make_person_id("34020219550101123"))
    kind = await submit(page)
    text = await outcome_text(page)
    assert kind in ("done", "refused"), text
    assert CHINESE.search(text) and (
        ("备案已受理" in text or "备案已变更" in text) if kind == "done" else "业务规则不允许" in text
    )  # accepted and changed are published together
    await shot(page, "task-outcome-filing")

    # a delay reported for a notice the account does not have: the service's refusal, in Chinese
    await page.goto(console_url + "/tasks/prepayment-report-delay")
    await page.select_option("select[name=scope]", "cross_province")
    await page.fill("input[name=notice_id]", "1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    await page.fill("textarea[name=reason]", "财政审批流程未完成")
    assert await submit(page) == "refused", await outcome_text(page)
    reason = await page.inner_text("[data-outcome] .reason")
    assert CHINESE.search(reason), reason
    await shot(page, "task-refused-report-delay")
    await context.close()


async def test_a_final_task_asks_first_and_is_the_reviewers(console_url, browser) -> None:
    context, page = await logged_in(browser, console_url, "wuhu.reviewer")
    await page.goto(console_url + "/tasks/collab-publish-notice")
    assert await page.locator("input[name=publisher]").count() == 0  # the agency's own code, not asked
    await page.select_option("select[name=kind]", "policy")
    await page.fill("input[name=title]", "关于异地就医备案材料的通知")
    await page.fill("textarea[name=body]", "自12月1日起，备案材料以电子凭证为准。")
    await page.click("form.act button[type=submit]")
    await page.wait_for_selector("#confirm-send")
    summary = await page.inner_text("dl.summary")
    assert "关于异地就医备案材料的通知" in summary and "政策通知" in summary
    assert "不可撤销" in await page.inner_text("main")
    await shot(page, "task-confirm-notice")
    await page.click("#confirm-send")
    outcome = page.locator("[data-outcome]").first
    await outcome.wait_for(timeout=60000)
    assert await outcome.get_attribute("data-outcome") == "done", await outcome.inner_text()
    assert "公告已发布" in await outcome.inner_text()
    await context.close()


async def test_a_province_sets_a_quota_in_two_steps(console_url, browser) -> None:
    context, page = await logged_in(browser, console_url, "anhui.operator")
    await page.goto(console_url + "/tasks/prepayment-set-annual-quota")
    offered = await page.locator("select[name=insured_region] option").all_inner_texts()
    assert any("芜湖" in o for o in offered) and not any("武汉" in o for o in offered)  # the regions it keeps
    await page.select_option("select[name=insured_region]", "340200")
    await page.select_option("select[name=scope]", "cross_province")
    await page.fill("input[name=year]", "2026")
    await page.fill("input[name=last_year_quota]", "0.00")
    await page.fill("textarea[name=last_year_monthly_funds]", "10=10000.00\n11=10000.00\n12=10000.00")
    assert await submit(page) == "drafted"
    await shot(page, "task-drafted-quota")
    draft_url = await page.locator("a[href^='/tasks/drafts/']").first.get_attribute("href")
    await page.goto(console_url + draft_url)
    assert await page.locator("#approve").count() == 0  # the operator cannot approve
    csrf = await page.locator("header input[name=csrf]").get_attribute("value")
    refused = await page.request.post(console_url + draft_url + "/approve", form={"csrf": csrf})
    assert refused.status == 403
    await context.close()

    context, page = await logged_in(browser, console_url, "anhui.reviewer")
    await page.goto(console_url + "/tasks")
    assert "待复核" in await page.inner_text("#drafts")
    await shot(page, "tasks-drafts-anhui-reviewer")
    await page.goto(console_url + draft_url)
    summary = await page.inner_text("dl.summary")
    assert "340200 芜湖" in summary and "跨省" in summary
    await shot(page, "task-review-quota")
    await page.click("#approve")
    outcome = page.locator("[data-outcome]").first
    await outcome.wait_for(timeout=60000)
    assert await outcome.get_attribute("data-outcome") == "done", await outcome.inner_text()
    effect = await outcome.inner_text()  # the quota and the account's usage are published together
    assert "额度已核定" in effect or "预付金台账已更新" in effect, effect
    await shot(page, "task-approved-quota")
    await page.goto(console_url + draft_url)
    assert "已复核发送" in await page.inner_text(".status")  # decided once
    await context.close()


async def test_the_national_agency_sees_a_refusal_in_chinese(console_url, browser) -> None:
    context, page = await logged_in(browser, console_url, "national.operator")
    await page.goto(console_url + "/tasks/clearing-resolve-objection")
    assert await page.input_value("input[name=objection_id]") == ""  # an existing objection is named, not made up
    await page.fill("input[name=objection_id]", "OBJ-2026-10-001")
    await page.fill("input[name=clearing_month]", "2026-10")
    await page.select_option("select[name=insured_region]", "340200")
    await page.select_option("select[name=treating_region]", "420100")
    await page.select_option("select[name=outcome]", "dismissed")
    await page.fill("textarea[name=resolution]", "经核对，结算数据一致")
    assert await submit(page) == "drafted"
    draft_url = await page.locator("a[href^='/tasks/drafts/']").first.get_attribute("href")
    await context.close()
    context, page = await logged_in(browser, console_url, "national.reviewer")
    await page.goto(console_url + draft_url)
    await page.click("#approve")
    outcome = page.locator("[data-outcome]").first
    await outcome.wait_for(timeout=60000)
    assert await outcome.get_attribute("data-outcome") == "refused", await outcome.inner_text()
    words = await outcome.inner_text()
    assert "被拒绝" in words and "业务规则不允许" in words and "清算台账" in words
    assert CHINESE.search(await page.inner_text("[data-outcome] .reason"))
    await shot(page, "task-refused-national")
    await context.close()


# Every command with a form, started by the agency whose authority it is (``yidi authority``): the city
# for its filings, insured persons, daily totals, prepayment notices and collaboration; Anhui, one level
# above Wuhu, for the quota, the payment and the interest; the national level for an objection. What a
# form needs beyond what the generic filler below gives (references, months, a stay of 30,000 yuan or
# more for a co-investigation, Q-01) is named here; a reference to an item that does not exist is refused
# by the service, which is an outcome the clerk sees in Chinese like any other; a command whose effect no
# query shows within the console's wait is "sent" (已发送, ``pending``), and a refusal still reaches the page.
SENDER = {
    "prepayment.set-annual-quota.v1": "anhui",
    "prepayment.decide-sanction.v1": "anhui",
    "prepayment.record-top-up.v1": "anhui",
    "prepayment.record-return.v1": "anhui",
    "prepayment.record-payment.v1": "anhui",
    "prepayment.share-interest.v1": "anhui",
    "clearing.resolve-objection.v1": "national",
}
GIVEN = {
    "filing_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca429",
    "name": "张三",
    "clearing_month": "2026-10",
    "settlement_id": "S-2026-000001",
    "institution_code": "H34020200001",
    "disease_code": "M03900",
    "notice_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "request_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca428",
    "payment_id": "PAY-2026-11-001",
    "interest_id": "INT-2026-10",
    "stay.institution": "H42010200001",
    "stay.admission_no": "ZY2026100001",
    "stay.invoice_no": "FP2026100001",
    "stay.admission_date": "2026-10-01",
    "stay.discharge_date": "2026-10-10",
    "stay.total": "35000.00",
    "year": "2026",
    "start_date": "2026-11-03",
    "period_start": "2026-10-01",
    "period_end": "2026-10-31",
    "last_year_monthly_funds": "10=10000.00",
    "title": "关于异地就医结算系统升级的通知",
    "reason": "样例：经办测试",
    "effective_from": "2026-11-07T00:00",
    "effective_until": "2026-11-07T04:00",
    "end_date": "2026-11-12",
    "claim_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca42a",
    "proposal_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca42b",
    "flag_id": "S-6d1f0c2a:SV-03",
    "diagnoses.0.code": "I63.9",
    "diagnoses.0.name": "脑梗死",
    "fee_lines.0.line_no": "1",
    "fee_lines.0.item_code": "XB01ACA056A001010100445",
    "fee_lines.0.item_name": "阿司匹林肠溶片",
    "fee_lines.0.quantity": "2",
    "fee_lines.0.unit_price": "15.00",
    "fee_lines.0.amount": "30.00",
}
# fills what is still empty and required: the first offered choice, a date, an amount, an ID number, words
FILL = """([person]) => {
  const form = document.querySelector('form.act');
  for (const el of form.querySelectorAll('select[required], select[multiple]')) {
    if (!el.value) { const o = [...el.options].find(o => o.value); if (o) o.selected = true; }
  }
  for (const group of form.querySelectorAll('span.choices')) {
    if (!group.querySelector('input:checked')) group.querySelector('input').checked = true;
  }
  for (const el of form.querySelectorAll('input[required], textarea[required]')) {
    if (el.value) continue;
    if (el.type === 'date') el.value = '2026-11-02';
    else if (el.type === 'datetime-local') el.value = '2026-11-02T09:00';
    else if (el.type === 'number') el.value = '1';
    else if (el.inputMode === 'decimal') el.value = '100.00';
    else if (el.placeholder.includes('身份证')) el.value = person;
    else el.value = '样例：经办测试';
  }
  // one amount of an amount-per-fund set (an audit deduction); a row of a list is left to GIVEN
  const funds = [...form.querySelectorAll('fieldset input[inputmode=decimal][pattern]')].find(e => !e.closest('div.row'));
  if (funds && !funds.value) funds.value = '100.00';
}"""


async def test_every_command_with_a_form_is_started_by_its_agency_and_shows_its_outcome(console_url, browser) -> None:
    from services.console.tasks.catalogue import formed

    pages: dict[str, tuple] = {}

    async def as_user(username: str):
        if username not in pages:
            pages[username] = await logged_in(browser, console_url, username)
            pages[username][1].set_default_timeout(120000)  # an effect nothing shows is waited for 40 s
        return pages[username][1]

    seen: dict[str, str] = {}
    for task in formed():
        agency = SENDER.get(task.topic, "wuhu")
        page = await as_user(f"{agency}.operator")
        await page.goto(console_url + "/tasks")
        if await page.locator(f"li[data-topic='{task.topic}'] a").count() == 0:  # a reviewer's own task
            page = await as_user(f"{agency}.reviewer")
        await page.goto(console_url + f"/tasks/{task.slug}")
        for name, value in GIVEN.items():
            field = page.locator(f"form.act [name='{name}']")
            if await field.count() == 1 and not await field.input_value():
                await field.fill(value)
        await page.evaluate(FILL, [make_person_id("34020219600101123")])
        await page.click("form.act button[type=submit]")
        if await page.locator("#confirm-send").count():  # final: what will be sent, and "are you sure"
            await page.click("#confirm-send")
        outcome = page.locator("[data-outcome]").first
        await outcome.wait_for(timeout=90000)
        kind = str(await outcome.get_attribute("data-outcome"))
        if kind == "drafted":  # two hands: the reviewer of the same agency approves, then it is sent
            draft = await page.locator("a[href^='/tasks/drafts/']").first.get_attribute("href")
            page = await as_user(f"{agency}.reviewer")
            await page.goto(console_url + str(draft))
            await page.click("#approve")
            outcome = page.locator("[data-outcome]").first
            await outcome.wait_for(timeout=90000)
            kind = str(await outcome.get_attribute("data-outcome"))
        text = await outcome.inner_text()
        if kind == "invalid":
            text += " " + " / ".join(await page.locator("[data-error-for]").all_inner_texts())
        seen[task.topic] = f"{kind}: {text}"
        await shot(page, f"task-every-{task.slug}")
    for context, _ in pages.values():
        await context.close()
    wrong = {topic: said for topic, said in seen.items() if said.split(":")[0] not in ("done", "refused", "pending")}
    assert wrong == {}, wrong
    assert all(CHINESE.search(said) for said in seen.values()), seen
    assert set(seen) == {t.topic for t in formed()}
    print("outcomes:", {topic: said.split(":")[0] for topic, said in seen.items()})
