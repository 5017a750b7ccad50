"""The simulator's requests in flight (在途请求): a bounded window, so that it waits for answers
instead of sending ever faster than the platform answers, and the tally its summary prints.

Every request leaves a slot taken until its answer comes (a result on ``settlement.result.v2``, a
refusal on ``party.refused.v1``), the answer cannot be opened (counted, not fatal: after a key
rotation a result sealed to the old key is one of these), or it is given up after ``timeout``
seconds (counted as unanswered). Pure asyncio: the runner sends and reads, this keeps count."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Flight:
    request_id: str
    event_id: str
    sent_at: float  # time.monotonic() when sent
    expected: Any
    context: Any = None  # what its answer updates (the day's traffic it belongs to)
    topic: str = ""  # what was sent, to send again after a clock move (CLOCK_SKEW)
    payload: Any = None
    attempts: int = 1


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0  # every answer: a result, or a refusal on party.refused.v1
    unopenable: int = 0  # results for a request of ours that could not be opened or read
    unanswered: int = 0  # given up after the timeout
    refused: Counter[str] = field(default_factory=Counter)  # among the answers, refusals by code (either topic)
    waits: int = 0  # times sending waited for a free slot (the platform lagging)
    resent: int = 0  # sent again, freshly stamped, after a CLOCK_SKEW: stamped before the clock moved


class InFlight:
    """At most ``limit`` requests awaiting an answer; ``acquire`` waits for a free slot."""

    def __init__(self, limit: int, timeout: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self.limit, self.timeout = limit, timeout
        self.tally = Tally()
        self._by_request: dict[str, Flight] = {}
        self._by_event: dict[str, str] = {}
        self._freed = asyncio.Event()  # set whenever a slot is freed

    def __len__(self) -> int:
        return len(self._by_request)

    async def acquire(self) -> None:
        """Returns once fewer than ``limit`` requests are in flight (expired ones are given up first)."""
        self._expire()
        if len(self._by_request) >= self.limit:
            self.tally.waits += 1
        # wakes on every answer; also re-checks the expiry now and then, in case none comes
        while len(self._by_request) >= self.limit:
            self._freed.clear()
            try:
                await asyncio.wait_for(self._freed.wait(), timeout=min(1.0, self.timeout))
            except TimeoutError:
                pass
            self._expire()

    def sent(
        self,
        request_id: str,
        event_id: str,
        expected: Any,
        context: Any = None,
        *,
        topic: str = "",
        payload: Any = None,
    ) -> None:
        self._by_request[request_id] = Flight(request_id, event_id, time.monotonic(), expected, context, topic, payload)
        self._by_event[event_id] = request_id
        self.tally.sent += 1

    def again(self, flight: Flight, event_id: str) -> Flight:
        """``flight`` sent once more under a new event id (its slot kept; counted as re-sent, not as sent)."""
        self._by_event.pop(flight.event_id, None)
        again = Flight(
            flight.request_id,
            event_id,
            time.monotonic(),
            flight.expected,
            flight.context,
            flight.topic,
            flight.payload,
            flight.attempts + 1,
        )
        self._by_request[flight.request_id] = again
        self._by_event[event_id] = flight.request_id
        self.tally.resent += 1
        return again

    def get(self, request_id: str) -> Flight | None:
        return self._by_request.get(request_id)

    def has(self, request_id: str) -> bool:
        return request_id in self._by_request

    def answered(self, request_id: str) -> Flight | None:
        """The flight a result answers (None: not ours, or already settled), its slot freed."""
        flight = self._settle(request_id)
        if flight:
            self.tally.answered += 1
        return flight

    def refused(self, event_id: str, code: str) -> Flight | None:
        """A refusal on party.refused.v1, which names the refused message's event id."""
        request_id = self._by_event.get(event_id)
        flight = self._settle(request_id) if request_id else None
        if flight:
            self.tally.answered += 1
            self.tally.refused[code or "?"] += 1
        return flight

    def result_refused(self, code: str) -> None:
        """A result whose outcome is a refusal (settlement.result.v2: CLOCK_SKEW, NOT_FILED, …), by its code."""
        self.tally.refused[code or "?"] += 1

    def unopenable(self, request_id: str | None) -> Flight | None:
        """A result for ``request_id`` that could not be opened: counted, its slot freed."""
        flight = self._settle(request_id) if request_id else None
        self.tally.unopenable += 1
        return flight

    def _settle(self, request_id: str) -> Flight | None:
        flight = self._by_request.pop(request_id, None)
        if flight:
            self._by_event.pop(flight.event_id, None)
            self._freed.set()
        return flight

    def _expire(self) -> None:
        oldest = time.monotonic() - self.timeout
        for request_id in [r for r, f in self._by_request.items() if f.sent_at < oldest]:
            self._settle(request_id)
            self.tally.unanswered += 1

    def summary(self) -> str:
        """One line: what the periodic summary says of the traffic."""
        t = self.tally
        refused = ", ".join(f"{code} {n}" for code, n in sorted(t.refused.items())) or "none"
        return (
            f"sent {t.sent}, answered {t.answered}, in flight {len(self)}/{self.limit}, "
            f"unopenable {t.unopenable}, unanswered {t.unanswered}, refused: {refused}, "
            f"re-sent after a clock move {t.resent}, waited for answers {t.waits}×"
        )
