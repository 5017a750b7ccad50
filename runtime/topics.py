"""Physical topic names and their creation from the registry in ``contracts.topics``."""
from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.registry import ALL_TOPICS

log = logging.getLogger(__name__)

DEAD_LETTER = "ops.dead-letter.v1"
CLOCK = "ops.clock.v1"
OPS_TOPICS = {DEAD_LETTER: 4, CLOCK: 1}


def physical(name: str, prefix: str) -> str:
    return f"{prefix}{name}"


def all_topic_partitions() -> dict[str, int]:
    return {**{spec.name: spec.partitions for spec in ALL_TOPICS.values()}, **OPS_TOPICS}


async def create_topics(bootstrap: str, prefix: str = "", specs: dict[str, int] | None = None,
                        **client_options: object) -> list[str]:
    """Create every registry topic that does not exist yet, with its declared partition count.
    Safe to run from several services at once."""
    wanted = {physical(n, prefix): p for n, p in (specs or all_topic_partitions()).items()}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="yidi-topics", **client_options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, num_partitions=p, replication_factor=1) for n, p in wanted.items() if n not in existing]
        for topic in missing:  # one by one: a concurrent creator's win is not our failure
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in missing]
    finally:
        await admin.close()

