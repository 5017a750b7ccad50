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

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.collab import (
    CO_INVESTIGATION_THRESHOLD, CoInvestigationCandidate, CoInvestigationConfirmationOverdue,
    CoInvestigationConfirmed, CoInvestigationRequested, CoInvestigationResultSubmitted, CoInvestigationWithdrawn,
    CheckResult, ConfirmCoInvestigationResult, RequestCoInvestigation, StayDetails, SubmitCoInvestigationResult,
    WithdrawCoInvestigation,
)
from contracts.values import MedicalType, RegionCode
from runtime.calendar import WorkingCalendar, at_business_start, business_date, end_of_business_day
from services.collab.domain.addressing import Actor, must_be
from services.outcome import DeadlineRequest, Outcome, deadline, stable_id

SERVICE = "collab"
CUT_DAY = 26                 # 00:00 on the 26th
CONFIRM_WD = 5
CONFIRM_DUE = "coinvestigation_confirm_due"


class CoInvestigationStatus(StrEnum):
    REQUESTED = "requested"
    WITHDRAWN = "withdrawn"
    ANSWERED = "answered"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


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
    year, month = _shift(*map(int, period.split("-")), 1)
    return f"{year:04d}-{month:02d}"


def cut_at(period: str) -> datetime:
    """Q-02: the summary is cut at 00:00 on the 26th of the period's month."""
    year, month = map(int, period.split("-"))
    return at_business_start(date(year, month, CUT_DAY))


def complete_by(period: str) -> datetime:
    """Q-03 "次月26日前": before the 26th of the next month, i.e. the end of its 25th."""
    year, month = _shift(*map(int, period.split("-")), 1)
    return end_of_business_day(date(year, month, CUT_DAY - 1))


# ---------------------------------------------------------------- decisions
def candidate_from_settlement(item: InpatientSettlement) -> CoInvestigationCandidate | None:
    """Q-01: an inpatient stay of ≥ 30,000 yuan becomes a candidate for its insured place."""
    if item.medical_type is not MedicalType.INPATIENT or item.stay.total < CO_INVESTIGATION_THRESHOLD:
        return None
    return CoInvestigationCandidate(
        candidate_id=stable_id(SERVICE, "candidate", item.settlement_id), settlement_id=item.settlement_id,
        insured_region=item.insured_region, treating_region=item.treating_region, stay=item.stay,
        found_at=item.completed_at)


def request_id_for(insured_region: str, request_ref: str) -> uuid.UUID:
    return stable_id(SERVICE, "coinvestigation", insured_region, request_ref)


def request(cmd: RequestCoInvestigation, calendar: WorkingCalendar, now: datetime) -> Outcome[CoInvestigation]:
    """Q-01/Q-02: the request joins the period of the business date it is received on."""
    period = period_of(business_date(now))
    state = CoInvestigation(request_id=request_id_for(str(cmd.insured_region), cmd.request_ref),
                            insured_region=cmd.insured_region, treating_region=cmd.treating_region, period=period,
                            cut_at=cut_at(period), complete_by=complete_by(period))
    event = CoInvestigationRequested(
        request_id=state.request_id, insured_region=cmd.insured_region, treating_region=cmd.treating_region,
        settlement_id=cmd.settlement_id, name=cmd.name, sex=cmd.sex, stay=cmd.stay, period=period,
        cut_at=state.cut_at, complete_by=state.complete_by, requested_at=cmd.requested_at)
    return Outcome(state, [event], [])


def is_editable(state: CoInvestigation, now: datetime) -> bool:
    """Q-02: a request may be edited or deleted only until its summary is cut."""
    return state.status is CoInvestigationStatus.REQUESTED and now < state.cut_at


def withdraw(state: CoInvestigation, cmd: WithdrawCoInvestigation, now: datetime) -> Outcome[CoInvestigation]:
    if state.status is CoInvestigationStatus.WITHDRAWN:
        return Outcome(state, [], [])
    if not is_editable(state, now):
        raise ValueError(f"Q-02: request {state.request_id} is in the summary cut at {state.cut_at.isoformat()}"
                         " and can no longer be deleted")
    new = state.model_copy(update={"status": CoInvestigationStatus.WITHDRAWN, "version": state.version + 1})
    return Outcome(new, [CoInvestigationWithdrawn(request_id=state.request_id, insured_region=state.insured_region,
                                                  withdrawn_at=cmd.withdrawn_at)], [])


