"""The console's pages and actions. Each handler takes the console, the request and the session; the
services decide what the agency may see (their signed queries) and do (their authority tables and
rules): the console only offers what the query says the rules allow (``actions``) and the user's role
permits (``ACTION_ROLES``), and shows the service's answer either way."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from contracts.clearing import ConfirmClearingPeriod
from contracts.collab import (AcceptCollabExtension, CheckResult, ConfirmCoInvestigationResult, ConfirmCollabResult,
                              DiscussCoInvestigation, LeadOutcome, OpenCollabRequest, ProblemType,
                              ProposeCollabExtension, ReplyCollabRequest, ReportLeadResult,
                              SubmitCoInvestigationResult, TakeUpLead)
from contracts.registry import ALL_TOPICS
from contracts.values import SHANGHAI
from services.console.backend import ActionOutcome, QueryFailed
from services.console.chart import usage_svg
from services.console.users import ROLE_ZH, Role, Session

ANY = frozenset(Role)
REVIEW = frozenset({Role.REVIEWER})
# who may take which action in the console (the services check the agency's authority again)
ACTION_ROLES = {"reply": ANY, "propose_extension": ANY, "take_up": ANY, "submit_result": ANY, "discuss": ANY,
                "confirm_coinvestigation": REVIEW, "accept_extension": REVIEW,
                "confirm": REVIEW, "dispute": REVIEW, "escalate": REVIEW, "clearing_confirm": REVIEW,
                "clearing_object": REVIEW}
ACTION_ZH = {"reply": "答复", "propose_extension": "申请延期", "accept_extension": "同意/不同意延期",
             "confirm": "确认结果", "dispute": "对结果有异议", "escalate": "提请上级协调", "take_up": "受理线索",
             "report_result": "反馈核查结果", "submit_result": "反馈协查结果", "discuss": "沟通",
             "confirm_coinvestigation": "确认/异议协查结果"}
STATUS_ZH = {"open": "待答复", "replied": "已答复待确认", "confirmed": "已确认", "disputed": "有异议",
             "received": "待受理", "investigating": "核查中", "result": "已反馈", "requested": "待协查",
             "withdrawn": "已撤回", "answered": "已反馈待确认", "generated": "已生成待确认", "notified": "已发通知"}
PROBLEM_ZH = {"filing": "备案类（2个工作日）", "system_fault": "系统故障类（1个工作日）", "other": "其他类（10个工作日）"}
FILING_STATUS_ZH = {"pending": "待审核", "active": "有效", "suspended": "暂停", "superseded": "已变更", "cancelled": "已取消",
                    "revoked": "已撤销", "terminated": "已终止", "rejected": "未通过"}
LEVEL_ZH = {"none": "正常", "yellow": "黄色预警", "red": "红色预警"}
SCOPE_ZH = {"cross_province": "跨省", "intra_province": "省内"}
OBJECT_TOPIC = "clearing.object-period.v1"   # when the clearing service offers objections (C-02)


def local(moment) -> str:
    """A moment as agency staff read it: Beijing time."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def yuan(value) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def region_name(code) -> str:
    from services.clearing.domain.report import region_label
    return region_label(str(code)) if code else ""


MOVEMENT_ZH = {"quota": "初始额度", "adjustment": "年度调整", "adjustment_notice": "年度调整付款通知书",
               "adjustment_payment": "年度调整到账", "top_up_notice": "紧急调增付款通知书", "top_up_payment": "紧急调增到账",
               "notice_paid": "通知书付清", "settlement": "异地结算", "reversal": "结算撤销", "clearing_notice": "清算通知",
               "audit_deduction": "审核扣款", "reverse_clearing_return": "反向清算回款", "clearing_payment": "清算拨付",
               "interest": "利息", "opening": "期初结转", "opening_top_ups": "期初调增结转"}
LEDGER_ZH = {"quota": "额度", "quota_granted": "已核定额度", "called": "应缴通知", "calls": "通知书", "prepaid": "暂付款",
             "fund": "财政专户", "expense": "支出", "uncleared": "未清算应付", "cleared_unpaid": "已清算未拨付",
             "returns_due": "应收回款", "interest_income": "利息收入", "opening": "期初"}
