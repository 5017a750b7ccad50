"""What a HIS adapter or an agency front end does to talk to the platform: wrap a payload in
its envelope, sign it as a registry party (``contracts.parties`` documents the format) and send
it. The simulator, the benchmark, the ``yidi party`` command and the tests all send this way.

    client = PartyClient(producer, keys_dir="var/keys")
    await client.send("his.outpatient-requested.v1", request, sender="H42010200001", now=now)

A payload about a person is sealed to the platform's readers on the way (``runtime.wire``); the
client reads its answers on ``settlement.result.v2``, sealed to it (``open_result``):

    result = client.open_result(json.loads(record.value)["payload"])   # the SettlementResult as a dict
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from contracts.envelope import Envelope
from runtime import tracing
from runtime.envelopes import encode, envelope_for, key_for
from runtime.parties import ParticipantRegistry, Signer, signer_for
from runtime.wire import WireSealer

# what settlement.result.v2 shows in clear; the sealed result must say the same
ROUTING_FIELDS = ("institution_code", "request_id", "outcome", "reversal_request_id")


class SealedForAnother(ValueError):
    """A sealed payload this party cannot or must not open."""


def open_result(signer: Signer, payload: dict) -> dict:
    """The full result inside a ``settlement.result.v2`` payload (contracts.his_result.SealedSettlementResult),
    decrypted with the addressed institution's key: the SettlementResult as a dict. Raises
    ``SealedForAnother`` for a result addressed to another party (it cannot be decrypted here) and
    when the sealed content does not match the routing fields around it."""
    if payload.get("institution_code") != signer.code:
        raise SealedForAnother(f"result addressed to {payload.get('institution_code')}, not to {signer.code}")
    try:
        content = json.loads(signer.open_sealed(payload["sealed"]))
    except Exception as exc:  # a JOSE error, a key that is not ours, bytes that are not JSON
        raise SealedForAnother(f"{signer.code} cannot open this result: {type(exc).__name__}: {exc}") from None
    for field in ROUTING_FIELDS:
        if content.get(field) != payload.get(field):
            raise SealedForAnother(f"sealed {field} {content.get(field)!r} ≠ {payload.get(field)!r} in clear")
    return content


class PartyClient:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        keys_dir: str | Path,
        prefix: str = "",
        registry: ParticipantRegistry | None = None,
    ) -> None:
        self.producer, self.keys_dir, self.prefix = producer, keys_dir, prefix
        self._signers: dict[str, Signer] = {}
        self._sealer = WireSealer(registry) if registry else None

    @property
    def sealer(self) -> WireSealer:
        """Seals personal payloads to their readers' keys in the participant registry (``runtime.wire``)."""
        if self._sealer is None:
            self._sealer = WireSealer(ParticipantRegistry.load(self.keys_dir))
        return self._sealer

    def wire_value(self, topic: str, envelope: Envelope) -> bytes:
        """The record value of ``envelope`` as it travels: JSON, its payload sealed on a sealed topic."""
        return self.sealer.seal(topic, encode(envelope))

    def signer(self, code: str) -> Signer:
        """The party's signer, from its private key file in the key directory."""
        if code not in self._signers:
            self._signers[code] = signer_for(self.keys_dir, code)
        return self._signers[code]

    def open_result(self, payload: dict) -> dict:
        """A ``settlement.result.v2`` payload opened with the key of the institution it names (``open_result``)."""
        return open_result(self.signer(str(payload.get("institution_code"))), payload)

    def envelope(
        self,
        topic: str,
        payload: BaseModel,
        *,
        sender: str,
        now: datetime,
        producer: str | None = None,
        event_id: uuid.UUID | None = None,
        correlation_id: uuid.UUID | None = None,
    ) -> Envelope:
        return envelope_for(
            topic,
            payload,
            producer=producer or sender,
            now=now,
            event_id=event_id,
            correlation_id=correlation_id,
            sender=sender,
        )

    async def send(
        self,
        topic: str,
        payload: BaseModel,
        *,
        sender: str,
        now: datetime,
        producer: str | None = None,
        event_id: uuid.UUID | None = None,
        correlation_id: uuid.UUID | None = None,
        wait: bool = True,
    ) -> Envelope:
        env = self.envelope(
            topic, payload, sender=sender, now=now, producer=producer, event_id=event_id, correlation_id=correlation_id
        )
        await self.send_bytes(topic, encode(env), key_for(topic, payload), sign_as=sender, wait=wait)
        return env

    async def send_bytes(
        self, topic: str, value: bytes, key: str, *, sign_as: str | None, wait: bool = True, seal: bool = True
    ) -> None:
        """Bytes signed by ``sign_as`` (None: unsigned, which the platform refuses); on a sealed
        topic an envelope's payload in clear is sealed first (``seal=False``: sent as it is)."""
        if seal:
            value = self.sealer.seal(topic, value)
        headers = [(k, v.encode()) for k, v in self.signer(sign_as).headers(value).items()] if sign_as else []
        # the sender's current span, if it traces (runtime.tracing): the platform's spans join its trace
        headers += [(k, v.encode()) for k, v in tracing.carrier().items()]
        send = self.producer.send_and_wait if wait else self.producer.send
        await send(self.prefix + topic, value, key=key.encode(), headers=headers or None)
