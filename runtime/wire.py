"""Personal data on the wire 传输中的个人信息: the payload of every message about an insured person
travels sealed to its readers, never in clear on the broker (003 §5 (三)).

A topic is *sealed* when its payload carries a ``PersonId`` or its key is one
(``contracts.topics.TopicSpec.sealed``). On such a topic the record value is the envelope with its
metadata in clear (event id, type, version, times, correlation, producer, sender: what routing,
deduplication and dead letters need, nothing personal) and, instead of ``payload``,
``sealed_payload``: a JWE in General JSON Serialization (RFC 7516 §7.2.1)::

    {"event_id": "…", "type": "settlement.completed", …, "sender": "settlement",
     "sealed_payload": {"protected": "<b64url {"enc": "A256GCM", "yidi-topic": "settlement.completed.v1",
                                               "yidi-event": "<event_id>"}>",
                        "recipients": [{"header": {"alg": "ECDH-ES+A256KW", "kid": "clearing/dev-1",
                                                   "epk": {…}}, "encrypted_key": "…"}, …],
                        "iv": "…", "ciphertext": "…", "tag": "…"}}

The plaintext is the payload's JSON. One content key (A256GCM) is wrapped for each reader with
ECDH-ES+A256KW to the reader's X25519 encryption key in the participant registry (the same keys
that open ``settlement.result.v2``). The protected header names the topic and the event id: it is
the AEAD's associated data, so a sealed payload moved to another topic or another envelope does
not open. The whole value, sealed payload included, is what the sender signs (``runtime.parties``).

The readers are the services the topic registry names as its consumers and, on a topic that
parties outside the platform read (consumers ``agency``, ``his``, or none named), the party the
flow answers (the envelope's ``reply_to``) and every registry party the payload names: an agency,
institution or channel by its code, the agency of every ``*region``. A party without an encryption key in
the registry is skipped; when no reader is left, the payload is sealed to the sending service
itself (nobody else reads it, and it still never travels in clear).

In the ``sm`` crypto suite (``runtime.suites``) the value has the same shape, with ``enc``
``SM4-GCM`` and each reader's ``alg`` ``SM2ENC`` (the content key encrypted with SM2 to the reader's
SM2 key, ``runtime.sm.seal_general``).

A consumer refuses a payload in clear on a sealed topic (``PoisonMessage`` ``payload_not_sealed``:
the sender is told), and one that its key does not open (``payload_not_opened``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwe import GeneralJSONSerialization
from joserfc.jwk import OKPKey
from joserfc.registry import HeaderParameter

from contracts.parties import Agency, Channel, Institution, ServiceParty
from contracts.registry import ALL_TOPICS
from contracts.topics import SERVICES, TopicSpec
from runtime import sm
from runtime.parties import DecryptionKey, EncryptionKey, ParticipantRegistry, PrivateKeys, jwe_registry

SEALED = "sealed_payload"
KEY_WRAP = "ECDH-ES+A256KW"
CONTENT = "A256GCM"
TOPIC_HEADER = "yidi-topic"
EVENT_HEADER = "yidi-event"
MAX_READERS = 16
_REGION = re.compile(r"^\d{6}$")
_REGISTRY = jwe_registry(
    [KEY_WRAP, CONTENT],
    verify_all_recipients=False,
    max_recipients=MAX_READERS,
    header_registry={
        TOPIC_HEADER: HeaderParameter("Topic of the sealed payload", "str", True),
        EVENT_HEADER: HeaderParameter("Event id of the envelope around it", "str", True),
    },
)


class SealingError(ValueError):
    """A payload that cannot be sealed (no reader has a key) or opened (not ours, altered, in clear)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def is_sealed(topic: str) -> bool:
    spec = ALL_TOPICS.get(topic)
    return bool(spec and spec.sealed)


