"""Messages of the platform itself: persisted deadlines firing back into their service."""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract
from contracts.topics import TopicSpec


class DeadlineDue(Contract):
    """A persisted deadline fired: the service re-checks ``subject`` for ``kind`` (M-02)."""

    deadline_id: uuid.UUID = Field(description="uuid5 of service, subject, kind and ref")
    kind: str = Field(description="what to check, e.g. 'commitment_due'", examples=["commitment_due"])
    subject: str = Field(description="the aggregate to load, e.g. a person or region")
    ref: str = Field("", description="the item inside the aggregate, e.g. a filing id")
    due_at: AwareDatetime
    rule: str = Field(description="RULES.md ID that set the deadline", examples=["F-10"])
    calendar: str = Field("", description="working-day calendar used to compute due_at (M-02)")


def _deadline_topic(service: str, personal_key: bool = False) -> TopicSpec:
    return TopicSpec(
        name=f"{service}.deadline-due.v1",
        message=DeadlineDue,
        key=lambda p: p.subject,
        key_doc="the aggregate the deadline is about: it is handled in order with that aggregate's other messages",
        producer=service,
        consumers=(service,),
        kind="event",
        personal_key=personal_key,
        description=f"Persisted deadlines of the {service} service firing back into it.",
    )


# settlement's deadlines are about a person (their subject is the ID number); the others' about
# a ledger, an account or a request
TOPICS: list[TopicSpec] = [
    _deadline_topic("settlement", personal_key=True),
    *(_deadline_topic(s) for s in ("clearing", "prepayment", "collab")),
]
# filing declares its own deadline topic (filing.deadline-due.v1, contracts.filing)
