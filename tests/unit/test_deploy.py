"""docker-compose.yml and deploy/ agree with the code (no Docker engine runs here to try them)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from contracts.registry import ALL_TOPICS
from runtime.cli import SERVICE_PORTS
from runtime.config import Settings

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]*\}")  # ${VAR:?message}: compose refuses to start without it
HOPS = (
    "settlement.treating-assessed.v1",
    "settlement.insured-decided.v1",
    "settlement.insured-rollback.v1",
    "settlement.refund-assessed.v1",
    "settlement.refund-decided.v1",
    "settlement.deadline-due.v1",
)


def interpolated(value: str) -> str:
    """``value`` with each required variable as ``VAR.<name>`` (as compose would put its value)."""
    return REQUIRED.sub(lambda m: f"VAR.{m.group(1)}", value)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def kafka_acls():
    spec = importlib.util.spec_from_file_location("kafka_acls", ROOT / "deploy" / "kafka_acls.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["kafka_acls"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def grants(acls, operation: str, resource: str = "topic") -> dict[str, set[str]]:
    """principal -> names it may ``operation``."""
    out: dict[str, set[str]] = {}
    for a in acls:
        if a.operation == operation and a.resource == resource:
            out.setdefault(a.principal, set()).add(a.name)
    return out


def writers(acls, topic: str) -> set[str]:
    return {a.principal for a in acls if a.operation == "Write" and a.resource == "topic" and a.name == topic}


# ------------------------------------------------------------------ compose and images


def test_every_service_runs_from_one_image_with_its_module_and_port():
    services = compose()["services"]
    for name, port in SERVICE_PORTS.items():
        env = services[name]["environment"]
        assert env["YIDI_SERVICE"] == name and int(env["YIDI_METRICS_PORT"]) == port
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert hasattr(importlib.import_module(f"services.{name}.app"), "main")


def test_prometheus_scrapes_every_service_and_the_console_and_alerts_through_alertmanager():
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = {c["job_name"]: c["static_configs"][0]["targets"][0] for c in prometheus["scrape_configs"]}
    assert targets == {**{name: f"{name}:{port}" for name, port in SERVICE_PORTS.items()}, "console": "console:9106"}
    assert compose()["services"]["console"]["environment"]["YIDI_CONSOLE_PORT"] == "9106"
    mounted = " ".join(compose()["services"]["prometheus"]["volumes"])
    assert "deploy/alerts.yml" in mounted and prometheus["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    alertmanager = compose()["services"]["alertmanager"]
    assert "./deploy/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" in alertmanager["volumes"]
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager.yml").read_text())
    written = {c["url_file"] for r in config["receivers"] for c in r["webhook_configs"]}
    assert written == {"/alertmanager/page-webhook.url", "/alertmanager/ticket-webhook.url"}
    assert all(path in alertmanager["command"][0] for path in written)  # what compose writes at start


def exported_metrics() -> set[str]:
    """Every metric name a service or the console exports, from their metric classes (histogram
    series included), and Prometheus's own ``up`` and ``ALERTS``."""
    from prometheus_client import CollectorRegistry

    from runtime.metrics import RuntimeMetrics
    from services.clearing.metrics import ClearingMetrics
    from services.collab.metrics import CollabMetrics
    from services.console.metrics import ConsoleMetrics
    from services.filing.metrics import FilingMetrics
    from services.prepayment.metrics import PrepaymentMetrics
    from services.settlement.metrics import SettlementMetrics

    registry = CollectorRegistry()
    RuntimeMetrics(registry, "any")
    ClearingMetrics(registry, now=lambda: None, reads=None)  # type: ignore[arg-type, return-value]
    CollabMetrics(registry)
    FilingMetrics(registry)
    PrepaymentMetrics(registry)
    SettlementMetrics(registry)
    ConsoleMetrics(registry)
    names = {"up", "ALERTS"}
    for family in registry.collect():
        names |= {family.name, f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_count"}
    return names


def alert_rules() -> dict[str, dict]:
    return {
        r["alert"]: r
        for g in yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text())["groups"]
        for r in g["rules"]
    }