TEMPLATE_GLOBALS = {"FILING_STATUS_ZH": FILING_STATUS_ZH, "MOVEMENT_ZH": MOVEMENT_ZH, "LEDGER_ZH": LEDGER_ZH, "local": local, "yuan": yuan, "region_name": region_name, "STATUS_ZH": STATUS_ZH,
                    "ACTION_ZH": ACTION_ZH, "PROBLEM_ZH": PROBLEM_ZH, "LEVEL_ZH": LEVEL_ZH, "SCOPE_ZH": SCOPE_ZH,
                    "ROLE_ZH": ROLE_ZH}


def allowed(session: Session, action: str) -> bool:
    return session.user.role in ACTION_ROLES.get(action, ANY)


def refused_page(console, request: Request, failed: QueryFailed) -> Response:
    status = failed.answer.status if failed.answer.status in (400, 401, 403, 404) else 502
    title = {403: "无权查看", 404: "未找到", 400: "查询有误", 401: "签名未被接受"}.get(status, "服务暂不可用")
    return console.render(request, "error.html", status=status, title=title, message=failed.answer.message)


def own_region(console, session: Session) -> str | None:
    return agency_region(console, session.user.agency)


def agency_region(console, code: str) -> str | None:
    """The region an agency handles itself (None: the national level)."""
    region = console.agency(code).region
    return str(region) if region else None


# ---------------------------------------------------------------- collaboration (K-03..K-06)
async def collab(console, request: Request, session: Session) -> Response:
    box = request.query_params.get("box", "inbox")
    box = box if box in ("inbox", "outbox") else "inbox"
    agency = session.user.agency
    try:
        rows = await console.reader.get_json("collab", agency, "/collab/requests", box=box) \
            if own_region(console, session) else []
        notices = await console.reader.get_json("collab", agency, "/collab/notices") or []
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    today = console.clock.now().astimezone(SHANGHAI).date()
    for row in rows or []:
        due = datetime.fromisoformat(row["due_at"]).astimezone(SHANGHAI).date() if row.get("due_at") else None
        row["due_today"] = due == today
        row["allowed"] = [a for a in row["actions"] if allowed(session, a)]
    return console.render(request, "collab.html", box=box, rows=rows or [], notices=notices[:10])


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
        return console.render(request, "error.html", status=404, title="未找到",
                              message="没有发给本机构或由本机构发出的这条协同请求。")
    region = own_region(console, session)
    from services.collab.domain.requests import CollabRequest
    from services.collab.query_lists import request_row
    row = request_row(CollabRequest.model_validate(found), region or "", console.parties, console.clock.now())
    row["allowed"] = [a for a in row["actions"] if allowed(session, a)]
    return console.render(request, "request.html", row=row, outcome=None)


async def request_action(console, request: Request, session: Session) -> Response:
    """One of the K-03/K-04 actions on a request, as the user's agency."""
    request_id, action = request.path_params["request_id"], request.path_params["action"]
    form, agency, now = request.state.form, session.user.agency, console.clock.now()
    if action not in ACTION_ROLES or not allowed(session, action):
        return console.render(request, "error.html", status=403, title="无权操作",
                              message=f"角色“{ROLE_ZH[session.user.role]}”不能执行“{ACTION_ZH.get(action, action)}”。")
    try:
        rid = uuid.UUID(request_id)
        topic, payload, settled = _request_command(console, agency, rid, action, form, now)
    except (ValueError, ValidationError) as exc:
        return _outcome(console, request, ActionOutcome("refused", f"输入有误：{_brief(exc)}"), request_id)
    outcome = await console.actor.act(topic, payload, agency, settled)
    return _outcome(console, request, outcome, request_id)


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
        return ("collab.reply-request.v1", ReplyCollabRequest(request_id=rid, result=text, replied_at=now),
                when(lambda s: s.get("status") != "open"))
    if action == "propose_extension":
        days = int(str(form.get("days", "0")) or 0)
        return ("collab.propose-extension.v1", ProposeCollabExtension(
            request_id=rid, extra_working_days=days, reason=text, proposed_at=now),
            when(lambda s: s.get("proposed_extension") == days))
    if action == "accept_extension":
        accepted = form.get("accepted") == "yes"
        return ("collab.accept-extension.v1", AcceptCollabExtension(
            request_id=rid, accepted=accepted, comment=text, answered_at=now),
            when(lambda s: s.get("proposed_extension") is None))
    if action in ("confirm", "dispute"):
        return ("collab.confirm-result.v1", ConfirmCollabResult(
            request_id=rid, accepted=action == "confirm", comment=text, confirmed_at=now),
            when(lambda s: s.get("status") in ("confirmed", "disputed")))
    if action == "escalate":
        region = agency_region(console, agency)
        if region is None:     # K-04: a disputed request is raised by the agency of a region
            raise ValueError(f"agency {agency} handles no region: it cannot raise a request one level up (K-04)")
        target = str(form.get("target", ""))
        ref = f"escalate-{rid}"
        from services.collab.domain.requests import request_id_for
        new_id = request_id_for(region, ref)

        async def opened() -> bool:
            return bool(await console.reader.get_json("collab", agency, "/collab/request", id=str(new_id)))
        return ("collab.open-request.v1", OpenCollabRequest(
            request_ref=ref, requester_region=region, target_region=target, matter=text,
            problem_type=ProblemType(str(form.get("problem_type", "other"))), escalated_from=rid, opened_at=now),
            opened)
    raise ValueError(f"unknown action {action}")


