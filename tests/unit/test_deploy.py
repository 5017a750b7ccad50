"""docker-compose.yml and deploy/ agree with the code (no Docker engine runs here to try them)."""
from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from runtime.cli import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_runs_from_one_image_with_its_module_and_port():
    services = compose()["services"]
    for name, port in SERVICE_PORTS.items():
        env = services[name]["environment"]
        assert env["YIDI_SERVICE"] == name and int(env["YIDI_METRICS_PORT"]) == port
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert hasattr(importlib.import_module(f"services.{name}.app"), "main")


def test_prometheus_scrapes_every_service_on_its_port_and_loads_the_alert_rules():
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = {c["job_name"]: c["static_configs"][0]["targets"][0] for c in prometheus["scrape_configs"]}
    assert targets == {name: f"{name}:{port}" for name, port in SERVICE_PORTS.items()}
    mounted = " ".join(compose()["services"]["prometheus"]["volumes"])
    assert "deploy/alerts.yml" in mounted and prometheus["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_alert_rules_name_metrics_the_services_export():
    rules = yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text())
    exported = {"up", "yidi_consumer_lag", "yidi_dead_letters_total", "yidi_messages_handled_total", "yidi_deadlines",
                "yidi_settlement_timeouts_total", "yidi_settlement_latency_seconds_bucket",
                "yidi_prepayment_usage_ratio"}
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert any(metric in rule["expr"] for metric in exported), rule["alert"]


def test_kafka_runs_in_kraft_mode_and_mongodb_as_a_replica_set():
    services = compose()["services"]
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert "--replSet" in services["mongodb"]["command"]
