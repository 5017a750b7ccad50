"""Commands waiting for a reviewer 复核 (the two-step tasks of ``catalogue``), in the console's own
database (``task_drafts``). The payload is sealed at rest under the agency's data key
(``runtime.sealing``: it may name a person); the document keeps in clear only who drafted it, for which
agency, which topic, when, and its state: pending → sent (approved by a reviewer of the same agency,
not the one who drafted it) or returned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from runtime.sealing import keyring

STATE_ZH = {"pending": "待复核", "sent": "已复核发送", "returned": "已退回"}


@dataclass(frozen=True)
class Draft:
    id: str
    agency: str
    topic: str
    drafted_by: str
    drafted_at: datetime
    state: str
    payload: dict[str, Any]
    decided_by: str = ""
    note: str = ""


def _seal_region(agency: str, region: str | None) -> str:
    return region or "000000"


class Drafts:
    def __init__(self, db: AsyncDatabase) -> None:
        self.docs = db["task_drafts"]

    async def add(self, agency: str, region: str | None, topic: str, payload: dict, user: str, now: datetime) -> str:
        draft_id = str(uuid.uuid4())
        await self.docs.insert_one(
            {
                "_id": draft_id,
                "agency": agency,
                "topic": topic,
                "drafted_by": user,
                "drafted_at": now,
                "state": "pending",
                "payload": keyring().seal(payload, _seal_region(agency, region)),
            }
        )
        return draft_id

    async def get(self, draft_id: str, agency: str) -> Draft | None:
        doc = await self.docs.find_one({"_id": draft_id, "agency": agency})
        return _draft(doc) if doc else None

    async def pending(self, agency: str, limit: int = 50) -> list[Draft]:
        cursor = self.docs.find({"agency": agency, "state": "pending"}).sort("drafted_at", -1).limit(limit)
        return [_draft(doc) async for doc in cursor]

    async def decide(self, draft_id: str, agency: str, state: str, user: str, note: str = "") -> Draft | None:
        """Move a pending draft to ``state`` once (a second reviewer finds it decided: None)."""
        doc = await self.docs.find_one_and_update(
            {"_id": draft_id, "agency": agency, "state": "pending", "drafted_by": {"$ne": user}},
            {"$set": {"state": state, "decided_by": user, "note": note[:200]}},
            return_document=ReturnDocument.AFTER,
        )
        return _draft(doc) if doc else None


def _draft(doc: dict) -> Draft:
    moment = doc["drafted_at"]
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return Draft(
        doc["_id"],
        doc["agency"],
        doc["topic"],
        doc["drafted_by"],
        moment,
        doc["state"],
        keyring().unseal(doc["payload"]),
        doc.get("decided_by", ""),
        doc.get("note", ""),
    )