def _brief(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "；".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
    return str(exc)


def _outcome(console, request: Request, outcome: ActionOutcome, ref: str) -> Response:
    """The outcome where the user acted: done → the page again, fresh, saying so (htmx follows
    ``HX-Redirect``); refused or pending → the message beside the form, which stays as it was."""
    status = 200 if outcome.kind != "refused" else 409
    back = _same_page(request)
    if request.headers.get("hx-request") and outcome.kind == "done" and back:
        return Response(status_code=200, headers={"HX-Redirect": back})
    if request.headers.get("hx-request"):
        return console.render(request, "outcome.html", status=200, outcome=outcome, ref=ref)
    return console.render(request, "outcome_page.html", status=status, outcome=outcome, ref=ref,
                          back=request.headers.get("referer", "/collab"))


def _same_page(request: Request) -> str | None:
    """The page the action came from (same origin only), marked ``done=1``."""
    from urllib.parse import parse_qsl, urlencode, urlsplit
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path.startswith("/") or (referer.netloc and referer.netloc != request.headers.get("host")):
        return None
    query = [(k, v) for k, v in parse_qsl(referer.query) if k != "done"] + [("done", "1")]
    return f"{referer.path}?{urlencode(query)}"


async def leads(console, request: Request, session: Session) -> Response:
    box = request.query_params.get("box", "inbox")
    box = box if box in ("inbox", "outbox") else "inbox"
    try:
        rows = await console.reader.get_json("collab", session.user.agency, "/collab/leads", box=box) \
            if own_region(console, session) else []
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    return console.render(request, "leads.html", box=box, rows=rows or [])


async def lead_take_up(console, request: Request, session: Session) -> Response:
    lead_id = request.path_params["lead_id"]
    agency = session.user.agency
    try:
        payload = TakeUpLead(lead_id=uuid.UUID(lead_id), taken_up_at=console.clock.now())
    except (ValueError, ValidationError) as exc:
        return _outcome(console, request, ActionOutcome("refused", _brief(exc)), lead_id)

    async def settled() -> bool:
        rows = await console.reader.get_json("collab", agency, "/collab/leads", box="inbox") or []
        return any(r["lead_id"] == lead_id and r["status"] != "received" for r in rows)
    return _outcome(console, request, await console.actor.act("collab.take-up-lead.v1", payload, agency, settled),
                    lead_id)


async def lead_result(console, request: Request, session: Session) -> Response:
    """K-05: the treating place reports what its investigation found."""
    lead_id, form, agency = request.path_params["lead_id"], request.state.form, session.user.agency
    try:
        payload = ReportLeadResult(lead_id=uuid.UUID(lead_id), outcome=LeadOutcome(str(form.get("outcome", ""))),
                                   findings=str(form.get("text", "")).strip(), reported_at=console.clock.now())
    except (ValueError, ValidationError) as exc:
        return _outcome(console, request, ActionOutcome("refused", f"输入有误：{_brief(exc)}"), lead_id)

    async def settled() -> bool:
        rows = await console.reader.get_json("collab", agency, "/collab/leads", box="inbox") or []
        return any(r["lead_id"] == lead_id and r.get("outcome") for r in rows)
    outcome = await console.actor.act("collab.report-lead-result.v1", payload, agency, settled)
    return _outcome(console, request, outcome, lead_id)


async def coinvestigations(console, request: Request, session: Session) -> Response:
    period = request.query_params.get("period") or console.clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        period = console.clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
    agency = session.user.agency
    try:
        rows = await console.reader.get_json("collab", agency, "/collab/coinvestigations", period=period) \
            if own_region(console, session) else []
        stats = await console.reader.get_json("collab", agency, "/collab/statistics", period=period)
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    return console.render(request, "coinvestigations.html", period=period, rows=rows or [], stats=stats,
                          months=_months(console, 6))


async def coinvestigation_action(console, request: Request, session: Session) -> Response:
    """Q-04/Q-05 on one co-investigation, as the user's agency."""
    item_id, action = request.path_params["request_id"], request.path_params["action"]
    form, agency, now = request.state.form, session.user.agency, console.clock.now()
    if action not in ("submit_result", "confirm_coinvestigation", "discuss") or not allowed(session, action):
        return console.render(request, "error.html", status=403, title="无权操作",
                              message=f"角色“{ROLE_ZH[session.user.role]}”不能执行“{ACTION_ZH.get(action, action)}”。")
    text = str(form.get("text", "")).strip()
    payload: BaseModel
    try:
        rid = uuid.UUID(item_id)
        if action == "submit_result":
            topic, payload = "collab.submit-coinvestigation-result.v1", SubmitCoInvestigationResult(
                request_id=rid, result=CheckResult(str(form.get("result", ""))), reason=text, submitted_at=now)
        elif action == "confirm_coinvestigation":
            topic, payload = "collab.confirm-coinvestigation.v1", ConfirmCoInvestigationResult(
                request_id=rid, agreed=form.get("agreed") == "yes", comment=text, confirmed_at=now)
        else:
            topic, payload = "collab.discuss-coinvestigation.v1", DiscussCoInvestigation(
                request_id=rid, message=text, said_at=now)
    except (ValueError, ValidationError) as exc:
        return _outcome(console, request, ActionOutcome("refused", f"输入有误：{_brief(exc)}"), item_id)
    before = await _coinvestigation(console, agency, item_id)

    async def settled() -> bool:
        return (await _coinvestigation(console, agency, item_id)) != before
    return _outcome(console, request, await console.actor.act(topic, payload, agency, settled), item_id)


async def _coinvestigation(console, agency: str, item_id: str) -> dict | None:
    rows = await console.reader.get_json("collab", agency, "/collab/coinvestigations") or []
    return next((r for r in rows if r["request_id"] == item_id), None)


async def statistics_download(console, request: Request, session: Session) -> Response:
    period, fmt = request.query_params.get("period", ""), request.query_params.get("format", "csv")
    answer = await console.reader.get("collab", session.user.agency, "/collab/statistics", period=period, format=fmt)
    return _file(console, request, answer)


def _months(console, n: int) -> list[str]:
    today = console.clock.now().astimezone(SHANGHAI).date().replace(day=1)
    out = []
    for _ in range(n):
        out.append(today.strftime("%Y-%m"))
        today = (today - timedelta(days=1)).replace(day=1)
    return out


# ---------------------------------------------------------------- clearing (C-01..C-04)
async def clearing(console, request: Request, session: Session) -> Response:
    q = request.query_params
    month = q.get("month") or console.clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
    scope = q.get("scope", "cross_province")
    region = q.get("region") or own_region(console, session)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month) or scope not in SCOPE_ZH:
        return console.render(request, "error.html", status=400, title="查询有误", message="月份或范围无效")
    if not region:
        return console.render(request, "clearing.html", region=None, month=month, scope=scope, report=None,
                              periods=None, mismatches=[], months=_months(console, 6), can_object=False)
    agency = session.user.agency
    try:
        report = await console.reader.get_json("clearing", agency, "/clearing/report", region=region, month=month,
                                               scope=scope)
        periods = await _periods(console, agency, region)
        mismatches = await _mismatches(console, agency, region)
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    periods = [p for p in periods or [] if p.get("scope", scope) == scope]
    return console.render(request, "clearing.html", region=region, month=month, scope=scope, report=report,
                          periods=periods, mismatches=mismatches, months=_months(console, 6),
                          can_object=OBJECT_TOPIC in ALL_TOPICS and allowed(session, "clearing_object"),
                          can_confirm=allowed(session, "clearing_confirm"))


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


