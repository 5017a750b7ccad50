"""Physical topic names and their creation from the registry in ``contracts.topics``."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.parties import PARTY_CHANGES
from contracts.registry import ALL_TOPICS

log = logging.getLogger(__name__)

DEAD_LETTER = "ops.dead-letter.v1"
CLOCK = "ops.clock.v1"
OPS_TOPICS = {DEAD_LETTER: 4, CLOCK: 1}
# Read from their start by every instance that starts (runtime.follow): kept for ever, or an
# instance started after the retention would not know a key revoked or the business time set.
FOLLOWED = frozenset({PARTY_CHANGES, CLOCK})
KEEP_FOR_EVER = "-1"


def physical(name: str, prefix: str) -> str:
    return f"{prefix}{name}"


def all_topic_partitions() -> dict[str, int]:
    return {**{spec.name: spec.partitions for spec in ALL_TOPICS.values()}, **OPS_TOPICS}


def topic_specs(
    prefix: str = "",
    specs: dict[str, int] | None = None,
    *,
    partitions: int | None = None,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
    retention_hours: float | None = None,
) -> list[NewTopic]:
    """What ``create_topics`` asks the broker for: every topic (physical name) with its partition
    count (``partitions`` overrides the registry's count, except for topics declared with one
    partition, which are single by design: the clock, the participant registry), the replication
    factor and, when given, the topic configs ``min.insync.replicas`` and ``retention.ms`` (every
    topic but the followed ones, which are kept for ever)."""
    if replication_factor < 1 or (partitions is not None and partitions < 1):
        raise ValueError("partitions and the replication factor must be at least 1")
    if min_insync_replicas is not None and not 1 <= min_insync_replicas <= replication_factor:
        raise ValueError(
            f"min.insync.replicas {min_insync_replicas} must lie between 1 and the "
            f"replication factor {replication_factor}"
        )
    if retention_hours is not None and retention_hours <= 0:
        raise ValueError("the retention must be positive")
    configs = {"min.insync.replicas": str(min_insync_replicas)} if min_insync_replicas is not None else {}

    def retention(name: str) -> dict[str, str]:
        if name in FOLLOWED:
            return {"retention.ms": KEEP_FOR_EVER}
        return {"retention.ms": str(int(retention_hours * 3_600_000))} if retention_hours is not None else {}

    return [
        NewTopic(
            physical(n, prefix),
            num_partitions=p if partitions is None or p == 1 else partitions,
            replication_factor=replication_factor,
            topic_configs={**configs, **retention(n)},
        )
        for n, p in (specs or all_topic_partitions()).items()
    ]


async def create_topics(
    bootstrap: str,
    prefix: str = "",
    specs: dict[str, int] | None = None,
    *,
    partitions: int | None = None,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
    retention_hours: float | None = None,
    **client_options: object,
) -> list[str]:
    """Create every registry topic that does not exist yet (``topic_specs``; pass
    ``Settings.topic_scale()``). A topic that exists is left as it is. Safe to run from several
    services at once."""
    wanted = topic_specs(
        prefix,
        specs,
        partitions=partitions,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
        retention_hours=retention_hours,
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="yidi-topics", **client_options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        for topic in missing:  # one by one: a concurrent creator's win is not our failure
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in missing]
    finally:
        await admin.close()
