"""Persisted deadlines 期限: "at moment T, publish message X", each fired once across instances."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from runtime.sealing import SHARED_SCOPE, is_sealed, keyring


class DeadlineStore:
    """Persisted deadlines 期限: "at moment T, publish message X". Each fires once: the
    claim is a conditional single-document update, and a claim left by a crashed instance
    is taken over after its lease (the message id is fixed, so a second publish is a copy
    that consumers drop)."""

    LEASE_SECONDS = 30

    def __init__(self, db: AsyncDatabase, name: str = "deadlines") -> None:
        self.col = db[name]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("status", ASCENDING), ("due_at", ASCENDING)])

    async def put(self, entry: dict) -> None:
        """Arm a deadline. Arming an id again moves it while pending; a deadline already fired
        is armed again only by a different message (a handler that asks for it again at
        another moment), never by a redelivered copy of the message that first armed it."""
        doc = _stored(entry)
        ring = keyring()
        try:
            await self.col.insert_one({"_id": entry["deadline_id"], **doc, "status": "pending", "claimed_at": None})
            return
        except DuplicateKeyError:
            pass
        existing = await self.col.find_one({"_id": entry["deadline_id"]})
        if existing and (
            existing["status"] == "pending" or ring.unseal(existing["value"]) != ring.unseal(doc["value"])
        ):  # nonces differ
            await self.col.update_one(
                {"_id": entry["deadline_id"]}, {"$set": {**doc, "status": "pending", "claim": None}}
            )

    async def rearm(self, entry: dict) -> None:
        """Arm a deadline again, whatever its state: its message was read before it was due (an
        instance whose clock ran ahead fired it), or what it needs is not applied yet. The same
        message fires again at ``due_at``; a claim still held on it is void (``mark_fired``)."""
        await self.col.update_one(
            {"_id": entry["deadline_id"]},
            {"$set": {**_stored(entry), "status": "pending", "claim": None, "claimed_at": None}},
            upsert=True,
        )

    async def cancel(self, deadline_id: str) -> None:
        """A cancelled deadline is removed (most are: every settlement arms one and cancels it on
        the answer), so the collection holds what is pending or fired, not every deadline ever armed.
        Firing one that was cancelled is harmless anyway: its handler checks the state it is about."""
        await self.col.delete_one({"_id": deadline_id, "status": "pending"})

    async def due(self, now: datetime, limit: int = 100) -> list[dict]:
        return (
            await self.col.find({"status": "pending", "due_at": {"$lte": now}}).sort("due_at", 1).limit(limit).to_list()
        )

    async def claim(self, deadline_id: str, now: datetime) -> dict | None:
        """The deadline, now ours to fire, with its message opened; ``claim`` names this claim."""
        token = uuid.uuid4().hex
        doc = await self.col.find_one_and_update(
            {"_id": deadline_id, "status": "pending"}, {"$set": {"status": "firing", "claimed_at": now, "claim": token}}
        )
        if doc:
            doc["value"], doc["claim"] = keyring().unseal(doc["value"]), token
        return doc

    async def release(self, claimed: dict) -> None:
        """A claim whose message could not be sent: pending again, for the next poll (not after
        the lease, which is for an instance that crashed holding it)."""
        await self.col.update_one(
            {"_id": claimed["_id"], "claim": claimed["claim"]},
            {"$set": {"status": "pending", "claim": None, "claimed_at": None}},
        )

    async def mark_fired(self, claimed: dict, now: datetime) -> None:
        """Fired, unless the deadline was armed again meanwhile (its message read early, ``rearm``)."""
        await self.col.update_one(
            {"_id": claimed["_id"], "claim": claimed["claim"]}, {"$set": {"status": "fired", "fired_at": now}}
        )

    async def release_stale(self, now: datetime) -> None:
        await self.col.update_many(
            {"status": "firing", "claimed_at": {"$lt": now - timedelta(seconds=self.LEASE_SECONDS)}},
            {"$set": {"status": "pending", "claim": None}},
        )

    async def oldest_due(self, now: datetime) -> datetime | None:
        """The due time of the oldest pending deadline already due (None: none is); the
        (status, due_at) index answers it."""
        doc = await self.col.find_one(
            {"status": "pending", "due_at": {"$lte": now}}, {"due_at": 1}, sort=[("due_at", 1)]
        )
        return doc["due_at"] if doc else None

    async def counts(self) -> dict[str, int]:
        return {status: await self.col.count_documents({"status": status}) for status in ("pending", "firing", "fired")}


def _stored(entry: dict) -> dict:
    """What is stored of a deadline: when, where and what to publish (the message sealed at rest)."""
    doc = {k: entry[k] for k in ("due_at", "topic", "key", "value", "type")}
    if entry.get("trace"):  # the trace context it fires in (runtime.tracing)
        doc["trace"] = entry["trace"]
    if not is_sealed(doc["value"]):  # an outbox entry written before sealing
        doc["value"] = keyring().seal(doc["value"], SHARED_SCOPE)
    return doc
