"""The system under fire: the embedded stack (``runtime.embedded``) or a given one, and every
service as its own OS process exactly as the tests start them (``tests.support.ServiceProcess``),
the settlement service twice as ``make run`` runs it, each with its own metrics port. A service is
killed with SIGKILL and started again with the same settings."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from contracts.topics import SERVICES
from runtime.background import LAG_SECONDS
from runtime.cli import SECOND_INSTANCES
from runtime.config import Settings
from runtime.embedded import EmbeddedStack
from runtime.parties import init_keys
from runtime.privacy import ensure_dev_secrets
from runtime.topics import create_topics
from tests.support import ServiceProcess, Stack

# how many instances of each service run: as `make run` runs them (a second settlement instance)
INSTANCES = {name: 2 for name in SECOND_INSTANCES}
# the production cadences of the background work (the tests' ServiceProcess default to faster ones)
PRODUCTION = {"YIDI_OUTBOX_SWEEP_SECONDS": "2.0", "YIDI_DEADLINE_POLL_SECONDS": "0.5", "YIDI_LOG_LEVEL": "WARNING"}


@dataclass
class Kill:
    instance: str
    at: float  # monotonic time of the SIGKILL
    restarted_at: float = 0.0  # when it was started again
    healthy_at: float = 0.0  # when its /health answered


@dataclass
class System:
    stack: Stack
    prefix: str
    faults: dict[str, str] = field(default_factory=dict)  # service → YIDI_FAULT
    env: dict[str, str] = field(default_factory=dict)  # extra settings for every service
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)

    def settings(self) -> Settings:
        """The settings a HIS adapter or an auditor uses to reach this system."""
        return Settings(
            service="chaos",
            kafka_bootstrap_servers=self.stack.bootstrap,
            mongodb_uri=self.stack.mongodb_uri,
            topic_prefix=self.prefix,
            kafka_idempotence=self.stack.idempotence,
            keys_dir=str(self.stack.keys_dir),
        )

    def database(self, service: str) -> str:
        return self.procs[next(name for name in self.procs if self.procs[name].service == service)].database

    async def start(self) -> None:
        await create_topics(self.stack.bootstrap, self.prefix, **Settings().topic_scale())
        for service in SERVICES:
            for n in range(INSTANCES.get(service, 1)):
                name = service if INSTANCES.get(service, 1) == 1 else f"{service}-{n + 1}"
                env = {**PRODUCTION, "YIDI_INSTANCE": name, **self.env}
                if service in self.faults:
                    env["YIDI_FAULT"] = self.faults[service]
                self.procs[name] = ServiceProcess(self.stack, service, self.prefix, **env).start(wait=False)
        await asyncio.gather(*(asyncio.to_thread(p.wait_healthy, 120) for p in self.procs.values()))

    async def caught_up(self, timeout: float = 120) -> None:
        """Until every instance has read what was sent so far (``yidi_consumer_lag`` 0 in three readings
        half its reporting interval apart). At start-up, while the consumer groups are still forming, a
        visit must not overtake the filing or qualification sent before it."""
        deadline, zeros = time.monotonic() + timeout, 0
        while zeros < 3 and time.monotonic() < deadline:
            lags = await asyncio.gather(
                *(asyncio.to_thread(_lag, p) for p in self.procs.values()), return_exceptions=True
            )
            zeros = zeros + 1 if all(lag == 0 for lag in lags) else 0
            await asyncio.sleep(LAG_SECONDS / 2)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    async def kill(self, name: str, rng: random.Random) -> Kill:
        """SIGKILL, a short time down (a supervisor restarting it), then started again."""
        proc = self.procs[name]
        kill = Kill(name, time.monotonic())
        proc.stop(signal.SIGKILL)
        self.kills.append(kill)
        await asyncio.sleep(rng.uniform(0.2, 2.0))
        proc.start(wait=False)
        kill.restarted_at = time.monotonic()
        await asyncio.to_thread(proc.wait_healthy, 120)
        kill.healthy_at = time.monotonic()
        return kill


def _lag(proc: ServiceProcess) -> float | None:
    """The instance's consumer lag; None until it has read it once (a restarted instance has not
    yet: no reading is not a lag of 0)."""
    text = proc.metrics()
    return proc.metric("yidi_consumer_lag") if "yidi_consumer_lag{" in text else None


@contextlib.contextmanager
def stack_for_run(given: Stack | None = None):
    """A given stack (the tests' session stack), else the embedded one on free ports, with one run's
    development keys (as ``make run`` makes them on first start)."""
    if given is not None:
        yield given
        return
    keys = Path(tempfile.mkdtemp(prefix="yidi-chaos-keys-"))
    init_keys(keys)
    ensure_dev_secrets(keys)
    embedded = EmbeddedStack().start()
    try:
        yield Stack(embedded.bootstrap, embedded.mongodb_uri, "embedded", False, keys_dir=keys)
    finally:
        embedded.stop()
