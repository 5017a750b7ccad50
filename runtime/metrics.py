"""Prometheus metrics every service exposes beside FastStream's per-handler ones."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RuntimeMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        labels: dict[str, Any] = {"registry": registry}
        self.service = service
        self.handled = Counter(
            "yidi_messages_handled_total",
            "Messages applied, by topic and result (applied, duplicate, dead_lettered, failed)",
            ["service", "topic", "result"],
            **labels,
        )
        self.handle_seconds = Histogram(
            "yidi_handle_seconds",
            "Time to apply one message",
            ["service", "topic"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            **labels,
        )
        self.dead_letters = Counter(
            "yidi_dead_letters_total",
            "Messages sent to the dead-letter topic",
            ["service", "topic", "reason"],
            **labels,
        )
        self.retries = Counter(
            "yidi_transient_retries_total", "Transient failures retried", ["service", "topic"], **labels
        )
        self.consumer_lag = Gauge(
            "yidi_consumer_lag",
            "Messages not yet consumed by this service's group",
            ["service", "topic", "partition"],
            **labels,
        )
        self.broker_reachable = Gauge(
            "yidi_broker_reachable",
            "1 while this instance's last round of lag readings reached the broker, 0 once one failed "
            "(the cause the lag and outbox alerts are silenced by)",
            ["service"],
            **labels,
        )
        self.outbox_flushed = Counter(
            "yidi_outbox_published_total",
            "Outbox entries published by the sweeper (left by an interrupted writer)",
            ["service"],
            **labels,
        )
        self.outbox_oldest = Gauge(
            "yidi_outbox_oldest_seconds",
            "Business seconds since the oldest aggregate write whose outbox is not yet published and cleaned "
            "(0: none); a live writer's stays under the sweep interval",
            ["service"],
            **labels,
        )
        self.deadlines = Gauge("yidi_deadlines", "Persisted deadlines by status", ["service", "status"], **labels)
        self.deadline_overdue = Gauge(
            "yidi_deadline_overdue_seconds",
            "Business seconds the oldest pending deadline is past its due time (0: none is)",
            ["service"],
            **labels,
        )
        self.deadline_lateness = Histogram(
            "yidi_deadline_lateness_seconds",
            "Business seconds from a deadline's due time to its firing",
            ["service", "type"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            **labels,
        )
        self.deadlines_fired = Counter("yidi_deadlines_fired_total", "Deadlines fired", ["service", "type"], **labels)
        self.business_time = Gauge(
            "yidi_business_time_seconds",
            "This instance's business time (Unix seconds): the wall clock, or the controlled clock of ops.clock.v1",
            ["service"],
            **labels,
        )
        self.unauthenticated = Counter(
            "yidi_unauthenticated_total",
            "Messages with no effect because they could "
            "not be tied to a registry party (unknown sender, bad or missing signature, "
            "key not valid)",
            ["service", "topic", "reason"],
            **labels,
        )
        self.refused = Counter(
            "yidi_refused_total",
            "Signed commands refused and answered to their sender "
            "(authority, unknown region, invalid message, clock skew)",
            ["service", "topic", "code"],
            **labels,
        )
        self.registry_parties = Gauge(
            "yidi_registry_parties",
            "Parties in this instance's participant registry "
            "(the data file, the deployment's keys and parties.change.v2 applied)",
            ["service"],
            **labels,
        )
        self.control_ignored = Counter(
            "yidi_control_ignored_total",
            "Signed records of the topics every instance "
            "follows (parties.change, ops.clock) with no effect: a stale version, a "
            "repeated change id, outside the clock-skew window, or a clock command not "
            "from the operator",
            ["service", "topic", "reason"],
            **labels,
        )
        self.queries = Counter(
            "yidi_queries_total",
            "Signed queries answered on the HTTP port, by path and status",
            ["service", "path", "status"],
            **labels,
        )
        self.version_conflicts = Counter(
            "yidi_version_conflicts_total",
            "Aggregate writes that lost the version "
            "guard to another writer and were re-read (one writer per aggregate keeps "
            "this at zero)",
            ["service", "collection"],
            **labels,
        )
