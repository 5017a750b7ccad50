"""Settings from the environment, with defaults that suit the embedded stack."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# On the path of a HIS request (S-01): their consumers poll often, the others seldom.
REAL_TIME_SERVICES = frozenset({"settlement"})


class Settings(BaseSettings):
    """One service instance's settings. Every field reads ``YIDI_<NAME>``; the two connection
    strings also read the conventional ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI``."""

    model_config = SettingsConfigDict(env_prefix="YIDI_", extra="ignore")

    service: str = Field("unnamed", description="filing | settlement | clearing | prepayment | collab | supervision")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    mongodb_uri: str = Field("mongodb://127.0.0.1:27017", validation_alias="MONGODB_URI")
    mongodb_database: str | None = Field(None, description="default: yidi_<service>; each service owns its data")
    topic_prefix: str = Field("", description="prepended to every topic name; tests use one per run")
    metrics_port: int = Field(9100, description="Prometheus /metrics and /health on this port")
    metrics_host: str = "0.0.0.0"
    instance: str = Field("", description="instance name in logs and metrics; default host:pid")
    kafka_idempotence: bool = Field(True, description="off on brokers without InitProducerId (embedded Tansu)")
    clock: Literal["wall", "controlled"] = Field(
        "wall", description="'controlled': business time follows the ops.clock topic (tests, simulator)"
    )
    fetch_max_wait_ms: int | None = Field(
        None,
        description=(
            "how long a fetch waits for records. Default: 20 ms for the services on the real-time path "
            "(settlement), each of whose hops may pay it in full (the embedded broker does not answer a "
            "waiting fetch early); 200 ms elsewhere, because every empty poll costs the broker CPU"
        ),
    )
    # ---- topic scale, applied when topics are created (runtime.topics; an existing topic is left as it is)
    topic_partitions: int | None = Field(
        None,
        ge=1,
        description=(
            "partitions of every topic, overriding the registry's count (topics declared with one partition "
            "stay single); more partitions allow more instances per service"
        ),
    )
    replication_factor: int = Field(
        1,
        ge=1,
        description=(
            "replicas of every topic: 1 on a single broker (embedded, the compose stack), 3 on a three-broker cluster"
        ),
    )
    min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description=(
            "topic config min.insync.replicas (with acks=all, a write needs this many replicas): 2 with "
            "replication factor 3; default: the broker's"
        ),
    )
    topic_retention_hours: float = Field(
        168,
        gt=0,
        description=(
            "topic config retention.ms of every topic the services read through their group (7 days): each "
            "record is read within seconds, and the clearing and audit facts live in the services' databases; "
            "the participant registry and the clock are kept for ever (every instance reads them from their "
            "start). The embedded broker keeps everything whatever the config"
        ),
    )
    group_instance_id: str = Field(
        "",
        description=(
            "static consumer-group membership (KIP-345): a stable name per instance (e.g. settlement-1), so "
            "that on Apache Kafka an instance restarted within the session timeout (10 s) takes its partitions "
            "back without a rebalance. Empty (the default): dynamic membership; the embedded Tansu broker "
            'stalls longer with static members (README "Recovery")'
        ),
    )
    outbox_sweep_seconds: float = 2.0
    deadline_poll_seconds: float = 0.5
    log_level: str = "INFO"
    settlement_insured_timeout_ms: int = Field(
        20000,
        description=(
            "S-01: the HIS is answered 'not settled directly' when the insured place has not answered within "
            "this budget (the patient then pays and claims at home, S-17). 20 s: above the broker's longest "
            "rejoin of a restarted settlement instance measured with dynamic membership, so a crash costs the "
            'hospital a wait rather than a manual claim (README "Recovery")'
        ),
    )
    fault: str = Field(
        "",
        description="fault injection for recovery tests: 'crash_after_store' (exit between "
        "storing and publishing), 'handler_fault' (every handler raises), 'drop_one:<topic>' (the first "
        "message of that topic is taken without effect: a broken service `make chaos` must catch)",
    )
    # ---- parties, signatures and personal data (003 §5 (三))
    keys_dir: str = Field(
        "var/keys",
        description=(
            "where this deployment's keys live: <party>.private.json (this instance's own signing and "
            "decryption keys, never committed) and public-keys.json (every party's public keys, merged into "
            "the participant registry); `yidi keys init` creates development keys"
        ),
    )
    party: str | None = Field(None, description="the registry code this instance signs as; default: the service name")
    crypto_suite: Literal["ed25519", "sm"] = Field(
        "ed25519",
        description=(
            "the deployment's crypto suite (runtime.suites, contracts.parties): 'ed25519' (Ed25519 signatures, "
            "results sealed with ECDH-ES to X25519 and A256GCM) or 'sm' (the national algorithms: SM2 signatures "
            "with SM3, results sealed with SM2 and SM4-GCM). Every party's keys are of the suite; a signature "
            "or key of the other suite is refused"
        ),
    )
    max_clock_skew_seconds: float = Field(
        300,
        description=(
            "a time a sender claims (the envelope's occurred_at) further than this from the business clock "
            "at receipt is refused with CLOCK_SKEW; rules always use the receipt time"
        ),
    )
    pseudonym_secret: str = Field(
        "",
        description=(
            "HMAC-SHA-256 secret of the person pseudonym used as Kafka key and MongoDB id; "
            "default: read from <keys_dir>/pseudonym.secret"
        ),
    )
    data_key_secret: str = Field(
        "",
        description=(
            "master secret the per-insured-region data keys (AES-256-GCM, at rest) are derived from; "
            "default: read from <keys_dir>/data-keys.json"
        ),
    )

    @property
    def group_id(self) -> str:
        """The consumer group of the service's instances (one per service, per topic prefix)."""
        return f"{self.topic_prefix}yidi-{self.service}"

    @property
    def fetch_wait_ms(self) -> int:
        if self.fetch_max_wait_ms is not None:
            return self.fetch_max_wait_ms
        return 20 if self.service in REAL_TIME_SERVICES else 200

    def topic_scale(self) -> dict[str, Any]:
        """Keyword arguments of ``runtime.topics.create_topics``."""
        return {
            "partitions": self.topic_partitions,
            "replication_factor": self.replication_factor,
            "min_insync_replicas": self.min_insync_replicas,
            "retention_hours": self.topic_retention_hours,
        }

    @property
    def database(self) -> str:
        return self.mongodb_database or f"yidi_{self.service}"

    # ---- Kafka client authentication (deploy/SECURITY.md). PLAINTEXT suits the embedded broker,
    # which cannot be given users before it requires them; the compose stack uses SASL_PLAINTEXT
    # on its internal network, SASL_SSL is for brokers reached over networks not trusted.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = Field(
        "",
        description=(
            "this instance's Kafka principal: the service name, or a party's registry code; its ACLs come "
            "from the topic registry (deploy/kafka_acls.py)"
        ),
    )
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="the principal's SCRAM password (a secret)")

    def kafka_client_options(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (producer, consumer, admin): none on PLAINTEXT."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return {}
        password = self.kafka_sasl_password.get_secret_value()
        if not (self.kafka_sasl_username and password):
            raise ValueError(
                f"{self.kafka_security_protocol} needs YIDI_KAFKA_SASL_USERNAME and YIDI_KAFKA_SASL_PASSWORD"
            )
        options: dict[str, Any] = {
            "security_protocol": self.kafka_security_protocol,
            "sasl_mechanism": self.kafka_sasl_mechanism,
            "sasl_plain_username": self.kafka_sasl_username,
            "sasl_plain_password": password,
        }
        if self.kafka_security_protocol == "SASL_SSL":  # aiokafka wants a context; the system's CAs
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context()
        return options
