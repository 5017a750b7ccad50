"""The topic registry: every topic, its message model, partition key, producer and consumers.

Topic names carry the major schema version (``settlement.requested.v1``). Topics are
created from this registry (``yidi topics create`` and at every service's start-up).
Each domain module of ``contracts`` declares its own ``TOPICS`` list; this module joins them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

SERVICES = ("filing", "settlement", "clearing", "prepayment", "collab")


@dataclass(frozen=True)
class TopicSpec:
    name: str                                   # "<domain>.<fact-or-order>.v<major>"
    message: type[BaseModel]                    # payload model inside the Envelope
    key: Callable[[Any], str]                   # payload -> partition key
    key_doc: str                                # what the key is, and why (ordering)
    producer: str                               # service name, or "his" for hospital adapters
    consumers: tuple[str, ...]
    kind: Literal["command", "event"] = "event"
    partitions: int = 4
    description: str = ""
    extra: dict = field(default_factory=dict)
    # the key function returns a person's ID number: the wire key is its pseudonym instead
    # (runtime.privacy, 003 §5 (三)), so ordering by person is kept and the number is not exposed
    personal_key: bool = False

    @property
    def type(self) -> str:
        """Message type written in the envelope: the name without its version."""
        return self.name.rsplit(".", 1)[0]

    @property
    def version(self) -> int:
        return int(self.name.rsplit(".v", 1)[1])
