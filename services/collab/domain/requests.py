"""Collaboration requests 业务协同 (K-01..K-04): pure decisions on one request.

Reply deadlines run on working days from the request's business date (K-02); the receiver is
first responder and may agree more time (K-03); a reply unconfirmed for 10 working days counts
as confirmed (K-04).

Time: every rule reads ``now``, the service's business clock when the command was received; the
``*_at`` a sender claims is recorded as it is, never used to decide (it could be backdated)."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.collab import (
    AgreeCollabExtension, CollabReplyExtended, CollabReplyOverdue, CollabRequestOpened, CollabRequestReplied,
    CollabResultConfirmed, CollabResultDisputed, ConfirmCollabResult, ConfirmedBy, OpenCollabRequest, ProblemType,
    ReplyCollabRequest,
)
from contracts.values import RegionCode
from runtime.calendar import WorkingCalendar, business_date, end_of_business_day
from contracts.parties import RefusalReason
from services.collab.domain.addressing import Actor, Misaddressed, must_be
from services.outcome import DeadlineRequest, Outcome, deadline, stable_id

SERVICE = "collab"
REPLY_DUE = "reply_due"
CONFIRM_DUE = "confirm_due"
REPLY_WORKING_DAYS = {ProblemType.FILING: 2, ProblemType.SYSTEM_FAULT: 1, ProblemType.OTHER: 10}  # K-02
SILENT_CONFIRMATION_WD = 10  # K-04


class RequestStatus(StrEnum):
    OPEN = "open"
    REPLIED = "replied"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class CollabRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    request_id: uuid.UUID
    requester_region: RegionCode
    target_region: RegionCode
    problem_type: ProblemType
    status: RequestStatus = RequestStatus.OPEN
    opened_at: AwareDatetime
    reply_by: AwareDatetime
    overdue_reported: bool = False
    replied_at: AwareDatetime | None = None
    confirm_by: AwareDatetime | None = None
    version: int = 0


def request_id_for(requester_region: str, request_ref: str) -> uuid.UUID:
    return stable_id(SERVICE, "request", requester_region, request_ref)


def open_request(cmd: OpenCollabRequest, calendar: WorkingCalendar, now: datetime) -> Outcome[CollabRequest]:
    """K-01/K-02: a new request and its reply deadline, counted from its receipt."""
    rid = request_id_for(str(cmd.requester_region), cmd.request_ref)
    reply_by = calendar.deadline(now, REPLY_WORKING_DAYS[cmd.problem_type])
    state = CollabRequest(request_id=rid, requester_region=cmd.requester_region, target_region=cmd.target_region,
                          problem_type=cmd.problem_type, opened_at=cmd.opened_at, reply_by=reply_by)
    event = CollabRequestOpened(
        request_id=rid, requester_region=cmd.requester_region, target_region=cmd.target_region, matter=cmd.matter,
        problem_type=cmd.problem_type, person_id=cmd.person_id, escalated_from=cmd.escalated_from,
        opened_at=cmd.opened_at, reply_by=reply_by, calendar=calendar.source)
    return Outcome(state, [event], [_due(state, REPLY_DUE, reply_by, "K-02", calendar)])


def agree_extension(req: CollabRequest, cmd: AgreeCollabExtension, calendar: WorkingCalendar,
                    now: datetime) -> Outcome[CollabRequest]:
    """K-03: more working days, counted from the current reply deadline."""
    if req.status is not RequestStatus.OPEN:
        return Outcome(req, [], [])
    reply_by = end_of_business_day(calendar.add_working_days(business_date(req.reply_by), cmd.extra_working_days))
    new = req.model_copy(update={"reply_by": reply_by, "overdue_reported": False, "version": req.version + 1})
    event = CollabReplyExtended(request_id=req.request_id, requester_region=req.requester_region,
                                reply_by=reply_by, agreed_at=cmd.agreed_at)
    return Outcome(new, [event], [_due(new, REPLY_DUE, reply_by, "K-03", calendar)])


def reply(req: CollabRequest, cmd: ReplyCollabRequest, calendar: WorkingCalendar,
          now: datetime) -> Outcome[CollabRequest]:
    """K-03: the first responder's result; K-04's 10-working-day silent confirmation starts. Late
    and the confirmation window go by receipt (``now``)."""
    if req.status is not RequestStatus.OPEN:
        return Outcome(req, [], [])
    confirm_by = calendar.deadline(now, SILENT_CONFIRMATION_WD)
    new = req.model_copy(update={"status": RequestStatus.REPLIED, "replied_at": cmd.replied_at,
                                 "confirm_by": confirm_by, "problem_type": cmd.problem_type or req.problem_type,
                                 "version": req.version + 1})
    event = CollabRequestReplied(
        request_id=req.request_id, requester_region=req.requester_region, target_region=req.target_region,
        result=cmd.result, other_agencies=cmd.other_agencies, late=now > req.reply_by,
        replied_at=cmd.replied_at, confirm_by=confirm_by)
    return Outcome(new, [event], [_due(new, CONFIRM_DUE, confirm_by, "K-04", calendar)])


def confirm_result(req: CollabRequest, cmd: ConfirmCollabResult, now: datetime) -> Outcome[CollabRequest]:
    """K-04: accepted → confirmed; disputed → may be raised one level up (a new escalated request)."""
    if req.status is not RequestStatus.REPLIED:
        return Outcome(req, [], [])
    if cmd.accepted:
        return _confirmed(req, ConfirmedBy.REQUESTER, cmd.confirmed_at)
    new = req.model_copy(update={"status": RequestStatus.DISPUTED, "version": req.version + 1})
    return Outcome(new, [CollabResultDisputed(request_id=req.request_id, requester_region=req.requester_region,
                                              comment=cmd.comment, disputed_at=cmd.confirmed_at)], [])


# ---------------------------------------------------------------- who may act (000 第八十一条)
def may_reply(req: CollabRequest, actor: Actor) -> None:
    """K-03: the receiver is first responder: only the target agency replies."""
    must_be(actor, req.target_region, role="target agency (first responder)", act="reply",
            sides=(req.requester_region, req.target_region), rule="K-03")


def may_extend(req: CollabRequest, actor: Actor) -> None:
    """K-03: the first responder asks the requester for more time and records what they agreed."""
    must_be(actor, req.target_region, role="target agency (first responder)", act="record an agreed extension",
            sides=(req.requester_region, req.target_region), rule="K-03")


def may_confirm(req: CollabRequest, actor: Actor) -> None:
    """K-04: only the requester confirms or disputes the result."""
    must_be(actor, req.requester_region, role="requester", act="confirm or dispute the result",
            sides=(req.requester_region, req.target_region), rule="K-04")


def may_escalate(cmd: OpenCollabRequest, original: CollabRequest | None, parent_region: str | None,
                 actor: Actor, now: datetime) -> None:
    """K-04: a disputed or unresolved request is raised by its requester to the agency one level
    above the original target (``parent_region``: the region of that target's parent in the
    participant registry). Who and to whom are authority (``Misaddressed``, answered to the
    sender); whether the original may be raised at all is a rule (``ValueError``)."""
    if original is None:
        raise Misaddressed(RefusalReason.NOT_ADDRESSED, "K-04",
                           f"K-04: there is no request {cmd.escalated_from} to raise one level up")
    must_be(actor, original.requester_region, role="requester", act="raise it one level up",
            sides=(original.requester_region, original.target_region), rule="K-04")
    if str(cmd.requester_region) != str(original.requester_region):
        raise Misaddressed(RefusalReason.UNAUTHORIZED, "K-04",
                           f"K-04: request {original.request_id} was opened by {original.requester_region}; "
                           f"only it may raise it, not {cmd.requester_region}")
    if parent_region is None:
        raise Misaddressed(RefusalReason.UNAUTHORIZED, "K-04",
                           f"K-04: the level above {original.target_region} is the national agency, which a "
                           "request cannot name (target_region is a region code)")
    if str(cmd.target_region) != parent_region:
        raise Misaddressed(RefusalReason.UNAUTHORIZED, "K-04",
                           f"K-04: an escalation of a request to {original.target_region} goes to the level above "
                           f"it ({parent_region}), not to {cmd.target_region}")
    unresolved = original.status is RequestStatus.OPEN and now > original.reply_by
    if original.status is not RequestStatus.DISPUTED and not unresolved:
        raise ValueError(f"K-04: request {original.request_id} is {original.status.value}; only a disputed "
                         "result, or a request unanswered past its reply deadline, is raised one level up")


def deadline_fired(req: CollabRequest, request: DeadlineRequest, calendar: WorkingCalendar,
                   now: datetime) -> Outcome[CollabRequest]:
    """K-02: an open request past its reply deadline is reported overdue once; K-04: a reply
    unconfirmed past 10 working days is confirmed by silence."""
    if request.kind == REPLY_DUE and req.status is RequestStatus.OPEN and not req.overdue_reported:
        if now <= req.reply_by:  # extended meanwhile, or fired early
            return Outcome(req, [], [])
        new = req.model_copy(update={"overdue_reported": True, "version": req.version + 1})
        return Outcome(new, [CollabReplyOverdue(request_id=req.request_id, requester_region=req.requester_region,
                                                target_region=req.target_region, reply_by=req.reply_by,
                                                detected_at=now)], [])
    if request.kind == CONFIRM_DUE and req.status is RequestStatus.REPLIED and req.confirm_by:
        if now <= req.confirm_by:
            return Outcome(req, [], [request])
        return _confirmed(req, ConfirmedBy.SILENCE, now)
    return Outcome(req, [], [])


def _confirmed(req: CollabRequest, by: ConfirmedBy, at: datetime) -> Outcome[CollabRequest]:
    new = req.model_copy(update={"status": RequestStatus.CONFIRMED, "version": req.version + 1})
    return Outcome(new, [CollabResultConfirmed(request_id=req.request_id, requester_region=req.requester_region,
                                               by=by, confirmed_at=at)], [])


def _due(req: CollabRequest, kind: str, at: datetime, rule: str, calendar: WorkingCalendar) -> DeadlineRequest:
    return deadline(SERVICE, kind, str(req.request_id), at, rule, calendar.source)
