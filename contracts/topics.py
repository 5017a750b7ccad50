"""The topic registry: every topic, its message model, partition key, producer and consumers.

Topic names carry the major schema version (``settlement.requested.v1``). Topics are
created from this registry (``yidi topics create`` and at every service's start-up).
Each domain module of ``contracts`` declares its own ``TOPICS`` list; this module joins them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, get_args

from pydantic import BaseModel

from contracts.values import PersonalData

SERVICES = ("filing", "settlement", "clearing", "prepayment", "collab", "supervision")


@dataclass(frozen=True)
class TopicSpec:
    name: str  # "<domain>.<fact-or-order>.v<major>"
    message: type[BaseModel]  # payload model inside the Envelope
    key: Callable[[Any], str]  # payload -> partition key
    key_doc: str  # what the key is, and why (ordering)
    producer: str  # service name, or "his" for hospital adapters
    consumers: tuple[str, ...]
    kind: Literal["command", "event"] = "event"
    partitions: int = 4
    description: str = ""
    extra: dict = field(default_factory=dict)
    # the key function returns a person's ID number: the wire key is its pseudonym instead
    # (runtime.privacy, 003 §5 (三)), so ordering by person is kept and the number is not exposed
    personal_key: bool = False

    @property
    def sealed(self) -> bool:
        """The payload names an insured person (a ``PersonId`` anywhere in it, or a key that is one):
        on the wire it is sealed to its readers (``runtime.wire``); only the envelope's metadata is
        in clear."""
        return self.personal_key or carries_personal_data(self.message)

    @property
    def type(self) -> str:
        """Message type written in the envelope: the name without its version."""
        return self.name.rsplit(".", 1)[0]

    @property
    def version(self) -> int:
        return int(self.name.rsplit(".v", 1)[1])


@cache
def carries_personal_data(model: type[BaseModel]) -> bool:
    """Whether a field of ``model``, or of a model inside it, is marked ``PersonalData``."""
    return _personal(model, frozenset())


def _personal(model: type[BaseModel], seen: frozenset[type]) -> bool:
    if model in seen:
        return False
    for info in model.model_fields.values():
        if any(isinstance(m, PersonalData) for m in info.metadata):
            return True
        for inner in _types_in(info.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel) and _personal(inner, seen | {model}):
                return True
            if any(isinstance(m, PersonalData) for m in getattr(inner, "__metadata__", ())):
                return True
    return False


def _types_in(annotation: Any) -> list[Any]:
    found = [annotation]
    for arg in get_args(annotation):
        found += _types_in(arg)
    return found