def submit_result(state: CoInvestigation, cmd: SubmitCoInvestigationResult, calendar: WorkingCalendar,
                  now: datetime) -> Outcome[CoInvestigation]:
    """Q-03/Q-04: the result; a late one counts in the next period; Q-05's 5 days start."""
    if state.status is not CoInvestigationStatus.REQUESTED:
        return Outcome(state, [], [])
    late = now > state.complete_by
    confirm_by = calendar.deadline(now, CONFIRM_WD)
    new = state.model_copy(update={"status": CoInvestigationStatus.ANSWERED, "result": cmd.result,
                                   "answered_at": now, "confirm_by": confirm_by,
                                   "version": state.version + 1})
    event = CoInvestigationResultSubmitted(
        request_id=state.request_id, insured_region=state.insured_region, result=cmd.result, reason=cmd.reason,
        late=late, counted_in_period=next_period(state.period) if late else state.period,
        submitted_at=cmd.submitted_at, confirm_by=confirm_by)
    due = deadline(SERVICE, CONFIRM_DUE, str(state.request_id), confirm_by, "Q-05", calendar.source)
    return Outcome(new, [event], [due])


def confirm(state: CoInvestigation, cmd: ConfirmCoInvestigationResult, now: datetime) -> Outcome[CoInvestigation]:
    """Q-05: confirmed, or disputed for discussion."""
    if state.status is not CoInvestigationStatus.ANSWERED:
        return Outcome(state, [], [])
    status = CoInvestigationStatus.CONFIRMED if cmd.agreed else CoInvestigationStatus.DISPUTED
    new = state.model_copy(update={"status": status, "version": state.version + 1})
    late = state.confirm_by is not None and now > state.confirm_by
    return Outcome(new, [CoInvestigationConfirmed(
        request_id=state.request_id, insured_region=state.insured_region, agreed=cmd.agreed, comment=cmd.comment,
        late=late, confirmed_at=cmd.confirmed_at)], [])


# ---------------------------------------------------------------- who may act (000 第八十条)
def _sides(state: CoInvestigation) -> tuple[str, str]:
    return str(state.insured_region), str(state.treating_region)


def may_withdraw(state: CoInvestigation, actor: Actor) -> None:
    """Q-02: only the requester, the insured place, deletes its request."""
    must_be(actor, state.insured_region, role="requesting insured place", act="withdraw it",
            sides=_sides(state), rule="Q-02")


def may_submit_result(state: CoInvestigation, actor: Actor) -> None:
    """Q-03/Q-04: the treating place checks the stay and uploads the result."""
    must_be(actor, state.treating_region, role="treating place", act="submit the result",
            sides=_sides(state), rule="Q-04")


def may_confirm(state: CoInvestigation, actor: Actor) -> None:
    """Q-05: the insured place confirms the result, or disputes it."""
    must_be(actor, state.insured_region, role="insured place", act="confirm or dispute the result",
            sides=_sides(state), rule="Q-05")


def deadline_fired(state: CoInvestigation, request_: DeadlineRequest, calendar: WorkingCalendar,
                   now: datetime) -> Outcome[CoInvestigation]:
    """Q-05: unconfirmed after 5 working days is reported once; the source sets no default result."""
    if (request_.kind != CONFIRM_DUE or state.status is not CoInvestigationStatus.ANSWERED
            or state.overdue_reported or state.confirm_by is None):
        return Outcome(state, [], [])
    if now <= state.confirm_by:
        return Outcome(state, [], [request_])
    new = state.model_copy(update={"overdue_reported": True, "version": state.version + 1})
    return Outcome(new, [CoInvestigationConfirmationOverdue(
        request_id=state.request_id, insured_region=state.insured_region, confirm_by=state.confirm_by,
        detected_at=now)], [])
