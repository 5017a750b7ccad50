"""What became of a command the console sent: its refusal (``party.refused.v1``, ``RefusalWatcher``) or
its effect — the first event a service published because of it (the envelope's ``causation_id`` names
the command's ``event_id``: ``runtime.envelopes``), followed from the end of the services' event topics,
each record's signature checked. A filing the filing rules refuse answers on ``filing.refused.v1``
(sealed to the agency: opened with the agency's key) — a refusal too, with its rule and message.

Only the envelope's clear metadata is read (``causation_id``, ``type``); no payload is kept."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contracts.parties import ServiceParty
from contracts.registry import ALL_TOPICS
from runtime.parties import ParticipantRegistry, Unauthenticated, authenticate, signature_of
from services.console.backend import ActionOutcome, TopicTail

log = logging.getLogger(__name__)
SERVICES = ("filing", "clearing", "prepayment", "collab", "supervision")
FILING_REFUSED = "filing.refused.v1"
# the settlement service's answers to an agency's manual-claim commands (S-17): the only settlement events
# an agency command causes
CLAIM_EVENTS = ("settlement.manual-claim-changed.v1", "settlement.manual-claim-refused.v1")
# the events that say a service's rules refused the command: its outcome is a refusal, not an effect
RULE_REFUSALS = (FILING_REFUSED, "settlement.manual-claim-refused.v1")


def effect_topics() -> list[str]:
    """The events the agencies' commands cause (the services' own deadlines and the settlement flow,
    which no agency command starts, left out)."""
    return sorted(
        name
        for name, spec in ALL_TOPICS.items()
        if (spec.kind == "event" and spec.producer in SERVICES and not name.endswith(".deadline-due.v1"))
        or name in CLAIM_EVENTS
    )


class EffectWatcher(TopicTail):
    """The first event each watched command caused, from the services' event topics (``effect_topics``)."""

    def __init__(
        self,
        bootstrap: str,
        physical: Callable[[str], str],
        parties: ParticipantRegistry,
        now: Callable[[], datetime],
        keys_dir: str,
        **client_options: Any,
    ) -> None:
        self.logical = {physical(t): t for t in effect_topics()}
        super().__init__(bootstrap, list(self.logical), **client_options)
        self.parties, self.now, self.keys_dir = parties, now, keys_dir
        self._opener: Any = None

    def _take(self, record) -> None:
        try:
            meta = json.loads(record.value)
            cause = str(meta.get("causation_id") or "")
        except (ValueError, AttributeError, RecursionError):
            return
        if not cause or cause not in self._waiters:
            return  # not one of ours, or its outcome is no longer awaited
        try:
            sender = authenticate(self.parties, record.value, signature_of(record.headers), self.now())
        except Unauthenticated as exc:
            log.warning("event at offset %s ignored: %s", record.offset, exc)
            return
        if not isinstance(sender, ServiceParty):
            return
        topic = self.logical.get(record.topic, record.topic)
        effect = {"topic": topic, "type": meta.get("type", topic)}
        if topic in RULE_REFUSALS:
            effect["refusal"] = self._rule_refusal(topic, record.value)
        waiter = self._waiters.pop(cause, None)
        if waiter and not waiter.done():
            waiter.set_result(effect)

    def _rule_refusal(self, topic: str, value: bytes) -> dict:
        """A service's rules refusing the command (a filing's, a manual claim's): reason, rule and message
        (the person's data is not kept)."""
        from runtime.wire import SealingError, WireOpener

        try:
            if self._opener is None:
                self._opener = WireOpener.from_keys_dir(self.keys_dir)
            payload = json.loads(self._opener.open(topic, value)).get("payload", {})
        except (SealingError, ValueError, OSError):
            return {"reason": "REFUSED_BY_RULE", "rule": "", "message": ""}
        return {
            "reason": "REFUSED_BY_RULE",
            "rule": str(payload.get("rule", "")),
            "message": str(payload.get("message", "")),
            "filing_reason": str(payload.get("reason", "")),
        }

    def waiter(self, event_id: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._waiters[event_id] = fut  # registered before the command is sent
        return fut


async def act(console, topic: str, payload: BaseModel, agency: str) -> ActionOutcome:
    """Send ``payload`` as ``agency`` through the console's Actor (its client and refusal watcher);
    wait for its refusal or its first effect, up to ``outcome_wait_seconds``."""
    actor, effects = console.actor, getattr(console, "effects", None)
    event_id = str(uuid.uuid4())
    refusal = actor.watcher.waiter(event_id)
    effect = effects.waiter(event_id) if effects else asyncio.get_running_loop().create_future()
    try:
        await actor.client.send(
            topic, payload, sender=agency, now=actor.now(), producer="console", event_id=uuid.UUID(event_id)
        )
        done, _ = await asyncio.wait({refusal, effect}, timeout=actor.wait_seconds, return_when=asyncio.FIRST_COMPLETED)
        if refusal in done:
            found = refusal.result()
            return ActionOutcome("refused", found.get("message", ""), found, event_id)
        if effect in done:
            caused = effect.result()
            if caused.get("refusal"):
                return ActionOutcome("refused", caused["refusal"].get("message", ""), caused["refusal"], event_id)
            return ActionOutcome("done", str(caused.get("type", "")), None, event_id)
        return ActionOutcome("pending", "", None, event_id)
    finally:
        actor.watcher.forget(event_id)
        if effects:
            effects.forget(event_id)
        for fut in (refusal, effect):
            if not fut.done():
                fut.cancel()