async def clearing_download(console, request: Request, session: Session) -> Response:
    q = request.query_params
    answer = await console.reader.get("clearing", session.user.agency, "/clearing/report", region=q.get("region"),
                                      month=q.get("month"), scope=q.get("scope", "cross_province"),
                                      format=q.get("format", "xlsx"), table=q.get("table"))
    return _file(console, request, answer)


def _file(console, request: Request, answer) -> Response:
    if not answer.ok:
        return console.render(request, "error.html", status=answer.status if answer.status < 500 else 502,
                              title="无法下载", message=answer.message)
    return Response(answer.body, media_type=answer.content_type,
                    headers={"content-disposition": answer.disposition or "attachment"})


async def clearing_act(console, request: Request, session: Session) -> Response:
    """C-02: confirm (or object to) one side of a pair's period before the end of the 25th."""
    form, agency, now = request.state.form, session.user.agency, console.clock.now()
    action = request.path_params["action"]
    if action not in ("confirm", "object") or not allowed(session, f"clearing_{action}"):
        return console.render(request, "error.html", status=403, title="无权操作", message="只有复核岗可以确认或提出异议。")
    fields = {k: str(form.get(k, "")) for k in ("clearing_month", "insured_region", "treating_region", "side")}
    payload: BaseModel
    try:
        if action == "confirm":
            topic, payload = "clearing.confirm-period.v1", ConfirmClearingPeriod(**fields, confirmed_at=now)
        else:
            from contracts.clearing import ObjectClearingPeriod
            reasons = [r.strip() for r in str(form.get("reasons", "")).splitlines() if r.strip()]
            topic, payload = OBJECT_TOPIC, ObjectClearingPeriod(
                objection_id=f"OBJ-{uuid.uuid4().hex[:12]}", reasons=reasons, objected_at=now, **fields)
    except (ValueError, ValidationError, ImportError) as exc:
        return _outcome(console, request, ActionOutcome("refused", f"输入有误：{_brief(exc)}"), "")
    region = fields["insured_region"] if fields["side"] == "insured" else fields["treating_region"]

    async def settled() -> bool:
        periods = await _periods(console, agency, region) or []
        return _side_marked(periods, fields, action)
    return _outcome(console, request, await console.actor.act(topic, payload, agency, settled), "")


