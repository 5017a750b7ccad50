"""What a region must do after its month-end notice, tracked and enforced (C-03, 000 第六十四条: the
agency submits the notice to finance within 5 working days, finance transfers within 10, receipt is fed
back within 5; C-07, 第六十九条: the city pays its institutions within 20 working days of the notice).

Our reading of "chained": each step's time runs from the step before it — from when it was recorded,
if in time, else from that step's due time (so a silent region's dates are those printed on the
notice, and one that acts early gets the next clock started early). Each step is recorded by a command
of the region's agency (receipt time); a step not recorded by its due time is breached when it falls
due (``ClearingObligationBreached``, for P-09 sanctions); recorded late it is accepted and marked late.
A step cannot be recorded before the one it follows, nor twice. The submission chain applies to every
notice with counterpart lines; C-07 to a notice with receivable lines (the city has institutions to
pay). A notice without lines has nothing to move.

The numbers are the region's where its text sets them (``kernel.clearing_calendar``, in force at the
clearing month): Wuhu pays its institutions within 5 working days of the clearing report (C-07, 001
第三十二条); a Hunan city completes its upward remittance 上解 within 15 working days of the provincial
notice, whenever it submitted to finance (C-08, 002 第二十三条: the transfer is then due from the notice,
not chained to the submission). 002 speaks of outpatient costs; a notice does not split by medical type,
so in the dates 002 is in force the whole notice's transfer is held to it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.clearing import (
    ClearingNoticeIssued,
    ClearingObligationBreached,
    ClearingObligationRecorded,
    Obligation,
    RecordClearingObligation,
)
from kernel.clearing_calendar import calendars
from runtime.calendar import WorkingCalendar
from services.outcome import DeadlineRequest, Decision, deadline, stable_id

from .period import RECEIPT_FEEDBACK_WD, TO_FINANCE_WD, TRANSFER_WD, institutions_paid_days

SERVICE = "clearing"
OBLIGATION_DUE = "obligation_due"
Ob = Obligation  # the chain below reads as a table
Chain = dict[Obligation, tuple[Obligation | None, int, str]]  # step → (after, working days, rule)
CHAIN: tuple[Obligation, ...] = tuple(Obligation)  # the steps, in order


def chain(region: str, month: str) -> Chain:
    """The steps of ``region``'s notice of ``month``, with the region's numbers where its text sets them."""
    remit = calendars().remittance_working_days(region, month)
    return {
        Ob.SUBMITTED_TO_FINANCE: (None, TO_FINANCE_WD, "C-03"),
        Ob.TRANSFERRED: (None, remit, "C-08") if remit else (Ob.SUBMITTED_TO_FINANCE, TRANSFER_WD, "C-03"),
        Ob.RECEIPT_FED_BACK: (Ob.TRANSFERRED, RECEIPT_FEEDBACK_WD, "C-03"),
        Ob.INSTITUTIONS_PAID: (None, institutions_paid_days(region, month), "C-07"),
    }


class ObligationRefused(ValueError):
    """A step recorded out of order, twice, or for a notice that has none (answered to the sender)."""


class NoticeState(BaseModel):
    """One region's notice of one month and what it obliges (the clearing ``notices`` aggregate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    notice: dict
    due: dict[Obligation, AwareDatetime] = Field(default_factory=dict, description="armed steps and their due times")
    done: dict[Obligation, AwareDatetime] = Field(default_factory=dict, description="receipt time of each record")
    breached: tuple[Obligation, ...] = ()
    calendar: str = ""


def _chain(state: NoticeState) -> Chain:
    return chain(state.notice["region"], state.notice["clearing_month"])


def _after(state: NoticeState, step: Obligation) -> list[Obligation]:
    return [s for s, (before, _, _) in _chain(state).items() if before is step]


def _arm(
    state: NoticeState,
    step: Obligation,
    start: datetime,
    calendar: WorkingCalendar,
    due: dict,
    deadlines: list[DeadlineRequest],
) -> None:
    _, days, rule = _chain(state)[step]
    due[step] = calendar.deadline(start, days)
    deadlines.append(deadline(SERVICE, OBLIGATION_DUE, _key(state), due[step], rule, calendar.source, ref=step.value))


