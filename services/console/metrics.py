"""What the console counts (``/metrics``, scraped like every service's): pages answered by route
template and status, their time, and logins by result. A route's template, never its path: a path
may carry a request or person reference, a template does not (a URL is never a label)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

SERVICE = "console"


class ConsoleMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "yidi_console_requests_total",
            "Console answers by route template, method and status",
            ["service", "route", "method", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "yidi_console_request_seconds",
            "Time to answer a console request, by route template",
            ["service", "route"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.logins = Counter(
            "yidi_console_logins_total",
            "Console logins by result (ok, refused: a wrong password, a locked or unknown user)",
            ["service", "result"],
            registry=self.registry,
        )

    def login(self, ok: bool) -> None:
        self.logins.labels(SERVICE, "ok" if ok else "refused").inc()

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class CountRequests:
    """ASGI middleware: each HTTP answer counted under the template of the route that took it
    (``unmatched`` when none did), its time from the request to the start of the answer."""

    def __init__(self, app: Any, metrics: ConsoleMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def counting(message: Any) -> None:
            if message["type"] == "http.response.start":
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.requests.labels(SERVICE, route, scope["method"], str(message["status"])).inc()
                self.metrics.seconds.labels(SERVICE, route).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, counting)