def _sealed_envelope(topic: str, value: bytes) -> tuple[TopicSpec | None, dict | None]:
    """The topic's spec and the value as a JSON object, when the topic is sealed and the value is
    one (else None for what is not: bytes that are no envelope are the parser's to refuse)."""
    spec = ALL_TOPICS.get(topic)
    if spec is None or not spec.sealed:
        return None, None
    try:
        envelope = json.loads(value)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return spec, None
    return spec, envelope if isinstance(envelope, dict) else None


# ---------------------------------------------------------------- sealing
class WireSealer:
    """Seals the payloads this party sends on sealed topics, to their readers' registry keys."""

    def __init__(self, registry: ParticipantRegistry, own: str | None = None) -> None:
        self.registry, self.own = registry, own

    def seal(self, topic: str, value: bytes) -> bytes:
        """``value`` (an envelope's JSON) with its payload sealed, when ``topic`` is sealed and the
        payload is in clear; anything else as it is (bytes that are no envelope are the
        consumer's to refuse)."""
        spec, envelope = _sealed_envelope(topic, value)
        if spec is None or envelope is None or "payload" not in envelope:
            return value
        payload = envelope.pop("payload")
        envelope[SEALED] = self.seal_payload(spec, payload, str(envelope.get("event_id", "")), envelope.get("reply_to"))
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()

    def seal_payload(self, spec: TopicSpec, payload: Any, event_id: str, reply_to: Any = None) -> dict:
        keys = list(self.reader_keys(spec, payload, reply_to))
        if not keys and self.own:  # nobody else can read it: it still never travels in clear
            keys = list(self._keys_of([self.own]))
        if not keys:
            raise SealingError("no_reader", f"no reader of {spec.name} has an encryption key in the registry")
        plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        sm2 = [(kid, key) for kid, key in keys if isinstance(key, sm.SM2PublicKey)]
        if sm2:
            return sm.seal_general({TOPIC_HEADER: spec.name, EVENT_HEADER: event_id}, sm2, plaintext)
        message = jwe.GeneralJSONEncryption(
            {"enc": CONTENT, TOPIC_HEADER: spec.name, EVENT_HEADER: event_id}, plaintext
        )
        for kid, key in keys:
            message.add_recipient({"alg": KEY_WRAP, "kid": kid}, cast(OKPKey, key))
        return dict(jwe.encrypt_json(message, None, registry=_REGISTRY))

    def reader_keys(self, spec: TopicSpec, payload: Any, reply_to: Any = None) -> Iterator[tuple[str, EncryptionKey]]:
        return self._keys_of(readers(spec, payload, self.registry, reply_to)[:MAX_READERS])

    def _keys_of(self, codes: Iterable[str]) -> Iterator[tuple[str, EncryptionKey]]:
        for code in codes:
            found = self.registry.encryption_key(code)
            if found:
                yield f"{code}/{found[0]}", found[1]


def readers(spec: TopicSpec, payload: Any, registry: ParticipantRegistry, reply_to: Any = None) -> list[str]:
    """The registry codes a sealed payload is sealed to (see the module's docstring)."""
    codes = [c for c in spec.consumers if c in SERVICES and isinstance(registry.get(c), ServiceParty)]
    if not spec.consumers or any(c not in SERVICES for c in spec.consumers):
        named = _named_parties(payload, registry)
        for code in (
            [str(reply_to)] if isinstance(registry.get(str(reply_to)), (Agency, Institution, Channel)) else []
        ) + list(named):
            if code not in codes:
                codes.append(code)
    return codes


def _named_parties(payload: Any, registry: ParticipantRegistry) -> Iterator[str]:
    for key, value in _leaves(payload):
        if not isinstance(value, str):
            continue
        party = registry.get(value)
        if isinstance(party, (Agency, Institution, Channel)):
            yield party.code
        elif key.endswith("region") and _REGION.match(value):
            agency = registry.agency_of(value)
            if agency is not None:
                yield agency.code


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v, key)
    else:
        yield key, value


