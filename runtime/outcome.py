"""What a handler decides: the new state of one aggregate, the messages it causes and the
deadlines it sets. The store writes all three in one document, so they cannot diverge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Emit:
    """Publish ``payload`` on logical ``topic`` (key from the registry unless given)."""

    topic: str
    payload: BaseModel
    key: str | None = None
    name: str = ""  # tells apart two emits of one topic caused by one message


@dataclass(frozen=True)
class Schedule:
    """At business moment ``due_at``, publish ``payload`` on ``topic`` (persisted deadline).
    ``deadline_id`` is a business key: scheduling the same id twice keeps the first."""

    deadline_id: str
    due_at: datetime
    topic: str
    payload: BaseModel
    key: str | None = None


@dataclass
class Outcome:
    """``state=None`` leaves the stored state as it is (a refusal changes nothing, M-03)."""

    state: dict[str, Any] | None = None
    emits: list[Emit] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)  # deadline ids no longer due
    duplicate: bool = False

    @property
    def result(self) -> str:
        """How the handled-messages metric counts it."""
        return "duplicate" if self.duplicate else "applied"
