"""The console's login and session edge (``services/console/app.py``, ``users.py``), over its real
Starlette routes with the users kept in memory: a refused login says the same for an unknown name, a
wrong password and a locked account (no user enumeration); ``POST /logout`` needs the session's CSRF
token like every POST; cookies are Secure whenever the page is served over https."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from runtime.clock import WallClock
from runtime.parties import ParticipantRegistry
from services.console import app as console_app
from services.console.config import ConsoleSettings
from services.console.metrics import ConsoleMetrics, CountRequests
from services.console.users import REFUSED, LoginRefused, UserStore

PASSWORD = "a-long-password-1"
NOW = datetime(2026, 11, 5, 1, 0, tzinfo=UTC)


class Collection:
    """The few MongoDB operations the user store makes, on a dict."""

    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}

    async def find_one(self, query: dict):
        doc = self.docs.get(query["_id"])
        return copy.deepcopy(doc) if doc else None

    async def insert_one(self, doc: dict) -> None:
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def replace_one(self, query: dict, doc: dict, upsert: bool = False) -> None:
        self.docs[query["_id"]] = copy.deepcopy(doc)

    async def update_one(self, query: dict, update: dict) -> None:
        if query["_id"] in self.docs:
            self.docs[query["_id"]].update(update.get("$set", {}))

    async def find_one_and_update(self, query: dict, update: dict, return_document=None):
        doc = self.docs.get(query["_id"])
        if doc is None:
            return None
        for field, by in update.get("$inc", {}).items():
            doc[field] = doc.get(field, 0) + by
        return copy.deepcopy(doc)

    async def delete_one(self, query: dict) -> None:
        self.docs.pop(query["_id"], None)


@pytest.fixture(scope="module")
def parties() -> ParticipantRegistry:
    return ParticipantRegistry.load()


@pytest.fixture
async def users(parties) -> UserStore:
    store = UserStore(
        {"users": Collection(), "sessions": Collection()},
        parties,  # type: ignore[arg-type]
        max_failures=3,
    )
    await store.add("wuhu.operator", PASSWORD, "A340200", "operator")
    await store.add("wuhu.locked", PASSWORD, "A340200", "operator")
    return store


def console(users: UserStore, parties: ParticipantRegistry, **settings) -> Starlette:
    """The console's own login, logout and a guarded page, without its broker and service clients."""
    served = console_app.Console.__new__(console_app.Console)
    served.settings = ConsoleSettings(**settings)
    served.parties, served.users, served.clock = parties, users, WallClock()
    served.templates = console_app.Jinja2Templates(directory=str(console_app.HERE / "templates"))
    served.templates.env.globals.update(console_app.pages.TEMPLATE_GLOBALS)
    served.metrics = ConsoleMetrics()
    app = Starlette(
        routes=[
            Route("/login", console_app.login_page, methods=["GET"]),
            Route("/login", console_app.login, methods=["POST"]),
            Route("/logout", console_app.logout, methods=["POST"]),
            Route("/metrics", served.metrics.endpoint),
        ],
        middleware=[Middleware(CountRequests, metrics=served.metrics)],
    )
    app.state.console = served
    return app


def client(app: Starlette, base: str = "http://console") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base, follow_redirects=False)


async def logged_in(http: httpx.AsyncClient) -> None:
    page = await http.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = await http.post("/login", data={"csrf": token, "username": "wuhu.operator", "password": PASSWORD})
    assert done.status_code == 303 and "yidi_session" in http.cookies


# ---------------------------------------------------------------- one answer for every refused login
async def test_unknown_wrong_and_locked_get_the_same_answer(users):
    answers = []
    for name, password in [("nobody.here", PASSWORD), ("wuhu.locked", "wrong-password-x")]:
        with pytest.raises(LoginRefused) as refused:
            await users.login(name, password, NOW)
        answers.append(str(refused.value))
    for _ in range(3):  # max_failures: locked
        with pytest.raises(LoginRefused):
            await users.login("wuhu.locked", "wrong-password-x", NOW)
    with pytest.raises(LoginRefused) as locked:
        await users.login("wuhu.locked", PASSWORD, NOW + timedelta(minutes=1))  # right, but locked
    answers.append(str(locked.value))
    with pytest.raises(LoginRefused) as unknown_again:
        await users.login("nobody.here", PASSWORD, NOW + timedelta(minutes=1))
    answers.append(str(unknown_again.value))
    assert set(answers) == {REFUSED}
    token, _ = await users.login("wuhu.locked", PASSWORD, NOW + timedelta(minutes=16))  # the lock has passed
    assert token