def _side_marked(periods, fields: dict, action: str) -> bool:
    """Whether the period view shows the side confirmed (or objected to)."""
    for period in periods if isinstance(periods, list) else []:
        if period.get("clearing_month") != fields["clearing_month"]:
            continue
        for pair in period.get("counterparts", []):
            if (pair.get("insured_region"), pair.get("treating_region")) != (fields["insured_region"],
                                                                              fields["treating_region"]):
                continue
            for side in pair.get("sides", []):
                if side.get("side") == fields["side"]:
                    return bool(side.get("confirmed")) if action == "confirm" else bool(side.get("objections"))
    return False


# ---------------------------------------------------------------- prepayment (P-04..P-09)
async def prepayment(console, request: Request, session: Session) -> Response:
    q = request.query_params
    region = q.get("region") or own_region(console, session)
    scope = q.get("scope", "cross_province")
    if not region:
        return console.render(request, "prepayment.html", region=None, scope=scope, account=None, usage=None,
                              chart="", movements=[])
    agency = session.user.agency
    try:
        account = await console.reader.get_json("prepayment", agency, "/prepayment/account", region=region, scope=scope)
        usage = await console.reader.get_json("prepayment", agency, "/prepayment/usage", region=region, scope=scope) \
            if account else None
        movements = await console.reader.get_json("prepayment", agency, "/prepayment/movements", region=region,
                                                  scope=scope) if account else []
    except QueryFailed as failed:
        return refused_page(console, request, failed)
    chart = usage_svg(usage["points"], Decimal(usage["yellow_percent"]), Decimal(usage["red_percent"])) if usage else ""
    return console.render(request, "prepayment.html", region=region, scope=scope, account=account, usage=usage,
                          chart=chart, movements=list(reversed(movements or []))[:100])


