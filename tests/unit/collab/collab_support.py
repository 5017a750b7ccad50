"""The collab service's own handlers (``services/collab/handlers.py`` ``registry``) on the in-memory
store (``runtime.memory``), with the refusals its senders hear recorded, and its query API
(``services/collab/query.py``) reading the same store (``services.collab.adapters.CollabReads``)."""

from __future__ import annotations

import os
from datetime import datetime

from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from support import default_sender

from contracts.envelope import Envelope
from contracts.registry import ALL_TOPICS
from contracts.values import SHANGHAI
from runtime.authority import Refusal
from runtime.calendar import default_calendar
from runtime.envelopes import envelope_for
from runtime.memory import MemoryStore
from runtime.parties import ParticipantRegistry
from services.collab.adapters import CollabReads
from services.collab.handlers import registry
from services.collab.metrics import CollabMetrics
from services.collab.query import CollabQueries

KEYS = os.environ["YIDI_KEYS_DIR"]  # the session's development keys (tests/conftest.py)
PARTIES = ParticipantRegistry.load(KEYS)
TOPIC_OF_TYPE = {spec.type: name for name, spec in ALL_TOPICS.items()}
# Wed 30 Sep 2026 10:00 Shanghai, the day before National Day (1..7 Oct off, Sat 10 Oct a make-up working day)
SEPT_30 = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)


class Collab:
    """The collab service in memory: ``send`` one agency's command to its handler at the business time
    ``clock``; ``published`` is what the decisions emitted, ``refusals`` what the senders heard."""

    def __init__(self, clock: datetime = SEPT_30) -> None:
        self.clock = clock
        self.store = MemoryStore(producer="collab", now=lambda: self.clock)
        self.metrics = CollabMetrics(CollectorRegistry())
        self.refusals: list[tuple[str, Envelope, Refusal]] = []
        self.handlers = registry(
            self.store,
            now=lambda: self.clock,
            parties=PARTIES,
            calendar=default_calendar(),
            refuse=self._refuse,
            metrics=self.metrics,
        )
        self.queries = CollabQueries(CollabReads(self.store), now=lambda: self.clock, parties=PARTIES)

    async def _refuse(self, topic: str, env: Envelope, refusal: Refusal) -> None:
        self.refusals.append((topic, env, refusal))

    def envelope(self, topic: str, payload: BaseModel, sender: str | None = None) -> Envelope:
        """As the runtime hands it over: authenticated as ``sender`` (default: the agency of the
        payload's region), received now."""
        return envelope_for(
            topic, payload, producer="agency:test", now=self.clock, sender=sender or default_sender(topic, payload)
        )

    async def send(self, topic: str, payload: BaseModel, sender: str | None = None) -> str:
        return await self.handle(self.envelope(topic, payload, sender))

    async def handle(self, env: Envelope) -> str:
        return await self.handlers[TOPIC_OF_TYPE[env.type]](env)

    def published(self, since: int = 0) -> list[tuple[str, dict]]:
        """(topic, payload) of each message the handlers' decisions emitted, in order."""
        return [(TOPIC_OF_TYPE[env.type], env.payload.model_dump(mode="json")) for env in self.store.published[since:]]

    def state(self, collection: str, key: object) -> dict:
        found = self.store.state(collection, str(key))
        assert found is not None, (collection, key)
        return found
