"""The inbox 收件记录 of an aggregate: the ids of the last messages applied to it, each with a
fingerprint of its payload, so a redelivered copy has no second effect and a different message
reusing an id is told apart from a copy."""

from __future__ import annotations

import hashlib

from contracts.envelope import Envelope


class ConflictingCopy(Exception):
    """A message id already applied arrives with a different payload: not a duplicate, a conflict."""


def inbox_mark(message: Envelope) -> str:
    """What the inbox keeps of an applied message: its id and a fingerprint of its payload."""
    fingerprint = hashlib.sha256(message.payload.model_dump_json().encode()).hexdigest()[:16]
    return f"{message.event_id}#{fingerprint}"


def inbox_verdict(processed: list[str], message: Envelope) -> str:
    """new | duplicate (the same id and payload) | conflict (the same id, another payload). Marks
    written before fingerprints were kept (a bare id) count as duplicates."""
    event_id, mark = str(message.event_id), inbox_mark(message)
    for entry in processed:
        if entry == mark or entry == event_id:
            return "duplicate"
        if entry.startswith(event_id + "#"):
            return "conflict"
    return "new"