async def test_the_login_page_shows_the_same_answer_for_a_locked_and_an_unknown_name(users, parties):
    await users.users.update_one(
        {"_id": "wuhu.locked"},  # type: ignore[call-arg]
        {"$set": {"locked_until": datetime.now(UTC) + timedelta(minutes=10)}},
    )
    async with client(console(users, parties, cookie_secure=False)) as http:
        pages = []
        for name in ("wuhu.locked", "nobody.here"):
            page = await http.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            refused = await http.post("/login", data={"csrf": token, "username": name, "password": PASSWORD})
            assert refused.status_code == 401
            pages.append(re.search(r'class="error"[^>]*>([^<]*)<', refused.text).group(1).strip())
    assert pages[0] == pages[1] and "锁定" in pages[0]  # the same words, which mention the lock for everyone


# ---------------------------------------------------------------- CSRF on logout
async def test_logout_needs_the_session_csrf_token(users, parties):
    async with client(console(users, parties, cookie_secure=False)) as http:
        await logged_in(http)
        forged = await http.post("/logout", data={})  # another site's form: no token
        assert forged.status_code == 403
        assert await users.sessions.find_one({"_id": next(iter(users.sessions.docs))})  # type: ignore[attr-defined]
        wrong = await http.post("/logout", data={"csrf": "not-the-token"})
        assert wrong.status_code == 403 and users.sessions.docs  # type: ignore[attr-defined]
        [stored] = users.sessions.docs.values()  # type: ignore[attr-defined]
        done = await http.post("/logout", data={"csrf": stored["csrf"]})
        assert done.status_code == 303 and not users.sessions.docs  # type: ignore[attr-defined]


async def test_logout_without_a_session_only_goes_to_the_login_page(users, parties):
    async with client(console(users, parties, cookie_secure=False)) as http:
        answer = await http.post("/logout", data={})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


# ---------------------------------------------------------------- Secure cookies over https
def _secure(response: httpx.Response) -> bool:
    cookies = response.headers.get_list("set-cookie")
    assert cookies
    return all("secure" in c.lower().split("; ") for c in cookies)


@pytest.mark.parametrize(
    "base, settings, headers, secure",
    [
        ("http://console", {"cookie_secure": True}, {}, True),  # the default: always
        ("https://console", {"cookie_secure": False}, {}, True),  # served over https
        ("http://console", {"cookie_secure": False}, {}, False),  # make run, http://127.0.0.1
        (
            "http://console",
            {"cookie_secure": False, "trust_forwarded_proto": True},
            {"x-forwarded-proto": "https"},
            True,
        ),
        ("http://console", {"cookie_secure": False}, {"x-forwarded-proto": "https"}, False),  # header not trusted
    ],
)
async def test_cookies_are_secure_whenever_served_over_https(users, parties, base, settings, headers, secure):
    async with client(console(users, parties, **settings), base) as http:
        page = await http.get("/login", headers=headers)
    assert _secure(page) is secure


# ---------------------------------------------------------------- /metrics, scraped like every service's
async def test_metrics_count_logins_and_pages_by_route_template_never_by_path(users, parties):
    from prometheus_client.parser import text_string_to_metric_families

    async with client(console(users, parties, cookie_secure=False)) as http:
        await logged_in(http)
        page = await http.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        await http.post("/login", data={"csrf": token, "username": "wuhu.operator", "password": "wrong-password-x"})
        await http.get("/collab/requests/340202196001011234")  # no such route here: an ID in a path is no label
        scraped = await http.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    logins = {labels: v for (name, labels), v in samples.items() if name == "yidi_console_logins_total"}
    assert logins == {(("result", "ok"), ("service", "console")): 1, (("result", "refused"), ("service", "console")): 1}
    answered = {
        (dict(labels)["route"], dict(labels)["method"], dict(labels)["status"])
        for (name, labels), _ in samples.items()
        if name == "yidi_console_requests_total"
    }
    assert {("/login", "GET", "200"), ("/login", "POST", "303"), ("/login", "POST", "401")} <= answered
    assert ("unmatched", "GET", "404") in answered
    assert "340202196001011234" not in scraped.text
