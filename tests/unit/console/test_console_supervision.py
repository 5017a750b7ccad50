"""The fund supervision pages (基金监管) over the console's real routes, the supervision service answering
from its own handlers and queries on the in-memory store: the month's charts drawn on the server, the
indicators, the outliers, the flags with their evidence and the rules' measures; the printable monthly
report; the downloads passed on as the service made them."""

from __future__ import annotations

import io
import os
from datetime import datetime, timedelta

from openpyxl import load_workbook
from prometheus_client import CollectorRegistry
from supervision_support import settlement
from test_console_finding_pages import app_with, login
from test_console_login import client

from contracts.values import SHANGHAI, make_person_id
from runtime.calendar import default_calendar
from runtime.envelopes import envelope_for
from runtime.memory import MemoryStore
from runtime.query import QueryRefused, SignedQuery, error_body
from services.console import app as console_app
from services.console.backend import Answer, QueryFailed
from services.supervision.adapters import SupervisionReads
from services.supervision.domain.rules import rule_base
from services.supervision.handlers import registry
from services.supervision.metrics import SupervisionMetrics
from services.supervision.query import SupervisionQueries


class SupervisionReader:
    """The console's reader, answered by the supervision service's own queries (in memory)."""

    def __init__(self, queries: SupervisionQueries, parties) -> None:
        self.queries, self.parties, self.calls = queries, parties, []

    async def get(self, service: str, agency: str, path: str, **params) -> Answer:
        self.calls.append((service, path, params))
        answer = {
            "/supervision/report": self.queries.report,
            "/supervision/flags": self.queries.flag_list,
            "/supervision/rules": self.queries.rule_list,
            "/supervision/indicators": self.queries.indicators,
        }[path]
        asked = {k: str(v) for k, v in params.items() if v is not None}
        try:
            body, kind, name = await answer(SignedQuery(self.parties.get(agency), path, asked))
        except QueryRefused as refused:  # as the service's port answers it
            return Answer(refused.status, error_body(refused.status, str(refused)), "application/json")
        return Answer(200, body, kind, f'attachment; filename="{name}"')

    async def get_json(self, service: str, agency: str, path: str, **params):
        answer = await self.get(service, agency, path, **params)
        if not answer.ok:
            raise QueryFailed(answer)
        return answer.json()


async def october(parties) -> SupervisionReader:
    clock = datetime.now(SHANGHAI)
    store = MemoryStore(producer="supervision", now=lambda: clock)
    handlers = registry(
        store,
        now=lambda: clock,
        calendar=default_calendar(),
        rules=rule_base(),
        metrics=SupervisionMetrics(CollectorRegistry()),
    )
    month = (clock.date().replace(day=1) - timedelta(days=1)).replace(day=12)  # last month: the page's default
    sent = [
        settlement(
            f"S-{i}", total="100.00", fund="70.00", settled_on=month, person_id=make_person_id(f"11010519491231{i:03d}")
        )
        for i in range(3)
    ]
    sent += [
        settlement("S-x", total="200.00", fund="140.00", institution="H42010200002", settled_on=month),
        settlement("S-9", total="29990.00", fund="20993.00", stay=(month - timedelta(days=8), month), settled_on=month),
    ]
    for s in sent:
        env = envelope_for("settlement.completed.v1", s, producer="test", now=clock, sender="settlement")
        await handlers["settlement.completed.v1"](env)
    return SupervisionReader(
        SupervisionQueries(SupervisionReads(store), rules=rule_base(), now=lambda: clock, parties=parties), parties
    )


async def test_the_supervision_page_draws_the_month_and_lists_the_flags_and_the_rules() -> None:
    parties = console_app.ParticipantRegistry.load(os.environ["YIDI_KEYS_DIR"])
    reader = await october(parties)
    app, _ = await app_with(reader, "wuhan.operator", "A420100")  # type: ignore[arg-type]
    async with client(app) as http:
        await login(http, "wuhan.operator")
        page = await http.get("/supervision")
        assert page.status_code == 200, page.text
        html = page.text
        assert "基金监管" in html and 'aria-label="次均费用（按机构与医疗类别）"' in html
        assert "200.00 元" in html and 'class="bar-overdue"' in html  # the dear hospital called out in the chart
        assert "次均费用 200.00 元，高于本地区同类 125.00 元的 60.00%" in html
        assert 'data-flag="S-9:SV-03"' in html and "距起点：10.00" in html and "待审核" in html
        assert 'data-rule="SV-03"' in html
        report = await http.get("/supervision/report")
        assert report.status_code == 200 and "运行分析报告" in report.text and "一、就医地运行概况" in report.text
        xlsx = await http.get("/supervision/download?what=report")
        assert xlsx.headers["content-disposition"].endswith('.xlsx"')
        assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "就医地概况"
        csv = await http.get("/supervision/download?format=csv")
        assert csv.content.startswith("\ufeff月份".encode())
        other = await http.get("/supervision?region=430100")  # Changsha: Wuhan's agency does not speak for it
        assert other.status_code == 403 and "无权查看" in other.text
