"""Reading what the services store, as they store it (003 §5 (三)): a person's aggregate lives
under their pseudonym with its state sealed; pending messages (outbox entries, deadlines) are
sealed too. Tests look through these helpers instead of at raw ``_id``s and ``state`` fields.

The test process derives pseudonyms and opens sealed data with the same secrets as the service
processes it starts (the same environment and working directory: ``runtime.privacy``)."""

from __future__ import annotations

from typing import Any

from runtime.privacy import pseudonym
from runtime.sealing import keyring
from runtime.store import open_document

# Collections whose aggregate id is an ID number (services' ``store.protect`` declarations).
PERSON_KEYED = frozenset({"people", "visits", "insured", "filing_view"})


def document_id(collection: str, aggregate_id: str) -> str:
    return pseudonym(aggregate_id) if collection in PERSON_KEYED else aggregate_id


async def find_aggregate(db, collection: str, aggregate_id: str) -> dict | None:
    """The stored document of one aggregate, state opened."""
    return open_document(await db[collection].find_one({"_id": document_id(collection, aggregate_id)}))


def opened(doc: dict | None) -> dict | None:
    """A document read directly (``find``, ``find_one({})``), state opened."""
    return open_document(doc)


def plain(value: Any) -> Any:
    """A sealed value (an outbox entry's or a deadline's message) opened; a plain one as it is."""
    return keyring().unseal(value)


def person_key(person_id: str) -> dict:
    """A query on a message's stored ``key`` that matches the person: the pseudonym (what
    ``runtime.envelopes.key_for`` gives person-keyed topics) or, before that, the number."""
    return {"$in": [pseudonym(person_id), person_id]}
