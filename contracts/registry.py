"""Every topic of the platform, joined from each domain module's ``TOPICS`` list.

Read this file (and the ``TOPICS`` list at the bottom of each contracts module) to answer
"who produces and who consumes topic X".
"""
from __future__ import annotations

from contracts import clearing, collab, filing, prepayment, settlement
from contracts.topics import TopicSpec

_MODULES = (filing, settlement, clearing, prepayment, collab)


def _join() -> dict[str, TopicSpec]:
    joined: dict[str, TopicSpec] = {}
    for module in _MODULES:
        for spec in module.TOPICS:
            if spec.name in joined:
                raise ValueError(f"topic {spec.name} declared twice")
            joined[spec.name] = spec
    return joined


ALL_TOPICS: dict[str, TopicSpec] = _join()


def consumed_by(service: str) -> list[TopicSpec]:
    return [spec for spec in ALL_TOPICS.values() if service in spec.consumers]
