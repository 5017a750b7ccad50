"""The collaboration pages and actions (K-03..K-06): the requests between agencies and their replies,
extensions, confirmations and escalations, the leads passed on, the co-investigations (Q-04/Q-05) and
their monthly statistics."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from contracts.collab import (
    AcceptCollabExtension,
    CheckResult,
    ConfirmCoInvestigationResult,
    ConfirmCollabResult,
    DiscussCoInvestigation,
    LeadOutcome,
    OpenCollabRequest,
    ProblemType,
    ProposeCollabExtension,
    ReplyCollabRequest,
    ReportLeadResult,
    SubmitCoInvestigationResult,
    TakeUpLead,
)
from contracts.values import SHANGHAI
from services.console.backend import ActionOutcome, QueryFailed
from services.console.pages.common import (
    ACTION_ROLES,
    agency_region,
    allowed,
    boxes,
    brief,
    chosen_box,
    download,
    months,
    outcome,
    oversees,
    own_region,
    refused_page,
)
from services.console.pages.labels import ACTION_ZH
from services.console.users import ROLE_ZH, Session


async def collab(console, request: Request, session: Session) -> Response:
    box, agency = chosen_box(console, request, session), session.user.agency
    try:
        rows = await console.reader.get_json("collab", agency, "/collab/requests", box=box)
        notices = await console.reader.get_json("collab", agency, "/collab/notices") or []
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    today = console.clock.now().astimezone(SHANGHAI).date()
    for row in rows or []:
        due = datetime.fromisoformat(row["due_at"]).astimezone(SHANGHAI).date() if row.get("due_at") else None
        row["due_today"] = due == today
        row["allowed"] = [a for a in row["actions"] if allowed(session, a)]
    return console.render(
        request, "collab.html", box=box, boxes=boxes(console, session), rows=rows or [], notices=notices[:10]
    )


async def request_detail(console, request: Request, session: Session) -> Response:
    request_id = request.path_params["request_id"]
    try:
        uuid.UUID(request_id)
        found = await console.reader.get_json("collab", session.user.agency, "/collab/request", id=request_id)
    except ValueError:
        found = None
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    if found is None:
        return console.render(
            request, "error.html", status=404, title="未找到", message="没有发给本机构或由本机构发出的这条协同请求。"
        )
    found["allowed"] = [a for a in found["actions"] if allowed(session, a)]  # the service's actions, the user's role
    return console.render(request, "request.html", row=found, outcome=None)


async def request_action(console, request: Request, session: Session) -> Response:
    """One of the K-03/K-04 actions on a request, as the user's agency."""
    request_id, action = request.path_params["request_id"], request.path_params["action"]
    form, agency, now = request.state.form, session.user.agency, console.clock.now()
    if action not in ACTION_ROLES or not allowed(session, action):
        return console.render(
            request,
            "error.html",
            status=403,
            title="无权操作",
            message=f"角色“{ROLE_ZH[session.user.role]}”不能执行“{ACTION_ZH.get(action, action)}”。",
        )
    try:
        rid = uuid.UUID(request_id)
        topic, payload, settled = _request_command(console, agency, rid, action, form, now)
    except (ValueError, ValidationError) as exc:
        return outcome(console, request, ActionOutcome("refused", f"输入有误：{brief(exc)}"), request_id)
    acted = await console.actor.act(topic, payload, agency, settled)
    return outcome(console, request, acted, request_id)


def _request_command(console, agency: str, rid: uuid.UUID, action: str, form, now):
    """The command an action sends and how its effect shows in the query API."""
    text = str(form.get("text", "")).strip()

    async def state():
        return await console.reader.get_json("collab", agency, "/collab/request", id=str(rid)) or {}

    def when(check):
        async def settled() -> bool:
            return check(await state())

        return settled

    if action == "reply":
        return (
            "collab.reply-request.v1",
            ReplyCollabRequest(request_id=rid, result=text, replied_at=now),
            when(lambda s: s.get("status") != "open"),
        )
    if action == "propose_extension":
        days = int(str(form.get("days", "0")) or 0)
        return (
            "collab.propose-extension.v1",
            ProposeCollabExtension(request_id=rid, extra_working_days=days, reason=text, proposed_at=now),
            when(lambda s: s.get("proposed_extension") == days),
        )
    if action == "accept_extension":
        accepted = form.get("accepted") == "yes"
        return (
            "collab.accept-extension.v1",
            AcceptCollabExtension(request_id=rid, accepted=accepted, comment=text, answered_at=now),
            when(lambda s: s.get("proposed_extension") is None),
        )
    if action in ("confirm", "dispute"):
        return (
            "collab.confirm-result.v1",
            ConfirmCollabResult(request_id=rid, accepted=action == "confirm", comment=text, confirmed_at=now),
            when(lambda s: s.get("status") in ("confirmed", "disputed")),
        )
    if action == "escalate":
        region = agency_region(console, agency)
        if region is None:  # K-04: a disputed request is raised by the agency of a region
            raise ValueError(f"agency {agency} handles no region: it cannot raise a request one level up (K-04)")
        target = str(form.get("target", ""))
        ref = f"escalate-{rid}"

        async def opened() -> bool:  # the request raised from this one, in the agency's outbox
            rows = await console.reader.get_json("collab", agency, "/collab/requests", box="outbox") or []
            return any(row.get("escalated_from") == str(rid) for row in rows)

        return (
            "collab.open-request.v1",
            OpenCollabRequest(
                request_ref=ref,
                requester_region=region,
                target_region=target,
                matter=text,
                problem_type=ProblemType(str(form.get("problem_type", "other"))),
                escalated_from=rid,
                opened_at=now,
            ),
            opened,
        )
    raise ValueError(f"unknown action {action}")


