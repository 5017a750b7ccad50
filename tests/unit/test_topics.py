"""The topics ``create_topics`` asks the broker for: registry counts, and the scale settings."""

from __future__ import annotations

import pytest

from contracts.parties import PARTY_CHANGES
from contracts.registry import ALL_TOPICS
from runtime.config import Settings
from runtime.topics import CLOCK, DEAD_LETTER, FOLLOWED, OPS_TOPICS, topic_specs


def by_name(topics):
    return {t.name: t for t in topics}


def test_by_default_every_topic_has_its_registry_count_and_one_replica():
    topics = by_name(topic_specs("p1-", **Settings().topic_scale()))
    assert set(topics) == {f"p1-{n}" for n in (*ALL_TOPICS, *OPS_TOPICS)}
    for name, spec in ALL_TOPICS.items():
        assert topics[f"p1-{name}"].num_partitions == spec.partitions
    assert topics[f"p1-{DEAD_LETTER}"].num_partitions == 4 and topics[f"p1-{CLOCK}"].num_partitions == 1
    assert {t.replication_factor for t in topics.values()} == {1}
    week = str(7 * 24 * 3_600_000)  # the broker's min.insync.replicas; a week of records, the followed kept for ever
    assert {n: t.topic_configs for n, t in topics.items() if t.topic_configs != {"retention.ms": week}} == {
        f"p1-{PARTY_CHANGES}": {"retention.ms": "-1"},
        f"p1-{CLOCK}": {"retention.ms": "-1"},
    }


def test_settings_scale_partitions_replicas_and_min_insync(monkeypatch):
    monkeypatch.setenv("YIDI_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("YIDI_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("YIDI_MIN_INSYNC_REPLICAS", "2")
    monkeypatch.setenv("YIDI_TOPIC_RETENTION_HOURS", "72")
    scale = Settings().topic_scale()
    assert scale == {"partitions": 12, "replication_factor": 3, "min_insync_replicas": 2, "retention_hours": 72}
    topics = by_name(topic_specs(**scale))
    assert topics["settlement.completed.v1"].num_partitions == 12
    assert topics[DEAD_LETTER].num_partitions == 12
    # single by design: the business clock and the participant registry stay one partition
    assert ALL_TOPICS["parties.change.v2"].partitions == 1
    assert topics["parties.change.v2"].num_partitions == 1 and topics[CLOCK].num_partitions == 1
    assert {t.replication_factor for t in topics.values()} == {3}
    assert all(
        t.topic_configs == {"min.insync.replicas": "2", "retention.ms": "-1" if n in FOLLOWED else "259200000"}
        for n, t in topics.items()
    )


def test_impossible_scales_are_refused():
    with pytest.raises(ValueError, match="min.insync.replicas"):
        topic_specs(replication_factor=1, min_insync_replicas=2)
    with pytest.raises(ValueError):
        topic_specs(replication_factor=0)
    with pytest.raises(ValueError):
        Settings(topic_partitions=0)
    with pytest.raises(ValueError):
        topic_specs(retention_hours=0)