# ---------------------------------------------------------------- opening
class WireOpener:
    """Opens sealed payloads with the encryption keys it holds (a service's own; every key of a
    key directory for tools and tests)."""

    def __init__(self, keys: dict[str, DecryptionKey]) -> None:
        self.keys = keys  # "<code>/<kid>" → private X25519 key (SM2 in the sm suite)

    @classmethod
    def of(cls, *private: PrivateKeys) -> WireOpener:
        return cls({f"{k.code}/{k.enc_kid}": k.enc for k in private if k.enc is not None and k.enc_kid})

    @classmethod
    def from_keys_dir(cls, keys_dir: str | Path) -> WireOpener:
        """Every private key of a key directory (development deployments, tests, tools)."""
        from runtime.parties import load_private_keys

        codes = [p.name.removesuffix(".private.json") for p in Path(keys_dir).glob("*.private.json")]
        return cls.of(*(load_private_keys(keys_dir, code) for code in codes))

    def open(self, topic: str, value: bytes) -> bytes:
        """The envelope's JSON with its payload in clear. A sealed topic's payload in clear is a
        ``SealingError`` (``payload_not_sealed``); a topic that is not sealed passes as it is."""
        _, envelope = _sealed_envelope(topic, value)
        if envelope is None:
            return value  # not sealed, or not an envelope: the parser says what is wrong
        if SEALED not in envelope:
            if "payload" in envelope:
                raise SealingError(
                    "payload_not_sealed",
                    f"{topic} carries personal data: its payload must be "
                    f"sealed ('{SEALED}', runtime.wire), not in clear",
                )
            return value
        envelope["payload"] = self.open_payload(topic, envelope.pop(SEALED), str(envelope.get("event_id", "")))
        return json.dumps(envelope, ensure_ascii=False).encode()

    def open_payload(self, topic: str, sealed: Any, event_id: str) -> Any:
        if not isinstance(sealed, dict) or not isinstance(sealed.get("recipients"), list):
            raise SealingError("payload_not_opened", f"{SEALED} is not a JWE in General JSON Serialization")
        mine = [
            r
            for r in sealed["recipients"]
            if isinstance(r, dict) and str((r.get("header") or {}).get("kid")) in self.keys
        ]
        if not mine:
            raise SealingError("payload_not_opened", f"{SEALED} is not sealed to a key held here ({sorted(self.keys)})")
        kid = str(mine[0]["header"]["kid"])
        key = self.keys[kid]
        if isinstance(key, sm.SM2PrivateKey):
            try:
                protected, plaintext = sm.open_general(sealed, kid, key)
            except ValueError as exc:
                raise SealingError("payload_not_opened", f"{SEALED} does not open with {kid}: {exc}") from None
            return self._payload(topic, event_id, protected, plaintext)
        try:
            general = cast(GeneralJSONSerialization, {**sealed, "recipients": mine[:1]})
            opened = jwe.decrypt_json(general, key, registry=_REGISTRY)
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise SealingError("payload_not_opened", f"{SEALED} does not open with {kid}: {exc}") from None
        return self._payload(topic, event_id, opened.protected, opened.plaintext or b"")

    @staticmethod
    def _payload(topic: str, event_id: str, protected: dict, plaintext: bytes) -> Any:
        """The payload, once its protected header names this topic and this envelope."""
        if protected.get(TOPIC_HEADER) != topic or protected.get(EVENT_HEADER) != event_id:
            raise SealingError(
                "payload_not_opened",
                f"{SEALED} was sealed for {protected.get(TOPIC_HEADER)} "
                f"event {protected.get(EVENT_HEADER)}, not this envelope",
            )
        try:
            return json.loads(plaintext)
        except (ValueError, RecursionError):
            raise SealingError("payload_not_opened", "the sealed payload is not JSON") from None

    def open_all(self, topic: str, values: Iterable[bytes]) -> list[dict]:
        """Records of one topic as dicts with their payloads opened (tools and tests read topics so)."""
        return [json.loads(self.open(topic, v)) for v in values]
