"""The one envelope every message travels in."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

NAMESPACE = uuid.UUID("6f1c2a9e-3c1d-5b7a-9e8f-2d4c6b8a0e11")

# The largest record the platform sends or accepts, in bytes: Kafka's default ``message.max.bytes``
# and the producer's default ``max.request.size`` (1 MiB). Every contract bound on how much a
# message may carry is derived from it (``contracts.his.MAX_LINES``), so no message a valid
# request causes is ever refused by the broker.
BROKER_MESSAGE_LIMIT = 1_048_576


class Contract(BaseModel):
    """Base of every payload: frozen, strict about unknown fields, documented."""

    # Tolerant reader: unknown fields are ignored, so adding an optional field is a compatible
    # (minor) change that old consumers survive; removals and type changes need a new major.
    model_config = ConfigDict(frozen=True, extra="ignore")


P = TypeVar("P", bound=BaseModel)


class Envelope(BaseModel, Generic[P]):
    """Metadata shared by every event and command, around its typed payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID = Field(
        description="Unique id of this message; consumers dedupe on it.",
        examples=["0b6f3b1e-9a55-4c8e-a3c2-6b2f0e7f4d10"],
    )
    type: str = Field(description="Message type, e.g. 'settlement.requested'.", examples=["settlement.requested"])
    schema_version: int = Field(
        ge=1, description="Major version of the payload schema; matches the topic's .vN.", examples=[1]
    )
    occurred_at: AwareDatetime = Field(description="When it happened, UTC, timezone-aware.")
    correlation_id: uuid.UUID = Field(description="The whole business flow this message belongs to.")
    causation_id: uuid.UUID | None = Field(default=None, description="The message that caused this one.")
    producer: str = Field(
        description="Service or adapter that produced it (free text, for people).",
        examples=["his-adapter:H42010200001"],
    )
    sender: str | None = Field(
        default=None,
        description=(
            "Registry code of the party that sent and signed it (contracts.parties): an institution, agency or "
            "service. A message without one, or whose signature is not this party's, has no effect."
        ),
        examples=["H42010200001"],
    )
    reply_to: str | None = Field(
        default=None,
        description=(
            "Registry code of the party outside the platform this message answers: the sender of the "
            "message that caused it, or that message's own reply_to when a service sent it (a flow keeps "
            "the party it began with). A payload about a person is sealed to it too (runtime.wire)."
        ),
        examples=["A340200"],
    )
    payload: P

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


def derived_event_id(cause: uuid.UUID | str, name: str) -> uuid.UUID:
    """Deterministic id of the ``name`` message caused by ``cause``: a retry yields the same id,
    so a republished event is recognised as a duplicate downstream."""
    return uuid.uuid5(NAMESPACE, f"{cause}:{name}")


@functools.cache
def envelope_of(message: type[BaseModel]) -> type[Envelope]:
    """``Envelope[message]`` for a payload model chosen at run time (a topic's, ``TopicSpec.message``).
    Held here: pydantic keeps parametrized generics only weakly, so without a strong reference the
    class is built again for nearly every message (7 % of the settlement service's CPU, profiled)."""
    return Envelope[message]  # type: ignore[valid-type]