# ---------------------------------------------------------------- filing lookup and the slip
async def filing_form(console, request: Request, session: Session) -> Response:
    return console.render(request, "filing.html", result=None, error=None, form={})


async def filing_lookup(console, request: Request, session: Session) -> Response:
    """F-15: is the person filed for this place on this date? The ID number travels sealed to the
    filing service in the query (``services/filing/query.py``), never in a URL in clear; the form
    is a POST, so it is not in the console's URLs either."""
    form = request.state.form
    person, region, on = (str(form.get(k, "")).strip() for k in ("person_id", "region", "on"))
    from runtime.query import seal_person
    try:
        sealed = seal_person(console.parties, "filing", person)
        if region:   # filed for this place on this date (today unless given)?
            on = on or console.clock.now().astimezone(SHANGHAI).date().isoformat()
            result = await console.reader.get_json("filing", session.user.agency, "/filing/status", person=sealed,
                                                   region=region, on=on)
        else:        # every filing this agency may see
            result = await console.reader.get_json("filing", session.user.agency, "/filing/filings", person=sealed)
    except ValueError as exc:
        return console.render(request, "filing.html", status=400, result=None, error=str(exc), form=form)
    except QueryFailed as failed:
        return console.render(request, "filing.html", status=failed.answer.status, result=None,
                              error=failed.answer.message, form={"region": region, "on": on})
    return console.render(request, "filing.html", result=result, error=None if result else "没有可见的备案记录",
                          form={"region": region, "on": on})


async def slip_form(console, request: Request, session: Session) -> Response:
    return console.render(request, "slip_form.html", error=None)


async def slip(console, request: Request, session: Session) -> Response:
    """附件13 湖北省异地就医住院结算单, printable: the settlement's slip as the settlement service holds it."""
    form = request.state.form
    person, settlement = str(form.get("person_id", "")).strip(), str(form.get("settlement_id", "")).strip()
    from runtime.query import seal_person
    try:
        sealed = seal_person(console.parties, "settlement", person)
        found = await console.reader.get_json("settlement", session.user.agency, "/settlement/slip", person=sealed,
                                              settlement=settlement)
    except ValueError as exc:
        return console.render(request, "slip_form.html", status=400, error=str(exc))
    except QueryFailed as failed:
        return console.render(request, "slip_form.html", status=failed.answer.status, error=failed.answer.message)
    if not found:
        return console.render(request, "slip_form.html", status=404, error="没有本机构可见的这笔结算")
    return console.render(request, "slip.html", slip=found)


async def home(console, request: Request, session: Session) -> Response:
    from starlette.responses import RedirectResponse
    return RedirectResponse("/collab", status_code=303)


ROUTES = [
    ("/", home, ["GET"]),
    ("/collab", collab, ["GET"]),
    ("/collab/requests/{request_id}", request_detail, ["GET"]),
    ("/collab/requests/{request_id}/{action}", request_action, ["POST"]),
    ("/collab/leads", leads, ["GET"]),
    ("/collab/leads/{lead_id}/take-up", lead_take_up, ["POST"]),
    ("/collab/leads/{lead_id}/result", lead_result, ["POST"]),
    ("/coinvestigations", coinvestigations, ["GET"]),
    ("/coinvestigations/statistics", statistics_download, ["GET"]),
    ("/coinvestigations/{request_id}/{action}", coinvestigation_action, ["POST"]),
    ("/clearing", clearing, ["GET"]),
    ("/clearing/download", clearing_download, ["GET"]),
    ("/clearing/{action}", clearing_act, ["POST"]),
    ("/prepayment", prepayment, ["GET"]),
    ("/filing", filing_form, ["GET"]),
    ("/filing", filing_lookup, ["POST"]),
    ("/slip", slip_form, ["GET"]),
    ("/slip", slip, ["POST"]),
]
