"""The AsyncAPI 3.0 documents of the platform, generated from the topic registry: one per service
and one for a hospital information system (HIS, 医院信息系统).

Per service: a channel for every topic it reads or writes; a ``receive`` operation for every
topic it consumes (the registry's ``consumers``, plus ``parties.change.v2``, which every instance
follows whole) and a ``send`` operation for every topic it produces (``producer`` is the service,
or ``any``: every service answers refusals on ``party.refused.v1``). The HIS's document: a
``send`` for every command a hospital publishes (``producer`` ``his``) and a ``receive`` for every
topic a hospital reads (``his`` among the ``consumers``: its results and its refusals), the same
sets its Kafka ACLs grant (``deploy.kafka_acls``).

Each message is described as it travels (003 §5 (三)):

* its record header ``yidi-signature``, the sender's detached JWS (``runtime.parties``), declared
  in the message's ``headers`` and, since AsyncAPI has no "signed record" scheme, as the server's
  security scheme ``signature`` (type ``asymmetricEncryption``, the description says exactly what);
* its value, an ``Envelope[<model>]`` as in ``contracts/schemas``; on a topic that names a person
  (``TopicSpec.sealed``) the envelope carries ``sealed_payload`` instead of ``payload``: a JWE in
  General JSON Serialization (``runtime.wire``), whose plaintext schema is ``x-sealed-content``;
  such operations name the scheme ``sealedPayload`` too;
* a result addressed to one institution (``settlement.result.v2``) carries its answer in
  ``sealed``, a compact JWE to the institution's key (``runtime.parties.seal_for``), whose
  plaintext schema is ``contentSchema``; its operations name the scheme ``sealedResult``.

pydantic writes OpenAPI's discriminator objects (``{"propertyName", "mapping"}``); an AsyncAPI
schema's ``discriminator`` is the property name alone, so that is what is kept (the ``oneOf`` and
each variant's ``const`` say the rest). Served at ``/asyncapi`` on each service's port;
``make asyncapi`` writes every document to ``contracts/asyncapi/<name>.json``, and ``make test``
checks them with the official parser (``contracts/asyncapi/check``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from contracts.envelope import envelope_of
from contracts.registry import ALL_TOPICS
from contracts.topics import SERVICES, TopicSpec
from runtime.parties import MAX_SIGNATURE, SEAL_ALG, SIGN_ALG, SIGNATURE_HEADER
from runtime.wire import CONTENT, EVENT_HEADER, KEY_WRAP, MAX_READERS, SEALED, TOPIC_HEADER

ASYNCAPI = "3.0.0"
HIS = "his"
DOCUMENTS = (*SERVICES, HIS)
OUT_DIR = "contracts/asyncapi"
FOLLOWED_BY_EVERY_SERVICE = ("parties.change.v2",)  # read whole by every instance (runtime.follow), no group
REF = "#/components/schemas/{model}"
SEALED_PAYLOAD = "SealedPayload"  # the component schema of the JWE General JSON of runtime.wire
KAFKA_BINDING = "0.5.0"
JOSE = "application/jose"  # contentMediaType of a compact JWE string (contracts.his_result)
_B64 = "[A-Za-z0-9_-]"
DETACHED_JWS = rf"^{_B64}+\.\.{_B64}+$"

SIGNATURE_SCHEME = {
    "type": "asymmetricEncryption",
    "description": (
        f"Every record is signed by the party that sends it (003 §5 (三); contracts.parties). The Kafka record "
        f"header `{SIGNATURE_HEADER}` carries a JWS (RFC 7515) in compact serialisation with a detached payload "
        f"(`<protected>..<signature>`, the middle segment empty): the payload is the record value, byte for byte. "
        f"Protected header: `alg` `{SIGN_ALG}` (RFC 9864; RFC 8037's `EdDSA` is accepted, verified as Ed25519), "
        f"`kid` `<party code>/<key id>`, optionally `typ`, nothing else. The key is an OKP Ed25519 signing key "
        f"(use `sig`) of the sender's entry in the participant registry (contracts/data/participants.yaml and "
        f"parties.change.v2), valid at receipt; the envelope's `sender` is that party's code. A record whose "
        f"signature is missing, malformed or does not verify has no effect and is dead-lettered as "
        f"UNAUTHENTICATED; a signed command its sender may not send is answered on party.refused.v1. AsyncAPI "
        f"has no scheme for a signature in a record header: the header is declared in each message's `headers`."
    ),
}
SEALED_PAYLOAD_SCHEME = {
    "type": "asymmetricEncryption",
    "description": (
        f"The payload of a message that names an insured person never travels in clear (003 §5 (三); "
        f"runtime.wire): the envelope's metadata stays in clear and `{SEALED}` replaces `payload`, a JWE "
        f"(RFC 7516) in General JSON Serialization. Content encryption `{CONTENT}` under a content key wrapped "
        f"for each reader (at most {MAX_READERS}) with `{KEY_WRAP}` to the reader's X25519 encryption key "
        f"(use `enc`) of the participant registry, recipient `kid` `<party code>/<key id>`. The protected "
        f"header names the topic (`{TOPIC_HEADER}`) and the envelope's event id (`{EVENT_HEADER}`): a sealed "
        f"payload moved to another topic or envelope does not open. The readers are the services the topic "
        f"registry names as consumers and, on a topic read outside the platform, the party the flow answers "
        f"(`reply_to`) and the agencies and institutions the payload names. The plaintext is the payload's "
        f"JSON (schema: `x-sealed-content`). A payload in clear on such a topic, or one that does not open, "
        f"is refused (payload_not_sealed, payload_not_opened). The signature covers the sealed value."
    ),
}
SEALED_RESULT_SCHEME = {
    "type": "asymmetricEncryption",
    "description": (
        f"A result addressed to one institution is read by every hospital, so its answer is sealed to that "
        f"institution alone (003 §5 (三); runtime.parties.seal_for): the field `sealed` is a JWE (RFC 7516) in "
        f"compact serialisation, `alg` `{SEAL_ALG['alg']}`, `enc` `{SEAL_ALG['enc']}`, no `zip`, `kid` "
        f"`<institution code>/<key id>`, encrypted to the institution's newest X25519 encryption key (use "
        f"`enc`) of the participant registry. Its plaintext is the UTF-8 JSON of the schema in "
        f"`contentSchema`; the routing fields in clear repeat what is inside (an adapter checks they agree)."
    ),
}
# JWE General JSON Serialization (RFC 7516 §7.2.1) as runtime.wire writes it
SEALED_PAYLOAD_SCHEMA = {
    "type": "object",
    "title": "SealedPayload",
    "description": f"JWE General JSON Serialization: {CONTENT} content, key wrapped per reader with {KEY_WRAP}; "
    f"protected header {{enc, {TOPIC_HEADER}, {EVENT_HEADER}}}.",
    "required": ["protected", "recipients", "iv", "ciphertext", "tag"],
    "properties": {
        "protected": {
            "type": "string",
            "pattern": f"^{_B64}+$",
            "description": f'base64url of {{"enc": "{CONTENT}", "{TOPIC_HEADER}": "<topic>", '
            f'"{EVENT_HEADER}": "<event_id>"}}',
        },
        "recipients": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_READERS,
            "items": {
                "type": "object",
                "required": ["header", "encrypted_key"],
                "properties": {
                    "header": {
                        "type": "object",
                        "required": ["alg", "kid", "epk"],
                        "properties": {
                            "alg": {"type": "string", "const": KEY_WRAP},
                            "kid": {
                                "type": "string",
                                "description": "<party code>/<key id> of the reader's X25519 key",
                            },
                            "epk": {
                                "type": "object",
                                "description": "ephemeral X25519 public key (JWK, OKP)",
                                "required": ["kty", "crv", "x"],
                                "properties": {
                                    "kty": {"type": "string", "const": "OKP"},
                                    "crv": {"type": "string", "const": "X25519"},
                                    "x": {"type": "string", "pattern": f"^{_B64}+$"},
                                },
                            },
                        },
                    },
                    "encrypted_key": {"type": "string", "pattern": f"^{_B64}+$"},
                },
            },
        },
        "iv": {"type": "string", "pattern": f"^{_B64}+$"},
        "ciphertext": {"type": "string", "pattern": f"^{_B64}*$"},
        "tag": {"type": "string", "pattern": f"^{_B64}+$"},
    },
}


def consumed(name: str) -> list[str]:
    return sorted({n for n, spec in ALL_TOPICS.items() if name in spec.consumers} | set(FOLLOWED_BY_EVERY_SERVICE))


def produced(name: str) -> list[str]:
    return sorted(n for n, spec in ALL_TOPICS.items() if spec.producer in (name, "any"))


def heard_by_his() -> list[str]:
    """What a hospital reads: the topics that name ``his`` among their consumers."""
    return sorted(n for n, spec in ALL_TOPICS.items() if HIS in spec.consumers)


def sent_by_his() -> list[str]:
    return sorted(n for n, spec in ALL_TOPICS.items() if spec.producer == HIS)


def _describe(spec: TopicSpec) -> str:
    readers = ", ".join(spec.consumers) or "no consumer group"
    sealed = " The payload names a person: it travels sealed (sealed_payload)." if spec.sealed else ""
    return (
        (
            f"{spec.kind}; produced by {spec.producer}, consumed by {readers}. {spec.description} "
            f"Key: {spec.key_doc}.{sealed}"
        )
        .replace("  ", " ")
        .replace("..", ".")
        .strip()
    )


def asyncapi_schema(node: Any) -> Any:
    """``node`` (pydantic's JSON Schema) as an AsyncAPI schema object: every discriminator object
    becomes its property name, the only form AsyncAPI 3 takes."""
    if isinstance(node, dict):
        out = {k: asyncapi_schema(v) for k, v in node.items()}
        if isinstance(out.get("discriminator"), dict):
            out["discriminator"] = out["discriminator"]["propertyName"]
        return out
    if isinstance(node, list):
        return [asyncapi_schema(v) for v in node]
    return node


def _carries_jwe(node: Any) -> bool:
    """Whether a schema has a compact JWE string in it (``contracts.his_result.SealedResult``)."""
    if isinstance(node, dict):
        return node.get("contentMediaType") == JOSE or any(_carries_jwe(v) for v in node.values())
    if isinstance(node, list):
        return any(_carries_jwe(v) for v in node)
    return False


def _sealed_envelope(model: type[BaseModel], content_ref: str) -> dict[str, Any]:
    """The wire form of ``Envelope[model]`` on a sealed topic: its metadata, and ``sealed_payload``
    instead of ``payload``."""
    clear = envelope_of(model).model_json_schema(mode="serialization")
    properties = {k: v for k, v in clear["properties"].items() if k != "payload"}
    properties[SEALED] = {"$ref": REF.format(model=SEALED_PAYLOAD), "x-sealed-content": {"$ref": content_ref}}
    return {
        "type": "object",
        "title": f"{clear['title']}, sealed",
        "description": f"The envelope of {model.__name__} as it travels: its metadata in clear and "
        f"`{SEALED}` (a JWE) instead of `payload`; the plaintext is `x-sealed-content`.",
        "properties": properties,
        "required": [r for r in clear.get("required", []) if r != "payload"] + [SEALED],
    }


def _components(topics: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    """Each topic's payload ``$ref`` and the component schemas they need."""
    specs = [ALL_TOPICS[t] for t in topics]
    clear = sorted({s.message for s in specs if not s.sealed}, key=lambda m: (m.__module__, m.__qualname__))
    sealed = sorted({s.message for s in specs if s.sealed}, key=lambda m: (m.__module__, m.__qualname__))
    mode: JsonSchemaMode = "serialization"
    inputs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(envelope_of(m), mode) for m in clear] + [
        (m, mode) for m in sealed
    ]
    refs, generated = models_json_schema(inputs, ref_template=REF)
    schemas: dict[str, Any] = asyncapi_schema(generated.get("$defs", {}))
    ref_of = {m: refs[(envelope_of(m), "serialization")]["$ref"] for m in clear}
    for m in sealed:
        content_ref = refs[(m, "serialization")]["$ref"]
        name = f"Sealed_Envelope_{content_ref.rsplit('/', 1)[1]}_"
        schemas[name] = _sealed_envelope(m, content_ref)
        ref_of[m] = REF.format(model=name)
    if sealed:
        schemas[SEALED_PAYLOAD] = SEALED_PAYLOAD_SCHEMA
    return {t: ref_of[ALL_TOPICS[t].message] for t in topics}, dict(sorted(schemas.items()))


