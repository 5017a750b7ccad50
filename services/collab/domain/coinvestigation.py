"""Cost co-investigation 费用协查 (Q-01..Q-05): candidates from large inpatient settlements and
the life of one request through the 26th-to-25th periods.

Time: the period a request joins, the Q-02 cut, lateness (Q-03) and the confirmation window
(Q-05) are read on ``now``, the service's business clock at receipt. The ``*_at`` a sender
claims is recorded as it is and decides nothing: a withdrawal claiming 23:59 on the 25th that
arrives after 00:00 on the 26th is after the cut."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.collab import (
    CO_INVESTIGATION_THRESHOLD,
    AmendCoInvestigation,
    CheckResult,
    CoInvestigationAmended,
    CoInvestigationCandidate,
    CoInvestigationConfirmationOverdue,
    CoInvestigationConfirmed,
    CoInvestigationCounted,
    CoInvestigationDiscussed,
    CoInvestigationRequested,
    CoInvestigationResultSubmitted,
    CoInvestigationRolledOver,
    CoInvestigationWithdrawn,
    ConfirmCoInvestigationResult,
    DiscussCoInvestigation,
    RequestCoInvestigation,
    StayDetails,
    SubmitCoInvestigationResult,
    TallyKind,
    WithdrawCoInvestigation,
)
from contracts.values import MedicalType, RegionCode
from runtime.calendar import WorkingCalendar, at_business_start, business_date, end_of_business_day
from services.collab.domain.addressing import Actor, must_be
from services.outcome import DeadlineRequest, Decision, deadline, stable_id

SERVICE = "collab"
CUT_DAY = 26  # 00:00 on the 26th
CONFIRM_WD = 5
CONFIRM_DUE = "coinvestigation_confirm_due"
ROLLOVER_DUE = "coinvestigation_complete_due"  # unanswered at complete_by → the next period


class CoInvestigationStatus(StrEnum):
    REQUESTED = "requested"
    WITHDRAWN = "withdrawn"
    ANSWERED = "answered"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class DiscussionEntry(BaseModel):
    """Q-05: one contribution, kept with the item (the collection is sealed at rest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    by_region: RegionCode
    message: str
    received_at: AwareDatetime


class CoInvestigation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    request_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    period: str
    cut_at: AwareDatetime
    complete_by: AwareDatetime
    status: CoInvestigationStatus = CoInvestigationStatus.REQUESTED
    result: CheckResult | None = None
    answered_at: AwareDatetime | None = None
    confirm_by: AwareDatetime | None = None
    overdue_reported: bool = False
    opened_period: str | None = Field(None, description="Q-02: the period it was received in")
    late: bool = Field(False, description="Q-03: missed a completion deadline (rolled over, or answered after it)")
    rollovers: int = 0
    revision: int = Field(1, description="Q-02: 1 + the amendments made before the cut")
    discussion: tuple[DiscussionEntry, ...] = Field((), description="Q-05: kept until the result is confirmed")
    version: int = 0


class InpatientSettlement(BaseModel):
    """Domain input mapped from a completed settlement event."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    settlement_id: str
    medical_type: MedicalType
    insured_region: RegionCode
    treating_region: RegionCode
    stay: StayDetails
    completed_at: AwareDatetime


# ---------------------------------------------------------------- periods
def _shift(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + by
    return index // 12, index % 12 + 1


def period_of(d: date) -> str:
    """Q-02: the 26th of last month to the 25th of this one form this month's period."""
    year, month = _shift(d.year, d.month, 1) if d.day >= CUT_DAY else (d.year, d.month)
    return f"{year:04d}-{month:02d}"


def next_period(period: str) -> str:
    year, month = map(int, period.split("-"))
    year, month = _shift(year, month, 1)
    return f"{year:04d}-{month:02d}"


def cut_at(period: str) -> datetime:
    """Q-02: the summary is cut at 00:00 on the 26th of the period's month."""
    year, month = map(int, period.split("-"))
    return at_business_start(date(year, month, CUT_DAY))


COMPLETE_DAY = 26  # Q-03 "次月26日前" (000 第八十条, 004 第五十九条)


def complete_by(period: str) -> datetime:
    """Q-03 "原则上需于次月26日前完成": read as the project reads C-02's "于每月25日前确认"
    (services/clearing/domain/period.py: ``end_of_business_day(date(y, m, 25))``, the 25th
    itself included): the end of the 26th of the next month, 23:59:59.999999 Asia/Shanghai, a
    calendar day (the source counts no working days here, so a holiday does not move it)."""
    year, month = map(int, period.split("-"))
    year, month = _shift(year, month, 1)
    return end_of_business_day(date(year, month, COMPLETE_DAY))


# ---------------------------------------------------------------- decisions
def candidate_from_settlement(item: InpatientSettlement) -> CoInvestigationCandidate | None:
    """Q-01: an inpatient stay of ≥ 30,000 yuan becomes a candidate for its insured place."""
    if item.medical_type is not MedicalType.INPATIENT or item.stay.total < CO_INVESTIGATION_THRESHOLD:
        return None
    return CoInvestigationCandidate(
        candidate_id=stable_id(SERVICE, "candidate", item.settlement_id),
        settlement_id=item.settlement_id,
        insured_region=item.insured_region,
        treating_region=item.treating_region,
        stay=item.stay,
        found_at=item.completed_at,
    )


def request_id_for(insured_region: str, request_ref: str) -> uuid.UUID:
    return stable_id(SERVICE, "coinvestigation", insured_region, request_ref)


def request(cmd: RequestCoInvestigation, calendar: WorkingCalendar, now: datetime) -> Decision[CoInvestigation]:
    """Q-01/Q-02: the request joins the period of the business date it is received on."""
    period = period_of(business_date(now))
    state = CoInvestigation(
        request_id=request_id_for(str(cmd.insured_region), cmd.request_ref),
        insured_region=cmd.insured_region,
        treating_region=cmd.treating_region,
        period=period,
        cut_at=cut_at(period),
        complete_by=complete_by(period),
        opened_period=period,
    )
    event = CoInvestigationRequested(
        request_id=state.request_id,
        insured_region=cmd.insured_region,
        treating_region=cmd.treating_region,
        settlement_id=cmd.settlement_id,
        name=cmd.name,
        sex=cmd.sex,
        stay=cmd.stay,
        period=period,
        cut_at=state.cut_at,
        complete_by=state.complete_by,
        requested_at=cmd.requested_at,
    )
    return Decision(state, [event, tally(state, TallyKind.OPENED, now)], [_complete_due(state, calendar)])


def tally(
    state: CoInvestigation, kind: TallyKind, now: datetime, *, period: str | None = None, on_time: bool | None = None
) -> CoInvestigationCounted:
    """What the step adds to the statistics of ``period`` (default: the item's current one)."""
    return CoInvestigationCounted(
        request_id=state.request_id,
        period=period or state.period,
        insured_region=state.insured_region,
        treating_region=state.treating_region,
        kind=kind,
        on_time=on_time,
        at=now,
    )


def _complete_due(state: CoInvestigation, calendar: WorkingCalendar) -> DeadlineRequest:
    return deadline(SERVICE, ROLLOVER_DUE, str(state.request_id), state.complete_by, "Q-03", calendar.source)


def is_editable(state: CoInvestigation, now: datetime) -> bool:
    """Q-02: a request may be edited or deleted only until its summary is cut."""
    return state.status is CoInvestigationStatus.REQUESTED and now < state.cut_at


def amend(state: CoInvestigation, cmd: AmendCoInvestigation, now: datetime) -> Decision[CoInvestigation]:
    """Q-02 (000 第八十条 "已生成申请汇总表的费用协查申请原则上不予修改或删除"): corrected only
    while the request is open and its summary not yet cut, by receipt time."""
    if not is_editable(state, now):
        raise ValueError(
            f"Q-02: request {state.request_id} is {state.status.value} or in the summary cut at "
            f"{state.cut_at.isoformat()} and can no longer be edited"
        )
    new = state.model_copy(update={"revision": state.revision + 1, "version": state.version + 1})
    return Decision(
        new,
        [
            CoInvestigationAmended(
                request_id=state.request_id,
                insured_region=state.insured_region,
                treating_region=state.treating_region,
                settlement_id=cmd.settlement_id,
                name=cmd.name,
                sex=cmd.sex,
                stay=cmd.stay,
                period=state.period,
                revision=new.revision,
                amended_at=cmd.amended_at,
            )
        ],
        [],
    )


def may_amend(state: CoInvestigation, actor: Actor) -> None:
    """Q-02: only the requester, the insured place, edits its request."""
    must_be(
        actor, state.insured_region, role="requesting insured place", act="edit it", sides=_sides(state), rule="Q-02"
    )


def withdraw(state: CoInvestigation, cmd: WithdrawCoInvestigation, now: datetime) -> Decision[CoInvestigation]:
    if state.status is CoInvestigationStatus.WITHDRAWN:
        return Decision(state, [], [])
    if not is_editable(state, now):
        raise ValueError(
            f"Q-02: request {state.request_id} is in the summary cut at {state.cut_at.isoformat()}"
            " and can no longer be deleted"
        )
    new = state.model_copy(update={"status": CoInvestigationStatus.WITHDRAWN, "version": state.version + 1})
    return Decision(
        new,
        [
            CoInvestigationWithdrawn(
                request_id=state.request_id, insured_region=state.insured_region, withdrawn_at=cmd.withdrawn_at
            ),
            tally(state, TallyKind.WITHDRAWN, now),
        ],
        [],
    )


def submit_result(
    state: CoInvestigation, cmd: SubmitCoInvestigationResult, calendar: WorkingCalendar, now: datetime
) -> Decision[CoInvestigation]:
    """Q-03/Q-04: the result; Q-05's 5 days start. Received after its completion deadline it is
    late; if the rollover has not been applied yet (in flight at that moment) it is answered in the
    next period, as if it had rolled over."""
    if state.status is not CoInvestigationStatus.REQUESTED:
        return Decision(state, [], [])
    overdue = now > state.complete_by
    late = overdue or state.late
    period = next_period(state.period) if overdue else state.period
    confirm_by = calendar.deadline(now, CONFIRM_WD)
    new = state.model_copy(
        update={
            "status": CoInvestigationStatus.ANSWERED,
            "result": cmd.result,
            "answered_at": now,
            "confirm_by": confirm_by,
            "late": late,
            "period": period,
            "complete_by": complete_by(period),
            "rollovers": state.rollovers + overdue,
            "version": state.version + 1,
        }
    )
    event = CoInvestigationResultSubmitted(
        request_id=state.request_id,
        insured_region=state.insured_region,
        result=cmd.result,
        reason=cmd.reason,
        late=late,
        counted_in_period=period,
        submitted_at=cmd.submitted_at,
        confirm_by=confirm_by,
    )
    due = deadline(SERVICE, CONFIRM_DUE, str(state.request_id), confirm_by, "Q-05", calendar.source)
    # on time for the period it is counted in (a rolled item answered within the next period's deadline)
    counted = [tally(new, TallyKind.ANSWERED, now, on_time=now <= new.complete_by)]
    if overdue:  # it missed this period's deadline (the rollover will find it answered)
        counted.insert(0, tally(new, TallyKind.ROLLED_IN, now))
    return Decision(new, [event, *counted], [due])


def confirm(state: CoInvestigation, cmd: ConfirmCoInvestigationResult, now: datetime) -> Decision[CoInvestigation]:
    """Q-05: confirmed, or disputed for discussion; a disputed result is confirmed when the
    discussion settles it (``agreed``), and the discussion then closes."""
    disputed = state.status is CoInvestigationStatus.DISPUTED
    if state.status is not CoInvestigationStatus.ANSWERED and not (disputed and cmd.agreed):
        return Decision(state, [], [])
    status = CoInvestigationStatus.CONFIRMED if cmd.agreed else CoInvestigationStatus.DISPUTED
    new = state.model_copy(update={"status": status, "version": state.version + 1})
    late = state.confirm_by is not None and now > state.confirm_by
    return Decision(
        new,
        [
            CoInvestigationConfirmed(
                request_id=state.request_id,
                insured_region=state.insured_region,
                agreed=cmd.agreed,
                comment=cmd.comment,
                late=late,
                confirmed_at=cmd.confirmed_at,
            ),
            tally(new, TallyKind.CONFIRMED if cmd.agreed else TallyKind.DISPUTED, now),
        ],
        [],
    )


# ---------------------------------------------------------------- who may act (000 第八十条)
def discuss(
    state: CoInvestigation, cmd: DiscussCoInvestigation, speaker_region: str, now: datetime
) -> Decision[CoInvestigation]:
    """Q-05: only a disputed result is discussed; either side speaks, in order of receipt."""
    if state.status is not CoInvestigationStatus.DISPUTED:
        raise ValueError(
            f"Q-05: co-investigation {state.request_id} is {state.status.value}; only a disputed result is discussed"
        )
    entry = DiscussionEntry(by_region=speaker_region, message=cmd.message, received_at=now)
    new = state.model_copy(update={"discussion": (*state.discussion, entry), "version": state.version + 1})
    return Decision(
        new,
        [
            CoInvestigationDiscussed(
                request_id=state.request_id,
                insured_region=state.insured_region,
                treating_region=state.treating_region,
                by_region=speaker_region,
                message=cmd.message,
                said_at=cmd.said_at,
                received_at=now,
            )
        ],
        [],
    )


def may_discuss(state: CoInvestigation, actor: Actor) -> None:
    """Q-05: the discussion is between the two agencies of the item, each itself."""
    if actor.region is not None and actor.region in _sides(state):
        return
    must_be(
        actor,
        state.insured_region,
        role="insured or treating place",
        act="join the discussion",
        sides=_sides(state),
        rule="Q-05",
    )


def _sides(state: CoInvestigation) -> tuple[str, str]:
    return str(state.insured_region), str(state.treating_region)


def may_withdraw(state: CoInvestigation, actor: Actor) -> None:
    """Q-02: only the requester, the insured place, deletes its request."""
    must_be(
        actor,
        state.insured_region,
        role="requesting insured place",
        act="withdraw it",
        sides=_sides(state),
        rule="Q-02",
    )


def may_submit_result(state: CoInvestigation, actor: Actor) -> None:
    """Q-03/Q-04: the treating place checks the stay and uploads the result."""
    must_be(
        actor, state.treating_region, role="treating place", act="submit the result", sides=_sides(state), rule="Q-04"
    )


def may_confirm(state: CoInvestigation, actor: Actor) -> None:
    """Q-05: the insured place confirms the result, or disputes it."""
    must_be(
        actor,
        state.insured_region,
        role="insured place",
        act="confirm or dispute the result",
        sides=_sides(state),
        rule="Q-05",
    )


def deadline_fired(
    state: CoInvestigation, request_: DeadlineRequest, calendar: WorkingCalendar, now: datetime
) -> Decision[CoInvestigation]:
    """Q-03: unanswered at its completion deadline, the item rolls into the next period (late);
    Q-05: unconfirmed after 5 working days is reported once; the source sets no default result."""
    if request_.kind == ROLLOVER_DUE:
        return roll_over(state, calendar, now)
    if (
        request_.kind != CONFIRM_DUE
        or state.status is not CoInvestigationStatus.ANSWERED
        or state.overdue_reported
        or state.confirm_by is None
    ):
        return Decision(state, [], [])
    if now <= state.confirm_by:
        return Decision(state, [], [request_])
    new = state.model_copy(update={"overdue_reported": True, "version": state.version + 1})
    return Decision(
        new,
        [
            CoInvestigationConfirmationOverdue(
                request_id=state.request_id,
                insured_region=state.insured_region,
                confirm_by=state.confirm_by,
                detected_at=now,
            )
        ],
        [],
    )


def roll_over(state: CoInvestigation, calendar: WorkingCalendar, now: datetime) -> Decision[CoInvestigation]:
    """Q-03 (000 第八十条 "自动记录至下一期，并记入本期完成情况统计监测"): still unanswered after
    ``complete_by`` (receipt time of the deadline), the item is recorded into the next period with
    that period's completion deadline, armed again; its period's statistics count it late (the
    period aggregate does so at the same moment, see ``periods.close``), the next period's count
    it as rolled in. Fired early, or already answered or withdrawn: nothing."""
    if state.status is not CoInvestigationStatus.REQUESTED:
        return Decision(state, [], [])
    if now <= state.complete_by:
        return Decision(state, [], [_complete_due(state, calendar)])
    to = next_period(state.period)
    new = state.model_copy(
        update={
            "period": to,
            "complete_by": complete_by(to),
            "late": True,
            "rollovers": state.rollovers + 1,
            "version": state.version + 1,
        }
    )
    return Decision(
        new,
        [
            CoInvestigationRolledOver(
                request_id=state.request_id,
                insured_region=state.insured_region,
                treating_region=state.treating_region,
                from_period=state.period,
                to_period=to,
                complete_by=new.complete_by,
                detected_at=now,
            ),
            tally(new, TallyKind.ROLLED_IN, now),
        ],
        [_complete_due(new, calendar)],
    )
