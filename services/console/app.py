"""The console's web app (Starlette, Jinja2 templates, htmx): pages for agency staff, in Chinese.

Every page needs a session; every POST needs the session's CSRF token (a form field ``csrf`` or the
``X-CSRF-Token`` header htmx sends); the login form carries a double-submit token of its own. What a
page shows comes from the services' signed queries as the user's agency (``backend.Reader``): a
service that refuses (403: not that agency's data) makes the page answer 403 with the service's
reason. Actions publish signed commands as the agency (``backend.Actor``) and show their outcome.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from contracts.parties import PARTY_CHANGES, Agency
from runtime.clock import ControlledClock, WallClock, clock_follower
from runtime.config import Settings
from runtime.logs import configure as configure_logs
from runtime.parties import ParticipantRegistry
from runtime.topics import CLOCK, physical
from services.console import pages
from services.console.backend import REFUSED, Actor, Reader, RefusalWatcher, registry_follower
from services.console.config import ConsoleSettings, shared
from services.console.metrics import ConsoleMetrics, CountRequests
from services.console.pages.regions import region_choices
from services.console.users import UserStore, csrf_ok

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE, LOGIN_COOKIE = "yidi_session", "yidi_login_csrf"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class Console:
    """What the pages share: settings, clock, registry, users, reader and actor."""

    def __init__(self, settings: ConsoleSettings | None = None, base: Settings | None = None) -> None:
        self.settings, self.base = settings or ConsoleSettings(), base or shared()
        self.parties = ParticipantRegistry.load(self.base.keys_dir, suite=self.base.crypto_suite)
        self.clock = ControlledClock() if self.base.clock == "controlled" else WallClock()
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.base.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=15000
        )
        s = self.settings
        self.users = UserStore(
            self.mongo[self.base.database],
            self.parties,
            max_failures=s.max_failures,
            lockout=timedelta(minutes=s.lockout_minutes),
            session_for=timedelta(hours=s.session_hours),
            idle=timedelta(minutes=s.idle_minutes),
        )
        self.reader = Reader(s.url, self.base.keys_dir, self.clock.now)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(pages.TEMPLATE_GLOBALS)
        self.templates.env.globals["region_choices"] = lambda code: region_choices(self.parties, code)
        self.producer: AIOKafkaProducer | None = None
        self.watcher: RefusalWatcher | None = None
        self.actor: Actor | None = None
        self.effects: Any = None
        self._followers: list = []
        self.metrics = ConsoleMetrics()

    def topic(self, logical: str) -> str:
        return physical(logical, self.base.topic_prefix)

    async def startup(self) -> None:
        b, client = self.base, self.base.kafka_client_options()
        # the registry first: the clock's commands are checked against it (signed by the operator)
        registry = registry_follower(
            self.parties,
            b.kafka_bootstrap_servers,
            self.topic(PARTY_CHANGES),
            self.clock.now,
            b.max_clock_skew_seconds,
            **client,
        )
        await registry.start()
        self._followers.append(registry)
        if isinstance(self.clock, ControlledClock):
            follower = clock_follower(self.clock, self.parties, b.kafka_bootstrap_servers, self.topic(CLOCK), **client)
            await follower.start()
            self._followers.append(follower)
        await self.users.users.database.client.admin.command("ping")
        self.producer = AIOKafkaProducer(
            bootstrap_servers=b.kafka_bootstrap_servers, acks="all", enable_idempotence=b.kafka_idempotence, **client
        )
        await self.producer.start()
        self.watcher = RefusalWatcher(
            b.kafka_bootstrap_servers, self.topic(REFUSED), self.parties, self.clock.now, **client
        )
        await self.watcher.start()
        self.actor = Actor(
            self.producer, b.keys_dir, b.topic_prefix, self.watcher, self.clock.now, self.settings.outcome_wait_seconds
        )
        from services.console.tasks.effects import EffectWatcher  # 业务办理: the effects of what it sends

        self.effects = EffectWatcher(
            b.kafka_bootstrap_servers, self.topic, self.parties, self.clock.now, b.keys_dir, **client
        )
        await self.effects.start()
        log.info("console on :%s", self.settings.port)

    async def shutdown(self) -> None:
        for follower in self._followers:
            await follower.stop()
        if self.watcher:
            await self.watcher.stop()
        if self.effects:
            await self.effects.stop()
        if self.producer:
            await self.producer.stop()
        await self.reader.close()
        await self.mongo.close()

    def agency(self, code: str) -> Agency:
        party = self.parties.get(code)
        assert isinstance(party, Agency)
        return party

    # ------------------------------------------------------------ responses
    def render(self, request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        session = request.state.session if hasattr(request.state, "session") else None
        ctx = {
            "request": request,
            "session": session,
            "now": self.clock.now(),
            "agency": self.agency(session.user.agency) if session else None,
            **context,
        }
        response = self.templates.TemplateResponse(request, template, ctx, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    def cookie(self, request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, samesite="strict", secure=self.over_https(request), path="/"
        )

    def over_https(self, request: Request) -> bool:
        """Cookies are Secure whenever the page is served over https: always with ``cookie_secure``
        (the default), else when the request came over https, directly or, with
        ``trust_forwarded_proto``, through a proxy that terminated TLS (``X-Forwarded-Proto``)."""
        if self.settings.cookie_secure or request.url.scheme == "https":
            return True
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return self.settings.trust_forwarded_proto and forwarded == "https"


# ---------------------------------------------------------------- login and the session guard
async def login_page(request: Request) -> Response:
    console: Console = request.app.state.console
    token = secrets.token_urlsafe(24)
    response = console.render(request, "login.html", login_csrf=token, error=request.query_params.get("e"))
    console.cookie(request, response, LOGIN_COOKIE, token, max_age=1800)
    return response


async def login(request: Request) -> Response:
    console: Console = request.app.state.console
    form = await request.form()
    if not csrf_ok(request.cookies.get(LOGIN_COOKIE), str(form.get("csrf", ""))):
        return PlainTextResponse("CSRF 校验失败：请刷新登录页后重试", status_code=403, headers=SECURITY_HEADERS)
    from services.console.users import LoginRefused

    try:
        token, session = await console.users.login(
            str(form.get("username", "")).strip(), str(form.get("password", "")), wall_now()
        )
    except LoginRefused as refused:
        console.metrics.login(ok=False)
        fresh = secrets.token_urlsafe(24)
        page = console.render(
            request,
            "login.html",
            status=401,
            login_csrf=fresh,
            error=str(refused),
            username=str(form.get("username", ""))[:32],
        )
        console.cookie(request, page, LOGIN_COOKIE, fresh, max_age=1800)
        return page
    console.metrics.login(ok=True)
    response = RedirectResponse("/", status_code=303)
    console.cookie(request, response, SESSION_COOKIE, token, max_age=int(console.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


async def logout(request: Request) -> Response:
    """A POST like any other: it needs the session's CSRF token (another site must not be able to end a
    session); without a session there is nothing to end."""
    console: Console = request.app.state.console
    token = request.cookies.get(SESSION_COOKIE)
    session = await console.users.session(token, wall_now())
    if session is not None:
        form = await request.form()
        if not csrf_ok(session.csrf, request.headers.get("x-csrf-token") or str(form.get("csrf", ""))):
            request.state.session = session
            return console.render(
                request,
                "error.html",
                status=403,
                title="请求被拒绝",
                message="CSRF 校验失败：表单缺少有效的令牌，操作未执行。",
            )
        await console.users.logout(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def wall_now() -> datetime:
    """Sessions and lockouts run on the wall clock: moving business time (a controlled clock) must not
    end a session or lift a lock."""
    return datetime.now(UTC)


def guarded(handler):
    """A page for a logged-in user; a POST also needs the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        console: Console = request.app.state.console
        session = await console.users.session(request.cookies.get(SESSION_COOKIE), wall_now())
        if session is None:
            if request.method == "POST":
                return PlainTextResponse("未登录或会话已过期", status_code=401, headers=SECURITY_HEADERS)
            return RedirectResponse("/login", status_code=303)
        request.state.session = session
        if request.method == "POST":
            form = await request.form()
            given = request.headers.get("x-csrf-token") or str(form.get("csrf", ""))
            if not csrf_ok(session.csrf, given):
                return console.render(
                    request,
                    "error.html",
                    status=403,
                    title="请求被拒绝",
                    message="CSRF 校验失败：表单缺少有效的令牌，操作未执行。",
                )
            request.state.form = form
        return await handler(console, request, session)

    return endpoint