def _message(spec: TopicSpec, payload_ref: str) -> dict[str, Any]:
    sealing = " Its payload is sealed (sealed_payload, a JWE)." if spec.sealed else ""
    return {
        "name": spec.type,
        "title": spec.name,
        "contentType": "application/json",
        "summary": f"Envelope of {spec.message.__name__} (schema_version {spec.version}).{sealing}",
        "headers": {
            "type": "object",
            "required": [SIGNATURE_HEADER],
            "properties": {
                SIGNATURE_HEADER: {
                    "type": "string",
                    "maxLength": MAX_SIGNATURE,
                    "pattern": DETACHED_JWS,
                    "description": f"The sender's detached compact JWS ({SIGN_ALG}, kid "
                    f"'<party code>/<key id>') over the record value "
                    f"(security scheme 'signature').",
                }
            },
        },
        "correlationId": {"location": "$message.payload#/correlation_id"},
        "payload": {"$ref": payload_ref},
        "bindings": {
            "kafka": {"bindingVersion": KAFKA_BINDING, "key": {"type": "string", "description": spec.key_doc}}
        },
    }


def _document(
    title: str, description: str, receives: list[str], sends: list[str], bootstrap: str, prefix: str
) -> dict[str, Any]:
    topics = sorted(set(receives) | set(sends))
    payload_refs, schemas = _components(topics)
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    sealing: dict[str, list[str]] = {}
    for topic in topics:
        spec = ALL_TOPICS[topic]
        messages[topic] = _message(spec, payload_refs[topic])
        sealing[topic] = (["sealedPayload"] if spec.sealed else []) + (
            ["sealedResult"] if _carries_jwe(spec.message.model_json_schema(mode="serialization")) else []
        )
        channels[topic] = {
            "address": f"{prefix}{topic}",
            "title": topic,
            "description": _describe(spec),
            "messages": {"Message": {"$ref": f"#/components/messages/{topic}"}},
            "servers": [{"$ref": "#/servers/kafka"}],
            "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING, "topic": f"{prefix}{topic}"}},
        }
    operations: dict[str, Any] = {}
    for action, names in (("receive", receives), ("send", sends)):
        for topic in names:
            operation: dict[str, Any] = {
                "action": action,
                "title": f"{action} {topic}",
                "channel": {"$ref": f"#/channels/{topic}"},
                "messages": [{"$ref": f"#/channels/{topic}/messages/Message"}],
            }
            if sealing[topic]:  # besides the server's signature (AsyncAPI: both must hold)
                operation["security"] = [{"$ref": f"#/components/securitySchemes/{s}"} for s in sealing[topic]]
            operations[f"{action}:{topic}"] = operation
    used = {s for names in sealing.values() for s in names}
    schemes = {
        "signature": SIGNATURE_SCHEME,
        "sealedPayload": SEALED_PAYLOAD_SCHEME,
        "sealedResult": SEALED_RESULT_SCHEME,
    }
    return {
        "asyncapi": ASYNCAPI,
        "info": {"title": title, "version": "1.0.0", "description": description},
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": bootstrap.split(",")[0],
                "protocol": "kafka",
                "security": [{"$ref": "#/components/securitySchemes/signature"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": {k: v for k, v in schemes.items() if k == "signature" or k in used},
        },
    }


def service_document(name: str, bootstrap: str = "127.0.0.1:9092", prefix: str = "") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service, as a JSON-able dict. Channels are named by the
    registry's topic names; their ``address`` is the physical topic (with ``prefix``)."""
    if name not in SERVICES:
        raise KeyError(f"unknown service {name}")
    return _document(
        f"yidi {name}",
        f"What the {name} service receives and sends. Every message is an "
        f"Envelope signed by its sender (header {SIGNATURE_HEADER}); a payload that names a person "
        "travels sealed.",
        consumed(name),
        produced(name),
        bootstrap,
        prefix,
    )


def his_document(bootstrap: str = "127.0.0.1:9092", prefix: str = "") -> dict[str, Any]:
    """What a hospital information system (HIS, 医院信息系统) sends and hears: its commands, and the
    results and refusals addressed to it."""
    return _document(
        "yidi his",
        "What a hospital information system (HIS, 医院信息系统) sends and hears. It signs every command "
        f"as its institution (header {SIGNATURE_HEADER}) and seals a command's payload that names a person to "
        "the services that read it; it reads its results on settlement.result.v2 (every hospital reads the "
        "topic: the answer in 'sealed' opens only with the addressed institution's key) and its refusals on "
        "party.refused.v1 (keyed by its code).",
        heard_by_his(),
        sent_by_his(),
        bootstrap,
        prefix,
    )


def document(name: str, bootstrap: str = "127.0.0.1:9092", prefix: str = "") -> dict[str, Any]:
    return his_document(bootstrap, prefix) if name == HIS else service_document(name, bootstrap, prefix)


def render(doc: dict[str, Any]) -> str:
    """A document as committed: stable key order, one file per document."""
    return json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def write_asyncapi(out_dir: str = OUT_DIR) -> None:
    """Write ``<out_dir>/<name>.json`` for every service and the HIS; remove a document no longer made."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted = {f"{name}.json" for name in DOCUMENTS}
    for stale in out.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    counts = {"receive": 0, "send": 0}
    for name in DOCUMENTS:
        doc = document(name)
        (out / f"{name}.json").write_text(render(doc))
        for operation in doc["operations"].values():
            counts[operation["action"]] += 1
    print(
        f"wrote {len(DOCUMENTS)} documents to {out}/: {counts['receive']} receive and {counts['send']} send operations"
    )
