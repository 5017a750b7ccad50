"""The domain's decision: what every pure domain function returns — the new state, the facts to
publish and the deadlines to arm (:class:`Decision`). Shared by the domain packages so the runtime
wires them one way; ``services.wiring`` turns a decision into the ``runtime.outcome.Outcome`` the
store writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.envelope import NAMESPACE

S = TypeVar("S")


class DeadlineRequest(BaseModel):
    """Ask the runtime to call the domain back at ``due_at`` (M-02: computed on the recorded
    calendar). Re-arming the same ``deadline_id`` replaces, never duplicates."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    deadline_id: uuid.UUID = Field(description="uuid5 of service, subject and kind: retries give the same id")
    service: str
    kind: str = Field(description="what to check when it fires, e.g. 'sanction_check'")
    subject: str = Field(description="the aggregate to load when it fires")
    ref: str = Field("", description="the item inside the aggregate, e.g. a notice id")
    due_at: AwareDatetime
    rule: str = Field(description="the RULES.md ID that sets this deadline")
    calendar: str = Field("", description="WorkingCalendar.source used to compute due_at (M-02)")


def deadline(
    service: str, kind: str, subject: str, due_at: datetime, rule: str, calendar: str = "", ref: str = ""
) -> DeadlineRequest:
    key = f"{service}:{subject}:{kind}:{ref}"
    return DeadlineRequest(
        deadline_id=uuid.uuid5(NAMESPACE, key),
        service=service,
        kind=kind,
        subject=subject,
        ref=ref,
        due_at=due_at,
        rule=rule,
        calendar=calendar,
    )


# Ids an aggregate keeps of the items it counted lately; older ones are in the service's archive
# (``services.wiring.Archive``). Redeliveries come from offsets not yet committed (0.2 s of
# traffic) or an outbox sweep (seconds): an aggregate receives far fewer items in between.
RECENT_ITEMS = 512


def remember(recent: tuple[str, ...], item_id: str) -> tuple[str, ...]:
    """The latest ``RECENT_ITEMS`` ids with ``item_id`` added."""
    return (*recent, item_id)[-RECENT_ITEMS:]


class Decision(NamedTuple, Generic[S]):
    """The domain's decision: the aggregate's new state, the events to publish in order and the
    deadlines to arm. Returning the state unchanged with no events is a decision too (nothing to do)."""

    state: S
    events: Sequence[BaseModel]
    deadlines: list[DeadlineRequest]


def stable_id(*parts: object) -> uuid.UUID:
    """Deterministic id from a business key (uuid5), so a retried input yields the same id."""
    return uuid.uuid5(NAMESPACE, ":".join(map(str, parts)))