async def health(request: Request) -> Response:
    console: Console = request.app.state.console
    try:
        await console.users.users.database.client.admin.command("ping")
        return PlainTextResponse('{"service": "console", "ok": true}', media_type="application/json")
    except Exception:
        return PlainTextResponse('{"service": "console", "ok": false}', status_code=503, media_type="application/json")


def create_app(console: Console | None = None) -> Starlette:
    console = console or Console()
    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/health", health),
        # scraped by Prometheus like every service's; a front proxy forwards the pages, not this
        Route("/metrics", console.metrics.endpoint),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        *[Route(path, guarded(handler), methods=methods) for path, handler, methods in pages.ROUTES],
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await console.startup()
        try:
            yield
        finally:
            await console.shutdown()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(_NoServerHeader), Middleware(CountRequests, metrics=console.metrics)],
    )
    app.state.console = console
    return app


class _NoServerHeader:
    """Security headers on every answer (static files and redirects too)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                present = {k.lower() for k, _ in headers}
                headers += [
                    (k.encode(), v.encode())
                    for k, v in SECURITY_HEADERS.items()
                    if k.encode() not in present and k != "cache-control"
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def main() -> None:
    import uvicorn

    base = shared()
    configure_logs("console", base.instance or "console", base.log_level)
    settings = ConsoleSettings()
    uvicorn.run(
        create_app(Console(settings, base)),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=10,
        lifespan="on",
        server_header=False,
    )
