"""The AsyncAPI 3.0 document of every service, generated from the topic registry.

Per service: a channel for every topic it reads or writes; a ``receive`` operation for every
topic it consumes (the registry's ``consumers``, plus ``parties.change.v2``, which every instance
follows whole) and a ``send`` operation for every topic it produces (``producer`` is the service,
or ``any``: every service answers refusals on ``party.refused.v1``). Each message's payload is
the JSON Schema of ``Envelope[<model>]``, as in ``contracts/schemas``. FastStream's own document
cannot say this: a service consumes through one subscriber for all its topics (one group member,
``runtime.dispatch``) and publishes without declared publishers. Served at ``/asyncapi`` on each
service's port; ``make asyncapi`` writes every service's document to ``contracts/asyncapi.json``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from contracts.envelope import envelope_of
from contracts.registry import ALL_TOPICS
from contracts.topics import SERVICES, TopicSpec

FOLLOWED_BY_EVERY_SERVICE = ("parties.change.v2",)   # read whole by every instance (runtime.follow), no group
REF = "#/components/schemas/{model}"


def consumed(name: str) -> list[str]:
    return sorted({n for n, spec in ALL_TOPICS.items() if name in spec.consumers} | set(FOLLOWED_BY_EVERY_SERVICE))


def produced(name: str) -> list[str]:
    return sorted(n for n, spec in ALL_TOPICS.items() if spec.producer in (name, "any"))


def _describe(spec: TopicSpec) -> str:
    readers = ", ".join(spec.consumers) or "no consumer group"
    return (f"{spec.kind}; produced by {spec.producer}, consumed by {readers}. {spec.description} "
            f"Key: {spec.key_doc}").replace("  ", " ").strip()


def service_document(name: str, bootstrap: str = "127.0.0.1:9092", prefix: str = "") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service, as a JSON-able dict. Channels are named by the
    registry's topic names; their ``address`` is the physical topic (with ``prefix``)."""
    if name not in SERVICES:
        raise KeyError(f"unknown service {name}")
    receives, sends = consumed(name), produced(name)
    topics = sorted(set(receives) | set(sends))
    models = sorted({ALL_TOPICS[t].message for t in topics}, key=lambda m: (m.__module__, m.__qualname__))
    refs, schemas = models_json_schema([(envelope_of(m), "serialization") for m in models], ref_template=REF)
    ref_of = {m: refs[(envelope_of(m), "serialization")]["$ref"] for m in models}

    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics:
        spec = ALL_TOPICS[topic]
        messages[topic] = {
            "name": spec.type, "title": topic, "contentType": "application/json",
            "summary": f"Envelope of {spec.message.__name__} (schema_version {spec.version})",
            "headers": {"type": "object", "properties": {
                "yidi-signature": {"type": "string", "description": "detached JWS (Ed25519) over the value"},
                "type": {"type": "string", "const": spec.type}}},
            "correlationId": {"location": "$message.payload#/correlation_id"},
            "payload": {"$ref": ref_of[spec.message]},
            "bindings": {"kafka": {"bindingVersion": "0.5.0", "key": {"type": "string", "description": spec.key_doc}}},
        }
        channels[topic] = {
            "address": f"{prefix}{topic}", "title": topic, "description": _describe(spec),
            "messages": {"Message": {"$ref": f"#/components/messages/{topic}"}},
            "servers": [{"$ref": "#/servers/kafka"}],
            "bindings": {"kafka": {"bindingVersion": "0.5.0", "topic": f"{prefix}{topic}"}},
        }
    operations: dict[str, Any] = {}
    for action, names in (("receive", receives), ("send", sends)):
        for topic in names:
            operations[f"{action}:{topic}"] = {
                "action": action, "title": f"{action} {topic}",
                "channel": {"$ref": f"#/channels/{topic}"},
                "messages": [{"$ref": f"#/channels/{topic}/messages/Message"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": f"yidi {name}", "version": "1.0.0",
                 "description": f"What the {name} service receives and sends; every message is an Envelope, "
                                "signed (header yidi-signature)."},
        "defaultContentType": "application/json",
        "servers": {"kafka": {"host": bootstrap.split(",")[0], "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas.get("$defs", {})},
    }


def write_asyncapi(out: str) -> None:
    documents = {name: service_document(name) for name in SERVICES}
    Path(out).write_text(json.dumps(documents, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    ops = [op["action"] for doc in documents.values() for op in doc["operations"].values()]
    print(f"wrote {out}: {len(documents)} services, {ops.count('receive')} receive and "
          f"{ops.count('send')} send operations")
