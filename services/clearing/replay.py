"""``yidi clearing replay --month YYYY-MM``: read the clearing service's ``entries`` archive and its
``ledgers`` and ``notices`` for the month (MONGODB_URI, YIDI_MONGODB_DATABASE, default
``yidi_clearing``), rebuild with the pure ``domain.replay`` and return its JSON-ready result."""
from __future__ import annotations

from pymongo import AsyncMongoClient

from runtime.calendar import default_calendar
from runtime.config import Settings
from runtime.store import open_document
from services.clearing.domain.ledger import ClearingLedger
from services.clearing.domain.replay import replay


async def replay_month(month: str, settings: Settings | None = None) -> dict:
    settings = settings or Settings(service="clearing")
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        db = client[settings.database]
        lines = [doc async for doc in db["entries"].find({"clearing_month": month})]
        ledgers = [ClearingLedger.model_validate(open_document(doc)["state"])
                   async for doc in db["ledgers"].find({"state.clearing_month": month})]
        notices = [open_document(doc)["state"]["notice"]
                   async for doc in db["notices"].find({"state.notice.clearing_month": month})]
    finally:
        await client.close()
    return replay(month, lines, [lg for lg in ledgers if lg.clearing_month == month],
                  [n for n in notices if n.get("clearing_month") == month], default_calendar())
