"""Leads 问题线索 (K-05, 000 第八十二条): an insured place that finds violations by its insured
person, or by the institution that treated them, hands the lead to the treating place, through the
collaboration function ("通过国家跨省异地就医管理子系统业务协同功能向就医地医保部门移交").

Lifecycle: received → investigating (the treating place takes it up) → result. Deadlines: the
source gives none for leads. Because a lead is handed over through the collaboration function, the
treating place takes it up within K-02's longest reply time (10 working days, "其他类问题回复时间
最长不超过10个工作日": the project's reading); the result is due ``RESULT_WORKING_DAYS`` after it is
taken up, a default the sources do not give (labelled as such in the events' descriptions). Each
deadline missed is reported once (``LeadOverdue``); lateness goes by receipt time.

Who acts: the insured place's own agency hands over (the authority table, exact), the treating
place's own agency takes up and reports (checked here on the stored lead)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.collab import (
    HandOverLead,
    LeadInvestigating,
    LeadOutcome,
    LeadOverdue,
    LeadReceived,
    LeadResultReported,
    LeadSubject,
    ReportLeadResult,
    TakeUpLead,
)
from contracts.values import RegionCode
from runtime.calendar import WorkingCalendar
from services.collab.domain.addressing import Actor, must_be
from services.outcome import DeadlineRequest, Decision, deadline, stable_id

SERVICE = "collab"
TAKE_UP_WORKING_DAYS = 10  # K-02 "其他类…最长不超过10个工作日", applied to leads (project's reading)
RESULT_WORKING_DAYS = 30  # default: the sources set no time for a lead's result
TAKE_UP_DUE = "lead_take_up_due"
RESULT_DUE = "lead_result_due"


class LeadStatus(StrEnum):
    RECEIVED = "received"
    INVESTIGATING = "investigating"
    RESULT = "result"


class Lead(BaseModel):
    """No ID number or description is kept (they travel on ``collab.lead-received.v1``); the
    collection is still declared personal, as it concerns one person."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    lead_id: uuid.UUID
    insured_region: RegionCode
    treating_region: RegionCode
    subject: LeadSubject
    status: LeadStatus = LeadStatus.RECEIVED
    take_up_by: AwareDatetime
    result_by: AwareDatetime | None = None
    outcome: LeadOutcome | None = None
    overdue_reported: tuple[str, ...] = ()
    version: int = 0


def lead_id_for(insured_region: str, lead_ref: str) -> uuid.UUID:
    return stable_id(SERVICE, "lead", insured_region, lead_ref)


def hand_over(cmd: HandOverLead, calendar: WorkingCalendar, now: datetime) -> Decision[Lead]:
    """K-05: received by the treating place at ``now``; take it up within 10 working days."""
    take_up_by = calendar.deadline(now, TAKE_UP_WORKING_DAYS)
    lead = Lead(
        lead_id=lead_id_for(str(cmd.insured_region), cmd.lead_ref),
        insured_region=cmd.insured_region,
        treating_region=cmd.treating_region,
        subject=cmd.subject,
        take_up_by=take_up_by,
    )
    event = LeadReceived(
        lead_id=lead.lead_id,
        insured_region=cmd.insured_region,
        treating_region=cmd.treating_region,
        subject=cmd.subject,
        person_id=cmd.person_id,
        institution_code=cmd.institution_code,
        description=cmd.description,
        handed_over_at=cmd.handed_over_at,
        take_up_by=take_up_by,
        calendar=calendar.source,
    )
    return Decision(lead, [event], [_due(lead, TAKE_UP_DUE, take_up_by, calendar)])


def take_up(lead: Lead, cmd: TakeUpLead, calendar: WorkingCalendar, now: datetime) -> Decision[Lead]:
    """K-05: investigating; the result is due ``RESULT_WORKING_DAYS`` working days later (default)."""
    if lead.status is not LeadStatus.RECEIVED:
        return Decision(lead, [], [])
    result_by = calendar.deadline(now, RESULT_WORKING_DAYS)
    new = lead.model_copy(
        update={"status": LeadStatus.INVESTIGATING, "result_by": result_by, "version": lead.version + 1}
    )
    return Decision(
        new,
        [
            LeadInvestigating(
                lead_id=lead.lead_id,
                insured_region=lead.insured_region,
                treating_region=lead.treating_region,
                late=now > lead.take_up_by,
                result_by=result_by,
                taken_up_at=cmd.taken_up_at,
            )
        ],
        [_due(new, RESULT_DUE, result_by, calendar)],
    )


def report(lead: Lead, cmd: ReportLeadResult, now: datetime) -> Decision[Lead]:
    """K-05: the result, to the insured place. A result without taking up first is refused."""
    if lead.status is LeadStatus.RESULT:
        return Decision(lead, [], [])
    if lead.status is not LeadStatus.INVESTIGATING:
        raise ValueError(f"K-05: lead {lead.lead_id} is not being investigated yet; take it up first")
    new = lead.model_copy(update={"status": LeadStatus.RESULT, "outcome": cmd.outcome, "version": lead.version + 1})
    return Decision(
        new,
        [
            LeadResultReported(
                lead_id=lead.lead_id,
                insured_region=lead.insured_region,
                treating_region=lead.treating_region,
                outcome=cmd.outcome,
                findings=cmd.findings,
                late=lead.result_by is not None and now > lead.result_by,
                reported_at=cmd.reported_at,
            )
        ],
        [],
    )


def may_act(lead: Lead, actor: Actor) -> None:
    """K-05: the lead was handed to the treating place; it takes it up and reports."""
    must_be(
        actor,
        lead.treating_region,
        role="treating place",
        act="investigate the lead",
        sides=(lead.insured_region, lead.treating_region),
        rule="K-05",
    )


def deadline_fired(lead: Lead, request: DeadlineRequest, calendar: WorkingCalendar, now: datetime) -> Decision[Lead]:
    stage = {TAKE_UP_DUE: LeadStatus.RECEIVED, RESULT_DUE: LeadStatus.INVESTIGATING}.get(request.kind)
    if stage is None or lead.status is not stage or stage.value in lead.overdue_reported:
        return Decision(lead, [], [])
    due_at = lead.take_up_by if stage is LeadStatus.RECEIVED else lead.result_by
    if due_at is None or now <= due_at:
        return Decision(lead, [], [request])
    new = lead.model_copy(
        update={"overdue_reported": (*lead.overdue_reported, stage.value), "version": lead.version + 1}
    )
    return Decision(
        new,
        [
            LeadOverdue(
                lead_id=lead.lead_id,
                insured_region=lead.insured_region,
                treating_region=lead.treating_region,
                stage=stage.value,
                due_at=due_at,
                detected_at=now,
            )
        ],
        [],
    )


def _due(lead: Lead, kind: str, at: datetime, calendar: WorkingCalendar) -> DeadlineRequest:
    return deadline(SERVICE, kind, str(lead.lead_id), at, "K-05", calendar.source)