def _section(runbook: str, anchor: str) -> str:
    """The text of the RUNBOOK.md section whose heading makes ``anchor`` (GitHub's rule: lower case)."""
    for part in runbook.split("\n## ")[1:]:
        heading, _, body = part.partition("\n")
        if heading.strip().lower().replace(" ", "-") == anchor:
            return body
    return ""


def test_every_alert_links_a_runbook_section_that_says_what_it_means_how_to_confirm_and_what_to_do():
    runbook = (ROOT / "deploy" / "RUNBOOK.md").read_text()
    readme = (ROOT / "README.md").read_text()
    operations = readme[readme.index("## Operating it") : readme.index("## Tests")]
    for name, rule in alert_rules().items():
        assert rule["labels"]["severity"] in {"page", "ticket"}, name  # what Alertmanager routes on
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert path == "deploy/RUNBOOK.md" and anchor == name.lower(), name
        body = _section(runbook, anchor)
        assert all(word in body for word in ("**Means:**", "**Confirm:**", "**Do:**")), name
        assert f"`{name}`" in operations, f"README's operations section does not list {name}"


def test_every_alert_has_a_rule_test_that_fires_it_and_one_that_must_not():
    """In deploy/tests/alerts_test.yml (run by `make rules`, promtool): for every alert an evaluation
    expecting it with its labels and runbook, and one over series that must not fire it, expecting none."""
    tests = yaml.safe_load((ROOT / "deploy" / "tests" / "alerts_test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    fires = {c["alertname"] for c in cases if c["exp_alerts"]}
    silent = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert fires == set(alert_rules()) and silent == set(alert_rules()), (
        set(alert_rules()) - fires,
        set(alert_rules()) - silent,
    )
    for case in cases:
        for alert in case["exp_alerts"]:
            rule = alert_rules()[case["alertname"]]
            assert alert["exp_annotations"]["runbook_url"] == rule["annotations"]["runbook_url"]
            assert alert["exp_labels"]["severity"] == rule["labels"]["severity"]


def test_alertmanager_routes_by_severity_and_inhibits_symptoms_by_alerts_that_exist():
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager.yml").read_text())
    routes = {r["matchers"][0]: r["receiver"] for r in config["route"]["routes"]}
    assert routes == {'severity="page"': "page", 'severity="ticket"': "ticket"}
    alerts = set(alert_rules())
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            names = re.fullmatch(r'alertname=~?"([^"]+)"', matcher).group(1).split("|")
            assert set(names) <= alerts, names
    broker = next(r for r in config["inhibit_rules"] if r["source_matchers"] == ['alertname="BrokerUnreachable"'])
    assert {"ConsumerLagGrowing", "ConsumerLagHigh"} <= set(broker["target_matchers"][0].split('"')[1].split("|"))


def test_compose_exports_traces_to_jaeger_and_grafana_reads_them():
    services = compose()["services"]
    for name in SERVICE_PORTS:
        assert services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one:")
    sources = yaml.safe_load(
        (ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert {s["type"] for s in sources["datasources"]} == {"prometheus", "jaeger"}


def test_alert_rules_and_dashboards_name_metrics_the_services_export():
    exported = exported_metrics()
    for name, rule in alert_rules().items():
        named = set(re.findall(r"\b(yidi_[a-z_]+|up)\b", rule["expr"]))
        assert named and named <= exported, (name, named - exported)
    for board in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"):
        panels = json.loads(board.read_text())["panels"]
        for panel in panels:
            for target in panel["targets"]:
                assert set(re.findall(r"\byidi_[a-z_]+", target["expr"])) <= exported, (board.name, panel["title"])
        assert len({p["id"] for p in panels}) == len(panels)


def test_alerts_and_a_dashboard_panel_watch_unauthenticated_and_refused_messages():
    rules = {
        r["alert"]: r
        for g in yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text())["groups"]
        for r in g["rules"]
    }
    assert "increase(yidi_unauthenticated_total[5m])" in rules["UnauthenticatedMessages"]["expr"]
    assert rules["UnauthenticatedMessages"]["expr"].endswith("> 0")
    assert "increase(yidi_refused_total[15m])" in rules["CommandsRefusedForAuthority"]["expr"]
    assert rules["CommandsRefusedForAuthority"]["expr"].endswith("> 20")
    assert {"ServiceDown", "ConsumerLagGrowing", "DeadLetters", "HandlerFailures", "DeadlinesMissed"} <= rules.keys()
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "yidi.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert "yidi_unauthenticated_total" in exprs and "yidi_refused_total" in exprs
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_kafka_runs_in_kraft_mode_with_scram_and_deny_by_default_acls():
    services = compose()["services"]
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"]
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    protocols = dict(item.split(":") for item in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    advertised = kafka["KAFKA_ADVERTISED_LISTENERS"].split("://")[0]
    assert protocols[advertised] == "SASL_PLAINTEXT"  # what clients reach
    assert "User:admin" in kafka["KAFKA_SUPER_USERS"].split(";")
    if "User:ANONYMOUS" in kafka["KAFKA_SUPER_USERS"]:  # then only the loopback may be unauthenticated
        plaintext = [name for name, protocol in protocols.items() if protocol == "PLAINTEXT"]
        listeners = dict(item.split("://") for item in kafka["KAFKA_LISTENERS"].split(","))
        assert all(listeners[name].startswith("127.0.0.1:") for name in plaintext)
    mongo = (ROOT / "deploy" / "mongo" / "start.sh").read_text()
    assert services["mongodb"]["entrypoint"][-1] == "/deploy/mongo/start.sh"
    assert "--replSet" in mongo and "--keyFile" in mongo


def _values(node, path=""):
    """Every (path, string) of a compose document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _values(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _values(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def test_compose_holds_no_secret_only_required_variables_listed_in_the_env_example():
    doc = compose()
    for service, spec in doc["services"].items():
        for key, value in (spec.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET", key):
                assert REQUIRED.fullmatch(str(value)), f"{service}.{key} must be a ${{VAR:?}} reference"
            if "://" in str(value) and "@" in str(value):  # credentials in a URI
                password = urlsplit(interpolated(str(value))).password
                assert password and password.startswith("VAR."), f"{service}.{key}"
    text = "\n".join(
        line for line in (ROOT / "docker-compose.yml").read_text().splitlines() if not line.lstrip().startswith("#")
    )
    referenced = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    optional = {name for name in referenced if not re.search(rf"\$\{{{name}:\?", text)}
    assert optional == {"YIDI_KEYS_HOST_DIR"}  # a path, with a default; everything else is required
    example = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(example) == referenced - optional
    assert set(example.values()) == {"CHANGE_ME"}  # placeholders only
    for path, value in _values(doc):  # no literal password anywhere (healthchecks included)
        assert not re.search(r"password=(?!\$)|-p [^\"$]", value, re.I), path


def test_every_service_has_its_own_kafka_principal_and_mongo_user(monkeypatch):
    services = compose()["services"]
    init_users = (ROOT / "deploy" / "mongo" / "init-users.js").read_text()
    mongo_env = services["mongodb"]["environment"]
    for name in SERVICE_PORTS:
        env = services[name]["environment"]
        assert env["YIDI_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["YIDI_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["YIDI_KAFKA_SASL_USERNAME"] == name
        assert env["YIDI_KAFKA_SASL_PASSWORD"].startswith(f"${{KAFKA_PASSWORD_{name.upper()}:?")
        uri = urlsplit(interpolated(env["MONGODB_URI"]))
        assert uri.username == name and uri.password == f"VAR.MONGO_PASSWORD_{name.upper()}"
        assert uri.path == f"/yidi_{name}" and parse_qs(uri.query)["authSource"] == [f"yidi_{name}"]
        assert f"MONGO_PASSWORD_{name.upper()}" in mongo_env and f'"{name}"' in init_users
        # the variable names are the ones Settings reads
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        options = Settings().kafka_client_options()
        assert options["security_protocol"] == "SASL_PLAINTEXT" and options["sasl_plain_username"] == name
        assert Settings().database == f"yidi_{name}"
    assert 'role: "readWrite", db: database' in init_users


def test_kafka_client_options_are_empty_on_plaintext_and_complete_with_sasl():
    assert Settings(kafka_security_protocol="PLAINTEXT").kafka_client_options() == {}
    options = Settings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="clearing", kafka_sasl_password="s3cret"
    ).kafka_client_options()
    assert options == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "clearing",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(Settings(kafka_sasl_password="s3cret"))
    with pytest.raises(ValueError):
        Settings(kafka_security_protocol="SASL_PLAINTEXT").kafka_client_options()


def test_the_kafka_init_container_gets_a_password_for_every_principal():
    env = compose()["services"]["kafka-init"]["environment"]
    wanted = {p.password_variable for p in kafka_acls().principals()} | {"KAFKA_ADMIN_PASSWORD"}
    assert {k for k in env if "PASSWORD" in k} == wanted


def test_the_dockerfile_runs_as_a_user_that_is_not_root_and_mounts_the_keys():
    lines = [line.strip() for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("VOLUME") and "/app/var/keys" in line for line in lines)
    assert any("YIDI_KEYS_DIR=/app/var/keys" in line for line in lines if line.startswith("ENV"))
    for name in SERVICE_PORTS:
        assert any(v.endswith(":/app/var/keys:ro") for v in compose()["services"][name]["volumes"])


def test_the_image_holds_every_package_the_services_import():
    """What the services import at run time (every first-party top-level package reached from
    ``services/``, ``runtime/``, ``contracts/``, ``kernel/`` and ``simulator/``) is copied into the image."""
    from support import imports_of

    copied = {
        line.split()[1]
        for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    first_party = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    imported = set()
    for folder in ("services", "runtime", "contracts", "kernel", "simulator"):
        for path in (ROOT / folder).rglob("*.py"):
            imported |= {m.split(".")[0] for m in imports_of(path)} & first_party
    assert imported - copied == set(), f"imported but not in the image: {sorted(imported - copied)}"


def test_published_ports_are_on_the_loopback_only():
    for name, spec in compose()["services"].items():
        for port in spec.get("ports", []):
            assert port.startswith("127.0.0.1:"), name


# ------------------------------------------------------------------ ACLs from the topic registry


def test_a_hospital_writes_only_his_commands_and_reads_only_its_answers():
    module = kafka_acls()
    acls = module.acls()
    hospitals = [p.name for p in module.principals() if p.roles == ("his",)]
    assert hospitals
    his_topics = {n for n, s in ALL_TOPICS.items() if s.producer == "his"}
    assert his_topics and all(n.startswith("his.") for n in his_topics)
    for code in hospitals:
        assert grants(acls, "Write")[code] == his_topics
        assert grants(acls, "Read")[code] == {
            "settlement.result.v2",
            "settlement.inquiry-answered.v1",
            "party.refused.v1",
        }
        assert grants(acls, "Read", "group")[code] == {f"{code}-"}


def test_internal_hops_are_written_only_by_settlement_and_the_registry_only_by_the_national_agency():
    module = kafka_acls()
    assert {module.REFUSED, module.PARTY_CHANGES} <= ALL_TOPICS.keys()  # the names it grants by
    acls = module.acls()
    for hop in HOPS:
        assert writers(acls, hop) == {"settlement"}, hop
    assert writers(acls, "parties.change.v2") == {"A000000"}


def test_every_topic_is_written_only_by_its_producer():
    module = kafka_acls()
    acls = module.acls()
    role_of = {p.name: set(p.roles) for p in module.principals()}
    for name, spec in ALL_TOPICS.items():
        if name == "parties.change.v2":
            allowed = {"national"}
        elif spec.producer == "any":  # refusals: any service answers a sender
            allowed = set(SERVICE_PORTS)
        elif spec.kind == "command" and spec.producer != "his":
            allowed = {spec.producer, "agency"}
        else:
            allowed = {spec.producer}
        for principal in writers(acls, name):
            assert role_of[principal] & allowed, (principal, name)


def test_every_service_reads_what_it_consumes_with_its_own_group_and_writes_what_all_services_write():
    acls = kafka_acls().acls()
    for service in SERVICE_PORTS:
        consumed = {n for n, s in ALL_TOPICS.items() if service in s.consumers}
        assert grants(acls, "Read")[service] == consumed | {"ops.clock.v1", "parties.change.v2"}
        assert {"ops.dead-letter.v1", "party.refused.v1"} <= grants(acls, "Write")[service]
        assert grants(acls, "Read", "group")[service] == {f"yidi-{service}"}
        assert not any(n.startswith("his.") for n in grants(acls, "Write")[service])


def test_agencies_write_the_agency_commands_and_nothing_of_hospitals_or_services():
    module = kafka_acls()
    acls = module.acls()
    commands = {n for n, s in ALL_TOPICS.items() if s.producer == "agency" and n != "parties.change.v2"}
    for p in module.principals():
        if p.roles == ("agency",):
            assert grants(acls, "Write")[p.name] == commands
            assert "party.refused.v1" in grants(acls, "Read")[p.name]


def test_a_topic_prefix_applies_to_topics_and_groups():
    acls = kafka_acls().acls(prefix="t1.")
    assert all(a.name.startswith("t1.") for a in acls)
    assert writers(acls, "t1.settlement.insured-decided.v1") == {"settlement"}


def test_the_generated_script_creates_every_user_and_refuses_placeholders(tmp_path):
    module = kafka_acls()
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):  # stand-ins that record how they were called
        (tools / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n')
        (tools / tool).chmod(0o755)
    script = tmp_path / "acls.sh"
    script.write_text(module.script())
    env = {"PATH": os.environ["PATH"], "KAFKA_TOOLS": str(tools), "KAFKA_ADMIN_PASSWORD": "a1"}
    env |= {p.password_variable: f"pw-{i}" for i, p in enumerate(module.principals())}
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True)
    calls = (tmp_path / "calls").read_text().splitlines()
    users = [c for c in calls if c.startswith("kafka-configs.sh")]
    assert len(users) == len(module.principals()) and all("SCRAM-SHA-512=[password=pw-" in c for c in users)
    hospital_writes = [c for c in calls if "--allow-principal User:H42010200001 " in c and "--operation Write" in c]
    assert len(hospital_writes) == 1 and "--topic his.settlement-requested.v1" in hospital_writes[0]
    assert "--topic settlement.insured-decided.v1" not in hospital_writes[0]
    for broken in (
        {"KAFKA_PASSWORD_FILING": "CHANGE_ME"},
        {"KAFKA_PASSWORD_FILING": "a,b]"},
        {"KAFKA_PASSWORD_FILING": ""},
    ):
        run = subprocess.run(["bash", str(script)], env=env | broken, capture_output=True)
        assert run.returncode != 0, broken
    for shell in ("kafka/start.sh", "mongo/start.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "deploy" / shell)], check=True)


def test_the_topics_container_creates_topics_at_the_scale_its_one_broker_allows(monkeypatch):
    from runtime.topics import topic_specs

    services = compose()["services"]
    brokers = services["kafka"]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    for key, value in services["topics"]["environment"].items():
        monkeypatch.setenv(key, str(value))
    scale = Settings().topic_scale()
    assert scale["replication_factor"] == len(brokers) == 1  # RF 3 / min.insync 2 is for three brokers
    assert {t.replication_factor for t in topic_specs(**scale)} == {1}
    for name in SERVICE_PORTS:  # services create nothing in compose, but would ask for the same
        assert (
            services[name]["environment"]["YIDI_REPLICATION_FACTOR"]
            == services["topics"]["environment"]["YIDI_REPLICATION_FACTOR"]
        )
