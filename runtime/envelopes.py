"""Building and reading envelopes on the wire."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

from pydantic import BaseModel

from contracts.envelope import Envelope, derived_event_id, envelope_of
from contracts.registry import ALL_TOPICS
from contracts.topics import SERVICES
from runtime.failures import PoisonMessage
from runtime.privacy import pseudonym


def envelope_for(
    topic: str,
    payload: BaseModel,
    *,
    producer: str,
    now: datetime,
    cause: Envelope | None = None,
    event_id: uuid.UUID | None = None,
    name: str = "",
    correlation_id: uuid.UUID | None = None,
    sender: str | None = None,
) -> Envelope:
    """Wrap ``payload`` for ``topic``. Caused messages get a deterministic id (cause + topic +
    name), so a retried handler republishes the same id and consumers drop the copy. ``sender`` is
    the registry code that signs it (default: ``producer``, which services set to their code)."""
    spec = ALL_TOPICS[topic]
    if not isinstance(payload, spec.message):
        raise TypeError(f"{topic} carries {spec.message.__name__}, not {type(payload).__name__}")
    if event_id is None:
        event_id = derived_event_id(cause.event_id, f"{topic}:{name}") if cause else uuid.uuid4()
    correlation = correlation_id or (cause.correlation_id if cause else event_id)
    return envelope_of(spec.message)(
        event_id=event_id,
        type=spec.type,
        schema_version=spec.version,
        occurred_at=now,
        correlation_id=correlation,
        causation_id=cause.event_id if cause else None,
        producer=producer,
        sender=sender or producer,
        reply_to=_reply_to(cause),
        payload=payload,
    )


def _reply_to(cause: Envelope | None) -> str | None:
    """The party outside the platform a flow answers: the cause's sender, unless a service sent it."""
    if cause is None:
        return None
    return cause.reply_to if cause.sender in SERVICES else cause.sender


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


def key_for(topic: str, payload: BaseModel, key: str | None = None) -> str:
    """The partition key. On a topic keyed by person it is the person's pseudonym, never the ID
    number (003 §5 (三)); an explicit ``key`` on such a topic is a person id too."""
    spec = ALL_TOPICS[topic]
    raw = key if key is not None else spec.key(payload)
    return pseudonym(raw) if getattr(spec, "personal_key", False) else raw


# a JSON escape of U+0000 (an even run of backslashes before it is text, not an escape)
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def parse(topic: str, raw: bytes) -> Envelope:
    """Validate raw bytes as the topic's envelope; raises ValueError/ValidationError (a
    ``PoisonMessage`` ``invalid_message`` for a NUL character). No text of
    any message may hold a NUL character: no field needs one, and what is stored, logged or passed
    on to C libraries would be cut at it."""
    if b"\x00" in raw or _NUL.search(raw):
        raise PoisonMessage("invalid_message", "a string holds a NUL character (U+0000)")
    spec = ALL_TOPICS[topic]
    return envelope_of(spec.message).model_validate_json(raw)


PEEKED_CHARS = 100  # an id or a type name is far shorter; longer values are not ids


def peek_ids(raw: bytes) -> dict[str, str]:
    """Best-effort read of ids from a message that failed validation (dead-letter context). It
    never raises, whatever the bytes hold (nesting deep enough to exhaust the stack, invalid
    UTF-8), and keeps only short strings: a value that is an object, a list or a long text would
    carry the attack on into the dead letter."""
    try:
        data = json.loads(raw)
    except Exception:  # ValueError, UnicodeDecodeError, RecursionError, MemoryError…: no ids to show
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: v
        for k in ("event_id", "type", "correlation_id")
        if isinstance(v := data.get(k), str) and len(v) <= PEEKED_CHARS
    }
