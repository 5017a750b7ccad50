"""The clearing pages and actions (C-01..C-04): a region's monthly clearing report and its download,
its periods and open reconciliation mismatches (R-01/R-02), confirming or objecting to one side
of a pair's period (C-02), and answering its institutions' appeals 申诉 of audit deductions (R-04)."""

from __future__ import annotations

import re
import uuid

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from contracts.clearing import AnswerDeductionAppeal, ConfirmClearingPeriod
from contracts.registry import ALL_TOPICS
from contracts.values import SHANGHAI
from services.console.backend import ActionOutcome, QueryFailed
from services.console.pages.common import allowed, brief, download, months, outcome, own_region, refused_page
from services.console.pages.labels import SCOPE_ZH
from services.console.users import Session

OBJECT_TOPIC = "clearing.object-period.v1"  # when the clearing service offers objections (C-02)
ANSWER_TOPIC = "clearing.answer-appeal.v1"


async def clearing(console, request: Request, session: Session) -> Response:
    q = request.query_params
    month = q.get("month") or console.clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
    scope = q.get("scope", "cross_province")
    region = q.get("region") or own_region(console, session)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month) or scope not in SCOPE_ZH:
        return console.render(request, "error.html", status=400, title="查询有误", message="月份或范围无效")
    if not region:
        return console.render(
            request,
            "clearing.html",
            region=None,
            month=month,
            scope=scope,
            report=None,
            periods=None,
            mismatches=[],
            appeals=[],
            months=months(console, 6),
            can_object=False,
        )
    agency = session.user.agency
    try:
        report = await console.reader.get_json(
            "clearing", agency, "/clearing/report", region=region, month=month, scope=scope
        )
        periods = await _periods(console, agency, region)
        mismatches = await _mismatches(console, agency, region)
        appeals = await _appeals(console, agency, region)
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    periods = [p for p in periods or [] if p.get("scope", scope) == scope]
    return console.render(
        request,
        "clearing.html",
        region=region,
        month=month,
        scope=scope,
        report=report,
        periods=periods,
        mismatches=mismatches,
        appeals=appeals,
        months=months(console, 6),
        can_object=OBJECT_TOPIC in ALL_TOPICS and allowed(session, "clearing_object"),
        can_confirm=allowed(session, "clearing_confirm"),
        can_answer=allowed(session, "clearing_answer_appeal"),
    )


async def _periods(console, agency: str, region: str):
    """The region's periods (``GET /clearing/periods``), when the clearing service answers it."""
    answer = await console.reader.get("clearing", agency, "/clearing/periods", region=region)
    if answer.status == 403:
        raise QueryFailed(answer)
    if not answer.ok:
        return None
    body = answer.json()
    return body.get("periods", body) if isinstance(body, dict) else body


async def _mismatches(console, agency: str, region: str) -> list:
    """R-01/R-02: the region's open reconciliation mismatches (``GET /clearing/mismatches``)."""
    answer = await console.reader.get("clearing", agency, "/clearing/mismatches", region=region, status="open")
    return answer.json().get("mismatches", []) if answer.ok else []


async def _appeals(console, agency: str, region: str, status: str = "open") -> list:
    """R-04: the appeals of the region's institutions (``GET /clearing/appeals``)."""
    answer = await console.reader.get("clearing", agency, "/clearing/appeals", region=region, status=status)
    return answer.json().get("appeals", []) if answer.ok else []


async def clearing_answer_appeal(console, request: Request, session: Session) -> Response:
    """R-04: the treating place upholds (维持) or withdraws (撤销) an appealed deduction, with its reason;
    withdrawn, clearing pays it back (R-05). The clearing service checks the agency's authority again."""
    form, agency, now = request.state.form, session.user.agency, console.clock.now()
    if not allowed(session, "clearing_answer_appeal"):
        return console.render(
            request, "error.html", status=403, title="无权操作", message="只有复核岗可以答复扣款申诉。"
        )
    fields = {
        k: str(form.get(k, "")).strip()
        for k in (
            "appeal_id",
            "institution_code",
            "treating_region",
            "settlement_id",
            "deduction_id",
            "outcome",
            "reason",
        )
    }
    try:
        payload = AnswerDeductionAppeal(**fields, answered_at=now)
    except (ValueError, ValidationError) as exc:
        return outcome(console, request, ActionOutcome("refused", f"输入有误：{brief(exc)}"), "")

    async def settled() -> bool:
        return any(
            a.get("appeal_id") == payload.appeal_id and a.get("status") != "lodged"
            for a in await _appeals(console, agency, payload.treating_region, "all")
        )

    return outcome(console, request, await console.actor.act(ANSWER_TOPIC, payload, agency, settled), "")


async def clearing_download(console, request: Request, session: Session) -> Response:
    q = request.query_params
    answer = await console.reader.get(
        "clearing",
        session.user.agency,
        "/clearing/report",
        region=q.get("region"),
        month=q.get("month"),
        scope=q.get("scope", "cross_province"),
        format=q.get("format", "xlsx"),
        table=q.get("table"),
    )
    return download(console, request, answer)


async def clearing_act(console, request: Request, session: Session) -> Response:
    """C-02: confirm (or object to) one side of a pair's period before the end of the 25th."""
    form, agency, now = request.state.form, session.user.agency, console.clock.now()
    action = request.path_params["action"]
    if action not in ("confirm", "object") or not allowed(session, f"clearing_{action}"):
        return console.render(
            request, "error.html", status=403, title="无权操作", message="只有复核岗可以确认或提出异议。"
        )
    fields = {k: str(form.get(k, "")) for k in ("clearing_month", "insured_region", "treating_region", "side")}
    payload: BaseModel
    try:
        if action == "confirm":
            topic, payload = "clearing.confirm-period.v1", ConfirmClearingPeriod(**fields, confirmed_at=now)
        else:
            from contracts.clearing import ObjectClearingPeriod

            reasons = [r.strip() for r in str(form.get("reasons", "")).splitlines() if r.strip()]
            topic, payload = (
                OBJECT_TOPIC,
                ObjectClearingPeriod(
                    objection_id=f"OBJ-{uuid.uuid4().hex[:12]}", reasons=reasons, objected_at=now, **fields
                ),
            )
    except (ValueError, ValidationError, ImportError) as exc:
        return outcome(console, request, ActionOutcome("refused", f"输入有误：{brief(exc)}"), "")
    region = fields["insured_region"] if fields["side"] == "insured" else fields["treating_region"]

    async def settled() -> bool:
        periods = await _periods(console, agency, region) or []
        return _side_marked(periods, fields, action)

    return outcome(console, request, await console.actor.act(topic, payload, agency, settled), "")


def _side_marked(periods, fields: dict, action: str) -> bool:
    """Whether the period view shows the side confirmed (or objected to)."""
    for period in periods if isinstance(periods, list) else []:
        if period.get("clearing_month") != fields["clearing_month"]:
            continue
        for pair in period.get("counterparts", []):
            if (pair.get("insured_region"), pair.get("treating_region")) != (
                fields["insured_region"],
                fields["treating_region"],
            ):
                continue
            for side in pair.get("sides", []):
                if side.get("side") == fields["side"]:
                    return bool(side.get("confirmed")) if action == "confirm" else bool(side.get("objections"))
    return False
