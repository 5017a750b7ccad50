"""``yidi run --observe`` (``make run OBSERVE=1``): a local Prometheus, the binary of Debian's
``prometheus`` package, loading the project's alert rules (``deploy/alerts.yml``) and scraping every
process ``yidi run`` starts, as ``deploy/prometheus.yml`` scrapes the compose stack (one job per
service, named after it, so the alerts read the same). Its configuration and data live in
``var/observe``; it listens on the loopback only (it has no authentication of its own)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "alerts.yml"
PREFERRED_PORT = 9090  # Prometheus's own default, when it is free


def config(targets: dict[str, list[int]], rules: Path = RULES) -> dict:
    """The scrape configuration: job = service, targets its metrics ports on the loopback."""
    return {
        "global": {"scrape_interval": "10s", "evaluation_interval": "10s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}" for port in ports]}]}
            for job, ports in targets.items()
        ],
    }


def free_port(preferred: int = PREFERRED_PORT) -> int:
    """``preferred`` if nothing listens there, else any free port of the loopback."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def start(targets: dict[str, list[int]], home: Path) -> tuple[subprocess.Popen, str]:
    """Start Prometheus over ``targets``; its process and its address."""
    binary = shutil.which("prometheus")
    if binary is None:  # ``yidi run`` says so before it starts anything
        raise FileNotFoundError("prometheus (Debian's prometheus package)")
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config(targets), sort_keys=False), encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={home / 'data'}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(home / "prometheus.log", "ab"),  # noqa: SIM115 (the child keeps it open)
    )
    return proc, f"http://127.0.0.1:{port}"
