"""The one entry point of the filing domain: ``decide(command, state, …) -> FilingDecision``.

Pure: the caller loads the person's aggregate, calls :func:`decide`, then stores
``decision.state`` together with ``decision.events`` (outbox) and ``decision.deadlines`` in one
document write. A retried command (same request_id, or same deadline_id) is recognised and
yields no second change (idempotency); ids are uuid5 of request ids, so they repeat exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar, cast

from contracts.envelope import Contract
from contracts.filing import (
    CancelFiling,
    ChangeFiling,
    CommandKind,
    CommandModel,
    DecideFiling,
    DeliverProof,
    FilingAccepted,
    FilingDeadlineDue,
    FilingRefusalReason,
    FilingRefused,
    FilingSnapshot,
    FilingStatus,
    RegisterFiling,
    ResumeFiling,
    SuspendFiling,
    TerminateInsurance,
)
from kernel.sanctions import RegionSanctions
from runtime.calendar import WorkingCalendar
from services.filing.domain import deadlines, lifecycle, register
from services.filing.domain.model import HandledRequest, PersonFilings, filing_at
from services.filing.domain.policy import PolicyBook
from services.filing.domain.work import FilingDecision, Refuse, Work, stable_id

Result = tuple[FilingSnapshot | None, list[FilingSnapshot]]
Handler = Callable[[Contract, Work], Result]
C = TypeVar("C", bound=Contract)


def _decide_filing(cmd: DecideFiling, work: Work) -> Result:
    """F-13: a clerk decides a pending online filing before its deadline."""
    filing = lifecycle.open_filing(work, cmd.filing_id)
    if filing.status is not FilingStatus.PENDING:
        raise Refuse(
            FilingRefusalReason.INVALID_STATE,
            "F-13",
            f"Filing {cmd.filing_id} is {filing.status.value}; only a pending online filing is decided.",
            filing_id=cmd.filing_id,
        )
    return register.decide_pending(filing, work, cmd.approve, cmd.reason)


def _by(
    model: type[C], kind: CommandKind, handler: Callable[[C, Work], Result]
) -> tuple[type, tuple[CommandKind, Handler]]:
    """One entry of ``HANDLERS``: looked up by ``type(command)``, ``handler`` is only ever given a ``model``."""
    return model, (kind, cast(Handler, handler))


HANDLERS: dict[type, tuple[CommandKind, Handler]] = dict(
    [
        _by(RegisterFiling, CommandKind.REGISTER, register.register),
        _by(ChangeFiling, CommandKind.CHANGE, lifecycle.change),
        _by(SuspendFiling, CommandKind.SUSPEND, lifecycle.suspend),
        _by(ResumeFiling, CommandKind.RESUME, lifecycle.resume),
        _by(CancelFiling, CommandKind.CANCEL, lifecycle.cancel),
        _by(DeliverProof, CommandKind.DELIVER_PROOF, lifecycle.deliver_proof),
        _by(TerminateInsurance, CommandKind.TERMINATE, lifecycle.terminate),
        _by(DecideFiling, CommandKind.DECIDE, _decide_filing),
        _by(FilingDeadlineDue, CommandKind.DEADLINE_DUE, deadlines.deadline_due),
    ]
)


def request_key(command: CommandModel) -> str:
    """The idempotency key of a command or fired deadline."""
    return str(command.deadline_id) if isinstance(command, FilingDeadlineDue) else command.request_id


def decide(
    command: CommandModel,
    state: PersonFilings | None,
    policies: PolicyBook,
    calendar: WorkingCalendar,
    now: datetime,
    sanctions: RegionSanctions | None = None,
) -> FilingDecision:
    """Apply one command (or fired deadline) to one person's filings.

    ``policies`` resolves the insured region's policy (national default otherwise); ``calendar`` is
    the working-day calendar (M-02); ``now`` is the aware moment of receipt; ``sanctions`` the
    regions under P-09 sanctions (F-16). The input ``state`` is never mutated."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    kind, handler = HANDLERS[type(command)]
    state = state or PersonFilings.empty(command.person_id)
    if state.person_id != command.person_id:
        raise ValueError("command and aggregate belong to different persons")
    key = request_key(command)
    if state.was_handled(key):
        return FilingDecision(state=state, events=_answer_again(command, state, key), deadlines=[], duplicate=True)
    if isinstance(command, FilingDeadlineDue) and now < command.due_at:
        return FilingDecision(state=state, events=[], deadlines=[])  # fired early: wait for the real moment
    work = Work(
        state=state.model_copy(deep=True),
        policies=policies,
        calendar=calendar,
        now=now,
        cause=key,
        sanctions=sanctions or RegionSanctions(),
    )
    try:
        main, others = handler(command, work)
    except Refuse as refusal:
        return _refused(command, kind, state, refusal, now)
    work.state.handled.append(
        HandledRequest(
            request_id=key,
            command=kind,
            at=now,
            filing_id=main.filing_id if main else None,
            others=tuple(o.filing_id for o in others),
        )
    )
    work.state.version += 1
    events: list[Contract] = list(work.changes)
    if not isinstance(command, FilingDeadlineDue):
        events.append(
            FilingAccepted(
                request_id=command.request_id,
                person_id=command.person_id,
                command=kind,
                filing=main,
                others=tuple(others),
                accepted_at=now,
            )
        )
    return FilingDecision(state=work.state, events=events, deadlines=list(work.deadlines))


def _answer_again(command: CommandModel, state: PersonFilings, key: str) -> list[Contract]:
    """A retried request (a clerk's screen that lost the reply) hears the same acceptance, with
    the filings as that request left them (M-03), and nothing changes."""
    handled = state.handled_request(key)
    if isinstance(command, FilingDeadlineDue) or handled is None:
        return []
    filing = filing_at(state, handled.filing_id, handled.at) if handled.filing_id else None
    others = tuple(o for o in (filing_at(state, f, handled.at) for f in handled.others) if o is not None)
    return [
        FilingAccepted(
            request_id=command.request_id,
            person_id=command.person_id,
            command=handled.command,
            filing=filing,
            others=others,
            accepted_at=handled.at,
        )
    ]


def _refused(
    command: CommandModel, kind: CommandKind, state: PersonFilings, refusal: Refuse, now: datetime
) -> FilingDecision:
    """A refusal changes no state (M-03); the same request refused again gets the same id."""
    if isinstance(command, FilingDeadlineDue):
        raise RuntimeError(f"a fired deadline cannot be refused: {refusal.message}")
    message = FilingRefused(
        refusal_id=stable_id(command.person_id, "refused", command.request_id),
        request_id=command.request_id,
        person_id=command.person_id,
        command=kind,
        reason=refusal.reason,
        rule=refusal.rule,
        message=refusal.message,
        missing_proofs=refusal.missing,
        filing_id=refusal.filing_id or getattr(command, "filing_id", None),
        earliest_date=refusal.earliest,
        refused_at=now,
    )
    return FilingDecision(state=state, events=[message], deadlines=[], refusal=message)
