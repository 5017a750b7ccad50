"""业务办理: start any command the user's agency may send (``services.console.tasks``).

GET /tasks lists the tasks by section, with the drafts waiting for a reviewer; GET /tasks/{slug} is a
task's form, generated from its contract; POST validates it with the contract (errors beside the
fields, in Chinese), then, by the task: a two-step task becomes a draft for a reviewer of the agency; a
final one shows what will be sent and asks again; any other is sent at once. A reviewer opens a draft
(the same summary: the "are you sure"), approves it — it is sent as the agency — or returns it. The
outcome (done, pending, or the service's refusal with its reason and rule) is shown in Chinese."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from contracts.parties import AgencyLevel
from contracts.values import POOLING_REGIONS
from services.console.backend import ActionOutcome
from services.console.pages.common import own_region
from services.console.tasks import forms
from services.console.tasks.catalogue import BY_SLUG, GROUPS, TASKS, Task
from services.console.tasks.drafts import STATE_ZH, Drafts
from services.console.tasks.effects import act
from services.console.tasks.words import enum_zh, field_zh, message_zh, reason_zh, rule_of
from services.console.users import Role, Session

ABOVE = ("prepayment.set-annual-quota.v1", "prepayment.record-payment.v1")  # kept by the level above (P-02, P-08)


def _drafts(console) -> Drafts:
    if not hasattr(console, "task_drafts"):
        console.task_drafts = Drafts(console.mongo[console.base.database])
    return console.task_drafts


def _form_fields(task: Task) -> list[forms.Field]:
    return [f for f in forms.fields(task.model) if f.name not in task.omit]


def _regions(console, session: Session, task: Task) -> dict[str, list[tuple[str, str]]]:
    """The regions each region field offers: the agency's own side — its region, or those it oversees
    (a province its province, the national agency all) — and for the level-above tasks the regions it
    keeps; a counterpart field any pooling region."""
    code = session.user.agency
    agency = console.agency(code)
    every = [(r, f"{r} {v['name']}") for r, v in POOLING_REGIONS.items()]
    if task.topic in ABOVE or task.topic == "prepayment.share-interest.v1":
        kept = [
            (r, n) for r, n in every if (above := console.parties.level_above(r)) is not None and above.code == code
        ]
        own = kept
    elif agency.level is AgencyLevel.NATIONAL:
        own = every
    else:
        own = [(r, n) for r, n in every if console.parties.speaks_for(code, r)]
    return {
        f.name: (
            own
            if f.name in task.own or task.topic in ABOVE and f.name == "insured_region" or f.kind == "regions"
            else every
        )
        for f in _form_fields(task)
        if f.kind in ("region", "regions")
    }


def _context(console, session: Session, task: Task, values: dict, errors: dict) -> dict[str, Any]:
    fields = _form_fields(task)
    regions = _regions(console, session, task)
    own = own_region(console, session)
    kinds = {f.name: f.kind for f in fields}
    for name, choices in regions.items():
        if name not in values and kinds.get(name) == "regions":
            values[name] = []
        elif name not in values:
            codes = [c for c, _ in choices]
            values[name] = own if own in codes and (name in task.own or len(codes) < len(POOLING_REGIONS)) else ""
    return {
        "task": task,
        "fields": forms.visible(fields),
        "values": values,
        "errors": errors,
        "regions": regions,
        "label": lambda key: field_zh(task.topic, key) or key,
        "enum_zh": enum_zh,
        "role_ok": _may_start(session, task),
    }


def _may_start(session: Session, task: Task) -> bool:
    """Anyone of the agency prepares; a one-step final task is sent by a reviewer only."""
    return task.review or not task.final or session.user.role is Role.REVIEWER


async def tasks(console, request: Request, session: Session) -> Response:
    pending = await _drafts(console).pending(session.user.agency)
    groups = [(GROUPS[g], [t for t in TASKS if t.group == g]) for g in GROUPS]
    return console.render(
        request,
        "tasks.html",
        groups=groups,
        drafts=pending,
        STATE_ZH=STATE_ZH,
        by_topic={t.topic: t for t in TASKS},
        may_start=lambda t: _may_start(session, t),
    )


async def task_form(console, request: Request, session: Session) -> Response:
    task = BY_SLUG.get(request.path_params["slug"])
    if task is None or task.page:
        return console.render(request, "error.html", status=404, title="未找到", message="没有这项业务。")
    values = {k: v for k, v in forms.fresh_values(task.model).items() if k not in task.given}
    return console.render(request, "task_form.html", **_context(console, session, task, values, {}))


async def task_submit(console, request: Request, session: Session) -> Response:
    task = BY_SLUG.get(request.path_params["slug"])
    if task is None or task.page:
        return console.render(request, "error.html", status=404, title="未找到", message="没有这项业务。")
    if not _may_start(session, task):
        return console.render(
            request, "error.html", status=403, title="无权操作", message=f"“{task.title}”不可撤销，只有复核岗可以办理。"
        )
    form, agency = request.state.form, session.user.agency
    payload, values, errors = forms.read(task.model, form, now=console.clock.now(), agency=agency)
    if payload is None:
        return console.render(request, "task_form.html", status=422, **_context(console, session, task, values, errors))
    if task.review:
        draft = await _drafts(console).add(
            agency,
            own_region(console, session),
            task.topic,
            payload.model_dump(mode="json"),
            session.user.username,
            console.clock.now(),
        )
        return console.render(request, "task_drafted.html", task=task, draft=draft, rows=summary(task, payload))
    if task.final and form.get("confirmed") != "1":
        return console.render(
            request, "task_confirm.html", task=task, rows=summary(task, payload), hidden=_hidden(values)
        )
    return await _send(console, request, session, task, payload)


async def _send(
    console, request: Request, session: Session, task: Task, payload: BaseModel, title: str = ""
) -> Response:
    acted = await act(console, task.topic, payload, session.user.agency)
    status = 409 if acted.kind == "refused" else 200
    return console.render(
        request,
        "task_outcome.html",
        status=status,
        task=task,
        outcome=acted,
        rows=summary(task, payload),
        words=outcome_words(acted),
        title=title,
    )


# the event that shows a command took effect, as a clerk reads it (the type in the envelope)
EVENT_ZH = {
    "filing.accepted": "备案已受理",
    "filing.changed": "备案已变更",
    "prepayment.quota": "额度已核定",
    "prepayment.usage": "预付金台账已更新",
    "prepayment.balance": "余额已答复",
    "prepayment.interest-shared": "利息已分配",
    "clearing.objection-resolved": "异议已裁定",
    "clearing.obligation-recorded": "办理环节已登记",
    "clearing.entry": "扣款已记入清算",
    "collab.request-opened": "协同请求已发出",
    "collab.lead-received": "线索已移交",
    "collab.coinvestigation-requested": "协查申请已发出",
    "collab.coinvestigation-amended": "协查申请已修改",
    "collab.coinvestigation-withdrawn": "协查申请已撤回",
    "collab.notice-published": "公告已发布",
}


def outcome_words(acted: ActionOutcome) -> dict[str, str]:
    """The outcome in Chinese: its state, the reason and rule of a refusal, the message translated."""
    refusal = acted.refusal or {}
    return {
        "state": {"done": "已生效", "refused": "被拒绝", "pending": "已发送"}.get(acted.kind, acted.kind),
        "reason": reason_zh(refusal.get("reason")) if refusal else "",
        "rule": rule_of({"message": acted.message, **refusal}),
        "message": message_zh(acted.message)
        if acted.kind == "refused"
        else (
            f"服务已按指令处理（{EVENT_ZH.get(acted.message, acted.message)}）。"
            if acted.kind == "done"
            else "指令已签名发送，尚未看到处理结果；稍后在相关页面查看。"
        ),
        "detail": acted.message if acted.kind == "refused" else "",
    }


def _hidden(values: dict) -> list[tuple[str, str]]:
    out = []
    for name, value in values.items():
        if name.startswith(forms.ROW_MAP):
            continue
        for one in value if isinstance(value, list) else [value]:
            out.append((name, str(one)))
    return out


def _mask(kind: str, text: str) -> str:
    """An ID number or a name, as a page may show it (the form itself is posted, never shown back)."""
    if kind == "person" and len(text) >= 10:
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    return text


def summary(task: Task, payload: BaseModel) -> list[tuple[str, str]]:
    """What will be sent, field by field, in Chinese (ID numbers masked)."""
    data = payload.model_dump(mode="json")
    rows: list[tuple[str, str]] = []

    def walk(fields: list[forms.Field], obj: dict, key_prefix: str = "") -> None:
        for f in fields:
            leaf = f.name.rsplit(".", 1)[-1]
            value: Any = obj.get(leaf) if isinstance(obj, dict) else None
            if f.kind in ("stamp", "self") or value in (None, "", [], {}):
                continue
            label = field_zh(task.topic, f.key) or f.key
            if f.kind == "group":
                walk(f.children, value)
            elif f.kind == "rows":
                for i, row in enumerate(value):
                    rows.append(
                        (
                            f"{label} 第{i + 1}行",
                            "；".join(
                                f"{field_zh(task.topic, c.key) or c.key}：{_show(c, row.get(c.name.rsplit('.', 1)[-1]))}"
                                for c in f.children
                                if row.get(c.name.rsplit(".", 1)[-1]) not in (None, "", {})
                            ),
                        )
                    )
            else:
                rows.append((label, _show(f, value)))

    walk(_form_fields(task), data)
    return rows


def _show(f: forms.Field, value: Any) -> str:
    if f.kind == "enum":
        return enum_zh(f.enum, value)
    if f.kind == "enums":
        return "、".join(enum_zh(f.enum, v) for v in value)
    if f.kind == "enum_dict":
        return "；".join(f"{enum_zh(f.enum, k)} {v}" for k, v in value.items())
    if f.kind == "bool":
        return "是" if value else "否"
    if f.kind == "region":
        return f"{value} {POOLING_REGIONS.get(str(value), {}).get('name', '')}".strip()
    if f.kind == "regions":
        return "、".join(f"{v} {POOLING_REGIONS.get(str(v), {}).get('name', '')}".strip() for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(map(str, value))
    return _mask(f.kind, str(value))


# ------------------------------------------------------------------ the reviewer's step
async def draft_view(console, request: Request, session: Session) -> Response:
    draft = await _find(console, request, session)
    if draft is None:
        return console.render(request, "error.html", status=404, title="未找到", message="本机构没有这份待复核的业务。")
    task = _task_of(draft.topic)
    payload = task.model.model_validate(draft.payload)
    return console.render(
        request,
        "task_draft.html",
        task=task,
        draft=draft,
        rows=summary(task, payload),
        STATE_ZH=STATE_ZH,
        can_decide=session.user.role is Role.REVIEWER
        and draft.drafted_by != session.user.username
        and draft.state == "pending",
    )


async def draft_decide(console, request: Request, session: Session) -> Response:
    """A reviewer of the agency, not the one who drafted it, approves (sent now, stamped with the
    business time of approval) or returns a draft; each draft is decided once."""
    action = request.path_params["action"]
    if action not in ("approve", "return") or session.user.role is not Role.REVIEWER:
        return console.render(request, "error.html", status=403, title="无权操作", message="只有复核岗可以复核。")
    found = await _find(console, request, session)
    if found is None:
        return console.render(request, "error.html", status=404, title="未找到", message="本机构没有这份待复核的业务。")
    if found.drafted_by == session.user.username:
        return console.render(request, "error.html", status=403, title="无权操作", message="不能复核本人经办的业务。")
    note = str(request.state.form.get("note", "")).strip()
    draft = await _drafts(console).decide(
        found.id, session.user.agency, "sent" if action == "approve" else "returned", session.user.username, note
    )
    if draft is None:
        return console.render(request, "error.html", status=409, title="已处理", message="这份业务已由他人复核。")
    task = _task_of(draft.topic)
    if action == "return":
        return console.render(request, "task_returned.html", task=task, draft=draft)
    payload = _restamped(task, draft.payload, console.clock.now())
    return await _send(console, request, session, task, payload, title="复核通过")


def _restamped(task: Task, data: dict, now) -> BaseModel:
    """The drafted payload with its moments of sending set to the approval's business time."""
    stamps = {f.name: now for f in forms.fields(task.model) if f.kind == "stamp"}
    return task.model.model_validate({**data, **stamps})


async def _find(console, request: Request, session: Session):
    draft_id = request.path_params["draft_id"]
    try:
        uuid.UUID(draft_id)
    except ValueError:
        return None
    return await _drafts(console).get(draft_id, session.user.agency)


def _task_of(topic: str) -> Task:
    return next(t for t in TASKS if t.topic == topic)
