"""The filing aggregate: ALL filings of ONE person 参保人全部备案.

One document per person makes F-09 supersession and F-14 termination atomic. Every change
appends a version to its filing; nothing is overwritten or deleted (M-03), so
:func:`state_at` can rebuild what was on record at any past moment.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from contracts.filing import CommandKind, FilingSnapshot, UtcDatetime


class FilingRecord(BaseModel):
    """One filing and every version of it, oldest first."""

    filing_id: uuid.UUID
    versions: list[FilingSnapshot] = Field(min_length=1)

    @property
    def current(self) -> FilingSnapshot:
        return self.versions[-1]


class HandledRequest(BaseModel):
    """A request or deadline already applied: its retry is recognised, changes nothing, and is
    answered again with the filings as that request left them."""

    request_id: str
    command: CommandKind
    at: UtcDatetime
    filing_id: uuid.UUID | None = None
    others: tuple[uuid.UUID, ...] = ()


class PersonFilings(BaseModel):
    """The aggregate. ``model_dump(mode="json")`` / ``model_validate`` round-trip it."""

    person_id: str
    version: int = Field(
        default=0,
        description="Bumped by every accepted decision; the store's optimistic-concurrency check compares it.",
    )
    filings: list[FilingRecord] = Field(default_factory=list)
    handled: list[HandledRequest] = Field(default_factory=list)

    @classmethod
    def empty(cls, person_id: str) -> PersonFilings:
        return cls(person_id=person_id)

    def current(self) -> list[FilingSnapshot]:
        """Newest version of every filing."""
        return [record.current for record in self.filings]

    def live(self) -> list[FilingSnapshot]:
        """Filings not ended for good (pending, active or suspended)."""
        return [f for f in self.current() if not f.status.is_final]

    def find(self, filing_id: uuid.UUID) -> FilingSnapshot | None:
        record = self._record(filing_id)
        return record.current if record else None

    def was_handled(self, request_id: str) -> bool:
        return self.handled_request(request_id) is not None

    def handled_request(self, request_id: str) -> HandledRequest | None:
        return next((h for h in self.handled if h.request_id == request_id), None)

    def append(self, snapshot: FilingSnapshot) -> None:
        """Add a version (or a new filing); versions must follow one another (M-03)."""
        record = self._record(snapshot.filing_id)
        if record is None:
            if snapshot.version != 1:
                raise ValueError(f"new filing {snapshot.filing_id} must start at version 1")
            self.filings.append(FilingRecord(filing_id=snapshot.filing_id, versions=[snapshot]))
            return
        if snapshot.version != record.current.version + 1:
            raise ValueError(
                f"filing {snapshot.filing_id}: version {snapshot.version} does not follow {record.current.version}"
            )
        record.versions.append(snapshot)

    def _record(self, filing_id: uuid.UUID) -> FilingRecord | None:
        return next((r for r in self.filings if r.filing_id == filing_id), None)


def state_at(aggregate: PersonFilings, moment: datetime) -> list[FilingSnapshot]:
    """Every filing as it stood on record at ``moment`` (M-03): the newest version recorded at or
    before it; filings recorded later are absent."""
    result = []
    for record in aggregate.filings:
        known = [v for v in record.versions if v.recorded_at <= moment]
        if known:
            result.append(known[-1])
    return result


def filing_at(aggregate: PersonFilings, filing_id: uuid.UUID, moment: datetime) -> FilingSnapshot | None:
    """One filing as it stood on record at ``moment``; None if not yet recorded then."""
    return next((f for f in state_at(aggregate, moment) if f.filing_id == filing_id), None)
