"""Two settlement instances wherever the system runs (README "Recovery"): `make run` starts the
second on a port of its own, compose runs both as static members of one consumer group with their
own names, Prometheus scrapes both, and `make chaos` kills and restarts the same set."""

from __future__ import annotations

from pathlib import Path

import yaml

from chaos.system import INSTANCES
from runtime.cli import CONSOLE_PORT, SECOND_INSTANCES, SERVICE_PORTS
from runtime.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_gives_the_second_settlement_instance_a_port_no_one_else_uses():
    assert set(SECOND_INSTANCES) == {"settlement"}
    ports = [*SERVICE_PORTS.values(), CONSOLE_PORT, *SECOND_INSTANCES.values()]
    assert len(ports) == len(set(ports))
    assert INSTANCES == {"settlement": 2}


def test_compose_runs_two_settlement_static_members_of_one_group(monkeypatch):
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    first, second = services["settlement"]["environment"], services["settlement-2"]["environment"]
    assert first["YIDI_SERVICE"] == second["YIDI_SERVICE"] == "settlement"  # one consumer group
    assert first["MONGODB_URI"] == second["MONGODB_URI"]  # one database
    assert first["YIDI_GROUP_INSTANCE_ID"] != second["YIDI_GROUP_INSTANCE_ID"]
    assert {first["YIDI_INSTANCE"], second["YIDI_INSTANCE"]} == {"settlement-1", "settlement-2"}
    assert services["settlement-2"]["restart"] == "unless-stopped"
    for key, value in second.items():
        monkeypatch.setenv(key, str(value))
    assert Settings().group_instance_id == "settlement-2"
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    job = next(c for c in prometheus["scrape_configs"] if c["job_name"] == "settlement")
    assert job["static_configs"][0]["targets"] == ["settlement:9102", "settlement-2:9102"]


def test_membership_is_dynamic_unless_an_instance_is_named():
    assert Settings().group_instance_id == ""
