"""Test-wide fixtures. The stack: ``KAFKA_BOOTSTRAP_SERVERS`` + ``MONGODB_URI`` set → those;
else a Docker engine answers → testcontainers Kafka and MongoDB; else the embedded servers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/support.py


def pytest_configure(config) -> None:
    """Every tier signs and verifies with one session's development keys (as `make run` makes them)."""
    import os

    from support import test_keys

    os.environ["YIDI_KEYS_DIR"] = str(test_keys())


@pytest.fixture(scope="session")
def stack():
    from support import pick_stack

    with pick_stack() as chosen:
        yield chosen


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed wire test shows what its service processes warned of (their logs are files)."""
    outcome = yield
    report = outcome.get_result()
    from support import STARTED

    if report.when == "call" and report.failed:
        for proc in STARTED:
            report.sections.append((f"{proc.service} log warnings ({proc.log})", proc.warnings() or "(none)"))
    if report.when == "teardown":
        STARTED.clear()
