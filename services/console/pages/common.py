"""What the console's page modules share: who may take which action (``ACTION_ROLES``), the page for a
refused query, the region an agency handles, how an action's outcome and a download are shown, the
recent months offered, and the home page."""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from contracts.parties import AgencyLevel
from contracts.values import SHANGHAI
from services.console.backend import ActionOutcome, QueryFailed
from services.console.users import Role, Session

ANY = frozenset(Role)
REVIEW = frozenset({Role.REVIEWER})
# who may take which action in the console (the services check the agency's authority again)
ACTION_ROLES = {
    "reply": ANY,
    "propose_extension": ANY,
    "take_up": ANY,
    "submit_result": ANY,
    "discuss": ANY,
    "confirm_coinvestigation": REVIEW,
    "accept_extension": REVIEW,
    "confirm": REVIEW,
    "dispute": REVIEW,
    "escalate": REVIEW,
    "clearing_confirm": REVIEW,
    "clearing_object": REVIEW,
    "clearing_answer_appeal": REVIEW,
}


def allowed(session: Session, action: str) -> bool:
    return session.user.role in ACTION_ROLES.get(action, ANY)


def refused_page(console, request: Request, failed: QueryFailed) -> Response:
    status = failed.answer.status if failed.answer.status in (400, 401, 403, 404) else 502
    title = {403: "无权查看", 404: "未找到", 400: "查询有误", 401: "签名未被接受"}.get(status, "服务暂不可用")
    from services.console.tasks.words import message_zh

    return console.render(
        request,
        "error.html",
        status=status,
        title=title,
        message=message_zh(failed.answer.message),
        detail=failed.answer.message,
    )


def own_region(console, session: Session) -> str | None:
    return agency_region(console, session.user.agency)


def oversees(console, session: Session) -> bool:
    """A province or the national level: it sees the items between the regions below it."""
    return console.agency(session.user.agency).level is not AgencyLevel.CITY


def boxes(console, session: Session) -> tuple[str, ...]:
    """The collaboration boxes the user's agency has: its own inbox and outbox when it handles a
    region, and the regions below it when it oversees some."""
    own = ("inbox", "outbox") if own_region(console, session) else ()
    return own + (("overseen",) if oversees(console, session) else ())


def chosen_box(console, request: Request, session: Session) -> str:
    have = boxes(console, session)
    wanted = request.query_params.get("box", "")
    return wanted if wanted in have else have[0]


def agency_region(console, code: str) -> str | None:
    """The region an agency handles itself (None: the national level)."""
    region = console.agency(code).region
    return str(region) if region else None


def brief(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        from services.console.tasks.forms import error_zh

        return "；".join(f"{'.'.join(map(str, e['loc']))}：{error_zh(e)}" for e in exc.errors()[:3])
    return str(exc)


def outcome(console, request: Request, outcome: ActionOutcome, ref: str) -> Response:
    """The outcome where the user acted: done → the page again, fresh, saying so (htmx follows
    ``HX-Redirect``); refused or pending → the message beside the form, which stays as it was."""
    status = 200 if outcome.kind != "refused" else 409
    back = same_page(request)
    if request.headers.get("hx-request") and outcome.kind == "done" and back:
        return Response(status_code=200, headers={"HX-Redirect": back})
    if request.headers.get("hx-request"):
        return console.render(request, "outcome.html", status=200, outcome=outcome, ref=ref)
    return console.render(
        request,
        "outcome_page.html",
        status=status,
        outcome=outcome,
        ref=ref,
        back=request.headers.get("referer", "/collab"),
    )


def same_page(request: Request) -> str | None:
    """The page the action came from (same origin only), marked ``done=1``."""
    from urllib.parse import parse_qsl, urlencode, urlsplit

    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path.startswith("/") or (referer.netloc and referer.netloc != request.headers.get("host")):
        return None
    query = [(k, v) for k, v in parse_qsl(referer.query) if k != "done"] + [("done", "1")]
    return f"{referer.path}?{urlencode(query)}"


def download(console, request: Request, answer) -> Response:
    if not answer.ok:
        return console.render(
            request,
            "error.html",
            status=answer.status if answer.status < 500 else 502,
            title="无法下载",
            message=answer.message,
        )
    return Response(
        answer.body, media_type=answer.content_type, headers={"content-disposition": answer.disposition or "attachment"}
    )


def months(console, n: int) -> list[str]:
    today = console.clock.now().astimezone(SHANGHAI).date().replace(day=1)
    out = []
    for _ in range(n):
        out.append(today.strftime("%Y-%m"))
        today = (today - timedelta(days=1)).replace(day=1)
    return out


async def home(console, request: Request, session: Session) -> Response:
    from starlette.responses import RedirectResponse

    return RedirectResponse("/regions", status_code=303)  # the regions overview (pages/regions.py)
