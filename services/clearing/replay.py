"""``yidi clearing replay --month YYYY-MM``: read the clearing service's ``entries`` archive and its
``ledgers`` and ``notices`` for the month (MONGODB_URI, YIDI_MONGODB_DATABASE, default
``yidi_clearing``) through ``adapters.MongoClearingReads``, rebuild with the pure ``domain.replay``
(M-03) and return its JSON-ready result."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from runtime.calendar import default_calendar
from runtime.config import Settings
from services.clearing.adapters import MongoClearingReads
from services.clearing.domain.replay import replay


async def replay_month(month: str, settings: Settings | None = None) -> dict:
    settings = settings or Settings(service="clearing")
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        lines, ledgers, notices = await MongoClearingReads(client[settings.database]).month_archived(month)
    finally:
        await client.close()
    return replay(
        month,
        lines,
        [lg for lg in ledgers if lg.clearing_month == month],
        [n for n in notices if n.get("clearing_month") == month],
        default_calendar(),
    )
