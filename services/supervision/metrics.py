"""What the supervision service counts (``/metrics``): the settlements it took into the indicators and
the flags its rules raised, by rule (counted after the store kept them, never inside a decision)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class SupervisionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.settlements = Counter(
            "yidi_supervision_settlements_total", "Completed settlements taken into the indicators", registry=registry
        )
        self.flags = Counter(
            "yidi_supervision_flags_total", "Flags raised by the smart-audit rules", ["rule"], registry=registry
        )
