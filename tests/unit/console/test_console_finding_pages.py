"""The finding and overview pages over the console's real routes, the services answered by a stand-in
reader that records what it was asked: the ID number reaches no service in clear (sealed per request)
and no URL; bad filters are refused before any query; a province lands on its regions with the ones
needing attention marked; a city goes to its own region; a download is passed on as the service made it."""

from __future__ import annotations

import json
import os
import re

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from test_console_login import PASSWORD, Collection, client

from contracts.values import make_person_id
from runtime.clock import WallClock
from services.console import app as console_app
from services.console.backend import Answer
from services.console.config import ConsoleSettings
from services.console.users import UserStore

PID = make_person_id("34020219800101001")


class Reader:
    """Canned answers by path; every call kept as (service, agency, path, params)."""

    def __init__(self, answers: dict[str, object]) -> None:
        self.answers, self.calls = answers, []

    async def get(self, service: str, agency: str, path: str, **params) -> Answer:
        self.calls.append((service, agency, path, params))
        found = self.answers.get(path)
        if isinstance(found, Answer):
            return found
        if found is None:
            return Answer(404, b'{"message": "none"}', "application/json")
        return Answer(200, json.dumps(found, ensure_ascii=False).encode(), "application/json")

    async def get_json(self, service: str, agency: str, path: str, **params):
        answer = await self.get(service, agency, path, **params)
        return None if answer.status == 404 else answer.json()


SETTLEMENTS = {
    "settlements": [
        {
            "settlement_id": "S-1",
            "settled_on": "2026-11-02",
            "institution_name": "武汉市第一人民医院（样例）",
            "treating_region_name": "武汉市",
            "insured_region_name": "芜湖市",
            "medical_type_zh": "住院",
            "total": "1234.50",
            "fund_total": "1000.00",
            "personal_cash": "234.50",
            "reversed_zh": "已结算",
        }
    ],
    "total": 21,
    "page": 1,
    "size": 20,
    "pages": 2,
}


async def app_with(reader: Reader, username: str, agency: str) -> tuple[Starlette, UserStore]:
    parties = console_app.ParticipantRegistry.load(os.environ["YIDI_KEYS_DIR"])
    users = UserStore({"users": Collection(), "sessions": Collection()}, parties)  # type: ignore[arg-type]
    await users.add(username, PASSWORD, agency, "operator")
    served = console_app.Console.__new__(console_app.Console)
    served.settings = ConsoleSettings(cookie_secure=False)
    served.parties, served.users, served.clock, served.reader = parties, users, WallClock(), reader
    served.metrics = console_app.ConsoleMetrics()
    served.templates = console_app.Jinja2Templates(directory=str(console_app.HERE / "templates"))
    served.templates.env.globals.update(console_app.pages.TEMPLATE_GLOBALS)
    served.templates.env.globals["region_choices"] = lambda code: console_app.region_choices(parties, code)
    routes = [
        Route("/login", console_app.login_page, methods=["GET"]),
        Route("/login", console_app.login, methods=["POST"]),
        *[Route(p, console_app.guarded(h), methods=m) for p, h, m in console_app.pages.ROUTES],
    ]
    app = Starlette(routes=routes)
    app.state.console = served
    return app, users


async def login(http: httpx.AsyncClient, username: str) -> str:
    page = await http.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = await http.post("/login", data={"csrf": token, "username": username, "password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/"
    landing = await http.get("/find/settlements")
    return re.search(r'name="csrf" value="([^"]+)"', landing.text).group(1)


async def test_a_persons_settlements_are_asked_sealed_and_listed_with_a_slip_button_each():
    reader = Reader({"/settlement/settlements": SETTLEMENTS})
    app, _ = await app_with(reader, "wuhu.operator", "A340200")
    async with client(app) as http:
        csrf = await login(http, "wuhu.operator")
        page = await http.post(
            "/find/settlements",
            data={"csrf": csrf, "person_id": PID, "medical_type": "inpatient", "from": "2026-11-01", "size": "20"},
        )
        assert page.status_code == 200
        assert "共 21 条 · 第 1 / 2 页" in page.text and "下一页" in page.text and "结算单" in page.text
        assert 'name="settlement_id" value="S-1"' in page.text and "1,234.50" in page.text
        [(service, agency, path, params)] = reader.calls
        assert (service, agency, path) == ("settlement", "A340200", "/settlement/settlements")
        assert PID not in json.dumps(params) and params["person"].count(".") == 4  # a compact JWE
        assert (params["medical_type"], params["from"], params["page"], params["size"]) == (
            "inpatient",
            "2026-11-01",
            "1",
            "20",
        )
        for bad in ({"from": "yesterday"}, {"medical_type": "spa"}, {"person_id": "34020219800101002"}):
            refused = await http.post("/find/settlements", data={"csrf": csrf, "person_id": PID, **bad})
            assert refused.status_code == 400 and 'role="alert"' in refused.text
        assert len(reader.calls) == 1  # refused before any query


async def test_a_download_is_passed_on_as_the_service_made_it():
    body = "\ufeff结算编号,结算日期\r\nS-1,2026-11-02\r\n".encode()
    reader = Reader(
        {
            "/settlement/settlements": Answer(
                200, body, "text/csv; charset=utf-8", 'attachment; filename="settlements.csv"'
            )
        }
    )
    app, _ = await app_with(reader, "wuhu.operator", "A340200")
    async with client(app) as http:
        csrf = await login(http, "wuhu.operator")
        got = await http.post("/find/settlements", data={"csrf": csrf, "person_id": PID, "format": "csv"})
        assert (
            got.status_code == 200 and got.content == body and "settlements.csv" in got.headers["content-disposition"]
        )
        assert reader.calls[-1][3]["format"] == "csv"


async def test_a_province_lands_on_its_regions_and_a_city_on_its_own():
    reader = Reader(
        {
            "/collab/overdue": {"regions": [{"region": "340200", "total": 2}]},
            "/prepayment/account": {"level": "red", "usage_percent": "93.10"},
            "/clearing/periods": {"periods": [{"clearing_month": "2026-10", "state": "generated"}]},
        }
    )
    app, _ = await app_with(reader, "anhui.reviewer", "A340000")
    async with client(app) as http:
        await login(http, "anhui.reviewer")
        home = await http.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/regions"
        page = await http.get("/regions")
        assert page.status_code == 200 and "芜湖市" in page.text and "合肥市" in page.text and "武汉市" not in page.text
        assert "红色预警" in page.text and "2 件" in page.text and "2026-10" in page.text and "<svg" in page.text
        assert (await http.get("/regions/420100")).status_code == 403  # not Anhui's
        prepayment_select = await http.get("/ledger")
        assert '<select name="region"' in prepayment_select.text and 'value="340200"' in prepayment_select.text
    app, _ = await app_with(reader, "wuhu.operator", "A340200")
    async with client(app) as http:
        await login(http, "wuhu.operator")
        assert (await http.get("/regions")).headers["location"] == "/regions/340200"
        own = await http.get("/regions/340200")
        assert own.status_code == 200 and "芜湖市" in own.text
