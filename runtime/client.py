"""What a HIS adapter or an agency front end does to talk to the platform: wrap a payload in
its envelope, sign it as a registry party (``contracts.parties`` documents the format) and send
it. The simulator, the benchmark, the ``yidi party`` command and the tests all send this way.

    client = PartyClient(producer, keys_dir="var/keys")
    await client.send("his.outpatient-requested.v1", request, sender="H42010200001", now=now)
"""
from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from contracts.envelope import Envelope
from runtime.envelopes import encode, envelope_for, key_for
from runtime.parties import Signer, signer_for


class PartyClient:
    def __init__(self, producer: AIOKafkaProducer, keys_dir: str | Path, prefix: str = "") -> None:
        self.producer, self.keys_dir, self.prefix = producer, keys_dir, prefix
        self._signers: dict[str, Signer] = {}

    def signer(self, code: str) -> Signer:
        """The party's signer, from its private key file in the key directory."""
        if code not in self._signers:
            self._signers[code] = signer_for(self.keys_dir, code)
        return self._signers[code]

    def envelope(self, topic: str, payload: BaseModel, *, sender: str, now: datetime, producer: str | None = None,
                 event_id: uuid.UUID | None = None, correlation_id: uuid.UUID | None = None) -> Envelope:
        return envelope_for(topic, payload, producer=producer or sender, now=now, event_id=event_id,
                            correlation_id=correlation_id, sender=sender)

    async def send(self, topic: str, payload: BaseModel, *, sender: str, now: datetime, producer: str | None = None,
                   event_id: uuid.UUID | None = None, correlation_id: uuid.UUID | None = None,
                   wait: bool = True) -> Envelope:
        env = self.envelope(topic, payload, sender=sender, now=now, producer=producer, event_id=event_id,
                            correlation_id=correlation_id)
        await self.send_bytes(topic, encode(env), key_for(topic, payload), sign_as=sender, wait=wait)
        return env

    async def send_bytes(self, topic: str, value: bytes, key: str, *, sign_as: str | None,
                         wait: bool = True) -> None:
        """Bytes as they are, signed by ``sign_as`` (None: unsigned, which the platform refuses)."""
        headers = [(k, v.encode()) for k, v in self.signer(sign_as).headers(value).items()] if sign_as else None
        send = self.producer.send_and_wait if wait else self.producer.send
        await send(self.prefix + topic, value, key=key.encode(), headers=headers)
