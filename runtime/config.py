"""Settings from the environment, with defaults that suit the embedded stack."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# On the path of a HIS request (S-01): their consumers poll often, the others seldom.
REAL_TIME_SERVICES = frozenset({"settlement"})


class Settings(BaseSettings):
    """One service instance's settings. Every field reads ``YIDI_<NAME>``; the two connection
    strings also read the conventional ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI``."""
    model_config = SettingsConfigDict(env_prefix="YIDI_", extra="ignore")

    service: str = Field("unnamed", description="filing | settlement | clearing | prepayment | collab")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    mongodb_uri: str = Field("mongodb://127.0.0.1:27017", validation_alias="MONGODB_URI")
    mongodb_database: str | None = Field(None, description="default: yidi_<service>; each service owns its data")
    topic_prefix: str = Field("", description="prepended to every topic name; tests use one per run")
    metrics_port: int = Field(9100, description="Prometheus /metrics and /health on this port")
    metrics_host: str = "0.0.0.0"
    region: str | None = Field(None, description="the region this deployment serves, when it serves one")
    instance: str = Field("", description="instance name in logs and metrics; default host:pid")
    kafka_idempotence: bool = Field(True, description="off on brokers without InitProducerId (embedded Tansu)")
    clock: Literal["wall", "controlled"] = Field(
        "wall", description="'controlled': business time follows the ops.clock topic (tests, simulator)")
    fetch_max_wait_ms: int | None = Field(None, description=(
        "how long a fetch waits for records. Default: 20 ms for the services on the real-time path "
        "(settlement), each of whose hops may pay it in full (the embedded broker does not answer a "
        "waiting fetch early); 200 ms elsewhere, because every empty poll costs the broker CPU"))
    outbox_sweep_seconds: float = 2.0
    deadline_poll_seconds: float = 0.5
    log_level: str = "INFO"
    settlement_insured_timeout_ms: int = Field(3000, description="S-01: answer 'not settled directly' after this")
    fault: str = Field("", description="fault injection for recovery tests: 'crash_after_store'")

    @property
    def fetch_wait_ms(self) -> int:
        if self.fetch_max_wait_ms is not None:
            return self.fetch_max_wait_ms
        return 20 if self.service in REAL_TIME_SERVICES else 200

    @property
    def database(self) -> str:
        return self.mongodb_database or f"yidi_{self.service}"