async def leads(console, request: Request, session: Session) -> Response:
    box = chosen_box(console, request, session)
    try:
        rows = await console.reader.get_json("collab", session.user.agency, "/collab/leads", box=box)
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    return console.render(request, "leads.html", box=box, boxes=boxes(console, session), rows=rows or [])


async def lead_take_up(console, request: Request, session: Session) -> Response:
    lead_id = request.path_params["lead_id"]
    agency = session.user.agency
    try:
        payload = TakeUpLead(lead_id=uuid.UUID(lead_id), taken_up_at=console.clock.now())
    except (ValueError, ValidationError) as exc:
        return outcome(console, request, ActionOutcome("refused", brief(exc)), lead_id)

    async def settled() -> bool:
        rows = await console.reader.get_json("collab", agency, "/collab/leads", box="inbox") or []
        return any(r["lead_id"] == lead_id and r["status"] != "received" for r in rows)

    return outcome(
        console, request, await console.actor.act("collab.take-up-lead.v1", payload, agency, settled), lead_id
    )


async def lead_result(console, request: Request, session: Session) -> Response:
    """K-05: the treating place reports what its investigation found."""
    lead_id, form, agency = request.path_params["lead_id"], request.state.form, session.user.agency
    try:
        payload = ReportLeadResult(
            lead_id=uuid.UUID(lead_id),
            outcome=LeadOutcome(str(form.get("outcome", ""))),
            findings=str(form.get("text", "")).strip(),
            reported_at=console.clock.now(),
        )
    except (ValueError, ValidationError) as exc:
        return outcome(console, request, ActionOutcome("refused", f"输入有误：{brief(exc)}"), lead_id)

    async def settled() -> bool:
        rows = await console.reader.get_json("collab", agency, "/collab/leads", box="inbox") or []
        return any(r["lead_id"] == lead_id and r.get("outcome") for r in rows)

    acted = await console.actor.act("collab.report-lead-result.v1", payload, agency, settled)
    return outcome(console, request, acted, lead_id)


async def coinvestigations(console, request: Request, session: Session) -> Response:
    period = request.query_params.get("period") or console.clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        period = console.clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
    agency = session.user.agency
    try:
        rows = (
            await console.reader.get_json("collab", agency, "/collab/coinvestigations", period=period)
            if own_region(console, session)
            else []
        )
        below = (
            await console.reader.get_json("collab", agency, "/collab/coinvestigations", period=period, box="overseen")
            if oversees(console, session)
            else []
        )
        stats = await console.reader.get_json("collab", agency, "/collab/statistics", period=period)
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    return console.render(
        request,
        "coinvestigations.html",
        period=period,
        rows=rows or [],
        overseen=below or [],
        own=bool(own_region(console, session)),
        stats=stats,
        months=months(console, 6),
    )


async def coinvestigation_action(console, request: Request, session: Session) -> Response:
    """Q-04/Q-05 on one co-investigation, as the user's agency."""
    item_id, action = request.path_params["request_id"], request.path_params["action"]
    form, agency, now = request.state.form, session.user.agency, console.clock.now()
    if action not in ("submit_result", "confirm_coinvestigation", "discuss") or not allowed(session, action):
        return console.render(
            request,
            "error.html",
            status=403,
            title="无权操作",
            message=f"角色“{ROLE_ZH[session.user.role]}”不能执行“{ACTION_ZH.get(action, action)}”。",
        )
    text = str(form.get("text", "")).strip()
    payload: BaseModel
    try:
        rid = uuid.UUID(item_id)
        if action == "submit_result":
            topic, payload = (
                "collab.submit-coinvestigation-result.v1",
                SubmitCoInvestigationResult(
                    request_id=rid, result=CheckResult(str(form.get("result", ""))), reason=text, submitted_at=now
                ),
            )
        elif action == "confirm_coinvestigation":
            topic, payload = (
                "collab.confirm-coinvestigation.v1",
                ConfirmCoInvestigationResult(
                    request_id=rid, agreed=form.get("agreed") == "yes", comment=text, confirmed_at=now
                ),
            )
        else:
            topic, payload = (
                "collab.discuss-coinvestigation.v1",
                DiscussCoInvestigation(request_id=rid, message=text, said_at=now),
            )
    except (ValueError, ValidationError) as exc:
        return outcome(console, request, ActionOutcome("refused", f"输入有误：{brief(exc)}"), item_id)
    before = await _coinvestigation(console, agency, item_id)

    async def settled() -> bool:
        return (await _coinvestigation(console, agency, item_id)) != before

    return outcome(console, request, await console.actor.act(topic, payload, agency, settled), item_id)


async def _coinvestigation(console, agency: str, item_id: str) -> dict | None:
    rows = await console.reader.get_json("collab", agency, "/collab/coinvestigations") or []
    return next((r for r in rows if r["request_id"] == item_id), None)


async def statistics_download(console, request: Request, session: Session) -> Response:
    period, fmt = request.query_params.get("period", ""), request.query_params.get("format", "csv")
    answer = await console.reader.get("collab", session.user.agency, "/collab/statistics", period=period, format=fmt)
    return download(console, request, answer)
