"""``yidi run --observe`` (runtime/observe.py): Debian's Prometheus started over every process of
``yidi run``, with the project's alert rules loaded, answering on the address it prints. Needs the
``prometheus`` binary (``make test`` installs Debian's package first: target ``observability``)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import yaml

from runtime.cli import CONSOLE_PORT, SECOND_INSTANCES, SERVICE_PORTS
from runtime.observe import RULES, start


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def test_prometheus_loads_the_alert_rules_and_scrapes_every_process(tmp_path: Path):
    assert shutil.which("prometheus"), "Debian's prometheus package is missing: make observability (as root)"
    targets = {name: [port] for name, port in SERVICE_PORTS.items()}
    targets["settlement"].append(SECOND_INSTANCES["settlement"])
    targets["console"] = [CONSOLE_PORT]
    proc, address = start(targets, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                groups = get(f"{address}/api/v1/rules")["data"]["groups"]
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
                assert time.monotonic() < deadline, "Prometheus did not answer in 60 s"
                time.sleep(0.3)
        loaded = {rule["name"] for group in groups for rule in group["rules"]}
        written = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
        assert loaded == written and "PrepaymentRedWarning" in loaded
        expected = {(job, f"127.0.0.1:{port}") for job, ports in targets.items() for port in ports}
        scraped: set[tuple[str, str]] = set()
        while scraped != expected and time.monotonic() < deadline:  # discovery runs just after the start
            time.sleep(0.3)
            active = get(f"{address}/api/v1/targets")["data"]["activeTargets"]
            scraped = {(t["labels"]["job"], t["labels"]["instance"]) for t in active}
        assert scraped == expected and ("console", f"127.0.0.1:{CONSOLE_PORT}") in scraped
    finally:
        proc.terminate()
        proc.wait(30)