def _key(state: NoticeState) -> str:
    return f"{state.notice['region']}:{state.notice['clearing_month']}"


def start(notice: ClearingNoticeIssued, calendar: WorkingCalendar) -> tuple[NoticeState, list[DeadlineRequest]]:
    """The notice's first steps armed from its issue: the submission (C-03) and, with receivable lines,
    the payment of institutions (C-07)."""
    state = NoticeState(notice=notice.model_dump(mode="json"), calendar=calendar.source)
    due: dict = {}
    deadlines: list[DeadlineRequest] = []
    if notice.counterparts:
        for step in (Ob.SUBMITTED_TO_FINANCE, Ob.TRANSFERRED):
            if _chain(state)[step][0] is None:  # the transfer too where it runs from the notice (C-08)
                _arm(state, step, notice.issued_at, calendar, due, deadlines)
    if any(line.direction == "receivable" for line in notice.counterparts):
        _arm(state, Ob.INSTITUTIONS_PAID, notice.issued_at, calendar, due, deadlines)
    return state.model_copy(update={"due": due}), deadlines


def record(
    state: NoticeState, cmd: RecordClearingObligation, calendar: WorkingCalendar, now: datetime
) -> Decision[NoticeState]:
    """C-03/C-07: one step recorded at receipt time ``now``; the next step's clock starts."""
    step, steps = cmd.obligation, _chain(state)
    if step in state.done:
        raise ObligationRefused(
            f"{steps[step][2]}: {step.value} of {_key(state)} is already recorded (at {state.done[step].isoformat()})"
        )
    if step not in state.due:
        before = steps[step][0]
        why = (
            f"{before.value} is not recorded yet"
            if before and before not in state.done and state.notice["counterparts"]
            else "the notice has no such obligation"
        )
        raise ObligationRefused(f"{steps[step][2]}: {step.value} of {_key(state)} cannot be recorded: {why}")
    due_at = state.due[step]
    late = now > due_at
    due = dict(state.due)
    deadlines: list[DeadlineRequest] = []
    for nxt in _after(state, step):
        if nxt not in due:
            _arm(state, nxt, due_at if late else now, calendar, due, deadlines)
    new = state.model_copy(update={"done": {**state.done, step: now}, "due": due})
    event = ClearingObligationRecorded(
        region=state.notice["region"],
        clearing_month=state.notice["clearing_month"],
        obligation=step,
        done_at=cmd.done_at,
        recorded_at=now,
        due_at=due_at,
        late=late,
        rule=steps[step][2],
    )
    return Decision(new, [event], deadlines)


def fell_due(
    state: NoticeState, request: DeadlineRequest, calendar: WorkingCalendar, now: datetime
) -> Decision[NoticeState]:
    """A step's due time: breached if not recorded (its breach published once); the next step's clock
    then runs from this due time."""
    step = Obligation(request.ref)
    if now < request.due_at:
        return Decision(state, [], [request])
    if step in state.done or step in state.breached:
        return Decision(state, [], [])
    due = dict(state.due)
    deadlines: list[DeadlineRequest] = []
    for nxt in _after(state, step):
        if nxt not in due:
            _arm(state, nxt, state.due[step], calendar, due, deadlines)
    key = _key(state)
    event = ClearingObligationBreached(
        breach_id=stable_id(SERVICE, "breach", key, step.value),
        region=state.notice["region"],
        clearing_month=state.notice["clearing_month"],
        obligation=step,
        due_at=state.due[step],
        breached_at=now,
        notice_id=state.notice["notice_id"],
        rule=_chain(state)[step][2],
        calendar=calendar.source,
    )
    return Decision(state.model_copy(update={"breached": (*state.breached, step), "due": due}), [event], deadlines)


__all__ = ["CHAIN", "chain", "OBLIGATION_DUE", "NoticeState", "ObligationRefused", "fell_due", "record", "start"]
