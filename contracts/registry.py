"""Every topic of the platform, joined from each domain module's ``TOPICS`` list.

Read this file (and the ``TOPICS`` list at the bottom of each contracts module) to answer
"who produces and who consumes topic X".
"""

from __future__ import annotations

from contracts import (
    clearing,
    collab,
    filing,
    his,
    his_inquiry,
    his_result,
    manual_claims,
    ops,
    parties,
    prepayment,
    settlement,
    settlement_hops,
    supervision,
)
from contracts.topics import TopicSpec

_MODULES = (
    filing,
    his,
    his_result,
    his_inquiry,
    settlement_hops,
    settlement,
    manual_claims,
    clearing,
    prepayment,
    collab,
    supervision,
    ops,
    parties,
)


def _join() -> dict[str, TopicSpec]:
    joined: dict[str, TopicSpec] = {}
    for module in _MODULES:
        for spec in module.TOPICS:
            if spec.name in joined:
                raise ValueError(f"topic {spec.name} declared twice")
            joined[spec.name] = spec
    return joined


ALL_TOPICS: dict[str, TopicSpec] = _join()


def topic_of(payload: object) -> str:
    """The one topic that carries this payload's model (each model travels on one topic)."""
    return _BY_MODEL[type(payload)]


def _by_model() -> dict[type, str]:
    index: dict[type, str] = {}
    for spec in ALL_TOPICS.values():
        index.setdefault(spec.message, spec.name)
    return index


_BY_MODEL = _by_model()
