"""What a decision produces, and the small workbench the rule modules share while deciding."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts.envelope import NAMESPACE, Contract
from contracts.filing import (
    ChangeKind,
    DeadlineKind,
    FilingChanged,
    FilingDeadlineDue,
    FilingRefusalReason,
    FilingSnapshot,
    ProofKind,
)
from kernel.sanctions import RegionSanctions
from runtime.calendar import WorkingCalendar
from services.filing.domain.clock import business_date
from services.filing.domain.model import PersonFilings
from services.filing.domain.policy import PolicyBook, RegionPolicy

DEADLINE_TOPIC = "filing.deadline-due.v1"


def stable_id(*parts: object) -> uuid.UUID:
    """uuid5 of a business key: a retried request yields the same ids."""
    return uuid.uuid5(NAMESPACE, "filing:" + ":".join(map(str, parts)))


class Refuse(Exception):
    """Raised by a rule; :func:`decide` turns it into a :class:`FilingRefused`."""

    def __init__(
        self,
        reason: FilingRefusalReason,
        rule: str,
        message: str,
        *,
        missing: tuple[tuple[ProofKind, ...], ...] = (),
        filing_id: uuid.UUID | None = None,
        earliest: date | None = None,
    ) -> None:
        super().__init__(message)
        self.reason, self.rule, self.message = reason, rule, message
        self.missing, self.filing_id, self.earliest = missing, filing_id, earliest


@dataclass(frozen=True)
class FilingDeadline:
    """A filing deadline: at ``due_at`` publish ``message`` on ``topic`` (maps 1:1 to ``runtime.outcome.Schedule``).
    The same ``deadline_id`` scheduled twice must be kept once."""

    deadline_id: uuid.UUID
    due_at: datetime
    message: FilingDeadlineDue
    topic: str = DEADLINE_TOPIC


@dataclass(frozen=True)
class FilingDecision:
    """The filing domain's decision, the result of :func:`~services.filing.domain.decide.decide`:
    ``services.outcome.Decision``'s state, events and deadlines, with the refusal and duplicate flags.

    ``state`` is the aggregate to store (unchanged on refusal or duplicate); ``events`` are the
    contract messages to publish in order (FilingChanged…, then FilingAccepted or FilingRefused);
    ``deadlines`` are to be persisted and fired later as FilingDeadlineDue."""

    state: PersonFilings
    events: list[Contract]
    deadlines: list[FilingDeadline]
    refusal: Any = None  # FilingRefused | None
    duplicate: bool = False

    @property
    def changed(self) -> bool:
        return self.refusal is None and not self.duplicate and bool(self.events)


@dataclass
class Work:
    """The state being decided on, the context, and what has been produced so far."""

    state: PersonFilings
    policies: PolicyBook
    calendar: WorkingCalendar
    now: datetime
    cause: str
    sanctions: RegionSanctions
    changes: list[FilingChanged] = field(default_factory=list)
    deadlines: list[FilingDeadline] = field(default_factory=list)

    @property
    def today(self) -> date:
        return business_date(self.now)

    def policy(self, insured_region: str) -> RegionPolicy:
        return self.policies.for_region(insured_region)

    def record(self, snapshot: FilingSnapshot) -> FilingSnapshot:
        """Append a version to the aggregate and queue its FilingChanged (F-15)."""
        self.state.append(snapshot)
        self.changes.append(
            FilingChanged(
                change_id=stable_id(snapshot.filing_id, "v", snapshot.version),
                person_id=snapshot.person_id,
                filing_id=snapshot.filing_id,
                version=snapshot.version,
                change_kind=snapshot.change_kind,
                rule=snapshot.rule,
                snapshot=snapshot,
                occurred_at=self.now,
            )
        )
        return snapshot

    def evolve(
        self, old: FilingSnapshot, kind: ChangeKind, rule: str, note: str = "", **updates: Any
    ) -> FilingSnapshot:
        """Record the next version of ``old`` with ``updates`` applied."""
        data = old.model_dump()
        data.update(
            updates,
            version=old.version + 1,
            change_kind=kind,
            rule=rule,
            note=note,
            recorded_at=self.now,
            cause=self.cause,
        )
        return self.record(FilingSnapshot.model_validate(data))

    def schedule(self, filing: FilingSnapshot, kind: DeadlineKind, due_at: datetime) -> None:
        """Ask for a FilingDeadlineDue at ``due_at`` (F-10, F-13), computed on the recorded calendar."""
        deadline_id = stable_id(filing.filing_id, kind.value)
        message = FilingDeadlineDue(
            deadline_id=deadline_id,
            person_id=filing.person_id,
            filing_id=filing.filing_id,
            kind=kind,
            due_at=due_at,
            due_date=business_date(due_at),
            calendar=self.calendar.source,
            scheduled_by=self.cause,
        )
        self.deadlines.append(FilingDeadline(deadline_id=deadline_id, due_at=message.due_at, message=message))
