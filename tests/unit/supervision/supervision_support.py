"""The supervision service's own handlers (``services/supervision/handlers.py`` ``registry``) on the
in-memory store, its query API reading the same store, and completed settlements built to order."""

from __future__ import annotations

import os
from datetime import datetime

from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from support import default_sender

from contracts.settlement import SettlementCompleted
from contracts.values import SHANGHAI
from runtime.calendar import default_calendar
from runtime.envelopes import envelope_for
from runtime.memory import MemoryStore
from runtime.parties import ParticipantRegistry
from services.supervision.adapters import SupervisionReads
from services.supervision.domain.rules import rule_base
from services.supervision.handlers import registry
from services.supervision.metrics import SupervisionMetrics
from services.supervision.query import SupervisionQueries

KEYS = os.environ["YIDI_KEYS_DIR"]
PARTIES = ParticipantRegistry.load(KEYS)
NOV_2 = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)


class Supervision:
    """The supervision service in memory: ``send`` a completed settlement to its handler."""

    def __init__(self, clock: datetime = NOV_2) -> None:
        self.clock = clock
        self.store = MemoryStore(producer="supervision", now=lambda: self.clock)
        self.metrics = SupervisionMetrics(CollectorRegistry())
        self.handlers = registry(
            self.store, now=lambda: self.clock, calendar=default_calendar(), rules=rule_base(), metrics=self.metrics
        )
        self.queries = SupervisionQueries(
            SupervisionReads(self.store), rules=rule_base(), now=lambda: self.clock, parties=PARTIES
        )

    async def send(self, payload: SettlementCompleted) -> str:
        return await self.command("settlement.completed.v1", payload)

    async def command(self, topic: str, payload: BaseModel, sender: str | None = None) -> str:
        """As the runtime hands it over: authenticated as ``sender`` (default: the payload's agency or
        institution, or the producing service), received now."""
        env = envelope_for(
            topic, payload, producer="test", now=self.clock, sender=sender or default_sender(topic, payload)
        )
        return await self.handlers[topic](env)

    def flags(self) -> dict[str, dict]:
        return {key: doc["state"] for (name, key), doc in self.store.documents.items() if name == "flags"}
