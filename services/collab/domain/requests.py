"""Collaboration requests 业务协同 (K-01..K-04): pure decisions on one request.

Reply deadlines run on working days from the request's business date (K-02); the receiver is
first responder; more time is agreed by both sides (K-03, 000 第八十一条 "与申请地沟通延长处理时限"):
the target proposes, the requester accepts, and only then the deadline moves; the agencies the
target lists as needed (``other_agencies``) are told of the request and see it (K-03); a reply
unconfirmed for 10 working days counts as confirmed (K-04).

Time: every rule reads ``now``, the service's business clock when the command was received; the
``*_at`` a sender claims is recorded as it is, never used to decide (it could be backdated)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.collab import (
    AcceptCollabExtension,
    CollabAgenciesInvolved,
    CollabExtensionDeclined,
    CollabExtensionProposed,
    CollabReplyExtended,
    CollabReplyOverdue,
    CollabRequestOpened,
    CollabRequestReplied,
    CollabResultConfirmed,
    CollabResultDisputed,
    ConfirmCollabResult,
    OpenCollabRequest,
    ProblemType,
    ProposeCollabExtension,
    ReplyCollabRequest,
    ResultConfirmedBy,
)
from contracts.parties import RefusalReason
from contracts.values import RegionCode
from runtime.calendar import WorkingCalendar, business_date, end_of_business_day
from services.collab.domain.addressing import Actor, Misaddressed, must_be
from services.outcome import DeadlineRequest, Decision, deadline, stable_id

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
    matter: str = ""
    escalated_from: uuid.UUID | None = None
    proposed_extension: int | None = Field(None, description="K-03: working days the target asked for, unanswered")
    extensions: int = Field(0, description="K-03: extensions both sides agreed")
    other_agencies: tuple[RegionCode, ...] = Field((), description="K-03: agencies the target listed; they see it")
    version: int = 0


def request_id_for(requester_region: str, request_ref: str) -> uuid.UUID:
    return stable_id(SERVICE, "request", requester_region, request_ref)


def open_request(cmd: OpenCollabRequest, calendar: WorkingCalendar, now: datetime) -> Decision[CollabRequest]:
    """K-01/K-02: a new request and its reply deadline, counted from its receipt."""
    rid = request_id_for(str(cmd.requester_region), cmd.request_ref)
    reply_by = calendar.deadline(now, REPLY_WORKING_DAYS[cmd.problem_type])
    state = CollabRequest(
        request_id=rid,
        requester_region=cmd.requester_region,
        target_region=cmd.target_region,
        problem_type=cmd.problem_type,
        opened_at=cmd.opened_at,
        reply_by=reply_by,
        matter=cmd.matter,
        escalated_from=cmd.escalated_from,
    )
    event = CollabRequestOpened(
        request_id=rid,
        requester_region=cmd.requester_region,
        target_region=cmd.target_region,
        matter=cmd.matter,
        problem_type=cmd.problem_type,
        person_id=cmd.person_id,
        escalated_from=cmd.escalated_from,
        opened_at=cmd.opened_at,
        reply_by=reply_by,
        calendar=calendar.source,
    )
    return Decision(state, [event], [_due(state, REPLY_DUE, reply_by, "K-02", calendar)])


def extended_reply_by(req: CollabRequest, extra_working_days: int, calendar: WorkingCalendar) -> datetime:
    """K-03: more working days, counted from the reply deadline in force (M-02)."""
    return end_of_business_day(calendar.add_working_days(business_date(req.reply_by), extra_working_days))


def propose_extension(
    req: CollabRequest, cmd: ProposeCollabExtension, calendar: WorkingCalendar, now: datetime
) -> Decision[CollabRequest]:
    """K-03: the first responder asks for more time. The deadline in force does not move (one side
    alone cannot extend it); a later proposal replaces an unanswered one."""
    if req.status is not RequestStatus.OPEN:
        raise ValueError(f"K-03: request {req.request_id} is {req.status.value}; only an open request is extended")
    new = req.model_copy(update={"proposed_extension": cmd.extra_working_days, "version": req.version + 1})
    return Decision(
        new,
        [
            CollabExtensionProposed(
                request_id=req.request_id,
                requester_region=req.requester_region,
                target_region=req.target_region,
                extra_working_days=cmd.extra_working_days,
                reason=cmd.reason,
                reply_by=req.reply_by,
                proposed_reply_by=extended_reply_by(req, cmd.extra_working_days, calendar),
                proposed_at=cmd.proposed_at,
            )
        ],
        [],
    )


def accept_extension(
    req: CollabRequest, cmd: AcceptCollabExtension, calendar: WorkingCalendar, now: datetime
) -> Decision[CollabRequest]:
    """K-03: the requester's answer to the proposal. Accepted: the reply deadline moves by the
    proposed working days from the deadline in force, and is armed again (an overdue already
    reported is reported again if the new one passes too). Declined: nothing moves."""
    if req.proposed_extension is None:
        raise ValueError(f"K-03: request {req.request_id} has no proposed extension to answer")
    if req.status is not RequestStatus.OPEN:  # replied meanwhile: the proposal lapses
        return Decision(req.model_copy(update={"proposed_extension": None, "version": req.version + 1}), [], [])
    if not cmd.accepted:
        new = req.model_copy(update={"proposed_extension": None, "version": req.version + 1})
        return Decision(
            new,
            [
                CollabExtensionDeclined(
                    request_id=req.request_id,
                    requester_region=req.requester_region,
                    target_region=req.target_region,
                    comment=cmd.comment,
                    reply_by=req.reply_by,
                    answered_at=cmd.answered_at,
                )
            ],
            [],
        )
    reply_by = extended_reply_by(req, req.proposed_extension, calendar)
    new = req.model_copy(
        update={
            "reply_by": reply_by,
            "overdue_reported": False,
            "proposed_extension": None,
            "extensions": req.extensions + 1,
            "version": req.version + 1,
        }
    )
    event = CollabReplyExtended(
        request_id=req.request_id, requester_region=req.requester_region, reply_by=reply_by, agreed_at=cmd.answered_at
    )
    return Decision(new, [event], [_due(new, REPLY_DUE, reply_by, "K-03", calendar)])


def reply(
    req: CollabRequest, cmd: ReplyCollabRequest, calendar: WorkingCalendar, now: datetime
) -> Decision[CollabRequest]:
    """K-03: the first responder's result; K-04's 10-working-day silent confirmation starts. Late
    and the confirmation window go by receipt (``now``)."""
    if req.status is not RequestStatus.OPEN:
        return Decision(req, [], [])
    confirm_by = calendar.deadline(now, SILENT_CONFIRMATION_WD)
    sides = (str(req.requester_region), str(req.target_region))
    listed = [r for r in dict.fromkeys(cmd.other_agencies) if str(r) not in sides]
    new = req.model_copy(
        update={
            "status": RequestStatus.REPLIED,
            "replied_at": cmd.replied_at,
            "confirm_by": confirm_by,
            "problem_type": cmd.problem_type or req.problem_type,
            "proposed_extension": None,
            "other_agencies": tuple(dict.fromkeys((*req.other_agencies, *listed))),
            "version": req.version + 1,
        }
    )
    event = CollabRequestReplied(
        request_id=req.request_id,
        requester_region=req.requester_region,
        target_region=req.target_region,
        result=cmd.result,
        other_agencies=cmd.other_agencies,
        late=now > req.reply_by,
        replied_at=cmd.replied_at,
        confirm_by=confirm_by,
    )
    told = [
        CollabAgenciesInvolved(  # K-03: each agency the first responder needs sees the request
            request_id=req.request_id,
            agency_region=region,
            requester_region=req.requester_region,
            target_region=req.target_region,
            matter=req.matter,
            problem_type=new.problem_type,
            result=cmd.result,
            listed_at=cmd.replied_at,
        )
        for region in listed
    ]
    return Decision(new, [event, *told], [_due(new, CONFIRM_DUE, confirm_by, "K-04", calendar)])


def confirm_result(req: CollabRequest, cmd: ConfirmCollabResult, now: datetime) -> Decision[CollabRequest]:
    """K-04: accepted → confirmed; disputed → may be raised one level up (a new escalated request)."""
    if req.status is not RequestStatus.REPLIED:
        return Decision(req, [], [])
    if cmd.accepted:
        return _confirmed(req, ResultConfirmedBy.REQUESTER, cmd.confirmed_at)
    new = req.model_copy(update={"status": RequestStatus.DISPUTED, "version": req.version + 1})
    return Decision(
        new,
        [
            CollabResultDisputed(
                request_id=req.request_id,
                requester_region=req.requester_region,
                comment=cmd.comment,
                disputed_at=cmd.confirmed_at,
            )
        ],
        [],
    )


# ---------------------------------------------------------------- who may act (000 第八十一条)
def may_reply(req: CollabRequest, actor: Actor) -> None:
    """K-03: the receiver is first responder: only the target agency replies."""
    must_be(
        actor,
        req.target_region,
        role="target agency (first responder)",
        act="reply",
        sides=(req.requester_region, req.target_region),
        rule="K-03",
    )


def may_propose_extension(req: CollabRequest, actor: Actor) -> None:
    """K-03: the first responder asks the requester for more time."""
    must_be(
        actor,
        req.target_region,
        role="target agency (first responder)",
        act="propose an extension",
        sides=(req.requester_region, req.target_region),
        rule="K-03",
    )


def may_accept_extension(req: CollabRequest, actor: Actor) -> None:
    """K-03: the requester, the other side of the agreement, accepts or declines it."""
    must_be(
        actor,
        req.requester_region,
        role="requester",
        act="accept or decline the extension",
        sides=(req.requester_region, req.target_region),
        rule="K-03",
    )


def may_confirm(req: CollabRequest, actor: Actor) -> None:
    """K-04: only the requester confirms or disputes the result."""
    must_be(
        actor,
        req.requester_region,
        role="requester",
        act="confirm or dispute the result",
        sides=(req.requester_region, req.target_region),
        rule="K-04",
    )


def may_escalate(
    cmd: OpenCollabRequest, original: CollabRequest | None, parent_region: str | None, actor: Actor, now: datetime
) -> None:
    """K-04: a disputed or unresolved request is raised by its requester to the agency one level
    above the original target (``parent_region``: the region of that target's parent in the
    participant registry). Who and to whom are authority (``Misaddressed``, answered to the
    sender); whether the original may be raised at all is a rule (``ValueError``)."""
    if original is None:
        raise Misaddressed(
            RefusalReason.NOT_ADDRESSED, "K-04", f"K-04: there is no request {cmd.escalated_from} to raise one level up"
        )
    must_be(
        actor,
        original.requester_region,
        role="requester",
        act="raise it one level up",
        sides=(original.requester_region, original.target_region),
        rule="K-04",
    )
    if str(cmd.requester_region) != str(original.requester_region):
        raise Misaddressed(
            RefusalReason.UNAUTHORIZED,
            "K-04",
            f"K-04: request {original.request_id} was opened by {original.requester_region}; "
            f"only it may raise it, not {cmd.requester_region}",
        )
    if parent_region is None:
        raise Misaddressed(
            RefusalReason.UNAUTHORIZED,
            "K-04",
            f"K-04: the level above {original.target_region} is the national agency, which a "
            "request cannot name (target_region is a region code)",
        )
    if str(cmd.target_region) != parent_region:
        raise Misaddressed(
            RefusalReason.UNAUTHORIZED,
            "K-04",
            f"K-04: an escalation of a request to {original.target_region} goes to the level above "
            f"it ({parent_region}), not to {cmd.target_region}",
        )
    unresolved = original.status is RequestStatus.OPEN and now > original.reply_by
    if original.status is not RequestStatus.DISPUTED and not unresolved:
        raise ValueError(
            f"K-04: request {original.request_id} is {original.status.value}; only a disputed "
            "result, or a request unanswered past its reply deadline, is raised one level up"
        )


def may_escalate_coinvestigation(cmd: OpenCollabRequest, original, parent_region: str | None, actor: Actor) -> None:
    """K-04 applied to a co-investigation (Q-05 "对协查结果存在异议的…沟通处理"): a disputed result is
    raised by the insured place that asked, to the agency one level above the treating place in the
    participant registry. ``original`` is a ``coinvestigation.CoInvestigation``."""
    sides = (original.insured_region, original.treating_region)
    must_be(
        actor,
        original.insured_region,
        role="insured place",
        act="raise the disputed result one level up",
        sides=sides,
        rule="K-04",
    )
    if str(cmd.requester_region) != str(original.insured_region):
        raise Misaddressed(
            RefusalReason.UNAUTHORIZED,
            "K-04",
            f"K-04: co-investigation {original.request_id} was asked by {original.insured_region}; "
            f"only it may raise it, not {cmd.requester_region}",
        )
    if parent_region is None or str(cmd.target_region) != parent_region:
        raise Misaddressed(
            RefusalReason.UNAUTHORIZED,
            "K-04",
            f"K-04: a co-investigation checked by {original.treating_region} is raised to the level "
            f"above it ({parent_region}), not to {cmd.target_region}",
        )
    if original.status.value != "disputed":
        raise ValueError(
            f"K-04: co-investigation {original.request_id} is {original.status.value}; only a disputed "
            "result is raised one level up"
        )


def deadline_fired(
    req: CollabRequest, request: DeadlineRequest, calendar: WorkingCalendar, now: datetime
) -> Decision[CollabRequest]:
    """K-02: an open request past its reply deadline is reported overdue once; K-04: a reply
    unconfirmed past 10 working days is confirmed by silence."""
    if request.kind == REPLY_DUE and req.status is RequestStatus.OPEN and not req.overdue_reported:
        if now <= req.reply_by:  # extended meanwhile, or fired early
            return Decision(req, [], [])
        new = req.model_copy(update={"overdue_reported": True, "version": req.version + 1})
        return Decision(
            new,
            [
                CollabReplyOverdue(
                    request_id=req.request_id,
                    requester_region=req.requester_region,
                    target_region=req.target_region,
                    reply_by=req.reply_by,
                    detected_at=now,
                )
            ],
            [],
        )
    if request.kind == CONFIRM_DUE and req.status is RequestStatus.REPLIED and req.confirm_by:
        if now <= req.confirm_by:
            return Decision(req, [], [request])
        return _confirmed(req, ResultConfirmedBy.SILENCE, now)
    return Decision(req, [], [])


def _confirmed(req: CollabRequest, by: ResultConfirmedBy, at: datetime) -> Decision[CollabRequest]:
    new = req.model_copy(update={"status": RequestStatus.CONFIRMED, "version": req.version + 1})
    return Decision(
        new,
        [
            CollabResultConfirmed(
                request_id=req.request_id, requester_region=req.requester_region, by=by, confirmed_at=at
            )
        ],
        [],
    )


def _due(req: CollabRequest, kind: str, at: datetime, rule: str, calendar: WorkingCalendar) -> DeadlineRequest:
    return deadline(SERVICE, kind, str(req.request_id), at, rule, calendar.source)
